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
