//! The one-cycle policy: rise to a peak, fall below the start, as a knot path.

use super::piecewise_interpolate::{PiecewiseInterpolate, SegmentAnneal, check_path, path_value};
use crate::error::{Error, check};
use crate::schedule::Schedule;
use crate::shape::Anneal;
use crate::spec::Validate;

/// The one-cycle policy: from `init` up to `peak`, (three phases: back to `init`,) then
/// down to `end`, each phase an [`Anneal`]; `end` for ever after.
///
/// ```text
/// knots  (0, init), (e1, peak), (e_last, end)                 Phases::Two
///        (0, init), (e1, peak), (e2, init), (e_last, end)     Phases::Three { pct_final }
///
///                      e1                  e2                      e_last
/// PhaseEnds::LastStep  pct_start * T - 1   pct_final * T - 2       T - 1      (PyTorch)
/// PhaseEnds::Floor     floor(pct_start T)  floor(pct_final T)      T          (optax)
///
/// value(t) = the knot path through these knots (see PiecewiseInterpolate), T = total_steps
/// ```
///
/// PyTorch's `OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy, div_factor,
/// final_div_factor, three_phase)` is `OneCycle::new(max_lr, T)` with
/// [`with_div_factors`](Self::with_div_factors)`(div_factor, final_div_factor)`,
/// [`PhaseEnds::LastStep`], and for `three_phase=True`
/// `Phases::Three { pct_final: 2 * pct_start }` (its real-valued phase ends are knot
/// times). Its momentum cycle is [`momentum`](Self::momentum). optax's
/// `cosine_onecycle_schedule` is two phases, cosine, [`PhaseEnds::Floor`];
/// `linear_onecycle_schedule` three phases with its `pct_final`, linear, `Floor`.
/// PyTorch raises past step `T`; here the schedule holds `end`.
///
/// # Parameters
/// - `peak`: the value at the end of the rise, finite.
/// - `total_steps` (`T`): the cycle length, at least 1.
/// - `init`, `end`: the start and final values, finite; set directly with
///   [`with_levels`](Self::with_levels) or as `peak / div_factor` and
///   `peak / div_factor / final_div_factor` with [`with_div_factors`](Self::with_div_factors)
///   (defaults 25 and 1e4, PyTorch's and optax's).
/// - `pct_start`: the fraction of the cycle spent rising, in `(0, 1]` (default 0.3).
/// - `phases`: [`Phases::Two`] (default) or [`Phases::Three`].
/// - `anneal`: the path of every phase (default [`Anneal::Cosine`]).
/// - `phase_ends`: where the phases end, [`PhaseEnds`] (default `LastStep`).
///
/// # Errors
/// [`Error::InvalidParameter`] naming `peak`, `init` or `end` if not finite,
/// `total_steps` if 0, `pct_start` or `pct_final` outside their ranges or if the phase
/// ends they give are not `0 <= e1 <= e2 <= e_last` (with `LastStep`, `pct_start * T` must
/// be at least 1), `div_factor`/`final_div_factor` if not finite and `> 0`, and the
/// [`Anneal::check_ends`] error for an exponential anneal through zero.
///
/// # Examples
///
/// ```
/// use cadence::{OneCycle, Schedule};
///
/// // torch OneCycleLR(max_lr=0.1, total_steps=100): warmup ends at 0.3 * 100 - 1 = 29
/// let lr = OneCycle::new(0.1, 100)?;
/// assert!((lr.value(0) - 0.004).abs() < 1e-15);   // 0.1 / 25
/// assert!((lr.value(29) - 0.1).abs() < 1e-15);
/// assert!((lr.value(99) - 4e-7).abs() < 1e-18);   // 0.004 / 1e4
/// let momentum = lr.momentum(0.85, 0.95)?;
/// assert!((momentum.value(0) - 0.95).abs() < 1e-15);
/// assert!((momentum.value(29) - 0.85).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// L. N. Smith and N. Topin, "Super-Convergence: Very Fast Training of Neural Networks
/// Using Large Learning Rates", 2017 (arXiv:1708.07120); L. N. Smith, "A disciplined
/// approach to neural network hyper-parameters", 2018 (arXiv:1803.09820);
/// `torch.optim.lr_scheduler.OneCycleLR`; `optax.cosine_onecycle_schedule`,
/// `optax.linear_onecycle_schedule`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct OneCycle {
    init: f64,
    peak: f64,
    end: f64,
    total_steps: u64,
    pct_start: f64,
    phases: Phases,
    anneal: Anneal,
    phase_ends: PhaseEnds,
}

/// The number of phases of a [`OneCycle`].
///
/// # Examples
///
/// ```
/// use cadence::{OneCycle, Phases, Schedule};
///
/// let three = OneCycle::new(1.0, 100)?.with_phases(Phases::Three { pct_final: 0.6 })?;
/// assert!((three.value(58) - 0.04).abs() < 1e-15); // back at init = 1 / 25
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "snake_case", deny_unknown_fields)
)]
pub enum Phases {
    /// Rise to `peak`, then anneal to `end`.
    Two,
    /// Rise to `peak`, return to `init` by the fraction `pct_final` of the cycle, then
    /// anneal to `end` (PyTorch's `three_phase=True` is `pct_final = 2 * pct_start`).
    Three {
        /// Where the return to `init` ends, as a fraction of `total_steps`, in
        /// `[pct_start, 1]`.
        pct_final: f64,
    },
}

/// Where a [`OneCycle`]'s phases end: the libraries disagree by a step.
///
/// # Examples
///
/// ```
/// use cadence::{OneCycle, PhaseEnds, Schedule};
///
/// let torch = OneCycle::new(1.0, 10)?.with_pct_start(0.25)?;
/// let optax = torch.with_phase_ends(PhaseEnds::Floor)?;
/// assert!((torch.value_at(1.5) - 1.0).abs() < 1e-15); // 0.25 * 10 - 1
/// assert!((optax.value(2) - 1.0).abs() < 1e-15);      // floor(0.25 * 10)
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum PhaseEnds {
    /// PyTorch `OneCycleLR`: the cycle reaches `end` at step `T - 1`; the rise ends at the
    /// real time `pct_start * T - 1`, the return at `pct_final * T - 2`.
    LastStep,
    /// optax `*_onecycle_schedule`: phases end at the steps `floor(pct * T)`, the cycle at
    /// step `T`.
    Floor,
}

impl OneCycle {
    /// A one-cycle schedule peaking at `peak` over `total_steps`, with PyTorch's defaults
    /// (`div_factor` 25, `final_div_factor` 1e4, `pct_start` 0.3, two phases, cosine,
    /// [`PhaseEnds::LastStep`]).
    ///
    /// # Errors
    /// `peak` must be finite, `total_steps` at least 4 (so that `0.3 * T >= 1`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{OneCycle, Schedule};
    ///
    /// assert!(OneCycle::new(0.1, 0).is_err());
    /// assert!((OneCycle::new(0.1, 1_000)?.value(1_000) - 4e-7).abs() < 1e-18);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn new(peak: f64, total_steps: u64) -> Result<Self, Error> {
        let init = peak / 25.0;
        let s = OneCycle {
            init,
            peak,
            end: init / 1e4,
            total_steps,
            pct_start: 0.3,
            phases: Phases::Two,
            anneal: Anneal::Cosine,
            phase_ends: PhaseEnds::LastStep,
        };
        s.validate()?;
        Ok(s)
    }

    fn validated(self) -> Result<Self, Error> {
        self.validate()?;
        Ok(self)
    }

    /// Sets `init = peak / div_factor` and `end = init / final_div_factor`.
    ///
    /// # Errors
    /// Both factors must be finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{OneCycle, Schedule};
    ///
    /// let s = OneCycle::new(0.2, 90)?.with_div_factors(10.0, 100.0)?;
    /// assert!((s.value(0) - 0.02).abs() < 1e-15);
    /// assert!((s.value(89) - 0.0002).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_div_factors(self, div_factor: f64, final_div_factor: f64) -> Result<Self, Error> {
        check::positive("div_factor", div_factor)?;
        check::positive("final_div_factor", final_div_factor)?;
        let init = self.peak / div_factor;
        self.with_levels(init, init / final_div_factor)
    }

    /// Sets the start value `init` and the final value `end` directly.
    ///
    /// # Errors
    /// Both must be finite (and non-zero with the sign of `peak` for an exponential anneal).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{OneCycle, Schedule};
    ///
    /// let s = OneCycle::new(1.0, 10)?.with_levels(0.0, 0.0)?;
    /// assert_eq!(s.value(0), 0.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_levels(self, init: f64, end: f64) -> Result<Self, Error> {
        OneCycle { init, end, ..self }.validated()
    }

    /// Sets the fraction of the cycle spent rising (default 0.3).
    ///
    /// # Errors
    /// `pct_start` in `(0, 1]`, with the phase ends in order (see the type).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::OneCycle::new(1.0, 100)?.with_pct_start(1.5).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_pct_start(self, pct_start: f64) -> Result<Self, Error> {
        OneCycle { pct_start, ..self }.validated()
    }

    /// Sets two or three phases.
    ///
    /// # Errors
    /// `pct_final` in `[pct_start, 1]`, with the phase ends in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{OneCycle, Phases};
    ///
    /// assert!(OneCycle::new(1.0, 100)?.with_phases(Phases::Three { pct_final: 0.1 }).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_phases(self, phases: Phases) -> Result<Self, Error> {
        OneCycle { phases, ..self }.validated()
    }

    /// Sets the path of every phase (PyTorch: `Cosine` or `Linear`).
    ///
    /// # Errors
    /// [`Anneal::check_ends`] on every phase.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, OneCycle, Schedule};
    ///
    /// let s = OneCycle::new(1.0, 101)?.with_levels(0.0, 0.0)?.with_pct_start(0.5)?
    ///     .with_anneal(Anneal::Linear)?;
    /// assert!((s.value_at(24.75) - 0.5).abs() < 1e-15); // rise ends at 49.5
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_anneal(self, anneal: Anneal) -> Result<Self, Error> {
        OneCycle { anneal, ..self }.validated()
    }

    /// Sets where the phases end (PyTorch's or optax's convention).
    ///
    /// # Errors
    /// The phase ends must stay in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{OneCycle, PhaseEnds, Schedule};
    ///
    /// let s = OneCycle::new(1.0, 10)?.with_phase_ends(PhaseEnds::Floor)?;
    /// assert!((s.value(3) - 1.0).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_phase_ends(self, phase_ends: PhaseEnds) -> Result<Self, Error> {
        OneCycle { phase_ends, ..self }.validated()
    }

    /// The matching momentum cycle: the same phases, from `max_momentum` down to
    /// `base_momentum` while the LR rises, back up while it falls, and `max_momentum` in a
    /// third phase (PyTorch's `cycle_momentum`).
    ///
    /// # Errors
    /// Both momenta must be finite.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{OneCycle, Schedule};
    ///
    /// let m = OneCycle::new(0.1, 100)?.momentum(0.85, 0.95)?;
    /// assert!((m.value(99) - 0.95).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn momentum(&self, base_momentum: f64, max_momentum: f64) -> Result<Self, Error> {
        check::finite("base_momentum", base_momentum)?;
        check::finite("max_momentum", max_momentum)?;
        OneCycle {
            init: max_momentum,
            peak: base_momentum,
            end: max_momentum,
            ..*self
        }
        .validated()
    }

    /// The knots of the cycle (3 for two phases, 4 for three), in a fixed buffer.
    fn knot_buffer(&self) -> ([(f64, f64); 4], usize) {
        let t = self.total_steps as f64;
        let (e1, e_last) = match self.phase_ends {
            PhaseEnds::LastStep => (self.pct_start * t - 1.0, t - 1.0),
            PhaseEnds::Floor => ((self.pct_start * t).floor(), t),
        };
        let mut k = [
            (0.0, self.init),
            (e1, self.peak),
            (e_last, self.end),
            (0.0, 0.0),
        ];
        match self.phases {
            Phases::Two => (k, 3),
            Phases::Three { pct_final } => {
                let e2 = match self.phase_ends {
                    PhaseEnds::LastStep => pct_final * t - 2.0,
                    PhaseEnds::Floor => (pct_final * t).floor(),
                };
                k[2] = (e2, self.init);
                k[3] = (e_last, self.end);
                (k, 4)
            }
        }
    }

    /// The cycle as an explicit [`PiecewiseInterpolate`] path (same values).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::OneCycle;
    ///
    /// let path = OneCycle::new(0.1, 100)?.to_piecewise();
    /// assert_eq!(path.knots()[1], (29.0, 0.1));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn to_piecewise(&self) -> PiecewiseInterpolate {
        let (k, n) = self.knot_buffer();
        PiecewiseInterpolate::new(k[..n].to_vec(), SegmentAnneal::Uniform(self.anneal))
            .unwrap_or_else(|_| unreachable!("a validated OneCycle has a valid path"))
    }
}

impl Validate for OneCycle {
    fn validate(&self) -> Result<(), Error> {
        check::finite("peak", self.peak)?;
        check::finite("init", self.init)?;
        check::finite("end", self.end)?;
        check::at_least_one("total_steps", self.total_steps)?;
        if !(self.pct_start > 0.0 && self.pct_start <= 1.0) {
            return Err(Error::invalid(
                "pct_start",
                self.pct_start,
                "must be in (0, 1]",
            ));
        }
        if let Phases::Three { pct_final } = self.phases
            && !(pct_final >= self.pct_start && pct_final <= 1.0)
        {
            return Err(Error::invalid(
                "pct_final",
                pct_final,
                format!("must be in [pct_start, 1] = [{}, 1]", self.pct_start),
            ));
        }
        let (k, n) = self.knot_buffer();
        if k[1].0 < 0.0 {
            return Err(Error::invalid(
                "pct_start",
                self.pct_start,
                format!(
                    "the rise must end at a step >= 0 (pct_start * total_steps >= 1 with {:?})",
                    self.phase_ends
                ),
            ));
        }
        if k[..n].windows(2).any(|w| w[1].0 < w[0].0) {
            let (name, value) = match self.phases {
                Phases::Three { pct_final } => ("pct_final", pct_final),
                Phases::Two => ("pct_start", self.pct_start),
            };
            return Err(Error::invalid(name, value, "the phases must end in order"));
        }
        check_path("anneal", &k[..n], |_| self.anneal)
    }
}

impl Schedule for OneCycle {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let (k, n) = self.knot_buffer();
        path_value(&k[..n], |_| self.anneal, t.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps_two_phase() {
        let s = OneCycle::new(0.1, 100).unwrap();
        assert_values(
            &s,
            &[
                (0, 0.004),
                (29, 0.1),
                (64, 0.1 - (0.1 - 4e-7) / 2.0),
                (99, 4e-7),
                (100, 4e-7),
                (u64::MAX, 4e-7),
            ],
            1e-12,
        );
        assert_total(&s, &[29, 99]);
    }

    #[test]
    fn boundary_steps_three_phase_linear() {
        // torch OneCycleLR(max_lr=0.2, total_steps=90, pct_start=0.25, three_phase=True,
        // anneal_strategy="linear", div_factor=10, final_div_factor=100):
        // phase ends 21.5, 43, 89.
        let s = OneCycle::new(0.2, 90)
            .and_then(|s| s.with_div_factors(10.0, 100.0))
            .and_then(|s| s.with_pct_start(0.25))
            .and_then(|s| s.with_phases(Phases::Three { pct_final: 0.5 }))
            .and_then(|s| s.with_anneal(Anneal::Linear))
            .unwrap();
        assert_values(
            &s,
            &[
                (0, 0.02),
                (21, 0.02 + 0.18 * 21.0 / 21.5),
                (22, 0.2 - 0.18 * 0.5 / 21.5),
                (43, 0.02),
                (89, 0.0002),
                (90, 0.0002),
            ],
            1e-12,
        );
        assert!(close(s.value_at(21.5), 0.2, 1e-15));
        let m = s.momentum(0.8, 0.95).unwrap();
        assert_values(&m, &[(0, 0.95), (43, 0.95), (60, 0.95), (89, 0.95)], 1e-15);
        assert!(close(m.value_at(21.5), 0.8, 1e-15));
    }

    #[test]
    fn optax_floor_convention() {
        // optax.linear_onecycle_schedule(200, 0.5, pct_start=0.25, pct_final=0.9, 10, 100)
        let s = OneCycle::new(0.5, 200)
            .and_then(|s| s.with_div_factors(10.0, 100.0))
            .and_then(|s| s.with_pct_start(0.25))
            .and_then(|s| s.with_phases(Phases::Three { pct_final: 0.9 }))
            .and_then(|s| s.with_anneal(Anneal::Linear))
            .and_then(|s| s.with_phase_ends(PhaseEnds::Floor))
            .unwrap();
        assert_values(
            &s,
            &[
                (0, 0.05),
                (50, 0.5),
                (180, 0.05),
                (190, 0.05 - 0.0495 / 2.0),
                (200, 0.0005),
            ],
            1e-12,
        );
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(matches!(
            OneCycle::new(f64::NAN, 10),
            Err(Error::InvalidParameter { name: "peak", .. })
        ));
        assert!(matches!(
            OneCycle::new(1.0, 0),
            Err(Error::InvalidParameter {
                name: "total_steps",
                ..
            })
        ));
        // 0.3 * 3 - 1 < 0: the rise would end before step 0.
        assert!(matches!(
            OneCycle::new(1.0, 3),
            Err(Error::InvalidParameter {
                name: "pct_start",
                ..
            })
        ));
        let s = OneCycle::new(1.0, 100).unwrap();
        assert!(matches!(
            s.with_pct_start(0.0),
            Err(Error::InvalidParameter {
                name: "pct_start",
                ..
            })
        ));
        assert!(matches!(
            s.with_div_factors(0.0, 1.0),
            Err(Error::InvalidParameter {
                name: "div_factor",
                ..
            })
        ));
        assert!(matches!(
            s.with_phases(Phases::Three { pct_final: 1.5 }),
            Err(Error::InvalidParameter {
                name: "pct_final",
                ..
            })
        ));
        assert!(
            s.with_levels(0.0, 0.0)
                .unwrap()
                .with_anneal(Anneal::Exponential)
                .is_err()
        );
        assert!(s.momentum(f64::INFINITY, 0.9).is_err());
    }

    #[test]
    fn piecewise_form_agrees() {
        let s = OneCycle::new(0.3, 77)
            .and_then(|s| s.with_phases(Phases::Three { pct_final: 0.6 }))
            .unwrap();
        let p = s.to_piecewise();
        for t in 0..90 {
            assert_eq!(s.value(t), p.value(t));
        }
    }

    proptest! {
        #[test]
        fn bounded_and_unimodal(peak in 1e-4..10.0f64, total in 4u64..5_000, pct in 0.3..0.9f64, t in any::<u64>()) {
            let s = OneCycle::new(peak, total).unwrap().with_pct_start(pct).unwrap();
            let v = s.value(t);
            prop_assert!(v.is_finite() && v >= s.end - 1e-15 && v <= peak * (1.0 + 1e-12));
            // Past the peak the cycle only falls.
            let e1 = pct * total as f64 - 1.0;
            if (t as f64) >= e1 {
                prop_assert!(s.value(t.saturating_add(1)) <= v * (1.0 + 1e-12));
            }
        }

        #[cfg(feature = "serde")]
        #[test]
        fn serde_round_trip(total in 4u64..5_000, three in any::<bool>()) {
            let mut s = OneCycle::new(0.5, total).unwrap();
            if three {
                s = s.with_phases(Phases::Three { pct_final: 0.75 }).unwrap();
            }
            let spec = crate::ScheduleSpec::from(s);
            let back: crate::ScheduleSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
            prop_assert_eq!(back, spec);
        }
    }
}
