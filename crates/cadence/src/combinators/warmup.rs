//! Warmup: a ramp from `init` to a schedule's starting value.

use crate::error::{Error, check};
use crate::schedule::Schedule;
use crate::shape::Anneal;
use crate::spec::Validate;

use super::clock;

/// Where a warmup sits on the wrapped schedule's clock.
///
/// # Examples
///
/// ```
/// use cadence::WarmupMode;
///
/// assert_eq!(WarmupMode::default(), WarmupMode::Prefix);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum WarmupMode {
    /// The warmup comes first and the schedule starts after it: the schedule sees
    /// `t - steps` (optax `warmup_*_schedule`, transformers, timm `warmup_prefix=True`).
    #[default]
    Prefix,
    /// The warmup replaces the start of the schedule: the schedule sees `t`, so the
    /// warmup is counted in its decay clock (timm `warmup_prefix=False`).
    Overlay,
}

/// A warmup ramp from `init` to the wrapped schedule's starting value, then the schedule.
///
/// ```text
/// target = schedule.value(0), or the level set with `with_target`
/// t <  steps:  value(t) = shape.interpolate(init, target, t / steps)
/// t >= steps:  value(t) = schedule.value(t - steps)     mode = Prefix
///              value(t) = schedule.value(t)             mode = Overlay
/// ```
///
/// With `Prefix` the result is continuous at `steps`. With `Overlay` the ramp still
/// aims at `schedule.value(0)` (timm's base value), and the schedule resumes at its own
/// step `steps`, which may lie below the ramp's end. `steps = 0` is no warmup.
///
/// # Parameters
/// - `shape`: the path of the ramp ([`Anneal::Linear`], [`Anneal::Cosine`],
///   [`Anneal::Exponential`], ...).
/// - `steps`: the length of the warmup; 0 means none.
/// - `init`: the value at step 0, finite.
/// - `mode`: [`WarmupMode::Prefix`] or [`WarmupMode::Overlay`].
/// - `schedule`: the schedule to warm up into.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` is not finite, or if `shape` is `Exponential`
/// and `init` or `schedule.value(0)` is zero or they differ in sign.
///
/// # Examples
///
/// ```
/// use cadence::{Anneal, Linear, Schedule, Warmup, WarmupMode};
///
/// // transformers' `linear` with 10 warmup steps and 100 training steps at lr 0.1.
/// let decay = Linear::new(0.1, 0.0, 90)?;
/// let lr = Warmup::new(Anneal::Linear, 10, 0.0, WarmupMode::Prefix, decay)?;
/// assert_eq!(lr.value(0), 0.0);
/// assert!((lr.value(5) - 0.05).abs() < 1e-15);
/// assert_eq!(lr.value(10), 0.1);
/// assert!((lr.value(55) - 0.05).abs() < 1e-15);
///
/// // The same warmup laid over the decay clock: step 55 is decay step 55.
/// let decay = Linear::new(0.1, 0.0, 90)?;
/// let lr = Warmup::new(Anneal::Linear, 10, 0.0, WarmupMode::Overlay, decay)?;
/// assert!((lr.value(55) - 0.1 * 35.0 / 90.0).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour" (2017);
/// `optax.warmup_cosine_decay_schedule`; `transformers.get_linear_schedule_with_warmup`;
/// `timm.scheduler.CosineLRScheduler(warmup_t, warmup_lr_init, warmup_prefix)`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Warmup<S> {
    shape: Anneal,
    steps: u64,
    init: f64,
    #[cfg_attr(feature = "serde", serde(default))]
    mode: WarmupMode,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    target: Option<f64>,
    schedule: S,
}

impl<S: Schedule> Warmup<S> {
    /// A warmup into `schedule`; see the type's documentation.
    ///
    /// # Errors
    /// `init` must be finite; an `Exponential` ramp needs `init` and `schedule.value(0)`
    /// non-zero and of one sign.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, Warmup, WarmupMode};
    ///
    /// assert!(Warmup::new(Anneal::Exponential, 5, 0.0, WarmupMode::Prefix, 1.0).is_err());
    /// assert!(Warmup::new(Anneal::Exponential, 5, 1e-3, WarmupMode::Prefix, 1.0).is_ok());
    /// ```
    pub fn new(
        shape: Anneal,
        steps: u64,
        init: f64,
        mode: WarmupMode,
        schedule: S,
    ) -> Result<Self, Error> {
        let s = Warmup {
            shape,
            steps,
            init,
            mode,
            target: None,
            schedule,
        };
        s.validate()?;
        Ok(s)
    }

    /// Aims the ramp at `target` instead of the schedule's starting value.
    ///
    /// timm's `TanhLRScheduler` ramps to the base lr with a prefix warmup and to the
    /// schedule's value at `steps` with an overlay warmup; neither is `schedule.value(0)`
    /// there, because a tanh curve starts a hair below its upper level.
    ///
    /// # Errors
    /// `target` must be finite; an `Exponential` ramp needs `init` and `target` non-zero
    /// and of one sign.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, Schedule, Warmup, WarmupMode};
    ///
    /// let w = Warmup::new(Anneal::Linear, 4, 0.0, WarmupMode::Prefix, 0.5)?.with_target(1.0)?;
    /// assert_eq!(w.value(2), 0.5);
    /// assert_eq!(w.value(4), 0.5);
    /// assert!(w.with_target(f64::NAN).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_target(self, target: f64) -> Result<Self, Error> {
        let s = Warmup {
            target: Some(target),
            ..self
        };
        s.validate()?;
        Ok(s)
    }

    /// The wrapped schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, Warmup, WarmupMode};
    ///
    /// let w = Warmup::new(Anneal::Linear, 5, 0.0, WarmupMode::Prefix, 0.5)?;
    /// assert_eq!(*w.schedule(), 0.5);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    #[inline]
    fn ramp(&self, t: f64) -> f64 {
        let target = self.target.unwrap_or_else(|| self.schedule.value(0));
        self.shape
            .interpolate(self.init, target, t / self.steps as f64)
    }
}

impl<S> Warmup<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> Warmup<T> {
        Warmup {
            shape: self.shape,
            steps: self.steps,
            init: self.init,
            mode: self.mode,
            target: self.target,
            schedule: f(self.schedule),
        }
    }
}

impl<S: Schedule> Validate for Warmup<S> {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        match self.target {
            Some(target) => {
                check::finite("target", target)?;
                self.shape.check_ends("init", self.init, "target", target)
            }
            None => self
                .shape
                .check_ends("init", self.init, "schedule", self.schedule.value(0)),
        }
    }
}

impl<S: Schedule> Schedule for Warmup<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        if step < self.steps {
            return self.ramp(crate::fastmath::step_to_f64(step));
        }
        match self.mode {
            WarmupMode::Prefix => self.schedule.value(step - self.steps),
            WarmupMode::Overlay => self.schedule.value(step),
        }
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = clock(t);
        let steps = self.steps as f64;
        if t < steps {
            return self.ramp(t);
        }
        match self.mode {
            WarmupMode::Prefix => self.schedule.value_at(t - steps),
            WarmupMode::Overlay => self.schedule.value_at(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use crate::{Linear, from_fn};
    use proptest::prelude::*;

    /// optax's / timm's cosine decay, written here only as a test oracle.
    fn cosine(init: f64, end: f64, steps: u64) -> impl Schedule + Clone {
        from_fn(move |t| {
            let f = (t.min(steps)) as f64 / steps as f64;
            end + (init - end) * 0.5 * (1.0 + (std::f64::consts::PI * f).cos())
        })
    }

    #[test]
    fn ramp_aims_at_a_given_target() {
        // timm's tanh with an overlay warmup aims at the curve's value at the warmup's end.
        let tanh = crate::Tanh::new(1.0, 0.0, 10).unwrap();
        let target = tanh.value(4);
        let w = Warmup::new(Anneal::Linear, 4, 0.0, WarmupMode::Overlay, tanh)
            .unwrap()
            .with_target(target)
            .unwrap();
        assert_values(
            &w,
            &[(0, 0.0), (2, target / 2.0), (4, target), (5, tanh.value(5))],
            1e-15,
        );
        let flat = Warmup::new(Anneal::Exponential, 4, 1.0, WarmupMode::Prefix, 1.0).unwrap();
        assert!(flat.clone().with_target(0.0).is_err());
        assert!(matches!(
            flat.with_target(f64::INFINITY),
            Err(Error::InvalidParameter { name: "target", .. })
        ));
    }

    #[test]
    fn optax_warmup_cosine_decay() {
        // optax__warmup_cosine_decay_schedule_01: init 0, peak 0.1, warmup 10, decay 100
        // (warmup included), end 0.001.
        let s = Warmup::new(
            Anneal::Linear,
            10,
            0.0,
            WarmupMode::Prefix,
            cosine(0.1, 0.001, 90),
        )
        .unwrap();
        assert_values(
            &s,
            &[
                (0, 0.0),
                (1, 0.009999999999999995),
                (9, 0.09000000000000001),
                (10, 0.1),
                (11, 0.09996984593744525),
            ],
            1e-12,
        );
        assert!(close(s.value(100), 0.001, 1e-12));
        assert!(close(s.value(119), 0.001, 1e-12));
    }

    #[test]
    fn transformers_linear() {
        // transformers__linear_01: warmup 10, training 100, lr 0.1.
        let s = Warmup::new(
            Anneal::Linear,
            10,
            0.0,
            WarmupMode::Prefix,
            Linear::new(0.1, 0.0, 90).unwrap(),
        )
        .unwrap();
        assert_values(
            &s,
            &[
                (1, 0.010000000000000002),
                (10, 0.1),
                (11, 0.0988888888888889),
                (100, 0.0),
                (109, 0.0),
            ],
            1e-12,
        );
    }

    #[test]
    fn timm_overlay_and_prefix() {
        // timm__CosineLRScheduler_04: warmup_t 10 from 1e-5, prefix, cosine over 40 to 1e-5.
        let s = Warmup::new(
            Anneal::Linear,
            10,
            1e-5,
            WarmupMode::Prefix,
            cosine(0.1, 1e-5, 40),
        )
        .unwrap();
        assert_values(
            &s,
            &[
                (0, 1e-5),
                (1, 0.010009),
                (10, 0.1),
                (11, 0.09984588209998774),
            ],
            1e-12,
        );
        // Without the prefix the ramp aims at the base value and step 3 is decay step 3.
        let c = cosine(0.1, 1e-4, 50);
        let s = Warmup::new(Anneal::Linear, 3, 0.001, WarmupMode::Overlay, c.clone()).unwrap();
        assert_values(
            &s,
            &[
                (0, 0.001),
                (1, 0.034),
                (2, 0.067),
                (3, c.value(3)),
                (49, c.value(49)),
            ],
            1e-12,
        );
    }

    #[test]
    fn shapes_and_boundaries() {
        let cos = Warmup::new(Anneal::Cosine, 4, 0.0, WarmupMode::Prefix, 2.0).unwrap();
        assert_values(
            &cos,
            &[(0, 0.0), (2, 1.0), (4, 2.0), (u64::MAX, 2.0)],
            1e-15,
        );
        let exp = Warmup::new(Anneal::Exponential, 2, 0.01, WarmupMode::Prefix, 1.0).unwrap();
        assert_values(&exp, &[(0, 0.01), (1, 0.1), (2, 1.0)], 1e-14);
        let none = Warmup::new(Anneal::Linear, 0, 5.0, WarmupMode::Prefix, 1.0).unwrap();
        assert_eq!(none.value(0), 1.0);
        assert_total(&cos, &[4]);
        assert!(matches!(
            Warmup::new(Anneal::Linear, 3, f64::NAN, WarmupMode::Prefix, 1.0),
            Err(Error::InvalidParameter { name: "init", .. })
        ));
        assert!(matches!(
            Warmup::new(Anneal::Exponential, 3, 0.1, WarmupMode::Prefix, -1.0),
            Err(Error::InvalidParameter {
                name: "schedule",
                ..
            })
        ));
    }

    #[test]
    fn continuous_time_reaches_the_child() {
        let child = Linear::new(1.0, 0.0, 10).unwrap();
        let s = Warmup::new(Anneal::Linear, 4, 0.0, WarmupMode::Prefix, child).unwrap();
        assert!(close(s.value_at(1.0), 0.25, 1e-15));
        assert!(close(s.value_at(2.5), 0.625, 1e-15));
        // The child gets the fractional time 6.5 - 4 = 2.5.
        assert!(close(s.value_at(6.5), 0.75, 1e-15));
        assert_eq!(s.value_at(f64::NAN), 0.0);
        assert_eq!(s.value_at(-1.0), 0.0);
        let o = Warmup::new(Anneal::Linear, 4, 0.0, WarmupMode::Overlay, child).unwrap();
        assert!(close(o.value_at(6.5), 0.35, 1e-15));
    }

    proptest! {
        #[test]
        fn prefix_is_continuous_and_value_matches_value_at(
            init in 0.0..1.0f64, peak in 0.5..2.0f64, steps in 1u64..1000, t in any::<u64>(),
        ) {
            let child = Linear::new(peak, 0.0, 500).unwrap();
            let s = Warmup::new(Anneal::Cosine, steps, init, WarmupMode::Prefix, child).unwrap();
            prop_assert!(close(s.value_at(steps as f64 - 1e-9), peak, 1e-6));
            prop_assert_eq!(s.value(steps), peak);
            let t = t % 4096;
            prop_assert!(close(s.value(t), s.value_at(t as f64), 1e-12));
            let v = s.value(t);
            prop_assert!(v.is_finite() && v >= init.min(0.0) - 1e-12 && v <= peak.max(init) + 1e-12);
        }
    }
}
