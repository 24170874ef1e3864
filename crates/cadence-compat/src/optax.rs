//! optax schedulers ported to cadence.

use crate::config::Fields;
use crate::{CompatError, Ported};

/// Ports a optax config (`config.schedule`, `config.args`, ...).
pub(crate) fn port(config: &Fields<'_>) -> Result<Ported, CompatError> {
    let name = config.str("schedule")?;
    Err(CompatError::Unsupported {
        field: config.path_of("schedule"),
        detail: format!("`{name}` is not supported"),
    })
}
