//! In-memory classification data: the digits data set, seeded splits, scaling and a
//! batching iterator with seeded per-epoch shuffling.
//!
//! Everything random here is a pure function of a seed (and of the epoch for the
//! shuffling), so a run can resume in the middle of an epoch from two integers.
//!
//! ```
//! use cadence_candle::data::{Loader, Scaling, digits_split};
//! use candle_core::Device;
//!
//! let (train, test) = digits_split(Scaling::Standardize)?;
//! assert_eq!((train.len(), test.len()), (1437, 360));
//! let loader = Loader::new(64)?;
//! let first = loader.epoch(&train, 0, 0, &Device::Cpu).next().unwrap()?;
//! assert_eq!(first.x.dims(), &[64, 64]);
//! # Ok::<(), cadence_candle::TrainError>(())
//! ```

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;

use crate::init::stream;
use crate::train::TrainError;

/// Purpose tags for [`stream`], so that splitting and shuffling draw independent numbers.
const SPLIT_STREAM: u64 = 0x0053_504c_4954; // "SPLIT"
const SHUFFLE_STREAM: u64 = 0x5348_5546; // "SHUF"
const SUBSAMPLE_STREAM: u64 = 0x5355_4253; // "SUBS"

/// The seed of the fixed 80/20 digits split of [`digits_split`]. Training seeds vary the
/// initialisation and the batch order, never the test set.
pub const DIGITS_SPLIT_SEED: u64 = 0;

/// An in-memory classification data set: `f32` features of one fixed per-sample shape
/// and `u32` class labels in `0..classes`.
///
/// Samples are stored row-major, one after another. The per-sample shape is `[64]` for a
/// flat digit and `[1, 8, 8]` for a digit image (see [`Dataset::reshaped`]).
///
/// # Examples
///
/// ```
/// use cadence_candle::data::Dataset;
///
/// let data = Dataset::new(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], vec![0, 1, 1], vec![2], 2)?;
/// assert_eq!(data.len(), 3);
/// assert_eq!(data.sample(1), &[2.0, 3.0]);
/// assert_eq!(data.class_counts(), vec![1, 2]);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Vec<f32>,
    labels: Vec<u32>,
    sample_shape: Vec<usize>,
    classes: usize,
}

impl Dataset {
    /// A data set of `labels.len()` samples, each `sample_shape` features.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `features.len()` is not `labels.len()` times the
    /// product of `sample_shape`, a shape dimension is 0, `classes` is 0, or a label is not
    /// below `classes`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::Dataset;
    ///
    /// assert!(Dataset::new(vec![0.0; 5], vec![0, 0], vec![2], 1).is_err());
    /// assert!(Dataset::new(vec![0.0; 4], vec![0, 3], vec![2], 3).is_err());
    /// ```
    pub fn new(
        features: Vec<f32>,
        labels: Vec<u32>,
        sample_shape: Vec<usize>,
        classes: usize,
    ) -> Result<Self, TrainError> {
        if sample_shape.is_empty() || sample_shape.contains(&0) {
            return Err(TrainError::invalid(
                "sample_shape",
                format!("{sample_shape:?}"),
                "must have at least one dimension, none of them 0",
            ));
        }
        if classes == 0 {
            return Err(TrainError::invalid("classes", 0, "must be at least 1"));
        }
        let sample_len: usize = sample_shape.iter().product();
        if features.len() != labels.len() * sample_len {
            return Err(TrainError::invalid(
                "features",
                format!("{} values", features.len()),
                &format!("must hold {} samples of {sample_len} values", labels.len()),
            ));
        }
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(TrainError::invalid(
                "labels",
                bad,
                &format!("must be below classes = {classes}"),
            ));
        }
        Ok(Dataset {
            features,
            labels,
            sample_shape,
            classes,
        })
    }

    /// The number of samples.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![1.0, 2.0], vec![0, 0], vec![1], 1)?;
    /// assert_eq!(d.len(), 2);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the data set has no samples.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![], vec![], vec![3], 2)?;
    /// assert!(d.is_empty());
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The shape of one sample, without the batch dimension.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![0.0; 4], vec![1], vec![2, 2], 2)?;
    /// assert_eq!(d.sample_shape(), &[2, 2]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn sample_shape(&self) -> &[usize] {
        &self.sample_shape
    }

    /// The number of features of one sample (the product of [`Dataset::sample_shape`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![0.0; 4], vec![1], vec![2, 2], 2)?;
    /// assert_eq!(d.sample_len(), 4);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// The number of classes; labels lie in `0..classes`.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![0.0], vec![0], vec![1], 10)?;
    /// assert_eq!(d.classes(), 10);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// All features, sample after sample.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![1.0, 2.0], vec![0, 0], vec![1], 1)?;
    /// assert_eq!(d.features(), &[1.0, 2.0]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// All labels.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![1.0, 2.0], vec![0, 1], vec![1], 2)?;
    /// assert_eq!(d.labels(), &[0, 1]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// The features of sample `index`.
    ///
    /// # Panics
    /// If `index >= self.len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![1.0, 2.0], vec![0, 1], vec![1], 2)?;
    /// assert_eq!(d.sample(1), &[2.0]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn sample(&self, index: usize) -> &[f32] {
        let n = self.sample_len();
        &self.features[index * n..(index + 1) * n]
    }

    /// How many samples each class has.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![0.0; 3], vec![2, 0, 2], vec![1], 3)?;
    /// assert_eq!(d.class_counts(), vec![1, 0, 2]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// The samples at `indices`, in that order (repeats allowed).
    ///
    /// # Panics
    /// If an index is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![1.0, 2.0, 3.0], vec![0, 1, 0], vec![1], 2)?;
    /// let s = d.select(&[2, 0]);
    /// assert_eq!(s.features(), &[3.0, 1.0]);
    /// assert_eq!(s.labels(), &[0, 0]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut features = Vec::with_capacity(indices.len() * self.sample_len());
        for &i in indices {
            features.extend_from_slice(self.sample(i));
        }
        Dataset {
            features,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            sample_shape: self.sample_shape.clone(),
            classes: self.classes,
        }
    }

    /// The same samples seen with another per-sample shape of the same size, e.g. `[64]`
    /// to `[1, 8, 8]` for a convolutional network.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if the new shape has another number of features.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cadence_candle::data::Dataset::new(vec![0.0; 8], vec![0, 1], vec![4], 2)?;
    /// assert_eq!(d.reshaped(vec![1, 2, 2])?.sample_shape(), &[1, 2, 2]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn reshaped(self, sample_shape: Vec<usize>) -> Result<Dataset, TrainError> {
        Dataset::new(self.features, self.labels, sample_shape, self.classes)
    }

    /// Splits into `(train, test)` with `ceil(len * test_fraction)` test samples (as
    /// scikit-learn's `train_test_split`), drawn reproducibly from `seed`.
    ///
    /// [`Split::Stratified`] gives every class its proportional share of the test part
    /// (`floor(count * n_test / len)`, the remaining samples going to the classes with
    /// the largest remainders, ties to the lower class), so both parts keep the class
    /// balance, like `train_test_split(stratify=y)`; [`Split::Shuffled`] shuffles all
    /// samples and cuts. Each part comes out shuffled.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `test_fraction` is not in `(0, 1)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::{Dataset, Split};
    ///
    /// let labels: Vec<u32> = (0..100).map(|i| i % 2).collect();
    /// let d = Dataset::new((0..100).map(|i| i as f32).collect(), labels, vec![1], 2)?;
    /// let (train, test) = d.split(0.2, 7, Split::Stratified)?;
    /// assert_eq!((train.len(), test.len()), (80, 20));
    /// assert_eq!(test.class_counts(), vec![10, 10]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn split(
        &self,
        test_fraction: f64,
        seed: u64,
        split: Split,
    ) -> Result<(Dataset, Dataset), TrainError> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(TrainError::invalid(
                "test_fraction",
                test_fraction,
                "must lie strictly between 0 and 1",
            ));
        }
        let n_test = ((self.len() as f64 * test_fraction).ceil() as usize).min(self.len());
        let mut rng = stream(seed, SPLIT_STREAM);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        match split {
            Split::Shuffled => {
                let mut order: Vec<usize> = (0..self.len()).collect();
                order.shuffle(&mut rng);
                test.extend_from_slice(&order[..n_test]);
                train.extend_from_slice(&order[n_test..]);
            }
            Split::Stratified => {
                let classes = self.indices_by_class();
                let quotas =
                    largest_remainder(&classes.iter().map(Vec::len).collect::<Vec<_>>(), n_test);
                for (mut class, quota) in classes.into_iter().zip(quotas) {
                    class.shuffle(&mut rng);
                    test.extend_from_slice(&class[..quota]);
                    train.extend_from_slice(&class[quota..]);
                }
                train.shuffle(&mut rng);
                test.shuffle(&mut rng);
            }
        }
        Ok((self.select(&train), self.select(&test)))
    }

    /// A class-balanced subset of `n` samples drawn reproducibly from `seed`, for
    /// experiments that need a training set small enough to overfit.
    ///
    /// Classes take turns, each giving its next (shuffled) sample, until `n` are taken;
    /// the subset keeps that interleaved order.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `n` is 0 or larger than the data set.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::Dataset;
    ///
    /// let labels: Vec<u32> = (0..90).map(|i| (i % 3) as u32).collect();
    /// let d = Dataset::new(vec![0.0; 90], labels, vec![1], 3)?;
    /// let small = d.subsample(12, 1)?;
    /// assert_eq!(small.class_counts(), vec![4, 4, 4]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn subsample(&self, n: usize, seed: u64) -> Result<Dataset, TrainError> {
        if n == 0 || n > self.len() {
            return Err(TrainError::invalid(
                "n",
                n,
                &format!("must lie in 1..={}", self.len()),
            ));
        }
        let mut rng = stream(seed, SUBSAMPLE_STREAM);
        let mut classes = self.indices_by_class();
        for class in &mut classes {
            class.shuffle(&mut rng);
            class.reverse(); // pop() now yields the shuffled order
        }
        let mut picked = Vec::with_capacity(n);
        while picked.len() < n {
            for class in &mut classes {
                if picked.len() == n {
                    break;
                }
                if let Some(i) = class.pop() {
                    picked.push(i);
                }
            }
        }
        Ok(self.select(&picked))
    }

    /// The sample indices of each class, in data set order.
    fn indices_by_class(&self) -> Vec<Vec<usize>> {
        let mut by_class = vec![Vec::new(); self.classes];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        by_class
    }

    /// The samples at `indices` as a batch of tensors on `device`: `x` of shape
    /// `[indices.len(), sample_shape...]` (`f32`) and `y` of shape `[indices.len()]`
    /// (`u32`).
    ///
    /// # Errors
    /// [`TrainError::Candle`] if the tensors cannot be created on `device`.
    ///
    /// # Panics
    /// If an index is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use candle_core::Device;
    /// let d = cadence_candle::data::Dataset::new(vec![1.0, 2.0, 3.0], vec![0, 1, 0], vec![1], 2)?;
    /// let b = d.batch(&[2, 1], &Device::Cpu)?;
    /// assert_eq!(b.x.flatten_all()?.to_vec1::<f32>()?, vec![3.0, 2.0]);
    /// assert_eq!(b.y.to_vec1::<u32>()?, vec![0, 1]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn batch(&self, indices: &[usize], device: &Device) -> Result<Batch, TrainError> {
        let mut x = Vec::with_capacity(indices.len() * self.sample_len());
        for &i in indices {
            x.extend_from_slice(self.sample(i));
        }
        let y: Vec<u32> = indices.iter().map(|&i| self.labels[i]).collect();
        let mut shape = Vec::with_capacity(self.sample_shape.len() + 1);
        shape.push(indices.len());
        shape.extend_from_slice(&self.sample_shape);
        Ok(Batch {
            x: Tensor::from_vec(x, shape, device)?,
            y: Tensor::from_vec(y, indices.len(), device)?,
        })
    }

    /// The whole data set as one batch, in order.
    ///
    /// # Errors
    /// [`TrainError::Candle`] if the tensors cannot be created on `device`.
    ///
    /// # Examples
    ///
    /// ```
    /// use candle_core::Device;
    /// let d = cadence_candle::data::Dataset::new(vec![0.0; 6], vec![0, 1, 0], vec![2], 2)?;
    /// assert_eq!(d.to_batch(&Device::Cpu)?.x.dims(), &[3, 2]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn to_batch(&self, device: &Device) -> Result<Batch, TrainError> {
        let all: Vec<usize> = (0..self.len()).collect();
        self.batch(&all, device)
    }
}

/// Shares of `total` proportional to `counts` that sum to `total` exactly: each gets
/// `floor(count * total / sum)`, the rest go one each to the largest remainders (ties to
/// the lower index). Requires `total <= sum(counts)`.
fn largest_remainder(counts: &[usize], total: usize) -> Vec<usize> {
    let sum: usize = counts.iter().sum();
    if sum == 0 {
        return vec![0; counts.len()];
    }
    let mut shares: Vec<usize> = counts.iter().map(|c| c * total / sum).collect();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    // Remainders compared exactly as integers: (c * total) mod sum.
    order.sort_by_key(|&i| std::cmp::Reverse((counts[i] * total) % sum));
    let missing = total - shares.iter().sum::<usize>();
    for &i in order.iter().take(missing) {
        shares[i] += 1;
    }
    shares
}

/// How [`Dataset::split`] draws the test part.
///
/// # Examples
///
/// ```
/// assert_eq!(cadence_candle::data::Split::default(), cadence_candle::data::Split::Stratified);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// The same fraction from every class.
    #[default]
    Stratified,
    /// A plain shuffle of all samples.
    Shuffled,
}

/// One mini-batch: inputs `x` (`f32`, `[batch, sample_shape...]`) and class labels `y`
/// (`u32`, `[batch]`).
///
/// # Examples
///
/// ```
/// use candle_core::Device;
/// let d = cadence_candle::data::Dataset::new(vec![0.5, 0.25], vec![1, 0], vec![1], 2)?;
/// let b = d.batch(&[0], &Device::Cpu)?;
/// assert_eq!(b.len(), 1);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Batch {
    /// The inputs.
    pub x: Tensor,
    /// The class labels.
    pub y: Tensor,
}

impl Batch {
    /// The number of samples in the batch.
    ///
    /// # Examples
    ///
    /// ```
    /// use candle_core::Device;
    /// let d = cadence_candle::data::Dataset::new(vec![0.0; 3], vec![0; 3], vec![1], 1)?;
    /// assert_eq!(d.to_batch(&Device::Cpu)?.len(), 3);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.y.dims().first().copied().unwrap_or(0)
    }

    /// Whether the batch is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use candle_core::Device;
    /// let d = cadence_candle::data::Dataset::new(vec![0.0; 3], vec![0; 3], vec![1], 1)?;
    /// assert!(!d.to_batch(&Device::Cpu)?.is_empty());
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How features are rescaled, fitted on the training part only (so no test statistics
/// leak into training).
///
/// - [`Scaling::Raw`]: unchanged (digits keep their integer pixel counts 0..16).
/// - [`Scaling::UnitRange`]: divided by the training set's largest absolute value, so
///   digits lie in `[0, 1]` (the `x / 16` of most PyTorch tutorials).
/// - [`Scaling::Standardize`]: per feature, minus the training mean, divided by the
///   training standard deviation (population, `ddof = 0`); constant features are only
///   centred. This is scikit-learn's `StandardScaler`, the usual choice for an MLP on
///   digits.
///
/// # Examples
///
/// ```
/// use cadence_candle::data::{Dataset, Scaler, Scaling};
///
/// let train = Dataset::new(vec![0.0, 8.0, 4.0, 16.0], vec![0, 1], vec![2], 2)?;
/// let unit = Scaler::fit(&train, Scaling::UnitRange).apply(train.clone());
/// assert_eq!(unit.features(), &[0.0, 0.5, 0.25, 1.0]);
/// let std = Scaler::fit(&train, Scaling::Standardize).apply(train);
/// assert_eq!(std.features(), &[-1.0, -1.0, 1.0, 1.0]);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// No rescaling.
    Raw,
    /// Divide by the largest absolute training value.
    UnitRange,
    /// Per-feature standardisation with training statistics.
    #[default]
    Standardize,
}

/// A fitted [`Scaling`]: per-feature offsets and scales computed from a training set,
/// applied as `(x - offset) / scale`.
///
/// # Examples
///
/// ```
/// use cadence_candle::data::{Dataset, Scaler, Scaling};
///
/// let train = Dataset::new(vec![2.0, 4.0], vec![0, 0], vec![1], 1)?;
/// let scaler = Scaler::fit(&train, Scaling::Standardize);
/// let test = Dataset::new(vec![5.0], vec![0], vec![1], 1)?;
/// assert_eq!(scaler.apply(test).features(), &[2.0]);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

impl Scaler {
    /// Fits `scaling` on `train`'s features.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::{Dataset, Scaler, Scaling};
    /// let d = Dataset::new(vec![-3.0, 1.0], vec![0, 0], vec![1], 1)?;
    /// let s = Scaler::fit(&d, Scaling::UnitRange);
    /// assert_eq!(s.apply(d).features(), &[-1.0, 1.0 / 3.0]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn fit(train: &Dataset, scaling: Scaling) -> Scaler {
        let width = train.sample_len();
        match scaling {
            Scaling::Raw => Scaler {
                offset: vec![0.0; width],
                scale: vec![1.0; width],
            },
            Scaling::UnitRange => {
                let max = train.features.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
                let max = if max > 0.0 { max } else { 1.0 };
                Scaler {
                    offset: vec![0.0; width],
                    scale: vec![max; width],
                }
            }
            Scaling::Standardize => {
                let n = train.len().max(1) as f64;
                let mut mean = vec![0.0_f64; width];
                for i in 0..train.len() {
                    for (m, v) in mean.iter_mut().zip(train.sample(i)) {
                        *m += *v as f64;
                    }
                }
                mean.iter_mut().for_each(|m| *m /= n);
                let mut var = vec![0.0_f64; width];
                for i in 0..train.len() {
                    for ((s, v), m) in var.iter_mut().zip(train.sample(i)).zip(&mean) {
                        *s += (*v as f64 - m).powi(2);
                    }
                }
                let scale = var
                    .iter()
                    .map(|s| {
                        let sd = (s / n).sqrt();
                        if sd > 0.0 { sd as f32 } else { 1.0 }
                    })
                    .collect();
                Scaler {
                    offset: mean.iter().map(|m| *m as f32).collect(),
                    scale,
                }
            }
        }
    }

    /// `data` with every feature rescaled.
    ///
    /// # Panics
    /// If `data`'s samples have another number of features than the fitted set.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::{Dataset, Scaler, Scaling};
    /// let d = Dataset::new(vec![1.0, 2.0], vec![0, 0], vec![1], 1)?;
    /// assert_eq!(Scaler::fit(&d, Scaling::Raw).apply(d.clone()), d);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn apply(&self, mut data: Dataset) -> Dataset {
        assert_eq!(
            data.sample_len(),
            self.offset.len(),
            "feature count differs"
        );
        let width = self.offset.len();
        for sample in data.features.chunks_exact_mut(width) {
            for ((v, o), s) in sample.iter_mut().zip(&self.offset).zip(&self.scale) {
                *v = (*v - o) / s;
            }
        }
        data
    }
}

/// The UCI optical recognition of handwritten digits test set (the one scikit-learn
/// ships as `load_digits`): 1797 images of 8x8 pixels, each pixel a count 0..16, ten
/// classes of about 180 images each. Features are flat (`[64]`), unscaled.
///
/// The data comes from `smartcore`'s embedded copy (its feature and target *names* are
/// wrong and are ignored here).
///
/// # Errors
/// [`TrainError::InvalidParameter`] if the embedded copy does not have the expected size
/// or labels.
///
/// # Examples
///
/// ```
/// let digits = cadence_candle::data::digits()?;
/// assert_eq!(digits.len(), 1797);
/// assert_eq!(digits.sample_shape(), &[64]);
/// assert!(digits.features().iter().all(|v| (0.0..=16.0).contains(v)));
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
///
/// # References
/// Alpaydin and Kaynak (1998), UCI Machine Learning Repository, "Optical Recognition of
/// Handwritten Digits".
pub fn digits() -> Result<Dataset, TrainError> {
    let raw = smartcore::dataset::digits::load_dataset();
    let labels = raw
        .target
        .iter()
        .map(|&t| {
            if (0.0..10.0).contains(&t) && t.fract() == 0.0 {
                Ok(t as u32)
            } else {
                Err(TrainError::invalid("digits label", t, "must be 0..=9"))
            }
        })
        .collect::<Result<Vec<u32>, _>>()?;
    Dataset::new(raw.data, labels, vec![raw.num_features], 10)
}

/// The digits data set split 80/20 (stratified, fixed seed [`DIGITS_SPLIT_SEED`]) into
/// `(train, test)`, scaled with statistics of the training part.
///
/// The split is the same for every training seed: 1437 training and 360 test images.
///
/// # Errors
/// As [`digits`].
///
/// # Examples
///
/// ```
/// use cadence_candle::data::{Scaling, digits_split};
///
/// let (train, test) = digits_split(Scaling::UnitRange)?;
/// assert_eq!(train.len() + test.len(), 1797);
/// assert!(train.features().iter().all(|v| (0.0..=1.0).contains(v)));
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
pub fn digits_split(scaling: Scaling) -> Result<(Dataset, Dataset), TrainError> {
    let (train, test) = digits()?.split(0.2, DIGITS_SPLIT_SEED, Split::Stratified)?;
    let scaler = Scaler::fit(&train, scaling);
    Ok((scaler.apply(train), scaler.apply(test)))
}

/// Whether and how a [`Loader`] shuffles each epoch.
///
/// # Examples
///
/// ```
/// assert_eq!(cadence_candle::data::Shuffle::default(), cadence_candle::data::Shuffle::EachEpoch);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shuffle {
    /// A fresh seeded permutation every epoch, a pure function of `(seed, epoch)`.
    #[default]
    EachEpoch,
    /// Data set order every epoch.
    Off,
}

/// What a [`Loader`] does with a last batch smaller than the batch size.
///
/// # Examples
///
/// ```
/// assert_eq!(cadence_candle::data::LastBatch::default(), cadence_candle::data::LastBatch::Keep);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastBatch {
    /// Train on it (PyTorch's `drop_last=False`).
    #[default]
    Keep,
    /// Skip it (`drop_last=True`).
    Drop,
}

/// Cuts a data set into mini-batches, epoch after epoch.
///
/// The order of epoch `e` is a pure function of `(seed, e)` ([`Loader::order`]), so
/// resuming in the middle of an epoch needs only the epoch and the batch index.
///
/// # Examples
///
/// ```
/// use cadence_candle::data::{Dataset, Loader};
/// use candle_core::Device;
///
/// let d = Dataset::new((0..10).map(|i| i as f32).collect(), vec![0; 10], vec![1], 1)?;
/// let loader = Loader::new(4)?;
/// assert_eq!(loader.batches_per_epoch(d.len()), 3);
/// let sizes: Vec<usize> = loader
///     .epoch(&d, 42, 0, &Device::Cpu)
///     .map(|b| b.map(|b| b.len()))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(sizes, vec![4, 4, 2]);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Loader {
    batch_size: usize,
    shuffle: Shuffle,
    last_batch: LastBatch,
}

impl Loader {
    /// A shuffling loader of `batch_size` that keeps the last, smaller batch.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `batch_size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::data::Loader::new(0).is_err());
    /// ```
    pub fn new(batch_size: usize) -> Result<Self, TrainError> {
        if batch_size == 0 {
            return Err(TrainError::invalid("batch_size", 0, "must be at least 1"));
        }
        Ok(Loader {
            batch_size,
            shuffle: Shuffle::EachEpoch,
            last_batch: LastBatch::Keep,
        })
    }

    /// The same loader with another shuffling policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::{Loader, Shuffle};
    /// let l = Loader::new(8)?.with_shuffle(Shuffle::Off);
    /// assert_eq!(l.order(3, 0, 5), vec![0, 1, 2]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_shuffle(mut self, shuffle: Shuffle) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The same loader with another last-batch policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::{LastBatch, Loader};
    /// let l = Loader::new(4)?.with_last_batch(LastBatch::Drop);
    /// assert_eq!(l.batches_per_epoch(10), 2);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_last_batch(mut self, last_batch: LastBatch) -> Self {
        self.last_batch = last_batch;
        self
    }

    /// The batch size.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::data::Loader::new(64)?.batch_size(), 64);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// How many batches (optimizer steps) one epoch over `len` samples has.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::data::Loader::new(64)?.batches_per_epoch(1437), 23);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn batches_per_epoch(&self, len: usize) -> usize {
        match self.last_batch {
            LastBatch::Keep => len.div_ceil(self.batch_size),
            LastBatch::Drop => len / self.batch_size,
        }
    }

    /// The sample order of epoch `epoch` over `len` samples: a seeded Fisher-Yates
    /// permutation that depends only on `(seed, epoch)`, or `0..len` without shuffling.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = cadence_candle::data::Loader::new(2)?;
    /// assert_eq!(l.order(5, 1, 3), l.order(5, 1, 3));
    /// assert_ne!(l.order(50, 1, 3), l.order(50, 1, 4));
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn order(&self, len: usize, seed: u64, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..len).collect();
        if self.shuffle == Shuffle::EachEpoch {
            let mut rng = stream(seed, SHUFFLE_STREAM ^ epoch.rotate_left(32));
            order.shuffle(&mut rng);
        }
        order
    }

    /// The batches of epoch `epoch` of `data`, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::{Dataset, Loader};
    /// use candle_core::Device;
    /// let d = Dataset::new(vec![0.0; 5], vec![0; 5], vec![1], 1)?;
    /// assert_eq!(Loader::new(2)?.epoch(&d, 0, 0, &Device::Cpu).count(), 3);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn epoch<'a>(
        &self,
        data: &'a Dataset,
        seed: u64,
        epoch: u64,
        device: &Device,
    ) -> Batches<'a> {
        let mut order = self.order(data.len(), seed, epoch);
        order.truncate(self.batches_per_epoch(data.len()) * self.batch_size);
        Batches {
            data,
            order,
            batch_size: self.batch_size,
            next: 0,
            device: device.clone(),
        }
    }
}

/// The batches of one epoch; see [`Loader::epoch`].
///
/// # Examples
///
/// ```
/// use cadence_candle::data::{Dataset, Loader};
/// use candle_core::Device;
/// let d = Dataset::new(vec![0.0; 5], vec![0; 5], vec![1], 1)?;
/// let mut batches = Loader::new(2)?.epoch(&d, 0, 0, &Device::Cpu).starting_at(2);
/// assert_eq!(batches.next().unwrap()?.len(), 1);
/// assert!(batches.next().is_none());
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug)]
pub struct Batches<'a> {
    data: &'a Dataset,
    order: Vec<usize>,
    batch_size: usize,
    next: usize,
    device: Device,
}

impl Batches<'_> {
    /// Skips to batch `index` (0-based) without building the batches before it.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::{Dataset, Loader};
    /// use candle_core::Device;
    /// let d = Dataset::new(vec![0.0; 6], vec![0; 6], vec![1], 1)?;
    /// assert_eq!(Loader::new(2)?.epoch(&d, 0, 0, &Device::Cpu).starting_at(1).count(), 2);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn starting_at(mut self, index: usize) -> Self {
        self.next = index;
        self
    }
}

impl Iterator for Batches<'_> {
    type Item = Result<Batch, TrainError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next.checked_mul(self.batch_size)?;
        if start >= self.order.len() {
            return None;
        }
        let end = (start + self.batch_size).min(self.order.len());
        self.next += 1;
        Some(self.data.batch(&self.order[start..end], &self.device))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self
            .order
            .len()
            .div_ceil(self.batch_size)
            .saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize, classes: usize) -> Dataset {
        let labels = (0..n).map(|i| (i % classes) as u32).collect();
        Dataset::new((0..n).map(|i| i as f32).collect(), labels, vec![1], classes).unwrap()
    }

    #[test]
    fn split_is_a_partition_and_reproducible() {
        let d = toy(103, 4);
        for split in [Split::Stratified, Split::Shuffled] {
            let (a, b) = d.split(0.25, 9, split).unwrap();
            let (a2, b2) = d.split(0.25, 9, split).unwrap();
            assert_eq!((&a, &b), (&a2, &b2));
            let mut all: Vec<f32> = a.features().iter().chain(b.features()).copied().collect();
            all.sort_by(f32::total_cmp);
            assert_eq!(all, (0..103).map(|i| i as f32).collect::<Vec<_>>());
            let (c, _) = d.split(0.25, 10, split).unwrap();
            assert_ne!(a, c);
        }
    }

    #[test]
    fn largest_remainder_sums_exactly() {
        assert_eq!(largest_remainder(&[178, 182, 177], 108), vec![36, 37, 35]);
        assert_eq!(largest_remainder(&[1, 1, 1], 2), vec![1, 1, 0]);
        assert_eq!(largest_remainder(&[5, 0], 5), vec![5, 0]);
        assert_eq!(largest_remainder(&[], 0), Vec::<usize>::new());
    }

    #[test]
    fn stratified_split_keeps_balance() {
        let d = toy(1000, 10);
        let (train, test) = d.split(0.2, 1, Split::Stratified).unwrap();
        assert_eq!(test.class_counts(), vec![20; 10]);
        assert_eq!(train.class_counts(), vec![80; 10]);
        assert!(d.split(0.0, 1, Split::Stratified).is_err());
        assert!(d.split(1.0, 1, Split::Shuffled).is_err());
        assert!(d.split(f64::NAN, 1, Split::Shuffled).is_err());
    }

    #[test]
    fn orders_are_permutations_that_change_per_epoch() {
        let loader = Loader::new(7).unwrap();
        let o0 = loader.order(100, 3, 0);
        let o1 = loader.order(100, 3, 1);
        assert_ne!(o0, o1);
        assert_ne!(o0, loader.order(100, 4, 0));
        let mut sorted = o1.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn batches_cover_the_epoch() {
        let d = toy(23, 2);
        let loader = Loader::new(5).unwrap();
        let mut seen = Vec::new();
        for b in loader.epoch(&d, 1, 2, &Device::Cpu) {
            seen.extend(
                b.unwrap()
                    .x
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            );
        }
        let order: Vec<f32> = loader.order(23, 1, 2).iter().map(|&i| i as f32).collect();
        assert_eq!(seen, order);
        let dropped = loader.with_last_batch(LastBatch::Drop);
        assert_eq!(dropped.epoch(&d, 1, 2, &Device::Cpu).len(), 4);
        assert_eq!(dropped.epoch(&d, 1, 2, &Device::Cpu).count(), 4);
    }

    #[test]
    fn subsample_is_balanced_and_distinct() {
        let d = toy(100, 3);
        let s = d.subsample(10, 4).unwrap();
        assert_eq!(s.class_counts(), vec![4, 3, 3]);
        let mut v = s.features().to_vec();
        v.sort_by(f32::total_cmp);
        v.dedup();
        assert_eq!(v.len(), 10);
        assert!(d.subsample(0, 4).is_err());
        assert!(d.subsample(101, 4).is_err());
        assert_eq!(d.subsample(100, 4).unwrap().len(), 100);
    }

    #[test]
    fn standardize_gives_zero_mean_unit_variance() {
        let (train, _) = digits_split(Scaling::Standardize).unwrap();
        let n = train.len() as f64;
        for j in [5usize, 20, 36] {
            let col: Vec<f64> = (0..train.len())
                .map(|i| train.sample(i)[j] as f64)
                .collect();
            let mean = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            assert!(
                mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
                "{j}: {mean} {var}"
            );
        }
        // Pixel 0 is blank in every image: only centred, stays 0.
        assert!((0..train.len()).all(|i| train.sample(i)[0] == 0.0));
    }
}
