//! What the harness needs from an optimizer beyond [`candle_nn::Optimizer`]: per-group
//! learning rates, the step index, and state that can be saved and restored.

use candle_core::Tensor;

use crate::train::TrainError;

/// An optimizer's state as named tensors plus a JSON value for scalars (step counters,
/// hyperparameters that changed, ...), enough to continue bit-identically.
///
/// Checkpoints store the tensors in safetensors (as `optimizer.<name>`) and the JSON value
/// in the file's metadata, so `f32`/`f64` state round-trips exactly.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::OptimizerState;
/// use candle_core::{Device, Tensor};
///
/// let state = OptimizerState {
///     tensors: vec![("0.momentum".into(), Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu)?)],
///     meta: serde_json::json!({"updates": 12}),
/// };
/// assert_eq!(state.tensor("0.momentum").map(|t| t.dims().to_vec()), Some(vec![3]));
/// assert!(state.tensor("1.momentum").is_none());
/// # Ok::<(), candle_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct OptimizerState {
    /// Named state tensors (moments, momentum buffers, ...).
    pub tensors: Vec<(String, Tensor)>,
    /// Everything else, as JSON (`null` when there is nothing).
    pub meta: serde_json::Value,
}

impl OptimizerState {
    /// The tensor called `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Whether there is no state at all (a stateless optimizer such as plain SGD).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::train::OptimizerState::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty() && self.meta.is_null()
    }
}

/// A [`candle_nn::Optimizer`] the training harness can drive: it sets the learning rate
/// of each parameter group before every update, tells the optimizer which step it is
/// taking, and saves and restores the optimizer's state in checkpoints.
///
/// Only [`state`](ScheduledOptimizer::state) and [`restore`](ScheduledOptimizer::restore)
/// must be written; the group methods default to one group driven through
/// [`set_learning_rate`](candle_nn::Optimizer::set_learning_rate).
///
/// Contract, per update at 0-based step `t`, the harness calls, in this order:
/// 1. `set_group_learning_rate(g, schedule_g.value(t))` for every group `g`, when the
///    harness was given learning-rate schedules (optimizers that follow schedules of
///    their own are given none);
/// 2. `set_step(t)`: an optimizer whose hyperparameters follow schedules evaluates them
///    at `t` here;
/// 3. `backward_step(loss)`.
///
/// `restore(state())` must leave the optimizer so that the next update is bit-identical
/// to the one the saved optimizer would have made.
///
/// Implemented here for candle-nn's [`SGD`](candle_nn::SGD) (stateless) and
/// [`AdamW`](candle_nn::AdamW), whose moments candle-nn keeps private: it trains under
/// the harness, but [`state`](ScheduledOptimizer::state) answers
/// [`TrainError::StateUnavailable`], so it cannot be checkpointed.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::ScheduledOptimizer;
/// use candle_nn::{Optimizer, SGD};
///
/// let mut sgd = SGD::new(vec![], 0.1)?;
/// sgd.set_group_learning_rate(0, 0.05);
/// assert_eq!(sgd.group_learning_rate(0), 0.05);
/// assert_eq!(sgd.group_count(), 1);
/// assert!(sgd.state()?.is_empty());
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
pub trait ScheduledOptimizer: candle_nn::Optimizer {
    /// The number of parameter groups (each with its own learning rate). Default 1.
    fn group_count(&self) -> usize {
        1
    }

    /// Sets the learning rate of group `group` (`0..group_count()`).
    fn set_group_learning_rate(&mut self, group: usize, lr: f64) {
        let _ = group;
        self.set_learning_rate(lr);
    }

    /// The learning rate group `group` uses for the next update.
    fn group_learning_rate(&self, group: usize) -> f64 {
        let _ = group;
        self.learning_rate()
    }

    /// Announces that the next update is optimizer step `step` (0-based). Default: nothing.
    fn set_step(&mut self, step: u64) {
        let _ = step;
    }

    /// A copy of the optimizer's state.
    ///
    /// # Errors
    /// [`TrainError::StateUnavailable`] if the optimizer cannot export its state,
    /// [`TrainError::Candle`] if copying a tensor fails.
    fn state(&self) -> Result<OptimizerState, TrainError>;

    /// Replaces the optimizer's state with `state` (from [`ScheduledOptimizer::state`] of
    /// an optimizer of the same type over the same variables).
    ///
    /// # Errors
    /// [`TrainError::CheckpointMismatch`] if `state` does not fit,
    /// [`TrainError::StateUnavailable`] if the optimizer cannot import state.
    fn restore(&mut self, state: &OptimizerState) -> Result<(), TrainError>;
}

impl ScheduledOptimizer for candle_nn::SGD {
    /// Plain SGD keeps no state: the learning rate is set before every step.
    fn state(&self) -> Result<OptimizerState, TrainError> {
        Ok(OptimizerState::default())
    }

    fn restore(&mut self, state: &OptimizerState) -> Result<(), TrainError> {
        if state.is_empty() {
            Ok(())
        } else {
            Err(TrainError::mismatch(
                "optimizer state",
                "none (candle_nn::SGD)",
                format!("{} tensors", state.tensors.len()),
            ))
        }
    }
}

impl ScheduledOptimizer for candle_nn::AdamW {
    fn state(&self) -> Result<OptimizerState, TrainError> {
        Err(TrainError::StateUnavailable {
            optimizer: "candle_nn::AdamW",
        })
    }

    fn restore(&mut self, _state: &OptimizerState) -> Result<(), TrainError> {
        Err(TrainError::StateUnavailable {
            optimizer: "candle_nn::AdamW",
        })
    }
}

/// This crate's optimizers schedule themselves: the learning rate (and every other
/// hyperparameter) follows the schedules given in their configuration, read at their own
/// step count, which travels in their state. Give the trainer no schedules for them, or
/// schedules replace the learning-rate schedule with the given constant at each step.
impl ScheduledOptimizer for crate::ScheduledOptimizer {
    fn group_count(&self) -> usize {
        self.learning_rates().len()
    }

    fn group_learning_rate(&self, group: usize) -> f64 {
        self.learning_rates()
            .get(group)
            .copied()
            .unwrap_or(f64::NAN)
    }

    fn state(&self) -> Result<OptimizerState, TrainError> {
        let mut tensors: Vec<(String, Tensor)> = self.state_tensors()?.into_iter().collect();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(OptimizerState {
            tensors,
            meta: serde_json::Value::Null,
        })
    }

    fn restore(&mut self, state: &OptimizerState) -> Result<(), TrainError> {
        let map = state.tensors.iter().cloned().collect();
        Ok(self.load_state_tensors(&map)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::{AdamW, Optimizer, ParamsAdamW, SGD};

    #[test]
    fn adamw_trains_but_cannot_checkpoint() {
        let mut opt = AdamW::new(vec![], ParamsAdamW::default()).unwrap();
        opt.set_group_learning_rate(0, 0.25);
        assert_eq!(opt.group_learning_rate(0), 0.25);
        assert!(matches!(
            opt.state(),
            Err(TrainError::StateUnavailable { .. })
        ));
    }

    #[test]
    fn sgd_rejects_foreign_state() {
        let mut opt = SGD::new(vec![], 0.1).unwrap();
        let foreign = OptimizerState {
            tensors: vec![],
            meta: serde_json::json!({"step": 1}),
        };
        assert!(opt.restore(&foreign).is_err());
        assert!(opt.restore(&OptimizerState::default()).is_ok());
    }
}
