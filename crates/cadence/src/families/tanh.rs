//! Tanh decay (timm's `TanhLRScheduler`).

use crate::error::{Error, check};
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

/// Hyperbolic-tangent decay from about `init` to `end` over `decay_steps` steps.
///
/// ```text
/// f(t)     = t / decay_steps
/// value(t) = end + (init - end) / 2 * (1 - tanh(lower * (1 - f) + upper * f))   for t < decay_steps
///          = end                                                               for t >= decay_steps
/// ```
///
/// The curve stays near `init` while the tanh argument is very negative and falls
/// steeply where it crosses 0 (at `f = -lower / (upper - lower)`, 70% of the way with the
/// defaults). It starts a hair below `init` (`(1 + tanh 7) / 2 = 0.99999917` of the way
/// with the defaults) and, as in timm, drops from `(1 - tanh(upper)) / 2` of the range
/// (0.25% with the defaults) to exactly `end` at `decay_steps`.
///
/// # Parameters
/// - `init`: the upper level, finite.
/// - `end`: the lower level and the value from `decay_steps` on, finite.
/// - `decay_steps`: at least 1.
/// - `lower`, `upper`: the tanh argument at the start and the end, finite,
///   `lower < upper`; defaults `-7` and `3` (timm's `lb`, `ub`).
///
/// # Errors
/// [`Error::InvalidParameter`] if a value is not finite, `decay_steps` is 0, or
/// `upper <= lower` (reported as `upper`).
///
/// # Examples
///
/// ```
/// use cadence::{Schedule, Tanh};
///
/// let lr = Tanh::new(0.1, 0.0, 100)?;
/// assert!((lr.value(0) - 0.1).abs() < 1e-7);
/// assert!((lr.value(70) - 0.05).abs() < 1e-16); // tanh(0) = 0: half way
/// assert!(lr.value(99) < 4e-4);
/// assert_eq!(lr.value(100), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Hsueh et al. 2019, "Stochastic Gradient Descent with Hyperbolic-Tangent Decay on
/// Classification"; timm `TanhLRScheduler(t_initial, lb, ub, lr_min)` with one cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Tanh {
    init: f64,
    end: f64,
    decay_steps: u64,
    #[cfg_attr(feature = "serde", serde(default = "Tanh::default_lower"))]
    lower: f64,
    #[cfg_attr(feature = "serde", serde(default = "Tanh::default_upper"))]
    upper: f64,
}

impl Tanh {
    /// timm's default `lb`.
    ///
    /// ```
    /// assert_eq!(cadence::Tanh::DEFAULT_LOWER, -7.0);
    /// ```
    pub const DEFAULT_LOWER: f64 = -7.0;
    /// timm's default `ub`.
    ///
    /// ```
    /// assert_eq!(cadence::Tanh::DEFAULT_UPPER, 3.0);
    /// ```
    pub const DEFAULT_UPPER: f64 = 3.0;

    #[cfg(feature = "serde")]
    fn default_lower() -> f64 {
        Self::DEFAULT_LOWER
    }

    #[cfg(feature = "serde")]
    fn default_upper() -> f64 {
        Self::DEFAULT_UPPER
    }

    /// A tanh decay with timm's default bounds `lower = -7`, `upper = 3`.
    ///
    /// # Errors
    /// `init`, `end` finite, `decay_steps >= 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Tanh::new(0.1, 0.0, 0).is_err());
    /// ```
    pub fn new(init: f64, end: f64, decay_steps: u64) -> Result<Self, Error> {
        let s = Tanh {
            init,
            end,
            decay_steps,
            lower: Self::DEFAULT_LOWER,
            upper: Self::DEFAULT_UPPER,
        };
        s.validate()?;
        Ok(s)
    }

    /// The same decay with the tanh argument running from `lower` to `upper`.
    ///
    /// # Errors
    /// Both finite, `lower < upper`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Schedule, Tanh};
    ///
    /// let s = Tanh::new(1.0, 0.0, 10)?.with_bounds(-5.0, 5.0)?;
    /// assert!((s.value(5) - 0.5).abs() < 1e-15);
    /// assert!(Tanh::new(1.0, 0.0, 10)?.with_bounds(3.0, -7.0).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_bounds(self, lower: f64, upper: f64) -> Result<Self, Error> {
        let s = Tanh {
            lower,
            upper,
            ..self
        };
        s.validate()?;
        Ok(s)
    }
}

impl Validate for Tanh {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::finite("end", self.end)?;
        check::at_least_one("decay_steps", self.decay_steps)?;
        check::finite("lower", self.lower)?;
        check::finite("upper", self.upper)?;
        if self.upper <= self.lower {
            return Err(Error::invalid(
                "upper",
                self.upper,
                format!("must be > `lower` = {}", self.lower),
            ));
        }
        Ok(())
    }
}

impl Schedule for Tanh {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = if t > 0.0 { t } else { 0.0 };
        let steps = self.decay_steps as f64;
        if t >= steps {
            return self.end;
        }
        let f = t / steps;
        let arg = self.lower * (1.0 - f) + self.upper * f;
        finite_or_saturate(self.end + 0.5 * (self.init - self.end) * (1.0 - arg.tanh()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    fn reference(init: f64, end: f64, f: f64) -> f64 {
        end + 0.5 * (init - end) * (1.0 - (-7.0 * (1.0 - f) + 3.0 * f).tanh())
    }

    #[test]
    fn boundary_steps() {
        let s = Tanh::new(1.0, 0.1, 10).unwrap();
        assert_values(
            &s,
            &[
                (0, reference(1.0, 0.1, 0.0)),
                (7, 0.55),
                (9, reference(1.0, 0.1, 0.9)),
                (10, 0.1),
                (11, 0.1),
                (u64::MAX, 0.1),
            ],
            1e-15,
        );
        assert!(close(s.value(0), 1.0, 1e-6));
        assert_total(&s, &[10]);
    }

    #[test]
    fn continuous_time() {
        let s = Tanh::new(1.0, 0.0, 10).unwrap();
        assert!(close(s.value_at(7.0), 0.5, 1e-15));
        assert!(close(s.value_at(3.5), reference(1.0, 0.0, 0.35), 1e-15));
        assert_eq!(s.value_at(-1.0), s.value(0));
        assert_eq!(s.value_at(f64::NAN), s.value(0));
        assert_eq!(s.value_at(1e300), 0.0);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Tanh::new(f64::NAN, 0.0, 3).is_err());
        assert!(Tanh::new(1.0, 0.0, 0).is_err());
        let s = Tanh::new(1.0, 0.0, 3).unwrap();
        assert!(matches!(
            s.with_bounds(1.0, 1.0),
            Err(Error::InvalidParameter { name: "upper", .. })
        ));
        assert!(matches!(
            s.with_bounds(f64::NAN, 1.0),
            Err(Error::InvalidParameter { name: "lower", .. })
        ));
    }

    proptest! {
        #[test]
        fn monotone_and_bounded(
            init in -1e3..1e3f64, end in -1e3..1e3f64, ds in 1u64..10_000,
            lower in -20.0..0.0f64, width in 0.1..30.0f64, t in any::<u64>(),
        ) {
            let s = Tanh::new(init, end, ds).unwrap().with_bounds(lower, lower + width).unwrap();
            let (lo, hi) = (init.min(end), init.max(end));
            let v = s.value(t);
            prop_assert!(v.is_finite() && v >= lo - 1e-9 && v <= hi + 1e-9);
            let w = s.value(t.saturating_add(1));
            if end <= init { prop_assert!(w <= v + 1e-9) } else { prop_assert!(w >= v - 1e-9) }
        }
    }
}
