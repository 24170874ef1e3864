//! Step decays: by a factor every fixed number of steps, or at listed milestones.

use crate::error::{Error, check};
use crate::fastmath::pow_int;
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

/// Multiplies by `gamma` every `step_size` steps.
///
/// ```text
/// value(t) = init * gamma^floor(t / step_size)
/// ```
///
/// `step_size` is a real number so that timm's fractional `decay_t` (e.g. 2.5 epochs) is
/// expressible; the floor division follows Python's `//` on floats, which is exact for
/// integer step sizes.
///
/// # Parameters
/// - `init`: the value over the first `step_size` steps, finite.
/// - `gamma`: the factor per step, finite and `>= 0` (`> 1` grows).
/// - `step_size`: the length of each stair, finite and `> 0`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` is not finite, `gamma` is not finite and `>= 0`
/// or `step_size` is not finite and `> 0`.
///
/// # Examples
///
/// ```
/// use cadence::{Schedule, Step};
///
/// let lr = Step::new(0.1, 0.5, 10.0)?;
/// assert_eq!(lr.value(9), 0.1);
/// assert_eq!(lr.value(10), 0.05);
/// assert_eq!(lr.value(35), 0.0125);
///
/// let timm = Step::new(0.1, 0.9, 2.5)?; // timm StepLRScheduler(decay_t=2.5)
/// assert!((timm.value(4) - 0.09).abs() < 1e-16);
/// assert!((timm.value(5) - 0.081).abs() < 1e-16);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `torch.optim.lr_scheduler.StepLR(step_size, gamma)`; timm `StepLRScheduler(decay_t,
/// decay_rate)`; optax `exponential_decay(..., staircase=True)` is the same shape
/// (see [`Exponential`](crate::Exponential)).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Step {
    init: f64,
    gamma: f64,
    step_size: f64,
}

impl Step {
    /// A step decay; see the type's documentation.
    ///
    /// # Errors
    /// `init` finite, `gamma` finite and `>= 0`, `step_size` finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Step::new(0.1, 0.5, 0.0).is_err());
    /// assert!(cadence::Step::new(0.1, -0.5, 1.0).is_err());
    /// ```
    pub fn new(init: f64, gamma: f64, step_size: f64) -> Result<Self, Error> {
        let s = Step {
            init,
            gamma,
            step_size,
        };
        s.validate()?;
        Ok(s)
    }
}

impl Step {
    /// `init * gamma^k`, saturated.
    #[inline]
    fn scaled(&self, k: f64) -> f64 {
        finite_or_saturate(self.init * pow_int(self.gamma, k as u64))
    }
}

/// `floor(t / d)` as Python computes `t // d` for floats `t >= 0`, `d > 0`: exact when
/// `t` is a multiple of `d` up to rounding of `fmod`, unlike a plain `(t / d).floor()`.
#[inline]
fn python_floor_div(t: f64, d: f64) -> f64 {
    let m = t % d;
    let div = (t - m) / d;
    let floor = crate::fastmath::floor(div);
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

impl Validate for Step {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::non_negative("gamma", self.gamma)?;
        check::positive("step_size", self.step_size)?;
        Ok(())
    }
}

impl Schedule for Step {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        // Integer step sizes (every PyTorch config) divide exactly in integers; this is
        // what Python's float `//` gives too, and avoids the slow `fmod`.
        // (Integrality by the libm-free `trunc`: `fract` would be a call on every step.)
        if crate::fastmath::trunc(self.step_size) == self.step_size
            && self.step_size < 2f64.powi(63)
        {
            // Below 2^52 the float quotient never rounds up across an integer (that needs
            // k * step_size > 2^53), and a float division is cheaper than a u64 one.
            let k = if step < 1 << 52 {
                // The quotient is >= 0: truncation (through i64, one instruction) floors.
                crate::fastmath::small_to_f64(
                    (crate::fastmath::step_to_f64(step) / self.step_size) as i64 as u64,
                )
            } else {
                (step / self.step_size as u64) as f64
            };
            return self.scaled(k);
        }
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = if t > 0.0 { t.min(f64::MAX) } else { 0.0 };
        self.scaled(python_floor_div(t, self.step_size))
    }
}

/// Multiplies by `gamma` at every milestone passed.
///
/// ```text
/// value(t) = init * gamma^(number of milestones m with m <= t)
/// ```
///
/// A milestone listed twice counts twice (as PyTorch's `Counter` of milestones does).
///
/// # Parameters
/// - `init`: the value before the first milestone, finite.
/// - `gamma`: the factor per milestone, finite and `>= 0`.
/// - `milestones`: the steps at which the factor applies, non-decreasing.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` is not finite, `gamma` is not finite and `>= 0`,
/// or `milestones` decreases somewhere.
///
/// # Examples
///
/// ```
/// use cadence::{MultiStep, Schedule};
///
/// let lr = MultiStep::new(0.1, 0.1, vec![10, 25, 25])?;
/// assert_eq!(lr.value(9), 0.1);
/// assert!((lr.value(10) - 0.01).abs() < 1e-17);
/// assert!((lr.value(25) - 1e-4).abs() < 1e-18);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `torch.optim.lr_scheduler.MultiStepLR(milestones, gamma)`; timm's
/// `MultiStepLRScheduler` applies each milestone one step earlier (`bisect_right(decay_t,
/// t + 1)`), i.e. it is this with every milestone reduced by one.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct MultiStep {
    init: f64,
    gamma: f64,
    milestones: Vec<u64>,
}

impl MultiStep {
    /// A multi-step decay; see the type's documentation.
    ///
    /// # Errors
    /// `init` finite, `gamma` finite and `>= 0`, `milestones` non-decreasing.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::MultiStep::new(0.1, 0.1, vec![30, 10]).is_err());
    /// ```
    pub fn new(init: f64, gamma: f64, milestones: Vec<u64>) -> Result<Self, Error> {
        let s = MultiStep {
            init,
            gamma,
            milestones,
        };
        s.validate()?;
        Ok(s)
    }

    /// The milestones, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::MultiStep::new(1.0, 0.5, vec![3, 9])?.milestones(), &[3, 9]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn milestones(&self) -> &[u64] {
        &self.milestones
    }
}

impl Validate for MultiStep {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::non_negative("gamma", self.gamma)?;
        if let Some(w) = self.milestones.windows(2).find(|w| w[1] < w[0]) {
            return Err(Error::invalid(
                "milestones",
                format!("{:?}", self.milestones),
                format!("must be non-decreasing ({} after {})", w[1], w[0]),
            ));
        }
        Ok(())
    }
}

impl Schedule for MultiStep {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= step);
        finite_or_saturate(self.init * pow_int(self.gamma, passed as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn step_boundaries() {
        let s = Step::new(1.0, 0.5, 3.0).unwrap();
        assert_values(
            &s,
            &[
                (0, 1.0),
                (2, 1.0),
                (3, 0.5),
                (5, 0.5),
                (6, 0.25),
                (u64::MAX, 0.0),
            ],
            1e-15,
        );
        assert_total(&s, &[3]);
        let grow = Step::new(1.0, 2.0, 1.0).unwrap();
        assert_eq!(grow.value(u64::MAX), f64::MAX);
        let zero = Step::new(1.0, 0.0, 1.0).unwrap();
        assert_values(&zero, &[(0, 1.0), (1, 0.0)], 1e-15);
    }

    #[test]
    fn fractional_step_size_follows_python_floor_division() {
        // timm StepLRScheduler(decay_t=2.5): t // 2.5 = 0, 0, 0, 1, 1, 2, ...
        let s = Step::new(1.0, 0.5, 2.5).unwrap();
        let k: Vec<f64> = (0..8).map(|t| -s.value(t).log2()).collect();
        assert_eq!(k, [0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        // 0.3 // 0.1 is 2.0 in Python (0.3 is just below 3 * 0.1).
        assert_eq!(python_floor_div(0.3, 0.1), 2.0);
        assert_eq!(python_floor_div(1.0, 0.1), 9.0);
        assert_eq!(s.value_at(7.4), 0.25);
        assert_eq!(s.value_at(-3.0), 1.0);
        assert_eq!(s.value_at(f64::NAN), 1.0);
    }

    #[test]
    fn multistep_boundaries_and_repeats() {
        let s = MultiStep::new(1.0, 0.5, vec![0, 4, 4, 9]).unwrap();
        assert_values(
            &s,
            &[
                (0, 0.5),
                (3, 0.5),
                (4, 0.125),
                (8, 0.125),
                (9, 0.0625),
                (u64::MAX, 0.0625),
            ],
            1e-15,
        );
        assert_total(&s, &[4, 9]);
        let none = MultiStep::new(0.3, 0.1, vec![]).unwrap();
        assert_eq!(none.value(u64::MAX), 0.3);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(matches!(
            Step::new(1.0, 0.5, f64::INFINITY),
            Err(Error::InvalidParameter {
                name: "step_size",
                ..
            })
        ));
        assert!(Step::new(f64::NAN, 0.5, 1.0).is_err());
        assert!(matches!(
            MultiStep::new(1.0, 0.5, vec![5, 4]),
            Err(Error::InvalidParameter {
                name: "milestones",
                ..
            })
        ));
        assert!(MultiStep::new(1.0, f64::NAN, vec![]).is_err());
    }

    proptest! {
        #[test]
        fn step_monotone_and_bounded(init in 0.0..1e3f64, gamma in 0.0..1.0f64, size in 0.1..1e4f64, t in any::<u64>()) {
            let s = Step::new(init, gamma, size).unwrap();
            let v = s.value(t);
            prop_assert!(v.is_finite() && (0.0..=init).contains(&v));
            prop_assert!(s.value(t.saturating_add(1)) <= v);
        }

        #[test]
        fn integer_step_size_matches_integer_division(gamma in 0.5..1.0f64, size in 1u64..1_000, t in 0u64..1 << 40) {
            let s = Step::new(1.0, gamma, size as f64).unwrap();
            prop_assert!(close(s.value(t), gamma.powf((t / size) as f64), 1e-15));
            prop_assert_eq!(s.value_at(t as f64), s.value(t));
        }

        #[test]
        fn multistep_counts_milestones(mut ms in proptest::collection::vec(0u64..1_000, 0..8), t in 0u64..1_200) {
            ms.sort_unstable();
            let s = MultiStep::new(2.0, 0.5, ms.clone()).unwrap();
            let passed = ms.iter().filter(|&&m| m <= t).count() as i32;
            prop_assert!(close(s.value(t), 2.0 * 0.5_f64.powi(passed), 1e-15));
            prop_assert!(s.value(t + 1) <= s.value(t));
        }
    }
}
