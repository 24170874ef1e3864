//! A path through knots at real-valued times: the primitive the recipes are built on.

use crate::error::{Error, check};
use crate::schedule::{Schedule, finite_or_saturate};
use crate::shape::Anneal;
use crate::spec::Validate;

/// A path through `(time, value)` knots, each segment an [`Anneal`], held constant before
/// the first knot and after the last.
///
/// ```text
/// knots (t_0, v_0), (t_1, v_1), ..., (t_n, v_n) with t_0 <= t_1 <= ... <= t_n
///
/// value(t) = v_0                                                   t < t_0
///            anneal_i.interpolate(v_i, v_{i+1}, (t - t_i) / (t_{i+1} - t_i))
///                                                                  t_i <= t < t_{i+1}
///            v_n                                                   t >= t_n
/// ```
///
/// Knot times are real numbers, so a phase may end between two steps (PyTorch's
/// `OneCycleLR` ends its warmup at `pct_start * total_steps - 1`). Two knots at one time
/// make a jump; the path is right-continuous, so the value *at* that time is the later
/// knot's. Evaluation is a binary search and one interpolation, without allocation.
/// [`OneCycle`](crate::OneCycle), [`WarmupStableDecay`](crate::WarmupStableDecay),
/// [`SwaAnneal`](crate::SwaAnneal), [`Cyclical`](crate::Cyclical) and every cycle of
/// [`CosineRestarts`](crate::CosineRestarts) are evaluated as such a path.
///
/// # Parameters
/// - `knots`: at least one `(time, value)` pair; times finite, `>= 0` and non-decreasing;
///   values finite.
/// - `anneal`: one [`Anneal`] for every segment ([`SegmentAnneal::Uniform`]) or one per
///   segment ([`SegmentAnneal::PerSegment`], `knots.len() - 1` of them).
///
/// # Errors
/// [`Error::InvalidParameter`] naming `knots` if there are none, a time is negative, not
/// finite or smaller than the one before, or a value is not finite; naming `anneal` if
/// the per-segment list has the wrong length; and the [`Anneal::check_ends`] error when an
/// exponential segment joins a zero or a sign change.
///
/// # Examples
///
/// ```
/// use cadence::{Anneal, PiecewiseInterpolate, Schedule};
///
/// // optax.piecewise_interpolate_schedule("linear", 0.1, {20: 0.5, 50: 0.1, 80: 10.0})
/// let s = PiecewiseInterpolate::from_scales(0.1, &[(20, 0.5), (50, 0.1), (80, 10.0)], Anneal::Linear)?;
/// assert_eq!(s.value(0), 0.1);
/// assert!((s.value(10) - 0.075).abs() < 1e-15);  // half-way from 0.1 to 0.05
/// assert!((s.value(80) - 0.05).abs() < 1e-15);   // 0.1 * 0.5 * 0.1 * 10
/// assert!((s.value_at(65.0) - 0.0275).abs() < 1e-15); // half-way from 0.005 to 0.05
/// assert!((s.value(1_000) - 0.05).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `optax.piecewise_interpolate_schedule`; the phase tables of PyTorch's `OneCycleLR`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct PiecewiseInterpolate {
    knots: Vec<(f64, f64)>,
    anneal: SegmentAnneal,
}

/// The [`Anneal`] of each segment of a [`PiecewiseInterpolate`] path.
///
/// Serialised as a single anneal name (`"cosine"`) or a list of names (`["linear",
/// "cosine"]`).
///
/// # Examples
///
/// ```
/// use cadence::{Anneal, SegmentAnneal};
///
/// assert_eq!(SegmentAnneal::Uniform(Anneal::Cosine).get(3), Anneal::Cosine);
/// let each = SegmentAnneal::PerSegment(vec![Anneal::Linear, Anneal::Sqrt]);
/// assert_eq!(each.get(1), Anneal::Sqrt);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
pub enum SegmentAnneal {
    /// The same anneal for every segment.
    Uniform(Anneal),
    /// One anneal per segment, in order.
    PerSegment(Vec<Anneal>),
}

impl SegmentAnneal {
    /// The anneal of segment `i` (from knot `i` to knot `i + 1`); `Linear` past the list.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, SegmentAnneal};
    ///
    /// assert_eq!(SegmentAnneal::PerSegment(vec![Anneal::Cosine]).get(0), Anneal::Cosine);
    /// ```
    #[inline]
    pub fn get(&self, i: usize) -> Anneal {
        match self {
            SegmentAnneal::Uniform(a) => *a,
            SegmentAnneal::PerSegment(list) => list.get(i).copied().unwrap_or_default(),
        }
    }
}

impl PiecewiseInterpolate {
    /// A path through `knots` with the given segment anneal(s); see the type's documentation.
    ///
    /// # Errors
    /// As listed on the type: empty, unsorted, negative or non-finite knots; a per-segment
    /// list of the wrong length; an exponential segment through zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, PiecewiseInterpolate, Schedule, SegmentAnneal};
    ///
    /// let s = PiecewiseInterpolate::new(
    ///     vec![(0.0, 0.0), (10.0, 1.0), (30.0, 0.0)],
    ///     SegmentAnneal::PerSegment(vec![Anneal::Linear, Anneal::Cosine]),
    /// )?;
    /// assert_eq!(s.value(5), 0.5);
    /// assert!((s.value(20) - 0.5).abs() < 1e-15);
    /// assert!(PiecewiseInterpolate::new(vec![(2.0, 1.0), (1.0, 0.0)], Anneal::Linear.into()).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn new(knots: Vec<(f64, f64)>, anneal: SegmentAnneal) -> Result<Self, Error> {
        let s = PiecewiseInterpolate { knots, anneal };
        s.validate()?;
        Ok(s)
    }

    /// optax's `piecewise_interpolate_schedule` form: knots at step 0 (value `init`) and at
    /// each boundary, whose value is the previous value times the boundary's scale
    /// (cumulative product, in boundary order).
    ///
    /// # Errors
    /// `init` must be finite; boundaries must be distinct (`boundaries_and_scales`); scales
    /// finite and `>= 0` (`scale`); plus the rules of [`PiecewiseInterpolate::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, PiecewiseInterpolate, Schedule};
    ///
    /// let s = PiecewiseInterpolate::from_scales(1.0, &[(10, 0.5)], Anneal::Cosine)?;
    /// assert_eq!(s.knots(), &[(0.0, 1.0), (10.0, 0.5)]);
    /// assert!((s.value(5) - 0.75).abs() < 1e-15);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn from_scales(
        init: f64,
        boundaries_and_scales: &[(u64, f64)],
        anneal: Anneal,
    ) -> Result<Self, Error> {
        check::finite("init", init)?;
        let mut sorted = boundaries_and_scales.to_vec();
        sorted.sort_by_key(|&(b, _)| b);
        let mut knots = Vec::with_capacity(sorted.len() + 1);
        knots.push((0.0, init));
        let mut value = init;
        for (i, &(boundary, scale)) in sorted.iter().enumerate() {
            check::non_negative("scale", scale)?;
            if i > 0 && sorted[i - 1].0 == boundary {
                return Err(Error::invalid(
                    "boundaries_and_scales",
                    boundary,
                    "boundaries must be distinct",
                ));
            }
            value *= scale;
            knots.push((boundary as f64, value));
        }
        Self::new(knots, SegmentAnneal::Uniform(anneal))
    }

    /// The knots, `(time, value)` in time order.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, PiecewiseInterpolate};
    ///
    /// let s = PiecewiseInterpolate::new(vec![(0.0, 1.0)], Anneal::Linear.into())?;
    /// assert_eq!(s.knots(), &[(0.0, 1.0)]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn knots(&self) -> &[(f64, f64)] {
        &self.knots
    }

    /// The anneal of each segment.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Anneal, PiecewiseInterpolate, SegmentAnneal};
    ///
    /// let s = PiecewiseInterpolate::new(vec![(0.0, 1.0)], Anneal::Cosine.into())?;
    /// assert_eq!(s.anneal(), &SegmentAnneal::Uniform(Anneal::Cosine));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn anneal(&self) -> &SegmentAnneal {
        &self.anneal
    }
}

impl From<Anneal> for SegmentAnneal {
    fn from(a: Anneal) -> Self {
        SegmentAnneal::Uniform(a)
    }
}

/// Checks a knot path: non-empty, times finite, `>= 0` and non-decreasing, values finite,
/// exponential segments between non-zero values of one sign. `name` is the parameter
/// reported for knot errors.
pub(crate) fn check_path(
    name: &'static str,
    knots: &[(f64, f64)],
    anneal: impl Fn(usize) -> Anneal,
) -> Result<(), Error> {
    if knots.is_empty() {
        return Err(Error::invalid(name, "[]", "needs at least one knot"));
    }
    let mut prev = 0.0;
    for (i, &(t, v)) in knots.iter().enumerate() {
        if !t.is_finite() || t < prev {
            return Err(Error::invalid(
                name,
                format!("time {t} (knot {i})"),
                "knot times must be finite, >= 0 and non-decreasing",
            ));
        }
        if !v.is_finite() {
            return Err(Error::invalid(
                name,
                format!("value {v} (knot {i})"),
                "knot values must be finite",
            ));
        }
        if i > 0 {
            anneal(i - 1).check_ends(name, knots[i - 1].1, name, v)?;
        }
        prev = t;
    }
    Ok(())
}

/// The value of the knot path at time `t` (see [`PiecewiseInterpolate`]); the one copy of
/// the path arithmetic. `knots` must satisfy [`check_path`]; an empty slice reads 0.
#[inline]
pub(crate) fn path_value(knots: &[(f64, f64)], anneal: impl Fn(usize) -> Anneal, t: f64) -> f64 {
    // The knots at or before t. Up to 32 knots by counting them: independent comparisons
    // summed, where a binary search chains a load and a comparison per halving.
    let i = if knots.len() <= 32 {
        knots.iter().map(|&(tk, _)| usize::from(tk <= t)).sum()
    } else {
        knots.partition_point(|&(tk, _)| tk <= t)
    };
    if i == 0 {
        return knots.first().map_or(0.0, |k| k.1);
    }
    let (t0, v0) = knots[i - 1];
    let Some(&(t1, v1)) = knots.get(i) else {
        return v0;
    };
    finite_or_saturate(anneal(i - 1).interpolate(v0, v1, (t - t0) / (t1 - t0)))
}

impl Validate for PiecewiseInterpolate {
    fn validate(&self) -> Result<(), Error> {
        if let SegmentAnneal::PerSegment(list) = &self.anneal {
            let want = self.knots.len().saturating_sub(1);
            if list.len() != want {
                return Err(Error::invalid(
                    "anneal",
                    format!("{} anneals", list.len()),
                    format!("needs one per segment: {want}"),
                ));
            }
        }
        check_path("knots", &self.knots, |i| self.anneal.get(i))
    }
}

impl Schedule for PiecewiseInterpolate {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        path_value(&self.knots, |i| self.anneal.get(i), t.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    #[test]
    fn boundary_steps() {
        let s = PiecewiseInterpolate::from_scales(
            0.1,
            &[(20, 0.5), (50, 0.1), (80, 10.0)],
            Anneal::Linear,
        )
        .unwrap();
        assert_values(
            &s,
            &[
                (0, 0.1),
                (19, 0.05 + 0.05 / 20.0),
                (20, 0.05),
                (21, 0.05 - 0.045 / 30.0),
                (50, 0.005),
                (79, 0.005 + 0.045 * 29.0 / 30.0),
                (80, 0.05),
                (81, 0.05),
                (u64::MAX, 0.05),
            ],
            1e-14,
        );
        assert_total(&s, &[20, 50, 80]);
    }

    #[test]
    fn jumps_are_right_continuous() {
        let s = PiecewiseInterpolate::new(
            vec![(0.0, 1.0), (0.0, 2.0), (4.0, 2.0), (4.0, 0.0), (8.0, 4.0)],
            Anneal::Linear.into(),
        )
        .unwrap();
        assert_eq!(s.value(0), 2.0);
        assert_eq!(s.value(3), 2.0);
        assert_eq!(s.value(4), 0.0);
        assert_eq!(s.value(6), 2.0);
        assert_eq!(s.value_at(-1.0), 2.0);
        assert_eq!(s.value_at(f64::NAN), 2.0);
        // optax: a boundary at 0 takes effect at step 0.
        let z =
            PiecewiseInterpolate::from_scales(1.0, &[(0, 0.5), (2, 2.0)], Anneal::Linear).unwrap();
        assert_eq!(z.value(0), 0.5);
        assert_eq!(z.value(1), 0.75);
    }

    #[test]
    fn real_valued_knot_times() {
        let s =
            PiecewiseInterpolate::new(vec![(0.0, 0.0), (2.5, 1.0)], Anneal::Linear.into()).unwrap();
        assert!(close(s.value(1), 0.4, 1e-15));
        assert!(close(s.value(2), 0.8, 1e-15));
        assert_eq!(s.value(3), 1.0);
        assert!(close(s.value_at(1.25), 0.5, 1e-15));
    }

    #[test]
    fn per_segment_anneals() {
        let s = PiecewiseInterpolate::new(
            vec![(0.0, 0.0), (10.0, 1.0), (20.0, 0.25)],
            SegmentAnneal::PerSegment(vec![Anneal::Exponential, Anneal::Cosine]),
        )
        .unwrap_err();
        assert!(matches!(s, Error::InvalidParameter { name: "knots", .. }));
        let s = PiecewiseInterpolate::new(
            vec![(0.0, 0.0), (10.0, 1.0), (20.0, 0.25)],
            SegmentAnneal::PerSegment(vec![Anneal::Sqrt, Anneal::Cosine]),
        )
        .unwrap();
        assert!(close(s.value_at(2.5), 0.5, 1e-15));
        assert!(close(s.value(15), 0.625, 1e-15));
    }

    #[test]
    fn rejects_bad_parameters() {
        let err =
            |k: Vec<(f64, f64)>| PiecewiseInterpolate::new(k, Anneal::Linear.into()).unwrap_err();
        assert!(matches!(
            err(vec![]),
            Error::InvalidParameter { name: "knots", .. }
        ));
        assert!(matches!(
            err(vec![(-1.0, 0.0)]),
            Error::InvalidParameter { name: "knots", .. }
        ));
        assert!(matches!(
            err(vec![(0.0, f64::NAN)]),
            Error::InvalidParameter { name: "knots", .. }
        ));
        assert!(matches!(
            err(vec![(0.0, 1.0), (f64::INFINITY, 0.0)]),
            Error::InvalidParameter { name: "knots", .. }
        ));
        let wrong_len = PiecewiseInterpolate::new(
            vec![(0.0, 1.0), (1.0, 0.0)],
            SegmentAnneal::PerSegment(vec![]),
        );
        assert!(matches!(
            wrong_len,
            Err(Error::InvalidParameter { name: "anneal", .. })
        ));
        assert!(matches!(
            PiecewiseInterpolate::from_scales(1.0, &[(3, -1.0)], Anneal::Linear),
            Err(Error::InvalidParameter { name: "scale", .. })
        ));
        assert!(matches!(
            PiecewiseInterpolate::from_scales(1.0, &[(3, 1.0), (3, 2.0)], Anneal::Linear),
            Err(Error::InvalidParameter {
                name: "boundaries_and_scales",
                ..
            })
        ));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_forms() {
        use crate::ScheduleSpec;
        let spec: ScheduleSpec = serde_json::from_str(
            r#"{"type":"piecewise_interpolate","knots":[[0,1.0],[10,0.5]],"anneal":"cosine"}"#,
        )
        .unwrap();
        assert!(close(spec.value(5), 0.75, 1e-15));
        let each: ScheduleSpec = serde_json::from_str(
            r#"{"type":"piecewise_interpolate","knots":[[0,0.0],[1,1.0],[2,0.0]],"anneal":["linear","square"]}"#,
        )
        .unwrap();
        assert!(close(each.value_at(1.5), 0.75, 1e-15));
        let bad = serde_json::from_str::<ScheduleSpec>(
            r#"{"type":"piecewise_interpolate","knots":[[5,1.0],[1,0.5]],"anneal":"linear"}"#,
        );
        assert!(bad.is_err());
    }

    fn arb_path() -> impl Strategy<Value = PiecewiseInterpolate> {
        (
            proptest::collection::vec((0..40_000u32, -800..800i32), 1..8),
            prop_oneof![
                Just(Anneal::Linear),
                Just(Anneal::Cosine),
                Just(Anneal::Sqrt),
                Just(Anneal::Square)
            ],
        )
            .prop_map(|(raw, a)| {
                // Quarter steps and eighths: exact in binary, so JSON round-trips are exact.
                let mut knots: Vec<(f64, f64)> = raw
                    .into_iter()
                    .map(|(t, v)| (f64::from(t) / 4.0, f64::from(v) / 8.0))
                    .collect();
                knots.sort_by(|x, y| x.0.total_cmp(&y.0));
                PiecewiseInterpolate::new(knots, a.into()).unwrap()
            })
    }

    proptest! {
        #[test]
        fn bounded_by_knots_and_continuous_time(s in arb_path(), t in any::<u64>(), x in 0.0..2e4f64) {
            let lo = s.knots().iter().map(|k| k.1).fold(f64::INFINITY, f64::min);
            let hi = s.knots().iter().map(|k| k.1).fold(f64::NEG_INFINITY, f64::max);
            for v in [s.value(t), s.value_at(x)] {
                prop_assert!(v.is_finite() && v >= lo - 1e-12 && v <= hi + 1e-12);
            }
            prop_assert_eq!(s.value(t), s.value_at(t as f64));
        }

        #[test]
        fn passes_through_every_distinct_knot(s in arb_path()) {
            let k = s.knots();
            for (i, &(t, v)) in k.iter().enumerate() {
                let last_at_time = k.get(i + 1).is_none_or(|n| n.0 > t);
                if last_at_time {
                    prop_assert!(close(s.value_at(t), v, 1e-12));
                }
            }
        }

        #[cfg(feature = "serde")]
        #[test]
        fn serde_round_trip(s in arb_path()) {
            let spec = crate::ScheduleSpec::from(s);
            let back: crate::ScheduleSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
            prop_assert_eq!(back, spec);
        }
    }
}
