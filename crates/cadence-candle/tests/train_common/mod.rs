//! Shared helpers of the training tests: a stateful optimizer (SGD with heavy-ball
//! momentum, PyTorch's rule) implementing `ScheduledOptimizer`, so that checkpoints carry
//! real optimizer state, and small comparison helpers.

#![allow(dead_code)]

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::Optimizer;

use cadence_candle::TrainError;
use cadence_candle::model::{Model, Snapshot};
use cadence_candle::train::{OptimizerState, ScheduledOptimizer};

/// SGD with momentum, PyTorch's rule without dampening:
/// `b <- mu b + g` (`b = g` on the first update), `w <- w - lr b`.
#[derive(Debug)]
pub struct Momentum {
    vars: Vec<Var>,
    buffers: Vec<Option<Tensor>>,
    lr: f64,
    momentum: f64,
    updates: u64,
    last_step: Option<u64>,
}

impl Optimizer for Momentum {
    type Config = (f64, f64);

    fn new(vars: Vec<Var>, (lr, momentum): (f64, f64)) -> candle_core::Result<Self> {
        let buffers = vec![None; vars.len()];
        Ok(Momentum {
            vars,
            buffers,
            lr,
            momentum,
            updates: 0,
            last_step: None,
        })
    }

    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        for (var, buf) in self.vars.iter().zip(&mut self.buffers) {
            let Some(g) = grads.get(var) else { continue };
            let b = match buf.take() {
                Some(b) => ((b * self.momentum)? + g)?,
                None => g.copy()?,
            };
            var.set(&var.sub(&(&b * self.lr)?)?)?;
            *buf = Some(b);
        }
        self.updates += 1;
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

impl Momentum {
    pub fn updates(&self) -> u64 {
        self.updates
    }

    pub fn last_step(&self) -> Option<u64> {
        self.last_step
    }
}

impl ScheduledOptimizer for Momentum {
    fn set_step(&mut self, step: u64) {
        self.last_step = Some(step);
    }

    fn state(&self) -> Result<OptimizerState, TrainError> {
        let mut tensors = Vec::new();
        for (i, b) in self.buffers.iter().enumerate() {
            if let Some(b) = b {
                tensors.push((format!("{i}.momentum_buffer"), b.copy()?));
            }
        }
        Ok(OptimizerState {
            tensors,
            meta: serde_json::json!({ "updates": self.updates }),
        })
    }

    fn restore(&mut self, state: &OptimizerState) -> Result<(), TrainError> {
        for (i, b) in self.buffers.iter_mut().enumerate() {
            *b = match state.tensor(&format!("{i}.momentum_buffer")) {
                Some(t) => Some(t.copy()?),
                None => None,
            };
        }
        self.updates = state.meta["updates"].as_u64().unwrap_or(0);
        Ok(())
    }
}

/// The bit patterns of every parameter, for exact comparisons.
pub fn weight_bits<M: Model + ?Sized>(model: &M) -> Vec<(String, Vec<u32>)> {
    Snapshot::take(model)
        .unwrap()
        .tensors()
        .iter()
        .map(|(n, t)| {
            let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (n.clone(), v.into_iter().map(f32::to_bits).collect())
        })
        .collect()
}

/// The bit patterns of every optimizer state tensor.
pub fn state_bits(state: &OptimizerState) -> Vec<(String, Vec<u32>)> {
    state
        .tensors
        .iter()
        .map(|(n, t)| {
            let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (n.clone(), v.into_iter().map(f32::to_bits).collect())
        })
        .collect()
}
