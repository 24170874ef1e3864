//! Multiplicative noise on a schedule, deterministic per step.

use crate::derived::Derived;
use crate::error::{Error, check};
use crate::fastmath::small_to_f64;
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

/// Multiplies a schedule by `1 + noise`, where the noise is a pseudo-random number drawn
/// from a counter-based hash of `(seed, step)`: the same step always gets the same noise,
/// so the schedule stays a pure, random-access function of the step.
///
/// ```text
/// value(t) = schedule(t) * (1 + n(seed, floor(t)))      start <= floor(t) < stop
///          = schedule(t)                                 otherwise
///
/// NoiseKind::Normal { std, clip }:  n ~ N(0, std^2) conditioned on |n| < clip (timm's
///     "normal" noise, redrawn until inside noise_pct = clip; noise_std = std), sampled
///     exactly by rejection (the ziggurat, or a uniform proposal when clip < std) from
///     draws j = 0, 1, ... of (seed, step) (a counter-based wyrand stream per seed);
///     once a step's 128 draws are used up (probability below 1e-25) n = 0
/// NoiseKind::Uniform { pct }:       n = pct * (2 u - 1), u ~ U[0, 1)   (timm's "uniform")
/// ```
///
/// The noise follows timm's conventions (noise relative to the LR, clipped so the LR
/// keeps its sign); the random stream is cadence's own, so the draws differ from timm's
/// torch generator.
///
/// # Parameters
/// - `schedule`: the schedule to perturb.
/// - `seed`: any `u64`.
/// - `kind`: [`NoiseKind`]; `std > 0`, `clip` and `pct` in `(0, 1]`.
/// - `start` (default 0), `stop` (default none): the steps that get noise, `start < stop`
///   (timm's `noise_range_t`).
///
/// # Errors
/// [`Error::InvalidParameter`] naming `std`, `clip`, `pct` or `stop` when out of range.
///
/// # Examples
///
/// ```
/// use cadence::{Noise, NoiseKind, Schedule};
///
/// let noisy = Noise::new(0.1_f64, 42, NoiseKind::Uniform { pct: 0.1 })?;
/// let v = noisy.value(7);
/// assert!(v >= 0.09 && v <= 0.11);
/// assert_eq!(noisy.value(7), v); // deterministic per step
/// assert_ne!(noisy.value(8), v);
/// let later = noisy.with_range(100, None)?;
/// assert_eq!(later.value(7), 0.1);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// A. Neelakantan et al., "Adding Gradient Noise Improves Learning for Very Deep
/// Networks", 2015 (arXiv:1511.06807); `timm.scheduler.Scheduler` (`noise_range_t`,
/// `noise_pct`, `noise_std`, `noise_seed`); G. Steele et al., "Fast splittable
/// pseudorandom number generators" (splitmix64), OOPSLA 2014; Wang Yi's wyrand
/// (github.com/wangyi-fudan/wyhash); G. Marsaglia and W. W. Tsang, "The Ziggurat Method
/// for Generating Random Variables", J. Stat. Softw. 5(8), 2000; J. A. Doornik, "An
/// Improved Ziggurat Method to Generate Normal Random Samples", 2005.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Noise<S> {
    schedule: S,
    seed: u64,
    kind: NoiseKind,
    #[cfg_attr(feature = "serde", serde(default))]
    start: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    stop: Option<u64>,
    /// The seed's stream, derived once.
    #[cfg_attr(feature = "serde", serde(skip))]
    stream: Derived<u64>,
}

/// The distribution of a [`Noise`] factor.
///
/// # Examples
///
/// ```
/// use cadence::NoiseKind;
///
/// let timm_default = NoiseKind::Normal { std: 1.0, clip: 0.67 };
/// assert_ne!(timm_default, NoiseKind::Uniform { pct: 0.67 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)
)]
pub enum NoiseKind {
    /// A normal draw times `std`, redrawn until its magnitude is below `clip`.
    Normal {
        /// Standard deviation of the relative noise, finite and `> 0`.
        std: f64,
        /// Bound on the relative noise's magnitude, in `(0, 1]`.
        clip: f64,
    },
    /// Uniform relative noise in `[-pct, pct)`.
    Uniform {
        /// Bound on the relative noise's magnitude, in `(0, 1]`.
        pct: f64,
    },
}

/// splitmix64's output function: a bijective 64-bit mix (turns a seed into a stream).
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// wyrand's increment and output constant.
const WY_STEP: u64 = 0xa076_1d64_78bd_642f;
const WY_MIX: u64 = 0xe703_7ed1_a0b4_28db;

/// Draws per step a stream reserves (for rejection sampling's attempts).
const DRAWS_PER_STEP: u64 = 128;

/// Draw `j < 128` of `step` in a seed's stream ([`stream_of`]): 64 random bits.
///
/// Counter-based wyrand: the stream read at position
/// `128 step + j + 1`, i.e. `mum(s ^ WY_MIX, s)` with `s = stream + position * WY_STEP`
/// (`mum` folds the 128-bit product). One multiplication on the step's path, where
/// chaining splitmix64 three times cost three. Positions wrap past step `2^57`, where
/// streams repeat.
#[inline]
fn draw_bits(stream: u64, step: u64, j: u64) -> u64 {
    let position = step
        .wrapping_mul(DRAWS_PER_STEP)
        .wrapping_add(j)
        .wrapping_add(1);
    let s = stream.wrapping_add(position.wrapping_mul(WY_STEP));
    let product = u128::from(s ^ WY_MIX) * u128::from(s);
    (product >> 64) as u64 ^ product as u64
}

/// The stream of a seed: its splitmix64 mix, so that nearby seeds give unrelated streams
/// (a [`Noise`] derives it once).
#[inline]
fn stream_of(seed: u64) -> u64 {
    mix64(seed)
}

/// `2^-52`: the spacing of 52-bit uniforms.
const UNIT: f64 = 1.0 / (1u64 << 52) as f64;

/// The top 52 bits of a draw as a float in `[0, 2^52)`, exactly (the cheap conversion).
#[inline]
fn top_52(bits: u64) -> f64 {
    small_to_f64(bits >> 12)
}

/// Draw `j` of `step`, uniform in `[0, 1)` with 52 bits.
#[inline]
fn uniform(stream: u64, step: u64, j: u64) -> f64 {
    top_52(draw_bits(stream, step, j)) * UNIT
}

/// The draws of one step, taken in order: rejection sampling needs a varying number.
struct Draws {
    stream: u64,
    step: u64,
    taken: u64,
}

impl Draws {
    #[inline]
    fn new(stream: u64, step: u64) -> Self {
        Draws {
            stream,
            step,
            taken: 0,
        }
    }

    /// The next draw, or `None` once the step's 128 are used up.
    #[inline]
    fn bits(&mut self) -> Option<u64> {
        if self.taken >= DRAWS_PER_STEP {
            return None;
        }
        let bits = draw_bits(self.stream, self.step, self.taken);
        self.taken += 1;
        Some(bits)
    }

    /// The next draw as a uniform in `[0, 1)` with 52 bits.
    #[inline]
    fn uniform(&mut self) -> Option<f64> {
        self.bits().map(|bits| top_52(bits) * UNIT)
    }

    fn exhausted(&self) -> bool {
        self.taken >= DRAWS_PER_STEP
    }
}

/// Layers of the ziggurat.
const ZIG_LAYERS: usize = 128;
/// The start of its tail and the area of each layer, for 128 layers (Marsaglia and
/// Tsang 2000; Doornik 2005).
const ZIG_R: f64 = 3.442_619_855_899;
const ZIG_V: f64 = 9.912_563_035_262_17e-3;

/// The ziggurat's layer edges `x[i]` (`x[0] = V / f(R)`, `x[1] = R`, ..., `x[128] = 0`)
/// and the share `x[i + 1] / x[i]` of each layer inside the density.
struct Ziggurat {
    x: [f64; ZIG_LAYERS + 1],
    inside: [f64; ZIG_LAYERS],
}

/// The ziggurat's tables, computed at first use (no allocation: they live in the
/// static).
fn ziggurat() -> &'static Ziggurat {
    static TABLES: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let density = |x: f64| (-0.5 * x * x).exp();
        let mut x = [0.0; ZIG_LAYERS + 1];
        x[0] = ZIG_V / density(ZIG_R);
        x[1] = ZIG_R;
        for i in 2..ZIG_LAYERS {
            x[i] = (-2.0 * (ZIG_V / x[i - 1] + density(x[i - 1])).ln()).sqrt();
        }
        let mut inside = [0.0; ZIG_LAYERS];
        for i in 0..ZIG_LAYERS {
            inside[i] = x[i + 1] / x[i];
        }
        Ziggurat { x, inside }
    })
}

/// One attempt at a standard normal by the ziggurat: the layer from draw's low 7 bits, a
/// uniform on `(-1, 1)` from its top 52; inside the layer's core (98.8% of attempts) that
/// is the sample, one product. `None`: rejected in a wedge (draw again) or out of draws.
#[inline]
fn ziggurat_attempt(draws: &mut Draws) -> Option<f64> {
    let bits = draws.bits()?;
    let layer = (bits & (ZIG_LAYERS as u64 - 1)) as usize;
    let u = top_52(bits) * (2.0 * UNIT) - 1.0;
    let zig = ziggurat();
    if u.abs() < zig.inside[layer] {
        return Some(u * zig.x[layer]);
    }
    ziggurat_edge(layer, u, draws)
}

/// The ziggurat's rare cases: the tail beyond `R` (Marsaglia's exponential rejection,
/// repeated until it accepts) and the wedges under the density's curve.
#[cold]
#[inline(never)]
fn ziggurat_edge(layer: usize, u: f64, draws: &mut Draws) -> Option<f64> {
    let zig = ziggurat();
    if layer == 0 {
        loop {
            // 1 - U in (0, 1]: finite logarithms.
            let x = (1.0 - draws.uniform()?).ln() / ZIG_R;
            let y = (1.0 - draws.uniform()?).ln();
            if -2.0 * y >= x * x {
                return Some(if u < 0.0 { x - ZIG_R } else { ZIG_R - x });
            }
        }
    }
    let x = u * zig.x[layer];
    let top = (-0.5 * (zig.x[layer] * zig.x[layer] - x * x)).exp();
    let bottom = (-0.5 * (zig.x[layer + 1] * zig.x[layer + 1] - x * x)).exp();
    (bottom + draws.uniform()? * (top - bottom) < 1.0).then_some(x)
}

/// One attempt at the normal truncated to `(-clip, clip)`: `None` if rejected (draw
/// again) or out of draws.
///
/// Rejection sampling from the proposal that accepts at least 60% of attempts: the
/// normal itself (by the ziggurat) when `clip >= std`, a uniform on `[-clip, clip)`
/// otherwise.
#[inline]
fn normal_attempt(std: f64, clip: f64, draws: &mut Draws) -> Option<f64> {
    let n = if clip >= std {
        std * ziggurat_attempt(draws)?
    } else {
        let bits = top_52(draws.bits()?);
        let u = draws.uniform()?;
        // n = clip (2 u1 - 1) on [-clip, clip), one product from the bits.
        let n = bits * (clip * 2.0 * UNIT) - clip;
        // Accept with probability exp(-x), x = n^2 / (2 std^2) <= 1/2. The squeeze
        // exp(-x) >= 1 - x settles most draws without `exp`, and the same ones either way.
        let x = n * n * (0.5 / (std * std));
        if u >= 1.0 - x && u >= (-x).exp() {
            return None;
        }
        n
    };
    (n.abs() < clip).then_some(n)
}

/// Attempts after a rejected first one, until one is accepted; 0 if the step's draws run
/// out first (probability below 1e-25). Kept out of line: a loop around the first attempt
/// makes the common case an order of magnitude slower.
#[cold]
#[inline(never)]
fn normal_retry(std: f64, clip: f64, mut draws: Draws) -> f64 {
    while !draws.exhausted() {
        if let Some(n) = normal_attempt(std, clip, &mut draws) {
            return n;
        }
    }
    0.0
}

impl NoiseKind {
    /// The relative noise at `step` for `seed`; a pure function of both.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::NoiseKind;
    ///
    /// let k = NoiseKind::Normal { std: 1.0, clip: 0.5 };
    /// assert!(k.sample(1, 10).abs() < 0.5);
    /// assert_eq!(k.sample(1, 10), k.sample(1, 10));
    /// ```
    pub fn sample(&self, seed: u64, step: u64) -> f64 {
        self.sample_stream(stream_of(seed), step)
    }

    /// [`Self::sample`] from the seed's stream.
    #[inline]
    fn sample_stream(&self, stream: u64, step: u64) -> f64 {
        match *self {
            NoiseKind::Uniform { pct } => pct * (2.0 * uniform(stream, step, 0) - 1.0),
            NoiseKind::Normal { std, clip } => {
                let mut draws = Draws::new(stream, step);
                match normal_attempt(std, clip, &mut draws) {
                    Some(n) => n,
                    None => normal_retry(std, clip, draws),
                }
            }
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let unit = |name, x: f64| {
            if x > 0.0 && x <= 1.0 {
                Ok(())
            } else {
                Err(Error::invalid(name, x, "must be in (0, 1]"))
            }
        };
        match *self {
            NoiseKind::Normal { std, clip } => {
                check::positive("std", std)?;
                unit("clip", clip)
            }
            NoiseKind::Uniform { pct } => unit("pct", pct),
        }
    }
}

impl<S: Schedule> Noise<S> {
    /// Noise on every step of `schedule`; see the type's documentation.
    ///
    /// # Errors
    /// The rules of [`NoiseKind`]'s fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Noise, NoiseKind};
    ///
    /// assert!(Noise::new(1.0_f64, 0, NoiseKind::Uniform { pct: 1.5 }).is_err());
    /// ```
    pub fn new(schedule: S, seed: u64, kind: NoiseKind) -> Result<Self, Error> {
        let s = Noise {
            schedule,
            seed,
            kind,
            start: 0,
            stop: None,
            stream: Derived::default(),
        };
        s.validate()?;
        Ok(s)
    }

    /// Restricts the noise to the steps `start <= step < stop` (`None`: no end).
    ///
    /// # Errors
    /// `stop` must be greater than `start`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Noise, NoiseKind, Schedule};
    ///
    /// let s = Noise::new(1.0_f64, 3, NoiseKind::Uniform { pct: 0.5 })?.with_range(10, Some(20))?;
    /// assert_eq!(s.value(9), 1.0);
    /// assert_ne!(s.value(10), 1.0);
    /// assert_eq!(s.value(20), 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_range(self, start: u64, stop: Option<u64>) -> Result<Self, Error> {
        let s = Noise {
            start,
            stop,
            ..self
        };
        s.validate()?;
        Ok(s)
    }

    /// The factor `1 + n` at `step` (1 outside the range).
    #[inline]
    fn factor(&self, step: u64) -> f64 {
        if step < self.start || self.stop.is_some_and(|stop| step >= stop) {
            1.0
        } else {
            let stream = match self.stream.get() {
                Some(&stream) => stream,
                None => stream_of(self.seed),
            };
            1.0 + self.kind.sample_stream(stream, step)
        }
    }
}

impl<S> Validate for Noise<S> {
    fn validate(&self) -> Result<(), Error> {
        self.kind.validate()?;
        if let Some(stop) = self.stop
            && stop <= self.start
        {
            return Err(Error::invalid(
                "stop",
                stop,
                format!("must be > start = {}", self.start),
            ));
        }
        // The seed never changes after construction (builders keep it), so a stream
        // derived once stays right.
        self.stream.fill(|| stream_of(self.seed));
        Ok(())
    }
}

impl<S: Schedule> Schedule for Noise<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        finite_or_saturate(self.schedule.value(step) * self.factor(step))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        finite_or_saturate(self.schedule.value_at(t) * self.factor(crate::floor_step(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Linear;
    use crate::testing::assert_total;
    use proptest::prelude::*;

    #[test]
    fn normal_noise_has_the_declared_spread() {
        let k = NoiseKind::Normal {
            std: 0.1,
            clip: 1.0,
        };
        let n = 200_000u64;
        let draws: Vec<f64> = (0..n).map(|t| k.sample(7, t)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 1e-3, "mean {mean}");
        assert!((var.sqrt() - 0.1).abs() < 1e-3, "std {}", var.sqrt());
        let u = NoiseKind::Uniform { pct: 0.5 };
        let mean_u = (0..n).map(|t| u.sample(7, t)).sum::<f64>() / n as f64;
        assert!(mean_u.abs() < 5e-3, "mean {mean_u}");
    }

    #[test]
    fn draws_are_uniform_and_uncorrelated() {
        // 200k draws: chi-square over 64 bins below its 0.1% critical value (df 63:
        // 103.4); lag-1, cross-draw and cross-seed correlations within 5 standard errors
        // (1 / sqrt(n) = 0.0022).
        let n = 200_000u64;
        for seed in [0u64, 1, 42, u64::MAX] {
            let stream = stream_of(seed);
            let u: Vec<f64> = (0..n).map(|t| uniform(stream, t, 0)).collect();
            let mut bins = [0u32; 64];
            for &x in &u {
                bins[(x * 64.0) as usize] += 1;
            }
            let expect = n as f64 / 64.0;
            let chi2: f64 = bins
                .iter()
                .map(|&c| (f64::from(c) - expect).powi(2) / expect)
                .sum();
            assert!(chi2 < 103.4, "seed {seed}: chi2 {chi2}");
            let corr = |a: &[f64], b: &[f64]| {
                let m = a.len() as f64;
                let (ma, mb) = (a.iter().sum::<f64>() / m, b.iter().sum::<f64>() / m);
                let cov = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - ma) * (y - mb))
                    .sum::<f64>();
                let va = a.iter().map(|x| (x - ma).powi(2)).sum::<f64>();
                let vb = b.iter().map(|y| (y - mb).powi(2)).sum::<f64>();
                cov / (va * vb).sqrt()
            };
            let lag1 = corr(&u[..u.len() - 1], &u[1..]);
            assert!(lag1.abs() < 0.011, "seed {seed}: lag-1 {lag1}");
            let second: Vec<f64> = (0..n).map(|t| uniform(stream, t, 1)).collect();
            let within = corr(&u, &second);
            assert!(within.abs() < 0.011, "seed {seed}: draws 0 and 1 {within}");
            let other: Vec<f64> = (0..n)
                .map(|t| uniform(stream_of(seed.wrapping_add(1)), t, 0))
                .collect();
            let across = corr(&u, &other);
            assert!(across.abs() < 0.011, "seeds {seed} and +1: {across}");
        }
    }

    /// The standard normal CDF, through erfc (Numerical Recipes' Chebyshev fit,
    /// fractional error below 1.2e-7).
    fn normal_cdf(x: f64) -> f64 {
        let z = (x / std::f64::consts::SQRT_2).abs();
        let t = 1.0 / (1.0 + 0.5 * z);
        let poly = [
            -1.265_512_23,
            1.000_023_68,
            0.374_091_96,
            0.096_784_18,
            -0.186_288_06,
            0.278_868_07,
            -1.135_203_98,
            1.488_515_87,
            -0.822_152_23,
            0.170_872_77,
        ]
        .iter()
        .rev()
        .fold(0.0, |acc, c| c + t * acc);
        let erfc = t * (-z * z + poly).exp();
        if x >= 0.0 {
            1.0 - 0.5 * erfc
        } else {
            0.5 * erfc
        }
    }

    #[test]
    fn ziggurat_draws_are_standard_normal() {
        // 400k draws with std 0.1 and clip 1 (10 sigma: the truncation is invisible).
        // Kolmogorov-Smirnov distance below its 0.1% critical value 1.95 / sqrt(n), and
        // the share beyond the ziggurat's tail start R within 5 standard errors.
        let kind = NoiseKind::Normal {
            std: 0.1,
            clip: 1.0,
        };
        let n = 400_000u64;
        let mut z: Vec<f64> = (0..n).map(|t| kind.sample(11, t) / 0.1).collect();
        z.sort_by(f64::total_cmp);
        let ks = z
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let cdf = normal_cdf(x);
                (cdf - i as f64 / n as f64)
                    .abs()
                    .max(((i + 1) as f64 / n as f64 - cdf).abs())
            })
            .fold(0.0, f64::max);
        assert!(ks < 1.95 / (n as f64).sqrt(), "KS distance {ks}");
        let beyond = z.iter().filter(|x| x.abs() > ZIG_R).count() as f64;
        let p = 2.0 * (1.0 - normal_cdf(ZIG_R));
        let expect = p * n as f64;
        assert!(
            (beyond - expect).abs() < 5.0 * expect.sqrt(),
            "{beyond} beyond R, expected {expect}"
        );
    }

    #[test]
    fn ziggurat_layers_have_equal_area() {
        // Each layer i >= 1 is a box x[i] * (f(x[i+1]) - f(x[i])) of area V; the base is V
        // too (box x[0] f(R) plus the tail, by construction of x[0]).
        let zig = ziggurat();
        let f = |x: f64| (-0.5 * x * x).exp();
        // The top layer closes at x = 0 by fiat: it is off by what the published R's
        // twelve decimals leave (1.2e-11 of 9.9e-3).
        for i in 1..ZIG_LAYERS {
            let area = zig.x[i] * (f(zig.x[i + 1]) - f(zig.x[i]));
            let tolerance = if i + 1 == ZIG_LAYERS { 2e-11 } else { 1e-12 };
            assert!((area - ZIG_V).abs() < tolerance, "layer {i}: {area}");
        }
        assert_eq!(zig.x[ZIG_LAYERS], 0.0);
        assert!((zig.x[0] * f(ZIG_R) - ZIG_V).abs() < 1e-15);
    }

    #[test]
    fn narrow_clip_is_a_truncated_normal() {
        let k = NoiseKind::Normal {
            std: 1.0,
            clip: 0.05,
        };
        let draws: Vec<f64> = (0..100_000u64).map(|t| k.sample(5, t)).collect();
        assert!(draws.iter().all(|n| n.abs() < 0.05 && *n != 0.0));
        let sd = (draws.iter().map(|x| x * x).sum::<f64>() / draws.len() as f64).sqrt();
        // Nearly uniform on (-0.05, 0.05): sd 0.02886 (0.05 / sqrt(3) less 0.05%), +- 0.2%.
        assert!(sd > 0.0285 && sd < 0.0292, "{sd}");
    }

    #[test]
    fn seeds_differ_and_clip_holds() {
        let k = NoiseKind::Normal {
            std: 1.0,
            clip: 0.67,
        };
        let same = (0..1000)
            .filter(|&t| k.sample(1, t) == k.sample(2, t))
            .count();
        assert!(same < 5, "{same}");
        assert!((0..10_000).all(|t| k.sample(3, t).abs() < 0.67));
        let s = Noise::new(Linear::new(1.0, 0.0, 100).unwrap(), 9, k).unwrap();
        assert_total(&s, &[100]);
        assert_eq!(s.value(200), 0.0);
    }

    #[test]
    fn rejects_bad_parameters() {
        let n = |k| Noise::new(1.0_f64, 0, k);
        assert!(matches!(
            n(NoiseKind::Normal {
                std: 0.0,
                clip: 0.5
            }),
            Err(Error::InvalidParameter { name: "std", .. })
        ));
        assert!(matches!(
            n(NoiseKind::Normal {
                std: 1.0,
                clip: 0.0
            }),
            Err(Error::InvalidParameter { name: "clip", .. })
        ));
        assert!(matches!(
            n(NoiseKind::Uniform { pct: f64::NAN }),
            Err(Error::InvalidParameter { name: "pct", .. })
        ));
        let ok = n(NoiseKind::Uniform { pct: 0.1 }).unwrap();
        assert!(matches!(
            ok.with_range(5, Some(5)),
            Err(Error::InvalidParameter { name: "stop", .. })
        ));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_form_with_child() {
        let spec: crate::ScheduleSpec = serde_json::from_str(
            r#"{"type":"noise","schedule":{"type":"constant","value":0.5},"seed":3,"kind":{"kind":"uniform","pct":0.2}}"#,
        )
        .unwrap();
        let v = spec.value(11);
        assert!((0.4..=0.6).contains(&v) && v != 0.5, "{v}");
        let back: crate::ScheduleSpec =
            serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
    }

    proptest! {
        #[test]
        fn relative_noise_is_bounded_and_pure(seed in any::<u64>(), t in 0u64..1 << 50, clip in 0.01..1.0f64) {
            let s = Noise::new(2.0_f64, seed, NoiseKind::Normal { std: 0.5, clip }).unwrap();
            let v = s.value(t);
            prop_assert!((v / 2.0 - 1.0).abs() < clip);
            prop_assert_eq!(v, s.value(t));
            prop_assert_eq!(v, s.value_at(t as f64 + 0.5));
        }
    }
}
