//! candle-optimisers driven by cadence schedules (feature `candle-optimisers`): the
//! trajectories match cadence's own PyTorch-exact optimizers with the same schedules.

use cadence::{Cosine, Linear, Schedule};
use cadence_candle::interop::candle_optimisers::adam::{Adam, ParamsAdam};
use cadence_candle::interop::candle_optimisers::esgd::{ParamsSGD, SGD};
use cadence_candle::interop::candle_optimisers::{Decay, Momentum, OptimParams as _};
use cadence_candle::interop::{Scheduled, candle_nn010, candle010};
use cadence_candle::{AdamConfig, ParamGroup, ScheduledOptimizer, SgdConfig};
use candle_nn010::Optimizer as _;

const START: [f64; 4] = [1.0, -2.0, 0.5, 3.0];
const STEPS: u64 = 25;

/// The gradient of `0.5 * sum(a_i x_i^2)` with curvatures `a = [1, 3, 0.5, 2]`.
fn loss010(x: &candle010::Var) -> candle010::Tensor {
    let a = candle010::Tensor::new(&[1.0_f64, 3.0, 0.5, 2.0], &candle010::Device::Cpu).unwrap();
    ((x.as_tensor().sqr().unwrap() * a)
        .unwrap()
        .sum_all()
        .unwrap()
        * 0.5)
        .unwrap()
}

fn loss(x: &candle_core::Var) -> candle_core::Tensor {
    let a = candle_core::Tensor::new(&[1.0_f64, 3.0, 0.5, 2.0], &candle_core::Device::Cpu).unwrap();
    ((x.as_tensor().sqr().unwrap() * a)
        .unwrap()
        .sum_all()
        .unwrap()
        * 0.5)
        .unwrap()
}

/// cadence's own optimizer on the same problem, recording x after every step.
fn reference(config: cadence_candle::Algorithm) -> Vec<Vec<f64>> {
    let x = candle_core::Var::new(&START, &candle_core::Device::Cpu).unwrap();
    let mut opt =
        ScheduledOptimizer::with_groups(vec![ParamGroup::new(vec![x.clone()])], config).unwrap();
    (0..STEPS)
        .map(|_| {
            opt.apply(&loss(&x).backward().unwrap()).unwrap();
            x.as_tensor().to_vec1().unwrap()
        })
        .collect()
}

fn close(a: &[Vec<f64>], b: &[Vec<f64>], rel: f64) {
    for (t, (xa, xb)) in a.iter().zip(b).enumerate() {
        for (&u, &v) in xa.iter().zip(xb) {
            assert!(
                (u - v).abs() <= rel * u.abs().max(v.abs()).max(1e-12),
                "step {t}: {u} vs {v}"
            );
        }
    }
}

#[test]
fn adamw_lr_and_weight_decay_follow_schedules() {
    let lr = Linear::new(0.1, 0.01, 20).unwrap();
    let wd = Cosine::new(0.1, 0.0, 20).unwrap();
    let x = candle010::Var::new(&START, &candle010::Device::Cpu).unwrap();
    let adam = Adam::new(vec![x.clone()], ParamsAdam::default()).unwrap();
    let mut opt = Scheduled::new(adam, move |c: &mut ParamsAdam, t| {
        c.lr = lr.value(t);
        c.weight_decay = Some(Decay::DecoupledWeightDecay(wd.value(t)));
    });
    let theirs: Vec<Vec<f64>> = (0..STEPS)
        .map(|_| {
            opt.step(&loss010(&x).backward().unwrap()).unwrap();
            x.as_tensor().to_vec1().unwrap()
        })
        .collect();
    assert_eq!(opt.step_count(), STEPS);
    assert!((opt.inner().params().lr - lr.value(STEPS - 1)).abs() < 1e-15);
    // candle-optimisers computes the same update with other roundings (bias
    // corrections divided into m and v, eps after them, `mul_add` for the decay).
    let ours = reference(AdamConfig::adamw(lr).weight_decay(wd).into());
    close(&theirs, &ours, 1e-9);
    // Without the schedules the run differs: the schedules were applied.
    let constant = reference(AdamConfig::adamw(0.1).weight_decay(0.1).into());
    assert!((theirs[STEPS as usize - 1][0] - constant[STEPS as usize - 1][0]).abs() > 1e-3);
}

#[test]
fn sgd_momentum_follows_lr_and_momentum_schedules_and_resumes() {
    let lr = Cosine::new(0.2, 0.0, 25).unwrap();
    let mu = Linear::new(0.5, 0.9, 10).unwrap();
    let set = |lr: Cosine, mu: Linear| {
        move |c: &mut ParamsSGD, t: u64| {
            c.lr = lr.value(t);
            c.momentum = Some(Momentum::Classical(mu.value(t)));
        }
    };
    let x = candle010::Var::new(&START, &candle010::Device::Cpu).unwrap();
    let sgd = SGD::new(vec![x.clone()], ParamsSGD::default()).unwrap();
    let mut opt = Scheduled::new(sgd, set(lr, mu));
    let theirs: Vec<Vec<f64>> = (0..STEPS)
        .map(|_| {
            opt.step(&loss010(&x).backward().unwrap()).unwrap();
            x.as_tensor().to_vec1().unwrap()
        })
        .collect();
    let ours = reference(SgdConfig::new(lr).momentum(mu).into());
    close(&theirs, &ours, 1e-12);

    // `starting_at` resumes the schedules' clock: 10 steps, then a fresh wrapper
    // at step 10 over the same optimizer continues the same trajectory.
    let y = candle010::Var::new(&START, &candle010::Device::Cpu).unwrap();
    let sgd = SGD::new(vec![y.clone()], ParamsSGD::default()).unwrap();
    let mut first = Scheduled::new(sgd, set(lr, mu));
    for _ in 0..10 {
        first.step(&loss010(&y).backward().unwrap()).unwrap();
    }
    let mut second = Scheduled::new(first.into_inner(), set(lr, mu)).starting_at(10);
    for _ in 10..STEPS {
        second.step(&loss010(&y).backward().unwrap()).unwrap();
    }
    let last: Vec<f64> = y.as_tensor().to_vec1().unwrap();
    close(&[last], &theirs[STEPS as usize - 1..], 0.0);
}
