//! Running product of a factor schedule (PyTorch's `MultiplicativeLR`).

use crate::error::Error;
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

/// The running product of a factor schedule: step `t` is the product of the factors of
/// steps `1..=t`.
///
/// ```text
/// h        = horizon
/// P(t)     = factors.value(1) * factors.value(2) * ... * factors.value(t)   (P(0) = 1)
/// value(t) = P(t)                                   t <= h
///          = P(h) * factors.value(h)^(t - h)        t >  h
/// ```
///
/// This is the one schedule in cadence without a closed form: evaluating step `t` costs
/// `min(t, horizon)` evaluations of `factors` (stopping early once the product is 0), so
/// a preview over `n` steps costs `O(n * min(n, horizon))`. The `horizon` keeps every
/// evaluation bounded, also at `u64::MAX`: past it the factor of step `horizon` is taken
/// to repeat, which is exact when the factor is constant from there on (and a constant
/// factor is better written as an [`Exponential`](crate::Exponential) with
/// `transition_steps = 1`, which is exact everywhere in `O(1)`). Fractional time reads
/// the step below (`value_at(t) = value(floor(t))`): a product has no value between its
/// factors. Overflow saturates to `±f64::MAX`.
///
/// # Parameters
/// - `horizon`: the last step whose factor is evaluated; any `u64`.
/// - `factors`: the factor applied at each step (its value at step 0 is never used).
///
/// # Errors
/// None: every horizon is valid. `new` returns `Result` like every constructor.
///
/// # Examples
///
/// ```
/// use cadence::{CumulativeProduct, Expr, Scale, Schedule};
///
/// // torch MultiplicativeLR(lr_lambda=lambda e: 0.9 if e < 3 else 0.5), base lr 0.1
/// let factors = Expr::parse("lambda e: 0.9 if e < 3 else 0.5")?;
/// let lr = Scale::new(0.1, CumulativeProduct::new(1_000, factors)?)?;
/// assert_eq!(lr.value(0), 0.1);
/// assert!((lr.value(2) - 0.1 * 0.81).abs() < 1e-16);
/// assert!((lr.value(4) - 0.1 * 0.81 * 0.25).abs() < 1e-16);
/// assert_eq!(lr.value(u64::MAX), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `torch.optim.lr_scheduler.MultiplicativeLR` (`lr_t = lr_{t-1} * lr_lambda(t)`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct CumulativeProduct<S> {
    horizon: u64,
    factors: S,
}

impl<S: Schedule> CumulativeProduct<S> {
    /// A running product; see the type's documentation.
    ///
    /// # Errors
    /// Never fails today; kept fallible like every constructor.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{CumulativeProduct, Schedule};
    ///
    /// let p = CumulativeProduct::new(10, 0.5)?;
    /// assert_eq!(p.value(3), 0.125);
    /// assert_eq!(p.value(12), 0.5f64.powi(12));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn new(horizon: u64, factors: S) -> Result<Self, Error> {
        let s = CumulativeProduct { horizon, factors };
        s.validate()?;
        Ok(s)
    }
}

impl<S: Schedule> Validate for CumulativeProduct<S> {
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
}

impl<S: Schedule> Schedule for CumulativeProduct<S> {
    fn value(&self, step: u64) -> f64 {
        let mut p = 1.0;
        for k in 1..=step.min(self.horizon) {
            if p == 0.0 {
                return 0.0;
            }
            p = finite_or_saturate(p * self.factors.value(k));
        }
        if step > self.horizon && p != 0.0 {
            let rest = (step - self.horizon) as f64;
            p = finite_or_saturate(p * self.factors.value(self.horizon).powf(rest));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use crate::{Exponential, Expr};
    use proptest::prelude::*;

    #[test]
    fn products_of_a_varying_factor() {
        let f = Expr::parse("lambda e: 1 + e").unwrap();
        // P(t) = (t + 1)!
        let p = CumulativeProduct::new(100, f).unwrap();
        assert_values(&p, &[(0, 1.0), (1, 2.0), (3, 24.0), (5, 720.0)], 0.0);
        assert_eq!(p.value(u64::MAX), f64::MAX);
        assert_eq!(p.value_at(3.9), 24.0);
    }

    #[test]
    fn past_the_horizon_the_last_factor_repeats() {
        let f = Expr::parse("lambda e: 0.5 if e < 3 else 0.9").unwrap();
        let p = CumulativeProduct::new(4, f).unwrap();
        // Factors 0.5, 0.5, 0.9, 0.9, then 0.9 (the factor at the horizon) repeated.
        assert!(close(p.value(4), 0.25 * 0.81, 1e-15));
        assert!(close(p.value(7), 0.25 * 0.9f64.powi(5), 1e-15));
        let zero = CumulativeProduct::new(0, 0.5).unwrap();
        assert_eq!(zero.value(2), 0.25);
        assert_total(&p, &[3, 4]);
        assert_total(&zero, &[0]);
    }

    #[test]
    fn zero_factor_stops_the_product() {
        let f = Expr::parse("lambda e: 0.0 if e == 2 else 3.0").unwrap();
        let p = CumulativeProduct::new(u64::MAX, f).unwrap();
        assert_values(&p, &[(1, 3.0), (2, 0.0), (1_000_000, 0.0)], 0.0);
        assert_eq!(p.value(u64::MAX), 0.0);
    }

    proptest! {
        #[test]
        fn a_constant_factor_is_an_exponential(rate in 0.01f64..2.0, t in 0u64..300) {
            let p = CumulativeProduct::new(1_000, rate).unwrap();
            let e = Exponential::new(1.0, rate, 1).unwrap();
            prop_assert!(close(p.value(t), e.value(t), 1e-12));
        }

        #[test]
        fn each_step_multiplies_by_its_factor(t in 1u64..200) {
            let f = Expr::parse("lambda e: 0.99 + 0.02 * (e % 3)").unwrap();
            let p = CumulativeProduct::new(150, f.clone()).unwrap();
            let factor = if t <= 150 { f.value(t) } else { f.value(150) };
            prop_assert!(close(p.value(t), p.value(t - 1) * factor, 1e-12));
        }
    }
}
