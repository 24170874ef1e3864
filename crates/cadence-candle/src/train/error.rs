//! The typed error of the training harness.

use std::path::PathBuf;

/// Everything that can go wrong while loading data, building a model, training or
/// checkpointing.
///
/// A diverging loss is *not* an error: training stops and reports
/// [`StopReason::Diverged`](crate::train::StopReason::Diverged).
///
/// # Examples
///
/// ```
/// use cadence_candle::TrainError;
/// use cadence_candle::data::Loader;
///
/// let err = Loader::new(0).unwrap_err();
/// assert!(matches!(err, TrainError::InvalidParameter { name: "batch_size", .. }));
/// assert!(err.to_string().contains("batch_size"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A parameter or input is out of its domain.
    #[error("invalid {name} = {value}: {rule}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// The rule it breaks.
        rule: String,
    },
    /// A tensor operation failed in candle.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),

    /// One of this crate's optimizers failed (bad hyperparameter, state that does not
    /// match the optimizer).
    #[error("optimizer: {0}")]
    Optimizer(#[from] crate::Error),
    /// A schedule could not be built.
    #[error("schedule: {0}")]
    Schedule(#[from] cadence::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checkpoint or log could not be encoded or decoded.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A checkpoint does not fit the model, optimizer or data it is restored into.
    #[error("checkpoint does not match: {field}: expected {expected}, found {found}")]
    CheckpointMismatch {
        /// What differs (a parameter name, `"steps_per_epoch"`, ...).
        field: String,
        /// What the running configuration has.
        expected: String,
        /// What the checkpoint holds.
        found: String,
    },
    /// The one-thread pool of [`single_threaded`](crate::train::single_threaded) could not
    /// start.
    #[error("thread pool: {0}")]
    ThreadPool(#[from] rayon::ThreadPoolBuildError),
    /// The optimizer cannot export or import its state, so it cannot be checkpointed.
    #[error("optimizer {optimizer} cannot save or restore its state")]
    StateUnavailable {
        /// The optimizer's type.
        optimizer: &'static str,
    },
}

impl TrainError {
    /// An [`TrainError::InvalidParameter`] for `name = value` breaking `rule`.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = cadence_candle::TrainError::invalid("epochs", 0, "must be at least 1");
    /// assert_eq!(e.to_string(), "invalid epochs = 0: must be at least 1");
    /// ```
    pub fn invalid(name: &'static str, value: impl std::fmt::Display, rule: &str) -> Self {
        TrainError::InvalidParameter {
            name,
            value: value.to_string(),
            rule: rule.to_string(),
        }
    }

    /// An [`TrainError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`TrainError::Format`] for `path`.
    pub(crate) fn format(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        TrainError::Format {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    /// A [`TrainError::CheckpointMismatch`].
    pub(crate) fn mismatch(
        field: impl Into<String>,
        expected: impl std::fmt::Display,
        found: impl std::fmt::Display,
    ) -> Self {
        TrainError::CheckpointMismatch {
            field: field.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static() {
        fn assert_bounds<E: std::error::Error + Send + Sync + 'static>() {}
        assert_bounds::<TrainError>();
    }
}
