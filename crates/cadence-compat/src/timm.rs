//! timm schedulers ported to cadence.

use crate::config::Fields;
use crate::{CompatError, Ported};

/// Ports a timm config (`config.scheduler`, `config.args`, ...).
pub(crate) fn port(config: &Fields<'_>) -> Result<Ported, CompatError> {
    let name = config.str("scheduler")?;
    Err(CompatError::Unsupported {
        field: config.path_of("scheduler"),
        detail: format!("`{name}` is not supported"),
    })
}
