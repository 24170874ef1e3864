//! Inverse square-root decay (the Transformer / Noam schedule after its warmup).

use crate::error::{Error, check};
use crate::schedule::Schedule;
use crate::spec::Validate;

/// Inverse square-root decay with a timescale.
///
/// ```text
/// value(t) = init / sqrt(1 + t / timescale)
/// ```
///
/// The value halves when `t = 3 * timescale` and falls like `1 / sqrt(t)` for large `t`.
///
/// Put after a prefix warmup of `w` steps with `timescale = w`, it is:
/// - the Transformer ("Noam") schedule `d^-0.5 * min(s^-0.5, s * w^-1.5)` with
///   `init = (d * w)^-0.5`: for `d = 512`, `w = 4000` the peak is `6.98771e-4` and at
///   `s = 16000` (`t = 12000`) both give `3.49386e-4`;
/// - transformers' `get_inverse_sqrt_schedule(num_warmup_steps = w)`, whose factor after
///   warmup is `1 / sqrt((step + timescale - w) / timescale)`, i.e. this at `t = step - w`
///   (for `w = 10`, `timescale = 10`, peak 0.1: step 40 gives `0.1 / sqrt(4) = 0.05`).
///   Its `timescale` argument, when given, is this `timescale`.
///
/// # Parameters
/// - `init`: the value at step 0, finite.
/// - `timescale`: steps until `1 + t / timescale` doubles, finite and `> 0`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` is not finite or `timescale` is not finite and `> 0`.
///
/// # Examples
///
/// ```
/// use cadence::{InverseSqrt, Schedule};
///
/// let lr = InverseSqrt::new(0.1, 10.0)?;
/// assert_eq!(lr.value(0), 0.1);
/// assert_eq!(lr.value(30), 0.05);
/// assert_eq!(lr.value(150), 0.025);
///
/// // Noam after 4000 warmup steps, d_model = 512.
/// let noam = InverseSqrt::new((512.0_f64 * 4000.0).powf(-0.5), 4000.0)?;
/// let s = 16_000.0_f64; // 1-based Noam step = warmup + t
/// assert!((noam.value(12_000) - 512.0_f64.powf(-0.5) * s.powf(-0.5)).abs() < 1e-18);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Vaswani et al. 2017, "Attention Is All You Need", eq. (3); transformers
/// `get_inverse_sqrt_schedule`; T5 / big_vision `rsqrt` schedules.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct InverseSqrt {
    init: f64,
    timescale: f64,
}

impl InverseSqrt {
    /// An inverse square-root decay; see the type's documentation.
    ///
    /// # Errors
    /// `init` finite, `timescale` finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::InverseSqrt::new(0.1, 0.0).is_err());
    /// ```
    pub fn new(init: f64, timescale: f64) -> Result<Self, Error> {
        let s = InverseSqrt { init, timescale };
        s.validate()?;
        Ok(s)
    }
}

impl Validate for InverseSqrt {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        check::positive("timescale", self.timescale)?;
        Ok(())
    }
}

impl Schedule for InverseSqrt {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = if t > 0.0 { t } else { 0.0 };
        // The root is >= 1 (possibly +inf), so the quotient is finite.
        self.init / (1.0 + t / self.timescale).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = InverseSqrt::new(1.0, 4.0).unwrap();
        assert_values(
            &s,
            &[(0, 1.0), (4, 0.5_f64.sqrt()), (12, 0.5), (60, 0.25)],
            1e-15,
        );
        assert!(s.value(u64::MAX) > 0.0 && s.value(u64::MAX) < 1e-9);
        assert_total(&s, &[4]);
        let tiny = InverseSqrt::new(1.0, f64::MIN_POSITIVE).unwrap();
        assert_eq!(tiny.value(u64::MAX), 0.0);
    }

    #[test]
    fn continuous_time_and_noam_equivalence() {
        let s = InverseSqrt::new(1.0, 4.0).unwrap();
        assert!(close(s.value_at(1.0), 0.8_f64.sqrt(), 1e-15));
        assert_eq!(s.value_at(-1.0), 1.0);
        assert_eq!(s.value_at(f64::NAN), 1.0);
        // Noam: lr(s) = d^-0.5 * min(s^-0.5, s * w^-1.5), s 1-based; after warmup s = w + t.
        let (d, w) = (512.0_f64, 4000.0_f64);
        let noam = InverseSqrt::new((d * w).powf(-0.5), w).unwrap();
        for t in [0u64, 1, 100, 4000, 12_000, 1_000_000] {
            let s = w + t as f64;
            let reference = d.powf(-0.5) * s.powf(-0.5).min(s * w.powf(-1.5));
            assert!(close(noam.value(t), reference, 1e-14), "t = {t}");
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(InverseSqrt::new(f64::NAN, 1.0).is_err());
        assert!(matches!(
            InverseSqrt::new(1.0, -1.0),
            Err(Error::InvalidParameter {
                name: "timescale",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn monotone_bounded(init in 0.0..1e3f64, timescale in 1e-3..1e6f64, t in any::<u64>()) {
            let s = InverseSqrt::new(init, timescale).unwrap();
            let v = s.value(t);
            prop_assert!(v.is_finite() && (0.0..=init).contains(&v));
            prop_assert!(s.value(t.saturating_add(1)) <= v);
        }
    }
}
