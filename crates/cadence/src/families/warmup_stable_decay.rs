//! Warmup-stable-decay (WSD, "trapezoid"): warm up, hold the peak, cool down at the end.

use super::piecewise_interpolate::{check_path, path_value};
use crate::error::{Error, check};
use crate::schedule::Schedule;
use crate::shape::Anneal;
use crate::spec::Validate;

/// Warmup-stable-decay: from `init` up to `peak` over `warmup_steps`, `peak` until the
/// cooldown, then down to `end` by `total_steps` along a decay [`Anneal`]; `end` after.
///
/// ```text
/// D = decay steps, or fraction * total_steps          (real-valued)
/// knots (0, init) -warmup_anneal-> (warmup_steps, peak) -> (total_steps - D, peak)
///       -decay_anneal-> (total_steps, end)
/// value(t) = the knot path at t (see PiecewiseInterpolate)
/// ```
///
/// Decay shapes: `Linear`, `Cosine`, `Sqrt` ("1-sqrt", the default), `Exponential`
/// (geometric; `peak` and `end` non-zero of one sign), `Square` ("1-square").
///
/// transformers `get_wsd_schedule(num_warmup_steps, num_decay_steps, num_training_steps,
/// warmup_type, decay_type, min_lr_ratio)` with base LR `lr` is `peak = lr`, `init = end =
/// lr * min_lr_ratio`, `total_steps = num_training_steps` (or `W + num_stable_steps + D`),
/// `DecayLength::Steps(num_decay_steps)`, and the anneals `linear` → `Linear`, `cosine` →
/// `Cosine`, decay `1-sqrt` → `Sqrt`, warmup `1-sqrt` → `ReverseSqrt` (its cosine decay
/// assumes the default `num_cycles = 0.5`).
///
/// timm's `WSDLRScheduler(t_initial, decay_t, lr_min, warmup_t, warmup_lr_init)` (1-sqrt
/// cooldown by default) is `init = warmup_lr_init`, `end = lr_min`, `total_steps =
/// warmup_t + t_initial`, `DecayLength::Steps(decay_t)`: its warmup is a prefix to
/// `t_initial`.
///
/// # Parameters
/// - `init`, `peak`, `end`: finite levels (`init` defaults to 0).
/// - `warmup_steps`: the warmup length, `<= total_steps`.
/// - `total_steps`: where the decay ends, at least 1.
/// - `decay`: [`DecayLength::Steps`] or [`DecayLength::Fraction`] of `total_steps`; the
///   stable phase `total_steps - warmup_steps - D` must not be negative.
/// - `warmup_anneal` (default `Linear`), `decay_anneal` (default `Sqrt`).
///
/// # Errors
/// [`Error::InvalidParameter`] naming `init`, `peak` or `end` if not finite,
/// `total_steps` if 0, `warmup_steps` if past `total_steps`, `decay` if its length is
/// negative, not finite, a fraction outside `[0, 1]`, or longer than the time after the
/// warmup, and the [`Anneal::check_ends`] error for an exponential anneal through zero.
///
/// # Examples
///
/// ```
/// use cadence::{Anneal, DecayLength, Schedule, WarmupStableDecay};
///
/// // warmup 10, stable to step 70, 1-sqrt cooldown to 0 at step 100
/// let s = WarmupStableDecay::new(0.1, 0.0, 10, 100, DecayLength::Steps(30))?;
/// assert!((s.value(5) - 0.05).abs() < 1e-15);
/// assert_eq!(s.value(50), 0.1);
/// assert!((s.value(85) - 0.1 * (1.0 - 0.5_f64.sqrt())).abs() < 1e-15);
/// assert_eq!(s.value(100), 0.0);
/// // The same cooldown given as the last 30% of training, linear:
/// let f = WarmupStableDecay::new(0.1, 0.0, 10, 100, DecayLength::Fraction(0.3))?
///     .with_decay_anneal(Anneal::Linear)?;
/// assert!((f.value(85) - 0.05).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// K. Wen et al., "Understanding Warmup-Stable-Decay Learning Rates: A River Valley Loss
/// Landscape Perspective", 2024 (arXiv:2410.05192); A. Hägele et al., "Scaling Laws and
/// Compute-Optimal Training Beyond Fixed Training Durations", 2024 (arXiv:2405.18392, the
/// 1-sqrt cooldown); S. Hu et al., "MiniCPM", 2024 (arXiv:2404.06395);
/// `transformers.get_wsd_schedule`; `timm.scheduler.WSDLRScheduler`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct WarmupStableDecay {
    #[cfg_attr(feature = "serde", serde(default))]
    init: f64,
    peak: f64,
    end: f64,
    warmup_steps: u64,
    total_steps: u64,
    decay: DecayLength,
    #[cfg_attr(feature = "serde", serde(default))]
    warmup_anneal: Anneal,
    #[cfg_attr(feature = "serde", serde(default = "sqrt"))]
    decay_anneal: Anneal,
}

#[cfg(feature = "serde")]
fn sqrt() -> Anneal {
    Anneal::Sqrt
}

/// The length of a [`WarmupStableDecay`] cooldown.
///
/// Serialised as `{"steps": 30}` or `{"fraction": 0.2}`.
///
/// # Examples
///
/// ```
/// use cadence::DecayLength;
///
/// assert_eq!(DecayLength::Fraction(0.2).steps(1_000), 200.0);
/// assert_eq!(DecayLength::Steps(30).steps(1_000), 30.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum DecayLength {
    /// A number of steps.
    Steps(u64),
    /// A fraction in `[0, 1]` of `total_steps` (a real number of steps).
    Fraction(f64),
}

impl DecayLength {
    /// The cooldown length in (real) steps for a run of `total_steps`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::DecayLength::Fraction(0.25).steps(10), 2.5);
    /// ```
    #[inline]
    pub fn steps(self, total_steps: u64) -> f64 {
        match self {
            DecayLength::Steps(n) => n as f64,
            DecayLength::Fraction(f) => f * total_steps as f64,
        }
    }
}

impl WarmupStableDecay {
    /// A WSD schedule from 0 with a linear warmup and a 1-sqrt cooldown; see the type.
    ///
    /// # Errors
    /// As listed on the type.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{DecayLength, WarmupStableDecay};
    ///
    /// assert!(WarmupStableDecay::new(1.0, 0.0, 50, 100, DecayLength::Steps(60)).is_err());
    /// assert!(WarmupStableDecay::new(1.0, 0.0, 50, 100, DecayLength::Fraction(0.5)).is_ok());
    /// ```
    pub fn new(
        peak: f64,
        end: f64,
        warmup_steps: u64,
        total_steps: u64,
        decay: DecayLength,
    ) -> Result<Self, Error> {
        WarmupStableDecay {
            init: 0.0,
            peak,
            end,
            warmup_steps,
            total_steps,
            decay,
            warmup_anneal: Anneal::Linear,
            decay_anneal: Anneal::Sqrt,
        }
        .validated()
    }

    fn validated(self) -> Result<Self, Error> {
        self.validate()?;
        Ok(self)
    }

    /// Sets the value the warmup starts from (default 0).
    ///
    /// # Errors
    /// `init` must be finite.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{DecayLength, Schedule, WarmupStableDecay};
    ///
    /// let s = WarmupStableDecay::new(1.0, 0.1, 10, 100, DecayLength::Steps(20))?.with_init(0.1)?;
    /// assert_eq!(s.value(0), 0.1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_init(self, init: f64) -> Result<Self, Error> {
        WarmupStableDecay { init, ..self }.validated()
    }

    /// Sets the warmup path (default `Linear`).
    ///
    /// # Errors
    /// [`Anneal::check_ends`] between `init` and `peak`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, DecayLength, Schedule, WarmupStableDecay};
    ///
    /// let s = WarmupStableDecay::new(1.0, 0.0, 10, 100, DecayLength::Steps(20))?
    ///     .with_warmup_anneal(Anneal::Cosine)?;
    /// assert!((s.value(5) - 0.5).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_warmup_anneal(self, warmup_anneal: Anneal) -> Result<Self, Error> {
        WarmupStableDecay {
            warmup_anneal,
            ..self
        }
        .validated()
    }

    /// Sets the cooldown path (default `Sqrt`, "1-sqrt").
    ///
    /// # Errors
    /// [`Anneal::check_ends`] between `peak` and `end`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, DecayLength, Schedule, WarmupStableDecay};
    ///
    /// let s = WarmupStableDecay::new(1.0, 0.01, 0, 100, DecayLength::Steps(20))?
    ///     .with_decay_anneal(Anneal::Exponential)?;
    /// assert!((s.value(90) - 0.1).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_decay_anneal(self, decay_anneal: Anneal) -> Result<Self, Error> {
        WarmupStableDecay {
            decay_anneal,
            ..self
        }
        .validated()
    }

    #[inline]
    fn knots(&self) -> [(f64, f64); 4] {
        let total = self.total_steps as f64;
        [
            (0.0, self.init),
            (self.warmup_steps as f64, self.peak),
            (total - self.decay.steps(self.total_steps), self.peak),
            (total, self.end),
        ]
    }

    #[inline]
    fn anneal(&self, segment: usize) -> Anneal {
        match segment {
            0 => self.warmup_anneal,
            1 => Anneal::Linear,
            _ => self.decay_anneal,
        }
    }
}

impl Validate for WarmupStableDecay {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::finite("peak", self.peak)?;
        check::finite("end", self.end)?;
        check::at_least_one("total_steps", self.total_steps)?;
        if self.warmup_steps > self.total_steps {
            return Err(Error::invalid(
                "warmup_steps",
                self.warmup_steps,
                format!("must be <= total_steps = {}", self.total_steps),
            ));
        }
        if let DecayLength::Fraction(f) = self.decay {
            check::in_range("decay", f, 0.0, 1.0)?;
        }
        let room = (self.total_steps - self.warmup_steps) as f64;
        let d = self.decay.steps(self.total_steps);
        if d.is_nan() || d > room {
            return Err(Error::invalid(
                "decay",
                d,
                format!("the cooldown must fit after the warmup: at most {room} steps"),
            ));
        }
        check_path("warmup_steps", &self.knots()[..2], |i| self.anneal(i))?;
        check_path("decay", &self.knots()[2..], |_| self.decay_anneal)
    }
}

impl Schedule for WarmupStableDecay {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        path_value(&self.knots(), |i| self.anneal(i), t.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = WarmupStableDecay::new(0.1, 0.01, 10, 100, DecayLength::Steps(30))
            .and_then(|s| s.with_init(0.01))
            .and_then(|s| s.with_decay_anneal(Anneal::Linear))
            .unwrap();
        assert_values(
            &s,
            &[
                (0, 0.01),
                (1, 0.019),
                (9, 0.091),
                (10, 0.1),
                (69, 0.1),
                (70, 0.1),
                (71, 0.097),
                (99, 0.013),
                (100, 0.01),
                (u64::MAX, 0.01),
            ],
            1e-13,
        );
        assert_total(&s, &[10, 70, 100]);
    }

    #[test]
    fn every_decay_shape_reaches_end() {
        for a in [
            Anneal::Linear,
            Anneal::Cosine,
            Anneal::Sqrt,
            Anneal::Exponential,
            Anneal::Square,
        ] {
            let s = WarmupStableDecay::new(1.0, 0.001, 5, 50, DecayLength::Fraction(0.2))
                .and_then(|s| s.with_init(0.001))
                .and_then(|s| s.with_decay_anneal(a))
                .unwrap();
            assert_eq!(s.value(40), 1.0, "{a:?}");
            assert!(close(s.value(50), 0.001, 1e-15), "{a:?}");
            assert!(s.value(45) < 1.0 && s.value(45) > 0.001, "{a:?}");
        }
    }

    #[test]
    fn fractional_decay_and_no_warmup_or_stable() {
        let s = WarmupStableDecay::new(1.0, 0.0, 0, 10, DecayLength::Fraction(0.25))
            .and_then(|s| s.with_decay_anneal(Anneal::Linear))
            .unwrap();
        assert_eq!(s.value(0), 1.0);
        assert_eq!(s.value(7), 1.0);
        assert!(close(s.value(8), 0.8, 1e-15)); // decay starts at 7.5
        let all_decay = WarmupStableDecay::new(1.0, 0.0, 0, 10, DecayLength::Steps(10))
            .and_then(|s| s.with_decay_anneal(Anneal::Linear))
            .unwrap();
        assert!(close(all_decay.value(3), 0.7, 1e-15));
    }

    #[test]
    fn reverse_sqrt_warmup() {
        let s = WarmupStableDecay::new(0.1, 0.0, 10, 100, DecayLength::Steps(30))
            .and_then(|s| s.with_warmup_anneal(Anneal::ReverseSqrt))
            .unwrap();
        assert!(close(s.value(1), 0.1 * (1.0 - 0.9_f64.sqrt()), 1e-14));
        assert!(close(s.value(9), 0.1 * (1.0 - 0.1_f64.sqrt()), 1e-14));
    }

    #[test]
    fn rejects_bad_parameters() {
        let e = |r: Result<WarmupStableDecay, Error>| match r {
            Err(Error::InvalidParameter { name, .. }) => name,
            Err(_) => "another error",
            Ok(_) => "ok",
        };
        assert_eq!(
            e(WarmupStableDecay::new(
                1.0,
                0.0,
                0,
                0,
                DecayLength::Steps(0)
            )),
            "total_steps"
        );
        assert_eq!(
            e(WarmupStableDecay::new(
                1.0,
                0.0,
                11,
                10,
                DecayLength::Steps(0)
            )),
            "warmup_steps"
        );
        assert_eq!(
            e(WarmupStableDecay::new(
                1.0,
                0.0,
                5,
                10,
                DecayLength::Steps(6)
            )),
            "decay"
        );
        assert_eq!(
            e(WarmupStableDecay::new(
                1.0,
                0.0,
                5,
                10,
                DecayLength::Fraction(1.5)
            )),
            "decay"
        );
        assert_eq!(
            e(WarmupStableDecay::new(
                f64::NAN,
                0.0,
                5,
                10,
                DecayLength::Steps(1)
            )),
            "peak"
        );
        let ok = WarmupStableDecay::new(1.0, 0.0, 5, 10, DecayLength::Steps(1)).unwrap();
        assert_eq!(e(ok.with_decay_anneal(Anneal::Exponential)), "decay");
        assert_eq!(
            e(ok.with_warmup_anneal(Anneal::Exponential)),
            "warmup_steps"
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_form() {
        let spec: crate::ScheduleSpec = serde_json::from_str(
            r#"{"type":"warmup_stable_decay","peak":1.0,"end":0.0,"warmup_steps":10,"total_steps":100,"decay":{"fraction":0.2}}"#,
        )
        .unwrap();
        let s = WarmupStableDecay::new(1.0, 0.0, 10, 100, DecayLength::Fraction(0.2)).unwrap();
        assert_eq!(spec, crate::ScheduleSpec::from(s));
    }

    proptest! {
        #[test]
        fn bounded_and_monotone_after_warmup(
            peak in 0.01..10.0f64, end_ratio in 0.0..1.0f64, warmup in 0u64..100, stable in 0u64..100, decay in 0u64..100, t in any::<u64>(),
        ) {
            let total = (warmup + stable + decay).max(1);
            let s = WarmupStableDecay::new(peak, peak * end_ratio, warmup, total, DecayLength::Steps(decay.min(total - warmup))).unwrap();
            let v = s.value(t);
            prop_assert!(v.is_finite() && v >= -1e-12 && v <= peak * (1.0 + 1e-12));
            if t >= warmup {
                prop_assert!(s.value(t.saturating_add(1)) <= v + 1e-12);
            } else {
                prop_assert!(s.value(t + 1) >= v - 1e-12);
            }
        }

        #[cfg(feature = "serde")]
        #[test]
        fn serde_round_trip(warmup in 0u64..100, decay in 0u64..100, frac in any::<bool>()) {
            let d = if frac { DecayLength::Fraction(decay as f64 / 512.0) } else { DecayLength::Steps(decay) };
            let s = WarmupStableDecay::new(0.5, 0.25, warmup, 300, d).unwrap();
            let spec = crate::ScheduleSpec::from(s);
            let back: crate::ScheduleSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
            prop_assert_eq!(back, spec);
        }
    }
}
