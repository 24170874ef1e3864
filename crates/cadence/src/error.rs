//! The one error type of the core crate.

use std::fmt;

/// Everything that can go wrong when building a schedule, a controller or a spec.
///
/// Evaluation never fails: errors come only from constructors, deserialisation and
/// state restoration. Every variant names the offending parameter and, where there is
/// one, the value and the rule it broke.
///
/// # Examples
///
/// ```
/// use cadence::{Error, Linear};
///
/// let err = Linear::new(1.0, 0.0, 0).unwrap_err();
/// assert!(matches!(err, Error::InvalidParameter { name: "steps", .. }));
/// assert_eq!(err.to_string(), "invalid `steps` = 0: must be at least 1");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter broke a rule (range, ordering, length...).
    #[error("invalid `{name}` = {value}: {rule}")]
    InvalidParameter {
        /// The parameter's name as the constructor or spec spells it.
        name: &'static str,
        /// The value that was given, formatted.
        value: String,
        /// The rule the value broke, e.g. "must be finite and > 0".
        rule: String,
    },
    /// An expression schedule's source could not be parsed (see [`Expr`](crate::Expr)).
    #[error("expression error at column {column}: {message}")]
    Expression {
        /// 1-based column (in characters) where the problem starts.
        column: usize,
        /// What is wrong, e.g. "unknown function `foo`".
        message: String,
    },

    /// A controller was given a `NaN` or infinite metric it cannot act on.
    #[error("non-finite `metric` = {value} observed at step {step}")]
    NonFiniteMetric {
        /// The step of the observation.
        step: u64,
        /// The metric that was given.
        value: f64,
    },

    /// A name (hyperparameter, group, parameter) that is not known.
    #[error("unknown {kind} `{name}`; known: [{known}]")]
    UnknownName {
        /// What kind of name it is, e.g. `"hyperparameter"`.
        kind: &'static str,
        /// The name that was given.
        name: String,
        /// The known names, comma separated.
        known: String,
    },

    /// A name given twice where names must be unique.
    #[error("duplicate {kind} `{name}`")]
    DuplicateName {
        /// What kind of name it is, e.g. `"group"`.
        kind: &'static str,
        /// The repeated name.
        name: String,
    },

    /// A parameter group that selects no parameter.
    #[error("group `{group}` matches no parameter")]
    EmptyGroup {
        /// The group's name.
        group: String,
    },

    /// A saved state that belongs to a differently configured object (or format version).
    #[error("state mismatch at `{field}`: expected {expected}, found {found}")]
    StateMismatch {
        /// The path of the field in the state, e.g. `controllers[0].kind`.
        field: String,
        /// What this object expects.
        expected: String,
        /// What the state holds.
        found: String,
    },

    /// A saved state whose value breaks an invariant (corrupt or hand-edited).
    #[error("corrupt state at `{field}` = {value}: {rule}")]
    CorruptState {
        /// The path of the field in the state, e.g. `controllers[1].cooldown_left`.
        field: String,
        /// The value found, formatted.
        value: String,
        /// The invariant it broke.
        rule: String,
    },

    /// A saved state that could not be parsed at all (the parser's message names the
    /// field, line and column).
    #[error("unreadable state: {detail}")]
    StateFormat {
        /// The parser's message.
        detail: String,
    },
}

impl Error {
    /// Builds an [`Error::InvalidParameter`].
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::Error::invalid("peak", -1.0, "must be > 0");
    /// assert_eq!(err.to_string(), "invalid `peak` = -1: must be > 0");
    /// ```
    pub fn invalid(name: &'static str, value: impl fmt::Display, rule: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            rule: rule.into(),
        }
    }

    /// Builds an [`Error::CorruptState`].
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::Error::corrupt("bad", 7, "must be <= patience = 3");
    /// assert_eq!(err.to_string(), "corrupt state at `bad` = 7: must be <= patience = 3");
    /// ```
    pub fn corrupt(
        field: impl Into<String>,
        value: impl fmt::Display,
        rule: impl Into<String>,
    ) -> Self {
        Error::CorruptState {
            field: field.into(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }

    /// Builds an [`Error::StateMismatch`].
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::Error::mismatch("version", 1, 2);
    /// assert_eq!(err.to_string(), "state mismatch at `version`: expected 1, found 2");
    /// ```
    pub fn mismatch(
        field: impl Into<String>,
        expected: impl fmt::Display,
        found: impl fmt::Display,
    ) -> Self {
        Error::StateMismatch {
            field: field.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// Prefixes the field path of a state error with `prefix` (other errors unchanged), so
    /// a nested state reports where it sits, e.g. `controllers[1].bad`.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::Error::corrupt("bad", 7, "too large").in_field("controllers[1]");
    /// assert!(err.to_string().contains("`controllers[1].bad`"));
    /// ```
    pub fn in_field(self, prefix: &str) -> Self {
        match self {
            Error::CorruptState { field, value, rule } => Error::CorruptState {
                field: format!("{prefix}.{field}"),
                value,
                rule,
            },
            Error::StateMismatch {
                field,
                expected,
                found,
            } => Error::StateMismatch {
                field: format!("{prefix}.{field}"),
                expected,
                found,
            },
            other => other,
        }
    }
}

/// Checks shared by the constructors. Each returns the value on success so that
/// constructors can validate while they assign.
pub(crate) mod check {
    use super::Error;

    /// `x` must be finite.
    pub fn finite(name: &'static str, x: f64) -> Result<f64, Error> {
        if x.is_finite() {
            Ok(x)
        } else {
            Err(Error::invalid(name, x, "must be finite"))
        }
    }

    /// `x` must be finite and strictly positive.
    pub fn positive(name: &'static str, x: f64) -> Result<f64, Error> {
        if x.is_finite() && x > 0.0 {
            Ok(x)
        } else {
            Err(Error::invalid(name, x, "must be finite and > 0"))
        }
    }

    /// `x` must be finite and at least zero.
    pub fn non_negative(name: &'static str, x: f64) -> Result<f64, Error> {
        if x.is_finite() && x >= 0.0 {
            Ok(x)
        } else {
            Err(Error::invalid(name, x, "must be finite and >= 0"))
        }
    }

    /// `x` must lie in the closed interval `[lo, hi]`.
    pub fn in_range(name: &'static str, x: f64, lo: f64, hi: f64) -> Result<f64, Error> {
        if x.is_finite() && x >= lo && x <= hi {
            Ok(x)
        } else {
            Err(Error::invalid(name, x, format!("must be in [{lo}, {hi}]")))
        }
    }

    /// A step count must be at least 1.
    pub fn at_least_one(name: &'static str, n: u64) -> Result<u64, Error> {
        if n >= 1 {
            Ok(n)
        } else {
            Err(Error::invalid(name, n, "must be at least 1"))
        }
    }
}
