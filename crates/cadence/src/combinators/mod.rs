//! Combinators: schedules built from schedules.
//!
//! Each combinator is generic over its children (`Warmup<S>`, `Join<S>`, ...), so a
//! composite built from concrete types is one inlined function with no allocation and no
//! dynamic dispatch; the same combinators hold `Box<ScheduleSpec>` children inside a
//! [`ScheduleSpec`] for serialisation.
//!
//! | combinator | child sees | value |
//! |---|---|---|
//! | [`Warmup`] | `t - steps` (prefix) or `t` (overlay) | a ramp from `init` to the child's start, then the child |
//! | [`Join`] | `t - boundary` | the piece whose interval holds `t` |
//! | [`Product`] | `t` | the product of the children |
//! | [`Scale`] | `t` | `factor * child` |
//! | [`Clamp`] | `t` | the child inside `[min, max]` |
//! | [`Delay`] | `max(t - steps, 0)` | the child, started later |
//! | [`Repeat`] | `t mod period` | the child, cycled |
//! | [`Restarts`] | `t mod period` | the child, cycled, peak times `cycle_decay^k` |
//! | [`PerEpoch`] | `t / steps_per_epoch` (continuous) | the child counted in epochs |
//! | [`OnFraction`] | `t / total_steps` (continuous) | the child on the fraction `[0, 1]` |
//! | [`Accumulate`] | `floor(t / micro_steps)` | the child per optimizer step |
//! | [`CumulativeProduct`] | each step `1..=t` | the running product of the child (`O(t)`) |
//!
//! Continuous time passes through: every combinator's `value_at(t)` calls its child's
//! `value_at` with the child's own (possibly fractional) time.
//!
//! [`ScheduleExt`] adds the same combinators as chainable methods to every schedule.

mod arithmetic;
mod cumulative;
mod cycles;
mod join;
mod time;
mod units;
mod warmup;

pub use arithmetic::{Clamp, Product, Scale};
pub use cumulative::CumulativeProduct;
pub use cycles::Cycles;
pub use join::Join;
pub use time::{Delay, Repeat, Restarts};
pub use units::{Accumulate, OnFraction, PerEpoch};
pub use warmup::{Warmup, WarmupMode};

use crate::error::Error;
use crate::schedule::Schedule;
use crate::shape::Anneal;
use crate::spec::ScheduleSpec;

/// A continuous time made safe to shift and divide: `NaN` and negative times are 0,
/// `+inf` is `f64::MAX` (the trait reads all of them as "step 0" or "far past the end").
#[inline]
pub(crate) fn clock(t: f64) -> f64 {
    if t.is_nan() {
        0.0
    } else {
        t.clamp(0.0, f64::MAX)
    }
}

/// The combinators as chainable methods on every schedule.
///
/// Methods whose combinator validates return `Result`; the others return the combinator.
/// On a bare `f64` the inherent `f64::clamp` and `f64::floor` win over
/// [`clamp`](ScheduleExt::clamp) and [`floor`](ScheduleExt::floor): wrap the number in a
/// [`Constant`](crate::Constant) first.
/// [`then`](ScheduleExt::then) joins schedules of different types through
/// `Box<dyn Schedule>`; calling it again on the returned [`Join`] appends a piece.
///
/// # Examples
///
/// ```
/// use cadence::{Anneal, Linear, Schedule, ScheduleExt};
///
/// let lr = Linear::new(1.0, 0.0, 90)?
///     .warmup(Anneal::Linear, 10, 0.0)?
///     .scale(3e-4)?
///     .floor(3e-6)?;
/// assert_eq!(lr.value(0), 3e-6);
/// assert!((lr.value(5) - 1.5e-4).abs() < 1e-18);
/// assert_eq!(lr.value(10), 3e-4);
/// assert_eq!(lr.value(1_000), 3e-6);
/// # Ok::<(), cadence::Error>(())
/// ```
pub trait ScheduleExt: Schedule + Sized {
    /// A warmup prefix: see [`Warmup`] with [`WarmupMode::Prefix`].
    ///
    /// # Errors
    /// As [`Warmup::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, Schedule, ScheduleExt};
    ///
    /// assert_eq!(1.0.warmup(Anneal::Linear, 4, 0.0)?.value(1), 0.25);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn warmup(self, shape: Anneal, steps: u64, init: f64) -> Result<Warmup<Self>, Error> {
        Warmup::new(shape, steps, init, WarmupMode::Prefix, self)
    }

    /// A warmup laid over the start of the schedule: see [`WarmupMode::Overlay`].
    ///
    /// # Errors
    /// As [`Warmup::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, Linear, Schedule, ScheduleExt};
    ///
    /// let lr = Linear::new(1.0, 0.0, 10)?.warmup_overlay(Anneal::Linear, 4, 0.0)?;
    /// assert_eq!(lr.value(2), 0.5);
    /// assert_eq!(lr.value(4), 0.6);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn warmup_overlay(self, shape: Anneal, steps: u64, init: f64) -> Result<Warmup<Self>, Error> {
        Warmup::new(shape, steps, init, WarmupMode::Overlay, self)
    }

    /// This schedule until step `at`, then `next` (which sees `t - at`): see [`Join`].
    ///
    /// # Errors
    /// Never for the first `then`; an appended piece must start after the last one.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule, ScheduleExt};
    ///
    /// let lr = Linear::new(0.0, 1.0, 10)?.then(10, Linear::new(1.0, 0.0, 10)?)?.then(20, 0.1)?;
    /// assert_eq!(lr.value(5), 0.5);
    /// assert_eq!(lr.value(15), 0.5);
    /// assert_eq!(lr.value(25), 0.1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn then<N: Schedule + 'static>(self, at: u64, next: N) -> Result<Join<Box<dyn Schedule>>, Error>
    where
        Self: 'static,
    {
        Join::new(vec![at], vec![Box::new(self), Box::new(next)])
    }

    /// The product of this schedule and `other`: see [`Product`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule, ScheduleExt};
    ///
    /// let lr = Linear::new(1.0, 0.0, 10)?.times(0.5);
    /// assert_eq!(lr.value(5), 0.25);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn times<N: Schedule + 'static>(self, other: N) -> Product<Box<dyn Schedule>>
    where
        Self: 'static,
    {
        Product {
            schedules: vec![Box::new(self), Box::new(other)],
        }
    }

    /// This schedule times `factor`: see [`Scale`].
    ///
    /// # Errors
    /// As [`Scale::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Schedule, ScheduleExt};
    ///
    /// assert_eq!(2.0.scale(0.5)?.value(0), 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn scale(self, factor: f64) -> Result<Scale<Self>, Error> {
        Scale::new(factor, self)
    }

    /// This schedule inside `[min, max]`: see [`Clamp`].
    ///
    /// # Errors
    /// As [`Clamp::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Constant, Schedule, ScheduleExt};
    ///
    /// assert_eq!(Constant::new(2.0)?.clamp(0.0, 1.0)?.value(0), 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn clamp(self, min: f64, max: f64) -> Result<Clamp<Self>, Error> {
        Clamp::new(Some(min), Some(max), self)
    }

    /// This schedule, never below `min`: see [`Clamp`].
    ///
    /// # Errors
    /// As [`Clamp::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Constant, Schedule, ScheduleExt};
    ///
    /// assert_eq!(Constant::new(0.0)?.floor(0.1)?.value(0), 0.1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn floor(self, min: f64) -> Result<Clamp<Self>, Error> {
        Clamp::new(Some(min), None, self)
    }

    /// This schedule started `steps` later: see [`Delay`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule, ScheduleExt};
    ///
    /// assert_eq!(Linear::new(1.0, 0.0, 10)?.delay(5).value(10), 0.5);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn delay(self, steps: u64) -> Delay<Self> {
        Delay {
            steps,
            schedule: self,
        }
    }

    /// This schedule cycled with `period`: see [`Repeat`].
    ///
    /// # Errors
    /// As [`Repeat::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule, ScheduleExt};
    ///
    /// assert_eq!(Linear::new(1.0, 0.0, 10)?.repeat(10)?.value(15), 0.5);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn repeat(self, period: u64) -> Result<Repeat<Self>, Error> {
        Repeat::new(period, self)
    }

    /// This schedule cycled with a decaying peak: see [`Restarts`].
    ///
    /// # Errors
    /// As [`Restarts::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule, ScheduleExt};
    ///
    /// let lr = Linear::new(1.0, 0.0, 10)?.restarts(10, 0.5, None)?;
    /// assert_eq!(lr.value(10), 0.5);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn restarts(
        self,
        period: u64,
        cycle_decay: f64,
        cycles: Option<u64>,
    ) -> Result<Restarts<Self>, Error> {
        Restarts::new(period, cycle_decay, cycles, self)
    }

    /// This schedule counted in epochs of `steps_per_epoch` steps: see [`PerEpoch`].
    ///
    /// # Errors
    /// As [`PerEpoch::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule, ScheduleExt};
    ///
    /// assert_eq!(Linear::new(1.0, 0.0, 10)?.per_epoch(100)?.value(250), 0.75);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn per_epoch(self, steps_per_epoch: u64) -> Result<PerEpoch<Self>, Error> {
        PerEpoch::new(steps_per_epoch, self)
    }

    /// This schedule on the training fraction of `total_steps`: see [`OnFraction`].
    ///
    /// # Errors
    /// As [`OnFraction::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule, ScheduleExt};
    ///
    /// assert_eq!(Linear::new(1.0, 0.0, 1)?.on_fraction(200)?.value(50), 0.75);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn on_fraction(self, total_steps: u64) -> Result<OnFraction<Self>, Error> {
        OnFraction::new(total_steps, self)
    }

    /// This schedule driven by a micro-step counter: see [`Accumulate`].
    ///
    /// # Errors
    /// As [`Accumulate::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule, ScheduleExt};
    ///
    /// assert_eq!(Linear::new(1.0, 0.0, 10)?.accumulate(8)?.value(17), 0.8);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn accumulate(self, micro_steps: u64) -> Result<Accumulate<Self>, Error> {
        Accumulate::new(micro_steps, self)
    }
}

impl<S: Schedule + Sized> ScheduleExt for S {}

impl Join<Box<dyn Schedule>> {
    /// Appends `next`, starting at absolute step `at`; makes `a.then(..).then(..)` one
    /// flat [`Join`] instead of nested ones.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `boundaries` if `at` is not after the last one.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Schedule, ScheduleExt};
    ///
    /// let j = 1.0.then(5, 2.0)?.then(9, 3.0)?;
    /// assert_eq!(j.boundaries(), &[5, 9]);
    /// assert!(2.0.then(5, 1.0)?.then(5, 0.0).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn then<N: Schedule + 'static>(self, at: u64, next: N) -> Result<Self, Error> {
        self.push(at, Box::new(next))
    }
}

impl ScheduleSpec {
    /// This spec until step `at`, then `next`; appends to a top-level [`Join`] instead of
    /// nesting one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `boundaries` if `at` is not after the last one.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule, ScheduleSpec};
    ///
    /// let spec = ScheduleSpec::from(Linear::new(0.0, 1.0, 10)?)
    ///     .then(10, Linear::new(1.0, 0.0, 10)?)?
    ///     .then(20, Linear::new(0.1, 0.1, 1)?)?;
    /// assert_eq!(spec.name(), "join");
    /// assert_eq!(spec.value(15), 0.5);
    /// assert_eq!(spec.value(25), 0.1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn then(self, at: u64, next: impl Into<ScheduleSpec>) -> Result<ScheduleSpec, Error> {
        let next = Box::new(next.into());
        let join = match self {
            ScheduleSpec::Join(join) => join.push(at, next)?,
            first => Join::new(vec![at], vec![Box::new(first), next])?,
        };
        Ok(ScheduleSpec::Join(join))
    }
}

/// `From<Combinator<ScheduleSpec>> for ScheduleSpec`: box the children of a combinator
/// built with the generic API so it can be serialised.
macro_rules! spec_from_generic {
    ($($comb:ident),* $(,)?) => {$(
        impl From<$comb<ScheduleSpec>> for ScheduleSpec {
            fn from(c: $comb<ScheduleSpec>) -> Self {
                ScheduleSpec::from(c.map(Box::new))
            }
        }
    )*};
}

spec_from_generic!(
    Warmup, Join, Product, Scale, Clamp, Delay, Repeat, Restarts, PerEpoch, OnFraction, Accumulate,
    Cycles,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Linear;
    use crate::testing::{assert_values, close};
    use proptest::prelude::*;

    fn spec_tree() -> ScheduleSpec {
        let decay = ScheduleSpec::from(Linear::new(1.0, 0.1, 90).unwrap());
        let warm = ScheduleSpec::from(decay.clone().warmup(Anneal::Cosine, 10, 0.0).unwrap());
        let joined = warm.then(100, Linear::new(0.1, 0.0, 50).unwrap()).unwrap();
        let parts = [
            ScheduleSpec::from(joined.clone().scale(2.0).unwrap()),
            ScheduleSpec::from(joined.clone().clamp(0.05, 1.5).unwrap()),
            ScheduleSpec::from(joined.clone().delay(3)),
            ScheduleSpec::from(joined.clone().repeat(200).unwrap()),
            ScheduleSpec::from(decay.clone().restarts(90, 0.5, Some(3)).unwrap()),
            ScheduleSpec::from(joined.clone().per_epoch(7).unwrap()),
            ScheduleSpec::from(
                ScheduleSpec::from(Linear::new(1.0, 0.0, 1).unwrap())
                    .on_fraction(150)
                    .unwrap(),
            ),
            ScheduleSpec::from(joined.accumulate(2).unwrap()),
        ];
        ScheduleSpec::from(Product::new(parts.to_vec()).unwrap())
    }

    #[test]
    fn chained_methods_match_the_types() {
        let generic = Linear::new(1.0, 0.1, 90)
            .unwrap()
            .warmup(Anneal::Cosine, 10, 0.0)
            .unwrap()
            .then(100, Linear::new(0.1, 0.0, 50).unwrap())
            .unwrap()
            .scale(2.0)
            .unwrap();
        let spec = ScheduleSpec::from(
            ScheduleSpec::from(Linear::new(1.0, 0.1, 90).unwrap())
                .warmup(Anneal::Cosine, 10, 0.0)
                .unwrap(),
        )
        .then(100, Linear::new(0.1, 0.0, 50).unwrap())
        .unwrap()
        .scale(2.0)
        .unwrap();
        for t in [0, 5, 10, 50, 99, 100, 125, 150, u64::MAX] {
            assert!(close(generic.value(t), spec.value(t), 1e-15), "{t}");
        }
        assert_values(
            &generic,
            &[(0, 0.0), (5, 1.0), (10, 2.0), (100, 0.2), (150, 0.0)],
            1e-14,
        );
    }

    #[test]
    fn spec_forwards_continuous_time() {
        let spec = ScheduleSpec::from(
            ScheduleSpec::from(Linear::new(1.0, 0.0, 10).unwrap())
                .per_epoch(4)
                .unwrap(),
        );
        assert!(close(spec.value(10), 0.75, 1e-15));
        let nested =
            ScheduleSpec::from(ScheduleSpec::from(Linear::new(1.0, 0.0, 10).unwrap()).delay(2));
        assert!(close(nested.value_at(4.5), 0.75, 1e-15));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn spec_json_round_trip_and_validation() {
        let spec = spec_tree();
        let json = serde_json::to_string(&spec).unwrap();
        let back: ScheduleSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        for t in [0, 1, 9, 10, 99, 100, 149, 150, 151, 1_000, u64::MAX] {
            assert_eq!(back.value(t).to_bits(), spec.value(t).to_bits());
        }
        let warm: ScheduleSpec = serde_json::from_str(
            r#"{"type":"warmup","shape":"linear","steps":10,"init":0.0,
                "schedule":{"type":"constant","value":0.1}}"#,
        )
        .unwrap();
        assert_eq!(warm.value(5), 0.05);
        let floor: ScheduleSpec = serde_json::from_str(
            r#"{"type":"clamp","min":0.2,"schedule":{"type":"constant","value":0.1}}"#,
        )
        .unwrap();
        assert_eq!(floor.value(0), 0.2);
        assert_eq!(
            serde_json::to_string(&floor).unwrap(),
            r#"{"type":"clamp","min":0.2,"schedule":{"type":"constant","value":0.1}}"#
        );
        let bad = serde_json::from_str::<ScheduleSpec>(
            r#"{"type":"join","boundaries":[5,3],"schedules":[
                {"type":"constant","value":1.0},{"type":"constant","value":2.0},{"type":"constant","value":3.0}]}"#,
        )
        .unwrap_err();
        assert!(bad.to_string().contains("boundaries[0] = 5"), "{bad}");
        let nested_bad = serde_json::from_str::<ScheduleSpec>(
            r#"{"type":"scale","factor":2.0,"schedule":{"type":"repeat","period":0,"schedule":{"type":"constant","value":1.0}}}"#,
        )
        .unwrap_err();
        assert!(
            nested_bad.to_string().contains("`period` = 0"),
            "{nested_bad}"
        );
        let unknown = serde_json::from_str::<ScheduleSpec>(
            r#"{"type":"delay","steps":1,"shift":2,"schedule":{"type":"constant","value":1.0}}"#,
        )
        .unwrap_err();
        assert!(unknown.to_string().contains("unknown field"), "{unknown}");
    }

    #[cfg(feature = "serde")]
    proptest! {
        #[test]
        fn serde_round_trip_is_identical(
            init in 1e-6..1.0f64, steps in 0u64..1000, overlay in any::<bool>(),
            bounds in proptest::collection::vec(1u64..100, 1..6),
            decay in 0.1..2.0f64, cycles in proptest::option::of(1u64..10),
            lo in proptest::option::of(0.0..0.5f64), spe in 1u64..100,
        ) {
            let leaf = || ScheduleSpec::from(Linear::new(1.0, 0.25, 50).unwrap());
            let mode = if overlay { WarmupMode::Overlay } else { WarmupMode::Prefix };
            let mut at = 0;
            let bounds: Vec<u64> = bounds.iter().map(|b| { at += b; at }).collect();
            let pieces = (0..=bounds.len()).map(|_| leaf()).collect();
            let tree = ScheduleSpec::from(Join::new(bounds, pieces).unwrap());
            let tree = ScheduleSpec::from(Warmup::new(Anneal::Exponential, steps, init, mode, tree).unwrap());
            let tree = ScheduleSpec::from(leaf().restarts(50, decay, cycles).unwrap()).then(5_000, tree).unwrap();
            let tree = ScheduleSpec::from(Clamp::new(lo, Some(1.5), tree).unwrap());
            let tree = ScheduleSpec::from(tree.per_epoch(spe).unwrap());
            let json = serde_json::to_string(&tree).unwrap();
            let back: ScheduleSpec = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &tree);
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
    }

    proptest! {
        #[test]
        fn spec_tree_is_total_and_matches_value_at(t in any::<u64>()) {
            let spec = spec_tree();
            prop_assert!(spec.value(t).is_finite());
            let t = t % 10_000;
            prop_assert!(close(spec.value(t), spec.value_at(t as f64), 1e-12));
        }
    }
}
