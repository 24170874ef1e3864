//! Analysis of a sampled schedule (`values[i]` = the value at step `i`): the numbers
//! behind `cadence compare` and `cadence explain`.
//!
//! Everything here works on the sampled values only, so it applies to every family and
//! combinator alike. Where the core crate offers the same quantity in closed form (area,
//! half-life, peak), these helpers are the sampled counterparts and can be pointed at it.

use std::fmt;

/// The headline numbers of one sampled schedule.
///
/// # Examples
///
/// ```
/// use cadence_cli::analysis::summary;
///
/// let s = summary(&[0.0, 1.0, 0.75, 0.5, 0.25]).unwrap();
/// assert_eq!((s.peak, s.peak_step), (1.0, 1));
/// assert_eq!(s.final_value, 0.25);
/// assert_eq!(s.area, 2.5);
/// assert_eq!(s.half_life, Some(2));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How many steps were sampled (steps `0..steps`).
    pub steps: u64,
    /// The value at step 0.
    pub initial: f64,
    /// The largest value.
    pub peak: f64,
    /// The first step at which the largest value is reached.
    pub peak_step: u64,
    /// The smallest value.
    pub min: f64,
    /// The first step at which the smallest value is reached.
    pub min_step: u64,
    /// The value at the last sampled step.
    pub final_value: f64,
    /// S1: the sum of the values over the sampled steps (the area under the curve).
    pub area: f64,
    /// Steps from the peak until the value first falls to half the peak or below; `None`
    /// if it never does within the sampled steps (or the peak is not positive).
    pub half_life: Option<u64>,
}

/// Summarises sampled values; `None` for an empty slice.
///
/// # Examples
///
/// ```
/// assert!(cadence_cli::analysis::summary(&[]).is_none());
/// ```
pub fn summary(values: &[f64]) -> Option<Summary> {
    let core = cadence::analysis::summary(&Sampled(values), 0..values.len() as u64)?;
    Some(Summary {
        steps: values.len() as u64,
        initial: values[0],
        peak: core.peak,
        peak_step: core.peak_step,
        min: core.min,
        min_step: core.min_step,
        final_value: core.final_value,
        area: core.area,
        half_life: half_life(values),
    })
}

/// Sampled values as a [`cadence::Schedule`] over their own steps, so the core's analysis
/// runs on them (steps past the end read the last value; never reached here).
#[derive(Debug, Clone, Copy)]
struct Sampled<'a>(&'a [f64]);

impl cadence::Schedule for Sampled<'_> {
    fn value(&self, step: u64) -> f64 {
        let i = usize::try_from(step).unwrap_or(usize::MAX);
        self.0.get(i).or(self.0.last()).copied().unwrap_or(0.0)
    }
}

/// S1, the sum of the values (the core's compensated sum, so long runs stay exact to
/// rounding).
///
/// # Examples
///
/// ```
/// assert_eq!(cadence_cli::analysis::area(&[0.1; 10]), 1.0);
/// ```
pub fn area(values: &[f64]) -> f64 {
    cadence::analysis::area(&Sampled(values), 0..values.len() as u64)
}

/// Steps from the (first) peak until the value first falls to half of it or below.
///
/// Unlike the core's [`cadence::analysis::half_life`], which gallops and is exact for
/// schedules that do not rise again, this scans the samples, so for cyclic shapes it
/// reports the first halving after the peak.
///
/// # Examples
///
/// ```
/// use cadence_cli::analysis::half_life;
///
/// assert_eq!(half_life(&[1.0, 0.8, 0.6, 0.5, 0.1]), Some(3));
/// assert_eq!(half_life(&[1.0, 0.9]), None);
/// ```
pub fn half_life(values: &[f64]) -> Option<u64> {
    let (peak_step, &peak) =
        values
            .iter()
            .enumerate()
            .fold(None, |best: Option<(usize, &f64)>, (i, v)| match best {
                Some((_, b)) if b >= v => best,
                _ => Some((i, v)),
            })?;
    if peak <= 0.0 {
        return None;
    }
    values[peak_step..]
        .iter()
        .position(|&v| v <= peak / 2.0)
        .map(|d| d as u64)
}

/// Where two sampled schedules differ.
///
/// # Examples
///
/// ```
/// use cadence_cli::analysis::difference;
///
/// let d = difference(&[1.0, 0.5, 0.2], &[1.0, 0.3, 0.1]);
/// assert_eq!(d.first_step, Some(1));
/// assert_eq!(d.max_abs_step, 1);
/// assert_eq!(d.max_rel_step, 2);
/// assert!((d.max_rel - 0.5).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The largest `|a - b|`.
    pub max_abs: f64,
    /// The first step where it occurs.
    pub max_abs_step: u64,
    /// The largest `|a - b| / max(|a|, |b|)` (0 where both are 0).
    pub max_rel: f64,
    /// The first step where it occurs.
    pub max_rel_step: u64,
    /// The first step where the two differ by more than rounding (relative 1e-12).
    pub first_step: Option<u64>,
}

/// Compares two sampled schedules over their common steps.
///
/// # Examples
///
/// ```
/// let d = cadence_cli::analysis::difference(&[1.0, 2.0], &[1.0, 2.0]);
/// assert_eq!((d.max_abs, d.first_step), (0.0, None));
/// ```
pub fn difference(a: &[f64], b: &[f64]) -> Difference {
    let mut d = Difference {
        max_abs: 0.0,
        max_abs_step: 0,
        max_rel: 0.0,
        max_rel_step: 0,
        first_step: None,
    };
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let abs = (x - y).abs();
        let scale = x.abs().max(y.abs());
        let rel = if scale > 0.0 { abs / scale } else { 0.0 };
        if abs > d.max_abs {
            (d.max_abs, d.max_abs_step) = (abs, i as u64);
        }
        if rel > d.max_rel {
            (d.max_rel, d.max_rel_step) = (rel, i as u64);
        }
        if d.first_step.is_none() && rel > 1e-12 {
            d.first_step = Some(i as u64);
        }
    }
    d
}

/// Which way a phase goes.
///
/// # Examples
///
/// ```
/// use cadence_cli::analysis::{phases, Direction};
///
/// assert_eq!(phases(&[0.0, 1.0])[0].direction, Direction::Rise);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The value increases.
    Rise,
    /// The value stays (within rounding).
    Hold,
    /// The value decreases.
    Fall,
}

/// The shape of a monotone phase, judged against the paths of [`cadence::Anneal`].
///
/// # Examples
///
/// ```
/// use cadence_cli::analysis::{classify, Shape};
///
/// assert_eq!(classify(&[1.0, 0.5, 0.0]), Shape::Linear);
/// assert_eq!(Shape::FastThenSlow.to_string(), "fast then slow");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A straight line.
    Linear,
    /// Half a cosine wave.
    Cosine,
    /// Geometric: a constant ratio per step.
    Exponential,
    /// `sqrt` of the way: fast at first.
    Sqrt,
    /// Square of the way: slow at first.
    Square,
    /// A jump within one step.
    Step,
    /// None of the above: faster at first than a line.
    FastThenSlow,
    /// None of the above: slower at first than a line.
    SlowThenFast,
}

impl fmt::Display for Shape {
    /// Words for the shape, e.g. `cosine` or `fast then slow`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shape::Linear => "linear",
            Shape::Cosine => "cosine",
            Shape::Exponential => "exponential",
            Shape::Sqrt => "sqrt",
            Shape::Square => "square",
            Shape::Step => "a single step",
            Shape::FastThenSlow => "fast then slow",
            Shape::SlowThenFast => "slow then fast",
        })
    }
}

/// A maximal run of steps over which the value rises, holds or falls.
///
/// # Examples
///
/// ```
/// use cadence_cli::analysis::{phases, Direction, Shape};
///
/// let values: Vec<f64> = (0..=10).map(|t| 1.0 - t as f64 / 10.0).chain([0.0; 5]).collect();
/// let p = phases(&values);
/// assert_eq!(p.len(), 2);
/// assert_eq!((p[0].direction, p[0].shape, p[0].start, p[0].end), (Direction::Fall, Some(Shape::Linear), 0, 10));
/// assert_eq!((p[1].direction, p[1].end), (Direction::Hold, 15));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// The first step of the phase.
    pub start: u64,
    /// The last step of the phase (the next phase starts here).
    pub end: u64,
    /// Which way it goes.
    pub direction: Direction,
    /// The value at `start`.
    pub from: f64,
    /// The value at `end`.
    pub to: f64,
    /// The shape, for rises and falls.
    pub shape: Option<Shape>,
}

/// Splits sampled values into rising, holding and falling phases.
///
/// Changes smaller than 1e-12 of the largest magnitude count as holding; holds shorter
/// than 1% of the run between two phases of one direction (the flat ends of a cosine)
/// are absorbed into them.
///
/// # Examples
///
/// ```
/// let p = cadence_cli::analysis::phases(&[1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]);
/// assert_eq!(p.len(), 4);
/// assert_eq!((p[1].start, p[1].end, p[3].to), (3, 4, 0.25));
/// ```
pub fn phases(values: &[f64]) -> Vec<Phase> {
    let scale = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = scale * 1e-12;
    let direction = |i: usize| {
        let d = values[i + 1] - values[i];
        if d > tol {
            Direction::Rise
        } else if d < -tol {
            Direction::Fall
        } else {
            Direction::Hold
        }
    };
    // Runs of equal direction over the differences, as (direction, start, end) steps.
    let mut runs: Vec<(Direction, usize, usize)> = Vec::new();
    for i in 0..values.len().saturating_sub(1) {
        let dir = direction(i);
        match runs.last_mut() {
            Some((d, _, end)) if *d == dir => *end = i + 1,
            _ => runs.push((dir, i, i + 1)),
        }
    }
    // Absorb short holds into a same-direction neighbour.
    let short = (values.len() / 100).max(1);
    let mut merged: Vec<(Direction, usize, usize)> = Vec::new();
    for (k, &(dir, start, end)) in runs.iter().enumerate() {
        let is_short_hold = dir == Direction::Hold && end - start <= short;
        let prev = merged.last().map(|r| r.0);
        let next = runs.get(k + 1).map(|r| r.0);
        let absorb = is_short_hold
            && match (prev, next) {
                (Some(p), Some(n)) => p == n,
                (Some(_), None) | (None, Some(_)) => runs.len() > 1 && end - start < short,
                (None, None) => false,
            };
        let dir = if absorb {
            prev.or(next).unwrap_or(dir)
        } else {
            dir
        };
        match merged.last_mut() {
            Some((d, _, e)) if *d == dir => *e = end,
            _ => merged.push((dir, start, end)),
        }
    }
    merged
        .into_iter()
        .map(|(direction, start, end)| Phase {
            start: start as u64,
            end: end as u64,
            direction,
            from: values[start],
            to: values[end],
            shape: (direction != Direction::Hold).then(|| classify(&values[start..=end])),
        })
        .collect()
}

/// The shape of a monotone run of values (its first and last value differ).
///
/// # Examples
///
/// ```
/// use cadence_cli::analysis::{classify, Shape};
///
/// let cosine: Vec<f64> = (0..=100)
///     .map(|t| 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / 100.0).cos()))
///     .collect();
/// assert_eq!(classify(&cosine), Shape::Cosine);
/// let exponential: Vec<f64> = (0..=100).map(|t| 0.97f64.powi(t)).collect();
/// assert_eq!(classify(&exponential), Shape::Exponential);
/// assert_eq!(classify(&[1.0, 0.1]), Shape::Step);
/// ```
pub fn classify(values: &[f64]) -> Shape {
    let n = values.len();
    if n <= 2 {
        return Shape::Step;
    }
    let (a, b) = (values[0], values[n - 1]);
    let x = |k: usize| k as f64 / (n - 1) as f64;
    let frac = |k: usize| (values[k] - a) / (b - a);
    let geometric = a * b > 0.0;
    let candidates: [(Shape, &dyn Fn(f64) -> f64); 5] = [
        (Shape::Linear, &|x| x),
        (Shape::Cosine, &|x| {
            (1.0 - (std::f64::consts::PI * x).cos()) / 2.0
        }),
        (Shape::Sqrt, &|x: f64| x.sqrt()),
        (Shape::Square, &|x| x * x),
        (Shape::Exponential, &|x| {
            (a.abs().powf(1.0 - x) * b.abs().powf(x) * a.signum() - a) / (b - a)
        }),
    ];
    let rmse = |f: &dyn Fn(f64) -> f64| {
        let sq: f64 = (0..n).map(|k| (frac(k) - f(x(k))).powi(2)).sum();
        (sq / n as f64).sqrt()
    };
    let (best, err) = candidates
        .iter()
        .filter(|(s, _)| *s != Shape::Exponential || geometric)
        .map(|(s, f)| (*s, rmse(*f)))
        .fold((Shape::Linear, f64::INFINITY), |acc, c| {
            if c.1 < acc.1 { c } else { acc }
        });
    if err < 0.02 {
        return best;
    }
    let ahead: f64 = (0..n).map(|k| frac(k) - x(k)).sum::<f64>() / n as f64;
    if ahead > 0.0 {
        Shape::FastThenSlow
    } else {
        Shape::SlowThenFast
    }
}

/// A number in at most four significant digits: `0.0003`, `1.235e-7`, `12_000`.
///
/// # Examples
///
/// ```
/// use cadence_cli::analysis::format_number;
///
/// assert_eq!(format_number(3e-4), "0.0003");
/// assert_eq!(format_number(1.23456e-7), "1.235e-7");
/// assert_eq!(format_number(0.0), "0");
/// assert_eq!(format_number(12000.0), "12000");
/// ```
pub fn format_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor();
    if (-4.0..6.0).contains(&magnitude) {
        let decimals = (3.0 - magnitude).max(0.0) as usize;
        let s = format!("{x:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        let s = format!("{x:.3e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    }
}

/// A short description in words of a sampled schedule: phases, warmup, peak, decay
/// shape, final value, half-life and area.
///
/// # Examples
///
/// ```
/// let values: Vec<f64> = (0..100).map(|t| 1.0 - t as f64 / 100.0).collect();
/// let text = cadence_cli::analysis::explain(&values);
/// assert!(text.contains("falls from 1 to 0.01 (linear)"), "{text}");
/// assert!(text.contains("half-life: 50 steps"), "{text}");
/// ```
pub fn explain(values: &[f64]) -> String {
    let Some(s) = summary(values) else {
        return "no steps sampled\n".into();
    };
    let phases = phases(values);
    let mut out = String::new();
    let num = format_number;
    out.push_str(&format!(
        "steps:     0..{} ({} sampled)\n",
        s.steps - 1,
        s.steps
    ));
    out.push_str("phases:\n");
    const SHOWN: usize = 8;
    for (i, p) in phases.iter().enumerate().take(SHOWN) {
        out.push_str(&format!("  {}. {}\n", i + 1, describe_phase(p)));
    }
    if phases.len() > SHOWN {
        out.push_str(&format!(
            "  ... {} more phases ({})\n",
            phases.len() - SHOWN,
            pattern(&phases)
        ));
    }
    let warmup = phases
        .first()
        .filter(|p| p.direction == Direction::Rise && phases.len() > 1);
    match warmup {
        Some(w) => out.push_str(&format!(
            "warmup:    {} steps ({}), from {} to {}\n",
            w.end,
            w.shape.unwrap_or(Shape::Linear),
            num(w.from),
            num(w.to)
        )),
        None => out.push_str("warmup:    none\n"),
    }
    out.push_str(&format!(
        "peak:      {} at step {}\n",
        num(s.peak),
        s.peak_step
    ));
    let decay = phases
        .iter()
        .find(|p| p.direction == Direction::Fall && p.start >= s.peak_step);
    let drops: Vec<&Phase> = phases
        .iter()
        .filter(|p| p.direction == Direction::Fall)
        .collect();
    let staircase = drops.len() >= 2
        && drops.iter().all(|p| p.shape == Some(Shape::Step))
        && phases.iter().all(|p| p.direction != Direction::Rise);
    if staircase {
        out.push_str(&format!(
            "decay:     a staircase of {} drops, from step {} to {}\n",
            drops.len(),
            drops[0].end,
            drops[drops.len() - 1].end
        ));
    } else if let Some(d) = decay {
        out.push_str(&format!(
            "decay:     {} from step {} to {}\n",
            d.shape.unwrap_or(Shape::Linear),
            d.start,
            d.end
        ));
    }
    let restarts = restarts(&phases, warmup.is_some());
    if !restarts.is_empty() {
        out.push_str(&format!(
            "restarts:  {} (rises at steps {})\n",
            restarts.len(),
            list_steps(&restarts)
        ));
    }
    out.push_str(&format!(
        "final:     {} at step {}\n",
        num(s.final_value),
        s.steps - 1
    ));
    out.push_str(&format!(
        "minimum:   {} at step {}\n",
        num(s.min),
        s.min_step
    ));
    match s.half_life {
        Some(h) => out.push_str(&format!(
            "half-life: {h} steps after the peak (first at or below {} at step {})\n",
            num(s.peak / 2.0),
            s.peak_step + h
        )),
        None => out.push_str("half-life: not reached (never falls to half the peak)\n"),
    }
    out.push_str(&format!(
        "area S1:   {} (sum of the values over the sampled steps)\n",
        num(s.area)
    ));
    out.push_str(&format!(
        "in words:  {}\n",
        sentence(&s, &phases, warmup, decay)
    ));
    out
}

fn describe_phase(p: &Phase) -> String {
    let num = format_number;
    match p.direction {
        Direction::Hold => format!("steps {}..{}: holds at {}", p.start, p.end, num(p.from)),
        Direction::Rise | Direction::Fall => format!(
            "steps {}..{}: {} from {} to {} ({})",
            p.start,
            p.end,
            if p.direction == Direction::Rise {
                "rises"
            } else {
                "falls"
            },
            num(p.from),
            num(p.to),
            p.shape.unwrap_or(Shape::Linear)
        ),
    }
}

/// A word for a long sequence of phases: staircase, cycles or noise.
fn pattern(phases: &[Phase]) -> String {
    let rises = phases
        .iter()
        .filter(|p| p.direction == Direction::Rise)
        .count();
    let drops = phases
        .iter()
        .filter(|p| p.direction == Direction::Fall && p.shape == Some(Shape::Step))
        .count();
    let falls = phases
        .iter()
        .filter(|p| p.direction == Direction::Fall)
        .count();
    if rises == 0 && drops == falls {
        format!("a staircase of {drops} drops")
    } else if rises > 1 && phases.len() > 4 * rises {
        "irregular, noisy".into()
    } else {
        format!("{rises} rises and {falls} falls: cyclical or restarting")
    }
}

/// The steps where the value rises again after the warmup (restarts, cycles).
fn restarts(phases: &[Phase], has_warmup: bool) -> Vec<u64> {
    phases
        .iter()
        .skip(usize::from(has_warmup))
        .filter(|p| p.direction == Direction::Rise)
        .map(|p| p.start)
        .collect()
}

/// Up to six steps, then an ellipsis.
fn list_steps(steps: &[u64]) -> String {
    let mut shown: Vec<String> = steps.iter().take(6).map(u64::to_string).collect();
    if steps.len() > 6 {
        shown.push("...".into());
    }
    shown.join(", ")
}

fn sentence(
    s: &Summary,
    phases: &[Phase],
    warmup: Option<&Phase>,
    decay: Option<&Phase>,
) -> String {
    let num = format_number;
    let mut words = Vec::new();
    if let Some(w) = warmup {
        words.push(format!(
            "warms up ({}) for {} steps to {}",
            w.shape.unwrap_or(Shape::Linear),
            w.end,
            num(w.to)
        ));
    } else {
        words.push(format!("starts at {}", num(s.initial)));
    }
    if phases.len() > 8 {
        words.push(format!(
            "then goes through {} phases, {}",
            phases.len(),
            pattern(phases)
        ));
    } else if let Some(d) = decay {
        let restarts = restarts(phases, warmup.is_some());
        let held = phases
            .iter()
            .any(|p| p.direction == Direction::Hold && p.end <= d.start && p.start >= s.peak_step);
        if held {
            words.push(format!("holds until step {}", d.start));
        }
        words.push(format!(
            "decays ({}) to {} by step {}",
            d.shape.unwrap_or(Shape::Linear),
            num(d.to),
            d.end
        ));
        if !restarts.is_empty() {
            words.push(format!(
                "then restarts {} times (at steps {})",
                restarts.len(),
                list_steps(&restarts)
            ));
        }
    } else if phases.iter().all(|p| p.direction == Direction::Hold) {
        words.push("and stays constant".into());
    }
    if s.final_value != phases.last().map_or(s.final_value, |p| p.to) || phases.len() > 8 {
        words.push(format!("and ends at {}", num(s.final_value)));
    } else if let Some(last) = phases.last()
        && last.direction == Direction::Hold
        && phases.len() > 1
    {
        words.push(format!("and stays at {} to the end", num(s.final_value)));
    }
    let mut text = words.join(", ");
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(f: impl Fn(f64) -> f64, n: usize) -> Vec<f64> {
        (0..n).map(|t| f(t as f64)).collect()
    }

    #[test]
    fn warmup_then_cosine() {
        let mut values = sample(|t| 1e-3 * t / 100.0, 100);
        values.extend(sample(
            |t| 1e-3 * 0.5 * (1.0 + (std::f64::consts::PI * t / 900.0).cos()),
            901,
        ));
        let p = phases(&values);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(
            (p[0].direction, p[0].shape, p[0].end),
            (Direction::Rise, Some(Shape::Linear), 100)
        );
        assert_eq!(
            (p[1].direction, p[1].shape, p[1].end),
            (Direction::Fall, Some(Shape::Cosine), 1000)
        );
        let text = explain(&values);
        assert!(text.contains("warmup:    100 steps (linear)"), "{text}");
        assert!(
            text.contains("decay:     cosine from step 100 to 1000"),
            "{text}"
        );
        assert!(text.contains("peak:      0.001 at step 100"), "{text}");
    }

    #[test]
    fn shapes_are_told_apart() {
        let n = 200;
        let x = |t: f64| t / (n - 1) as f64;
        assert_eq!(classify(&sample(|t| 1.0 - x(t).sqrt(), n)), Shape::Sqrt);
        assert_eq!(classify(&sample(|t| 1.0 - x(t).powi(2), n)), Shape::Square);
        assert_eq!(classify(&sample(|t| 1.0 - x(t), n)), Shape::Linear);
        assert_eq!(
            classify(&sample(|t| 1.0 / (1.0 + t), n)),
            Shape::FastThenSlow
        );
        assert_eq!(
            classify(&sample(|t| 1.0 - x(t).powi(6), n)),
            Shape::SlowThenFast
        );
    }

    #[test]
    fn restarts_are_named() {
        let cycle = sample(|t| 1.0 - t / 100.0, 100);
        let values: Vec<f64> = cycle.iter().chain(&cycle).chain(&cycle).copied().collect();
        let text = explain(&values);
        assert!(
            text.contains("restarts:  2 (rises at steps 99, 199)"),
            "{text}"
        );
        assert!(
            text.contains("then restarts 2 times (at steps 99, 199)"),
            "{text}"
        );
    }

    #[test]
    fn staircase_pattern() {
        let values = sample(|t| 0.5f64.powi((t / 10.0).floor() as i32), 120);
        let p = phases(&values);
        assert_eq!(p.len(), 23);
        assert!(
            p.iter()
                .filter(|p| p.direction == Direction::Fall)
                .all(|p| p.shape == Some(Shape::Step))
        );
        let text = explain(&values);
        assert!(text.contains("a staircase of 11 drops"), "{text}");
        assert!(
            text.contains("decay:     a staircase of 11 drops, from step 10 to 110"),
            "{text}"
        );
    }

    #[test]
    fn difference_and_summary() {
        let a = sample(|t| 1.0 - t / 10.0, 10);
        let b = vec![1.0; 10];
        let d = difference(&a, &b);
        assert_eq!(
            (d.first_step, d.max_abs_step, d.max_rel_step),
            (Some(1), 9, 9)
        );
        assert!((d.max_abs - 0.9).abs() < 1e-12);
        let s = summary(&a).unwrap();
        assert!((s.area - 5.5).abs() < 1e-12);
        assert_eq!(s.half_life, Some(5));
        assert_eq!(summary(&b).unwrap().half_life, None);
    }
}
