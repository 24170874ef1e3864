//! The SWA learning-rate anneal: from the current LR to the constant SWA LR.

use super::piecewise_interpolate::{check_path, path_value};
use crate::error::{Error, check};
use crate::schedule::Schedule;
use crate::shape::Anneal;
use crate::spec::Validate;

/// The stochastic-weight-averaging anneal: from `init` to the SWA value `end` over
/// `anneal_steps` along an [`Anneal`], then `end` for ever.
///
/// ```text
/// value(t) = anneal.interpolate(init, end, min(t / anneal_steps, 1))
///          = end                                  anneal_steps = 0
/// ```
///
/// PyTorch's `SWALR(swa_lr, anneal_epochs, anneal_strategy)` computes its LR recursively:
/// it reconstructs the starting LR from the previous one, `L = (lr_{s-1} - a_{s-1} swa) /
/// (1 - a_{s-1})`, and sets `lr_s = swa a_s + L (1 - a_s)` with `a_s = alpha(min(s /
/// anneal_epochs, 1))`. Left undisturbed, `L` is the LR the optimizer had when SWALR was
/// built (`init`), so the exact closed form is `init + (swa - init) alpha(s / anneal_epochs)`
/// with `alpha = (1 - cos(pi f)) / 2` (`cos`, [`Anneal::Cosine`]) or `f` (`linear`,
/// [`Anneal::Linear`]); step 0 is `init`, and `anneal_epochs = 0` jumps to `swa_lr` at
/// once. The recursion only adds rounding (relative 1e-15 on the golden traces).
///
/// # Parameters
/// - `init`: the value at step 0 (the optimizer's LR when SWA starts), finite.
/// - `end`: the SWA value (`swa_lr`), finite.
/// - `anneal_steps`: the anneal length (`anneal_epochs`, in the schedule's own steps).
/// - `anneal`: the path, PyTorch offers `Cosine` (default there) and `Linear`.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `init` or `end` if not finite, or the
/// [`Anneal::check_ends`] error for an exponential anneal through zero.
///
/// # Examples
///
/// ```
/// use cadence::{Anneal, Schedule, SwaAnneal};
///
/// // torch SWALR(swa_lr=0.05, anneal_epochs=10, anneal_strategy="cos") from lr 0.5
/// let s = SwaAnneal::new(0.5, 0.05, 10, Anneal::Cosine)?;
/// assert_eq!(s.value(0), 0.5);
/// assert!((s.value(5) - 0.275).abs() < 1e-15);
/// assert_eq!(s.value(10), 0.05);
/// assert_eq!(s.value(1_000), 0.05);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// P. Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
/// Generalization", UAI 2018 (arXiv:1803.05407); `torch.optim.swa_utils.SWALR`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct SwaAnneal {
    init: f64,
    end: f64,
    anneal_steps: u64,
    anneal: Anneal,
}

impl SwaAnneal {
    /// An anneal from `init` to `end` over `anneal_steps`; see the type's documentation.
    ///
    /// # Errors
    /// `init`, `end` finite; exponential anneals need both non-zero of one sign.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, Schedule, SwaAnneal};
    ///
    /// let at_once = SwaAnneal::new(0.1, 0.01, 0, Anneal::Linear)?;
    /// assert_eq!(at_once.value(0), 0.01);
    /// assert!(SwaAnneal::new(0.1, f64::NAN, 5, Anneal::Linear).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn new(init: f64, end: f64, anneal_steps: u64, anneal: Anneal) -> Result<Self, Error> {
        let s = SwaAnneal {
            init,
            end,
            anneal_steps,
            anneal,
        };
        s.validate()?;
        Ok(s)
    }

    #[inline]
    fn knots(&self) -> [(f64, f64); 2] {
        [(0.0, self.init), (self.anneal_steps as f64, self.end)]
    }
}

impl Validate for SwaAnneal {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::finite("end", self.end)?;
        check_path("anneal", &self.knots(), |_| self.anneal)
    }
}

impl Schedule for SwaAnneal {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        path_value(&self.knots(), |_| self.anneal, t.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = SwaAnneal::new(0.1, 0.01, 5, Anneal::Linear).unwrap();
        assert_values(
            &s,
            &[
                (0, 0.1),
                (1, 0.082),
                (4, 0.028),
                (5, 0.01),
                (6, 0.01),
                (u64::MAX, 0.01),
            ],
            1e-14,
        );
        assert_total(&s, &[5]);
        assert!(close(s.value_at(2.5), 0.055, 1e-15));
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(matches!(
            SwaAnneal::new(f64::INFINITY, 0.0, 1, Anneal::Cosine),
            Err(Error::InvalidParameter { name: "init", .. })
        ));
        assert!(matches!(
            SwaAnneal::new(1.0, 0.0, 1, Anneal::Exponential),
            Err(Error::InvalidParameter { name: "anneal", .. })
        ));
    }

    proptest! {
        #[test]
        fn monotone_between_ends(init in 0.0..1.0f64, end in 0.0..1.0f64, n in 0u64..1000, t in any::<u64>()) {
            let s = SwaAnneal::new(init, end, n, Anneal::Cosine).unwrap();
            let (v, w) = (s.value(t), s.value(t.saturating_add(1)));
            prop_assert!(v >= init.min(end) - 1e-15 && v <= init.max(end) + 1e-15);
            if end <= init { prop_assert!(w <= v + 1e-15) } else { prop_assert!(w >= v - 1e-15) }
        }

        #[cfg(feature = "serde")]
        #[test]
        fn serde_round_trip(n in 0u64..1000, linear in any::<bool>()) {
            let a = if linear { Anneal::Linear } else { Anneal::Cosine };
            let spec = crate::ScheduleSpec::from(SwaAnneal::new(0.5, 0.0625, n, a).unwrap());
            let back: crate::ScheduleSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
            prop_assert_eq!(back, spec);
        }
    }
}
