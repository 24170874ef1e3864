//! The learning-rate range test ("LR finder"): train for a few hundred steps while the
//! learning rate grows from tiny to huge, watch the loss, and read a good peak learning
//! rate off the curve. The model and the optimizer are left exactly as they were.
//!
//! ```text
//! lr_i = min * (max / min)^(i / (N - 1))        (exponential sweep)
//! lr_i = min + (max - min) * i / (N - 1)        (linear sweep)
//! avg_i = beta * avg_{i-1} + (1 - beta) * loss_i,  smoothed_i = avg_i / (1 - beta^(i + 1))
//! stop when smoothed_i > k * min_j<=i smoothed_j  (or the loss is not finite)
//! ```
//!
//! Four suggestions are read off the smoothed curve (see [`Method`]): `valley` (the middle
//! of the longest falling stretch, fastai's default), `steepest` (the steepest descent of
//! the loss against log lr), `minimum/10` and `slide` (fastai's interval slide rule). One is
//! recommended ([`RangeTest::with_recommend`], default valley), unless the curve gives no
//! grounds for any: a curve that rises from the start, one that never falls, or one whose
//! noise is comparable to its fall carries a [`Warning`] that withholds the recommendation
//! ([`LrCurve::recommended`] is `None`) instead of a confident wrong answer.
//!
//! ```
//! use cadence_candle::data::{Scaling, digits_split};
//! use cadence_candle::lr_finder::RangeTest;
//! use cadence_candle::model::{Mlp, MlpConfig, Model, Snapshot};
//! use cadence_candle::{ScheduledOptimizer, SgdConfig};
//! use candle_core::Device;
//! use candle_nn::Optimizer;
//!
//! let (train, _) = digits_split(Scaling::Standardize)?;
//! let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
//! let sgd = ScheduledOptimizer::new(model.vars(), SgdConfig::new(0.0).momentum(0.9).into())?;
//! let before = Snapshot::take(&model)?;
//! let curve = RangeTest::new(1e-4, 10.0, 60)?.run(&model, &sgd, &train)?;
//! assert_eq!(Snapshot::take(&model)?, before); // weights restored bit for bit
//! let lr = curve.recommended().expect("a clean curve");
//! assert!(lr > 1e-3 && lr < 3.0, "{lr}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # References
//! - Smith (2017), "Cyclical Learning Rates for Training Neural Networks", WACV.
//! - fastai, `LRFinder` and its suggestion functions `valley`, `steep`, `minimum`, `slide`.

use candle_core::Device;

use crate::data::{Dataset, Loader};
use crate::model::{Model, Snapshot};
use crate::train::{ScheduledOptimizer, TrainError, train_step};

/// How the learning rate moves from the minimum to the maximum.
///
/// # Examples
///
/// ```
/// use cadence_candle::lr_finder::Sweep;
/// assert_eq!(Sweep::default(), Sweep::Exponential);
/// assert!((Sweep::Exponential.lr(1e-4, 1.0, 2, 5) - 1e-2).abs() < 1e-15);
/// assert!((Sweep::Linear.lr(0.0, 1.0, 2, 5) - 0.5).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sweep {
    /// Geometric steps: the same factor between neighbours (the usual choice).
    #[default]
    Exponential,
    /// Equal steps.
    Linear,
}

impl Sweep {
    /// The learning rate at step `i` of a sweep of `steps` points from `min` to `max`.
    pub fn lr(self, min: f64, max: f64, i: usize, steps: usize) -> f64 {
        let t = if steps <= 1 {
            0.0
        } else {
            i as f64 / (steps - 1) as f64
        };
        match self {
            Sweep::Exponential => min * (max / min).powf(t),
            Sweep::Linear => min + (max - min) * t,
        }
    }
}

/// A rule that turns the loss-versus-learning-rate curve into a learning rate.
///
/// # Examples
///
/// ```
/// use cadence_candle::lr_finder::Method;
/// assert_eq!(Method::default(), Method::MinimumTenth);
/// assert_eq!(Method::MinimumTenth.to_string(), "minimum/10");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The middle of the longest falling stretch of the smoothed loss (the longest
    /// decreasing subsequence, as fastai's `valley`). Conservative when the loss falls
    /// from the very start of the sweep.
    Valley,
    /// The steepest descent of the smoothed loss against log lr, before its minimum.
    Steepest,
    /// A tenth of the learning rate at the smoothed loss's minimum (the default
    /// recommendation).
    #[default]
    MinimumTenth,
    /// fastai's interval slide rule: walking left from the end, the first learning rate
    /// where the slope stops changing across a window of 15% of the points.
    Slide,
}

impl Method {
    /// All methods, in report order.
    pub const ALL: [Method; 4] = [
        Method::Valley,
        Method::Steepest,
        Method::MinimumTenth,
        Method::Slide,
    ];
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Valley => "valley",
            Method::Steepest => "steepest",
            Method::MinimumTenth => "minimum/10",
            Method::Slide => "slide",
        })
    }
}

/// One suggested learning rate.
///
/// # Examples
///
/// ```
/// use cadence_candle::lr_finder::{Method, Suggestion};
/// let s = Suggestion { method: Method::Valley, lr: 0.03, index: 41 };
/// assert_eq!(s.method.to_string(), "valley");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Suggestion {
    /// The rule that produced it.
    pub method: Method,
    /// The learning rate.
    pub lr: f64,
    /// The index of the curve point it was read at (for `minimum/10`, the minimum's).
    pub index: usize,
}

/// Why a curve does not support a recommendation, or what to keep in mind about it.
///
/// # Examples
///
/// ```
/// use cadence_candle::lr_finder::Warning;
/// let w = Warning::DivergesFromStart { min_index: 1, points: 100 };
/// assert!(w.is_fatal());
/// assert!(w.to_string().contains("lower --min"));
/// assert!(!Warning::NeverDiverged { max_lr: 1.0 }.is_fatal());
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Warning {
    /// Fewer usable points than the suggestions need.
    TooFewPoints {
        /// Usable points.
        points: usize,
        /// Points needed.
        needed: usize,
    },
    /// The smoothed loss is lowest within the first 10% of the sweep: even the smallest
    /// learning rate is too large, or the test never left the start.
    DivergesFromStart {
        /// Where the smoothed loss is lowest.
        min_index: usize,
        /// Points recorded.
        points: usize,
    },
    /// The smoothed loss never fell by more than 5% below the starting level (the median
    /// loss over the first tenth of the points).
    NoDescent {
        /// The fall as a fraction of the starting level.
        relative_drop: f64,
    },
    /// The step-to-step noise of the loss is comparable to its fall.
    TooNoisy {
        /// The robust standard deviation of the raw loss over the fall.
        noise_to_drop: f64,
    },
    /// The loss never turned upward: the best learning rate may lie above the maximum.
    NeverDiverged {
        /// The largest learning rate tried.
        max_lr: f64,
    },
    /// The suggestions span more than a factor of 30.
    Disagreement {
        /// The largest over the smallest suggestion.
        ratio: f64,
    },
}

impl Warning {
    /// Whether the warning withholds the recommendation.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Warning::TooFewPoints { .. }
                | Warning::DivergesFromStart { .. }
                | Warning::NoDescent { .. }
                | Warning::TooNoisy { .. }
        )
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::TooFewPoints { points, needed } => write!(
                f,
                "only {points} usable points (need {needed}): raise --steps or --max"
            ),
            Warning::DivergesFromStart { min_index, points } => write!(
                f,
                "the loss rises from the start (lowest at point {min_index} of {points}): \
                 the smallest learning rate is already too large; lower --min"
            ),
            Warning::NoDescent { relative_drop } => write!(
                f,
                "the loss never falls (best {:.1}% below its start): widen the range or \
                 check the model and data",
                100.0 * relative_drop
            ),
            Warning::TooNoisy { noise_to_drop } => write!(
                f,
                "the curve is too noisy to trust (noise {:.0}% of the fall): use larger \
                 batches, more steps or stronger smoothing",
                100.0 * noise_to_drop
            ),
            Warning::NeverDiverged { max_lr } => write!(
                f,
                "the loss never turned upward up to lr {max_lr:e}: a larger --max may \
                 find a larger usable rate"
            ),
            Warning::Disagreement { ratio } => write!(
                f,
                "the suggestions span a factor of {ratio:.0}: read the plot"
            ),
        }
    }
}

/// Noise above this share of the fall withholds the recommendation.
const MAX_NOISE_TO_DROP: f64 = 0.5;
/// A fall below this share of the starting loss counts as no descent.
const MIN_RELATIVE_DROP: f64 = 0.05;
/// The minimum of the curve must lie beyond this share of the points.
const START_SHARE: f64 = 0.1;
/// Fewest usable points for suggestions.
const MIN_POINTS: usize = 10;

/// The settings of a range test. Build with [`RangeTest::new`] and the `with_*` methods;
/// run with [`RangeTest::run`].
///
/// # Examples
///
/// ```
/// use cadence_candle::lr_finder::{Method, RangeTest, Sweep};
/// let test = RangeTest::new(1e-6, 1.0, 100)?
///     .with_sweep(Sweep::Linear)
///     .with_smoothing(0.9)?
///     .with_divergence_factor(5.0)?
///     .with_recommend(Method::Steepest);
/// assert_eq!(test.steps(), 100);
/// assert!(RangeTest::new(1.0, 0.1, 100).is_err());
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RangeTest {
    min_lr: f64,
    max_lr: f64,
    steps: usize,
    sweep: Sweep,
    beta: f64,
    divergence_factor: f64,
    loader: Loader,
    seed: u64,
    recommend: Method,
}

impl RangeTest {
    /// A sweep of `steps` learning rates from `min_lr` to `max_lr`: exponential, smoothing
    /// `beta = 0.98`, stop at 4x the best smoothed loss, batches of 64 shuffled with seed 0,
    /// recommending `minimum/10`.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] unless `0 < min_lr < max_lr` (both finite) and
    /// `steps >= 2`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::lr_finder::RangeTest;
    /// assert!(RangeTest::new(1e-7, 10.0, 100).is_ok());
    /// assert!(RangeTest::new(0.0, 10.0, 100).is_err());
    /// assert!(RangeTest::new(1e-7, 10.0, 1).is_err());
    /// ```
    pub fn new(min_lr: f64, max_lr: f64, steps: usize) -> Result<Self, TrainError> {
        if !(min_lr.is_finite() && min_lr > 0.0) {
            return Err(TrainError::invalid(
                "min_lr",
                min_lr,
                "must be finite and positive",
            ));
        }
        if !(max_lr.is_finite() && max_lr > min_lr) {
            return Err(TrainError::invalid(
                "max_lr",
                max_lr,
                "must be finite and above min_lr",
            ));
        }
        if steps < 2 {
            return Err(TrainError::invalid("steps", steps, "must be at least 2"));
        }
        Ok(RangeTest {
            min_lr,
            max_lr,
            steps,
            sweep: Sweep::Exponential,
            beta: 0.98,
            divergence_factor: 4.0,
            loader: Loader::new(64)?,
            seed: 0,
            recommend: Method::MinimumTenth,
        })
    }

    /// Another sweep.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::lr_finder::{RangeTest, Sweep};
    /// let t = RangeTest::new(0.01, 1.0, 3)?.with_sweep(Sweep::Linear);
    /// assert_eq!(t.learning_rates(), vec![0.01, 0.505, 1.0]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_sweep(mut self, sweep: Sweep) -> Self {
        self.sweep = sweep;
        self
    }

    /// The smoothing factor `beta` of the bias-corrected moving average (0: none).
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] unless `0 <= beta < 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::lr_finder::RangeTest::new(0.01, 1.0, 3)?.with_smoothing(1.0).is_err());
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_smoothing(mut self, beta: f64) -> Result<Self, TrainError> {
        if !(0.0..1.0).contains(&beta) {
            return Err(TrainError::invalid("beta", beta, "must be in [0, 1)"));
        }
        self.beta = beta;
        Ok(self)
    }

    /// Stops once the smoothed loss exceeds `factor` times its best.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] unless `factor > 1` and finite.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::lr_finder::RangeTest::new(0.01, 1.0, 3)?.with_divergence_factor(1.0).is_err());
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_divergence_factor(mut self, factor: f64) -> Result<Self, TrainError> {
        crate::train::check_divergence_factor(factor)?;
        self.divergence_factor = factor;
        Ok(self)
    }

    /// The loader of the training batches (batch size, shuffling).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{data::Loader, lr_finder::RangeTest};
    /// let t = RangeTest::new(0.01, 1.0, 3)?.with_loader(Loader::new(128)?);
    /// assert_eq!(t.loader().batch_size(), 128);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_loader(mut self, loader: Loader) -> Self {
        self.loader = loader;
        self
    }

    /// The seed of the batch order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::lr_finder::RangeTest::new(0.01, 1.0, 3)?.with_seed(4).seed(), 4);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Which suggestion becomes the recommendation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::lr_finder::{Method, RangeTest};
    /// let t = RangeTest::new(0.01, 1.0, 3)?.with_recommend(Method::Slide);
    /// assert_eq!(t.recommend(), Method::Slide);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_recommend(mut self, method: Method) -> Self {
        self.recommend = method;
        self
    }

    /// The number of sweep points.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The loader.
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// The seed of the batch order.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The method whose suggestion is recommended.
    pub fn recommend(&self) -> Method {
        self.recommend
    }

    /// The learning rates of the full sweep.
    ///
    /// # Examples
    ///
    /// ```
    /// let lrs = cadence_candle::lr_finder::RangeTest::new(1e-3, 1.0, 4)?.learning_rates();
    /// assert!((lrs[1] - 1e-2).abs() < 1e-15 && (lrs[3] - 1.0).abs() < 1e-15);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn learning_rates(&self) -> Vec<f64> {
        (0..self.steps)
            .map(|i| self.sweep.lr(self.min_lr, self.max_lr, i, self.steps))
            .collect()
    }

    /// Runs the test: trains a copy of `optimizer` (a clone, so it starts from the same
    /// state and hyperparameters) on `model` with batches of `data`, setting every
    /// group's learning rate to the sweep's before each step, until the sweep ends or the
    /// smoothed loss exceeds the divergence factor times its best. Afterwards the model's
    /// weights are put back bit for bit; `optimizer` itself is never touched.
    ///
    /// The loss of each point is the mini-batch loss *before* that point's update, at the
    /// weights the previous learning rates produced.
    ///
    /// The sweep sets learning rates through
    /// [`ScheduledOptimizer::set_group_learning_rate`]; for this crate's
    /// [`crate::ScheduledOptimizer`] that replaces the base learning-rate schedule of the
    /// clone, while parameter groups with a learning-rate schedule of their own keep it
    /// (give the range test an optimizer without per-group schedules).
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `data` holds no batch; candle errors from
    /// training (the weights are restored in every case where restoring is possible).
    pub fn run<M, O>(&self, model: &M, optimizer: &O, data: &Dataset) -> Result<LrCurve, TrainError>
    where
        M: Model + ?Sized,
        O: ScheduledOptimizer + Clone,
    {
        let per_epoch = self.loader.batches_per_epoch(data.len());
        if per_epoch == 0 {
            return Err(TrainError::invalid(
                "data",
                format!("{} samples", data.len()),
                "must hold at least one batch",
            ));
        }
        let before = Snapshot::take(model)?;
        let result = self.sweep_on(model, optimizer.clone(), data, per_epoch);
        before.restore(model)?;
        let (lrs, losses) = result?;
        Ok(LrCurve::analyse(lrs, losses, self.beta, self.recommend))
    }

    fn sweep_on<M, O>(
        &self,
        model: &M,
        mut optimizer: O,
        data: &Dataset,
        per_epoch: usize,
    ) -> Result<(Vec<f64>, Vec<f64>), TrainError>
    where
        M: Model + ?Sized,
        O: ScheduledOptimizer,
    {
        let device = model
            .parameters()
            .first()
            .map(|(_, v)| v.device().clone())
            .unwrap_or(Device::Cpu);
        let mut smoother = Smoother::new(self.beta);
        let mut best = f64::INFINITY;
        let (mut lrs, mut losses) = (Vec::new(), Vec::new());
        let mut epoch = 0;
        let mut batches = self.loader.epoch(data, self.seed, epoch, &device);
        for (i, lr) in self.learning_rates().into_iter().enumerate() {
            let batch = match batches.next() {
                Some(b) => b?,
                None => {
                    epoch += 1;
                    batches = self.loader.epoch(data, self.seed, epoch, &device);
                    batches.next().ok_or_else(|| {
                        TrainError::invalid("data", per_epoch, "must hold at least one batch")
                    })??
                }
            };
            for g in 0..optimizer.group_count() {
                optimizer.set_group_learning_rate(g, lr);
            }
            optimizer.set_step(i as u64);
            let out = train_step(model, &mut optimizer, &batch)?;
            lrs.push(lr);
            losses.push(out.loss);
            if !out.loss.is_finite() {
                break;
            }
            let s = smoother.push(out.loss);
            best = best.min(s);
            if s > self.divergence_factor * best {
                break;
            }
        }
        Ok((lrs, losses))
    }
}

/// A bias-corrected exponential moving average.
#[derive(Debug, Clone, Copy)]
struct Smoother {
    beta: f64,
    avg: f64,
    weight: f64,
}

impl Smoother {
    fn new(beta: f64) -> Self {
        Smoother {
            beta,
            avg: 0.0,
            weight: 1.0,
        }
    }

    fn push(&mut self, x: f64) -> f64 {
        self.avg = self.beta * self.avg + (1.0 - self.beta) * x;
        self.weight *= self.beta;
        self.avg / (1.0 - self.weight)
    }
}

/// The outcome of a range test: the curve, the suggestions, the recommendation and the
/// warnings.
///
/// # Examples
///
/// ```
/// use cadence_candle::lr_finder::{LrCurve, Method};
///
/// // A clean synthetic curve: flat, falling, then exploding.
/// let lrs: Vec<f64> = (0..100).map(|i| 1e-5 * 10f64.powf(i as f64 * 6.0 / 99.0)).collect();
/// let losses: Vec<f64> = lrs.iter().map(|&lr| 2.0 - 1.5 * (lr / (lr + 1e-2)) + (lr / 0.3).powi(3)).collect();
/// let curve = LrCurve::analyse(lrs, losses, 0.0, Method::Valley);
/// let lr = curve.recommended().expect("clean");
/// assert!(lr > 1e-4 && lr < 0.3, "{lr}");
/// assert!(curve.warnings.is_empty(), "{:?}", curve.warnings);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LrCurve {
    /// The learning rate of each point.
    pub lrs: Vec<f64>,
    /// The raw mini-batch loss of each point.
    pub losses: Vec<f64>,
    /// The bias-corrected moving average of the losses (non-finite losses are kept out).
    pub smoothed: Vec<f64>,
    /// The suggestion of each [`Method`] that found one.
    pub suggestions: Vec<Suggestion>,
    /// The recommended suggestion, unless a fatal warning withholds it.
    pub recommendation: Option<Suggestion>,
    /// What to know about the curve; fatal ones withhold the recommendation.
    pub warnings: Vec<Warning>,
}

impl LrCurve {
    /// Smooths `losses` (with `beta`), reads the suggestions off the curve, checks it and
    /// recommends the suggestion of `recommend` if no fatal warning arises. The last
    /// point is left out of the suggestions when it ended the test by diverging.
    pub fn analyse(lrs: Vec<f64>, losses: Vec<f64>, beta: f64, recommend: Method) -> LrCurve {
        let mut smoother = Smoother::new(beta);
        let mut smoothed = Vec::with_capacity(losses.len());
        for &l in &losses {
            if !l.is_finite() {
                break;
            }
            smoothed.push(smoother.push(l));
        }
        // The usable part: up to the last point that did not end the test.
        let best = smoothed.iter().copied().fold(f64::INFINITY, f64::min);
        let mut usable = smoothed.len();
        while usable > 0 && smoothed[usable - 1] > 2.0 * best {
            usable -= 1;
        }
        let mut warnings = Vec::new();
        let mut suggestions = Vec::new();
        if usable < MIN_POINTS {
            warnings.push(Warning::TooFewPoints {
                points: usable,
                needed: MIN_POINTS,
            });
        } else {
            let xs: Vec<f64> = lrs[..usable].iter().map(|l| l.ln()).collect();
            let ys = &smoothed[..usable];
            suggestions = Method::ALL
                .iter()
                .filter_map(|&m| suggest(m, &lrs[..usable], &xs, ys))
                .collect();
            warnings.extend(check(&losses[..usable], ys, smoothed.len()));
            let diverged =
                smoothed.len() < losses.len() || smoothed.last().is_some_and(|&l| l > 2.0 * best);
            if !diverged && let Some(&max_lr) = lrs.last() {
                warnings.push(Warning::NeverDiverged { max_lr });
            }
            let (lo, hi) = suggestions
                .iter()
                .fold((f64::INFINITY, 0.0_f64), |(l, h), s| {
                    (l.min(s.lr), h.max(s.lr))
                });
            if suggestions.len() > 1 && hi / lo > 30.0 {
                warnings.push(Warning::Disagreement { ratio: hi / lo });
            }
        }
        let recommendation = if warnings.iter().any(Warning::is_fatal) {
            None
        } else {
            suggestions.iter().find(|s| s.method == recommend).copied()
        };
        LrCurve {
            lrs,
            losses,
            smoothed,
            suggestions,
            recommendation,
            warnings,
        }
    }

    /// The recommended learning rate, if the curve supports one.
    pub fn recommended(&self) -> Option<f64> {
        self.recommendation.map(|s| s.lr)
    }

    /// The suggestion of `method`, if it found one.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::lr_finder::{LrCurve, Method};
    /// let curve = LrCurve::analyse(vec![0.1, 1.0], vec![1.0, 1.0], 0.0, Method::Valley);
    /// assert!(curve.suggestion(Method::Steepest).is_none()); // two points are too few
    /// ```
    pub fn suggestion(&self, method: Method) -> Option<Suggestion> {
        self.suggestions
            .iter()
            .find(|s| s.method == method)
            .copied()
    }
}

/// The fatal checks: where the minimum lies, how far the loss fell, how noisy it is.
fn check(raw: &[f64], smoothed: &[f64], recorded: usize) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let n = smoothed.len();
    let min_index = argmin(smoothed);
    if (min_index as f64) < START_SHARE * recorded as f64 {
        warnings.push(Warning::DivergesFromStart {
            min_index,
            points: recorded,
        });
        return warnings;
    }
    // The fall: from the starting level (the median raw loss over the first tenth of the
    // points, at least 3) to the smoothed minimum.
    let head = ((START_SHARE * n as f64) as usize).clamp(3, n);
    let start = median(raw[..head].to_vec());
    let drop = start - smoothed[min_index];
    let scale = start.abs().max(f64::MIN_POSITIVE);
    if drop.is_nan() || drop < MIN_RELATIVE_DROP * scale {
        warnings.push(Warning::NoDescent {
            relative_drop: drop / scale,
        });
        return warnings;
    }
    // Noise: the robust standard deviation of the raw losses, from the median absolute
    // step-to-step difference (1.4826 MAD / sqrt 2; the trend of a smooth curve adds
    // little to a single step).
    let steps: Vec<f64> = raw.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let noise = 1.4826 * median(steps) / std::f64::consts::SQRT_2;
    if noise > MAX_NOISE_TO_DROP * drop {
        warnings.push(Warning::TooNoisy {
            noise_to_drop: noise / drop,
        });
    }
    warnings
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

fn argmin(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// numpy's `gradient` of `ys` against `xs`: central differences inside, one-sided at
/// the ends.
fn gradient(xs: &[f64], ys: &[f64]) -> Vec<f64> {
    let n = ys.len();
    (0..n)
        .map(|i| {
            let (a, b) = match i {
                0 => (0, 1),
                _ if i == n - 1 => (n - 2, n - 1),
                _ => (i - 1, i + 1),
            };
            (ys[b] - ys[a]) / (xs[b] - xs[a])
        })
        .collect()
}

fn suggest(method: Method, lrs: &[f64], xs: &[f64], ys: &[f64]) -> Option<Suggestion> {
    let n = ys.len();
    let min_index = argmin(ys);
    let index = match method {
        Method::MinimumTenth => {
            return Some(Suggestion {
                method,
                lr: lrs[min_index] / 10.0,
                index: min_index,
            });
        }
        Method::Steepest => {
            if min_index < 1 {
                return None;
            }
            let g = gradient(xs, ys);
            argmin(&g[..=min_index])
        }
        Method::Valley => {
            // Longest strictly decreasing subsequence, O(n^2) (n is a few hundred).
            let mut len = vec![1_usize; n];
            let mut from = (0..n).collect::<Vec<_>>();
            for i in 1..n {
                for j in 0..i {
                    if ys[i] < ys[j] && len[j] + 1 > len[i] {
                        len[i] = len[j] + 1;
                        from[i] = from[j];
                    }
                }
            }
            let end = (0..n).max_by_key(|&i| (len[i], std::cmp::Reverse(i)))?;
            let start = from[end];
            if end <= start {
                return None;
            }
            start + (end - start) / 2
        }
        Method::Slide => {
            let span = ys[0].abs().max(f64::MIN_POSITIVE);
            let g: Vec<f64> = gradient(&(0..n).map(|i| i as f64).collect::<Vec<_>>(), ys)
                .into_iter()
                .map(|d| d / span)
                .collect();
            let window = ((0.15 * n as f64).round() as usize).max(1);
            if n <= window {
                return None;
            }
            let threshold = 0.005 * 100.0 / n as f64;
            let mut r = n - 1;
            let mut l = r - window;
            let mut index = l;
            loop {
                if (g[r] - g[l]).abs() <= threshold {
                    break;
                }
                index = l;
                if l == 0 {
                    break;
                }
                r -= 1;
                l -= 1;
            }
            index
        }
    };
    Some(Suggestion {
        method,
        lr: lrs[index],
        index,
    })
}

#[cfg(test)]
mod tests {
    /// Asserts that `curve` carries a warning matching `pattern`, listing them if not.
    macro_rules! assert_warns {
        ($curve:expr, $pattern:pat) => {
            assert!(
                $curve.warnings.iter().any(|w| matches!(w, $pattern)),
                "{:?}",
                $curve.warnings
            )
        };
    }

    use super::*;
    use crate::data::{Scaling, digits_split};
    use crate::model::{Mlp, MlpConfig};
    use crate::train::single_threaded;
    use crate::{AdamConfig, SgdConfig};
    use candle_nn::Optimizer;

    fn sweep(n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n)
            .map(|i| Sweep::Exponential.lr(lo, hi, i, n))
            .collect()
    }

    /// A clean curve: plateau, fall around 1e-2, explosion past 0.3.
    fn clean(lrs: &[f64]) -> Vec<f64> {
        lrs.iter()
            .map(|&lr| 2.0 - 1.5 * (lr / (lr + 1e-2)) + (lr / 0.3).powi(3))
            .collect()
    }

    #[test]
    fn smoother_is_bias_corrected() {
        let mut s = Smoother::new(0.9);
        // A constant series is its own average from the first point on.
        for _ in 0..5 {
            assert!((s.push(3.0) - 3.0).abs() < 1e-12);
        }
    }

    #[test]
    fn suggestions_on_a_clean_curve() {
        let lrs = sweep(200, 1e-5, 10.0);
        let curve = LrCurve::analyse(lrs.clone(), clean(&lrs), 0.0, Method::Valley);
        assert_eq!(curve.suggestions.len(), 4, "{:?}", curve.suggestions);
        for s in &curve.suggestions {
            assert!(s.lr > 1e-4 && s.lr < 0.3, "{s:?}");
        }
        // The steepest fall of 2 - 1.5 lr/(lr + c) against log lr is at lr = c = 1e-2.
        let steep = curve.suggestion(Method::Steepest).unwrap().lr;
        assert!((steep / 1e-2).ln().abs() < 0.3, "{steep}");
        assert!(curve.recommended().is_some());
        assert!(!curve.warnings.iter().any(Warning::is_fatal));
    }

    #[test]
    fn diverging_from_the_start_withholds_the_recommendation() {
        let lrs = sweep(100, 1.0, 100.0);
        let losses: Vec<f64> = lrs.iter().map(|&lr| 2.0 + lr * lr).collect();
        let curve = LrCurve::analyse(lrs, losses, 0.98, Method::Valley);
        assert_eq!(curve.recommended(), None);
        assert_warns!(curve, Warning::DivergesFromStart { .. });
    }

    #[test]
    fn a_flat_curve_has_no_descent() {
        let lrs = sweep(100, 1e-6, 1e-3);
        // Slowly falling by 1% overall: not a usable descent.
        let losses: Vec<f64> = (0..100).map(|i| 2.0 - 2e-4 * i as f64).collect();
        let curve = LrCurve::analyse(lrs, losses, 0.98, Method::Valley);
        assert_eq!(curve.recommended(), None);
        assert_warns!(curve, Warning::NoDescent { .. });
    }

    #[test]
    fn a_noisy_curve_is_flagged() {
        let lrs = sweep(200, 1e-5, 10.0);
        // The clean curve plus the same standard normal draws, scaled by `noise`.
        let noisy = |noise: f64| -> Vec<f64> {
            let mut rng = crate::init::stream(3, 0);
            clean(&lrs)
                .into_iter()
                .map(|l| {
                    let z: f64 =
                        rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng);
                    l + noise * z
                })
                .collect()
        };
        let curve = LrCurve::analyse(lrs.clone(), noisy(1.5), 0.98, Method::Valley);
        assert_eq!(curve.recommended(), None, "{:?}", curve.warnings);
        assert_warns!(curve, Warning::TooNoisy { .. });
        // The same curve with mild noise is trusted.
        let curve = LrCurve::analyse(lrs.clone(), noisy(0.05), 0.98, Method::Valley);
        assert!(curve.recommended().is_some(), "{:?}", curve.warnings);
    }

    #[test]
    fn too_few_points_before_divergence() {
        let lrs = sweep(5, 1e-3, 1.0);
        let curve = LrCurve::analyse(lrs, vec![2.0, 1.5, 1.0, 0.8, f64::NAN], 0.0, Method::Valley);
        assert!(matches!(
            curve.warnings.as_slice(),
            [Warning::TooFewPoints { points: 4, .. }]
        ));
        assert_eq!(curve.smoothed.len(), 4);
    }

    fn state_bits(o: &impl ScheduledOptimizer) -> Vec<(String, Vec<u64>)> {
        o.state()
            .unwrap()
            .tensors
            .iter()
            .map(|(n, t)| {
                let v = t
                    .flatten_all()
                    .unwrap()
                    .to_dtype(candle_core::DType::F64)
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap();
                (n.clone(), v.into_iter().map(f64::to_bits).collect())
            })
            .collect()
    }

    #[test]
    fn the_range_test_leaves_weights_and_optimizer_bit_identical() {
        single_threaded(|| {
            let (train, _) = digits_split(Scaling::Standardize).unwrap();
            let train = train.subsample(512, 0).unwrap();
            for config in [
                crate::Algorithm::from(SgdConfig::new(0.05).momentum(0.9)),
                AdamConfig::adamw(1e-3).weight_decay(0.01).into(),
            ] {
                let run = |probe: bool| {
                    let model = Mlp::new(&MlpConfig::default(), 1, &Device::Cpu).unwrap();
                    let mut opt =
                        crate::ScheduledOptimizer::new(model.vars(), config.clone()).unwrap();
                    let config = crate::train::TrainConfig::new(1, 64).unwrap();
                    // Some training first, so there is momentum / moment state to keep.
                    for b in config.loader().epoch(&train, 0, 0, &Device::Cpu).take(3) {
                        train_step(&model, &mut opt, &b.unwrap()).unwrap();
                    }
                    let (weights, state) = (Snapshot::take(&model).unwrap(), state_bits(&opt));
                    if probe {
                        let curve = RangeTest::new(1e-4, 10.0, 40)
                            .unwrap()
                            .run(&model, &opt, &train)
                            .unwrap();
                        assert!(!curve.losses.is_empty());
                        assert_eq!(Snapshot::take(&model).unwrap(), weights);
                        assert_eq!(state_bits(&opt), state);
                    }
                    // And the next updates match a run that never probed.
                    for b in config.loader().epoch(&train, 0, 1, &Device::Cpu).take(3) {
                        train_step(&model, &mut opt, &b.unwrap()).unwrap();
                    }
                    (Snapshot::take(&model).unwrap(), state_bits(&opt))
                };
                let (probed, untouched) = (run(true), run(false));
                assert_eq!(probed.0, untouched.0);
                assert_eq!(probed.1, untouched.1);
            }
        })
        .unwrap();
    }

    #[test]
    fn digits_mlp_curve_is_trusted_and_sensible() {
        single_threaded(|| {
            let (train, _) = digits_split(Scaling::Standardize).unwrap();
            let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu).unwrap();
            let opt = crate::ScheduledOptimizer::new(
                model.vars(),
                SgdConfig::new(0.0).momentum(0.9).into(),
            )
            .unwrap();
            let curve = RangeTest::new(1e-5, 10.0, 100)
                .unwrap()
                .run(&model, &opt, &train)
                .unwrap();
            let lr = curve
                .recommended()
                .unwrap_or_else(|| panic!("{:?}", curve.warnings));
            assert!(lr > 3e-3 && lr < 1.0, "{lr}");
            // The loss exploded before the end of the sweep.
            assert!(curve.losses.len() < 100, "{}", curve.losses.len());
            // A sweep that starts far too high is refused.
            let curve = RangeTest::new(50.0, 1e4, 60)
                .unwrap()
                .run(&model, &opt, &train)
                .unwrap();
            assert_eq!(curve.recommended(), None, "{:?}", curve);
        })
        .unwrap();
    }
}
