//! The digits data is the real UCI set, and the harness trains on it: the MLP and the
//! CNN learn, a deep MLP at a huge rate diverges with a clear reason, early stopping
//! stops an overfitting run, logs are written.

mod train_common;

use std::sync::Arc;

use cadence::{Linear, from_fn};
use cadence_candle::data::{Scaling, digits, digits_split};
use cadence_candle::model::{Cnn, CnnConfig, Mlp, MlpConfig, Model};
use cadence_candle::train::{
    EarlyStopping, Monitor, Progress, StopReason, TrainConfig, TrainMetrics, Trainer, evaluate,
    single_threaded,
};
use candle_core::Device;
use candle_nn::{AdamW, Optimizer, ParamsAdamW, SGD};
use train_common::Momentum;

#[test]
fn digits_is_the_real_uci_set() {
    let d = digits().unwrap();
    assert_eq!(d.len(), 1797);
    assert_eq!(d.sample_shape(), &[64]);
    // scikit-learn's np.bincount(load_digits().target).
    assert_eq!(
        d.class_counts(),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert!(
        d.features()
            .iter()
            .all(|v| v.fract() == 0.0 && (0.0..=16.0).contains(v))
    );
    assert_eq!(d.features().iter().cloned().fold(0.0, f32::max), 16.0);
    // load_digits().images[0], a zero.
    #[rustfmt::skip]
    let first: [f32; 64] = [
        0., 0., 5., 13., 9., 1., 0., 0.,
        0., 0., 13., 15., 10., 15., 5., 0.,
        0., 3., 15., 2., 0., 11., 8., 0.,
        0., 4., 12., 0., 0., 8., 8., 0.,
        0., 5., 8., 0., 0., 9., 8., 0.,
        0., 4., 11., 0., 1., 12., 7., 0.,
        0., 2., 14., 5., 10., 12., 0., 0.,
        0., 0., 6., 13., 10., 0., 0., 0.,
    ];
    assert_eq!(d.sample(0), &first);
    assert_eq!(d.labels()[..10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

#[test]
fn the_split_is_fixed_stratified_and_scaled_on_train_only() {
    let (train, test) = digits_split(Scaling::Raw).unwrap();
    assert_eq!((train.len(), test.len()), (1437, 360));
    for (c, n) in test.class_counts().into_iter().enumerate() {
        assert!((34..=37).contains(&n), "class {c}: {n}");
    }
    let (train2, test2) = digits_split(Scaling::Raw).unwrap();
    assert_eq!((&train, &test), (&train2, &test2));
    // Standardised test features use training statistics: their means are near, not at, 0.
    let (_, std_test) = digits_split(Scaling::Standardize).unwrap();
    let mean: f64 = std_test.features().iter().map(|v| *v as f64).sum::<f64>()
        / std_test.features().len() as f64;
    assert!(mean.abs() < 0.1 && mean != 0.0, "{mean}");
}

#[test]
fn mlp_learns_digits_with_a_warmup_schedule() {
    let (train, test) = digits_split(Scaling::Standardize).unwrap();
    let report = single_threaded(|| {
        let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu).unwrap();
        let params = ParamsAdamW {
            lr: 0.0,
            weight_decay: 1e-4,
            ..ParamsAdamW::default()
        };
        let opt = AdamW::new(model.vars(), params).unwrap();
        let config = TrainConfig::new(10, 64)
            .unwrap()
            .with_progress(Progress::Hidden);
        let warm = Linear::new(0.0, 3e-3, 46).unwrap();
        let decay = Linear::new(3e-3, 0.0, 184).unwrap();
        let lr = from_fn(move |t| {
            use cadence::Schedule;
            if t < 46 {
                warm.value(t)
            } else {
                decay.value(t - 46)
            }
        });
        Trainer::new(&model, opt, &train, config)
            .unwrap()
            .with_validation(&test)
            .with_schedule(Arc::new(lr))
            .run()
            .unwrap()
    })
    .unwrap();
    assert_eq!(report.stop, StopReason::Completed);
    assert_eq!(report.history.steps.len(), 230);
    assert_eq!(report.history.steps[0].lr, vec![0.0]);
    assert!((report.history.steps[46].lr[0] - 3e-3).abs() < 1e-15);
    let last = report.history.last_eval().unwrap();
    assert!(last.val_accuracy.unwrap() > 0.96, "{last:?}");
    assert!(last.train_loss < 0.1, "{last:?}");
    let first = &report.history.evals[0];
    assert!(first.val_loss.unwrap() > last.val_loss.unwrap());
}

#[test]
fn cnn_learns_digits() {
    let (train, test) = digits_split(Scaling::Standardize).unwrap();
    let acc = single_threaded(|| {
        let model = Cnn::new(&CnnConfig::default(), 0, &Device::Cpu).unwrap();
        let opt = Momentum::new(model.vars(), (0.05, 0.9)).unwrap();
        let config = TrainConfig::new(3, 64)
            .unwrap()
            .with_progress(Progress::Hidden);
        let mut t = Trainer::new(&model, opt, &train, config).unwrap();
        t.run().unwrap();
        evaluate(&model, &test, &Device::Cpu).unwrap().accuracy
    })
    .unwrap();
    assert!(acc > 0.9, "{acc}");
}

#[test]
fn deep_mlp_at_a_huge_rate_diverges_with_a_reason() {
    let (train, _) = digits_split(Scaling::Standardize).unwrap();
    let report = single_threaded(|| {
        let config = MlpConfig::deep(64, 256, 8, 10).unwrap();
        let model = Mlp::new(&config, 0, &Device::Cpu).unwrap();
        let opt = SGD::new(model.vars(), 50.0).unwrap();
        let cfg = TrainConfig::new(5, 64)
            .unwrap()
            .with_progress(Progress::Hidden);
        Trainer::new(&model, opt, &train, cfg)
            .unwrap()
            .run()
            .unwrap()
    })
    .unwrap();
    let StopReason::Diverged { step, loss } = report.stop else {
        panic!("expected divergence, got {}", report.stop);
    };
    assert!(!loss.is_finite());
    assert!(step < 5 * 23, "stopped early");
    // Every recorded step had a finite loss; the diverging one is not recorded.
    assert_eq!(report.history.steps.len() as u64, step);
    assert!(report.history.steps.iter().all(|r| r.loss.is_finite()));
    assert!(
        report
            .stop
            .to_string()
            .contains(&format!("diverged at step {step}"))
    );
}

#[test]
fn divergence_factor_stops_a_blowing_up_loss() {
    let (train, _) = digits_split(Scaling::Standardize).unwrap();
    let report = single_threaded(|| {
        let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu).unwrap();
        let opt = SGD::new(model.vars(), 0.0).unwrap();
        let cfg = TrainConfig::new(5, 64)
            .unwrap()
            .with_progress(Progress::Hidden)
            .with_divergence_factor(4.0)
            .unwrap();
        // A sane rate for 20 steps, then an absurd one.
        let lr = from_fn(|t| if t < 20 { 0.1 } else { 30.0 });
        Trainer::new(&model, opt, &train, cfg)
            .unwrap()
            .with_schedule(Arc::new(lr))
            .run()
            .unwrap()
    })
    .unwrap();
    let StopReason::Diverged { step, loss } = report.stop else {
        panic!("expected divergence, got {}", report.stop);
    };
    assert!(step > 20, "{step}");
    let best = report
        .history
        .steps
        .iter()
        .map(|r| r.loss)
        .fold(f64::INFINITY, f64::min);
    assert!(loss.is_nan() || loss > 4.0 * best, "{loss} vs best {best}");
}

#[test]
fn early_stopping_finds_the_overfitting_point() {
    let (train, test) = digits_split(Scaling::Standardize).unwrap();
    let small = train.subsample(60, 0).unwrap();
    let (report, best) = single_threaded(|| {
        let model = Mlp::new(&MlpConfig::new(vec![64, 256, 10]).unwrap(), 0, &Device::Cpu).unwrap();
        let opt = Momentum::new(model.vars(), (0.05, 0.9)).unwrap();
        let cfg = TrainConfig::new(400, 20)
            .unwrap()
            .with_progress(Progress::Hidden)
            .with_train_metrics(TrainMetrics::FullPass);
        let mut t = Trainer::new(&model, opt, &small, cfg)
            .unwrap()
            .with_validation(&test)
            .with_callback(Box::new(
                EarlyStopping::new(Monitor::ValidationLoss, 10, 0.0).unwrap(),
            ));
        let report = t.run().unwrap();
        (
            report,
            t.history()
                .evals
                .iter()
                .map(|e| e.val_loss.unwrap())
                .fold(f64::INFINITY, f64::min),
        )
    })
    .unwrap();
    let StopReason::Stopped { step, reason } = &report.stop else {
        panic!("expected early stopping, got {}", report.stop);
    };
    assert!(reason.contains("early stopping"), "{reason}");
    assert!(*step < 400 * 3);
    let evals = &report.history.evals;
    // Stopped exactly `patience` evaluations after the best one.
    let best_at = evals
        .iter()
        .position(|e| e.val_loss.unwrap() == best)
        .unwrap();
    assert_eq!(evals.len(), best_at + 1 + 10);
    // The training set is learnt perfectly while the validation loss rose.
    let last = evals.last().unwrap();
    assert_eq!(last.train_accuracy, 1.0);
    assert!(last.val_loss.unwrap() > best);
}

#[test]
fn logs_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = digits_split(Scaling::UnitRange).unwrap();
    let small = train.subsample(128, 1).unwrap();
    single_threaded(|| {
        let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu).unwrap();
        let opt = SGD::new(model.vars(), 0.1).unwrap();
        let cfg = TrainConfig::new(2, 32)
            .unwrap()
            .with_progress(Progress::Hidden)
            .with_log_dir(dir.path());
        Trainer::new(&model, opt, &small, cfg)
            .unwrap()
            .with_validation(&test)
            .run()
            .unwrap();
    })
    .unwrap();
    let steps = std::fs::read_to_string(dir.path().join("steps.csv")).unwrap();
    let lines: Vec<&str> = steps.lines().collect();
    assert_eq!(lines[0], "step,epoch,lr,loss");
    assert_eq!(lines.len(), 1 + 8);
    assert!(lines[8].starts_with("7,1,0.1,"));
    let evals = std::fs::read_to_string(dir.path().join("evals.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(evals.lines().last().unwrap()).unwrap();
    assert_eq!(last["epoch"], 2);
    assert!((0.0..=1.0).contains(&last["val_accuracy"].as_f64().unwrap()));
    assert!(last["val_loss"].as_f64().unwrap() > 0.0);
    let weights =
        candle_core::safetensors::load(dir.path().join("model.safetensors"), &Device::Cpu);
    assert_eq!(weights.unwrap().len(), 4);
}
