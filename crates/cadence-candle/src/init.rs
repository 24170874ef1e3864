//! Seeded, reproducible parameter initialisation.
//!
//! candle's CPU random number generator cannot be seeded, so every parameter of the
//! harness's models is drawn here from a portable seeded generator
//! ([`Xoshiro256PlusPlus`]) and handed to candle with [`Var::from_vec`]. The same seed gives
//! the same weights on every machine and every run.
//!
//! Independent streams for independent purposes (initialisation, the data split, the
//! shuffling of each epoch) come from [`stream`], which mixes a seed and a purpose tag
//! with SplitMix64 so that, for example, changing the number of layers does not change
//! the data order.

use candle_core::{DType, Device, Var};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::train::TrainError;

/// The seeded generator used throughout the harness: xoshiro256++, a fixed, documented
/// algorithm whose output does not change between `rand` releases.
pub type SeededRng = Xoshiro256PlusPlus;

/// One step of SplitMix64, a bijective 64-bit mixer (Steele, Lea and Flood, 2014).
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A generator for one purpose, derived from a run's `seed` and a `purpose` tag.
///
/// Streams with different tags (or different seeds) are statistically independent;
/// the same `(seed, purpose)` always gives the same sequence.
///
/// # Examples
///
/// ```
/// use cadence_candle::init::stream;
/// use rand::RngExt;
///
/// let a: u64 = stream(7, 1).random();
/// let b: u64 = stream(7, 1).random();
/// let c: u64 = stream(7, 2).random();
/// assert_eq!(a, b);
/// assert_ne!(a, c);
/// ```
pub fn stream(seed: u64, purpose: u64) -> SeededRng {
    let mixed = splitmix64(splitmix64(seed) ^ purpose.wrapping_mul(0xD1B5_4A32_D192_ED03));
    SeededRng::seed_from_u64(mixed)
}

/// How the weights of a layer are drawn. Biases follow the scheme too (see each variant).
///
/// `fan_in` is the number of inputs of one output unit (`in_features` of a linear layer,
/// `in_channels * kh * kw` of a convolution), `fan_out` the number of outputs it feeds.
///
/// # Examples
///
/// ```
/// use cadence_candle::init::Init;
///
/// assert_eq!(Init::default(), Init::TorchDefault);
/// ```
///
/// # References
/// PyTorch `nn.Linear.reset_parameters` and `nn.init`; He et al., "Delving deep into
/// rectifiers" (2015); Glorot and Bengio, "Understanding the difficulty of training deep
/// feedforward neural networks" (2010).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// PyTorch's default for `nn.Linear` and `nn.Conv2d`: weights and biases uniform on
    /// `±1/sqrt(fan_in)` (Kaiming uniform with `a = sqrt(5)`).
    #[default]
    TorchDefault,
    /// He (Kaiming) normal for ReLU networks: weights `N(0, 2/fan_in)`, biases zero.
    KaimingNormal,
    /// Glorot (Xavier) uniform: weights uniform on `±sqrt(6/(fan_in + fan_out))`, biases
    /// zero.
    XavierUniform,
}

impl Init {
    /// Draws a weight tensor of `shape` (row-major) and a bias of `bias_len` values.
    ///
    /// Values are drawn in order: first every weight, then every bias, as `f32`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::init::{Init, stream};
    ///
    /// let mut rng = stream(0, 0);
    /// let (w, b) = Init::TorchDefault.draw(&mut rng, 16, 4, 64, 4);
    /// assert_eq!((w.len(), b.len()), (64, 4));
    /// assert!(w.iter().chain(&b).all(|v| v.abs() <= 0.25));
    /// ```
    pub fn draw(
        self,
        rng: &mut SeededRng,
        fan_in: usize,
        fan_out: usize,
        weight_len: usize,
        bias_len: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let fan_in = fan_in.max(1) as f64;
        let fan_out = fan_out.max(1) as f64;
        match self {
            Init::TorchDefault => {
                let bound = 1.0 / fan_in.sqrt();
                (
                    uniform(rng, weight_len, bound),
                    uniform(rng, bias_len, bound),
                )
            }
            Init::KaimingNormal => {
                let std = (2.0 / fan_in).sqrt();
                let w = (0..weight_len)
                    .map(|_| (std * Distribution::<f64>::sample(&StandardNormal, rng)) as f32)
                    .collect();
                (w, vec![0.0; bias_len])
            }
            Init::XavierUniform => {
                let bound = (6.0 / (fan_in + fan_out)).sqrt();
                (uniform(rng, weight_len, bound), vec![0.0; bias_len])
            }
        }
    }
}

/// `len` values uniform on `[-bound, bound)`, as `f32`.
fn uniform(rng: &mut SeededRng, len: usize, bound: f64) -> Vec<f32> {
    (0..len)
        .map(|_| rng.random_range(-bound..bound) as f32)
        .collect()
}

/// A trainable `f32` variable of `shape` holding `values` (row-major), on `device`.
///
/// # Errors
/// [`TrainError::Candle`] if `values.len()` does not match `shape`.
///
/// # Examples
///
/// ```
/// use candle_core::Device;
/// use cadence_candle::init::var;
///
/// let v = var(vec![1.0, 2.0, 3.0, 4.0], &[2, 2], &Device::Cpu)?;
/// assert_eq!(v.dims(), &[2, 2]);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
pub fn var(values: Vec<f32>, shape: &[usize], device: &Device) -> Result<Var, TrainError> {
    let v = Var::from_vec(values, shape, device)?;
    debug_assert_eq!(v.dtype(), DType::F32);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_default_bounds_and_spread() {
        let mut rng = stream(3, 0);
        let (w, b) = Init::TorchDefault.draw(&mut rng, 64, 128, 64 * 128, 128);
        let bound = 1.0_f64 / 8.0;
        assert!(w.iter().chain(&b).all(|v| f64::from(v.abs()) <= bound));
        // Uniform on ±bound has variance bound^2/3.
        let var = w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64;
        assert!((var / (bound * bound / 3.0) - 1.0).abs() < 0.05, "{var}");
    }

    #[test]
    fn kaiming_normal_variance() {
        let mut rng = stream(5, 0);
        let (w, b) = Init::KaimingNormal.draw(&mut rng, 100, 10, 20_000, 10);
        let var = w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64;
        assert!((var / 0.02 - 1.0).abs() < 0.05, "{var}");
        assert!(b.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn xavier_bound() {
        let mut rng = stream(5, 0);
        let (w, _) = Init::XavierUniform.draw(&mut rng, 10, 14, 140, 14);
        let bound = 0.5_f32;
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > 0.4));
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, purpose| {
            let mut r = stream(seed, purpose);
            (0..4).map(|_| r.random::<u64>()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 2), draw(1, 2));
        assert_ne!(draw(1, 2), draw(2, 1));
        assert_ne!(draw(1, 2), draw(1, 3));
    }
}
