//! Cosine annealing with warm restarts (SGDR), in closed form for real-valued time.

use super::piecewise_interpolate::check_path;
use crate::derived::Derived;
use crate::error::{Error, check};
use crate::fastmath::{TWO_52, WithLn, log2_estimate, pow_int, small_to_f64};
use crate::schedule::{Schedule, finite_or_saturate};
use crate::shape::{Anneal, cosine_between, unit_fraction};
use crate::spec::Validate;

/// Cosine annealing with warm restarts (SGDR): cycle `k` lasts `first_period *
/// period_mult^k` steps, (warms up linearly from `init` for `warmup_steps`,) then anneals
/// along a cosine from `peak * peak_decay^k` to `end`; after `cycles` cycles, `end`.
///
/// ```text
/// P_k = first_period * m^k                          m = period_mult
/// S_k = first_period * k                            m = 1
///     = first_period * (m^k - 1) / (m - 1)          otherwise (start of cycle k)
/// k(t) = the k with S_k <= t < S_{k+1}              (closed form via logs, then exact)
/// u    = t - S_k,   w = min(warmup_steps, P_k),   peak_k = peak * peak_decay^k
///
/// value(t) = knot path (0, init) -linear-> (w, peak_k) -cosine-> (P_k, end) at u
///          = end + (peak_k - end) * (1 + cos(pi u / P_k)) / 2      when warmup_steps = 0
///          = end                     when k(t) >= cycles, or past the last of infinitely
///                                    many cycles (m < 1, t >= first_period / (1 - m))
/// ```
///
/// Time is real-valued and the cycle index is exact: it comes from logarithms and is then
/// corrected against the cycle starts `S_k`, which are computed exactly when `m^k` is
/// representable (integer and dyadic multipliers), so a restart lands exactly on its
/// step, also at fractional epochs.
///
/// Reproduces PyTorch `CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)` (including
/// `step(epoch)` with fractional epochs, read with [`Schedule::value_at`]), optax
/// `sgdr_schedule` of equal `warmup_cosine_decay_schedule` cycles (`cycles` = their
/// number), transformers `cosine_with_restarts` (after its warmup prefix: `first_period =
/// (T - W) / num_cycles`, `cycles = num_cycles`, `end = 0`) and timm's
/// `CosineLRScheduler` cycles (`cycle_mul`, `cycle_decay`, `cycle_limit`).
///
/// # Parameters
/// - `peak`: the value at the start of the first cycle (after its warmup), finite.
/// - `end`: the value every cycle anneals to, and the value after the last, finite.
/// - `first_period`: the length of cycle 0 in steps, real, finite and `> 0`.
/// - `period_mult` (default 1): finite and `> 0`; integers, non-integers and values below
///   1 all work.
/// - `peak_decay` (default 1): the factor applied to the peak at every restart, `>= 0`.
/// - `cycles` (default none): the number of cycles before holding `end`, at least 1.
/// - `warmup_steps` (default 0) and `init` (default 0): a linear warmup from `init` to
///   the cycle's peak at the start of every cycle, `warmup_steps >= 0`, real.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the parameter that breaks its rule above.
///
/// # Examples
///
/// ```
/// use cadence::{CosineRestarts, Schedule};
///
/// // torch CosineAnnealingWarmRestarts(T_0=10, T_mult=2, eta_min=0.0), base lr 0.1
/// let s = CosineRestarts::new(0.1, 0.0, 10.0)?.with_period_mult(2.0)?;
/// assert_eq!(s.value(0), 0.1);
/// assert!((s.value(5) - 0.05).abs() < 1e-15);
/// assert_eq!(s.value(10), 0.1);                    // restart; the next cycle lasts 20
/// assert!((s.value(20) - 0.05).abs() < 1e-15);
/// assert!((s.value_at(2.5) - 0.1 * (1.0 + (0.25 * std::f64::consts::PI).cos()) / 2.0).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// I. Loshchilov and F. Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
/// ICLR 2017 (arXiv:1608.03983); `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`;
/// `optax.sgdr_schedule`; `transformers.get_cosine_with_hard_restarts_schedule_with_warmup`;
/// `timm.scheduler.CosineLRScheduler`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct CosineRestarts {
    peak: f64,
    end: f64,
    first_period: f64,
    #[cfg_attr(feature = "serde", serde(default = "WithLn::one"))]
    period_mult: WithLn,
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    peak_decay: f64,
    #[cfg_attr(feature = "serde", serde(default))]
    cycles: Option<u64>,
    #[cfg_attr(feature = "serde", serde(default))]
    warmup_steps: f64,
    #[cfg_attr(feature = "serde", serde(default))]
    init: f64,
    #[cfg_attr(feature = "serde", serde(skip))]
    table: Derived<Table>,
    #[cfg_attr(feature = "serde", serde(skip))]
    equal: Derived<EqualPeriods>,
}

/// The reciprocals equal periods (`m = 1`) need, derived at validation so that no division
/// waits on the evaluation's path.
#[derive(Debug, Clone, Copy)]
struct EqualPeriods {
    /// `1 / p0`: the cycle is `t / p0`, settled against the exact starts.
    inv_period: f64,
    /// `1 / (p0 - w)`, `w` the warmup within a cycle.
    inv_decay: f64,
}

#[cfg(feature = "serde")]
fn one() -> f64 {
    1.0
}

/// `m^k` for an integer-valued `k >= 0`; exact whenever the result is representable
/// (square-and-multiply below 64, correctly rounded `powf` above).
#[inline]
pub(crate) fn pow_k(m: f64, k: f64) -> f64 {
    pow_int(m, k as u64)
}

impl CosineRestarts {
    /// Restarts of period `first_period` from `peak` to `end`, with no period growth, no
    /// peak decay, no cycle limit and no warmup.
    ///
    /// # Errors
    /// `peak`, `end` finite; `first_period` finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{CosineRestarts, Schedule};
    ///
    /// let s = CosineRestarts::new(1.0, 0.0, 4.0)?;
    /// assert_eq!(s.value(4), 1.0);
    /// assert!(CosineRestarts::new(1.0, 0.0, 0.0).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn new(peak: f64, end: f64, first_period: f64) -> Result<Self, Error> {
        CosineRestarts {
            peak,
            end,
            first_period,
            period_mult: WithLn::new(1.0),
            peak_decay: 1.0,
            cycles: None,
            warmup_steps: 0.0,
            init: 0.0,
            table: Derived::default(),
            equal: Derived::default(),
        }
        .validated()
    }

    /// Checks the parameters and builds the cycle table anew (a builder's `..self` carries
    /// the old parameters' table along).
    fn validated(mut self) -> Result<Self, Error> {
        self.table.reset();
        self.equal.reset();
        self.validate()?;
        Ok(self)
    }

    /// Sets the period multiplier `m`: cycle `k` lasts `first_period * m^k`.
    ///
    /// # Errors
    /// `period_mult` must be finite and `> 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{CosineRestarts, Schedule};
    ///
    /// // Periods 8, 4, 2, 1, ...: infinitely many cycles before step 16, then `end`.
    /// let s = CosineRestarts::new(1.0, 0.0, 8.0)?.with_period_mult(0.5)?;
    /// assert_eq!(s.value(12), 1.0);
    /// assert_eq!(s.value(16), 0.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_period_mult(self, period_mult: f64) -> Result<Self, Error> {
        CosineRestarts {
            period_mult: WithLn::new(period_mult),
            ..self
        }
        .validated()
    }

    /// Sets the factor applied to the peak at every restart (timm's `cycle_decay`).
    ///
    /// # Errors
    /// `peak_decay` must be finite and `>= 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{CosineRestarts, Schedule};
    ///
    /// let s = CosineRestarts::new(1.0, 0.0, 10.0)?.with_peak_decay(0.5)?;
    /// assert_eq!(s.value(20), 0.25);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_peak_decay(self, peak_decay: f64) -> Result<Self, Error> {
        CosineRestarts { peak_decay, ..self }.validated()
    }

    /// Stops after `cycles` cycles and holds `end` (timm's `cycle_limit`).
    ///
    /// # Errors
    /// `cycles` must be at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{CosineRestarts, Schedule};
    ///
    /// let s = CosineRestarts::new(1.0, 0.1, 10.0)?.with_cycles(2)?;
    /// assert_eq!(s.value(10), 1.0);
    /// assert_eq!(s.value(20), 0.1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_cycles(self, cycles: u64) -> Result<Self, Error> {
        CosineRestarts {
            cycles: Some(cycles),
            ..self
        }
        .validated()
    }

    /// Starts every cycle with a linear warmup from `init` to the cycle's peak over
    /// `warmup_steps` (optax `sgdr_schedule` of `warmup_cosine_decay_schedule`s, whose
    /// `decay_steps` is the whole cycle).
    ///
    /// # Errors
    /// `init` finite, `warmup_steps` finite and `>= 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{CosineRestarts, Schedule};
    ///
    /// let s = CosineRestarts::new(1.0, 0.0, 10.0)?.with_warmup(0.0, 2.0)?;
    /// assert_eq!(s.value(11), 0.5);
    /// assert_eq!(s.value(12), 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_warmup(self, init: f64, warmup_steps: f64) -> Result<Self, Error> {
        CosineRestarts {
            init,
            warmup_steps,
            ..self
        }
        .validated()
    }

    /// The cycle containing time `t >= 0` ([`Located`]), or `None` past the last cycle.
    /// Found from the derived reciprocals for equal periods, looked up in the table where
    /// it covers `t`, solved for by [`locate_cycle`] elsewhere (the same cycle either way).
    #[inline]
    fn cycle(&self, t: f64) -> Option<Located> {
        // Validation derives exactly one of the two: the reciprocals for m = 1, the table
        // otherwise.
        if let Some(equal) = self.equal.get() {
            return self.equal_cycle(equal, t);
        }
        match self.table.get().and_then(|table| table.locate(t)) {
            Some(found) => Some(found),
            None => self.solve_cycle(t),
        }
    }

    /// [`Self::cycle`] for equal periods (`m = 1`): one product by `1 / p0`, settled
    /// against the exact starts `p0 k` as [`locate_cycle`] settles it.
    #[inline]
    fn equal_cycle(&self, equal: &EqualPeriods, t: f64) -> Option<Located> {
        let p0 = self.first_period;
        // Within an ulp or two of t / p0 (the settling below moves k by one where that
        // crosses an integer), without a division's latency.
        let quotient = t * equal.inv_period;
        if quotient.is_nan() || quotient >= TWO_52 {
            return self.solve_cycle(t);
        }
        // quotient >= 0: truncation (through i64, one instruction) floors.
        let mut k = small_to_f64(quotient as i64 as u64);
        if k > 0.0 && p0 * k > t {
            k -= 1.0;
        } else if p0 * (k + 1.0) <= t {
            k += 1.0;
        }
        if self.cycles.is_some_and(|n| k >= n as f64) {
            return None;
        }
        let peak_factor = if self.peak_decay == 1.0 {
            1.0
        } else {
            pow_k(self.peak_decay, k)
        };
        Some((k, t - p0 * k, p0, peak_factor, equal.inv_decay))
    }

    /// [`Self::cycle`] by [`locate_cycle`]: for `m = 1` and where the table ends (kept out
    /// of line so the table's path keeps its registers).
    #[inline(never)]
    fn solve_cycle(&self, t: f64) -> Option<Located> {
        let (k, u, period) = locate_cycle(self.first_period, self.period_mult, self.cycles, t)?;
        Some((
            k,
            u,
            period,
            pow_k(self.peak_decay, k),
            decay_reciprocal(period, self.warmup_steps),
        ))
    }
}

/// One row of a [`Table`]: cycle `k`'s start `S_k`, its period `P_k` and the factor
/// `peak_decay^k` on its peak, each computed exactly as [`locate_cycle`] and the
/// evaluation would compute them.
#[derive(Debug, Clone, Copy)]
struct TableRow {
    start: f64,
    period: f64,
    peak_factor: f64,
    inv_decay: f64,
}

/// A cycle found: `(k, t - S_k, P_k, peak_decay^k, 1 / (P_k - w_k))`, `w_k` the warmup
/// within the cycle.
type Located = (f64, f64, f64, f64, f64);

/// `1 / (period - w)`, `w` the warmup within a cycle of `period`: the decay's fraction is
/// `(u - w)` times it (a product on the evaluation's path, where a division would wait for
/// the cycle's lookup). One rule for the table's rows, equal periods and solved cycles.
#[inline]
fn decay_reciprocal(period: f64, warmup: f64) -> f64 {
    1.0 / (period - warmup.min(period))
}

/// The cycles of a geometric restart schedule computed once, so that an evaluation looks
/// its cycle up (from the bits of `1 + t (m - 1) / p0`, or an estimate from a cheap
/// logarithm, settled against the stored starts) instead of solving for it with powers
/// and divisions.
///
/// A [`Derived`] value of [`CosineRestarts`]: validation builds it for `m != 1` (equal
/// periods find their cycle by one product, [`EqualPeriods`]). Where it is empty or does
/// not cover a time (past its last row), the evaluation solves for the cycle by
/// [`locate_cycle`], which finds the same cycle.
#[derive(Debug, Clone)]
struct Table {
    /// `(m - 1) / p0`: cycle `k` starts where `1 + t (m - 1) / p0 = m^k`.
    slope: f64,
    /// `1 / log2(m)`.
    inv_log2_m: f64,
    /// The first period `p0`.
    p0: f64,
    /// The multiplier `m`.
    m: f64,
    /// Cycles `0..n` and a sentinel row `n` whose start ends the table's coverage.
    rows: Box<[TableRow]>,
    /// For `m >= 17/16`: `buckets[i]` is a cycle at or before every time whose
    /// `x = 1 + t (m - 1) / p0` has its top 16 bits (sign, exponent, 4 mantissa bits)
    /// equal to those of 1.0 plus `i`. A sixteenth of an octave of `x` holds at most
    /// one restart, so the cycle is at most a step or two from the bucket's: a shift and
    /// a load instead of a logarithm. Empty where it does not apply or would be large.
    buckets: Box<[u16]>,
}

/// The top 16 bits of 1.0.
const BUCKET_ONE: usize = 0x3FF0;

/// Most buckets a table keeps (64 octaves of `x`).
const MAX_BUCKETS: usize = 64 * 16;

/// Most rows a table keeps: multipliers near 1 have many short-lived cycles, and the
/// ones past this many are solved for.
const MAX_ROWS: usize = 1024;

impl Table {
    /// The table of the cycles with first period `p0`, multiplier `m != 1`, at most
    /// `cycles` of them, peak factor `decay` per restart and `warmup` steps into each.
    fn build(p0: f64, m: WithLn, cycles: Option<u64>, decay: f64, warmup: f64) -> Table {
        let (m, ln_m) = (m.get(), m.ln());
        let mut rows: Vec<TableRow> = Vec::new();
        for k in 0..=MAX_ROWS {
            let kf = k as f64;
            let m_k = pow_k(m, kf);
            let start = cycle_start(p0, m, kf, m_k);
            let row = TableRow {
                start,
                period: p0 * m_k,
                peak_factor: pow_k(decay, kf),
                inv_decay: decay_reciprocal(p0 * m_k, warmup),
            };
            // A start that does not grow (periods below its ulp), is not finite or lies
            // past every step, past the cycle limit or at the accumulation point of
            // m < 1 ends the coverage: this row is the sentinel.
            let stalls = rows.last().is_some_and(|last| start <= last.start);
            rows.push(row);
            if stalls
                || !start.is_finite()
                || start >= 2f64.powi(64)
                || cycles.is_some_and(|n| k as u64 >= n)
                || (m < 1.0 && start >= p0 / (1.0 - m))
            {
                break;
            }
        }
        let slope = (m - 1.0) / p0;
        let buckets = if m >= 17.0 / 16.0 {
            let top = 1.0 + rows[rows.len() - 1].start * slope;
            let count = ((top.to_bits() >> 48) as usize + 1).saturating_sub(BUCKET_ONE);
            if count <= MAX_BUCKETS {
                (0..count)
                    .map(|i| {
                        let edge = f64::from_bits(((BUCKET_ONE + i) as u64) << 48);
                        let t = (edge - 1.0) / slope;
                        // The cycle containing the edge, one earlier against rounding.
                        let k = rows.partition_point(|row| row.start <= t);
                        k.saturating_sub(2) as u16
                    })
                    .collect()
            } else {
                Box::default()
            }
        } else {
            Box::default()
        };
        Table {
            buckets,
            slope,
            inv_log2_m: std::f64::consts::LN_2 / ln_m,
            p0,
            m,
            rows: rows.into_boxed_slice(),
        }
    }

    /// The cycle `k` with `S_k <= t < S_{k+1}` ([`Located`]), or `None` where the table
    /// does not cover `t`.
    #[inline]
    fn locate(&self, t: f64) -> Option<Located> {
        let rows = &self.rows;
        let last = rows.len() - 1;
        if last == 0 || !(t >= 0.0 && t < rows[last].start) {
            return None;
        }
        if self.m < 1.0 {
            // Past the accumulation point of m < 1, as `locate_cycle` tells it (`x > 0`
            // fails for NaN too).
            let x = 1.0 + t * (self.m - 1.0) / self.p0;
            if x.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return None;
            }
        }
        let x = 1.0 + t * self.slope;
        let bucket = ((x.to_bits() >> 48) as usize).wrapping_sub(BUCKET_ONE);
        let k = match self.buckets.get(bucket) {
            Some(&first) => {
                let mut k = usize::from(first);
                // k + 1 <= last: t lies before the sentinel's start.
                while rows[k + 1].start <= t {
                    k += 1;
                }
                if rows[k].start <= t {
                    k
                } else {
                    self.locate_by_estimate(x, t)
                }
            }
            None => self.locate_by_estimate(x, t),
        };
        let row = rows[k];
        Some((
            small_to_f64(k as u64),
            t - row.start,
            row.period,
            row.peak_factor,
            row.inv_decay,
        ))
    }

    /// The row of the cycle containing `t` (covered by the table), where no bucket tells
    /// it (multipliers within 1/16 of 1, and rounding at a bucket's edge): from a
    /// logarithm of `x = 1 + t (m - 1) / p0`, settled against the starts. Out of line: a
    /// table with buckets rarely needs it (ab-bench: the same speed for `m = 2` and 3,
    /// 1.03x for `m = 1.03`).
    #[inline(never)]
    fn locate_by_estimate(&self, x: f64, t: f64) -> usize {
        let rows = &self.rows;
        let last = rows.len() - 1;
        // Off by at most 0.01 / log2(17/16) < 0.2 cycles where |m - 1| >= 1/16.
        let estimate = if (self.m - 1.0).abs() >= 1.0 / 16.0 {
            log2_estimate(x)
        } else {
            x.log2()
        } * self.inv_log2_m;
        // Saturating casts (i64's is one instruction): NaN and negatives give 0; then
        // within the table.
        let k = (estimate as i64).clamp(0, last as i64 - 1) as usize;
        if rows[k].start <= t && t < rows[k + 1].start {
            k
        } else {
            // The estimate is off (by one, near a restart): search the sorted starts.
            rows.partition_point(|row| row.start <= t).clamp(1, last) - 1
        }
    }
}

/// The start `S_k` of cycle `k` (integer-valued, `>= 0`) of geometric cycles: cycle `j`
/// lasts `p0 * m^j`; `m_k` is `m^k` by [`pow_k`]. Shared with [`Cycles`](crate::Cycles).
#[inline]
fn cycle_start(p0: f64, m: f64, k: f64, m_k: f64) -> f64 {
    if m == 1.0 {
        p0 * k
    } else if (m - 1.0).abs() >= 1.0 / 16.0 {
        p0 * (m_k - 1.0) / (m - 1.0)
    } else {
        // Near 1, m^k - 1 cancels: use expm1 / ln_1p (m - 1 is exact here).
        p0 * (k * (m - 1.0).ln_1p()).exp_m1() / (m - 1.0)
    }
}

/// The geometric cycle (first period `p0`, multiplier `m`, at most `cycles` of them)
/// containing time `t >= 0`: `(k, t - S_k, P_k)`, or `None` past the last cycle.
///
/// A cheap logarithm estimates `k` (`ln m` comes with `m`); the estimate is then settled
/// against the exact starts, each costing one [`pow_k`].
pub(crate) fn locate_cycle(
    p0: f64,
    m: WithLn,
    cycles: Option<u64>,
    t: f64,
) -> Option<(f64, f64, f64)> {
    let (m, ln_m) = (m.get(), m.ln());
    let estimate = if m == 1.0 {
        t / p0
    } else {
        let x = 1.0 + t * (m - 1.0) / p0;
        if x <= 0.0 {
            return None; // m < 1: past the accumulation point of infinitely many cycles.
        }
        if (m - 1.0).abs() >= 1.0 / 16.0 {
            // Off by at most 0.01 / log2(17/16) < 0.2 cycles: the settling below fixes it.
            log2_estimate(x) * std::f64::consts::LN_2 / ln_m
        } else {
            x.ln() / ln_m
        }
    };
    if !estimate.is_finite() {
        return None;
    }
    // Truncation is floor here (estimate >= 0 up to rounding) and avoids a libm call.
    let mut k = (estimate.max(0.0) as u64) as f64;
    let mut m_k = pow_k(m, k);
    let mut start = cycle_start(p0, m, k, m_k);
    // The estimate is off by at most one either way; settle S_k <= t < S_{k+1}.
    for _ in 0..3 {
        if k > 0.0 && start > t {
            k -= 1.0;
            m_k = pow_k(m, k);
            start = cycle_start(p0, m, k, m_k);
        } else {
            break;
        }
    }
    for _ in 0..3 {
        let m_next = pow_k(m, k + 1.0);
        let next = cycle_start(p0, m, k + 1.0, m_next);
        if next <= t {
            k += 1.0;
            m_k = m_next;
            start = next;
        } else {
            break;
        }
    }
    if cycles.is_some_and(|n| k >= n as f64) {
        return None;
    }
    if m < 1.0 && start >= p0 / (1.0 - m) {
        return None;
    }
    Some((k, t - start, p0 * m_k))
}

impl Validate for CosineRestarts {
    fn validate(&self) -> Result<(), Error> {
        check::finite("peak", self.peak)?;
        check::finite("end", self.end)?;
        check::positive("first_period", self.first_period)?;
        check::positive("period_mult", self.period_mult.get())?;
        check::non_negative("peak_decay", self.peak_decay)?;
        if let Some(n) = self.cycles {
            check::at_least_one("cycles", n)?;
        }
        check::non_negative("warmup_steps", self.warmup_steps)?;
        check::finite("init", self.init)?;
        let w = self.warmup_steps;
        check_path(
            "warmup_steps",
            &[(0.0, self.init), (w, self.peak), (w, self.end)],
            |_| Anneal::Linear,
        )?;
        // Valid parameters: derive the cycle table or the reciprocals (once; a no-op when
        // already built).
        if self.period_mult.get() == 1.0 {
            self.equal.fill(|| EqualPeriods {
                inv_period: 1.0 / self.first_period,
                inv_decay: decay_reciprocal(self.first_period, self.warmup_steps),
            });
        } else {
            self.table.fill(|| {
                Table::build(
                    self.first_period,
                    self.period_mult,
                    self.cycles,
                    self.peak_decay,
                    self.warmup_steps,
                )
            });
        }
        Ok(())
    }
}

impl Schedule for CosineRestarts {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        self.value_at(crate::fastmath::step_to_f64(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let Some((_, u, period, peak_factor, inv_decay)) = self.cycle(t.max(0.0)) else {
            return self.end;
        };
        let peak = finite_or_saturate(self.peak * peak_factor);
        // The knot path (0, init) -linear-> (w, peak) -cosine-> (period, end), inline.
        let w = self.warmup_steps.min(period);
        finite_or_saturate(if u < w {
            Anneal::Linear.interpolate(self.init, peak, u / w)
        } else {
            // Anneal::Cosine's path, inline (no dispatch on the anneal).
            cosine_between(peak, self.end, unit_fraction((u - w) * inv_decay))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use proptest::prelude::*;

    fn cos_at(peak: f64, end: f64, f: f64) -> f64 {
        end + (peak - end) * (1.0 + (std::f64::consts::PI * f).cos()) / 2.0
    }

    #[test]
    fn boundary_steps_integer_mult() {
        // torch T_0 = 7, T_mult = 3: restarts at 7, 28, 91, 280.
        let s = CosineRestarts::new(0.05, 0.0, 7.0)
            .unwrap()
            .with_period_mult(3.0)
            .unwrap();
        assert_values(
            &s,
            &[
                (0, 0.05),
                (6, cos_at(0.05, 0.0, 6.0 / 7.0)),
                (7, 0.05),
                (27, cos_at(0.05, 0.0, 20.0 / 21.0)),
                (28, 0.05),
                (90, cos_at(0.05, 0.0, 62.0 / 63.0)),
                (91, 0.05),
                (280, 0.05),
            ],
            1e-14,
        );
        assert_total(&s, &[7, 28, 91]);
    }

    #[test]
    fn restarts_land_exactly_for_large_k() {
        for m in [2.0, 3.0, 0.5, 1.5] {
            let s = CosineRestarts::new(1.0, 0.0, 1024.0)
                .unwrap()
                .with_period_mult(m)
                .unwrap();
            for k in 1..30 {
                let start = cycle_start(1024.0, m, f64::from(k), pow_k(m, f64::from(k)));
                if start.fract() == 0.0 && start < 1e15 {
                    assert_eq!(s.value_at(start), 1.0, "m = {m}, k = {k}");
                    let just_before = f64::from_bits(start.to_bits() - 1);
                    assert!(s.value_at(just_before) < 1e-6, "m = {m}, k = {k}");
                }
            }
        }
    }

    #[test]
    fn fractional_time_and_periods() {
        // T_0 = 4, T_mult = 2 at epoch 5.3: cycle 1 (start 4, period 8), u = 1.3.
        let s = CosineRestarts::new(0.3, 0.0005, 4.0)
            .unwrap()
            .with_period_mult(2.0)
            .unwrap();
        assert!(close(
            s.value_at(5.3),
            cos_at(0.3, 0.0005, (5.3 - 4.0) / 8.0),
            1e-14
        ));
        // Real-valued period (transformers: 100 steps, 3 cycles).
        let h = CosineRestarts::new(1.0, 0.0, 100.0 / 3.0)
            .unwrap()
            .with_cycles(3)
            .unwrap();
        assert!(close(
            h.value(34),
            cos_at(1.0, 0.0, (34.0 - 100.0 / 3.0) * 3.0 / 100.0),
            1e-12
        ));
        assert!(close(h.value(100), 0.0, 1e-12));
        // Non-integer multiplier.
        let g = CosineRestarts::new(1.0, 0.0, 10.0)
            .unwrap()
            .with_period_mult(1.5)
            .unwrap();
        assert_eq!(g.value(10), 1.0);
        assert_eq!(g.value(25), 1.0);
        assert!(close(g.value(30), cos_at(1.0, 0.0, 5.0 / 22.5), 1e-14));
        // Close to 1.
        let n = CosineRestarts::new(1.0, 0.0, 10.0)
            .unwrap()
            .with_period_mult(1.0 + 1e-9)
            .unwrap();
        assert!(close(n.value(15), cos_at(1.0, 0.0, 0.5), 1e-6));
    }

    #[test]
    fn shrinking_periods_accumulate_then_hold_end() {
        let s = CosineRestarts::new(1.0, 0.25, 8.0)
            .unwrap()
            .with_period_mult(0.5)
            .unwrap();
        assert_values(
            &s,
            &[
                (0, 1.0),
                (4, 0.625),
                (8, 1.0),
                (12, 1.0),
                (14, 1.0),
                (15, 1.0),
                (16, 0.25),
                (u64::MAX, 0.25),
            ],
            1e-14,
        );
        let v = s.value_at(15.9);
        assert!((0.25..=1.0).contains(&v), "{v}");
        assert_total(&s, &[8, 12, 16]);
    }

    #[test]
    fn peak_decay_warmup_and_limit() {
        let s = CosineRestarts::new(1.0, 0.0, 10.0)
            .and_then(|s| s.with_peak_decay(0.5))
            .and_then(|s| s.with_warmup(0.2, 4.0))
            .and_then(|s| s.with_cycles(3))
            .unwrap();
        assert_values(
            &s,
            &[
                (0, 0.2),
                (2, 0.6),
                (4, 1.0),
                (7, 0.5),
                (10, 0.2),
                (14, 0.5),
                (24, 0.25),
                (29, cos_at(0.25, 0.0, 5.0 / 6.0)),
                (30, 0.0),
                (u64::MAX, 0.0),
            ],
            1e-14,
        );
        // A warmup longer than a shrunk period is cut at the period.
        let w = CosineRestarts::new(1.0, 0.0, 8.0)
            .and_then(|s| s.with_period_mult(0.5))
            .and_then(|s| s.with_warmup(0.0, 5.0))
            .unwrap();
        assert!(close(w.value(10), 0.5, 1e-15));
    }

    #[test]
    fn rejects_bad_parameters() {
        let s = CosineRestarts::new(1.0, 0.0, 10.0).unwrap();
        assert!(matches!(
            CosineRestarts::new(1.0, 0.0, -1.0),
            Err(Error::InvalidParameter {
                name: "first_period",
                ..
            })
        ));
        assert!(matches!(
            CosineRestarts::new(f64::NAN, 0.0, 1.0),
            Err(Error::InvalidParameter { name: "peak", .. })
        ));
        assert!(matches!(
            s.clone().with_period_mult(0.0),
            Err(Error::InvalidParameter {
                name: "period_mult",
                ..
            })
        ));
        assert!(matches!(
            s.clone().with_peak_decay(-0.5),
            Err(Error::InvalidParameter {
                name: "peak_decay",
                ..
            })
        ));
        assert!(matches!(
            s.clone().with_cycles(0),
            Err(Error::InvalidParameter { name: "cycles", .. })
        ));
        assert!(matches!(
            s.clone().with_warmup(0.0, f64::INFINITY),
            Err(Error::InvalidParameter {
                name: "warmup_steps",
                ..
            })
        ));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_defaults() {
        let spec: crate::ScheduleSpec = serde_json::from_str(
            r#"{"type":"cosine_restarts","peak":1.0,"end":0.0,"first_period":10}"#,
        )
        .unwrap();
        assert_eq!(
            spec,
            crate::ScheduleSpec::from(CosineRestarts::new(1.0, 0.0, 10.0).unwrap())
        );
    }

    proptest! {
        #[test]
        fn bounded_and_finite(
            peak in 0.0..10.0f64, end in 0.0..1.0f64, p0 in 0.5..500.0f64, m in 0.3..4.0f64,
            decay in 0.0..1.0f64, t in any::<u64>(), x in 0.0..1e7f64,
        ) {
            let s = CosineRestarts::new(peak, end, p0).unwrap()
                .with_period_mult(m).unwrap().with_peak_decay(decay).unwrap();
            // Decayed peaks lie in [0, peak].
            let (lo, hi) = (end.min(0.0), peak.max(end));
            for v in [s.value(t), s.value_at(x)] {
                prop_assert!(v.is_finite() && v >= lo - 1e-12 && v <= hi + 1e-12);
            }
            prop_assert_eq!(s.value(t), s.value_at(t as f64));
        }

        #[test]
        fn each_cycle_decreases(p0 in 1u32..300, m in 1u32..4, t in 0u64..100_000) {
            let s = CosineRestarts::new(1.0, 0.0, f64::from(p0)).unwrap().with_period_mult(f64::from(m)).unwrap();
            let (k, u, p, _, _) = s.cycle(t as f64).unwrap();
            prop_assert!(u >= 0.0 && u < p);
            if u + 1.0 < p {
                prop_assert!(s.value(t + 1) <= s.value(t));
                prop_assert_eq!(s.cycle(t as f64 + 1.0).unwrap().0, k);
            } else {
                prop_assert_eq!(s.value(t + 1), 1.0);
            }
        }

        #[cfg(feature = "serde")]
        #[test]
        fn serde_round_trip(p0 in 1u32..300, m in 1u32..8, cycles in proptest::option::of(1u64..10)) {
            let mut s = CosineRestarts::new(0.5, 0.125, f64::from(p0)).unwrap().with_period_mult(f64::from(m) / 4.0).unwrap();
            if let Some(n) = cycles { s = s.with_cycles(n).unwrap(); }
            let spec = crate::ScheduleSpec::from(s.clone());
            let back: crate::ScheduleSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
            prop_assert_eq!(&back, &spec);
            // Validation on the way in built the cycle table, so the deserialised schedule
            // looks its cycles up as the constructed one does.
            let crate::ScheduleSpec::CosineRestarts(read) = back else { unreachable!() };
            prop_assert_eq!(read.table.get().is_some(), s.table.get().is_some());
            prop_assert!(f64::from(m) == 4.0 || read.table.get().is_some());
        }

        #[test]
        fn the_table_finds_the_cycle_locate_cycle_solves_for(
            p0 in 0.5..5_000.0f64,
            m in prop_oneof![0.05..0.999f64, 1.001..1.0625f64, 1.0625..8.0f64, (2u32..6).prop_map(f64::from)],
            decay in 0.0..1.5f64,
            cycles in proptest::option::of(1u64..40),
            t in prop_oneof![0.0..1e7f64, any::<u64>().prop_map(|t| t as f64)],
        ) {
            let mut s = CosineRestarts::new(1.0, 0.0, p0).unwrap().with_period_mult(m).unwrap().with_peak_decay(decay).unwrap();
            if let Some(n) = cycles { s = s.with_cycles(n).unwrap(); }
            let table = s.table.get().expect("m != 1 builds a table");
            let solved = s.solve_cycle(t);
            // Where the table covers t it must agree bit for bit; elsewhere `cycle` solves.
            if let Some(found) = table.locate(t) {
                prop_assert_eq!(Some(found), solved, "t = {}", t);
            }
            prop_assert_eq!(s.cycle(t), solved);
            // Also just below and at the table's restarts (where the estimate is off).
            for row in table.rows.iter().take(50).filter(|row| row.start > 0.0) {
                let before = f64::from_bits(row.start.to_bits().saturating_sub(1));
                for x in [row.start, before] {
                    let solved = s.solve_cycle(x);
                    prop_assert_eq!(s.cycle(x), solved, "x = {}", x);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn equal_periods_find_the_cycle_locate_cycle_solves_for(
            p0 in prop_oneof![0.5..5_000.0f64, (1u32..1000).prop_map(f64::from)],
            decay in prop_oneof![Just(1.0), 0.0..1.5f64],
            cycles in proptest::option::of(1u64..40),
            k in 0u64..100_000,
            t in prop_oneof![0.0..1e7f64, any::<u64>().prop_map(|t| t as f64)],
        ) {
            let mut s = CosineRestarts::new(1.0, 0.0, p0).unwrap().with_peak_decay(decay).unwrap();
            if let Some(n) = cycles { s = s.with_cycles(n).unwrap(); }
            let restart = p0 * k as f64;
            let before = f64::from_bits(restart.to_bits().saturating_sub(1));
            for x in [t, restart, before] {
                let solved = s.solve_cycle(x);
                prop_assert_eq!(s.cycle(x), solved, "x = {}", x);
            }
        }
    }

    /// The restart times in a schedule's cycle table.
    fn table_starts(s: &CosineRestarts) -> Vec<f64> {
        let table = s.table.get().expect("a table");
        table.rows.iter().map(|r| r.start).collect()
    }

    #[test]
    fn builders_rebuild_the_table() {
        let s = CosineRestarts::new(1.0, 0.0, 10.0).unwrap();
        assert!(s.table.get().is_none(), "m = 1 needs no table");
        let doubling = s.with_period_mult(2.0).unwrap();
        assert_eq!(table_starts(&doubling)[..4], [0.0, 10.0, 30.0, 70.0]);
        // A later builder call must not keep the old multiplier's table.
        let tripling = doubling
            .with_period_mult(3.0)
            .unwrap()
            .with_cycles(3)
            .unwrap();
        assert_eq!(table_starts(&tripling), [0.0, 10.0, 40.0, 130.0]);
        assert_eq!(tripling.value(40), 1.0);
        assert_eq!(tripling.value(130), 0.0);
    }
}
