//! Inverse-time decay: `init / (1 + rate * t / decay_steps)`.

use super::DecayMode;
use crate::error::{Error, check};
use crate::schedule::Schedule;
use crate::spec::Validate;

/// Inverse-time decay: the value falls like `1 / t`.
///
/// ```text
/// p(t)     = t / decay_steps              (Continuous)
///          = floor(t / decay_steps)       (Staircase)
/// value(t) = init / (1 + rate * p(t))
/// ```
///
/// # Parameters
/// - `init`: the value at step 0, finite.
/// - `rate`: how fast it falls, finite and `>= 0` (`value(decay_steps) = init / (1 + rate)`).
/// - `decay_steps`: the time unit of `p`, at least 1.
/// - `mode`: [`DecayMode::Continuous`] (default) or [`DecayMode::Staircase`].
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` is not finite, `rate` is not finite and `>= 0`,
/// or `decay_steps` is 0.
///
/// # Examples
///
/// ```
/// use cadence::{DecayMode, InverseTime, Schedule};
///
/// let lr = InverseTime::new(0.1, 0.5, 10)?;
/// assert_eq!(lr.value(0), 0.1);
/// assert_eq!(lr.value(20), 0.05);
/// assert!((lr.value(5) - 0.08).abs() < 1e-17);
///
/// let stairs = lr.with_mode(DecayMode::Staircase);
/// assert_eq!(stairs.value(19), 0.1 / 1.5);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Keras `InverseTimeDecay(initial_learning_rate, decay_steps, decay_rate, staircase)`;
/// TensorFlow 1 `tf.train.inverse_time_decay`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct InverseTime {
    init: f64,
    rate: f64,
    decay_steps: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    mode: DecayMode,
}

impl InverseTime {
    /// A continuous inverse-time decay; see the type's documentation.
    ///
    /// # Errors
    /// `init` finite, `rate` finite and `>= 0`, `decay_steps >= 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::InverseTime::new(0.1, -1.0, 10).is_err());
    /// ```
    pub fn new(init: f64, rate: f64, decay_steps: u64) -> Result<Self, Error> {
        let s = InverseTime {
            init,
            rate,
            decay_steps,
            mode: DecayMode::Continuous,
        };
        s.validate()?;
        Ok(s)
    }

    /// The same decay read continuously or in whole `decay_steps`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{DecayMode, InverseTime, Schedule};
    ///
    /// let s = InverseTime::new(1.0, 1.0, 10)?.with_mode(DecayMode::Staircase);
    /// assert_eq!(s.value(9), 1.0);
    /// assert_eq!(s.value(10), 0.5);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_mode(self, mode: DecayMode) -> Self {
        InverseTime { mode, ..self }
    }
}

impl Validate for InverseTime {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::non_negative("rate", self.rate)?;
        check::at_least_one("decay_steps", self.decay_steps)?;
        Ok(())
    }
}

impl Schedule for InverseTime {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = if t > 0.0 { t } else { 0.0 };
        let p = self.mode.exponent(t, self.decay_steps as f64);
        // The denominator is >= 1 (possibly +inf), so the quotient is finite.
        self.init / (1.0 + self.rate * p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = InverseTime::new(1.0, 1.0, 4).unwrap();
        assert_values(&s, &[(0, 1.0), (2, 2.0 / 3.0), (4, 0.5), (12, 0.25)], 1e-15);
        assert!(s.value(u64::MAX) < 1e-18 && s.value(u64::MAX) > 0.0);
        assert_total(&s, &[4]);
        let stairs = s.with_mode(DecayMode::Staircase);
        assert_values(
            &stairs,
            &[(3, 1.0), (4, 0.5), (7, 0.5), (8, 1.0 / 3.0)],
            1e-15,
        );
        let flat = InverseTime::new(0.3, 0.0, 1).unwrap();
        assert_eq!(flat.value(u64::MAX), 0.3);
    }

    #[test]
    fn continuous_time() {
        let s = InverseTime::new(1.0, 1.0, 4).unwrap();
        assert!(close(s.value_at(2.0), 2.0 / 3.0, 1e-15));
        assert_eq!(s.value_at(-5.0), 1.0);
        assert_eq!(s.value_at(f64::NAN), 1.0);
        assert_eq!(s.value_at(f64::INFINITY), 0.0);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(InverseTime::new(f64::NAN, 1.0, 1).is_err());
        assert!(matches!(
            InverseTime::new(1.0, f64::INFINITY, 1),
            Err(Error::InvalidParameter { name: "rate", .. })
        ));
        assert!(InverseTime::new(1.0, 1.0, 0).is_err());
    }

    proptest! {
        #[test]
        fn monotone_bounded(init in 0.0..1e3f64, rate in 0.0..1e3f64, ds in 1u64..1_000, stairs in any::<bool>(), t in any::<u64>()) {
            let mode = if stairs { DecayMode::Staircase } else { DecayMode::Continuous };
            let s = InverseTime::new(init, rate, ds).unwrap().with_mode(mode);
            let v = s.value(t);
            prop_assert!(v.is_finite() && (0.0..=init).contains(&v));
            prop_assert!(s.value(t.saturating_add(1)) <= v);
        }
    }
}
