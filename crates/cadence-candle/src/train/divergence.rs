//! The core's divergence guard as a training callback.

use crate::model::Model;
use crate::train::{Callback, Control, StepRecord, TrainError};
use cadence::controllers::{
    Controller, ControllerState, Decision, DivergenceConfig, DivergenceGuard, Observation,
};

/// Watches the training loss of every step with a [`cadence::controllers::DivergenceGuard`]
/// and stops the run when the guard asks for a rollback or gives up.
///
/// The guard judges each step's mini-batch loss: a spike above `spike_factor` times its
/// running average (after `warmup` healthy steps) is a divergence. The trainer itself
/// already stops at a non-finite loss, before callbacks run and before that update is
/// applied ([`StopReason::Diverged`](crate::train::StopReason::Diverged)); this callback
/// adds the spike test, which sees the loss after the step's update was applied.
///
/// On a divergence the guard cuts its LR scale by `cut` and names the last healthy step;
/// the callback stops the run with a message that says so, and keeps the decision
/// ([`DivergenceStop::decision`]) and the scale ([`DivergenceStop::scale`]) so the caller
/// can resume from a checkpoint at or before [`DivergenceStop::rollback_step`] with its
/// schedule multiplied by the scale. After `max_retries` rollbacks the next divergence is
/// final. The guard's state (running average, retries, scale) is saved in checkpoints.
///
/// # Errors
///
/// [`DivergenceStop::new`]: [`TrainError::Schedule`] naming the field of
/// [`DivergenceConfig`] that is out of range.
///
/// # Examples
///
/// ```
/// use cadence::controllers::DivergenceConfig;
/// use cadence_candle::train::{Callback, Control, DivergenceStop, StepRecord};
///
/// let mut guard = DivergenceStop::new(DivergenceConfig { warmup: 2, ..Default::default() })?;
/// let m = cadence_candle::model::Mlp::new(
///     &cadence_candle::model::MlpConfig::new(vec![1, 1])?, 0, &candle_core::Device::Cpu)?;
/// let step = |step, loss| StepRecord { step, epoch: 0, lr: vec![0.1], loss };
/// assert_eq!(guard.on_step(&step(0, 1.0), &m)?, Control::Continue);
/// assert_eq!(guard.on_step(&step(1, 0.9), &m)?, Control::Continue);
/// assert!(matches!(guard.on_step(&step(2, 50.0), &m)?, Control::Stop(_)));
/// assert_eq!(guard.rollback_step(), Some(1));
/// assert_eq!(guard.scale(), 0.5);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DivergenceStop {
    guard: DivergenceGuard,
    decision: Decision,
}

impl DivergenceStop {
    /// A callback around a new [`DivergenceGuard`] with `config`.
    ///
    /// # Errors
    ///
    /// [`TrainError::Schedule`] if `config` is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::DivergenceConfig;
    /// use cadence_candle::train::DivergenceStop;
    ///
    /// assert!(DivergenceStop::new(DivergenceConfig::default()).is_ok());
    /// assert!(DivergenceStop::new(DivergenceConfig { spike_factor: 0.5, ..Default::default() }).is_err());
    /// ```
    pub fn new(config: DivergenceConfig) -> Result<Self, TrainError> {
        Ok(DivergenceStop {
            guard: DivergenceGuard::new(config)?,
            decision: Decision::Continue,
        })
    }

    /// The guard's latest decision (`Continue` until it detects a divergence).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::Decision;
    /// let g = cadence_candle::train::DivergenceStop::new(Default::default())?;
    /// assert_eq!(g.decision(), &Decision::Continue);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// The last healthy step the guard asked to roll back to, if its latest decision was
    /// a rollback.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = cadence_candle::train::DivergenceStop::new(Default::default())?;
    /// assert_eq!(g.rollback_step(), None);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn rollback_step(&self) -> Option<u64> {
        match &self.decision {
            Decision::Rollback { last_good_step, .. } => *last_good_step,
            _ => None,
        }
    }

    /// The guard's LR scale: 1, times `cut` for every rollback so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = cadence_candle::train::DivergenceStop::new(Default::default())?;
    /// assert_eq!(g.scale(), 1.0);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn scale(&self) -> f64 {
        self.guard.scale()
    }

    /// The wrapped guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::Controller;
    /// let g = cadence_candle::train::DivergenceStop::new(Default::default())?;
    /// assert_eq!(g.guard().scale(), 1.0);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn guard(&self) -> &DivergenceGuard {
        &self.guard
    }
}

impl Callback for DivergenceStop {
    fn on_step(&mut self, record: &StepRecord, _model: &dyn Model) -> Result<Control, TrainError> {
        self.decision = self
            .guard
            .observe(Observation::new(record.step, record.loss))?;
        Ok(match &self.decision {
            Decision::Continue | Decision::Rescaled { .. } => Control::Continue,
            Decision::Rollback {
                last_good_step,
                cause,
            } => Control::Stop(format!(
                "divergence at step {}: {cause}; roll back to {} and continue with the \
                 learning rate scaled by {}",
                record.step,
                last_good_step.map_or("the start".to_owned(), |s| format!("step {s}")),
                self.guard.scale()
            )),
            Decision::Stop(reason) => Control::Stop(reason.to_string()),
        })
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(self.guard.state()).unwrap_or(serde_json::Value::Null)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        let mismatch = |found: String| {
            TrainError::mismatch(
                "divergence guard state",
                "a divergence controller state",
                found,
            )
        };
        let state: ControllerState =
            serde_json::from_value(state.clone()).map_err(|e| mismatch(e.to_string()))?;
        self.guard
            .restore(&state)
            .map_err(|e| mismatch(e.to_string()))?;
        self.decision = Decision::Continue;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mlp, MlpConfig};
    use candle_core::Device;

    fn step(step: u64, loss: f64) -> StepRecord {
        StepRecord {
            step,
            epoch: 0,
            lr: vec![0.1],
            loss,
        }
    }

    #[test]
    fn spikes_roll_back_until_the_retries_are_spent_and_state_round_trips() {
        let m = Mlp::new(&MlpConfig::new(vec![1, 1]).unwrap(), 0, &Device::Cpu).unwrap();
        let config = DivergenceConfig {
            warmup: 3,
            max_retries: 1,
            cut: 0.25,
            ..Default::default()
        };
        let mut g = DivergenceStop::new(config.clone()).unwrap();
        // A spike during the warmup is not judged.
        for (t, loss) in [(0, 1.0), (1, 30.0), (2, 1.0)] {
            assert_eq!(g.on_step(&step(t, loss), &m).unwrap(), Control::Continue);
        }
        let saved = g.state();
        let Control::Stop(msg) = g.on_step(&step(3, 1e3), &m).unwrap() else {
            panic!("a spike after the warmup must stop the run")
        };
        assert!(msg.contains("roll back to step 2"), "{msg}");
        assert_eq!(g.rollback_step(), Some(2));
        assert_eq!(g.scale(), 0.25);
        // The retry is spent: the next divergence is final.
        let Control::Stop(msg) = g.on_step(&step(4, 1e3), &m).unwrap() else {
            panic!("the second divergence must stop the run")
        };
        assert!(msg.contains("after 1 rollbacks"), "{msg}");
        assert!(matches!(g.decision(), Decision::Stop(_)));
        assert_eq!(g.rollback_step(), None);

        let mut copy = DivergenceStop::new(config).unwrap();
        copy.restore(&saved).unwrap();
        assert_eq!(copy.scale(), 1.0);
        assert!(matches!(
            copy.on_step(&step(3, 1e3), &m).unwrap(),
            Control::Stop(_)
        ));
        assert_eq!(copy.rollback_step(), Some(2));
        assert!(copy.restore(&serde_json::json!({"type": "nope"})).is_err());
    }
}
