//! Behaviour of `ScheduledOptimizer` across algorithms: exact resume, frozen groups,
//! thread-count independence, schedule-free switching, trust ratios.

use cadence::{Linear, Schedule};
use cadence_candle::{
    AdagradConfig, AdamConfig, Algorithm, Centering, GroupMode, MomentumKind, ParamGroup,
    RmsPropConfig, ScheduleFreeConfig, ScheduledOptimizer, SecondMoment, SgdConfig, TrustRatio,
};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};

/// Deterministic pseudo-random numbers in [-1, 1) (a 64-bit LCG).
fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn var(seed: u64, n: usize, dtype: DType) -> Var {
    let t = Tensor::from_vec(noise(seed, n), n, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    Var::from_tensor(&t).unwrap()
}

fn algorithms() -> Vec<(&'static str, Algorithm)> {
    let lr = || Linear::new(0.05, 0.01, 20).unwrap();
    vec![
        (
            "sgd-nesterov",
            SgdConfig::new(lr())
                .momentum(0.9)
                .weight_decay(0.01)
                .kind(MomentumKind::Nesterov)
                .into(),
        ),
        (
            "sgd-dampening",
            SgdConfig::new(lr()).momentum(0.8).dampening(0.3).into(),
        ),
        (
            "lars",
            SgdConfig::new(lr())
                .momentum(0.9)
                .trust_ratio(TrustRatio::Layerwise { coefficient: 0.02 })
                .into(),
        ),
        (
            "adam-amsgrad",
            AdamConfig::adam(lr())
                .weight_decay(0.01)
                .second_moment(SecondMoment::AmsGrad)
                .into(),
        ),
        (
            "adamw",
            AdamConfig::adamw(lr())
                .betas(0.8, Linear::new(0.9, 0.99, 10).unwrap())
                .into(),
        ),
        (
            "lamb",
            AdamConfig::adamw(lr())
                .trust_ratio(TrustRatio::Layerwise { coefficient: 1.0 })
                .into(),
        ),
        (
            "rmsprop",
            RmsPropConfig::new(lr())
                .momentum(0.5)
                .centering(Centering::Centered)
                .weight_decay(0.01)
                .into(),
        ),
        (
            "adagrad",
            AdagradConfig::new(lr())
                .lr_decay(0.01)
                .initial_accumulator_value(0.1)
                .unwrap()
                .into(),
        ),
        (
            "sf-sgd",
            ScheduleFreeConfig::sgd(lr())
                .warmup_steps(3)
                .weight_decay(0.01)
                .into(),
        ),
        (
            "sf-adamw",
            ScheduleFreeConfig::adamw(lr())
                .warmup_steps(3)
                .r(0.5)
                .unwrap()
                .into(),
        ),
    ]
}

/// Three groups: a large buffer (parallel path) and a small one, a group with its own lr
/// and multiplier, and a frozen group.
fn model(dtype: DType) -> (Vec<ParamGroup>, Vec<Var>) {
    let big = var(1, (1 << 17) + 1234, dtype);
    let small = var(2, 7, dtype);
    let head = var(3, 33, dtype);
    let frozen = var(4, 5, dtype);
    let groups = vec![
        ParamGroup::new(vec![big.clone(), small.clone()]),
        ParamGroup::new(vec![head.clone()])
            .with_lr(0.02)
            .with_lr_scale(0.5)
            .unwrap()
            .with_weight_decay(0.0),
        ParamGroup::new(vec![frozen.clone()]).with_mode(GroupMode::Frozen),
    ];
    (groups, vec![big, small, head, frozen])
}

/// Gradients of a fixed quadratic-plus-noise loss: g = p - target + noise(step).
fn grads(vars: &[Var], step: u64) -> GradStore {
    let mut loss = Tensor::zeros((), vars[0].dtype(), &Device::Cpu).unwrap();
    for (i, v) in vars.iter().enumerate() {
        let n = v.elem_count();
        let noise = Tensor::from_vec(noise(100 + 7 * step + i as u64, n), n, &Device::Cpu)
            .unwrap()
            .to_dtype(v.dtype())
            .unwrap();
        // 0.25 p^2 + noise * p: gradient 0.5 p + noise
        let term = ((v.as_tensor().sqr().unwrap() * 0.25).unwrap()
            + (v.as_tensor() * &noise).unwrap())
        .unwrap();
        loss = (loss + term.sum_all().unwrap()).unwrap();
    }
    loss.backward().unwrap()
}

/// A gradient store holding exactly `g` for `x`: d/dx sum(x * g) = g.
fn exact(x: &Var, g: &[f64]) -> GradStore {
    let g = Tensor::new(g, &Device::Cpu).unwrap();
    (x.as_tensor() * &g)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap()
}

fn values(vars: &[Var]) -> Vec<Vec<f64>> {
    vars.iter()
        .map(|v| {
            v.as_tensor()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1()
                .unwrap()
        })
        .collect()
}

fn bits(vars: &[Var]) -> Vec<Vec<u64>> {
    values(vars)
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

fn run(algorithm: &Algorithm, dtype: DType, steps: u64) -> (ScheduledOptimizer, Vec<Var>) {
    let (groups, vars) = model(dtype);
    let mut opt = ScheduledOptimizer::with_groups(groups, algorithm.clone()).unwrap();
    for t in 0..steps {
        opt.apply(&grads(&vars, t)).unwrap();
    }
    (opt, vars)
}

#[test]
fn save_restore_continue_is_bit_identical() {
    let dir = std::env::temp_dir().join(format!("cadence-candle-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for dtype in [DType::F32, DType::F64] {
        for (name, algorithm) in algorithms() {
            let (total, split) = (12, 5);
            let (_, straight) = run(&algorithm, dtype, total);

            let (first, vars) = run(&algorithm, dtype, split);
            let path = dir.join(format!("{name}-{dtype:?}.safetensors"));
            first.save_state(&path).unwrap();
            let weights = values(&vars);
            drop(first);

            // A fresh process would rebuild the model from its checkpoint and the optimizer
            // from its config, then load the optimizer state.
            let (groups, fresh) = model(dtype);
            for (v, w) in fresh.iter().zip(&weights) {
                let t = Tensor::from_vec(w.clone(), w.len(), &Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap();
                v.set(&t).unwrap();
            }
            let mut resumed = ScheduledOptimizer::with_groups(groups, algorithm.clone()).unwrap();
            resumed.load_state(&path).unwrap();
            assert_eq!(resumed.step_count(), split);
            for t in split..total {
                resumed.apply(&grads(&fresh, t)).unwrap();
            }
            assert_eq!(
                bits(&fresh),
                bits(&straight),
                "{name} {dtype:?}: resumed run differs"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn frozen_groups_take_no_update_and_keep_no_state() {
    for (name, algorithm) in algorithms() {
        let (before_groups, before) = model(DType::F32);
        drop(before_groups);
        let (opt, vars) = run(&algorithm, DType::F32, 3);
        assert_eq!(
            values(&vars)[3],
            values(&before)[3],
            "{name}: frozen variable changed"
        );
        assert_ne!(
            values(&vars)[0],
            values(&before)[0],
            "{name}: trainable variable unchanged"
        );
        let state = opt.state_tensors().unwrap();
        assert!(
            state.keys().all(|k| !k.starts_with("g2.p")),
            "{name}: frozen group has state"
        );
        assert!(
            state.contains_key("g0.p0.count"),
            "{name}: trained variable has no state"
        );
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    for (name, algorithm) in algorithms() {
        let (_, many) = run(&algorithm, DType::F32, 4);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let (_, one) = pool.install(|| run(&algorithm, DType::F32, 4));
        assert_eq!(bits(&many), bits(&one), "{name}: 1 thread differs");
    }
}

#[test]
fn f32_tracks_f64() {
    for (name, algorithm) in algorithms() {
        let (_, a) = run(&algorithm, DType::F32, 10);
        let (_, b) = run(&algorithm, DType::F64, 10);
        for (x, y) in values(&a).iter().flatten().zip(values(&b).iter().flatten()) {
            assert!(
                (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                "{name}: f32 {x} vs f64 {y}"
            );
        }
    }
}

#[test]
fn loading_a_state_into_a_different_optimizer_fails_with_the_key() {
    let (adam, _) = run(&AdamConfig::adamw(0.1).into(), DType::F32, 2);
    let state = adam.state_tensors().unwrap();
    let (groups, _) = model(DType::F32);
    let mut sgd =
        ScheduledOptimizer::with_groups(groups, SgdConfig::new(0.1).momentum(0.9)).unwrap();
    let err = sgd.load_state_tensors(&state).unwrap_err();
    assert!(err.to_string().contains("exp_avg"), "{err}");
    assert_eq!(sgd.step_count(), 0);

    let (groups, _) = model(DType::F64);
    let mut wrong_dtype = ScheduledOptimizer::with_groups(groups, AdamConfig::adamw(0.1)).unwrap();
    let err = wrong_dtype.load_state_tensors(&state).unwrap_err();
    assert!(err.to_string().contains("dtype"), "{err}");
}

#[test]
fn schedule_free_eval_and_train_round_trip() {
    for algorithm in [
        ScheduleFreeConfig::sgd(0.1),
        ScheduleFreeConfig::adamw(0.01),
    ] {
        let (mut opt, vars) = run(&algorithm.into(), DType::F64, 5);
        let y = values(&vars);
        opt.eval().unwrap();
        let x = values(&vars);
        assert_ne!(x[0], y[0]);
        let grads = grads(&vars, 0);
        assert!(matches!(
            opt.apply(&grads),
            Err(cadence_candle::Error::WrongMode { .. })
        ));
        opt.train().unwrap();
        for (a, b) in values(&vars).iter().flatten().zip(y.iter().flatten()) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()));
        }
    }
}

#[test]
fn lars_scales_the_first_step_by_the_trust_ratio() {
    let x = Var::from_vec(vec![3.0_f64, 4.0], 2, &Device::Cpu).unwrap();
    let config = SgdConfig::new(0.1).trust_ratio(TrustRatio::Layerwise { coefficient: 0.5 });
    let mut opt =
        ScheduledOptimizer::with_groups(vec![ParamGroup::new(vec![x.clone()])], config).unwrap();
    let store = exact(&x, &[0.6_f64, 0.8]);
    opt.apply(&store).unwrap();
    // ||p|| = 5, ||g|| = 1: ratio = 2.5, step = 0.1 * 2.5 * g
    let v: Vec<f64> = x.as_tensor().to_vec1().unwrap();
    assert!((v[0] - (3.0 - 0.25 * 0.6)).abs() < 1e-15 && (v[1] - (4.0 - 0.25 * 0.8)).abs() < 1e-15);
}

#[test]
fn schedules_are_evaluated_at_the_optimizer_step() {
    let x = Var::from_vec(vec![1.0_f64], 1, &Device::Cpu).unwrap();
    let lr = Linear::new(0.4, 0.0, 4).unwrap();
    let mut opt =
        ScheduledOptimizer::with_groups(vec![ParamGroup::new(vec![x.clone()])], SgdConfig::new(lr))
            .unwrap();
    let mut expected = 1.0;
    for t in 0..6 {
        assert_eq!(opt.learning_rates(), vec![lr.value(t)]);
        let store = exact(&x, &[1.0_f64]);
        opt.apply(&store).unwrap();
        expected -= lr.value(t);
        let v: Vec<f64> = x.as_tensor().to_vec1().unwrap();
        assert!((v[0] - expected).abs() < 1e-15);
    }
}

#[test]
fn hyperparameters_outside_their_domain_name_the_step() {
    let x = Var::from_vec(vec![1.0_f64], 1, &Device::Cpu).unwrap();
    let beta1 = cadence::from_fn(|t| if t < 2 { 0.9 } else { 1.0 });
    let mut opt = ScheduledOptimizer::with_groups(
        vec![ParamGroup::new(vec![x.clone()])],
        AdamConfig::adam(0.1).betas(beta1, 0.999),
    )
    .unwrap();
    let store = exact(&x, &[1.0_f64]);
    opt.apply(&store).unwrap();
    opt.apply(&store).unwrap();
    let err = opt.apply(&store).unwrap_err();
    assert!(
        matches!(
            err,
            cadence_candle::Error::InvalidHyperparameter {
                name: "beta1",
                step: 2,
                ..
            }
        ),
        "{err}"
    );
}
