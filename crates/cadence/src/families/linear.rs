//! Linear interpolation between two values over a number of steps.

use crate::error::{Error, check};
use crate::schedule::Schedule;
use crate::shape::Anneal;
use crate::spec::Validate;

/// Linear interpolation from `init` to `end` over `steps` steps, then `end` for ever.
///
/// ```text
/// value(t) = init + (end - init) * min(t, steps) / steps
/// ```
///
/// # Parameters
/// - `init`: the value at step 0, finite.
/// - `end`: the value from step `steps` on, finite.
/// - `steps`: the length of the ramp, at least 1.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` or `end` is not finite or `steps` is 0.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, Schedule};
///
/// let decay = Linear::new(1.0, 0.0, 100)?;
/// assert_eq!(decay.value(0), 1.0);
/// assert_eq!(decay.value(25), 0.75);
/// assert_eq!(decay.value(100), 0.0);
/// assert_eq!(decay.value(5_000), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `optax.linear_schedule`; `torch.optim.lr_scheduler.LinearLR`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Linear {
    init: f64,
    end: f64,
    steps: u64,
}

impl Linear {
    /// A linear ramp; see the type's documentation.
    ///
    /// # Errors
    /// `init` and `end` must be finite, `steps` at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Linear::new(0.0, 1.0, 0).is_err());
    /// ```
    pub fn new(init: f64, end: f64, steps: u64) -> Result<Self, Error> {
        let s = Linear { init, end, steps };
        s.validate()?;
        Ok(s)
    }
}

impl Validate for Linear {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::finite("end", self.end)?;
        check::at_least_one("steps", self.steps)?;
        Ok(())
    }
}

impl Schedule for Linear {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        if step >= self.steps {
            return self.end;
        }
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let frac = t / self.steps as f64;
        Anneal::Linear.interpolate(self.init, self.end, frac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = Linear::new(0.1, 0.3, 4).unwrap();
        assert_values(
            &s,
            &[(0, 0.1), (1, 0.15), (3, 0.25), (4, 0.3), (u64::MAX, 0.3)],
            1e-15,
        );
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Linear::new(f64::INFINITY, 0.0, 3).is_err());
        assert!(Linear::new(0.0, f64::NAN, 3).is_err());
        assert!(matches!(
            Linear::new(0.0, 1.0, 0),
            Err(Error::InvalidParameter { name: "steps", .. })
        ));
    }

    #[test]
    fn continuous_time() {
        let s = Linear::new(1.0, 0.0, 10).unwrap();
        assert!(close(s.value_at(2.5), 0.75, 1e-15));
        assert_eq!(s.value_at(-3.0), 1.0);
        assert_eq!(s.value_at(f64::NAN), 1.0);
        assert_eq!(s.value_at(1e300), 0.0);
    }

    proptest! {
        #[test]
        fn monotone_and_bounded(init in -1e3..1e3f64, end in -1e3..1e3f64, steps in 1u64..10_000, t in any::<u64>()) {
            let s = Linear::new(init, end, steps).unwrap();
            let (lo, hi) = (init.min(end), init.max(end));
            let v = s.value(t);
            prop_assert!(v.is_finite() && v >= lo - 1e-9 && v <= hi + 1e-9);
            let w = s.value(t.saturating_add(1));
            if end <= init { prop_assert!(w <= v + 1e-12) } else { prop_assert!(w >= v - 1e-12) }
        }
    }
}
