//! Training the digits models for experiments: one [`DigitsJob`] (model, optimizer,
//! schedule, epochs, batch size, training subset, seed) in, one [`DigitsRun`] (per-epoch
//! train, validation and test metrics, the learning rate and mini-batch loss of every
//! step, the final weights' metrics, their displacement from the initial weights) out.
//!
//! The data are the embedded 8x8 digits of [`cadence_candle::data::digits_split`]: its
//! fixed 360-image test set, and its 1437 training images split once more (stratified,
//! fixed seed [`VALIDATION_SPLIT_SEED`]) into 1149 for training and 288 for validation
//! ([`Digits::load`]), or all 1437 for training and no validation set
//! ([`Digits::load_unsplit`]). A job may train on a class-balanced subset of the
//! training images, drawn from its seed, small enough to overfit.
//!
//! Training is `cadence_candle`'s own [`Trainer`] with a [`cadence_candle::ScheduledOptimizer`]
//! that follows the job's schedule, inside [`single_threaded`], so that
//! [`crate::runner::run_parallel`] runs one job per core. A job serialises everything its
//! result depends on, so the runner's cache can key on it.
//!
//! ```
//! use cadence_lab::digits::{Digits, DigitsJob, train};
//!
//! let data = Digits::load()?;
//! let job = DigitsJob::mlp(cadence::Exponential::new(0.05, 0.5, 40)?.into(), 3, 0)
//!     .with_train_subset(200);
//! let run = train(&job, &data)?;
//! assert_eq!(run.epochs.len(), 3);
//! assert_eq!(run.lr.len(), 3 * 7); // 200 samples in batches of 32
//! assert!((run.lr[20] - 0.05 * 0.5f64.powf(0.5)).abs() < 1e-12);
//! assert!(run.final_epoch().val_accuracy > 0.5);
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::{Context, Result, bail};
use cadence::ScheduleSpec;
use cadence_candle::data::{Dataset, Scaling, Split, digits_split};
use cadence_candle::model::{MlpConfig, Model, ModelSpec, Snapshot};
use cadence_candle::train::{
    Callback, Control, EvalRecord, Evaluation, Progress, StepRecord, StopReason, TrainConfig,
    TrainError, TrainMetrics, Trainer, evaluate, single_threaded,
};
use cadence_candle::{AdamConfig, Algorithm, MomentumKind, SgdConfig};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;

/// The seed of the split of the digits training images into training and validation.
pub const VALIDATION_SPLIT_SEED: u64 = 1;

/// The fraction of the digits training images held out for validation.
pub const VALIDATION_FRACTION: f64 = 0.2;

/// The digits data of every job: training pool, validation and test sets, standardised
/// with the statistics of the 1437 training images (pool and validation). An empty
/// validation set ([`Digits::load_unsplit`]) is skipped: validation metrics are `NaN`.
///
/// ```
/// let d = cadence_lab::digits::Digits::load()?;
/// assert_eq!((d.train.len(), d.valid.len(), d.test.len()), (1149, 288, 360));
/// # Ok::<(), anyhow::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Digits {
    /// The training pool (1149 images).
    pub train: Dataset,
    /// The validation set (288 images, or none): curves and early stopping.
    pub valid: Dataset,
    /// The test set (360 images): the final figure, never used to choose anything.
    pub test: Dataset,
}

impl Digits {
    /// Loads and splits the embedded digits.
    ///
    /// # Errors
    /// When the embedded data set is malformed.
    ///
    /// ```
    /// let d = cadence_lab::digits::Digits::load()?;
    /// assert_eq!(d.valid.class_counts().iter().sum::<usize>(), 288);
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn load() -> Result<Self> {
        let (pool, test) = digits_split(Scaling::Standardize)?;
        let (train, valid) = pool.split(
            VALIDATION_FRACTION,
            VALIDATION_SPLIT_SEED,
            Split::Stratified,
        )?;
        Ok(Digits { train, valid, test })
    }

    /// Loads the embedded digits without a validation set: all 1437 training images
    /// train, the 360 test images test.
    ///
    /// # Errors
    /// When the embedded data set is malformed.
    ///
    /// ```
    /// let d = cadence_lab::digits::Digits::load_unsplit()?;
    /// assert_eq!((d.train.len(), d.valid.len(), d.test.len()), (1437, 0, 360));
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn load_unsplit() -> Result<Self> {
        let (train, test) = digits_split(Scaling::Standardize)?;
        let valid = train.select(&[]);
        Ok(Digits { train, valid, test })
    }
}

/// The optimizer of a job; its learning rate follows the job's schedule.
///
/// ```
/// use cadence_lab::digits::Optimizer;
///
/// assert_eq!(Optimizer::sgd_momentum(0.9), Optimizer::SgdMomentum { momentum: 0.9, nesterov: false, weight_decay: 0.0 });
/// assert!(matches!(Optimizer::adamw(1e-2), Optimizer::AdamW { beta1, .. } if beta1 == 0.9));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Optimizer {
    /// SGD with (heavy-ball or Nesterov) momentum, PyTorch's rule.
    SgdMomentum {
        /// The momentum coefficient.
        momentum: f64,
        /// Nesterov momentum instead of heavy ball.
        nesterov: bool,
        /// L2 weight decay added to the gradient.
        weight_decay: f64,
    },
    /// Adam (weight decay as L2 added to the gradient), PyTorch's rule.
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// L2 weight decay added to the gradient.
        weight_decay: f64,
    },
    /// AdamW (decoupled weight decay), PyTorch's rule.
    AdamW {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Decoupled weight decay.
        weight_decay: f64,
    },
}

impl Optimizer {
    /// Heavy-ball SGD with `momentum`, no weight decay.
    ///
    /// ```
    /// # use cadence_lab::digits::Optimizer;
    /// assert!(matches!(Optimizer::sgd_momentum(0.5), Optimizer::SgdMomentum { momentum, .. } if momentum == 0.5));
    /// ```
    pub fn sgd_momentum(momentum: f64) -> Self {
        Optimizer::SgdMomentum {
            momentum,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    /// Adam with PyTorch's defaults: betas (0.9, 0.999), no weight decay.
    ///
    /// ```
    /// # use cadence_lab::digits::Optimizer;
    /// assert_eq!(Optimizer::adam(), Optimizer::Adam { beta1: 0.9, beta2: 0.999, weight_decay: 0.0 });
    /// ```
    pub fn adam() -> Self {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.0,
        }
    }

    /// AdamW with PyTorch's default betas (0.9, 0.999) and `weight_decay`.
    ///
    /// ```
    /// # use cadence_lab::digits::Optimizer;
    /// assert!(matches!(Optimizer::adamw(0.01), Optimizer::AdamW { beta2, .. } if beta2 == 0.999));
    /// ```
    pub fn adamw(weight_decay: f64) -> Self {
        Optimizer::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            weight_decay,
        }
    }

    /// The scheduled optimizer's configuration with `lr` as its learning rate.
    ///
    /// ```
    /// use cadence_lab::digits::Optimizer;
    /// use cadence_candle::Algorithm;
    ///
    /// let a = Optimizer::adamw(0.0).algorithm(cadence::Constant::new(1e-3)?.into());
    /// assert!(matches!(a, Algorithm::Adam(_)));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn algorithm(&self, lr: ScheduleSpec) -> Algorithm {
        match *self {
            Optimizer::SgdMomentum {
                momentum,
                nesterov,
                weight_decay,
            } => SgdConfig::new(lr)
                .momentum(momentum)
                .kind(if nesterov {
                    MomentumKind::Nesterov
                } else {
                    MomentumKind::Classical
                })
                .weight_decay(weight_decay)
                .into(),
            Optimizer::Adam {
                beta1,
                beta2,
                weight_decay,
            } => AdamConfig::adam(lr)
                .betas(beta1, beta2)
                .weight_decay(weight_decay)
                .into(),
            Optimizer::AdamW {
                beta1,
                beta2,
                weight_decay,
            } => AdamConfig::adamw(lr)
                .betas(beta1, beta2)
                .weight_decay(weight_decay)
                .into(),
        }
    }
}

/// One training run on the digits: everything its result depends on.
///
/// ```
/// use cadence_lab::digits::{DigitsJob, Optimizer};
///
/// let job = DigitsJob::mlp(cadence::Constant::new(0.05)?.into(), 20, 3)
///     .with_optimizer(Optimizer::adamw(1e-4))
///     .with_batch_size(64)
///     .with_train_subset(300);
/// assert_eq!((job.epochs, job.batch_size, job.train_subset, job.seed), (20, 64, Some(300), 3));
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitsJob {
    /// The model (its weights are drawn from `seed`).
    pub model: ModelSpec,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// The learning rate over optimizer steps.
    pub schedule: ScheduleSpec,
    /// Epochs (passes over the training set or subset).
    pub epochs: u64,
    /// Mini-batch size (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Train on a class-balanced subset of this many images of the pool, drawn from
    /// `seed`; `None`: the whole pool.
    pub train_subset: Option<usize>,
    /// How the per-epoch training loss and accuracy are measured.
    pub train_metrics: TrainMetrics,
    /// The seed of the weights, the batch order and the subset.
    pub seed: u64,
    /// After how many updates the L2 distance of all weights from their initial values
    /// is recorded ([`DigitsRun::displacement`]).
    pub displacement_at: Vec<u64>,
}

impl DigitsJob {
    /// The digits MLP 64-128-10 trained by heavy-ball SGD (momentum 0.9) under
    /// `schedule` for `epochs` epochs in batches of 32, on the whole pool, with training
    /// metrics from a full pass after each epoch.
    ///
    /// ```
    /// let job = cadence_lab::digits::DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 5, 0);
    /// assert_eq!(job.train_subset, None);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn mlp(schedule: ScheduleSpec, epochs: u64, seed: u64) -> Self {
        DigitsJob {
            model: ModelSpec::Mlp(MlpConfig::default()),
            optimizer: Optimizer::sgd_momentum(0.9),
            schedule,
            epochs,
            batch_size: 32,
            train_subset: None,
            train_metrics: TrainMetrics::FullPass,
            seed,
            displacement_at: Vec::new(),
        }
    }

    /// Another schedule.
    ///
    /// ```
    /// let job = cadence_lab::digits::DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 1, 0)
    ///     .with_schedule(cadence::Constant::new(0.2)?.into());
    /// assert_eq!(job.schedule, cadence::Constant::new(0.2)?.into());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_schedule(mut self, schedule: ScheduleSpec) -> Self {
        self.schedule = schedule;
        self
    }

    /// Another model.
    ///
    /// ```
    /// use cadence_candle::model::{CnnConfig, ModelSpec};
    /// let job = cadence_lab::digits::DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 1, 0)
    ///     .with_model(ModelSpec::Cnn(CnnConfig::default()));
    /// assert!(matches!(job.model, ModelSpec::Cnn(_)));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_model(mut self, model: ModelSpec) -> Self {
        self.model = model;
        self
    }

    /// Another optimizer.
    ///
    /// ```
    /// use cadence_lab::digits::{DigitsJob, Optimizer};
    /// let job = DigitsJob::mlp(cadence::Constant::new(1e-3)?.into(), 1, 0).with_optimizer(Optimizer::adamw(0.0));
    /// assert_eq!(job.optimizer, Optimizer::adamw(0.0));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_optimizer(mut self, optimizer: Optimizer) -> Self {
        self.optimizer = optimizer;
        self
    }

    /// Another batch size.
    ///
    /// ```
    /// let job = cadence_lab::digits::DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 1, 0).with_batch_size(8);
    /// assert_eq!(job.batch_size, 8);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Trains on a class-balanced subset of `n` images drawn from the job's seed.
    ///
    /// ```
    /// let job = cadence_lab::digits::DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 1, 0).with_train_subset(100);
    /// assert_eq!(job.train_subset, Some(100));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_train_subset(mut self, n: usize) -> Self {
        self.train_subset = Some(n);
        self
    }

    /// How training metrics are measured ([`TrainMetrics::Running`] saves a forward pass).
    ///
    /// ```
    /// use cadence_candle::train::TrainMetrics;
    /// let job = cadence_lab::digits::DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 1, 0)
    ///     .with_train_metrics(TrainMetrics::Running);
    /// assert_eq!(job.train_metrics, TrainMetrics::Running);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_train_metrics(mut self, metrics: TrainMetrics) -> Self {
        self.train_metrics = metrics;
        self
    }

    /// Records the displacement of the weights from their initial values after each of
    /// these numbers of updates (those the run reaches).
    ///
    /// ```
    /// let job = cadence_lab::digits::DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 1, 0)
    ///     .with_displacement_at(&[5, 50]);
    /// assert_eq!(job.displacement_at, [5, 50]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_displacement_at(mut self, updates: &[u64]) -> Self {
        self.displacement_at = updates.to_vec();
        self
    }

    /// Optimizer steps per epoch on `data` (`ceil(training images / batch size)`).
    ///
    /// ```
    /// use cadence_lab::digits::{Digits, DigitsJob};
    /// let d = Digits::load()?;
    /// let job = DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 1, 0).with_train_subset(200);
    /// assert_eq!(job.steps_per_epoch(&d), 7);
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn steps_per_epoch(&self, data: &Digits) -> u64 {
        let n = self.train_subset.unwrap_or(data.train.len());
        (n as u64).div_ceil(self.batch_size.max(1) as u64)
    }

    /// Optimizer steps of the whole run on `data` (epochs times steps per epoch).
    ///
    /// ```
    /// use cadence_lab::digits::{Digits, DigitsJob};
    /// let d = Digits::load()?;
    /// let job = DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 3, 0).with_train_subset(200);
    /// assert_eq!(job.total_steps(&d), 21);
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn total_steps(&self, data: &Digits) -> u64 {
        self.epochs * self.steps_per_epoch(data)
    }
}

/// The metrics after one epoch.
///
/// ```
/// use cadence_lab::digits::EpochMetrics;
/// let e = EpochMetrics { epoch: 1, step: 7, train_loss: 0.5, train_accuracy: 0.9,
///     val_loss: 0.6, val_accuracy: 0.85, test_loss: 0.6, test_accuracy: 0.86 };
/// assert!(e.gap() > 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epochs completed (1 after the first).
    pub epoch: u64,
    /// Optimizer steps taken.
    pub step: u64,
    /// Training loss (see [`DigitsJob::train_metrics`]).
    pub train_loss: f64,
    /// Training accuracy.
    pub train_accuracy: f64,
    /// Validation loss.
    pub val_loss: f64,
    /// Validation accuracy.
    pub val_accuracy: f64,
    /// Test loss.
    pub test_loss: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
}

impl EpochMetrics {
    /// The generalisation gap: validation loss minus training loss.
    ///
    /// ```
    /// # use cadence_lab::digits::EpochMetrics;
    /// let e = EpochMetrics { epoch: 1, step: 1, train_loss: 0.25, train_accuracy: 1.0,
    ///     val_loss: 1.0, val_accuracy: 0.8, test_loss: 1.0, test_accuracy: 0.8 };
    /// assert_eq!(e.gap(), 0.75);
    /// ```
    pub fn gap(&self) -> f64 {
        self.val_loss - self.train_loss
    }
}

/// The metrics of the weights a run ended with: after its last epoch, or for a run that
/// diverged, before the update that diverged. The training metrics are a full pass.
///
/// ```
/// use cadence_lab::digits::EndMetrics;
/// let e = EndMetrics { train_loss: 0.1, train_accuracy: 1.0, test_loss: 0.3, test_accuracy: 0.9 };
/// assert!(e.test_loss > e.train_loss);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EndMetrics {
    /// Training loss (full pass over the job's training images).
    pub train_loss: f64,
    /// Training accuracy (full pass).
    pub train_accuracy: f64,
    /// Test loss.
    pub test_loss: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
}

/// What a [`DigitsJob`] measured.
///
/// ```
/// use cadence_lab::digits::{DigitsRun, EndMetrics, EpochMetrics};
/// let e = |epoch, val_loss| EpochMetrics { epoch, step: epoch, train_loss: 0.1, train_accuracy: 1.0,
///     val_loss, val_accuracy: 0.9, test_loss: val_loss, test_accuracy: 0.9 };
/// let end = EndMetrics { train_loss: 0.1, train_accuracy: 1.0, test_loss: 0.4, test_accuracy: 0.9 };
/// let run = DigitsRun { epochs: vec![e(1, 0.5), e(2, 0.3), e(3, 0.4)], lr: vec![0.1; 3],
///     loss: vec![2.3, 1.0, 0.5], diverged: false, end, displacement: vec![] };
/// assert_eq!(run.best_val_epoch().epoch, 2);
/// assert_eq!(run.final_epoch().epoch, 3);
/// assert_eq!(run.blowup_at(10.0), None);
/// assert_eq!(run.max_loss(), 2.3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitsRun {
    /// One record per completed epoch, in order.
    pub epochs: Vec<EpochMetrics>,
    /// The learning rate of every optimizer step.
    pub lr: Vec<f64>,
    /// The mini-batch loss of every optimizer step (the step that diverged excluded).
    pub loss: Vec<f64>,
    /// Whether training stopped on a non-finite loss, at step `loss.len()` (the records
    /// end there).
    pub diverged: bool,
    /// The metrics of the weights the run ended with.
    pub end: EndMetrics,
    /// `(updates, ||w - w0||)`: the L2 distance of all weights from their initial values
    /// after each of [`DigitsJob::displacement_at`] that the run reached.
    pub displacement: Vec<(u64, f64)>,
}

impl DigitsRun {
    /// The last epoch's record.
    ///
    /// # Panics
    /// If no epoch completed (a run that diverged in its first epoch).
    pub fn final_epoch(&self) -> &EpochMetrics {
        self.epochs.last().expect("at least one completed epoch")
    }

    /// The epoch of lowest validation loss (the first of ties): where early stopping on
    /// the validation loss would have kept the weights.
    ///
    /// # Panics
    /// If no epoch completed.
    pub fn best_val_epoch(&self) -> &EpochMetrics {
        self.epochs
            .iter()
            .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
            .expect("at least one completed epoch")
    }

    /// The step at which training diverged (a non-finite loss), if it did.
    ///
    /// ```
    /// # use cadence_lab::digits::{DigitsRun, EndMetrics};
    /// let end = EndMetrics { train_loss: 2.0, train_accuracy: 0.2, test_loss: 2.0, test_accuracy: 0.2 };
    /// let run = DigitsRun { epochs: vec![], lr: vec![0.1; 2], loss: vec![2.3, 40.0],
    ///     diverged: true, end, displacement: vec![] };
    /// assert_eq!(run.diverged_at(), Some(2));
    /// ```
    pub fn diverged_at(&self) -> Option<u64> {
        self.diverged.then_some(self.loss.len() as u64)
    }

    /// The first step whose mini-batch loss was above `factor` times the first step's
    /// loss, or not finite (a blow-up); `None` if there was none.
    ///
    /// ```
    /// # use cadence_lab::digits::{DigitsRun, EndMetrics};
    /// let end = EndMetrics { train_loss: 2.0, train_accuracy: 0.2, test_loss: 2.0, test_accuracy: 0.2 };
    /// let run = DigitsRun { epochs: vec![], lr: vec![0.1; 4], loss: vec![2.3, 1.0, 30.0, 0.9],
    ///     diverged: false, end, displacement: vec![] };
    /// assert_eq!(run.blowup_at(10.0), Some(2));
    /// assert_eq!(run.blowup_at(20.0), None);
    /// ```
    pub fn blowup_at(&self, factor: f64) -> Option<u64> {
        let first = self.loss.first().copied().unwrap_or(f64::NAN);
        self.loss
            .iter()
            .position(|&l| !l.is_finite() || l > factor * first)
            .map(|t| t as u64)
            .or(self.diverged_at())
    }

    /// The largest mini-batch loss of the run; infinite if it diverged.
    ///
    /// ```
    /// # use cadence_lab::digits::{DigitsRun, EndMetrics};
    /// let end = EndMetrics { train_loss: 2.0, train_accuracy: 0.2, test_loss: 2.0, test_accuracy: 0.2 };
    /// let run = DigitsRun { epochs: vec![], lr: vec![0.1; 2], loss: vec![2.3, 3.0],
    ///     diverged: true, end, displacement: vec![] };
    /// assert_eq!(run.max_loss(), f64::INFINITY);
    /// ```
    pub fn max_loss(&self) -> f64 {
        if self.diverged {
            f64::INFINITY
        } else {
            self.loss.iter().copied().fold(f64::NAN, f64::max)
        }
    }
}

/// Evaluates the model on the test set after every evaluation, into a shared list.
struct TestProbe<'a> {
    test: &'a Dataset,
    out: Rc<RefCell<Vec<Evaluation>>>,
}

impl Callback for TestProbe<'_> {
    fn on_eval(&mut self, _record: &EvalRecord, model: &dyn Model) -> Result<Control, TrainError> {
        let e = evaluate(model, self.test, &Device::Cpu)?;
        self.out.borrow_mut().push(e);
        Ok(Control::Continue)
    }
}

/// Records `||w - w0||` after chosen numbers of updates, into a shared list.
struct Displacement {
    init: Snapshot,
    at: Vec<u64>,
    out: Rc<RefCell<Vec<(u64, f64)>>>,
}

impl Callback for Displacement {
    fn on_step(&mut self, record: &StepRecord, model: &dyn Model) -> Result<Control, TrainError> {
        let updates = record.step + 1;
        if self.at.contains(&updates) {
            let d = self.init.distance(&Snapshot::take(model)?)?;
            self.out.borrow_mut().push((updates, d));
        }
        Ok(Control::Continue)
    }
}

/// Trains `job` on `data` on a thread of its own with a private one-thread rayon pool
/// ([`single_threaded`]) and returns its records; call it from as many threads as there
/// are cores (as [`crate::runner::run_parallel`] does).
///
/// # Errors
/// An invalid job (subset larger than the training set, batch size 0, an optimizer
/// configuration the optimizer rejects) or a failed tensor operation.
///
/// ```
/// use cadence_lab::digits::{Digits, DigitsJob};
///
/// let data = Digits::load()?;
/// let too_big = DigitsJob::mlp(cadence::Constant::new(0.1)?.into(), 1, 0).with_train_subset(5000);
/// assert!(cadence_lab::digits::train(&too_big, &data).is_err());
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn train(job: &DigitsJob, data: &Digits) -> Result<DigitsRun> {
    let subset;
    let train = match job.train_subset {
        Some(n) => {
            subset = data.train.subsample(n, job.seed)?;
            &subset
        }
        None => &data.train,
    };
    // On a thread of its own: `single_threaded` called from a rayon worker (the runner's)
    // would let that worker start other runs while it waits, nesting them all.
    std::thread::scope(|scope| {
        scope
            .spawn(|| single_threaded(|| train_on(job, train, data)))
            .join()
    })
    .map_err(|_| anyhow::anyhow!("the training thread panicked"))??
}

fn train_on(job: &DigitsJob, train: &Dataset, data: &Digits) -> Result<DigitsRun> {
    let device = Device::Cpu;
    let model = job.model.build(job.seed, &device)?;
    let optimizer = <cadence_candle::ScheduledOptimizer as candle_nn::Optimizer>::new(
        model.vars(),
        job.optimizer.algorithm(job.schedule.clone()),
    )
    .context("building the optimizer")?;
    let config = TrainConfig::new(job.epochs, job.batch_size)?
        .with_seed(job.seed)
        .with_train_metrics(job.train_metrics)
        .with_progress(Progress::Hidden);
    let tests = Rc::new(RefCell::new(Vec::new()));
    let probe = TestProbe {
        test: &data.test,
        out: Rc::clone(&tests),
    };
    let displacement = Rc::new(RefCell::new(Vec::new()));
    let mut trainer =
        Trainer::new(&model, optimizer, train, config)?.with_callback(Box::new(probe));
    if !data.valid.is_empty() {
        trainer = trainer.with_validation(&data.valid);
    }
    if !job.displacement_at.is_empty() {
        trainer = trainer.with_callback(Box::new(Displacement {
            init: Snapshot::take(&model)?,
            at: job.displacement_at.clone(),
            out: Rc::clone(&displacement),
        }));
    }
    let report = trainer.run()?;
    let diverged = matches!(report.stop, StopReason::Diverged { .. });
    if !diverged && !report.stop.is_completed() {
        bail!("training stopped early: {}", report.stop);
    }
    let tests = tests.borrow();
    let epochs = report
        .history
        .evals
        .iter()
        .zip(tests.iter())
        .map(|(r, t)| EpochMetrics {
            epoch: r.epoch,
            step: r.step,
            train_loss: r.train_loss,
            train_accuracy: r.train_accuracy,
            val_loss: r.val_loss.unwrap_or(f64::NAN),
            val_accuracy: r.val_accuracy.unwrap_or(f64::NAN),
            test_loss: t.loss,
            test_accuracy: t.accuracy,
        })
        .collect();
    let steps = &report.history.steps;
    let lr = steps
        .iter()
        .map(|s| s.lr.first().copied().unwrap_or(f64::NAN))
        .collect();
    let loss = steps.iter().map(|s| s.loss).collect();
    let (on_train, on_test) = (
        evaluate(&model, train, &device)?,
        evaluate(&model, &data.test, &device)?,
    );
    let end = EndMetrics {
        train_loss: on_train.loss,
        train_accuracy: on_train.accuracy,
        test_loss: on_test.loss,
        test_accuracy: on_test.accuracy,
    };
    let displacement = displacement.take();
    Ok(DigitsRun {
        epochs,
        lr,
        loss,
        diverged,
        end,
        displacement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_drives_the_learning_rate_and_runs_are_reproducible() {
        let data = Digits::load().unwrap();
        let schedule: ScheduleSpec = cadence::Exponential::new(0.05, 0.5, 10).unwrap().into();
        let job = DigitsJob::mlp(schedule, 2, 4).with_train_subset(100);
        let a = train(&job, &data).unwrap();
        let b = train(&job, &data).unwrap();
        assert_eq!(a, b, "same job, same records");
        assert_eq!(a.lr.len(), 2 * 4);
        for (t, lr) in a.lr.iter().enumerate() {
            assert!(
                (lr - 0.05 * 0.5f64.powf(t as f64 / 10.0)).abs() < 1e-12,
                "step {t}"
            );
        }
        assert_eq!(a.epochs.iter().map(|e| e.step).collect::<Vec<_>>(), [4, 8]);
        let other_seed = train(
            &DigitsJob {
                seed: 5,
                ..job.clone()
            },
            &data,
        )
        .unwrap();
        assert_ne!(a.epochs, other_seed.epochs);
        // AdamW trains too, and learns something in 3 epochs on the whole pool.
        let adam = DigitsJob::mlp(cadence::Constant::new(1e-3).unwrap().into(), 3, 0)
            .with_optimizer(Optimizer::adamw(0.0))
            .with_batch_size(64);
        let r = train(&adam, &data).unwrap();
        assert!(r.final_epoch().test_accuracy > 0.8, "{:?}", r.final_epoch());
        assert!(!r.diverged);
    }

    #[test]
    fn adam_records_displacement_blowups_and_the_end_on_the_unsplit_data() {
        let data = Digits::load_unsplit().unwrap();
        let job = DigitsJob::mlp(cadence::Constant::new(1e-3).unwrap().into(), 2, 1)
            .with_optimizer(Optimizer::adam())
            .with_batch_size(64)
            .with_train_subset(256)
            .with_train_metrics(TrainMetrics::Running)
            .with_displacement_at(&[1, 4, 1000]);
        let r = train(&job, &data).unwrap();
        assert_eq!(r.loss.len() as u64, job.total_steps(&data));
        assert_eq!(r.epochs.len(), 2);
        assert!(
            r.epochs.iter().all(|e| e.val_loss.is_nan()),
            "no validation set"
        );
        // Completed: the end is the last epoch's weights.
        let last = r.final_epoch();
        assert!((r.end.test_accuracy - last.test_accuracy).abs() < 1e-12);
        assert!(r.end.test_accuracy > 0.5, "{:?}", r.end);
        assert_eq!((r.diverged_at(), r.blowup_at(10.0)), (None, None));
        assert!(r.max_loss() >= r.loss[0]);
        // 1000 updates are never reached; displacement grows with the updates.
        assert_eq!(
            r.displacement.iter().map(|d| d.0).collect::<Vec<_>>(),
            [1, 4]
        );
        assert!(r.displacement[0].1 > 0.0 && r.displacement[1].1 > r.displacement[0].1);
        // A huge rate blows the loss up.
        let wild = job.with_schedule(cadence::Constant::new(1e3).unwrap().into());
        let w = train(&wild, &data).unwrap();
        assert!(w.blowup_at(10.0).is_some(), "{:?}", w.loss);
        assert!(w.max_loss() > 10.0 * w.loss[0]);
    }
}
