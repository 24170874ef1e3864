//! Cosine decay, with optax's exponent, timm's k-decay and PyTorch's periodic overrun.

use super::Overrun;
use crate::error::{Error, check};
use crate::fastmath::{TWO_52, cos_pi, pow_fixed, small_to_f64};
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;
use std::f64::consts::PI;

/// Cosine decay from `init` to `end` over `decay_steps` steps.
///
/// ```text
/// T        = decay_steps
/// f(t)     = (t / T)^k_decay
/// c(t)     = (1 + cos(pi * f(t))) / 2
/// value(t) = end + (init - end) * c(t)^exponent      for t < T, or any t with Continue
///          = end                                     for t >= T with Hold
/// ```
///
/// With the defaults `exponent = 1`, `k_decay = 1` this is the half cosine wave of
/// Loshchilov & Hutter. `exponent` (optax) bends the whole curve; `k_decay` (timm) warps
/// time so that `k > 1` holds the value high for longer and `k < 1` drops it earlier.
/// [`Overrun::Continue`] keeps evaluating the formula past `T`, which with `k_decay = 1`
/// climbs back to `init` at `2T` and repeats with period `2T` like PyTorch's
/// `CosineAnnealingLR`; [`Overrun::Hold`] (default) stays at `end`.
///
/// # Parameters
/// - `init`: the value at step 0, finite.
/// - `end`: the value at step `decay_steps`, finite (optax's `alpha * init_value`).
/// - `decay_steps`: at least 1.
/// - `exponent`: finite and `> 0`, default 1.
/// - `k_decay`: finite and `> 0`, default 1.
/// - `overrun`: [`Overrun::Hold`] (default) or [`Overrun::Continue`].
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` or `end` is not finite, `decay_steps` is 0, or
/// `exponent` or `k_decay` is not finite and `> 0`.
///
/// # Examples
///
/// ```
/// use cadence::{Cosine, Overrun, Schedule};
///
/// let lr = Cosine::new(0.1, 0.0, 100)?;
/// assert_eq!(lr.value(0), 0.1);
/// assert!((lr.value(50) - 0.05).abs() < 1e-16);
/// assert_eq!(lr.value(100), 0.0);
/// assert_eq!(lr.value(150), 0.0);
///
/// // optax.cosine_decay_schedule(1.0, 1000, alpha=0.05, exponent=0.5)
/// let optax = Cosine::with_alpha(1.0, 0.05, 1000)?.with_exponent(0.5)?;
/// assert!((optax.value(500) - (0.05 + 0.95 * 0.5_f64.sqrt())).abs() < 1e-15);
///
/// // torch CosineAnnealingLR(T_max=10, eta_min=0.01) past T_max
/// let torch = Cosine::new(0.5, 0.01, 10)?.with_overrun(Overrun::Continue);
/// assert!((torch.value(15) - 0.255).abs() < 1e-15);
/// assert!((torch.value(20) - 0.5).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Loshchilov & Hutter 2017, "SGDR"; `optax.cosine_decay_schedule(init_value,
/// decay_steps, alpha, exponent)`; `torch.optim.lr_scheduler.CosineAnnealingLR(T_max,
/// eta_min)` (Continue); timm `CosineLRScheduler(t_initial, lr_min, k_decay)` with one
/// cycle (Hold); Zhang et al. 2020, "k-decay".
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Cosine {
    init: f64,
    end: f64,
    decay_steps: u64,
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    exponent: f64,
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    k_decay: f64,
    #[cfg_attr(feature = "serde", serde(default))]
    overrun: Overrun,
}

#[cfg(feature = "serde")]
fn one() -> f64 {
    1.0
}

impl Cosine {
    /// A plain cosine decay from `init` to `end`; see the type's documentation.
    ///
    /// # Errors
    /// `init`, `end` finite, `decay_steps >= 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Cosine::new(0.1, 0.0, 0).is_err());
    /// ```
    pub fn new(init: f64, end: f64, decay_steps: u64) -> Result<Self, Error> {
        let s = Cosine {
            init,
            end,
            decay_steps,
            exponent: 1.0,
            k_decay: 1.0,
            overrun: Overrun::Hold,
        };
        s.validate()?;
        Ok(s)
    }

    /// optax's parametrisation: decay to `end = alpha * init`.
    ///
    /// # Errors
    /// `init`, `alpha` finite (reported as `end` if the product overflows),
    /// `decay_steps >= 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cosine, Schedule};
    ///
    /// let s = Cosine::with_alpha(2.0, 0.1, 10)?;
    /// assert!((s.value(10) - 0.2).abs() < 1e-16);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_alpha(init: f64, alpha: f64, decay_steps: u64) -> Result<Self, Error> {
        check::finite("alpha", alpha)?;
        Cosine::new(init, alpha * init, decay_steps)
    }

    /// The same decay with `c(t)` raised to `exponent` (optax).
    ///
    /// # Errors
    /// `exponent` must be finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cosine, Schedule};
    ///
    /// let s = Cosine::new(1.0, 0.0, 10)?.with_exponent(2.0)?;
    /// assert!((s.value(5) - 0.25).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_exponent(self, exponent: f64) -> Result<Self, Error> {
        let s = Cosine { exponent, ..self };
        s.validate()?;
        Ok(s)
    }

    /// The same decay on the warped clock `f = (t / T)^k_decay` (timm's `k_decay`).
    ///
    /// # Errors
    /// `k_decay` must be finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cosine, Schedule};
    ///
    /// let s = Cosine::new(1.0, 0.0, 100)?.with_k_decay(2.0)?;
    /// // (50 / 100)^2 = 0.25 of the way in cosine time
    /// assert!((s.value(50) - 0.5 * (1.0 + (0.25 * std::f64::consts::PI).cos())).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_k_decay(self, k_decay: f64) -> Result<Self, Error> {
        let s = Cosine { k_decay, ..self };
        s.validate()?;
        Ok(s)
    }

    /// The same decay, holding `end` or continuing the formula past `decay_steps`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cosine, Overrun, Schedule};
    ///
    /// let s = Cosine::new(1.0, 0.0, 10)?.with_overrun(Overrun::Continue);
    /// assert!((s.value(15) - 0.5).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_overrun(self, overrun: Overrun) -> Self {
        Cosine { overrun, ..self }
    }

    /// The value at time `t >= 0`, already reduced to one period when that is exact.
    #[inline]
    fn at(&self, t: f64) -> f64 {
        let f = t / self.decay_steps as f64;
        let f = if self.k_decay == 1.0 {
            f
        } else {
            pow_fixed(f, self.k_decay)
        };
        // Past 2 (k-decay continuing past the horizon) the period 2 comes off exactly:
        // `f - 2 trunc(f / 2)` is exact (Sterbenz), so the cosine of the reduced argument is
        // closer than `cos` of the rounded `pi f`, and cheaper.
        let f = if f > 2.0 && f < TWO_52 {
            f - 2.0 * small_to_f64((0.5 * f) as i64 as u64)
        } else {
            f
        };
        let c = 0.5
            * (1.0
                + if f <= 1.0 {
                    cos_pi(f)
                } else if f <= 2.0 {
                    cos_pi(2.0 - f) // exact argument: 2 - f is exact on [1, 2]
                } else {
                    (PI * f).cos()
                });
        let c = if self.exponent == 1.0 {
            c
        } else {
            pow_fixed(c, self.exponent)
        };
        finite_or_saturate(self.end + (self.init - self.end) * c)
    }
}

impl Validate for Cosine {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::finite("end", self.end)?;
        check::at_least_one("decay_steps", self.decay_steps)?;
        check::positive("exponent", self.exponent)?;
        check::positive("k_decay", self.k_decay)?;
        Ok(())
    }
}

impl Schedule for Cosine {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        match self.overrun {
            Overrun::Hold if step >= self.decay_steps => self.end,
            // The wave has period 2T: reduce exactly in integers so huge steps stay exact.
            Overrun::Continue if self.k_decay == 1.0 => {
                // In u64 where 2T fits (a u128 remainder is a slow library call).
                let phase = match self.decay_steps.checked_mul(2) {
                    Some(period) => step % period,
                    None => step,
                };
                self.at(crate::fastmath::step_to_f64(phase))
            }
            _ => self.at(crate::fastmath::step_to_f64(step)),
        }
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = if t > 0.0 { t } else { 0.0 };
        let steps = self.decay_steps as f64;
        match self.overrun {
            Overrun::Hold if t >= steps => self.end,
            Overrun::Continue if self.k_decay == 1.0 && t.is_finite() => self.at(t % (2.0 * steps)),
            Overrun::Continue if self.k_decay == 1.0 => self.init,
            _ => self.at(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = Cosine::new(1.0, 0.2, 4).unwrap();
        assert_values(
            &s,
            &[
                (0, 1.0),
                (1, 0.2 + 0.8 * 0.5 * (1.0 + (PI / 4.0).cos())),
                (2, 0.6),
                (4, 0.2),
                (5, 0.2),
                (u64::MAX, 0.2),
            ],
            1e-15,
        );
        assert_total(&s, &[4]);
    }

    #[test]
    fn continue_is_periodic_even_at_huge_steps() {
        let s = Cosine::new(1.0, 0.2, 4)
            .unwrap()
            .with_overrun(Overrun::Continue);
        assert_values(&s, &[(4, 0.2), (6, 0.6), (8, 1.0), (12, 0.2)], 1e-15);
        // u64::MAX = 2^64 - 1 = 1 (mod 8)
        assert!(close(s.value(u64::MAX), s.value(1), 1e-15));
        assert!(close(s.value_at(9.0), s.value(1), 1e-15));
        assert_eq!(s.value_at(f64::INFINITY), 1.0);
        assert_total(&s, &[4, 8]);
        let warped = s.with_k_decay(2.0).unwrap();
        assert!(warped.value(u64::MAX).is_finite());
        assert!(warped.value_at(f64::INFINITY).is_finite());
    }

    #[test]
    fn continuous_time() {
        let s = Cosine::new(1.0, 0.0, 10).unwrap();
        assert!(close(s.value_at(5.0), 0.5, 1e-15));
        assert!(close(
            s.value_at(2.5),
            0.5 * (1.0 + (PI / 4.0).cos()),
            1e-15
        ));
        assert_eq!(s.value_at(-1.0), 1.0);
        assert_eq!(s.value_at(f64::NAN), 1.0);
        assert_eq!(s.value_at(10.0), 0.0);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Cosine::new(f64::NAN, 0.0, 3).is_err());
        assert!(Cosine::new(1.0, f64::INFINITY, 3).is_err());
        assert!(Cosine::with_alpha(1.0, f64::NAN, 3).is_err());
        let s = Cosine::new(1.0, 0.0, 3).unwrap();
        assert!(matches!(
            s.with_exponent(0.0),
            Err(Error::InvalidParameter {
                name: "exponent",
                ..
            })
        ));
        assert!(matches!(
            s.with_k_decay(-1.0),
            Err(Error::InvalidParameter {
                name: "k_decay",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn hold_is_monotone_and_bounded(
            init in -1e3..1e3f64, end in -1e3..1e3f64, ds in 1u64..10_000,
            exponent in 0.1..4.0f64, k in 0.1..4.0f64, t in 0u64..20_000,
        ) {
            let s = Cosine::new(init, end, ds).unwrap().with_exponent(exponent).unwrap().with_k_decay(k).unwrap();
            let (lo, hi) = (init.min(end), init.max(end));
            let v = s.value(t);
            prop_assert!(v >= lo - 1e-9 && v <= hi + 1e-9);
            let w = s.value(t + 1);
            if end <= init { prop_assert!(w <= v + 1e-9) } else { prop_assert!(w >= v - 1e-9) }
            prop_assert!(close(s.value_at(t as f64), v, 1e-12));
        }

        #[test]
        fn continue_is_bounded_and_total(init in -1e3..1e3f64, end in -1e3..1e3f64, ds in 1u64..10_000, k in 0.1..4.0f64, t in any::<u64>()) {
            for s in [
                Cosine::new(init, end, ds).unwrap().with_overrun(Overrun::Continue),
                Cosine::new(init, end, ds).unwrap().with_overrun(Overrun::Continue).with_k_decay(k).unwrap(),
            ] {
                let v = s.value(t);
                prop_assert!(v.is_finite() && v >= init.min(end) - 1e-9 && v <= init.max(end) + 1e-9);
            }
        }
    }
}
