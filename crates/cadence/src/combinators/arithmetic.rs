//! Arithmetic on values: product, scale and clamp.

use crate::error::{Error, check};
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

/// The product of several schedules, step by step.
///
/// ```text
/// value(t) = schedules[0].value(t) * schedules[1].value(t) * ...
/// ```
///
/// A multiplier schedule (a decay factor, a controller's scale, LR noise) times a base
/// schedule. Products that overflow saturate to `±f64::MAX`.
///
/// # Parameters
/// - `schedules`: at least one schedule.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `schedules` if there are none.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, Product, Schedule};
///
/// // A base rate of 0.1 times a factor that decays from 1 to 0.5 over 10 steps.
/// let lr = Product::new(vec![Linear::new(0.1, 0.1, 1)?, Linear::new(1.0, 0.5, 10)?])?;
/// assert_eq!(lr.value(0), 0.1);
/// assert!((lr.value(5) - 0.075).abs() < 1e-15);
/// assert_eq!(lr.value(10), 0.05);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `torch.optim.lr_scheduler.ChainedScheduler` (multiplicative chaining of factors).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Product<S> {
    pub(super) schedules: Vec<S>,
}

impl<S: Schedule> Product<S> {
    /// A product; see the type's documentation.
    ///
    /// # Errors
    /// At least one schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Product::<f64>::new(vec![]).is_err());
    /// ```
    pub fn new(schedules: Vec<S>) -> Result<Self, Error> {
        let s = Product { schedules };
        s.validate()?;
        Ok(s)
    }

    /// The factors.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::Product::new(vec![2.0, 3.0])?.schedules().len(), 2);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn schedules(&self) -> &[S] {
        &self.schedules
    }
}

impl<S> Product<S> {
    pub(crate) fn map<T>(self, f: impl FnMut(S) -> T) -> Product<T> {
        Product {
            schedules: self.schedules.into_iter().map(f).collect(),
        }
    }
}

impl<S: Schedule> Validate for Product<S> {
    fn validate(&self) -> Result<(), Error> {
        if self.schedules.is_empty() {
            return Err(Error::invalid(
                "schedules",
                "[]",
                "must hold at least one schedule",
            ));
        }
        Ok(())
    }
}

impl<S: Schedule> Schedule for Product<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        finite_or_saturate(self.schedules.iter().map(|s| s.value(step)).product())
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        finite_or_saturate(self.schedules.iter().map(|s| s.value_at(t)).product())
    }
}

/// A schedule multiplied by a constant factor.
///
/// ```text
/// value(t) = factor * schedule.value(t)
/// ```
///
/// How a schedule written for a unit peak (a transformers `lr_lambda`, a torch
/// `LambdaLR` factor) becomes a learning rate. Overflow saturates to `±f64::MAX`.
///
/// # Parameters
/// - `factor`: finite.
/// - `schedule`: the schedule to scale.
///
/// # Errors
/// [`Error::InvalidParameter`] if `factor` is not finite.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, Scale, Schedule};
///
/// let lr = Scale::new(3e-4, Linear::new(1.0, 0.0, 100)?)?;
/// assert_eq!(lr.value(0), 3e-4);
/// assert!((lr.value(50) - 1.5e-4).abs() < 1e-18);
/// assert_eq!(lr.value(100), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `torch.optim.lr_scheduler.LambdaLR` (base lr times a factor).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Scale<S> {
    factor: f64,
    schedule: S,
}

impl<S: Schedule> Scale<S> {
    /// A scaled schedule; see the type's documentation.
    ///
    /// # Errors
    /// `factor` must be finite.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Scale::new(f64::NAN, 1.0).is_err());
    /// ```
    pub fn new(factor: f64, schedule: S) -> Result<Self, Error> {
        let s = Scale { factor, schedule };
        s.validate()?;
        Ok(s)
    }
}

impl<S> Scale<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> Scale<T> {
        Scale {
            factor: self.factor,
            schedule: f(self.schedule),
        }
    }
}

impl<S: Schedule> Validate for Scale<S> {
    fn validate(&self) -> Result<(), Error> {
        check::finite("factor", self.factor).map(|_| ())
    }
}

impl<S: Schedule> Schedule for Scale<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        finite_or_saturate(self.factor * self.schedule.value(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        finite_or_saturate(self.factor * self.schedule.value_at(t))
    }
}

/// A schedule kept inside `[min, max]`; with only `min` it is a floor.
///
/// ```text
/// value(t) = min(max(schedule.value(t), min), max)     (a missing bound is no bound)
/// ```
///
/// # Parameters
/// - `min`: the lower bound, finite, or `None`.
/// - `max`: the upper bound, finite, or `None`.
/// - `schedule`: the schedule to clamp.
///
/// # Errors
/// [`Error::InvalidParameter`] if a bound is not finite, both are missing, or
/// `min > max`.
///
/// # Examples
///
/// ```
/// use cadence::{Clamp, Linear, Schedule};
///
/// let lr = Clamp::new(Some(0.2), Some(0.8), Linear::new(1.0, 0.0, 10)?)?;
/// assert_eq!(lr.value(0), 0.8);
/// assert_eq!(lr.value(5), 0.5);
/// assert_eq!(lr.value(10), 0.2);
///
/// let floored = Clamp::new(Some(0.1), None, Linear::new(1.0, 0.0, 10)?)?;
/// assert_eq!(floored.value(0), 1.0);
/// assert_eq!(floored.value(100), 0.1);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// transformers `cosine_with_min_lr`; timm `lr_min`; Keras `ReduceLROnPlateau(min_lr)`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Clamp<S> {
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    min: Option<f64>,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    max: Option<f64>,
    schedule: S,
}

impl<S: Schedule> Clamp<S> {
    /// A clamped schedule; see the type's documentation.
    ///
    /// # Errors
    /// Bounds finite, at least one given, `min <= max`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Clamp;
    ///
    /// assert!(Clamp::new(Some(1.0), Some(0.5), 0.7).is_err());
    /// assert!(Clamp::new(None, None, 0.7).is_err());
    /// ```
    pub fn new(min: Option<f64>, max: Option<f64>, schedule: S) -> Result<Self, Error> {
        let s = Clamp { min, max, schedule };
        s.validate()?;
        Ok(s)
    }
}

impl<S> Clamp<S> {
    pub(crate) fn map<T>(self, f: impl FnOnce(S) -> T) -> Clamp<T> {
        Clamp {
            min: self.min,
            max: self.max,
            schedule: f(self.schedule),
        }
    }

    #[inline]
    fn clamp(&self, v: f64) -> f64 {
        let v = self.min.map_or(v, |lo| v.max(lo));
        self.max.map_or(v, |hi| v.min(hi))
    }
}

impl<S: Schedule> Validate for Clamp<S> {
    fn validate(&self) -> Result<(), Error> {
        if let Some(lo) = self.min {
            check::finite("min", lo)?;
        }
        if let Some(hi) = self.max {
            check::finite("max", hi)?;
        }
        match (self.min, self.max) {
            (None, None) => Err(Error::invalid(
                "min",
                "None",
                "`min` or `max` must be given",
            )),
            (Some(lo), Some(hi)) if lo > hi => Err(Error::invalid(
                "min",
                lo,
                format!("must be <= `max` = {hi}"),
            )),
            _ => Ok(()),
        }
    }
}

impl<S: Schedule> Schedule for Clamp<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.clamp(self.schedule.value(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        self.clamp(self.schedule.value_at(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use crate::{Linear, from_fn};
    use proptest::prelude::*;

    #[test]
    fn product_scale_clamp_at_boundaries() {
        let p = Product::new(vec![
            Linear::new(2.0, 0.0, 4).unwrap(),
            Linear::new(1.0, 3.0, 4).unwrap(),
        ])
        .unwrap();
        assert_values(&p, &[(0, 2.0), (2, 2.0), (4, 0.0), (u64::MAX, 0.0)], 1e-15);
        let huge = Product::new(vec![f64::MAX, 4.0]).unwrap();
        assert_eq!(huge.value(3), f64::MAX);
        let s = Scale::new(-2.0, Linear::new(1.0, 0.0, 4).unwrap()).unwrap();
        assert_values(&s, &[(0, -2.0), (1, -1.5), (4, 0.0)], 1e-15);
        assert_eq!(Scale::new(10.0, f64::MAX).unwrap().value(0), f64::MAX);
        let c = Clamp::new(None, Some(0.5), Linear::new(1.0, 0.0, 4).unwrap()).unwrap();
        assert_values(&c, &[(0, 0.5), (2, 0.5), (3, 0.25), (4, 0.0)], 1e-15);
        assert_total(&p, &[4]);
        assert_total(&c, &[4]);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(matches!(
            Scale::new(f64::INFINITY, 1.0),
            Err(Error::InvalidParameter { name: "factor", .. })
        ));
        assert!(matches!(
            Clamp::new(Some(f64::NAN), None, 1.0),
            Err(Error::InvalidParameter { name: "min", .. })
        ));
        assert!(matches!(
            Clamp::new(None, Some(f64::NEG_INFINITY), 1.0),
            Err(Error::InvalidParameter { name: "max", .. })
        ));
        assert_eq!(
            Clamp::new(Some(2.0), Some(1.0), 1.0)
                .unwrap_err()
                .to_string(),
            "invalid `min` = 2: must be <= `max` = 1"
        );
        assert!(Product::<f64>::new(vec![]).is_err());
    }

    #[test]
    fn continuous_time_reaches_children() {
        let l = Linear::new(1.0, 0.0, 10).unwrap();
        assert!(close(Scale::new(2.0, l).unwrap().value_at(2.5), 1.5, 1e-15));
        assert!(close(
            Product::new(vec![l, l]).unwrap().value_at(2.5),
            0.5625,
            1e-15
        ));
        assert!(close(
            Clamp::new(Some(0.0), Some(0.8), l).unwrap().value_at(2.5),
            0.75,
            1e-15
        ));
    }

    proptest! {
        #[test]
        fn clamp_is_bounded(lo in -10.0..0.0f64, width in 0.0..10.0f64, a in -1e3..1e3f64, b in -1e3..1e3f64, t in any::<u64>()) {
            let c = Clamp::new(Some(lo), Some(lo + width), Linear::new(a, b, 1000).unwrap()).unwrap();
            let v = c.value(t);
            prop_assert!(v >= lo && v <= lo + width);
            let f = Clamp::new(Some(lo), None, from_fn(move |s| a - s as f64)).unwrap();
            prop_assert!(f.value(t) >= lo);
        }
    }
}
