//! Exponential decay (or growth), continuous or in a staircase.

use super::DecayMode;
use crate::error::{Error, check};
use crate::fastmath::WithLn;
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

/// Exponential decay by `rate` every `transition_steps` steps from step `begin` on,
/// optionally bounded by `end`.
///
/// ```text
/// d(t)     = t - begin
/// p(t)     = d(t) / transition_steps            (Continuous)
///          = floor(d(t) / transition_steps)     (Staircase)
/// raw(t)   = init                     if d(t) <= 0
///          = init * rate^p(t)         otherwise
/// value(t) = raw(t)                   without `end`
///          = max(raw(t), end)         with `end`, if rate < 1
///          = min(raw(t), end)         with `end`, if rate >= 1
/// ```
///
/// `rate < 1` decays, `rate > 1` grows. The bound `end` is applied at every step exactly
/// as optax applies it (also before `begin`, so an `end` on the wrong side of `init`
/// gives the constant `end`). Values that would overflow saturate to `±f64::MAX`.
///
/// # Parameters
/// - `init`: the value up to step `begin`, finite.
/// - `rate`: the factor per `transition_steps` steps, finite and `> 0` (optax's
///   `decay_rate`; optax treats 0 as "no decay", build a [`Constant`](crate::Constant) for that).
/// - `transition_steps`: steps per factor `rate`, at least 1.
/// - `begin`: the step the decay starts at (optax's `transition_begin`), default 0.
/// - `mode`: [`DecayMode::Continuous`] (default) or [`DecayMode::Staircase`].
/// - `end`: optional bound, finite: a floor when `rate < 1`, a ceiling when `rate >= 1`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` or `end` is not finite, `rate` is not finite and
/// `> 0`, or `transition_steps` is 0.
///
/// # Examples
///
/// ```
/// use cadence::{DecayMode, Exponential, Schedule};
///
/// let lr = Exponential::new(0.1, 0.5, 10)?;
/// assert_eq!(lr.value(0), 0.1);
/// assert!((lr.value(5) - 0.1 * 0.5_f64.sqrt()).abs() < 1e-15);
/// assert_eq!(lr.value(20), 0.025);
///
/// let floored = lr.with_begin(10).with_end(0.02)?.with_mode(DecayMode::Staircase);
/// assert_eq!(floored.value(19), 0.1);
/// assert_eq!(floored.value(20), 0.05);
/// assert_eq!(floored.value(1_000), 0.02);
///
/// let half_life = Exponential::from_half_life(1.0, 100)?;
/// assert_eq!(half_life.value(100), 0.5);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `optax.exponential_decay` (same parameters: `init_value`, `transition_steps`,
/// `decay_rate`, `transition_begin`, `staircase`, `end_value`);
/// `torch.optim.lr_scheduler.ExponentialLR(gamma)` is `rate = gamma`, `transition_steps = 1`;
/// Keras `ExponentialDecay`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Exponential {
    init: f64,
    rate: WithLn,
    transition_steps: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    begin: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    mode: DecayMode,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    end: Option<f64>,
}

impl Exponential {
    /// Continuous decay by `rate` every `transition_steps` steps from step 0, unbounded.
    ///
    /// # Errors
    /// `init` must be finite, `rate` finite and `> 0`, `transition_steps >= 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Exponential::new(0.1, 0.0, 10).is_err());
    /// assert!(cadence::Exponential::new(0.1, 1.5, 10).is_ok());
    /// ```
    pub fn new(init: f64, rate: f64, transition_steps: u64) -> Result<Self, Error> {
        let s = Exponential {
            init,
            rate: WithLn::new(rate),
            transition_steps,
            begin: 0,
            mode: DecayMode::Continuous,
            end: None,
        };
        s.validate()?;
        Ok(s)
    }

    /// Continuous decay that halves every `half_life` steps: `rate = 0.5` per
    /// `half_life` steps.
    ///
    /// # Errors
    /// `init` must be finite, `half_life >= 1` (reported as `transition_steps`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Exponential, Schedule};
    ///
    /// let s = Exponential::from_half_life(0.8, 50)?;
    /// assert_eq!(s.value(100), 0.2);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn from_half_life(init: f64, half_life: u64) -> Result<Self, Error> {
        Exponential::new(init, 0.5, half_life)
    }

    /// The same decay starting at step `begin` (optax's `transition_begin`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Exponential, Schedule};
    ///
    /// let s = Exponential::new(1.0, 0.5, 10)?.with_begin(5);
    /// assert_eq!(s.value(5), 1.0);
    /// assert_eq!(s.value(15), 0.5);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_begin(self, begin: u64) -> Self {
        Exponential { begin, ..self }
    }

    /// The same decay read continuously or in whole transitions.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{DecayMode, Exponential, Schedule};
    ///
    /// let s = Exponential::new(1.0, 0.5, 10)?.with_mode(DecayMode::Staircase);
    /// assert_eq!(s.value(19), 0.5);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_mode(self, mode: DecayMode) -> Self {
        Exponential { mode, ..self }
    }

    /// The same decay bounded by `end`: from below if `rate < 1`, from above otherwise.
    ///
    /// # Errors
    /// `end` must be finite.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Exponential, Schedule};
    ///
    /// let grow = Exponential::new(0.01, 2.0, 1)?.with_end(0.05)?;
    /// assert_eq!(grow.value(2), 0.04);
    /// assert_eq!(grow.value(3), 0.05);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_end(self, end: f64) -> Result<Self, Error> {
        let s = Exponential {
            end: Some(end),
            ..self
        };
        s.validate()?;
        Ok(s)
    }

    /// The value `elapsed` steps after `begin` (`elapsed` may be negative or `NaN`).
    #[inline]
    fn at(&self, elapsed: f64) -> f64 {
        let raw = if elapsed > 0.0 {
            let p = self.mode.exponent(elapsed, self.transition_steps as f64);
            finite_or_saturate(self.init * self.rate.pow(p))
        } else {
            self.init
        };
        match self.end {
            None => raw,
            Some(end) if self.rate.get() < 1.0 => raw.max(end),
            Some(end) => raw.min(end),
        }
    }
}

impl Validate for Exponential {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::positive("rate", self.rate.get())?;
        check::at_least_one("transition_steps", self.transition_steps)?;
        if let Some(end) = self.end {
            check::finite("end", end)?;
        }
        Ok(())
    }
}

impl Schedule for Exponential {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.at(crate::fastmath::step_to_f64(
            step.saturating_sub(self.begin),
        ))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        self.at(t - self.begin as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = Exponential::new(1.0, 0.5, 4)
            .unwrap()
            .with_begin(3)
            .with_end(0.1)
            .unwrap();
        assert_values(
            &s,
            &[
                (0, 1.0),
                (3, 1.0),
                (5, 0.5_f64.sqrt()),
                (7, 0.5),
                (15, 0.125),
                (19, 0.1),
                (u64::MAX, 0.1),
            ],
            1e-15,
        );
        assert_total(&s, &[3, 7]);
        let stairs = s.with_mode(DecayMode::Staircase);
        assert_values(&stairs, &[(6, 1.0), (7, 0.5), (10, 0.5), (11, 0.25)], 1e-15);
    }

    #[test]
    fn growth_is_capped_from_above_and_saturates_without_cap() {
        let s = Exponential::new(0.01, 1.5, 20).unwrap();
        assert!(close(s.value(20), 0.015, 1e-15));
        assert_eq!(s.value(u64::MAX), f64::MAX);
        let capped = s.with_end(0.1).unwrap();
        assert_eq!(capped.value(u64::MAX), 0.1);
        assert_eq!(capped.value(1_000), 0.1);
        let negative = Exponential::new(-1.0, 2.0, 1).unwrap();
        assert_eq!(negative.value(u64::MAX), -f64::MAX);
    }

    #[test]
    fn end_on_the_wrong_side_is_applied_everywhere_as_in_optax() {
        let s = Exponential::new(0.1, 0.5, 10)
            .unwrap()
            .with_end(0.2)
            .unwrap();
        assert_eq!(s.value(0), 0.2);
        let unit = Exponential::new(0.1, 1.0, 10)
            .unwrap()
            .with_end(0.05)
            .unwrap();
        assert_eq!(unit.value(0), 0.05);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(matches!(
            Exponential::new(1.0, 0.0, 3),
            Err(Error::InvalidParameter { name: "rate", .. })
        ));
        assert!(Exponential::new(1.0, -0.5, 3).is_err());
        assert!(Exponential::new(f64::NAN, 0.5, 3).is_err());
        assert!(Exponential::new(1.0, 0.5, 0).is_err());
        assert!(Exponential::from_half_life(1.0, 0).is_err());
        assert!(matches!(
            Exponential::new(1.0, 0.5, 3)
                .unwrap()
                .with_end(f64::NEG_INFINITY),
            Err(Error::InvalidParameter { name: "end", .. })
        ));
    }

    #[test]
    fn continuous_time() {
        let s = Exponential::new(1.0, 0.5, 10).unwrap().with_begin(10);
        assert!(close(s.value_at(15.0), 0.5_f64.sqrt(), 1e-15));
        assert_eq!(s.value_at(-1.0), 1.0);
        assert_eq!(s.value_at(f64::NAN), 1.0);
        assert_eq!(s.value_at(1e300), 0.0);
        let stairs = s.with_mode(DecayMode::Staircase);
        assert_eq!(stairs.value_at(29.9), 0.5);
    }

    proptest! {
        #[test]
        fn decay_is_monotone_and_bounded(
            init in 1e-6..1e3f64, rate in 1e-3..1.0f64, ts in 1u64..1_000, begin in 0u64..1_000,
            end_frac in 0.0..1.0f64, staircase in any::<bool>(), t in any::<u64>(),
        ) {
            let mode = if staircase { DecayMode::Staircase } else { DecayMode::Continuous };
            let s = Exponential::new(init, rate, ts).unwrap().with_begin(begin).with_mode(mode)
                .with_end(init * end_frac).unwrap();
            let v = s.value(t);
            prop_assert!(v.is_finite() && v <= init && v >= init * end_frac);
            prop_assert!(s.value(t.saturating_add(1)) <= v);
            if t < 1 << 52 {
                prop_assert!(close(s.value_at(t as f64), v, 1e-15));
            }
        }

        #[test]
        fn growth_is_monotone_and_total(init in 1e-6..1e3f64, rate in 1.0..1e3f64, ts in 1u64..1_000, t in any::<u64>()) {
            let s = Exponential::new(init, rate, ts).unwrap();
            let v = s.value(t);
            prop_assert!(v.is_finite() && v >= init);
            prop_assert!(s.value(t.saturating_add(1)) >= v);
        }
    }
}
