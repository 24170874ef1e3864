//! The recipe families against traces recorded from PyTorch, optax, transformers and timm
//! (`crates/cadence-compat/tests/golden`). Each case maps the peer's config to a cadence family by hand and
//! compares every recorded step: relative error at most 1e-9 (absolute 1e-12 near zero).

mod common;
use cadence::{
    Amplitude, AmplitudeClock, Anneal, CosineRestarts, Cyclical, DecayLength, OneCycle, PhaseEnds,
    Phases, PiecewiseInterpolate, Schedule, SwaAnneal, WarmupStableDecay,
};
use common::golden_dir;
use serde_json::Value;

const REL: f64 = 1e-9;
const ABS: f64 = 1e-12;

fn case(name: &str) -> Value {
    let path = golden_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("missing number {key} in {v}"))
}

fn f_or(v: &Value, key: &str, default: f64) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(default)
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("missing integer {key} in {v}"))
}

/// Compares `values(i)` with the recorded series `key` ("lr" or "momentum"); returns the
/// largest relative error.
fn compare(c: &Value, key: &str, values: impl Fn(usize) -> f64) -> f64 {
    let expected: Vec<f64> = c[key]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no {key}", c["name"]))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let mut worst = 0.0_f64;
    for (i, &e) in expected.iter().enumerate() {
        let a = values(i);
        let err = (a - e).abs();
        assert!(
            err <= REL * e.abs() || err <= ABS,
            "{} {key}[{i}]: got {a:e}, recorded {e:e}",
            c["name"]
        );
        if e != 0.0 {
            worst = worst.max(err / e.abs());
        }
    }
    println!(
        "{} {key}: {} steps, max rel err {worst:e}",
        c["name"],
        expected.len()
    );
    worst
}

fn anneal_of(name: &str) -> Anneal {
    match name {
        "linear" => Anneal::Linear,
        "cos" | "cosine" => Anneal::Cosine,
        "1-sqrt" => Anneal::Sqrt,
        other => panic!("unmapped anneal {other}"),
    }
}

/// The optimizer's cycled momentum: SGD's `momentum` or Adam's `betas[0]`.
fn has_momentum(c: &Value) -> bool {
    !c["momentum"].is_null()
}

#[test]
fn optax_piecewise_interpolate() {
    for name in [
        "optax__piecewise_interpolate_schedule_01",
        "optax__piecewise_interpolate_schedule_02",
    ] {
        let c = case(name);
        let a = &c["config"]["args"];
        let bs: Vec<(u64, f64)> = a["boundaries_and_scales"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap()))
            .collect();
        let anneal = anneal_of(a["interpolate_type"].as_str().unwrap());
        let s = PiecewiseInterpolate::from_scales(f(a, "init_value"), &bs, anneal).unwrap();
        compare(&c, "lr", |i| s.value(i as u64));
    }
}

#[test]
fn torch_one_cycle_with_momentum() {
    for name in [
        "torch__OneCycleLR_01",
        "torch__OneCycleLR_03",
        "torch__OneCycleLR_04",
        "torch__OneCycleLR_06_adamw",
    ] {
        let c = case(name);
        let a = &c["config"]["args"];
        let pct_start = f_or(a, "pct_start", 0.3);
        let phases = if a.get("three_phase").and_then(Value::as_bool) == Some(true) {
            Phases::Three {
                pct_final: 2.0 * pct_start,
            }
        } else {
            Phases::Two
        };
        let lr = OneCycle::new(f(a, "max_lr"), u(a, "total_steps"))
            .and_then(|s| {
                s.with_div_factors(
                    f_or(a, "div_factor", 25.0),
                    f_or(a, "final_div_factor", 1e4),
                )
            })
            .and_then(|s| s.with_pct_start(pct_start))
            .and_then(|s| s.with_phases(phases))
            .and_then(|s| s.with_anneal(anneal_of(a["anneal_strategy"].as_str().unwrap_or("cos"))))
            .unwrap();
        compare(&c, "lr", |i| lr.value(i as u64));
        assert!(has_momentum(&c), "{name}");
        let m = lr
            .momentum(
                f_or(a, "base_momentum", 0.85),
                f_or(a, "max_momentum", 0.95),
            )
            .unwrap();
        compare(&c, "momentum", |i| m.value(i as u64));
    }
}

#[test]
fn optax_onecycle() {
    let c = case("optax__cosine_onecycle_schedule_02");
    let a = &c["config"]["args"];
    let s = OneCycle::new(f(a, "peak_value"), u(a, "transition_steps"))
        .and_then(|s| {
            s.with_div_factors(
                f_or(a, "div_factor", 25.0),
                f_or(a, "final_div_factor", 1e4),
            )
        })
        .and_then(|s| s.with_pct_start(f_or(a, "pct_start", 0.3)))
        .and_then(|s| s.with_phase_ends(PhaseEnds::Floor))
        .unwrap();
    compare(&c, "lr", |i| s.value(i as u64));

    let c = case("optax__linear_onecycle_schedule_02");
    let a = &c["config"]["args"];
    let s = OneCycle::new(f(a, "peak_value"), u(a, "transition_steps"))
        .and_then(|s| {
            s.with_div_factors(
                f_or(a, "div_factor", 25.0),
                f_or(a, "final_div_factor", 1e4),
            )
        })
        .and_then(|s| s.with_pct_start(f_or(a, "pct_start", 0.3)))
        .and_then(|s| {
            s.with_phases(Phases::Three {
                pct_final: f_or(a, "pct_final", 0.85),
            })
        })
        .and_then(|s| s.with_anneal(Anneal::Linear))
        .and_then(|s| s.with_phase_ends(PhaseEnds::Floor))
        .unwrap();
    compare(&c, "lr", |i| s.value(i as u64));
}

fn torch_warm_restarts(c: &Value) -> CosineRestarts {
    let a = &c["config"]["args"];
    CosineRestarts::new(
        f(&c["config"]["optimizer"], "lr"),
        f_or(a, "eta_min", 0.0),
        f(a, "T_0"),
    )
    .and_then(|s| s.with_period_mult(f_or(a, "T_mult", 1.0)))
    .unwrap()
}

#[test]
fn torch_cosine_annealing_warm_restarts() {
    for name in [
        "torch__CosineAnnealingWarmRestarts_01",
        "torch__CosineAnnealingWarmRestarts_03",
        "torch__CosineAnnealingWarmRestarts_05",
    ] {
        let c = case(name);
        let s = torch_warm_restarts(&c);
        compare(&c, "lr", |i| s.value(i as u64));
    }
}

#[test]
fn torch_cosine_annealing_warm_restarts_fractional_epochs() {
    for name in [
        "torch__CosineAnnealingWarmRestarts_07_fractional",
        "torch__CosineAnnealingWarmRestarts_08_fractional",
    ] {
        let c = case(name);
        let s = torch_warm_restarts(&c);
        let epochs: Vec<f64> = c["config"]["driver"]["step_epochs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        // lr[0] is read before the first step(epoch); lr[k] after step(epochs[k - 1]).
        compare(&c, "lr", |i| {
            if i == 0 {
                s.value(0)
            } else {
                s.value_at(epochs[i - 1])
            }
        });
    }
}

#[test]
fn torch_cyclic_lr_with_momentum() {
    for name in [
        "torch__CyclicLR_02",
        "torch__CyclicLR_03",
        "torch__CyclicLR_04_no_momentum",
        "torch__CyclicLR_05_adam",
    ] {
        let c = case(name);
        let a = &c["config"]["args"];
        let up = u(a, "step_size_up");
        let down = a
            .get("step_size_down")
            .and_then(Value::as_u64)
            .unwrap_or(up);
        let amplitude = match a["mode"].as_str().unwrap_or("triangular") {
            "triangular" => Amplitude::Constant,
            "triangular2" => Amplitude::Geometric {
                gamma: 0.5,
                clock: AmplitudeClock::Cycle,
            },
            "exp_range" => Amplitude::Geometric {
                gamma: f_or(a, "gamma", 1.0),
                clock: AmplitudeClock::Step,
            },
            other => panic!("mode {other}"),
        };
        let lr = Cyclical::new(f(a, "base_lr"), f(a, "max_lr"), up, down)
            .and_then(|s| s.with_amplitude(amplitude))
            .unwrap();
        compare(&c, "lr", |i| lr.value(i as u64));
        let cycles = a
            .get("cycle_momentum")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        assert_eq!(has_momentum(&c), cycles, "{name}");
        if cycles {
            let m = lr
                .momentum(f_or(a, "base_momentum", 0.8), f_or(a, "max_momentum", 0.9))
                .unwrap();
            compare(&c, "momentum", |i| m.value(i as u64));
        }
    }
}

#[test]
fn torch_swalr() {
    for name in ["torch__SWALR_01", "torch__SWALR_02"] {
        let c = case(name);
        let a = &c["config"]["args"];
        let s = SwaAnneal::new(
            f(&c["config"]["optimizer"], "lr"),
            f(a, "swa_lr"),
            a.get("anneal_epochs").and_then(Value::as_u64).unwrap_or(10),
            anneal_of(a["anneal_strategy"].as_str().unwrap_or("cos")),
        )
        .unwrap();
        compare(&c, "lr", |i| s.value(i as u64));
    }
}

#[test]
fn optax_sgdr() {
    let c = case("optax__sgdr_schedule_02");
    let cycles = c["config"]["args"]["cosine_kwargs"].as_array().unwrap();
    let k = &cycles[0];
    assert!(
        cycles.iter().all(|x| x == k),
        "the mapping needs equal cycles"
    );
    let s = CosineRestarts::new(f(k, "peak_value"), f(k, "end_value"), f(k, "decay_steps"))
        .and_then(|s| s.with_warmup(f(k, "init_value"), f(k, "warmup_steps")))
        .and_then(|s| s.with_cycles(cycles.len() as u64))
        .unwrap();
    compare(&c, "lr", |i| s.value(i as u64));
}

#[test]
fn transformers_cosine_with_restarts() {
    let c = case("transformers__cosine_with_restarts_02");
    let a = &c["config"]["args"];
    let lr = f(&c["config"]["optimizer"], "lr");
    let (w, total) = (u(a, "num_warmup_steps"), u(a, "num_training_steps"));
    let n = a["scheduler_specific_kwargs"]["num_cycles"]
        .as_u64()
        .unwrap_or(1);
    let restarts = CosineRestarts::new(lr, 0.0, (total - w) as f64 / n as f64)
        .and_then(|s| s.with_cycles(n))
        .unwrap();
    let warmup =
        PiecewiseInterpolate::new(vec![(0.0, 0.0), (w as f64, lr)], Anneal::Linear.into()).unwrap();
    compare(&c, "lr", |i| {
        let i = i as u64;
        if i < w {
            warmup.value(i)
        } else {
            restarts.value(i - w)
        }
    });
}

#[test]
fn transformers_warmup_stable_decay() {
    for name in [
        "transformers__warmup_stable_decay_02_linear_linear",
        "transformers__warmup_stable_decay_03_linear_1sqrt",
        "transformers__warmup_stable_decay_04_cosine_cosine",
        "transformers__warmup_stable_decay_05_1sqrt_linear",
    ] {
        let c = case(name);
        let a = &c["config"]["args"];
        let k = &a["scheduler_specific_kwargs"];
        let lr = f(&c["config"]["optimizer"], "lr");
        let floor = lr * f_or(k, "min_lr_ratio", 0.0);
        let warmup = match k["warmup_type"].as_str().unwrap_or("linear") {
            "1-sqrt" => Anneal::ReverseSqrt,
            other => anneal_of(other),
        };
        let s = WarmupStableDecay::new(
            lr,
            floor,
            u(a, "num_warmup_steps"),
            u(a, "num_training_steps"),
            DecayLength::Steps(u(k, "num_decay_steps")),
        )
        .and_then(|s| s.with_init(floor))
        .and_then(|s| s.with_warmup_anneal(warmup))
        .and_then(|s| s.with_decay_anneal(anneal_of(k["decay_type"].as_str().unwrap_or("cosine"))))
        .unwrap();
        compare(&c, "lr", |i| s.value(i as u64));
    }
}

#[test]
fn timm_wsd() {
    // timm counts t_initial after the warmup here: the cooldown ends at warmup_t + t_initial.
    let c = case("timm__WSDLRScheduler_01");
    let a = &c["config"]["args"];
    let warmup = u(a, "warmup_t");
    let s = WarmupStableDecay::new(
        f(&c["config"]["optimizer"], "lr"),
        f(a, "lr_min"),
        warmup,
        warmup + u(a, "t_initial"),
        DecayLength::Steps(u(a, "decay_t")),
    )
    .and_then(|s| s.with_init(f(a, "warmup_lr_init")))
    .unwrap();
    compare(&c, "lr", |i| s.value(i as u64));
}

#[test]
fn timm_cosine_cycles() {
    for name in [
        "timm__CosineLRScheduler_04",
        "timm__CosineLRScheduler_08_updates",
        "timm__CosineLRScheduler_09_updates",
    ] {
        let c = case(name);
        let a = &c["config"]["args"];
        let lr = f(&c["config"]["optimizer"], "lr");
        let warmup = a.get("warmup_t").and_then(Value::as_u64).unwrap_or(0);
        let prefix = a
            .get("warmup_prefix")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let restarts = CosineRestarts::new(lr, f_or(a, "lr_min", 0.0), f(a, "t_initial"))
            .and_then(|s| s.with_period_mult(f_or(a, "cycle_mul", 1.0)))
            .and_then(|s| s.with_peak_decay(f_or(a, "cycle_decay", 1.0)))
            .and_then(|s| s.with_cycles(a.get("cycle_limit").and_then(Value::as_u64).unwrap_or(1)))
            .unwrap();
        let ramp = PiecewiseInterpolate::new(
            vec![(0.0, f_or(a, "warmup_lr_init", 0.0)), (warmup as f64, lr)],
            Anneal::Linear.into(),
        )
        .unwrap();
        compare(&c, "lr", |i| {
            let i = i as u64;
            if i < warmup {
                ramp.value(i)
            } else if prefix {
                restarts.value(i - warmup)
            } else {
                restarts.value(i)
            }
        });
    }
}
