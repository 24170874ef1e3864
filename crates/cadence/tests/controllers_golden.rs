//! Golden tests: the plateau controller against PyTorch's `ReduceLROnPlateau` and timm's
//! `PlateauLRScheduler`, recorded in `crates/cadence-compat/tests/golden` (see the files' `notes` for the
//! recording convention), and the composition of warmup + cosine + plateau.

mod common;
use common::golden_dir;

use cadence::controllers::{
    Controller, Decision, Greedy, GreedyConfig, Mode, Observation, PlateauConfig, ReduceOnPlateau,
    Threshold,
};
use cadence::testing::close;
use cadence::{Anneal, Cosine, HyperParams, Linear, Runtime, Schedule, ScheduleExt};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = golden_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn mode(v: &Value) -> Mode {
    match v.as_str().unwrap() {
        "min" => Mode::Min,
        "max" => Mode::Max,
        other => panic!("mode {other}"),
    }
}

/// Tolerance: the controller stores a scale and multiplies it by the base LR, PyTorch
/// multiplies the LR repeatedly; the two agree to a few ulps.
const REL: f64 = 1e-12;

#[test]
fn reproduces_torch_reduce_lr_on_plateau() {
    let mut files: Vec<String> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("torch__ReduceLROnPlateau_"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "golden cases missing: {files:?}");
    for file in files {
        let case = load(&file);
        let args = &case["config"]["args"];
        let base = case["config"]["optimizer"]["lr"].as_f64().unwrap();
        let threshold = args["threshold"].as_f64().unwrap();
        let config = PlateauConfig {
            mode: mode(&args["mode"]),
            factor: args["factor"].as_f64().unwrap(),
            patience: args["patience"].as_u64().unwrap(),
            threshold: match args["threshold_mode"].as_str().unwrap() {
                "rel" => Threshold::Rel(threshold),
                _ => Threshold::Abs(threshold),
            },
            cooldown: args["cooldown"].as_u64().unwrap(),
            min_value: args["min_lr"].as_f64().unwrap(),
            eps: args["eps"].as_f64().unwrap(),
            ..Default::default()
        };
        let mut plateau = ReduceOnPlateau::new(config).unwrap();
        let metrics = floats(&case["config"]["driver"]["metrics"]);
        let lr = floats(&case["lr"]);
        let mut cuts = 0;
        for (i, (&m, &expected)) in metrics.iter().zip(&lr).enumerate() {
            let got = base * plateau.scale();
            assert!(
                close(got, expected, REL),
                "{file} step {i}: {got} vs {expected}"
            );
            let decision = plateau
                .observe(Observation::new(i as u64 + 1, m).with_base(base))
                .unwrap();
            // A decision to cut happens exactly where torch's LR changes.
            if let Some(&next) = lr.get(i + 1) {
                let torch_cut = next != expected;
                assert_eq!(
                    matches!(decision, Decision::Rescaled { .. }),
                    torch_cut,
                    "{file} decision at {i}"
                );
                cuts += usize::from(torch_cut);
            }
        }
        assert!(cuts > 0, "{file}: a case without a cut tests nothing");
    }
}

/// timm's `PlateauLRScheduler` is torch's rule behind a linear warmup during which the
/// metrics are not passed on: the same controller on a warmup base schedule, fed only
/// after the warmup.
#[test]
fn reproduces_timm_plateau_scheduler() {
    let case = load("timm__PlateauLRScheduler_01.json");
    let args = &case["config"]["args"];
    let base_lr = case["config"]["optimizer"]["lr"].as_f64().unwrap();
    let warmup_t = args["warmup_t"].as_u64().unwrap();
    let warmup_init = args["warmup_lr_init"].as_f64().unwrap();
    let base = Linear::new(warmup_init, base_lr, warmup_t).unwrap();
    let mut plateau = ReduceOnPlateau::new(PlateauConfig {
        mode: mode(&args["mode"]),
        factor: args["decay_rate"].as_f64().unwrap(),
        patience: args["patience_t"].as_u64().unwrap(),
        threshold: Threshold::Rel(args["threshold"].as_f64().unwrap()),
        cooldown: args["cooldown_t"].as_u64().unwrap(),
        min_value: args["lr_min"].as_f64().unwrap(),
        ..Default::default()
    })
    .unwrap();
    let metrics = floats(&case["config"]["driver"]["metrics"]);
    let lr = floats(&case["lr"]);
    for (i, (&m, &expected)) in metrics.iter().zip(&lr).enumerate() {
        let step = i as u64;
        let got = base.value(step) * plateau.scale();
        assert!(close(got, expected, REL), "step {i}: {got} vs {expected}");
        // timm: scheduler.step(epoch = i + 1, metric) passes the metric on only after the warmup.
        if step + 1 > warmup_t {
            plateau
                .observe(Observation::new(step + 1, m).with_base(base.value(step + 1)))
                .unwrap();
        }
    }
    assert!(plateau.scale() < 1.0);
}

/// transformers' `GreedyLR` (`get_scheduler("greedy")`): raises as well as cuts, so it is
/// the [`Greedy`] controller, not the plateau rule; same recording convention as torch.
#[test]
fn reproduces_transformers_greedy() {
    let case = load("transformers__greedy_01.json");
    let args = &case["config"]["args"]["scheduler_specific_kwargs"];
    let base = case["config"]["optimizer"]["lr"].as_f64().unwrap();
    let get = |k: &str, default: f64| args.get(k).and_then(Value::as_f64).unwrap_or(default);
    let defaults = GreedyConfig::default();
    let mut greedy = Greedy::new(GreedyConfig {
        mode: mode(&args["mode"]),
        factor: get("factor", defaults.factor),
        patience: args["patience"].as_u64().unwrap(),
        min_value: get("min_lr", defaults.min_value),
        max_value: get("max_lr", defaults.max_value),
        ..defaults
    })
    .unwrap();
    let metrics = floats(&case["config"]["driver"]["metrics"]);
    let lr = floats(&case["lr"]);
    let (mut raises, mut cuts) = (0, 0);
    for (i, (&m, &expected)) in metrics.iter().zip(&lr).enumerate() {
        let got = base * greedy.scale();
        assert!(close(got, expected, REL), "step {i}: {got} vs {expected}");
        let decision = greedy
            .observe(Observation::new(i as u64 + 1, m).with_base(base))
            .unwrap();
        if let Some(&next) = lr.get(i + 1) {
            assert_eq!(
                matches!(decision, Decision::Rescaled { .. }),
                next != expected,
                "decision at {i}"
            );
            raises += usize::from(next > expected);
            cuts += usize::from(next < expected);
        }
    }
    assert!(raises > 0 && cuts > 0, "the case exercises both directions");
}

/// A linear warmup from 0 into a cosine decay, from the core's own family and combinator.
fn warmup_cosine(peak: f64, warmup_steps: u64, decay_steps: u64, end: f64) -> impl Schedule {
    Cosine::new(peak, end, decay_steps)
        .unwrap()
        .warmup(Anneal::Linear, warmup_steps, 0.0)
        .unwrap()
}

#[test]
fn warmup_cosine_and_plateau_compose() {
    let (peak, warmup, decay) = (1e-3, 10, 90);
    let reference = warmup_cosine(peak, warmup, decay, 1e-5);
    let hp = HyperParams::new()
        .with("lr", warmup_cosine(peak, warmup, decay, 1e-5))
        .unwrap();
    // eps = 0: torch's minimum change (1e-8) would swallow the late cuts of an LR this small.
    let plateau = ReduceOnPlateau::new(PlateauConfig {
        factor: 0.5,
        patience: 3,
        eps: 0.0,
        ..Default::default()
    })
    .unwrap();
    let mut rt = Runtime::new(hp).with_controller("lr", plateau).unwrap();
    // The loss improves until step 40, then stalls.
    let loss = |step: u64| {
        if step <= 40 {
            2.0 - 0.02 * step as f64
        } else {
            1.2
        }
    };
    let mut lrs = vec![rt.values()["lr"]];
    let mut cut_at = vec![];
    for _ in 0..100 {
        rt.advance();
        if let Decision::Rescaled { .. } = rt.observe(loss(rt.step())).unwrap() {
            cut_at.push(rt.step());
        }
        lrs.push(rt.values()["lr"]);
    }
    // Warmup visible: a linear rise to the peak.
    for t in 0..=10 {
        assert!(
            close(lrs[t as usize], reference.value(t), 1e-15),
            "warmup at {t}"
        );
    }
    assert!(lrs[1] < lrs[5] && lrs[5] < lrs[10]);
    // Cosine visible before the plateau acts: exactly the base schedule, decreasing.
    for t in 10..44 {
        assert!(
            close(lrs[t as usize], reference.value(t), 1e-15),
            "cosine at {t}"
        );
    }
    assert!(lrs[20] < lrs[11]);
    // Plateau visible: first cut after 4 stalled observations (41..44), then every 4.
    assert_eq!(
        cut_at,
        [44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84, 88, 92, 96, 100]
    );
    // Both effects at once: the cosine shape times the plateau's scale.
    for (t, &lr) in lrs.iter().enumerate().skip(44) {
        let cuts = cut_at.iter().filter(|&&c| c <= t as u64).count() as i32;
        let expected = reference.value(t as u64) * 0.5f64.powi(cuts);
        assert!(close(lr, expected, 1e-12), "step {t}: {lr} vs {expected}");
    }
    assert!(lrs[46] < lrs[45] && close(lrs[45] / reference.value(45), 0.5, 1e-15));
}
