//! The one error type of `cadence-candle`.

/// Everything that can go wrong when building, stepping, checkpointing an optimizer or
/// reading a golden case.
///
/// Every variant names the offending parameter, field or state entry. The
/// [`candle_nn::Optimizer`] trait returns `candle_core::Result`, so errors raised inside
/// [`candle_nn::Optimizer::step`] reach the caller wrapped in `candle_core::Error::Wrapped`.
///
/// # Examples
///
/// ```
/// use cadence_candle::{Error, ParamGroup};
///
/// let err = ParamGroup::new(vec![]).with_lr_scale(-1.0).unwrap_err();
/// assert!(matches!(err, Error::InvalidParameter { name: "lr_scale", .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A fixed parameter (a constructor argument that is not a schedule) broke a rule.
    #[error("invalid `{name}` = {value}: {rule}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// The rule it broke.
        rule: &'static str,
    },
    /// A scheduled hyperparameter evaluated to a value outside its domain at some step.
    #[error("hyperparameter `{name}` = {value} at step {step}: {rule}")]
    InvalidHyperparameter {
        /// The hyperparameter's name (`lr`, `beta1`, `momentum`, ...).
        name: &'static str,
        /// The optimizer step at which it was evaluated.
        step: u64,
        /// The value the schedule returned.
        value: f64,
        /// The rule it broke.
        rule: &'static str,
    },
    /// A variable has a dtype the fused kernels do not handle (only f32 and f64 do).
    #[error("variable {index} of group {group} has dtype {dtype}: only f32 and f64 are supported")]
    UnsupportedDType {
        /// The group index.
        group: usize,
        /// The variable's index inside its group.
        index: usize,
        /// The dtype found.
        dtype: String,
    },
    /// A variable is not on the CPU (the fused kernels update CPU memory in place).
    #[error("variable {index} of group {group} is on {device}: only the CPU is supported")]
    UnsupportedDevice {
        /// The group index.
        group: usize,
        /// The variable's index inside its group.
        index: usize,
        /// The device found.
        device: String,
    },
    /// A gradient does not match its variable (dtype, length or layout).
    #[error("gradient of variable {index} in group {group}: {reason}")]
    GradientMismatch {
        /// The group index.
        group: usize,
        /// The variable's index inside its group.
        index: usize,
        /// What did not match.
        reason: String,
    },
    /// The optimizer is in the wrong [`Mode`](crate::Mode) for the requested operation.
    #[error("schedule-free optimizer is in {found:?} mode; `{operation}` needs {expected:?} mode")]
    WrongMode {
        /// The operation attempted (`step`).
        operation: &'static str,
        /// The mode it needs.
        expected: crate::Mode,
        /// The mode the optimizer was in.
        found: crate::Mode,
    },
    /// An optimizer state entry is missing or does not fit this optimizer.
    #[error("optimizer state entry `{key}`: {reason}")]
    State {
        /// The state entry's key, e.g. `g0.p3.exp_avg`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A golden case (`problem`, `optimizer`, `lr_per_step`, `steps`) is missing a field or
    /// has a bad one.
    #[error("golden case field `{field}`: {reason}")]
    Case {
        /// The JSON path of the field, e.g. `optimizer.args.betas`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An error from a schedule constructor of the core crate.
    #[error(transparent)]
    Schedule(#[from] cadence::Error),
    /// An error from candle (tensor creation, safetensors I/O).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl Error {
    pub(crate) fn case(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Case {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn state(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::State {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Lets `?` turn a crate error into candle's inside `Optimizer::step`.
pub(crate) fn to_candle(e: Error) -> candle_core::Error {
    match e {
        Error::Candle(c) => c,
        other => candle_core::Error::wrap(other),
    }
}
