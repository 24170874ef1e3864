//! Moving a schedule in time: delay, repeat, restarts with per-cycle decay.

use crate::error::{Error, check};
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

use super::clock;

/// A schedule started `steps` later; its starting value is held until then.
///
/// ```text
/// value(t) = schedule.value(max(t - steps, 0))
/// ```
///
/// # Parameters
/// - `steps`: the delay; 0 is none.
/// - `schedule`: the delayed schedule.
///
/// # Errors
/// None: every delay is valid. `new` returns `Result` like every constructor.
///
/// # Examples
///
/// ```
/// use cadence::{Delay, Linear, Schedule};
///
/// let lr = Delay::new(100, Linear::new(1.0, 0.0, 10)?)?;
/// assert_eq!(lr.value(0), 1.0);
/// assert_eq!(lr.value(100), 1.0);
/// assert_eq!(lr.value(105), 0.5);
/// assert_eq!(lr.value(110), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// optax `transition_begin` (the hold before a decay starts).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Delay<S> {
    pub(super) steps: u64,
    pub(super) schedule: S,
}

impl<S: Schedule> Delay<S> {
    /// A delayed schedule; see the type's documentation.
    ///
    /// # Errors
    /// Never fails today; kept fallible like every constructor.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Delay::new(0, 1.0).is_ok());
    /// ```
    pub fn new(steps: u64, schedule: S) -> Result<Self, Error> {
        let s = Delay { steps, schedule };
        s.validate()?;
        Ok(s)
    }
}

impl<S> Delay<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> Delay<T> {
        Delay {
            steps: self.steps,
            schedule: f(self.schedule),
        }
    }
}

impl<S: Schedule> Validate for Delay<S> {
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
}

impl<S: Schedule> Schedule for Delay<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.schedule.value(step.saturating_sub(self.steps))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        self.schedule
            .value_at((clock(t) - self.steps as f64).max(0.0))
    }
}

/// A schedule repeated with a period: the child sees the step within the period.
///
/// ```text
/// value(t) = schedule.value(t mod period)
/// ```
///
/// # Parameters
/// - `period`: the length of one cycle, at least 1.
/// - `schedule`: the cycle.
///
/// # Errors
/// [`Error::InvalidParameter`] if `period` is 0.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, Repeat, Schedule};
///
/// let saw = Repeat::new(10, Linear::new(1.0, 0.0, 10)?)?;
/// assert_eq!(saw.value(5), 0.5);
/// assert_eq!(saw.value(10), 1.0);
/// assert_eq!(saw.value(25), 0.5);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017);
/// `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts` with `T_mult = 1`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Repeat<S> {
    period: u64,
    schedule: S,
}

impl<S: Schedule> Repeat<S> {
    /// A repeated schedule; see the type's documentation.
    ///
    /// # Errors
    /// `period` must be at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Repeat::new(0, 1.0).is_err());
    /// ```
    pub fn new(period: u64, schedule: S) -> Result<Self, Error> {
        let s = Repeat { period, schedule };
        s.validate()?;
        Ok(s)
    }
}

impl<S> Repeat<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> Repeat<T> {
        Repeat {
            period: self.period,
            schedule: f(self.schedule),
        }
    }
}

impl<S: Schedule> Validate for Repeat<S> {
    fn validate(&self) -> Result<(), Error> {
        check::at_least_one("period", self.period).map(|_| ())
    }
}

impl<S: Schedule> Schedule for Repeat<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.schedule.value(step % self.period)
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        self.schedule.value_at(clock(t) % self.period as f64)
    }
}

/// Restarts: a decaying schedule repeated with a period, its peak multiplied by
/// `cycle_decay^k` in cycle `k`, optionally for a limited number of cycles.
///
/// ```text
/// k = floor(t / period),  tau = t - k * period
/// P = schedule.value(0)            (the peak: where each cycle starts)
/// E = schedule.value(period)       (the end: where each cycle arrives)
/// r = (cycle_decay^k * P - E) / (P - E)
/// value(t) = E + (schedule.value(tau) - E) * r        k < cycles
///          = E                                        k >= cycles
/// ```
///
/// Each cycle is the child remapped linearly so that its start becomes
/// `cycle_decay^k * P` while its end stays `E`: exactly timm's `cycle_decay` (the peak
/// decays, `lr_min` stays). With `cycle_decay = 1` this is [`Repeat`] with an optional
/// cycle limit. After `cycles` cycles the end value `E` is held (timm's `cycle_limit`).
///
/// # Parameters
/// - `period`: the length of one cycle, at least 1.
/// - `cycle_decay`: the factor on the peak per cycle, finite and > 0.
/// - `cycles`: the number of cycles, at least 1, or `None` for ever.
/// - `schedule`: one cycle; it should start at its peak (a decay).
///
/// # Errors
/// [`Error::InvalidParameter`] if `period` or `cycles` is 0, `cycle_decay` is not
/// finite and positive, or `cycle_decay != 1` for a child whose start and end values
/// are equal (there is no peak to decay).
///
/// # Examples
///
/// ```
/// use cadence::{Linear, Restarts, Schedule};
///
/// // Linear decay 1.0 -> 0.1 over 10 steps, peak halved each cycle, three cycles.
/// let lr = Restarts::new(10, 0.5, Some(3), Linear::new(1.0, 0.1, 10)?)?;
/// assert_eq!(lr.value(0), 1.0);
/// assert!((lr.value(10) - 0.5).abs() < 1e-15);
/// assert!((lr.value(20) - 0.25).abs() < 1e-15);
/// assert!((lr.value(25) - 0.175).abs() < 1e-15);
/// assert!((lr.value(30) - 0.1).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017);
/// `timm.scheduler.CosineLRScheduler(cycle_decay, cycle_limit)` with `cycle_mul = 1`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Restarts<S> {
    period: u64,
    cycle_decay: f64,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    cycles: Option<u64>,
    schedule: S,
}

impl<S: Schedule> Restarts<S> {
    /// Restarts of `schedule`; see the type's documentation.
    ///
    /// # Errors
    /// `period >= 1`, `cycle_decay` finite and > 0, `cycles >= 1` when given, and a
    /// child with distinct start and end values when `cycle_decay != 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Restarts;
    ///
    /// assert!(Restarts::new(10, 0.5, None, 1.0).is_err());
    /// assert!(Restarts::new(10, 1.0, Some(2), 1.0).is_ok());
    /// ```
    pub fn new(
        period: u64,
        cycle_decay: f64,
        cycles: Option<u64>,
        schedule: S,
    ) -> Result<Self, Error> {
        let s = Restarts {
            period,
            cycle_decay,
            cycles,
            schedule,
        };
        s.validate()?;
        Ok(s)
    }

    /// The value in cycle `k` for the child's value `v`.
    #[inline]
    fn in_cycle(&self, k: f64, v: f64) -> f64 {
        if self.cycle_decay == 1.0 {
            return v;
        }
        let peak = self.schedule.value(0);
        let end = self.schedule.value(self.period);
        let r = (self.cycle_decay.powf(k) * peak - end) / (peak - end);
        finite_or_saturate(end + (v - end) * r)
    }
}

impl<S> Restarts<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> Restarts<T> {
        Restarts {
            period: self.period,
            cycle_decay: self.cycle_decay,
            cycles: self.cycles,
            schedule: f(self.schedule),
        }
    }
}

impl<S: Schedule> Validate for Restarts<S> {
    fn validate(&self) -> Result<(), Error> {
        check::at_least_one("period", self.period)?;
        check::positive("cycle_decay", self.cycle_decay)?;
        if let Some(n) = self.cycles {
            check::at_least_one("cycles", n)?;
        }
        if self.cycle_decay != 1.0 && self.schedule.value(0) == self.schedule.value(self.period) {
            return Err(Error::invalid(
                "cycle_decay",
                self.cycle_decay,
                "must be 1 when the schedule ends where it starts (no peak to decay)",
            ));
        }
        Ok(())
    }
}

impl<S: Schedule> Schedule for Restarts<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        let k = step / self.period;
        if self.cycles.is_some_and(|n| k >= n) {
            return self.schedule.value(self.period);
        }
        self.in_cycle(k as f64, self.schedule.value(step % self.period))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = clock(t);
        let period = self.period as f64;
        let k = crate::fastmath::floor(t / period);
        if self.cycles.is_some_and(|n| k >= n as f64) {
            return self.schedule.value(self.period);
        }
        self.in_cycle(k, self.schedule.value_at(t % period))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use crate::{Linear, from_fn};
    use proptest::prelude::*;

    fn cosine(init: f64, end: f64, steps: u64) -> impl Schedule + Clone {
        from_fn(move |t| {
            let f = (t.min(steps)) as f64 / steps as f64;
            end + (init - end) * 0.5 * (1.0 + (std::f64::consts::PI * f).cos())
        })
    }

    #[test]
    fn delay_and_repeat_at_boundaries() {
        let l = Linear::new(1.0, 0.0, 4).unwrap();
        let d = Delay::new(3, l).unwrap();
        assert_values(
            &d,
            &[(0, 1.0), (3, 1.0), (4, 0.75), (7, 0.0), (u64::MAX, 0.0)],
            1e-15,
        );
        assert!(close(d.value_at(5.5), 0.375, 1e-15));
        assert_eq!(d.value_at(-1.0), 1.0);
        let r = Repeat::new(4, l).unwrap();
        assert_values(
            &r,
            &[(0, 1.0), (3, 0.25), (4, 1.0), (7, 0.25), (u64::MAX, 0.25)],
            1e-15,
        );
        assert!(close(r.value_at(5.5), 0.625, 1e-15));
        assert_eq!(r.value_at(f64::INFINITY), r.value_at(f64::MAX));
        assert!(Repeat::new(0, l).is_err());
        assert_total(&d, &[3]);
        assert_total(&r, &[4]);
    }

    #[test]
    fn timm_cycle_decay_and_limit() {
        // timm__CosineLRScheduler_09_updates without its warmup: t_initial 300,
        // lr_min 1e-5, cycle_decay 0.7, cycle_limit 3, base lr 0.1 (in updates).
        let timm = |t: u64| {
            let i = t / 300;
            if i >= 3 {
                return 1e-5;
            }
            let t_curr = (t - 300 * i) as f64;
            let lr_max = 0.1 * 0.7_f64.powi(i as i32);
            1e-5 + 0.5 * (lr_max - 1e-5) * (1.0 + (std::f64::consts::PI * t_curr / 300.0).cos())
        };
        let r = Restarts::new(300, 0.7, Some(3), cosine(0.1, 1e-5, 300)).unwrap();
        for t in [0, 1, 150, 299, 300, 301, 450, 600, 899, 900, 901, 5000] {
            assert!(
                close(r.value(t), timm(t), 1e-12),
                "{t}: {} vs {}",
                r.value(t),
                timm(t)
            );
        }
        assert_eq!(r.value(u64::MAX), 1e-5);
    }

    #[test]
    fn timm_warmup_prefix_with_restarts() {
        // timm__CosineLRScheduler_09_updates: warmup 100 updates from 1e-5 (prefix), then
        // t_initial 300, lr_min 1e-5, cycle_decay 0.7, cycle_limit 3, lr 0.1.
        let r = Restarts::new(300, 0.7, Some(3), cosine(0.1, 1e-5, 300)).unwrap();
        let s = crate::Warmup::new(
            crate::Anneal::Linear,
            100,
            1e-5,
            crate::WarmupMode::Prefix,
            r,
        )
        .unwrap();
        assert_values(
            &s,
            &[
                (0, 1e-05),
                (50, 0.050005000000000015),
                (99, 0.09900010000000001),
                (100, 0.1),
                (101, 0.09999725874242879),
                (250, 0.05000500000000001),
                (399, 1.2741257571220404e-05),
                (400, 0.06999999999999999),
                (401, 0.06999808120194609),
                (550, 0.035005),
                (699, 1.191879805390255e-05),
                (700, 0.048999999999999995),
                (701, 0.04899865692360821),
                (999, 1.1343076391780054e-05),
                (1_000, 1e-5),
            ],
            1e-9,
        );
    }

    #[test]
    fn restarts_validation_and_continuous_time() {
        assert!(matches!(
            Restarts::new(0, 1.0, None, 1.0),
            Err(Error::InvalidParameter { name: "period", .. })
        ));
        assert!(matches!(
            Restarts::new(5, 0.0, None, 1.0),
            Err(Error::InvalidParameter {
                name: "cycle_decay",
                ..
            })
        ));
        assert!(matches!(
            Restarts::new(5, 1.0, Some(0), 1.0),
            Err(Error::InvalidParameter { name: "cycles", .. })
        ));
        assert!(matches!(
            Restarts::new(5, 0.5, None, 1.0),
            Err(Error::InvalidParameter {
                name: "cycle_decay",
                ..
            })
        ));
        let r = Restarts::new(10, 0.5, None, Linear::new(1.0, 0.0, 10).unwrap()).unwrap();
        // Cycle 1 starts at 0.5; half-way through it is at 0.25.
        assert!(close(r.value_at(15.0), 0.25, 1e-15));
        assert!(close(r.value_at(12.5), 0.375, 1e-15));
        assert!(r.value(u64::MAX).is_finite());
        let grow = Restarts::new(1, 10.0, None, Linear::new(1.0, 0.0, 1).unwrap()).unwrap();
        assert_total(&grow, &[1]);
    }

    proptest! {
        #[test]
        fn restarts_peaks_decay_and_end_holds(period in 1u64..500, decay in 0.1..1.0f64, cycles in 1u64..6, t in any::<u64>()) {
            let r = Restarts::new(period, decay, Some(cycles), Linear::new(1.0, 0.0, period).unwrap()).unwrap();
            for k in 0..cycles {
                prop_assert!(close(r.value(k * period), decay.powi(k as i32), 1e-12));
            }
            prop_assert_eq!(r.value(cycles * period), 0.0);
            let v = r.value(t);
            prop_assert!((0.0..=1.0).contains(&v));
            let t = t % 4096;
            prop_assert!(close(r.value(t), r.value_at(t as f64), 1e-12));
        }

        #[test]
        fn repeat_is_periodic(period in 1u64..1000, t in 0u64..1 << 40) {
            let r = Repeat::new(period, Linear::new(0.0, 1.0, 1000).unwrap()).unwrap();
            prop_assert_eq!(r.value(t), r.value(t + period));
            prop_assert!(close(r.value(t), r.value_at(t as f64), 1e-12));
        }
    }
}
