//! Cycles: a unit-shaped curve repeated over geometrically growing cycles.

use crate::error::{Error, check};
use crate::families::{locate_cycle, pow_k};
use crate::fastmath::WithLn;
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

/// A cycle shape (a schedule read on the cycle's fraction `[0, 1)`) played from
/// `peak * peak_decay^k` down to `end` in cycle `k`, cycle `k` lasting
/// `first_period * period_mult^k` steps; `end` after the last cycle.
///
/// ```text
/// P_k    = first_period * m^k                    m = period_mult
/// S_k    = start of cycle k (sum of the earlier P_j; exact, real-valued)
/// u      = t - S_k,   f = u / P_k in [0, 1)
/// value(t) = end + (peak * peak_decay^k - end) * shape.value_at(f)    k < cycles
///          = end                                                      after the last cycle
/// ```
///
/// The shape is a schedule of unit length, going from 1 at `f = 0` towards 0 at `f = 1`
/// (the fraction of the way from `end` to the cycle's peak): a [`Cosine`](crate::Cosine),
/// [`Tanh`](crate::Tanh) or [`Polynomial`](crate::Polynomial) from 1 to 0 with
/// `decay_steps = 1`, read continuously through [`Schedule::value_at`]. Because the levels
/// are the combinator's, not the shape's, the peak decays as timm's `cycle_decay` does
/// (the nominal peak, with `end` fixed) whatever the shape's own start value (a tanh
/// curve starts a hair below 1). The cycle index is the one of
/// [`CosineRestarts`](crate::CosineRestarts): exact at every restart, for real-valued
/// periods, integer and fractional multipliers, and multipliers below 1 (after the
/// accumulation point `first_period / (1 - m)` the value is `end`).
///
/// # Parameters
/// - `peak`: the level the shape's 1 maps to in cycle 0, finite.
/// - `end`: the level the shape's 0 maps to, and the value after the last cycle, finite.
/// - `first_period`: the length of cycle 0 in steps, real, finite and `> 0`.
/// - `period_mult`: the growth of the period per cycle, finite and `> 0` (default 1).
/// - `peak_decay`: the factor on the peak per cycle, finite and `>= 0` (default 1).
/// - `cycles`: the number of cycles, at least 1, or `None` for ever.
/// - `shape`: the cycle's curve on `[0, 1)`.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the parameter that breaks its rule above.
///
/// # Examples
///
/// ```
/// use cadence::{Cosine, Cycles, Schedule};
///
/// // timm CosineLRScheduler(t_initial=10, lr_min=0.01, cycle_mul=2, cycle_decay=0.5,
/// // cycle_limit=3, k_decay=2) at base lr 1: cycles of 10, 20 and 40 steps.
/// let shape = Cosine::new(1.0, 0.0, 1)?.with_k_decay(2.0)?;
/// let lr = Cycles::new(1.0, 0.01, 10.0, shape)?
///     .with_period_mult(2.0)?
///     .with_peak_decay(0.5)?
///     .with_cycles(Some(3))?;
/// assert!((lr.value(0) - 1.0).abs() < 1e-15);
/// assert!((lr.value(10) - 0.5).abs() < 1e-15);       // restart, peak halved
/// assert!((lr.value(30) - 0.25).abs() < 1e-15);
/// let f: f64 = 10.0 / 20.0;                          // half way through cycle 1
/// let want = 0.01 + (0.5 - 0.01) * (1.0 + (std::f64::consts::PI * f * f).cos()) / 2.0;
/// assert!((lr.value(20) - want).abs() < 1e-15);
/// assert_eq!(lr.value(70), 0.01);                    // after three cycles
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017);
/// `timm.scheduler.CosineLRScheduler`, `TanhLRScheduler`, `PolyLRScheduler`
/// (`cycle_mul`, `cycle_decay`, `cycle_limit`, `k_decay`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Cycles<S> {
    peak: f64,
    end: f64,
    first_period: f64,
    #[cfg_attr(feature = "serde", serde(default = "WithLn::one"))]
    period_mult: WithLn,
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    peak_decay: f64,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    cycles: Option<u64>,
    shape: S,
}

#[cfg(feature = "serde")]
fn one() -> f64 {
    1.0
}

impl<S: Schedule> Cycles<S> {
    /// Endless cycles of `first_period` steps from `peak` to `end` along `shape`, with no
    /// period growth and no peak decay.
    ///
    /// # Errors
    /// `peak`, `end` finite; `first_period` finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cycles, Linear, Schedule};
    ///
    /// let saw = Cycles::new(1.0, 0.0, 4.0, Linear::new(1.0, 0.0, 1)?)?;
    /// assert_eq!(saw.value(2), 0.5);
    /// assert_eq!(saw.value(4), 1.0);
    /// assert!(Cycles::new(1.0, 0.0, 0.0, 1.0).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn new(peak: f64, end: f64, first_period: f64, shape: S) -> Result<Self, Error> {
        Cycles {
            peak,
            end,
            first_period,
            period_mult: WithLn::new(1.0),
            peak_decay: 1.0,
            cycles: None,
            shape,
        }
        .validated()
    }

    /// Cycle `k` lasts `first_period * period_mult^k` steps.
    ///
    /// # Errors
    /// `period_mult` finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cycles, Linear, Schedule};
    ///
    /// let s = Cycles::new(1.0, 0.0, 4.0, Linear::new(1.0, 0.0, 1)?)?.with_period_mult(2.0)?;
    /// assert_eq!(s.value(4), 1.0);
    /// assert_eq!(s.value(8), 0.5);
    /// assert_eq!(s.value(12), 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_period_mult(self, period_mult: f64) -> Result<Self, Error> {
        Cycles {
            period_mult: WithLn::new(period_mult),
            ..self
        }
        .validated()
    }

    /// The peak of cycle `k` is `peak * peak_decay^k`; `end` stays.
    ///
    /// # Errors
    /// `peak_decay` finite and `>= 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cycles, Linear, Schedule};
    ///
    /// let s = Cycles::new(1.0, 0.2, 4.0, Linear::new(1.0, 0.0, 1)?)?.with_peak_decay(0.5)?;
    /// assert_eq!(s.value(4), 0.5);
    /// assert!((s.value(6) - 0.35).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_peak_decay(self, peak_decay: f64) -> Result<Self, Error> {
        Cycles { peak_decay, ..self }.validated()
    }

    /// At most `cycles` cycles (`None`: for ever); `end` after them.
    ///
    /// # Errors
    /// `cycles >= 1` when given.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Cycles, Linear, Schedule};
    ///
    /// let s = Cycles::new(1.0, 0.0, 4.0, Linear::new(1.0, 0.0, 1)?)?.with_cycles(Some(2))?;
    /// assert_eq!(s.value(4), 1.0);
    /// assert_eq!(s.value(8), 0.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_cycles(self, cycles: Option<u64>) -> Result<Self, Error> {
        Cycles { cycles, ..self }.validated()
    }

    fn validated(self) -> Result<Self, Error> {
        self.validate()?;
        Ok(self)
    }
}

impl<S> Cycles<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> Cycles<T> {
        Cycles {
            peak: self.peak,
            end: self.end,
            first_period: self.first_period,
            period_mult: self.period_mult,
            peak_decay: self.peak_decay,
            cycles: self.cycles,
            shape: f(self.shape),
        }
    }
}

impl<S: Schedule> Validate for Cycles<S> {
    fn validate(&self) -> Result<(), Error> {
        check::finite("peak", self.peak)?;
        check::finite("end", self.end)?;
        check::positive("first_period", self.first_period)?;
        check::positive("period_mult", self.period_mult.get())?;
        check::non_negative("peak_decay", self.peak_decay)?;
        if let Some(n) = self.cycles {
            check::at_least_one("cycles", n)?;
        }
        Ok(())
    }
}

impl<S: Schedule> Schedule for Cycles<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = if t > 0.0 { t } else { 0.0 };
        let Some((k, u, period)) =
            locate_cycle(self.first_period, self.period_mult, self.cycles, t)
        else {
            return self.end;
        };
        let peak = self.peak * pow_k(self.peak_decay, k);
        finite_or_saturate(self.end + (peak - self.end) * self.shape.value_at(u / period))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, close};
    use crate::{Cosine, Linear, Polynomial, Tanh};
    use proptest::prelude::*;
    use std::f64::consts::PI;

    /// timm's `_get_lr` for cosine cycles, written out independently.
    fn timm_cosine(t: f64, t0: f64, m: f64, decay: f64, limit: u64, k: f64) -> f64 {
        let (lr_max, lr_min) = (0.1, 1e-4);
        let (i, t_i, t_curr) = if m != 1.0 {
            let i = (1.0 - t / t0 * (1.0 - m)).log(m).floor();
            let t_i = m.powf(i) * t0;
            (i, t_i, t - (1.0 - m.powf(i)) / (1.0 - m) * t0)
        } else {
            let i = (t / t0).floor();
            (i, t0, t - t0 * i)
        };
        if i >= limit as f64 {
            return lr_min;
        }
        let peak = lr_max * decay.powf(i);
        lr_min + 0.5 * (peak - lr_min) * (1.0 + (PI * t_curr.powf(k) / t_i.powf(k)).cos())
    }

    #[test]
    fn reproduces_timm_cosine_cycles_with_k_decay_and_growth() {
        let shape = Cosine::new(1.0, 0.0, 1).unwrap().with_k_decay(1.5).unwrap();
        let s = Cycles::new(0.1, 1e-4, 10.0, shape)
            .unwrap()
            .with_period_mult(2.0)
            .unwrap()
            .with_peak_decay(0.7)
            .unwrap()
            .with_cycles(Some(3))
            .unwrap();
        for t in [0, 1, 5, 9, 10, 11, 20, 29, 30, 31, 50, 69, 70, 71, 500] {
            let want = timm_cosine(t as f64, 10.0, 2.0, 0.7, 3, 1.5);
            assert!(
                close(s.value(t), want, 1e-12),
                "{t}: {} vs {want}",
                s.value(t)
            );
        }
        assert_eq!(s.value(u64::MAX), 1e-4);
    }

    #[test]
    fn tanh_cycles_decay_the_nominal_peak() {
        // timm TanhLRScheduler: lr_min + 0.5 (gamma^i lr - lr_min)(1 - tanh(lb (1 - f) + ub f)).
        let shape = Tanh::new(1.0, 0.0, 1).unwrap();
        let s = Cycles::new(0.1, 0.0, 8.0, shape)
            .unwrap()
            .with_peak_decay(0.5)
            .unwrap()
            .with_cycles(Some(2))
            .unwrap();
        let timm = |i: i32, f: f64| {
            0.5 * 0.1 * 0.5_f64.powi(i) * (1.0 - (-7.0 * (1.0 - f) + 3.0 * f).tanh())
        };
        for (t, i, f) in [(0, 0, 0.0), (3, 0, 0.375), (8, 1, 0.0), (13, 1, 0.625)] {
            assert!(close(s.value(t), timm(i, f), 1e-14), "{t}");
        }
        assert_eq!(s.value(16), 0.0);
    }

    #[test]
    fn poly_cycles_below_one_multiplier_end_at_accumulation_point() {
        let shape = Polynomial::new(1.0, 0.0, 2.0, 1).unwrap();
        let s = Cycles::new(1.0, 0.1, 8.0, shape)
            .unwrap()
            .with_period_mult(0.5)
            .unwrap();
        // Cycles of 8, 4, 2, 1, ... accumulate at 16.
        assert_eq!(s.value(8), 1.0);
        assert!(close(s.value(10), 0.1 + 0.9 * 0.25, 1e-15));
        assert_eq!(s.value(12), 1.0);
        assert_eq!(s.value(16), 0.1);
        assert_eq!(s.value(1_000), 0.1);
    }

    #[test]
    fn validation_names_the_parameter() {
        let l = Linear::new(1.0, 0.0, 1).unwrap();
        let name = |r: Result<Cycles<Linear>, Error>| match r {
            Err(Error::InvalidParameter { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(Cycles::new(f64::NAN, 0.0, 1.0, l)), "peak");
        assert_eq!(name(Cycles::new(1.0, 0.0, -1.0, l)), "first_period");
        let ok = Cycles::new(1.0, 0.0, 1.0, l).unwrap();
        assert_eq!(name(ok.clone().with_period_mult(0.0)), "period_mult");
        assert_eq!(name(ok.clone().with_peak_decay(-1.0)), "peak_decay");
        assert_eq!(name(ok.with_cycles(Some(0))), "cycles");
    }

    proptest! {
        #[test]
        fn finite_and_within_the_levels(
            t in 0u64..u64::MAX,
            p0 in 0.5f64..100.0,
            m in 0.3f64..3.0,
            decay in 0.0f64..1.0,
        ) {
            let shape = Cosine::new(1.0, 0.0, 1).unwrap();
            let s = Cycles::new(2.0, 0.5, p0, shape).unwrap()
                .with_period_mult(m).unwrap()
                .with_peak_decay(decay).unwrap();
            let v = s.value(t);
            prop_assert!(v.is_finite());
            // Between `end` and the cycle's (decayed) peak: within [0, 2] here.
            prop_assert!((-1e-12..=2.0 + 1e-12).contains(&v), "{}", v);
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip_and_validation() {
        use crate::ScheduleSpec;
        let shape = ScheduleSpec::from(Tanh::new(1.0, 0.0, 1).unwrap());
        let spec = ScheduleSpec::from(
            Cycles::new(1.0, 0.1, 2.5, shape)
                .unwrap()
                .with_cycles(Some(3))
                .unwrap(),
        );
        let json = serde_json::to_string(&spec).unwrap();
        let back: ScheduleSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        let bad = json.replace("\"first_period\":2.5", "\"first_period\":0.0");
        assert_ne!(bad, json);
        assert!(serde_json::from_str::<ScheduleSpec>(&bad).is_err());
    }

    #[test]
    fn total() {
        let shape = Cosine::new(1.0, 0.0, 1).unwrap();
        let s = Cycles::new(1.0, 0.0, 3.0, shape)
            .unwrap()
            .with_period_mult(1.5)
            .unwrap();
        assert_total(&s, &[3, 7]);
    }
}
