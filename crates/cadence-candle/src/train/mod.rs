//! The training loop: seeded batches, per-step learning rates from cadence schedules,
//! CSV/JSONL logs, progress bars, early stopping, divergence detection, and checkpoints
//! that resume bit-identically.
//!
//! ```
//! use std::sync::Arc;
//! use cadence::Linear;
//! use cadence_candle::data::{Scaling, digits_split};
//! use cadence_candle::model::{Mlp, MlpConfig, Model};
//! use cadence_candle::train::{TrainConfig, Trainer};
//! use candle_core::Device;
//! use candle_nn::{Optimizer, SGD};
//!
//! let (train, test) = digits_split(Scaling::Standardize)?;
//! let train = train.subsample(256, 0)?;
//! let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
//! let sgd = SGD::new(model.vars(), 0.0)?;
//! let config = TrainConfig::new(3, 64)?.with_seed(0);
//! let mut trainer = Trainer::new(&model, sgd, &train, config)?
//!     .with_validation(&test)
//!     .with_schedule(Arc::new(Linear::new(0.1, 0.0, 12)?));
//! let report = trainer.run()?;
//! assert!(report.stop.is_completed());
//! assert_eq!(report.history.steps.len(), 12);
//! assert_eq!(report.history.steps[6].lr, vec![0.05]);
//! assert!(report.history.last_eval().and_then(|e| e.val_accuracy) > Some(0.5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checkpoint;
mod divergence;
mod error;
mod log;
mod optimizer;
mod stop;
mod threads;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cadence::Schedule;
use candle_core::{D, DType, Device, Tensor};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub use checkpoint::{Checkpoint, Position, RunState, save_weights};
pub use divergence::DivergenceStop;
pub use error::TrainError;
pub use log::{EvalRecord, History, LogWriter, StepRecord};
pub use optimizer::{OptimizerState, ScheduledOptimizer};
pub use stop::{Best, Callback, Control, EarlyStopping, Monitor, StopReason};
pub use threads::single_threaded;

use crate::data::{Batch, Dataset, Loader};
use crate::model::Model;
use checkpoint::EpochSums;

/// How often something happens: every `n` optimizer steps or every `n` epochs.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::Every;
/// assert_ne!(Every::Steps(10), Every::Epochs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    /// Every `n` optimizer steps (mid-epoch checkpoints resume mid-epoch).
    Steps(u64),
    /// At the end of every `n`-th epoch.
    Epochs(u64),
}

/// How the training metrics of an [`EvalRecord`] are measured.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::TrainMetrics;
/// assert_eq!(TrainMetrics::default(), TrainMetrics::Running);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainMetrics {
    /// Means over the epoch's mini-batches as they were trained (free; what PyTorch
    /// scripts usually print).
    #[default]
    Running,
    /// A full pass over the training set after the epoch with the current weights (the
    /// honest figure for generalisation gaps; costs one more forward pass).
    FullPass,
}

/// Whether progress bars are drawn.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::Progress;
/// assert_eq!(Progress::default(), Progress::Auto);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// A bar on standard error when it is a terminal, nothing otherwise.
    #[default]
    Auto,
    /// Never draw (quiet runs, parallel experiments, tests).
    Hidden,
}

/// The settings of a training run. Build with [`TrainConfig::new`] and the `with_*`
/// methods.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::{Every, TrainConfig};
///
/// let config = TrainConfig::new(30, 64)?
///     .with_seed(7)
///     .with_checkpoints("runs/a/checkpoint.safetensors", Every::Epochs(5))?
///     .with_log_dir("runs/a");
/// assert_eq!(config.epochs(), 30);
/// assert_eq!(config.seed(), 7);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    epochs: u64,
    loader: Loader,
    seed: u64,
    eval_every: u64,
    max_steps: Option<u64>,
    train_metrics: TrainMetrics,
    divergence_factor: Option<f64>,
    checkpoint: Option<(PathBuf, Every)>,
    log_dir: Option<PathBuf>,
    progress: Progress,
}

impl TrainConfig {
    /// `epochs` epochs of mini-batches of `batch_size`, shuffled each epoch, seed 0,
    /// evaluation after every epoch, running training metrics, no checkpoints, no logs,
    /// progress bar when on a terminal.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `epochs` or `batch_size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::train::TrainConfig::new(0, 64).is_err());
    /// ```
    pub fn new(epochs: u64, batch_size: usize) -> Result<Self, TrainError> {
        if epochs == 0 {
            return Err(TrainError::invalid("epochs", 0, "must be at least 1"));
        }
        Ok(TrainConfig {
            epochs,
            loader: Loader::new(batch_size)?,
            seed: 0,
            eval_every: 1,
            max_steps: None,
            train_metrics: TrainMetrics::Running,
            divergence_factor: None,
            checkpoint: None,
            log_dir: None,
            progress: Progress::Auto,
        })
    }

    /// The seed of the batch order (the model's initialisation has its own seed).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::train::TrainConfig::new(1, 8)?.with_seed(3).seed(), 3);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Another loader (shuffling and last-batch policy; its batch size replaces the one
    /// given to [`TrainConfig::new`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::{LastBatch, Loader};
    /// use cadence_candle::train::TrainConfig;
    /// let c = TrainConfig::new(1, 8)?.with_loader(Loader::new(16)?.with_last_batch(LastBatch::Drop));
    /// assert_eq!(c.loader().batch_size(), 16);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_loader(mut self, loader: Loader) -> Self {
        self.loader = loader;
        self
    }

    /// Evaluates after every `epochs`-th epoch (and after the last one).
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `epochs` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::train::TrainConfig::new(1, 8)?.with_eval_every(0).is_err());
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_eval_every(mut self, epochs: u64) -> Result<Self, TrainError> {
        if epochs == 0 {
            return Err(TrainError::invalid("eval_every", 0, "must be at least 1"));
        }
        self.eval_every = epochs;
        Ok(self)
    }

    /// Stops after `steps` optimizer steps in total ([`StopReason::StepLimit`]); with
    /// checkpoints on, a checkpoint is written there, so the run can be continued.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::train::TrainConfig::new(1, 8)?.with_max_steps(10);
    /// assert_eq!(c.max_steps(), Some(10));
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_max_steps(mut self, steps: u64) -> Self {
        self.max_steps = Some(steps);
        self
    }

    /// How the training metrics of evaluations are measured.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::{TrainConfig, TrainMetrics};
    /// let c = TrainConfig::new(1, 8)?.with_train_metrics(TrainMetrics::FullPass);
    /// assert_eq!(c.train_metrics(), TrainMetrics::FullPass);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_train_metrics(mut self, metrics: TrainMetrics) -> Self {
        self.train_metrics = metrics;
        self
    }

    /// Also treats a finite loss above `factor` times the best step loss so far as
    /// divergence. A non-finite loss always is.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] unless `factor > 1` and finite.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::TrainConfig;
    /// assert!(TrainConfig::new(1, 8)?.with_divergence_factor(0.5).is_err());
    /// assert!(TrainConfig::new(1, 8)?.with_divergence_factor(10.0).is_ok());
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_divergence_factor(mut self, factor: f64) -> Result<Self, TrainError> {
        check_divergence_factor(factor)?;
        self.divergence_factor = Some(factor);
        Ok(self)
    }

    /// Writes a checkpoint to `path` (atomically replacing the previous one) `every`
    /// steps or epochs, and when the run stops.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if the period is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::{Every, TrainConfig};
    /// assert!(TrainConfig::new(1, 8)?.with_checkpoints("c.safetensors", Every::Steps(0)).is_err());
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_checkpoints(
        mut self,
        path: impl Into<PathBuf>,
        every: Every,
    ) -> Result<Self, TrainError> {
        if matches!(every, Every::Steps(0) | Every::Epochs(0)) {
            return Err(TrainError::invalid(
                "checkpoint period",
                format!("{every:?}"),
                "must be at least 1",
            ));
        }
        self.checkpoint = Some((path.into(), every));
        Ok(self)
    }

    /// Writes `steps.{csv,jsonl}`, `evals.{csv,jsonl}` and, at the end,
    /// `model.safetensors` into `dir`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::train::TrainConfig::new(1, 8)?.with_log_dir("out");
    /// assert_eq!(c.log_dir(), Some(std::path::Path::new("out")));
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// Whether to draw a progress bar.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::{Progress, TrainConfig};
    /// let c = TrainConfig::new(1, 8)?.with_progress(Progress::Hidden);
    /// assert_eq!(c.progress(), Progress::Hidden);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// The number of epochs.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::train::TrainConfig::new(4, 8)?.epochs(), 4);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn epochs(&self) -> u64 {
        self.epochs
    }

    /// The loader (batch size, shuffling, last batch).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::train::TrainConfig::new(4, 8)?.loader().batch_size(), 8);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// The seed of the batch order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::train::TrainConfig::new(4, 8)?.seed(), 0);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The step limit, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::train::TrainConfig::new(4, 8)?.max_steps(), None);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn max_steps(&self) -> Option<u64> {
        self.max_steps
    }

    /// How training metrics are measured.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::{TrainConfig, TrainMetrics};
    /// assert_eq!(TrainConfig::new(4, 8)?.train_metrics(), TrainMetrics::Running);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn train_metrics(&self) -> TrainMetrics {
        self.train_metrics
    }

    /// The log directory, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::train::TrainConfig::new(4, 8)?.log_dir().is_none());
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn log_dir(&self) -> Option<&Path> {
        self.log_dir.as_deref()
    }

    /// The progress-bar policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::{Progress, TrainConfig};
    /// assert_eq!(TrainConfig::new(4, 8)?.progress(), Progress::Auto);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The total number of optimizer steps of a complete run over `train_len` samples.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::train::TrainConfig::new(10, 64)?.total_steps(1437), 230);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn total_steps(&self, train_len: usize) -> u64 {
        self.epochs * self.loader.batches_per_epoch(train_len) as u64
    }
}

/// The loss and accuracy of a model on a data set.
///
/// # Examples
///
/// ```
/// let e = cadence_candle::train::Evaluation { loss: 0.1, accuracy: 0.97 };
/// assert!(e.accuracy > 0.9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Mean cross-entropy loss.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
}

/// The mean cross-entropy and the accuracy of `model` on `data`, in chunks of 1024
/// samples.
///
/// # Errors
/// [`TrainError::Candle`] if the forward pass fails; [`TrainError::InvalidParameter`] if
/// `data` is empty.
///
/// # Examples
///
/// ```
/// use cadence_candle::data::{Scaling, digits_split};
/// use cadence_candle::model::{Mlp, MlpConfig};
/// use cadence_candle::train::evaluate;
/// use candle_core::Device;
///
/// let (_, test) = digits_split(Scaling::Standardize)?;
/// let untrained = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
/// let e = evaluate(&untrained, &test, &Device::Cpu)?;
/// assert!(e.accuracy < 0.5 && (e.loss - 10f64.ln()).abs() < 1.0);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
pub fn evaluate<M: Model + ?Sized>(
    model: &M,
    data: &Dataset,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    if data.is_empty() {
        return Err(TrainError::invalid(
            "data",
            "empty",
            "needs at least one sample",
        ));
    }
    const CHUNK: usize = 1024;
    let (mut loss, mut correct) = (0.0_f64, 0_u64);
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(CHUNK) {
        let batch = data.batch(chunk, device)?;
        let logits = model.forward(&batch.x)?;
        let l = candle_nn::loss::cross_entropy(&logits, &batch.y)?.to_scalar::<f32>()?;
        loss += l as f64 * chunk.len() as f64;
        correct += count_correct(&logits, &batch.y)?;
    }
    let n = data.len() as f64;
    Ok(Evaluation {
        loss: loss / n,
        accuracy: correct as f64 / n,
    })
}

/// How many rows of `logits` have their largest value at the label in `y`.
fn count_correct(logits: &Tensor, y: &Tensor) -> Result<u64, TrainError> {
    let hits = logits.argmax(D::Minus1)?.eq(y)?.to_dtype(DType::U32)?;
    Ok(hits.sum_all()?.to_scalar::<u32>()? as u64)
}

/// What one optimizer step measured.
///
/// # Examples
///
/// ```
/// let s = cadence_candle::train::StepOutcome { loss: 0.5, correct: 60, samples: 64 };
/// assert_eq!(s.samples, 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// The mini-batch loss before the update.
    pub loss: f64,
    /// Samples of the batch classified correctly before the update.
    pub correct: u64,
    /// The batch size.
    pub samples: u64,
}

/// One optimizer step on `batch`: forward, cross-entropy, and — only when the loss is
/// finite — backward and update. The learning rate is whatever the optimizer holds.
///
/// This is the step [`Trainer`] takes; tools that drive the learning rate themselves (a
/// learning-rate range test) call it directly.
///
/// # Errors
/// [`TrainError::Candle`] if a tensor operation fails.
///
/// # Examples
///
/// ```
/// use cadence_candle::data::{Scaling, digits_split};
/// use cadence_candle::model::{Mlp, MlpConfig, Model};
/// use cadence_candle::train::train_step;
/// use candle_core::Device;
/// use candle_nn::{Optimizer, SGD};
///
/// let (train, _) = digits_split(Scaling::Standardize)?;
/// let batch = train.batch(&(0..64).collect::<Vec<_>>(), &Device::Cpu)?;
/// let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
/// let mut sgd = SGD::new(model.vars(), 0.1)?;
/// let first = train_step(&model, &mut sgd, &batch)?;
/// let second = train_step(&model, &mut sgd, &batch)?;
/// assert!(second.loss < first.loss);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn train_step<M: Model + ?Sized, O: candle_nn::Optimizer>(
    model: &M,
    optimizer: &mut O,
    batch: &Batch,
) -> Result<StepOutcome, TrainError> {
    let logits = model.forward(&batch.x)?;
    let loss = candle_nn::loss::cross_entropy(&logits, &batch.y)?;
    let value = loss.to_scalar::<f32>()? as f64;
    let correct = count_correct(&logits, &batch.y)?;
    if value.is_finite() {
        optimizer.backward_step(&loss)?;
    }
    Ok(StepOutcome {
        loss: value,
        correct,
        samples: batch.len() as u64,
    })
}

/// What [`Trainer::run`] returns.
///
/// # Examples
///
/// See [`Trainer`].
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// Why training stopped.
    pub stop: StopReason,
    /// Every record of the run, including those before a resume.
    pub history: History,
    /// Where the run stands now.
    pub position: Position,
    /// Wall time of this call to [`Trainer::run`].
    pub wall: Duration,
    /// Time spent in training steps (batching, forward, backward, update) during this
    /// call, without evaluations, logging and checkpoints.
    pub train_time: Duration,
    /// Epochs completed during this call.
    pub epochs_run: u64,
}

impl TrainReport {
    /// Milliseconds of training-step time per epoch completed in this call, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::{History, Position, StopReason, TrainReport};
    /// use std::time::Duration;
    /// let r = TrainReport { stop: StopReason::Completed, history: History::default(),
    ///     position: Position::default(), wall: Duration::from_secs(2),
    ///     train_time: Duration::from_millis(500), epochs_run: 50 };
    /// assert_eq!(r.ms_per_epoch(), Some(10.0));
    /// ```
    pub fn ms_per_epoch(&self) -> Option<f64> {
        (self.epochs_run > 0).then(|| self.train_time.as_secs_f64() * 1e3 / self.epochs_run as f64)
    }
}

/// The training loop over a model, an optimizer and a data set.
///
/// Each step `t` (0-based): the learning rate of every group is set from its schedule at
/// `t` (if schedules were given), the optimizer is told the step, one batch is trained
/// ([`train_step`]), the step is recorded and logged, callbacks run. After every
/// `eval_every` epochs the model is evaluated, the record logged, callbacks run. A
/// non-finite loss (or one above the divergence factor) stops the run before its update
/// with [`StopReason::Diverged`].
///
/// With checkpoints on, [`Trainer::resume`] continues from a checkpoint so that weights,
/// optimizer state, history and logs end bit-identical to those of an uninterrupted run
/// (on the same machine and thread count).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use cadence::from_fn;
/// use cadence_candle::data::{Scaling, digits_split};
/// use cadence_candle::model::{Mlp, MlpConfig, Model};
/// use cadence_candle::train::{EarlyStopping, Monitor, Progress, TrainConfig, Trainer};
/// use candle_core::Device;
/// use candle_nn::{Optimizer, SGD};
///
/// let (train, test) = digits_split(Scaling::Standardize)?;
/// let model = Mlp::new(&MlpConfig::default(), 1, &Device::Cpu)?;
/// let config = TrainConfig::new(2, 64)?.with_progress(Progress::Hidden);
/// let mut trainer = Trainer::new(&model, SGD::new(model.vars(), 0.0)?, &train, config)?
///     .with_validation(&test)
///     .with_schedule(Arc::new(from_fn(|t| if t < 10 { 0.01 * t as f64 } else { 0.1 })))
///     .with_callback(Box::new(EarlyStopping::new(Monitor::ValidationLoss, 3, 0.0)?));
/// let report = trainer.run()?;
/// assert_eq!(report.history.evals.len(), 2);
/// assert!(report.history.evals[1].val_accuracy.unwrap_or(0.0) > 0.8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Trainer<'a, M: Model, O: ScheduledOptimizer> {
    model: &'a M,
    optimizer: O,
    train: &'a Dataset,
    valid: Option<&'a Dataset>,
    schedules: Vec<Arc<dyn Schedule>>,
    callbacks: Vec<Box<dyn Callback + 'a>>,
    config: TrainConfig,
    device: Device,
    position: Position,
    sums: EpochSums,
    best_loss: Option<f64>,
    history: History,
}

impl<M: Model, O: ScheduledOptimizer> std::fmt::Debug for Trainer<'_, M, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("position", &self.position)
            .field("schedules", &self.schedules)
            .field("callbacks", &self.callbacks.len())
            .finish_non_exhaustive()
    }
}

impl<'a, M: Model, O: ScheduledOptimizer> Trainer<'a, M, O> {
    /// A trainer of `model` by `optimizer` (built over `model.vars()`) on `train`.
    ///
    /// The device is the one of the model's first parameter (CPU for a model without
    /// parameters).
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `train` is empty or smaller than one batch
    /// under [`LastBatch::Drop`](crate::data::LastBatch::Drop).
    pub fn new(
        model: &'a M,
        optimizer: O,
        train: &'a Dataset,
        config: TrainConfig,
    ) -> Result<Self, TrainError> {
        if config.loader.batches_per_epoch(train.len()) == 0 {
            return Err(TrainError::invalid(
                "train",
                format!("{} samples", train.len()),
                "must hold at least one batch",
            ));
        }
        let device = model
            .parameters()
            .first()
            .map(|(_, v)| v.device().clone())
            .unwrap_or(Device::Cpu);
        Ok(Trainer {
            model,
            optimizer,
            train,
            valid: None,
            schedules: Vec::new(),
            callbacks: Vec::new(),
            config,
            device,
            position: Position::default(),
            sums: EpochSums::default(),
            best_loss: None,
            history: History::default(),
        })
    }

    /// Evaluates on `valid` too.
    pub fn with_validation(mut self, valid: &'a Dataset) -> Self {
        self.valid = Some(valid);
        self
    }

    /// One learning-rate schedule for every parameter group (in optimizer steps).
    pub fn with_schedule(mut self, schedule: Arc<dyn Schedule>) -> Self {
        self.schedules = vec![schedule];
        self
    }

    /// One learning-rate schedule per parameter group.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] unless there is one schedule per group of the
    /// optimizer.
    pub fn with_group_schedules(
        mut self,
        schedules: Vec<Arc<dyn Schedule>>,
    ) -> Result<Self, TrainError> {
        let groups = self.optimizer.group_count();
        if schedules.len() != groups {
            return Err(TrainError::invalid(
                "schedules",
                format!("{} schedules", schedules.len()),
                &format!("need one per parameter group ({groups})"),
            ));
        }
        self.schedules = schedules;
        Ok(self)
    }

    /// Adds a callback; callbacks run in the order they were added.
    pub fn with_callback(mut self, callback: Box<dyn Callback + 'a>) -> Self {
        self.callbacks.push(callback);
        self
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The optimizer, mutably (e.g. to change a hyperparameter between runs).
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Where the run stands.
    pub fn position(&self) -> Position {
        self.position
    }

    /// The records so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The callbacks, in order (e.g. to read an [`EarlyStopping`]'s best point).
    pub fn callbacks(&self) -> &[Box<dyn Callback + 'a>] {
        &self.callbacks
    }

    /// Restores model weights, optimizer state, callback states, position and history
    /// from the checkpoint at `path`; the next [`Trainer::run`] continues from there.
    ///
    /// # Errors
    /// [`TrainError::Io`]/[`TrainError::Format`] if the file cannot be read,
    /// [`TrainError::CheckpointMismatch`] if it was written by a run with another seed,
    /// batch size, training set size, group count, model or callbacks.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::data::{Scaling, digits_split};
    /// use cadence_candle::model::{Mlp, MlpConfig, Model, Snapshot};
    /// use cadence_candle::train::{Every, Progress, StopReason, TrainConfig, Trainer};
    /// use candle_core::Device;
    /// use candle_nn::{Optimizer, SGD};
    ///
    /// let (train, _) = digits_split(Scaling::Standardize)?;
    /// let train = train.subsample(128, 0)?;
    /// let dir = tempfile::tempdir()?;
    /// let ckpt = dir.path().join("checkpoint.safetensors");
    /// let config = || -> Result<TrainConfig, cadence_candle::TrainError> {
    ///     Ok(TrainConfig::new(3, 32)?.with_progress(Progress::Hidden)
    ///         .with_checkpoints(&ckpt, Every::Steps(5))?)
    /// };
    /// let run = |limit: Option<u64>, resume: bool| -> Result<Snapshot, Box<dyn std::error::Error>> {
    ///     let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
    ///     let mut cfg = config()?;
    ///     if let Some(l) = limit { cfg = cfg.with_max_steps(l); }
    ///     let mut t = Trainer::new(&model, SGD::new(model.vars(), 0.05)?, &train, cfg)?;
    ///     if resume { t.resume(&ckpt)?; }
    ///     t.run()?;
    ///     Ok(Snapshot::take(&model)?)
    /// };
    /// let uninterrupted = run(None, false)?;
    /// run(Some(7), false)?;                 // stops after 7 of 12 steps, checkpointed
    /// assert_eq!(run(None, true)?, uninterrupted);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume(&mut self, path: &Path) -> Result<(), TrainError> {
        let ckpt = Checkpoint::load(path, &self.device)?;
        let s = &ckpt.state;
        let check = |field: &str, expected: String, found: String| {
            if expected == found {
                Ok(())
            } else {
                Err(TrainError::mismatch(field, expected, found))
            }
        };
        check("seed", self.config.seed.to_string(), s.seed.to_string())?;
        check(
            "batch_size",
            self.config.loader.batch_size().to_string(),
            s.batch_size.to_string(),
        )?;
        check(
            "train_len",
            self.train.len().to_string(),
            s.train_len.to_string(),
        )?;
        check(
            "groups",
            self.optimizer.group_count().to_string(),
            s.groups.to_string(),
        )?;
        check(
            "callbacks",
            self.callbacks.len().to_string(),
            s.callbacks.len().to_string(),
        )?;
        let params = self.model.parameters();
        check(
            "parameter count",
            params.len().to_string(),
            ckpt.model.len().to_string(),
        )?;
        for (name, var) in &params {
            let saved = ckpt
                .model
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t)
                .ok_or_else(|| TrainError::mismatch("parameter", name, "absent"))?;
            check(
                name,
                format!("{:?}", var.dims()),
                format!("{:?}", saved.dims()),
            )?;
            var.set(saved)?;
        }
        self.optimizer.restore(&ckpt.optimizer)?;
        for (cb, state) in self.callbacks.iter_mut().zip(&s.callbacks) {
            cb.restore(state)?;
        }
        self.position = s.position;
        self.sums = s.sums;
        self.best_loss = s.best_loss;
        self.history = ckpt.state.history;
        Ok(())
    }

    /// Trains until every epoch has run, a callback stops, the loss diverges, or the step
    /// limit is reached.
    ///
    /// # Errors
    /// Any [`TrainError`] from tensors, files, the optimizer (e.g.
    /// [`TrainError::StateUnavailable`] when checkpointing an optimizer that cannot save
    /// its state) or a callback.
    pub fn run(&mut self) -> Result<TrainReport, TrainError> {
        let start = Instant::now();
        let mut train_time = Duration::ZERO;
        let mut epochs_run = 0;
        if self.config.checkpoint.is_some() {
            // Fail before training, not at the first checkpoint.
            self.optimizer.state()?;
        }
        let groups = self.optimizer.group_count();
        let mut log = match &self.config.log_dir {
            Some(dir) => Some(LogWriter::replay(dir, groups, &self.history)?),
            None => None,
        };
        let per_epoch = self.config.loader.batches_per_epoch(self.train.len()) as u64;
        let total = self.config.total_steps(self.train.len());
        let bar = self.progress_bar(total);
        let stop = 'run: loop {
            if self.position.epoch >= self.config.epochs {
                break StopReason::Completed;
            }
            let batches = self
                .config
                .loader
                .epoch(
                    self.train,
                    self.config.seed,
                    self.position.epoch,
                    &self.device,
                )
                .starting_at(self.position.batch as usize);
            for batch in batches {
                if self
                    .config
                    .max_steps
                    .is_some_and(|m| self.position.step >= m)
                {
                    break 'run StopReason::StepLimit {
                        step: self.position.step,
                    };
                }
                let t0 = Instant::now();
                let batch = batch?;
                let step = self.position.step;
                if !self.schedules.is_empty() {
                    for g in 0..groups {
                        let s = &self.schedules[g.min(self.schedules.len() - 1)];
                        self.optimizer.set_group_learning_rate(g, s.value(step));
                    }
                }
                self.optimizer.set_step(step);
                let lr = (0..groups)
                    .map(|g| self.optimizer.group_learning_rate(g))
                    .collect();
                let out = train_step(self.model, &mut self.optimizer, &batch)?;
                train_time += t0.elapsed();
                let diverged = !out.loss.is_finite()
                    || matches!((self.config.divergence_factor, self.best_loss),
                        (Some(f), Some(best)) if out.loss > f * best);
                if diverged {
                    break 'run StopReason::Diverged {
                        step,
                        loss: out.loss,
                    };
                }
                self.best_loss = Some(self.best_loss.map_or(out.loss, |b| b.min(out.loss)));
                self.sums.loss += out.loss * out.samples as f64;
                self.sums.correct += out.correct;
                self.sums.seen += out.samples;
                let record = StepRecord {
                    step,
                    epoch: self.position.epoch,
                    lr,
                    loss: out.loss,
                };
                if let Some(log) = &mut log {
                    log.step(&record)?;
                }
                self.position.step += 1;
                self.position.batch += 1;
                if let Some(bar) = &bar {
                    bar.set_position(self.position.step);
                }
                let control = self.notify(|cb, m| cb.on_step(&record, m))?;
                self.history.steps.push(record);
                if let Control::Stop(reason) = control {
                    break 'run StopReason::Stopped {
                        step: self.position.step,
                        reason,
                    };
                }
                if let Some((_, Every::Steps(k))) = &self.config.checkpoint
                    && self.position.step.is_multiple_of(*k)
                    && self.position.batch < per_epoch
                {
                    self.save_checkpoint(&mut log)?;
                }
            }
            // The epoch is complete.
            self.position.epoch += 1;
            self.position.batch = 0;
            epochs_run += 1;
            let last = self.position.epoch >= self.config.epochs;
            let mut control = Control::Continue;
            if self.position.epoch.is_multiple_of(self.config.eval_every) || last {
                let record = self.eval_record()?;
                if let Some(bar) = &bar {
                    bar.set_message(progress_message(&record));
                }
                if let Some(log) = &mut log {
                    log.eval(&record)?;
                }
                control = self.notify(|cb, m| cb.on_eval(&record, m))?;
                self.history.evals.push(record);
            }
            self.sums = EpochSums::default();
            if let Control::Stop(reason) = control {
                break 'run StopReason::Stopped {
                    step: self.position.step,
                    reason,
                };
            }
            let due = match &self.config.checkpoint {
                Some((_, Every::Epochs(k))) => self.position.epoch.is_multiple_of(*k),
                // A step checkpoint falling on an epoch's end is written here, after the
                // evaluation, so that resuming does not repeat it.
                Some((_, Every::Steps(k))) => self.position.step.is_multiple_of(*k),
                None => false,
            };
            if due && !last {
                self.save_checkpoint(&mut log)?;
            }
        };
        if let Some(bar) = &bar {
            bar.finish_with_message(stop.to_string());
        }
        if !matches!(stop, StopReason::Diverged { .. }) && self.config.checkpoint.is_some() {
            self.save_checkpoint(&mut log)?;
        }
        if let Some(log) = &mut log {
            log.flush()?;
        }
        if let Some(dir) = &self.config.log_dir {
            save_weights(self.model, &dir.join("model.safetensors"))?;
        }
        Ok(TrainReport {
            stop,
            history: self.history.clone(),
            position: self.position,
            wall: start.elapsed(),
            train_time,
            epochs_run,
        })
    }

    /// Calls `f` on every callback in order; the first `Stop` wins, later callbacks are
    /// still called so their state stays consistent.
    fn notify(
        &mut self,
        mut f: impl FnMut(&mut dyn Callback, &dyn Model) -> Result<Control, TrainError>,
    ) -> Result<Control, TrainError> {
        let mut control = Control::Continue;
        for cb in &mut self.callbacks {
            let c = f(cb.as_mut(), self.model)?;
            if control == Control::Continue {
                control = c;
            }
        }
        Ok(control)
    }

    fn eval_record(&self) -> Result<EvalRecord, TrainError> {
        let (train_loss, train_accuracy) = match self.config.train_metrics {
            TrainMetrics::Running => {
                let n = self.sums.seen.max(1) as f64;
                (self.sums.loss / n, self.sums.correct as f64 / n)
            }
            TrainMetrics::FullPass => {
                let e = evaluate(self.model, self.train, &self.device)?;
                (e.loss, e.accuracy)
            }
        };
        let val = match self.valid {
            Some(v) => Some(evaluate(self.model, v, &self.device)?),
            None => None,
        };
        Ok(EvalRecord {
            step: self.position.step,
            epoch: self.position.epoch,
            train_loss,
            train_accuracy,
            val_loss: val.map(|e| e.loss),
            val_accuracy: val.map(|e| e.accuracy),
        })
    }

    fn save_checkpoint(&mut self, log: &mut Option<LogWriter>) -> Result<(), TrainError> {
        let Some((path, _)) = &self.config.checkpoint else {
            return Ok(());
        };
        // Logs first: a checkpoint never claims records the logs lack.
        if let Some(log) = log {
            log.flush()?;
        }
        let optimizer = self.optimizer.state()?;
        let ckpt = Checkpoint {
            model: self
                .model
                .parameters()
                .into_iter()
                .map(|(n, v)| (n, v.as_tensor().clone()))
                .collect(),
            state: RunState {
                format: checkpoint::FORMAT,
                position: self.position,
                seed: self.config.seed,
                batch_size: self.config.loader.batch_size(),
                train_len: self.train.len(),
                groups: self.optimizer.group_count(),
                optimizer: optimizer.meta.clone(),
                callbacks: self.callbacks.iter().map(|c| c.state()).collect(),
                sums: self.sums,
                best_loss: self.best_loss,
                history: self.history.clone(),
            },
            optimizer,
        };
        ckpt.save(path)
    }

    fn progress_bar(&self, total: u64) -> Option<ProgressBar> {
        if self.config.progress == Progress::Hidden || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:30.cyan/blue} {pos}/{len} steps [{elapsed_precise}<{eta_precise}] {msg}",
        ) {
            bar.set_style(style);
        }
        bar.set_position(self.position.step);
        Some(bar)
    }
}

fn progress_message(r: &EvalRecord) -> String {
    let mut msg = format!(
        "epoch {} loss {:.4} acc {:.2}%",
        r.epoch,
        r.train_loss,
        100.0 * r.train_accuracy
    );
    if let (Some(l), Some(a)) = (r.val_loss, r.val_accuracy) {
        msg.push_str(&format!(" | val loss {l:.4} acc {:.2}%", 100.0 * a));
    }
    msg
}

/// The rule for a divergence factor (a loss this many times the best so far stops a
/// run): finite and above 1. Shared by [`TrainConfig`] and the LR range test.
pub(crate) fn check_divergence_factor(factor: f64) -> Result<(), TrainError> {
    if factor.is_finite() && factor > 1.0 {
        Ok(())
    } else {
        Err(TrainError::invalid(
            "divergence_factor",
            factor,
            "must be finite and above 1",
        ))
    }
}
