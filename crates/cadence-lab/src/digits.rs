//! Training the digits models for experiments: one [`DigitsJob`] (model, optimizer,
//! schedule, epochs, batch size, training subset, seed) in, one [`DigitsRun`] (per-epoch
//! train, validation and test metrics and the learning-rate trace) out.
//!
//! The data are the embedded 8x8 digits of [`cadence_candle::data::digits_split`]: its
//! fixed 360-image test set, and its 1437 training images split once more (stratified,
//! fixed seed [`VALIDATION_SPLIT_SEED`]) into 1149 for training and 288 for validation
//! ([`Digits::load`]). A job may train on a class-balanced subset of the 1149, drawn
//! from its seed, small enough to overfit.
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
use cadence_candle::model::{MlpConfig, Model, ModelSpec};
use cadence_candle::train::{
    Callback, Control, EvalRecord, Evaluation, Progress, StopReason, TrainConfig, TrainError,
    TrainMetrics, Trainer, evaluate, single_threaded,
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
/// with the statistics of the 1437 training images (pool and validation).
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
    /// The validation set (288 images): curves and early stopping.
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
        }
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

/// What a [`DigitsJob`] measured.
///
/// ```
/// use cadence_lab::digits::{DigitsRun, EpochMetrics};
/// let e = |epoch, val_loss| EpochMetrics { epoch, step: epoch, train_loss: 0.1, train_accuracy: 1.0,
///     val_loss, val_accuracy: 0.9, test_loss: val_loss, test_accuracy: 0.9 };
/// let run = DigitsRun { epochs: vec![e(1, 0.5), e(2, 0.3), e(3, 0.4)], lr: vec![0.1; 3], diverged: false };
/// assert_eq!(run.best_val_epoch().epoch, 2);
/// assert_eq!(run.final_epoch().epoch, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitsRun {
    /// One record per completed epoch, in order.
    pub epochs: Vec<EpochMetrics>,
    /// The learning rate of every optimizer step.
    pub lr: Vec<f64>,
    /// Whether training stopped on a non-finite loss (the records end there).
    pub diverged: bool,
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

/// Trains `job` on `data` on a thread of its own with a private one-thread rayon pool
/// ([`single_threaded`]) and returns its records; call it from as many threads as there
/// are cores (as [`crate::runner::run_parallel`] does).
///
/// # Errors
/// An invalid job (subset larger than the pool, batch size 0, an optimizer
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
    let report = Trainer::new(&model, optimizer, train, config)?
        .with_validation(&data.valid)
        .with_callback(Box::new(probe))
        .run()?;
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
    let lr = report
        .history
        .steps
        .iter()
        .map(|s| s.lr.first().copied().unwrap_or(f64::NAN))
        .collect();
    Ok(DigitsRun {
        epochs,
        lr,
        diverged,
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
}
