//! Polynomial decay from `init` to `end`.

use crate::error::{Error, check};
use crate::fastmath::pow_fixed;
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

/// Polynomial decay from `init` to `end` over `decay_steps` steps that start at `begin`.
///
/// ```text
/// c(t)     = clamp(t - begin, 0, decay_steps)
/// value(t) = (init - end) * (1 - (c(t) / decay_steps)^k_decay)^power + end
/// ```
///
/// Before `begin` the value is `init`, from `begin + decay_steps` on it is `end`.
/// `power = 1` is a linear decay, `power = 2` a quadratic one that falls fast at first,
/// `power < 1` one that falls fast at the end. `k_decay` (timm, default 1) warps the
/// clock: `k > 1` holds the value high for longer.
///
/// # Parameters
/// - `init`: the value up to step `begin`, finite.
/// - `end`: the value from step `begin + decay_steps` on, finite.
/// - `power`: the exponent, finite and `>= 0` (`0` is the constant `init`).
/// - `decay_steps`: the length of the decay, at least 1.
/// - `begin`: the step at which the decay starts (optax's `transition_begin`), default 0.
/// - `k_decay`: finite and `> 0`, default 1.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init`, `end` or `power` is not finite, `power < 0`,
/// `decay_steps` is 0, or `k_decay` is not finite and `> 0`.
///
/// # Examples
///
/// ```
/// use cadence::{Polynomial, Schedule};
///
/// let lr = Polynomial::new(0.1, 0.001, 2.0, 100)?;
/// assert_eq!(lr.value(0), 0.1);
/// assert!((lr.value(50) - 0.02575).abs() < 1e-15); // 0.099 * 0.5^2 + 0.001
/// assert_eq!(lr.value(100), 0.001);
///
/// let late = lr.with_begin(20);
/// assert_eq!(late.value(20), 0.1);
/// assert!((late.value(70) - 0.02575).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `optax.polynomial_schedule` (same parameters; `transition_steps`, `transition_begin`);
/// `torch.optim.lr_scheduler.PolynomialLR` is `end = 0`, `begin = 0`;
/// transformers' `get_polynomial_decay_schedule_with_warmup` is this after a warmup with
/// `begin` = the warmup length; timm's `PolyLRScheduler(t_initial, power, lr_min,
/// k_decay)` with one cycle is this with `k_decay`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Polynomial {
    init: f64,
    end: f64,
    power: f64,
    decay_steps: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    begin: u64,
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    k_decay: f64,
}

#[cfg(feature = "serde")]
fn one() -> f64 {
    1.0
}

impl Polynomial {
    /// A polynomial decay that starts at step 0; see the type's documentation.
    ///
    /// # Errors
    /// `init`, `end` and `power` must be finite, `power >= 0`, `decay_steps >= 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Polynomial::new(1.0, 0.0, -1.0, 10).is_err());
    /// assert!(cadence::Polynomial::new(1.0, 0.0, 1.0, 0).is_err());
    /// ```
    pub fn new(init: f64, end: f64, power: f64, decay_steps: u64) -> Result<Self, Error> {
        let s = Polynomial {
            init,
            end,
            power,
            decay_steps,
            begin: 0,
            k_decay: 1.0,
        };
        s.validate()?;
        Ok(s)
    }

    /// The same decay, starting at step `begin` (optax's `transition_begin`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Polynomial, Schedule};
    ///
    /// let s = Polynomial::new(1.0, 0.0, 1.0, 10)?.with_begin(5);
    /// assert_eq!(s.value(5), 1.0);
    /// assert_eq!(s.value(10), 0.5);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_begin(self, begin: u64) -> Self {
        Polynomial { begin, ..self }
    }

    /// The same decay on the warped clock `(c / decay_steps)^k_decay` (timm's `k_decay`).
    ///
    /// # Errors
    /// `k_decay` must be finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Polynomial, Schedule};
    ///
    /// let s = Polynomial::new(1.0, 0.0, 1.0, 10)?.with_k_decay(2.0)?;
    /// assert!((s.value(5) - 0.75).abs() < 1e-15); // 1 - 0.5^2
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_k_decay(self, k_decay: f64) -> Result<Self, Error> {
        let s = Polynomial { k_decay, ..self };
        s.validate()?;
        Ok(s)
    }

    /// The value after `c` steps of decay, `c` already clamped to `[0, decay_steps]`.
    #[inline]
    fn at(&self, c: f64) -> f64 {
        let f = c / self.decay_steps as f64;
        let f = if self.k_decay == 1.0 {
            f
        } else {
            pow_fixed(f, self.k_decay)
        };
        let frac = 1.0 - f;
        finite_or_saturate((self.init - self.end) * pow_fixed(frac, self.power) + self.end)
    }
}

impl Validate for Polynomial {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::finite("end", self.end)?;
        check::non_negative("power", self.power)?;
        check::at_least_one("decay_steps", self.decay_steps)?;
        check::positive("k_decay", self.k_decay)?;
        Ok(())
    }
}

impl Schedule for Polynomial {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        let c = step.saturating_sub(self.begin).min(self.decay_steps);
        self.at(crate::fastmath::step_to_f64(c))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let c = t - self.begin as f64;
        let c = if c.is_nan() {
            0.0
        } else {
            c.clamp(0.0, self.decay_steps as f64)
        };
        self.at(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = Polynomial::new(1.0, 0.0, 2.0, 10).unwrap().with_begin(5);
        assert_values(
            &s,
            &[
                (0, 1.0),
                (5, 1.0),
                (6, 0.81),
                (10, 0.25),
                (14, 0.01),
                (15, 0.0),
                (16, 0.0),
                (u64::MAX, 0.0),
            ],
            1e-14,
        );
        assert_total(&s, &[5, 15]);
    }

    #[test]
    fn power_zero_is_constant_init() {
        let s = Polynomial::new(0.3, 0.1, 0.0, 10).unwrap();
        assert_values(&s, &[(0, 0.3), (10, 0.3), (u64::MAX, 0.3)], 1e-15);
    }

    #[test]
    fn rejects_bad_parameters() {
        for (bad, name) in [
            (Polynomial::new(f64::NAN, 0.0, 1.0, 3), "init"),
            (Polynomial::new(1.0, f64::INFINITY, 1.0, 3), "end"),
            (Polynomial::new(1.0, 0.0, -0.5, 3), "power"),
            (Polynomial::new(1.0, 0.0, f64::NAN, 3), "power"),
            (Polynomial::new(1.0, 0.0, 1.0, 0), "decay_steps"),
            (
                Polynomial::new(1.0, 0.0, 1.0, 3).and_then(|s| s.with_k_decay(0.0)),
                "k_decay",
            ),
        ] {
            assert!(
                matches!(bad, Err(Error::InvalidParameter { name: n, .. }) if n == name),
                "{name}"
            );
        }
    }

    #[test]
    fn continuous_time() {
        let s = Polynomial::new(1.0, 0.0, 1.0, 10).unwrap().with_begin(2);
        assert!(close(s.value_at(4.5), 0.75, 1e-15));
        assert_eq!(s.value_at(-3.0), 1.0);
        assert_eq!(s.value_at(f64::NAN), 1.0);
        assert_eq!(s.value_at(1e300), 0.0);
    }

    proptest! {
        #[test]
        fn monotone_bounded_and_continuous_time_agrees(
            init in -1e3..1e3f64, end in -1e3..1e3f64, power in 0.0..8.0f64,
            decay_steps in 1u64..10_000, begin in 0u64..1_000, t in 0u64..20_000, k in 0.1..4.0f64,
        ) {
            let s = Polynomial::new(init, end, power, decay_steps).unwrap().with_begin(begin)
                .with_k_decay(k).unwrap();
            let (lo, hi) = (init.min(end), init.max(end));
            let v = s.value(t);
            prop_assert!(v.is_finite() && v >= lo - 1e-9 && v <= hi + 1e-9);
            let w = s.value(t + 1);
            if end <= init { prop_assert!(w <= v + 1e-12) } else { prop_assert!(w >= v - 1e-12) }
            prop_assert!(close(s.value_at(t as f64), v, 1e-15));
        }

        #[test]
        fn total(init in -1e300..1e300f64, end in -1e300..1e300f64, power in 0.0..1e3f64, t in any::<u64>()) {
            let s = Polynomial::new(init, end, power, 7).unwrap();
            prop_assert!(s.value(t).is_finite());
            prop_assert!(s.value_at(t as f64 * 0.37).is_finite());
        }
    }
}
