//! The constant schedule.

use crate::error::{Error, check};
use crate::schedule::Schedule;
use crate::spec::Validate;

/// The same value at every step.
///
/// ```text
/// value(t) = value
/// ```
///
/// A bare `f64` is also a constant schedule; `Constant` exists so that a constant can be
/// validated, serialised and named in a [`ScheduleSpec`](crate::ScheduleSpec).
///
/// # Parameters
/// - `value`: the constant, finite.
///
/// # Errors
/// [`Error::InvalidParameter`] if `value` is not finite.
///
/// # Examples
///
/// ```
/// use cadence::{Constant, Schedule};
///
/// let lr = Constant::new(3e-4)?;
/// assert_eq!(lr.value(0), 3e-4);
/// assert_eq!(lr.value(u64::MAX), 3e-4);
/// assert!(Constant::new(f64::NAN).is_err());
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `optax.constant_schedule`; `torch.optim.lr_scheduler.ConstantLR` with `factor = 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Constant {
    value: f64,
}

impl Constant {
    /// A constant schedule; see the type's documentation.
    ///
    /// # Errors
    /// `value` must be finite.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Constant::new(0.1).is_ok());
    /// ```
    pub fn new(value: f64) -> Result<Self, Error> {
        let s = Constant { value };
        s.validate()?;
        Ok(s)
    }

    /// The constant value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::Constant::new(0.1)?.level(), 0.1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn level(&self) -> f64 {
        self.value
    }
}

impl Validate for Constant {
    fn validate(&self) -> Result<(), Error> {
        check::finite("value", self.value).map(|_| ())
    }
}

impl Schedule for Constant {
    #[inline]
    fn value(&self, _step: u64) -> f64 {
        self.value
    }

    #[inline]
    fn value_at(&self, _t: f64) -> f64 {
        self.value
    }
}
