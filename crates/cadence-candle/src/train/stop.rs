//! Why training stopped, hooks that can stop it, and early stopping.

use crate::model::Model;
use crate::train::{EvalRecord, StepRecord, TrainError};

/// Why [`Trainer::run`](crate::train::Trainer::run) returned.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::StopReason;
/// let r = StopReason::Diverged { step: 17, loss: f64::NAN };
/// assert!(r.to_string().contains("step 17"));
/// assert!(!r.is_completed());
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// Every epoch ran.
    Completed,
    /// The step limit ([`TrainConfig::with_max_steps`](crate::train::TrainConfig::with_max_steps))
    /// was reached after `step` steps; a checkpoint lets the run continue.
    StepLimit {
        /// Steps taken.
        step: u64,
    },
    /// The loss at `step` was not finite, or exceeded the divergence factor times the
    /// best loss so far; the update of that step was not applied.
    Diverged {
        /// The step whose loss diverged.
        step: u64,
        /// That loss (`NaN`/`inf` are written as `null` in JSON).
        loss: f64,
    },
    /// A [`Callback`] (such as [`EarlyStopping`]) asked to stop after `step` steps.
    Stopped {
        /// Steps taken.
        step: u64,
        /// The callback's explanation.
        reason: String,
    },
}

impl StopReason {
    /// Whether the run finished all its epochs.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::train::StopReason::Completed.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        matches!(self, StopReason::Completed)
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Completed => write!(f, "completed"),
            StopReason::StepLimit { step } => write!(f, "step limit reached after {step} steps"),
            StopReason::Diverged { step, loss } => {
                write!(f, "diverged at step {step}: loss {loss}")
            }
            StopReason::Stopped { step, reason } => {
                write!(f, "stopped after {step} steps: {reason}")
            }
        }
    }
}

/// A callback's answer: go on, or stop with an explanation.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::Control;
/// assert_eq!(Control::default(), Control::Continue);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Control {
    /// Keep training.
    #[default]
    Continue,
    /// Stop after this step or evaluation.
    Stop(String),
}

/// A hook called by the training loop after every step and every evaluation; it can stop
/// training, and its state is saved in checkpoints.
///
/// Stateful hooks (early stopping, a divergence guard, a sharpness tracker, a parameter
/// displacement probe) keep their state explicit through [`Callback::state`] and
/// [`Callback::restore`], so a resumed run sees exactly what an uninterrupted one did.
///
/// # Examples
///
/// ```
/// use cadence_candle::model::Model;
/// use cadence_candle::train::{Callback, Control, StepRecord, TrainError};
///
/// /// Stops once the loss drops below a target.
/// struct Target(f64);
///
/// impl Callback for Target {
///     fn on_step(&mut self, r: &StepRecord, _: &dyn Model) -> Result<Control, TrainError> {
///         Ok(if r.loss < self.0 { Control::Stop(format!("loss {} < {}", r.loss, self.0)) }
///            else { Control::Continue })
///     }
/// }
///
/// let mut t = Target(0.1);
/// let m = cadence_candle::model::Mlp::new(
///     &cadence_candle::model::MlpConfig::new(vec![1, 1])?, 0, &candle_core::Device::Cpu)?;
/// let r = StepRecord { step: 0, epoch: 0, lr: vec![0.1], loss: 0.05 };
/// assert!(matches!(t.on_step(&r, &m)?, Control::Stop(_)));
/// # Ok::<(), TrainError>(())
/// ```
pub trait Callback {
    /// After the update of every step. Default: continue.
    ///
    /// # Errors
    /// Any [`TrainError`]; it ends training with that error.
    fn on_step(&mut self, record: &StepRecord, model: &dyn Model) -> Result<Control, TrainError> {
        let _ = (record, model);
        Ok(Control::Continue)
    }

    /// After every evaluation. Default: continue.
    ///
    /// # Errors
    /// Any [`TrainError`]; it ends training with that error.
    fn on_eval(&mut self, record: &EvalRecord, model: &dyn Model) -> Result<Control, TrainError> {
        let _ = (record, model);
        Ok(Control::Continue)
    }

    /// The callback's state for a checkpoint. Default: `null` (stateless).
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Restores a state from [`Callback::state`]. Default: accepts anything.
    ///
    /// # Errors
    /// [`TrainError::CheckpointMismatch`] if the state does not fit.
    fn restore(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        let _ = state;
        Ok(())
    }
}

/// A callback lent to the trainer: the caller keeps it and reads it after the run (e.g.
/// [`EarlyStopping::best`] or a [`DivergenceStop`](crate::train::DivergenceStop)'s
/// decision).
///
/// # Examples
///
/// ```
/// use cadence_candle::train::{Callback, EarlyStopping, Monitor};
///
/// let mut es = EarlyStopping::new(Monitor::ValidationLoss, 3, 0.0)?;
/// let lent: Box<dyn Callback + '_> = Box::new(&mut es);
/// drop(lent); // `Trainer::with_callback(Box::new(&mut es))`, then read `es` after `run`
/// assert!(es.best().is_none());
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
impl<C: Callback + ?Sized> Callback for &mut C {
    fn on_step(&mut self, record: &StepRecord, model: &dyn Model) -> Result<Control, TrainError> {
        (**self).on_step(record, model)
    }

    fn on_eval(&mut self, record: &EvalRecord, model: &dyn Model) -> Result<Control, TrainError> {
        (**self).on_eval(record, model)
    }

    fn state(&self) -> serde_json::Value {
        (**self).state()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        (**self).restore(state)
    }
}

/// The metric an [`EarlyStopping`] watches.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::Monitor;
/// assert_eq!(Monitor::default(), Monitor::ValidationLoss);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Validation loss, lower is better (falls back to the training loss without a
    /// validation set).
    #[default]
    ValidationLoss,
    /// Validation accuracy, higher is better (falls back to the training accuracy).
    ValidationAccuracy,
    /// Training loss, lower is better.
    TrainLoss,
}

impl Monitor {
    /// The monitored value of `r`, oriented so that lower is better.
    fn score(self, r: &EvalRecord) -> f64 {
        match self {
            Monitor::ValidationLoss => r.val_loss.unwrap_or(r.train_loss),
            Monitor::ValidationAccuracy => -r.val_accuracy.unwrap_or(r.train_accuracy),
            Monitor::TrainLoss => r.train_loss,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Monitor::ValidationLoss => "validation loss",
            Monitor::ValidationAccuracy => "validation accuracy",
            Monitor::TrainLoss => "training loss",
        }
    }
}

/// The best evaluation an [`EarlyStopping`] has seen.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::Best;
/// let b = Best { step: 46, epoch: 2, value: 0.12 };
/// assert_eq!(b.epoch, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Best {
    /// Steps taken at that evaluation.
    pub step: u64,
    /// Epochs completed at that evaluation.
    pub epoch: u64,
    /// The monitored value (accuracy as accuracy, not negated).
    pub value: f64,
}

/// Stops training when the monitored metric has not improved by more than `min_delta`
/// for `patience` evaluations in a row (Keras' and Lightning's `EarlyStopping`).
///
/// Its state (the best evaluation and the count of evaluations without improvement) is
/// saved in checkpoints. [`EarlyStopping::best`] is the early-stopping point.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::{Callback, Control, EarlyStopping, EvalRecord, Monitor};
///
/// let mut es = EarlyStopping::new(Monitor::ValidationLoss, 2, 0.0)?;
/// let m = cadence_candle::model::Mlp::new(
///     &cadence_candle::model::MlpConfig::new(vec![1, 1])?, 0, &candle_core::Device::Cpu)?;
/// let eval = |epoch, loss| EvalRecord { step: epoch * 10, epoch, train_loss: 1.0,
///     train_accuracy: 0.5, val_loss: Some(loss), val_accuracy: Some(0.5) };
/// assert_eq!(es.on_eval(&eval(1, 0.5), &m)?, Control::Continue);
/// assert_eq!(es.on_eval(&eval(2, 0.6), &m)?, Control::Continue);
/// assert!(matches!(es.on_eval(&eval(3, 0.7), &m)?, Control::Stop(_)));
/// assert_eq!(es.best().map(|b| b.epoch), Some(1));
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: u64,
    min_delta: f64,
    state: EarlyStoppingState,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct EarlyStoppingState {
    best: Option<Best>,
    since_best: u64,
}

impl EarlyStopping {
    /// Early stopping on `monitor` with `patience` evaluations and improvement threshold
    /// `min_delta`.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `patience` is 0 or `min_delta` is negative or
    /// not finite.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::{EarlyStopping, Monitor};
    /// assert!(EarlyStopping::new(Monitor::TrainLoss, 0, 0.0).is_err());
    /// assert!(EarlyStopping::new(Monitor::TrainLoss, 3, -1.0).is_err());
    /// ```
    pub fn new(monitor: Monitor, patience: u64, min_delta: f64) -> Result<Self, TrainError> {
        if patience == 0 {
            return Err(TrainError::invalid("patience", 0, "must be at least 1"));
        }
        if !(min_delta.is_finite() && min_delta >= 0.0) {
            return Err(TrainError::invalid(
                "min_delta",
                min_delta,
                "must be finite and non-negative",
            ));
        }
        Ok(EarlyStopping {
            monitor,
            patience,
            min_delta,
            state: EarlyStoppingState::default(),
        })
    }

    /// The best evaluation so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::{EarlyStopping, Monitor};
    /// assert!(EarlyStopping::new(Monitor::TrainLoss, 3, 0.0)?.best().is_none());
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn best(&self) -> Option<Best> {
        self.state.best
    }
}

impl Callback for EarlyStopping {
    fn on_eval(&mut self, record: &EvalRecord, _model: &dyn Model) -> Result<Control, TrainError> {
        let score = self.monitor.score(record);
        let improved = match self.state.best {
            None => true,
            Some(best) => {
                let best_score = match self.monitor {
                    Monitor::ValidationAccuracy => -best.value,
                    _ => best.value,
                };
                score < best_score - self.min_delta
            }
        };
        if improved && score.is_finite() {
            let value = match self.monitor {
                Monitor::ValidationAccuracy => -score,
                _ => score,
            };
            self.state.best = Some(Best {
                step: record.step,
                epoch: record.epoch,
                value,
            });
            self.state.since_best = 0;
            return Ok(Control::Continue);
        }
        self.state.since_best += 1;
        if self.state.since_best >= self.patience {
            let best = self
                .state
                .best
                .map(|b| format!("best {} at epoch {} (step {})", b.value, b.epoch, b.step))
                .unwrap_or_else(|| "no finite value yet".into());
            return Ok(Control::Stop(format!(
                "early stopping: {} did not improve by more than {} for {} evaluations; {}",
                self.monitor.name(),
                self.min_delta,
                self.patience,
                best
            )));
        }
        Ok(Control::Continue)
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).unwrap_or(serde_json::Value::Null)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        self.state = serde_json::from_value(state.clone())
            .map_err(|e| TrainError::mismatch("early stopping state", "{best, since_best}", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mlp, MlpConfig};
    use candle_core::Device;

    fn eval(epoch: u64, loss: f64, acc: f64) -> EvalRecord {
        EvalRecord {
            step: epoch * 10,
            epoch,
            train_loss: 9.0,
            train_accuracy: 0.0,
            val_loss: Some(loss),
            val_accuracy: Some(acc),
        }
    }

    #[test]
    fn accuracy_is_maximised_and_state_round_trips() {
        let m = Mlp::new(&MlpConfig::new(vec![1, 1]).unwrap(), 0, &Device::Cpu).unwrap();
        let mut es = EarlyStopping::new(Monitor::ValidationAccuracy, 2, 0.01).unwrap();
        assert_eq!(
            es.on_eval(&eval(1, 1.0, 0.80), &m).unwrap(),
            Control::Continue
        );
        assert_eq!(
            es.on_eval(&eval(2, 1.0, 0.90), &m).unwrap(),
            Control::Continue
        );
        // 0.905 is not better by more than min_delta.
        assert_eq!(
            es.on_eval(&eval(3, 1.0, 0.905), &m).unwrap(),
            Control::Continue
        );
        let saved = es.state();
        let mut copy = EarlyStopping::new(Monitor::ValidationAccuracy, 2, 0.01).unwrap();
        copy.restore(&saved).unwrap();
        assert_eq!(copy, es);
        assert!(matches!(
            es.on_eval(&eval(4, 1.0, 0.85), &m).unwrap(),
            Control::Stop(_)
        ));
        assert_eq!(es.best().unwrap().epoch, 2);
        assert!((es.best().unwrap().value - 0.90).abs() < 1e-12);
        assert!(copy.restore(&serde_json::json!({"nope": 1})).is_err());
    }

    #[test]
    fn nan_never_counts_as_best() {
        let m = Mlp::new(&MlpConfig::new(vec![1, 1]).unwrap(), 0, &Device::Cpu).unwrap();
        let mut es = EarlyStopping::new(Monitor::ValidationLoss, 1, 0.0).unwrap();
        assert!(matches!(
            es.on_eval(&eval(1, f64::NAN, 0.1), &m).unwrap(),
            Control::Stop(_)
        ));
        assert!(es.best().is_none());
    }
}
