//! The divergence guard as a training callback: a learning-rate jump makes the loss spike,
//! and `DivergenceStop` stops the run, naming the step to roll back to.

use std::sync::Arc;

use cadence::controllers::{Decision, DivergenceConfig};
use cadence::from_fn;
use cadence_candle::data::{Scaling, digits_split};
use cadence_candle::model::{Mlp, MlpConfig, Model};
use cadence_candle::train::{
    DivergenceStop, Progress, StopReason, TrainConfig, Trainer, single_threaded,
};
use candle_core::Device;
use candle_nn::{Optimizer, SGD};

/// Trains the digits MLP on 512 samples with SGD whose lr jumps from 0.05 to `high` at
/// step 16, with the guard watching; returns the stop reason and the guard.
fn run(high: f64) -> (StopReason, DivergenceStop) {
    let (train, _) = digits_split(Scaling::Standardize).unwrap();
    let train = train.subsample(512, 0).unwrap();
    let config = DivergenceConfig {
        warmup: 8,
        max_retries: 2,
        ..Default::default()
    };
    let mut guard = DivergenceStop::new(config).unwrap();
    let stop = single_threaded(|| {
        let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu).unwrap();
        let sgd = SGD::new(model.vars(), 0.0).unwrap();
        let config = TrainConfig::new(4, 32)
            .unwrap()
            .with_seed(0)
            .with_progress(Progress::Hidden);
        let mut trainer = Trainer::new(&model, sgd, &train, config)
            .unwrap()
            .with_schedule(Arc::new(from_fn(move |t| if t < 16 { 0.05 } else { high })))
            .with_callback(Box::new(&mut guard));
        trainer.run().unwrap().stop
    })
    .unwrap();
    (stop, guard)
}

#[test]
fn a_loss_spike_stops_the_run_with_the_step_to_roll_back_to() {
    let (stop, guard) = run(30.0);
    let StopReason::Stopped { step, reason } = &stop else {
        panic!("expected the guard to stop the run, got {stop:?}")
    };
    assert!(reason.contains("divergence at step"), "{reason}");
    // The jump is applied by the update of step 16; its effect shows in a later loss.
    assert!(*step > 16, "{stop:?}");
    let back = guard.rollback_step().expect("a rollback decision");
    assert!(
        (15..*step).contains(&back),
        "rollback to {back}, stopped at {step}"
    );
    assert!(matches!(guard.decision(), Decision::Rollback { .. }));
    assert_eq!(guard.scale(), 0.5);
}

#[test]
fn a_steady_run_completes() {
    let (stop, guard) = run(0.05);
    assert!(stop.is_completed(), "{stop:?}");
    assert_eq!(guard.decision(), &Decision::Continue);
    assert_eq!(guard.scale(), 1.0);
}
