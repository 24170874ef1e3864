//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The repository's copy of the recorded peer trajectories (see its README): PyTorch,
/// optax, transformers and timm schedulers, never edited.
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cadence-compat/tests/golden")
}
