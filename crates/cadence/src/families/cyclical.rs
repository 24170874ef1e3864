//! Cyclical learning rates (CLR): triangles between two levels with a scaled amplitude.

use super::piecewise_interpolate::check_path;
use crate::derived::Derived;
use crate::error::{Error, check};
use crate::fastmath::{pow_real, small_to_f64, step_to_f64};
use crate::schedule::{Schedule, finite_or_saturate};
use crate::shape::Anneal;
use crate::spec::Validate;

/// Cyclical values: every cycle goes from `init` to `init + (peak - init) * a` in
/// `step_size_up` steps and back in `step_size_down`, where the amplitude factor `a` is an
/// [`Amplitude`] of the cycle index or the step.
///
/// ```text
/// L = step_size_up + step_size_down
/// c = floor(t / L)                  (0-based cycle),   u = t - c L
/// a = amplitude(c or t)             Constant: 1,  Geometric: gamma^x,  Path: see Amplitude
/// value(t) = knot path (0, init) -> (step_size_up, init + (peak - init) a) -> (L, init) at u
///          (each half along `anneal`, Linear by default: the triangle)
/// ```
///
/// PyTorch `CyclicLR(base_lr, max_lr, step_size_up, step_size_down, mode, gamma)` is
/// `Cyclical::new(base_lr, max_lr, up, down)` with amplitude `Constant` (`triangular`),
/// `Geometric { gamma: 0.5, clock: Cycle }` (`triangular2`: halved every cycle) or
/// `Geometric { gamma, clock: Step }` (`exp_range`); its momentum cycle is
/// [`momentum`](Self::momentum).
///
/// # Parameters
/// - `init`: the value at the start of every cycle (`base_lr`), finite.
/// - `peak`: the value at the turn of the first cycle (`max_lr`), finite; it may be below
///   `init` (the momentum cycle).
/// - `step_size_up`: steps from `init` to the turn, at least 1.
/// - `step_size_down`: steps back, `>= 0` (0 makes a sawtooth).
/// - `amplitude` (default [`Amplitude::Constant`]), `anneal` (default
///   [`Anneal::Linear`]).
///
/// # Errors
/// [`Error::InvalidParameter`] naming `init`/`peak` if not finite, `step_size_up` if 0,
/// `gamma` if not finite and `> 0`, `length` if 0, `end` if not finite (or not `> 0` for an
/// exponential amplitude path), and the [`Anneal::check_ends`] error of `anneal`.
///
/// # Examples
///
/// ```
/// use cadence::{Amplitude, AmplitudeClock, Cyclical, Schedule};
///
/// // torch CyclicLR(base_lr=0.01, max_lr=0.5, step_size_up=8, step_size_down=12, mode="triangular2")
/// let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
/// let lr = Cyclical::new(0.01, 0.5, 8, 12)?
///     .with_amplitude(Amplitude::Geometric { gamma: 0.5, clock: AmplitudeClock::Cycle })?;
/// assert_eq!(lr.value(0), 0.01);
/// assert!(close(lr.value(8), 0.5));
/// assert_eq!(lr.value(20), 0.01);
/// assert!(close(lr.value(28), 0.255));     // second cycle: half the height
/// let momentum = lr.momentum(0.85, 0.95)?;
/// assert_eq!(momentum.value(0), 0.95);
/// assert!(close(momentum.value(8), 0.85));
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017
/// (arXiv:1506.01186); `torch.optim.lr_scheduler.CyclicLR`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Cyclical {
    init: f64,
    peak: f64,
    step_size_up: u64,
    step_size_down: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    amplitude: Amplitude,
    #[cfg_attr(feature = "serde", serde(default))]
    anneal: Anneal,
    /// `ln(gamma)` of a geometric amplitude, so that `gamma^x` costs one `exp`.
    #[cfg_attr(feature = "serde", serde(skip))]
    ln_gamma: Derived<f64>,
}

/// How the height of each [`Cyclical`] cycle scales; a serialisable stand-in for
/// PyTorch's `scale_fn`.
///
/// ```text
/// x = the 0-based cycle index (clock Cycle) or the step (clock Step)
/// Constant                          1
/// Geometric { gamma }               gamma^x
/// Path { shape, end, length }       shape.interpolate(1, end, x / length)   (end after)
/// ```
///
/// # Examples
///
/// ```
/// use cadence::{Amplitude, AmplitudeClock, Anneal};
///
/// let halving = Amplitude::Geometric { gamma: 0.5, clock: AmplitudeClock::Cycle };
/// assert_eq!(halving.factor(2.0, 100.0), 0.25);
/// let fade = Amplitude::Path { shape: Anneal::Linear, end: 0.0, length: 4, clock: AmplitudeClock::Cycle };
/// assert_eq!(fade.factor(1.0, 30.0), 0.75);
/// assert_eq!(fade.factor(9.0, 300.0), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)
)]
pub enum Amplitude {
    /// Every cycle at full height (PyTorch `triangular`).
    #[default]
    Constant,
    /// `gamma^x`: `triangular2` is `gamma = 0.5` per cycle, `exp_range` is `gamma` per step.
    Geometric {
        /// The factor per cycle or per step, finite and `> 0`.
        gamma: f64,
        /// What `x` counts.
        clock: AmplitudeClock,
    },
    /// From 1 to `end` along `shape` over `length` cycles or steps, then `end`.
    Path {
        /// The path from 1 to `end`.
        shape: Anneal,
        /// The final factor, finite.
        end: f64,
        /// Cycles or steps to reach `end`, at least 1.
        length: u64,
        /// What `x` counts.
        clock: AmplitudeClock,
    },
}

/// What an [`Amplitude`] counts: PyTorch's `scale_mode`.
///
/// # Examples
///
/// ```
/// use cadence::{Amplitude, AmplitudeClock};
///
/// let per_step = Amplitude::Geometric { gamma: 0.5, clock: AmplitudeClock::Step };
/// assert_eq!(per_step.factor(0.0, 3.0), 0.125);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AmplitudeClock {
    /// The 0-based cycle index (PyTorch `scale_mode="cycle"`, whose cycles count from 1).
    Cycle,
    /// The step (PyTorch `scale_mode="iterations"`).
    Step,
}

impl Amplitude {
    /// The factor for the 0-based `cycle` at time `t`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::Amplitude::Constant.factor(7.0, 123.0), 1.0);
    /// ```
    #[inline]
    pub fn factor(&self, cycle: f64, t: f64) -> f64 {
        self.factor_given_ln(cycle, t, || self.factor_ln())
    }

    /// `ln(gamma)` of a geometric amplitude (0 for the others, which use no power).
    fn factor_ln(&self) -> f64 {
        match *self {
            Amplitude::Geometric { gamma, .. } => gamma.ln(),
            _ => 0.0,
        }
    }

    /// [`Self::factor`] where `gamma_ln()` returns `gamma.ln()` of a geometric amplitude
    /// (called only where a power needs it).
    #[inline]
    fn factor_given_ln(&self, cycle: f64, t: f64, gamma_ln: impl FnOnce() -> f64) -> f64 {
        let x = |clock: AmplitudeClock| match clock {
            AmplitudeClock::Cycle => cycle,
            AmplitudeClock::Step => t,
        };
        match *self {
            Amplitude::Constant => 1.0,
            Amplitude::Geometric { gamma, clock } => {
                finite_or_saturate(pow_real(gamma, x(clock), gamma_ln))
            }
            Amplitude::Path {
                shape,
                end,
                length,
                clock,
            } => shape.interpolate(1.0, end, x(clock) / length as f64),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        match *self {
            Amplitude::Constant => Ok(()),
            Amplitude::Geometric { gamma, .. } => check::positive("gamma", gamma).map(|_| ()),
            Amplitude::Path {
                shape, end, length, ..
            } => {
                check::finite("end", end)?;
                check::at_least_one("length", length)?;
                shape.check_ends("amplitude", 1.0, "end", end)
            }
        }
    }
}

impl Cyclical {
    /// A triangular cycle between `init` and `peak`; see the type's documentation.
    ///
    /// # Errors
    /// `init`, `peak` finite; `step_size_up` at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cyclical, Schedule};
    ///
    /// let s = Cyclical::new(0.0, 1.0, 2, 2)?;
    /// assert_eq!(s.value(1), 0.5);
    /// assert_eq!(s.value(3), 0.5);
    /// assert!(Cyclical::new(0.0, 1.0, 0, 2).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn new(
        init: f64,
        peak: f64,
        step_size_up: u64,
        step_size_down: u64,
    ) -> Result<Self, Error> {
        Cyclical {
            init,
            peak,
            step_size_up,
            step_size_down,
            amplitude: Amplitude::Constant,
            anneal: Anneal::Linear,
            ln_gamma: Derived::default(),
        }
        .validated()
    }

    /// Checks the parameters and derives `ln(gamma)` anew (a builder's `..self` carries
    /// the old amplitude's along).
    fn validated(mut self) -> Result<Self, Error> {
        self.ln_gamma.reset();
        self.validate()?;
        Ok(self)
    }

    /// Sets how the cycle height scales.
    ///
    /// # Errors
    /// The rules of [`Amplitude`]'s fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Amplitude, AmplitudeClock, Cyclical, Schedule};
    ///
    /// let s = Cyclical::new(0.0, 1.0, 5, 5)?
    ///     .with_amplitude(Amplitude::Geometric { gamma: 0.9, clock: AmplitudeClock::Step })?;
    /// assert!((s.value(5) - 0.9_f64.powi(5)).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_amplitude(self, amplitude: Amplitude) -> Result<Self, Error> {
        Cyclical { amplitude, ..self }.validated()
    }

    /// Sets the path of each half cycle (default `Linear`, the triangle).
    ///
    /// # Errors
    /// [`Anneal::check_ends`] between `init` and `peak`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, Cyclical, Schedule};
    ///
    /// let s = Cyclical::new(0.0, 1.0, 4, 4)?.with_anneal(Anneal::Cosine)?;
    /// assert!((s.value(2) - 0.5).abs() < 1e-15);
    /// assert!((s.value(1) - (1.0 - (std::f64::consts::PI / 4.0).cos()) / 2.0).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_anneal(self, anneal: Anneal) -> Result<Self, Error> {
        Cyclical { anneal, ..self }.validated()
    }

    /// The matching momentum cycle: the same timing and amplitude, from `max_momentum` at
    /// the start of each cycle to `base_momentum` at the turn (PyTorch `cycle_momentum`).
    ///
    /// # Errors
    /// Both momenta must be finite.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cyclical, Schedule};
    ///
    /// let m = Cyclical::new(0.001, 0.006, 15, 15)?.momentum(0.8, 0.9)?;
    /// assert!((m.value(15) - 0.8).abs() < 1e-15);
    /// assert_eq!(m.value(30), 0.9);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn momentum(&self, base_momentum: f64, max_momentum: f64) -> Result<Self, Error> {
        check::finite("base_momentum", base_momentum)?;
        check::finite("max_momentum", max_momentum)?;
        Cyclical {
            init: max_momentum,
            peak: base_momentum,
            ..self.clone()
        }
        .validated()
    }

    /// The value `u` steps into the 0-based `cycle`, at absolute time `t`;
    /// `0 <= u < step_size_up + step_size_down`.
    #[inline]
    fn in_cycle(&self, cycle: f64, u: f64, t: f64) -> f64 {
        let a = self
            .amplitude
            .factor_given_ln(cycle, t, || match self.ln_gamma.get() {
                Some(&ln) => ln,
                None => self.amplitude.factor_ln(),
            });
        let top = finite_or_saturate(self.init + (self.peak - self.init) * a);
        // The knot path (0, init) -> (up, top) -> (up + down, init) that `check_path`
        // checked, at `0 <= u < up + down` (so `down > 0` past `up`): the arithmetic of
        // `path_value`, with the half-cycle's ends picked by value instead of counting
        // knots and indexing them (ab-bench 0.85x, the same values).
        let up = step_to_f64(self.step_size_up);
        let rising = u < up;
        let (from, to) = if rising {
            (self.init, top)
        } else {
            (top, self.init)
        };
        let start = if rising { 0.0 } else { up };
        let span = if rising {
            up
        } else {
            step_to_f64(self.step_size_down)
        };
        finite_or_saturate(self.anneal.interpolate(from, to, (u - start) / span))
    }
}

impl Validate for Cyclical {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::finite("peak", self.peak)?;
        check::at_least_one("step_size_up", self.step_size_up)?;
        self.amplitude.validate()?;
        // With a scaled amplitude the turn moves between init and peak; an exponential
        // half-cycle needs both ends of one sign, which the endpoints decide.
        check_path("anneal", &[(0.0, self.init), (1.0, self.peak)], |_| {
            self.anneal
        })?;
        self.ln_gamma.fill(|| self.amplitude.factor_ln());
        Ok(())
    }
}

impl Schedule for Cyclical {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        let length = self.step_size_up.saturating_add(self.step_size_down);
        if step < 1 << 52 && length < 1 << 52 {
            // Below 2^52 a float quotient floors exactly (rounding up across an integer
            // needs cycle * length > 2^53) and costs far less than a u64 division.
            let t = small_to_f64(step);
            let cycle = (t / small_to_f64(length)) as i64 as u64; // i64's is one instruction
            let u = step - cycle * length;
            return self.in_cycle(small_to_f64(cycle), small_to_f64(u), t);
        }
        let cycle = step / length;
        let u = step - cycle * length;
        self.in_cycle(cycle as f64, u as f64, step as f64)
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = t.max(0.0);
        let length = self.step_size_up as f64 + self.step_size_down as f64;
        let mut cycle = crate::fastmath::floor(t / length);
        if cycle * length > t {
            cycle -= 1.0;
        }
        let mut u = (t - cycle * length).max(0.0);
        if u >= length {
            // Rounding left the position at or past the cycle's end (far past 2^53 a
            // float's spacing exceeds the cycle): read it as the next cycle's start,
            // `init`, as the knot path past its last knot reads.
            cycle += 1.0;
            u = 0.0;
        }
        self.in_cycle(cycle, u, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps_triangular() {
        let s = Cyclical::new(0.0002, 0.002, 20, 20).unwrap();
        assert_values(
            &s,
            &[
                (0, 0.0002),
                (10, 0.0011),
                (20, 0.002),
                (30, 0.0011),
                (40, 0.0002),
                (60, 0.002),
                (u64::MAX, s.value(u64::MAX)),
            ],
            1e-14,
        );
        assert_total(&s, &[20, 40]);
    }

    #[test]
    fn exp_range_counts_steps() {
        let s = Cyclical::new(0.001, 0.006, 15, 15)
            .unwrap()
            .with_amplitude(Amplitude::Geometric {
                gamma: 0.99,
                clock: AmplitudeClock::Step,
            })
            .unwrap();
        assert!(close(s.value(15), 0.001 + 0.005 * 0.99_f64.powi(15), 1e-14));
        assert!(close(
            s.value(50),
            0.001 + 0.005 * (10.0 / 15.0) * 0.99_f64.powi(50),
            1e-14
        ));
        assert_total(&s, &[15, 30]);
        // A growing amplitude overflows far out; the schedule saturates, finite.
        let growing = s
            .with_amplitude(Amplitude::Geometric {
                gamma: 1.5,
                clock: AmplitudeClock::Step,
            })
            .unwrap();
        assert_total(&growing, &[15, 30]);
    }

    #[test]
    fn amplitude_path_and_sawtooth() {
        let s = Cyclical::new(0.0, 1.0, 4, 0)
            .unwrap()
            .with_amplitude(Amplitude::Path {
                shape: Anneal::Linear,
                end: 0.5,
                length: 2,
                clock: AmplitudeClock::Cycle,
            })
            .unwrap();
        assert_values(
            &s,
            &[
                (0, 0.0),
                (2, 0.5),
                (4, 0.0),
                (6, 0.375),
                (10, 0.25),
                (100, 0.0),
            ],
            1e-15,
        );
        assert!(close(s.value_at(3.999), 0.99975, 1e-12));
    }

    #[test]
    fn fractional_time_matches_steps() {
        let s = Cyclical::new(0.1, 1.0, 3, 5).unwrap();
        for step in 0..50u64 {
            assert_eq!(s.value(step), s.value_at(step as f64));
        }
        assert!(close(s.value_at(1.5), 0.55, 1e-15));
    }

    #[test]
    fn value_at_where_the_cycle_position_rounds_past_the_cycle() {
        // Near 2^60 a float's spacing (128) exceeds the cycle (3 steps): `t - cycle *
        // length` comes out as 128 here. Such a time reads as a cycle's start, `init`, as
        // the knot path past its last knot reads.
        let s = Cyclical::new(0.25, 1.0, 1, 2).unwrap();
        let t = 8.805_721_828_910_391e17;
        // The corner is hit: `value_at`'s cycle arithmetic leaves a position >= 3.
        let mut cycle = crate::fastmath::floor(t / 3.0);
        if cycle * 3.0 > t {
            cycle -= 1.0;
        }
        assert!(t - cycle * 3.0 >= 3.0);
        assert_eq!(s.value_at(t), 0.25);
        for t in [t, 2f64.powi(60), 1e18 + 128.0, f64::MAX] {
            let v = s.value_at(t);
            assert!((0.25..=1.0).contains(&v), "{t}: {v}");
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(matches!(
            Cyclical::new(0.0, 1.0, 0, 1),
            Err(Error::InvalidParameter {
                name: "step_size_up",
                ..
            })
        ));
        assert!(matches!(
            Cyclical::new(f64::NAN, 1.0, 1, 1),
            Err(Error::InvalidParameter { name: "init", .. })
        ));
        let s = Cyclical::new(0.0, 1.0, 1, 1).unwrap();
        assert!(matches!(
            s.clone().with_amplitude(Amplitude::Geometric {
                gamma: 0.0,
                clock: AmplitudeClock::Cycle
            }),
            Err(Error::InvalidParameter { name: "gamma", .. })
        ));
        assert!(matches!(
            s.clone().with_amplitude(Amplitude::Path {
                shape: Anneal::Linear,
                end: 0.0,
                length: 0,
                clock: AmplitudeClock::Step
            }),
            Err(Error::InvalidParameter { name: "length", .. })
        ));
        assert!(s.clone().with_anneal(Anneal::Exponential).is_err());
        assert!(s.momentum(0.9, f64::NAN).is_err());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_form() {
        let spec: crate::ScheduleSpec = serde_json::from_str(
            r#"{"type":"cyclical","init":0.01,"peak":0.5,"step_size_up":8,"step_size_down":12,
                "amplitude":{"kind":"geometric","gamma":0.5,"clock":"cycle"}}"#,
        )
        .unwrap();
        assert!(close(spec.value(28), 0.255, 1e-15));
    }

    proptest! {
        #[test]
        fn bounded_and_periodic(init in 0.0..1.0f64, peak in 0.0..2.0f64, up in 1u64..100, down in 0u64..100, t in 0u64..1u64 << 40) {
            let s = Cyclical::new(init, peak, up, down).unwrap();
            let v = s.value(t);
            prop_assert!(v.is_finite() && v >= init.min(peak) - 1e-12 && v <= init.max(peak) + 1e-12);
            prop_assert!(close(s.value(t + up + down), v, 1e-12));
        }

        #[test]
        fn momentum_mirrors_lr(up in 1u64..50, down in 1u64..50, t in 0u64..10_000) {
            let lr = Cyclical::new(0.1, 1.0, up, down).unwrap();
            let m = lr.momentum(0.8, 0.9).unwrap();
            // The momentum falls exactly as far (relatively) as the LR rises.
            let f_lr = (lr.value(t) - 0.1) / 0.9;
            let f_m = (0.9 - m.value(t)) / 0.1;
            prop_assert!((f_lr - f_m).abs() < 1e-12);
        }

        #[cfg(feature = "serde")]
        #[test]
        fn serde_round_trip(up in 1u64..50, down in 0u64..50, g in 1u32..100) {
            let s = Cyclical::new(0.25, 1.5, up, down).unwrap()
                .with_amplitude(Amplitude::Geometric { gamma: f64::from(g) / 64.0, clock: AmplitudeClock::Step }).unwrap();
            let spec = crate::ScheduleSpec::from(s);
            let back: crate::ScheduleSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
            prop_assert_eq!(back, spec);
        }
    }
}
