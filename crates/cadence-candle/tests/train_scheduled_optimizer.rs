//! The crate's own optimizers in the training harness: a scheduled AdamW (warmup + cosine
//! inside its configuration, read at its own step count) trains the digits MLP, and a run
//! stopped at a step and resumed from its checkpoint ends bit-identical to an uninterrupted
//! one — weights and optimizer state (moments and step count).

mod train_common;

use std::path::Path;

use cadence::{Anneal, Cosine, ScheduleExt};
use cadence_candle::data::{Scaling, digits_split};
use cadence_candle::model::{Mlp, MlpConfig, Model};
use cadence_candle::train::{
    Every, Progress, ScheduledOptimizer as _, StopReason, TrainConfig, Trainer, single_threaded,
};
use cadence_candle::{AdamConfig, ScheduledOptimizer};
use candle_core::Device;
use candle_nn::Optimizer;
use train_common::weight_bits;

const EPOCHS: u64 = 3;

/// Named tensors as the bit patterns of their elements.
type Bits<T> = Vec<(String, Vec<T>)>;
const BATCH: usize = 32;

fn optimizer(model: &Mlp) -> ScheduledOptimizer {
    let lr = Cosine::new(3e-3, 0.0, 120)
        .unwrap()
        .warmup(Anneal::Linear, 15, 0.0)
        .unwrap();
    ScheduledOptimizer::new(
        model.vars(),
        AdamConfig::adamw(lr).weight_decay(0.01).into(),
    )
    .unwrap()
}

/// Trains from a model initialised with `init_seed`, resuming from `resume` if given;
/// returns the stop reason, the weights' bits and the optimizer's state tensors' bits.
fn run(
    dir: &Path,
    max_steps: Option<u64>,
    init_seed: u64,
    resume: bool,
) -> (StopReason, Bits<u32>, Bits<u64>) {
    let (train, test) = digits_split(Scaling::Standardize).unwrap();
    let train = train.subsample(400, 3).unwrap();
    single_threaded(|| {
        let model = Mlp::new(&MlpConfig::default(), init_seed, &Device::Cpu).unwrap();
        let mut config = TrainConfig::new(EPOCHS, BATCH)
            .unwrap()
            .with_seed(5)
            .with_progress(Progress::Hidden)
            .with_checkpoints(dir.join("checkpoint.safetensors"), Every::Steps(10))
            .unwrap();
        if let Some(n) = max_steps {
            config = config.with_max_steps(n);
        }
        let mut trainer = Trainer::new(&model, optimizer(&model), &train, config)
            .unwrap()
            .with_validation(&test);
        if resume {
            trainer.resume(&dir.join("checkpoint.safetensors")).unwrap();
        }
        let report = trainer.run().unwrap();
        let state = trainer.optimizer_mut().state().unwrap();
        let state_bits = state
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
            .collect();
        (report.stop, weight_bits(&model), state_bits)
    })
    .unwrap()
}

#[test]
fn scheduled_adamw_resumes_bit_identically_in_the_harness() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let reference = run(a.path(), None, 1, false);
    let stopped = run(b.path(), Some(17), 1, false);
    assert_eq!(stopped.0, StopReason::StepLimit { step: 17 });
    assert_ne!(stopped.1, reference.1);
    let resumed = run(b.path(), None, 42, true);
    assert_eq!(resumed.1, reference.1, "weights differ after resume");
    assert_eq!(
        resumed.2, reference.2,
        "optimizer state differs after resume"
    );
}
