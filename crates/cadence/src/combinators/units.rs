//! Explicit unit conversions: epochs, training fractions, gradient accumulation.

use crate::error::{Error, check};
use crate::schedule::{Schedule, floor_step};
use crate::spec::Validate;

use super::clock;

/// A schedule counted in epochs, read per optimizer step at the fractional epoch.
///
/// ```text
/// value(t) = schedule.value_at(t / steps_per_epoch)
/// ```
///
/// A child with a closed form (cosine, linear, exponential) moves smoothly within an
/// epoch, as PyTorch's `scheduler.step(epoch + i / iters)` does; a staircase child
/// (step, multi-step) changes only at whole epochs, as it does there.
///
/// # Parameters
/// - `steps_per_epoch`: optimizer steps in one epoch, at least 1.
/// - `schedule`: the schedule in epochs.
///
/// # Errors
/// [`Error::InvalidParameter`] if `steps_per_epoch` is 0.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, PerEpoch, Schedule};
///
/// // A linear decay over 10 epochs of 100 steps each.
/// let lr = PerEpoch::new(100, Linear::new(1.0, 0.0, 10)?)?;
/// assert_eq!(lr.value(0), 1.0);
/// assert_eq!(lr.value(50), 0.95);
/// assert_eq!(lr.value(500), 0.5);
/// assert_eq!(lr.value(1_000), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts.step(epoch)` (fractional epochs);
/// timm `t_in_epochs`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct PerEpoch<S> {
    steps_per_epoch: u64,
    schedule: S,
}

impl<S: Schedule> PerEpoch<S> {
    /// A schedule in epochs; see the type's documentation.
    ///
    /// # Errors
    /// `steps_per_epoch` must be at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::PerEpoch::new(0, 1.0).is_err());
    /// ```
    pub fn new(steps_per_epoch: u64, schedule: S) -> Result<Self, Error> {
        let s = PerEpoch {
            steps_per_epoch,
            schedule,
        };
        s.validate()?;
        Ok(s)
    }
}

impl<S> PerEpoch<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> PerEpoch<T> {
        PerEpoch {
            steps_per_epoch: self.steps_per_epoch,
            schedule: f(self.schedule),
        }
    }
}

impl<S: Schedule> Validate for PerEpoch<S> {
    fn validate(&self) -> Result<(), Error> {
        check::at_least_one("steps_per_epoch", self.steps_per_epoch).map(|_| ())
    }
}

impl<S: Schedule> Schedule for PerEpoch<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        self.schedule
            .value_at(clock(t) / self.steps_per_epoch as f64)
    }
}

/// A schedule on the training fraction `[0, 1]` of a run of `total_steps` steps.
///
/// ```text
/// value(t) = schedule.value_at(t / total_steps)
/// ```
///
/// The child's clock runs from 0 at the first step to 1 at `total_steps`; past the end
/// it keeps running (fractions above 1), and the child decides what happens there.
///
/// A fraction-domain child is a schedule of length 1 read continuously through
/// [`Schedule::value_at`]: a [`Linear`](crate::Linear) with `steps = 1`, a cosine with
/// `decay_steps = 1`. Combinators whose parameters are
/// whole steps ([`Join`](crate::Join) boundaries, [`Warmup`](crate::Warmup) length) count
/// steps of the outer clock, so put them outside the `OnFraction` and give each piece its
/// own `OnFraction` with the piece's length.
///
/// # Parameters
/// - `total_steps`: the length of the run in optimizer steps, at least 1.
/// - `schedule`: the schedule on `[0, 1]`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `total_steps` is 0.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, OnFraction, Schedule};
///
/// // 1.0 -> 0.0 over the whole run, whatever its length.
/// let lr = OnFraction::new(1_000, Linear::new(1.0, 0.0, 1)?)?;
/// assert_eq!(lr.value(0), 1.0);
/// assert_eq!(lr.value(250), 0.75);
/// assert_eq!(lr.value(1_000), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Hägele et al., "Scaling Laws and Compute-Optimal Training Beyond Fixed Training
/// Durations" (2024) (decay given as a fraction of the run); transformers
/// `num_training_steps`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct OnFraction<S> {
    total_steps: u64,
    schedule: S,
}

impl<S: Schedule> OnFraction<S> {
    /// A schedule on the training fraction; see the type's documentation.
    ///
    /// # Errors
    /// `total_steps` must be at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::OnFraction::new(0, 1.0).is_err());
    /// ```
    pub fn new(total_steps: u64, schedule: S) -> Result<Self, Error> {
        let s = OnFraction {
            total_steps,
            schedule,
        };
        s.validate()?;
        Ok(s)
    }
}

impl<S> OnFraction<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> OnFraction<T> {
        OnFraction {
            total_steps: self.total_steps,
            schedule: f(self.schedule),
        }
    }
}

impl<S: Schedule> Validate for OnFraction<S> {
    fn validate(&self) -> Result<(), Error> {
        check::at_least_one("total_steps", self.total_steps).map(|_| ())
    }
}

impl<S: Schedule> Schedule for OnFraction<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        self.schedule.value_at(clock(t) / self.total_steps as f64)
    }
}

/// A schedule in optimizer steps driven by a micro-step counter (gradient accumulation).
///
/// ```text
/// value(t) = schedule.value(floor(t / micro_steps))
/// ```
///
/// With `micro_steps` micro-batches accumulated per update, micro-step `t` belongs to
/// optimizer step `floor(t / micro_steps)`, and the value is held for the whole
/// accumulation (unlike [`PerEpoch`], which reads the child between its steps).
///
/// # Parameters
/// - `micro_steps`: micro-steps per optimizer step, at least 1.
/// - `schedule`: the schedule in optimizer steps.
///
/// # Errors
/// [`Error::InvalidParameter`] if `micro_steps` is 0.
///
/// # Examples
///
/// ```
/// use cadence::{Accumulate, Linear, Schedule};
///
/// let lr = Accumulate::new(4, Linear::new(1.0, 0.0, 10)?)?;
/// assert_eq!(lr.value(0), 1.0);
/// assert_eq!(lr.value(3), 1.0);
/// assert_eq!(lr.value(4), 0.9);
/// assert_eq!(lr.value(40), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// transformers `gradient_accumulation_steps` (the scheduler steps once per update).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Accumulate<S> {
    micro_steps: u64,
    schedule: S,
}

impl<S: Schedule> Accumulate<S> {
    /// A micro-step view of `schedule`; see the type's documentation.
    ///
    /// # Errors
    /// `micro_steps` must be at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Accumulate::new(0, 1.0).is_err());
    /// ```
    pub fn new(micro_steps: u64, schedule: S) -> Result<Self, Error> {
        let s = Accumulate {
            micro_steps,
            schedule,
        };
        s.validate()?;
        Ok(s)
    }
}

impl<S> Accumulate<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> Accumulate<T> {
        Accumulate {
            micro_steps: self.micro_steps,
            schedule: f(self.schedule),
        }
    }
}

impl<S: Schedule> Validate for Accumulate<S> {
    fn validate(&self) -> Result<(), Error> {
        check::at_least_one("micro_steps", self.micro_steps).map(|_| ())
    }
}

impl<S: Schedule> Schedule for Accumulate<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.schedule.value(step / self.micro_steps)
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        self.value(floor_step(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use crate::{Linear, from_fn};
    use proptest::prelude::*;

    #[test]
    fn torch_fractional_epochs() {
        // torch__CosineAnnealingWarmRestarts_07_fractional: T_0 = 2 epochs, eta_min 0.001,
        // lr 0.05, 5 iterations per epoch; lr[k] is read at epoch k / 5 (T_mult = 1).
        let sgdr = |e: f64| {
            let t = e % 2.0;
            0.001 + (0.05 - 0.001) * (1.0 + (std::f64::consts::PI * t / 2.0).cos()) / 2.0
        };
        #[derive(Debug)]
        struct Continuous;
        impl Schedule for Continuous {
            fn value(&self, step: u64) -> f64 {
                self.value_at(crate::fastmath::step_to_f64(step))
            }
            fn value_at(&self, t: f64) -> f64 {
                let t = t % 2.0;
                0.001 + (0.05 - 0.001) * (1.0 + (std::f64::consts::PI * t / 2.0).cos()) / 2.0
            }
        }
        let s = PerEpoch::new(5, Continuous).unwrap();
        assert_values(
            &s,
            &[(0, 0.05), (2, 0.04532091636218621), (5, 0.0255), (10, 0.05)],
            1e-12,
        );
        for k in 0..40u64 {
            assert!(close(s.value(k), sgdr(k as f64 / 5.0), 1e-14));
        }
        // A staircase child moves only at whole epochs.
        let stair = PerEpoch::new(5, from_fn(|e| 0.5_f64.powi(e as i32))).unwrap();
        assert_values(
            &stair,
            &[(0, 1.0), (4, 1.0), (5, 0.5), (9, 0.5), (10, 0.25)],
            1e-15,
        );
        assert_total(&s, &[5]);
    }

    #[test]
    fn fraction_and_accumulation() {
        let f = OnFraction::new(400, Linear::new(1.0, 0.0, 1).unwrap()).unwrap();
        assert_values(
            &f,
            &[
                (0, 1.0),
                (100, 0.75),
                (399, 0.0025),
                (400, 0.0),
                (u64::MAX, 0.0),
            ],
            1e-12,
        );
        assert!(close(f.value_at(100.5), 0.74875, 1e-12));
        let a = Accumulate::new(3, Linear::new(1.0, 0.0, 10).unwrap()).unwrap();
        assert_values(
            &a,
            &[(0, 1.0), (2, 1.0), (3, 0.9), (29, 0.1), (30, 0.0)],
            1e-15,
        );
        assert_eq!(a.value_at(5.9), 0.9);
        assert!(matches!(
            OnFraction::new(0, 1.0),
            Err(Error::InvalidParameter {
                name: "total_steps",
                ..
            })
        ));
        assert!(matches!(
            Accumulate::new(0, 1.0),
            Err(Error::InvalidParameter {
                name: "micro_steps",
                ..
            })
        ));
        assert!(matches!(
            PerEpoch::new(0, 1.0),
            Err(Error::InvalidParameter {
                name: "steps_per_epoch",
                ..
            })
        ));
        assert_total(&a, &[3]);
    }

    proptest! {
        #[test]
        fn conversions_agree_with_their_clocks(spe in 1u64..1000, t in 0u64..1 << 40) {
            let child = Linear::new(2.0, 1.0, 100).unwrap();
            let e = PerEpoch::new(spe, child).unwrap();
            prop_assert!(close(e.value(t), child.value_at(t as f64 / spe as f64), 1e-15));
            let a = Accumulate::new(spe, child).unwrap();
            prop_assert_eq!(a.value(t), child.value(t / spe));
            // Every micro-step of one update has the update's value.
            prop_assert_eq!(a.value(t - t % spe), a.value(t));
        }
    }
}
