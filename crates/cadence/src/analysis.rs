//! Analysis of schedules: half-life, matched step/exponential decays, the areas that
//! scaling laws are written in, a summary of a run, and allocation-free sampling.
//!
//! Everything here is generic over `S: Schedule + ?Sized`, so it works on concrete
//! families, on `dyn Schedule` and on a [`ScheduleSpec`](crate::ScheduleSpec).
//!
//! ```
//! use cadence::analysis::{area, half_life, summary};
//! use cadence::{Cosine, Schedule};
//!
//! let lr = Cosine::new(1.0, 0.0, 100)?;
//! assert_eq!(half_life(&lr, 0), Some(50));
//! assert!((area(&lr, 0..100) - 50.5).abs() < 1e-12);
//! let s = summary(&lr, 0..100).expect("non-empty");
//! assert_eq!((s.peak_step, s.min_step), (0, 99));
//! # Ok::<(), cadence::Error>(())
//! ```

use crate::error::{Error, check};
use crate::families::{Exponential, Step};
use crate::schedule::Schedule;
use std::ops::Range;

/// The number of steps after `step` until the value has halved: the smallest `h >= 1`
/// with `value(step + h) <= value(step) / 2`.
///
/// The search gallops (`h = 1, 2, 4, ...` up to the end of `u64`) and then bisects, so it
/// costs at most 128 evaluations whatever the answer. The result is exact for schedules
/// that do not increase after `step` (every decaying family). For others it is still a
/// step where the value crossed the half (`value(step + h - 1) > value(step) / 2 >=
/// value(step + h)`), though not necessarily the first one.
///
/// Returns `None` when `value(step) <= 0` (a half-life is not defined) or when the value
/// never halves up to `u64::MAX`; for a schedule that rises and falls again it may also
/// miss a halving that lies between the galloping samples. Steps are read as `f64` by
/// most families, so beyond `2^53` the answer is only as fine as the schedule's clock.
///
/// # Examples
///
/// ```
/// use cadence::analysis::half_life;
/// use cadence::{Exponential, Linear};
///
/// assert_eq!(half_life(&Exponential::from_half_life(1.0, 700)?, 0), Some(700));
/// assert_eq!(half_life(&Linear::new(1.0, 0.0, 100)?, 0), Some(50));
/// assert_eq!(half_life(&Linear::new(1.0, 0.0, 100)?, 50), Some(25));
/// assert_eq!(half_life(&0.1, 0), None);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn half_life<S: Schedule + ?Sized>(schedule: &S, step: u64) -> Option<u64> {
    let v0 = schedule.value(step);
    if v0.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let target = v0 / 2.0;
    let halved = |h: u64| schedule.value(step + h) <= target;
    let max_h = u64::MAX - step;
    if max_h == 0 {
        return None;
    }
    // Gallop: lo has not halved (lo = 0 is v0 itself), hi has.
    let (mut lo, mut hi) = (0u64, 1u64);
    loop {
        if halved(hi) {
            break;
        }
        if hi == max_h {
            return None;
        }
        lo = hi;
        hi = hi.saturating_mul(2).min(max_h);
    }
    // Bisect: keep value(step + lo) > target >= value(step + hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if halved(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// The step decay that halves every `half_life` steps: a staircase.
///
/// ```text
/// value(t) = init * 0.5^floor(t / half_life)
/// ```
///
/// With [`matched_exponential`] it is the pair the half-life unifies: the same long-run
/// decay, the same values at every multiple of `half_life`, different paths in between.
/// The staircase stays higher: over each half-life it spends `2 ln 2 = 1.386` times the
/// learning-rate area of the smooth decay.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` is not finite or `half_life` is 0.
///
/// # Examples
///
/// ```
/// use cadence::analysis::{area, half_life, matched_exponential, matched_staircase};
/// use cadence::Schedule;
///
/// let stairs = matched_staircase(0.1, 1000)?;
/// let smooth = matched_exponential(0.1, 1000)?;
/// assert_eq!(half_life(&stairs, 0), Some(1000));
/// assert_eq!(half_life(&smooth, 0), Some(1000));
/// assert_eq!(stairs.value(3000), smooth.value(3000));
/// assert!(stairs.value(1500) > smooth.value(1500));
/// let ratio = area(&stairs, 0..1000) / area(&smooth, 0..1000);
/// assert!((ratio - 2.0 * 2f64.ln()).abs() < 1e-3);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn matched_staircase(init: f64, half_life: u64) -> Result<Step, Error> {
    check::at_least_one("half_life", half_life)?;
    Step::new(init, 0.5, half_life as f64)
}

/// The continuous exponential decay that halves every `half_life` steps.
///
/// ```text
/// value(t) = init * 0.5^(t / half_life)
/// ```
///
/// See [`matched_staircase`] for its step-decay twin.
///
/// # Errors
/// [`Error::InvalidParameter`] if `init` is not finite or `half_life` is 0.
///
/// # Examples
///
/// ```
/// use cadence::analysis::matched_exponential;
/// use cadence::Schedule;
///
/// let s = matched_exponential(1.0, 10)?;
/// assert_eq!(s.value(10), 0.5);
/// assert!((s.value(5) - 0.5_f64.sqrt()).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn matched_exponential(init: f64, half_life: u64) -> Result<Exponential, Error> {
    check::at_least_one("half_life", half_life)?;
    Exponential::from_half_life(init, half_life)
}

/// A compensated (Neumaier) running sum: long sums of small terms keep full precision.
#[derive(Default)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    #[inline]
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    #[inline]
    fn total(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// The area under the schedule over `steps`: `S1 = sum of value(t) for t in steps`.
///
/// For a learning rate this is the total distance budget of the run (the "forward area"
/// `S1` of Tissue et al. 2024, `sum_{i=1..s} eta_i` for `steps = 1..s + 1`). Summed with
/// compensation; costs one evaluation per step.
///
/// # Examples
///
/// ```
/// use cadence::analysis::area;
/// use cadence::Linear;
///
/// assert_eq!(area(&0.5, 0..10), 5.0);
/// assert_eq!(area(&Linear::new(1.0, 0.0, 4)?, 0..5), 2.5); // 1 + .75 + .5 + .25 + 0
/// assert_eq!(area(&0.5, 3..3), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn area<S: Schedule + ?Sized>(schedule: &S, steps: Range<u64>) -> f64 {
    let mut sum = Sum::default();
    for t in steps {
        sum.add(schedule.value(t));
    }
    sum.total()
}

/// The annealing area `S2` of Tissue et al. 2024 at step `t` with decay factor `lambda`.
///
/// ```text
/// S2(t) = sum_{i=1..t} sum_{k=1..i} (eta_{k-1} - eta_k) * lambda^(i-k),   eta_k = value(k)
///       = sum_{i=1..t} m_i,   m_i = lambda * m_{i-1} + (eta_{i-1} - eta_i),   m_0 = 0
/// ```
///
/// Each drop of the learning rate adds to a momentum `m` that keeps paying out with
/// decay `lambda` (the paper fits `lambda` around 0.999): the loss reduction due to
/// annealing in `L(s) = L0 + A * S1^-alpha - C * S2`. Computed with the recursion in
/// `O(t)` evaluations and no allocation.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `lambda` unless `0 <= lambda <= 1`.
///
/// # Examples
///
/// ```
/// use cadence::analysis::annealing_area;
/// use cadence::{Linear, MultiStep};
///
/// // A single drop of 0.5 at step 2, lambda = 0.5: m = 0.5, 0.25, 0.125 at steps 2, 3, 4.
/// let drop = MultiStep::new(1.0, 0.5, vec![2])?;
/// assert_eq!(annealing_area(&drop, 4, 0.5)?, 0.875);
/// // lambda = 0 (no memory): S2 is the total drop, eta_0 - eta_t.
/// assert!((annealing_area(&Linear::new(1.0, 0.0, 10)?, 6, 0.0)? - 0.6).abs() < 1e-15);
/// assert!(annealing_area(&drop, 4, 1.5).is_err());
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Tissue, Wang, et al. 2024, "Scaling Law with Learning Rate Annealing", eq. (1)-(3).
pub fn annealing_area<S: Schedule + ?Sized>(
    schedule: &S,
    t: u64,
    lambda: f64,
) -> Result<f64, Error> {
    check::in_range("lambda", lambda, 0.0, 1.0)?;
    let mut sum = Sum::default();
    let mut momentum = 0.0;
    let mut previous = schedule.value(0);
    for i in 1..=t {
        let current = schedule.value(i);
        momentum = lambda * momentum + (previous - current);
        sum.add(momentum);
        previous = current;
    }
    Ok(sum.total())
}

/// The headline numbers of a schedule over a range of steps; see [`summary`].
///
/// # Examples
///
/// ```
/// use cadence::analysis::summary;
/// use cadence::Linear;
///
/// let s = summary(&Linear::new(0.0, 1.0, 10)?, 0..5).expect("non-empty");
/// assert_eq!((s.peak, s.peak_step, s.min, s.min_step), (0.4, 4, 0.0, 0));
/// assert_eq!(s.final_value, 0.4);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The largest value.
    pub peak: f64,
    /// The first step at which `peak` is reached.
    pub peak_step: u64,
    /// The smallest value.
    pub min: f64,
    /// The first step at which `min` is reached.
    pub min_step: u64,
    /// The value at the last step of the range.
    pub final_value: f64,
    /// The area `S1` over the range (see [`area`]).
    pub area: f64,
}

/// Peak, minimum, final value and area of the schedule over `steps`, in one pass.
///
/// Returns `None` for an empty range.
///
/// # Examples
///
/// ```
/// use cadence::analysis::summary;
/// use cadence::{Cosine, Overrun};
///
/// let wave = Cosine::new(1.0, 0.0, 10)?.with_overrun(Overrun::Continue);
/// let s = summary(&wave, 5..26).expect("non-empty");
/// assert_eq!((s.peak_step, s.min_step), (20, 10));
/// assert!((s.final_value - 0.5).abs() < 1e-15);
/// assert!(summary(&wave, 3..3).is_none());
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn summary<S: Schedule + ?Sized>(schedule: &S, steps: Range<u64>) -> Option<Summary> {
    let first = steps.start;
    if steps.is_empty() {
        return None;
    }
    let v = schedule.value(first);
    let mut s = Summary {
        peak: v,
        peak_step: first,
        min: v,
        min_step: first,
        final_value: v,
        area: 0.0,
    };
    let mut sum = Sum::default();
    sum.add(v);
    for t in first + 1..steps.end {
        let v = schedule.value(t);
        if v > s.peak {
            (s.peak, s.peak_step) = (v, t);
        }
        if v < s.min {
            (s.min, s.min_step) = (v, t);
        }
        s.final_value = v;
        sum.add(v);
    }
    s.area = sum.total();
    Some(s)
}

/// Writes `value(start + i)` into `out[i]` for every `i`: sampling without allocation.
///
/// Steps past `u64::MAX` read `u64::MAX`.
///
/// # Examples
///
/// ```
/// use cadence::analysis::fill;
/// use cadence::Linear;
///
/// let mut buf = [0.0; 4];
/// fill(&Linear::new(1.0, 0.0, 4)?, 1, &mut buf);
/// assert_eq!(buf, [0.75, 0.5, 0.25, 0.0]);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn fill<S: Schedule + ?Sized>(schedule: &S, start: u64, out: &mut [f64]) {
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = schedule.value(start.saturating_add(i as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::{Cosine, Linear, Overrun};
    use crate::schedule::from_fn;
    use crate::testing::close;
    use proptest::prelude::*;

    #[test]
    fn half_life_edges() {
        let e = Exponential::from_half_life(1.0, 3).unwrap();
        assert_eq!(half_life(&e, 0), Some(3));
        assert_eq!(half_life(&e, 1_000), Some(3));
        assert_eq!(half_life(&e, u64::MAX), None);
        // Far-away half-life is still found within 128 evaluations (2^45 steps stay
        // exact in f64; near 2^62 the clock itself rounds).
        let slow = Exponential::from_half_life(1.0, 1 << 45).unwrap();
        assert_eq!(half_life(&slow, 0), Some(1 << 45));
        // Never halves: the floor stops the decay.
        let floored = e.with_end(0.6).unwrap();
        assert_eq!(half_life(&floored, 0), None);
        assert_eq!(half_life(&-1.0, 0), None);
        assert_eq!(half_life(&0.0, 0), None);
        // Non-monotone: still a crossing.
        let wave = Cosine::new(1.0, 0.0, 10)
            .unwrap()
            .with_overrun(Overrun::Continue);
        let h = half_life(&wave, 15).unwrap();
        let target = wave.value(15) / 2.0;
        assert!(wave.value(15 + h - 1) > target && wave.value(15 + h) <= target);
        // The gallop samples 12 + 2^j, which never lands in the trough around step 10
        // of this period-20 wave: a halving between samples can be missed.
        assert_eq!(half_life(&wave, 12), None);
    }

    #[test]
    fn matched_pair_agrees_at_multiples_of_the_half_life() {
        let stairs = matched_staircase(0.3, 7).unwrap();
        let smooth = matched_exponential(0.3, 7).unwrap();
        for k in 0..10u64 {
            assert!(close(stairs.value(7 * k), smooth.value(7 * k), 1e-15));
            assert!(stairs.value(7 * k + 3) > smooth.value(7 * k + 3));
        }
        assert!(matched_staircase(0.3, 0).is_err());
        assert!(matched_exponential(f64::NAN, 3).is_err());
    }

    #[test]
    fn summary_and_fill_agree_with_value() {
        let s = Linear::new(2.0, 0.0, 8).unwrap();
        let mut buf = [f64::NAN; 12];
        fill(&s, 2, &mut buf);
        for (i, v) in buf.iter().enumerate() {
            assert_eq!(*v, s.value(2 + i as u64));
        }
        let mut tail = [0.0; 3];
        fill(&s, u64::MAX - 1, &mut tail);
        assert_eq!(tail, [0.0; 3]);
        let sum = summary(&s, 2..14).unwrap();
        assert_eq!((sum.peak, sum.peak_step), (1.5, 2));
        assert_eq!((sum.min, sum.min_step), (0.0, 8));
        assert_eq!(sum.final_value, 0.0);
        assert!(close(sum.area, buf.iter().sum(), 1e-15));
        let dynamic: &dyn Schedule = &s;
        assert_eq!(summary(dynamic, 2..14), Some(sum));
    }

    #[test]
    fn area_is_compensated() {
        // 10^6 terms of 0.1: a naive f64 sum is off by about 1e-6 relative.
        let a = area(&0.1, 0..1_000_000);
        assert!((a - 100_000.0).abs() < 1e-9, "{a}");
    }

    proptest! {
        #[test]
        fn annealing_area_equals_the_double_sum(
            values in proptest::collection::vec(0.0..1.0f64, 1..40), lambda in 0.0..=1.0f64,
        ) {
            let table = values.clone();
            let s = from_fn(move |t| table[(t as usize).min(table.len() - 1)]);
            let t = values.len() as u64 + 3;
            let eta = |k: u64| s.value(k);
            let mut direct = 0.0;
            for i in 1..=t {
                for k in 1..=i {
                    direct += (eta(k - 1) - eta(k)) * lambda.powi((i - k) as i32);
                }
            }
            let fast = annealing_area(&s, t, lambda).unwrap();
            prop_assert!((fast - direct).abs() <= 1e-9 * (1.0 + direct.abs()), "{fast} vs {direct}");
        }

        #[test]
        fn half_life_is_the_first_halving_for_decays(
            init in 1e-3..1e3f64, rate in 0.01..0.99f64, ts in 1u64..500, step in 0u64..10_000,
        ) {
            let s = Exponential::new(init, rate, ts).unwrap();
            prop_assume!(s.value(step) > 1e-300);
            let h = half_life(&s, step).unwrap();
            let target = s.value(step) / 2.0;
            prop_assert!(s.value(step + h) <= target);
            prop_assert!(s.value(step + h - 1) > target);
        }
    }
}
