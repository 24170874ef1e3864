//! Piecewise-constant schedule: scale the value at listed boundaries.

use crate::error::{Error, check};
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

/// Starts at `init` and multiplies by each boundary's scale from that boundary on.
///
/// ```text
/// value(t) = init * product of scale_i over all boundaries b_i <= t
/// ```
///
/// A scale takes effect *at* its boundary (`count >= boundary`), as in optax.
///
/// # Parameters
/// - `init`: the value before the first boundary, finite.
/// - `boundaries_and_scales`: `(boundary, scale)` pairs with strictly increasing
///   boundaries and finite scales `>= 0` (optax's rule). Serialised as a list of
///   `[boundary, scale]` pairs.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` is not finite, a scale is not finite and `>= 0`,
/// or the boundaries are not strictly increasing.
///
/// # Examples
///
/// ```
/// use cadence::{PiecewiseConstant, Schedule};
///
/// let lr = PiecewiseConstant::new(0.1, vec![(10, 0.5), (30, 0.1), (50, 2.0)])?;
/// assert_eq!(lr.value(9), 0.1);
/// assert_eq!(lr.value(10), 0.05);
/// assert!((lr.value(30) - 0.005).abs() < 1e-17);
/// assert!((lr.value(50) - 0.01).abs() < 1e-17);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `optax.piecewise_constant_schedule(init_value, boundaries_and_scales)`; Keras
/// `PiecewiseConstantDecay` takes values instead of scales (and switches *after* each
/// boundary).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct PiecewiseConstant {
    init: f64,
    boundaries_and_scales: Vec<(u64, f64)>,
}

impl PiecewiseConstant {
    /// A piecewise-constant schedule; see the type's documentation.
    ///
    /// # Errors
    /// `init` finite, boundaries strictly increasing, scales finite and `>= 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::PiecewiseConstant;
    ///
    /// assert!(PiecewiseConstant::new(0.1, vec![(10, 0.5), (10, 0.5)]).is_err());
    /// assert!(PiecewiseConstant::new(0.1, vec![(10, -0.5)]).is_err());
    /// ```
    pub fn new(init: f64, boundaries_and_scales: Vec<(u64, f64)>) -> Result<Self, Error> {
        let s = PiecewiseConstant {
            init,
            boundaries_and_scales,
        };
        s.validate()?;
        Ok(s)
    }

    /// The `(boundary, scale)` pairs, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = cadence::PiecewiseConstant::new(1.0, vec![(5, 0.1)])?;
    /// assert_eq!(s.boundaries_and_scales(), &[(5, 0.1)]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn boundaries_and_scales(&self) -> &[(u64, f64)] {
        &self.boundaries_and_scales
    }
}

impl Validate for PiecewiseConstant {
    fn validate(&self) -> Result<(), Error> {
        check::finite("init", self.init)?;
        for &(_, scale) in &self.boundaries_and_scales {
            check::non_negative("boundaries_and_scales", scale)?;
        }
        if let Some(w) = self
            .boundaries_and_scales
            .windows(2)
            .find(|w| w[1].0 <= w[0].0)
        {
            return Err(Error::invalid(
                "boundaries_and_scales",
                format!("{:?}", self.boundaries_and_scales),
                format!(
                    "boundaries must be strictly increasing ({} after {})",
                    w[1].0, w[0].0
                ),
            ));
        }
        Ok(())
    }
}

impl Schedule for PiecewiseConstant {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        let passed = self
            .boundaries_and_scales
            .partition_point(|&(b, _)| b <= step);
        let v = self.boundaries_and_scales[..passed]
            .iter()
            .fold(self.init, |v, &(_, scale)| v * scale);
        finite_or_saturate(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = PiecewiseConstant::new(1.0, vec![(0, 0.5), (3, 4.0), (7, 0.25)]).unwrap();
        assert_values(
            &s,
            &[
                (0, 0.5),
                (2, 0.5),
                (3, 2.0),
                (6, 2.0),
                (7, 0.5),
                (u64::MAX, 0.5),
            ],
            1e-15,
        );
        assert_total(&s, &[3, 7]);
        let huge = PiecewiseConstant::new(1e300, vec![(1, 1e300)]).unwrap();
        assert_eq!(huge.value(1), f64::MAX);
        let empty = PiecewiseConstant::new(0.2, vec![]).unwrap();
        assert_eq!(empty.value(u64::MAX), 0.2);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(PiecewiseConstant::new(f64::NAN, vec![]).is_err());
        assert!(matches!(
            PiecewiseConstant::new(1.0, vec![(5, 0.1), (4, 0.1)]),
            Err(Error::InvalidParameter {
                name: "boundaries_and_scales",
                ..
            })
        ));
        assert!(PiecewiseConstant::new(1.0, vec![(5, f64::INFINITY)]).is_err());
    }

    proptest! {
        #[test]
        fn decaying_scales_give_monotone_bounded_values(
            mut bounds in proptest::collection::btree_set(0u64..1_000, 0..8),
            scale in 0.0..1.0f64, t in 0u64..1_200,
        ) {
            let pairs: Vec<(u64, f64)> = std::mem::take(&mut bounds).into_iter().map(|b| (b, scale)).collect();
            let s = PiecewiseConstant::new(3.0, pairs).unwrap();
            let v = s.value(t);
            prop_assert!(v.is_finite() && (0.0..=3.0).contains(&v));
            prop_assert!(s.value(t + 1) <= v);
        }
    }
}
