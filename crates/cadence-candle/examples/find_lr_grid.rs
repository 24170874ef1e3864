//! Checks the learning-rate range test against the truth it approximates: the best
//! constant learning rate found by training over a grid.
//!
//! ```text
//! cargo run --release -p cadence-candle --example find_lr_grid -- \
//!     [--optimizer sgd|adamw|both] [--epochs 20] [--seeds 3] [--per-decade 4] [--json FILE]
//! ```
//!
//! For each optimizer on the digits MLP 64-128-10 (batch 64, standardised inputs, the fixed
//! 80/20 split), it trains with every constant learning rate of a log-spaced grid and
//! every seed (one thread per run, runs in parallel with rayon), and takes the grid-best
//! learning rate by mean test accuracy (ties: lower mean test loss), also by mean test
//! loss. For each seed it runs the range test (1e-5 to 10, 100 steps) on that seed's fresh
//! model and reports every suggestion, the recommendation and its ratio to the grid best.
//! Finally it trains the turnkey recipe — 2 warmup epochs then cosine to 0, peaked at the
//! recommendation — and compares its accuracy with the grid-best constant learning rate.
//!
//! Optimizers: `sgd` is heavy-ball momentum 0.9 with L2 weight decay 5e-4; `adamw` is
//! AdamW (0.9, 0.999) with decoupled weight decay 0.5 (the `cadence train` default).
//! The measured numbers are in `docs/find-lr.md`.

use std::sync::Arc;
use std::time::Instant;

use cadence::Schedule;
use cadence_candle::data::{Dataset, Scaling, digits_split};
use cadence_candle::lr_finder::{LrCurve, Method, RangeTest};
use cadence_candle::model::{Mlp, MlpConfig, Model};
use cadence_candle::train::{Progress, TrainConfig, Trainer, evaluate, single_threaded};
use cadence_candle::{AdamConfig, Algorithm, ScheduledOptimizer, SgdConfig};
use candle_core::Device;
use candle_nn::Optimizer;
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Sgd,
    AdamW,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sgd => "sgd-momentum",
            Kind::AdamW => "adamw",
        }
    }

    fn algorithm(self, lr: Arc<dyn Schedule>) -> Algorithm {
        match self {
            Kind::Sgd => SgdConfig::new(lr).momentum(0.9).weight_decay(5e-4).into(),
            Kind::AdamW => AdamConfig::adamw(lr).weight_decay(0.5).into(),
        }
    }

    /// The grid: `per_decade` points per decade over a range wide enough to show the
    /// optimum on both sides.
    fn grid(self, per_decade: u32) -> Vec<f64> {
        let (lo, hi) = match self {
            Kind::Sgd => (-3.0, 0.5),
            Kind::AdamW => (-4.0, -0.5),
        };
        let k = per_decade as f64;
        let n = ((hi - lo) * k).round() as i32;
        (0..=n).map(|i| 10f64.powf(lo + i as f64 / k)).collect()
    }
}

#[derive(Debug, Clone, Copy)]
struct Outcome {
    accuracy: f64,
    loss: f64,
}

fn train(
    kind: Kind,
    lr: Arc<dyn Schedule>,
    seed: u64,
    epochs: u64,
    train: &Dataset,
    test: &Dataset,
) -> Outcome {
    single_threaded(|| {
        let model = Mlp::new(&MlpConfig::default(), seed, &Device::Cpu).expect("model");
        let opt = ScheduledOptimizer::new(model.vars(), kind.algorithm(lr)).expect("optimizer");
        let config = TrainConfig::new(epochs, 64)
            .expect("config")
            .with_seed(seed)
            .with_progress(Progress::Hidden);
        Trainer::new(&model, opt, train, config)
            .expect("trainer")
            .run()
            .expect("run");
        let e = evaluate(&model, test, &Device::Cpu).expect("evaluate");
        Outcome {
            accuracy: if e.loss.is_finite() { e.accuracy } else { 0.0 },
            loss: if e.loss.is_finite() {
                e.loss
            } else {
                f64::INFINITY
            },
        }
    })
    .expect("thread pool")
}

fn range_test(kind: Kind, seed: u64, train: &Dataset) -> LrCurve {
    single_threaded(|| {
        let model = Mlp::new(&MlpConfig::default(), seed, &Device::Cpu).expect("model");
        let opt = ScheduledOptimizer::new(model.vars(), kind.algorithm(Arc::new(0.0)))
            .expect("optimizer");
        RangeTest::new(1e-5, 10.0, 100)
            .expect("range")
            .with_seed(seed)
            .run(&model, &opt, train)
            .expect("range test")
    })
    .expect("thread pool")
}

fn warmup_cosine(peak: f64, epochs: u64, per_epoch: u64) -> Arc<dyn Schedule> {
    let total = epochs * per_epoch;
    let warmup = (2 * per_epoch).min(total / 2);
    let text = format!(
        "warmup(linear, {warmup}, 0) >> cosine(init={peak}, end=0, decay_steps={})",
        (total - warmup).max(1)
    );
    Arc::new(cadence::text::parse(&text).expect("schedule"))
}

fn geomean(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn main() {
    // One thread per run: candle's gemm runs inline (see `train::single_threaded`).
    // SAFETY: the first statement of main, before any other thread is started.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let epochs: u64 = get("--epochs").map_or(20, |v| v.parse().expect("--epochs"));
    let seeds: u64 = get("--seeds").map_or(3, |v| v.parse().expect("--seeds"));
    let per_decade: u32 = get("--per-decade").map_or(4, |v| v.parse().expect("--per-decade"));
    let kinds = match get("--optimizer").as_deref() {
        Some("sgd") => vec![Kind::Sgd],
        Some("adamw") => vec![Kind::AdamW],
        _ => vec![Kind::Sgd, Kind::AdamW],
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let (train_set, test_set) = digits_split(Scaling::Standardize).expect("digits");
    let per_epoch = (train_set.len() as u64).div_ceil(64);
    let seed_list: Vec<u64> = (0..seeds).collect();
    let mut json = Vec::new();
    println!(
        "digits MLP 64-128-10, batch 64, {epochs} epochs, seeds {seed_list:?}, {threads} threads"
    );
    for kind in kinds {
        let start = Instant::now();
        let grid = kind.grid(per_decade);
        let jobs: Vec<(usize, u64)> = (0..grid.len())
            .flat_map(|i| seed_list.iter().map(move |&s| (i, s)))
            .collect();
        let outcomes: Vec<Outcome> = pool.install(|| {
            jobs.par_iter()
                .map(|&(i, s)| train(kind, Arc::new(grid[i]), s, epochs, &train_set, &test_set))
                .collect()
        });
        let curves: Vec<LrCurve> = pool.install(|| {
            seed_list
                .par_iter()
                .map(|&s| range_test(kind, s, &train_set))
                .collect()
        });
        println!("\n== {} ==", kind.name());
        println!("{:>10}  {:>9}  {:>9}", "lr", "accuracy", "loss");
        let mut rows = Vec::new();
        for (i, &lr) in grid.iter().enumerate() {
            let of: Vec<&Outcome> = jobs
                .iter()
                .zip(&outcomes)
                .filter(|((j, _), _)| *j == i)
                .map(|(_, o)| o)
                .collect();
            let acc = mean(&of.iter().map(|o| o.accuracy).collect::<Vec<_>>());
            let loss = mean(&of.iter().map(|o| o.loss).collect::<Vec<_>>());
            println!("{lr:>10.3e}  {:>8.2}%  {loss:>9.4}", 100.0 * acc);
            rows.push((lr, acc, loss));
        }
        let best_acc = rows
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.total_cmp(&a.2)))
            .expect("grid");
        let best_loss = rows
            .iter()
            .copied()
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .expect("grid");
        println!(
            "grid best by accuracy: lr {:.3e} ({:.2}%); by loss: lr {:.3e} (loss {:.4})",
            best_acc.0,
            100.0 * best_acc.1,
            best_loss.0,
            best_loss.2
        );
        let mut by_method = Vec::new();
        for m in Method::ALL {
            let lrs: Vec<f64> = curves
                .iter()
                .filter_map(|c| c.suggestion(m).map(|s| s.lr))
                .collect();
            if lrs.len() == curves.len() {
                let g = geomean(&lrs);
                println!(
                    "{:>10}: per seed {:?}, geometric mean {g:.3e}, / grid best (acc) {:.2}, / grid best (loss) {:.2}",
                    m.to_string(),
                    lrs.iter().map(|l| format!("{l:.3e}")).collect::<Vec<_>>(),
                    g / best_acc.0,
                    g / best_loss.0
                );
                by_method.push(serde_json::json!({"method": m, "per_seed": lrs, "geomean": g}));
            }
        }
        for (s, c) in seed_list.iter().zip(&curves) {
            if !c.warnings.is_empty() {
                println!(
                    "seed {s} warnings: {}",
                    c.warnings
                        .iter()
                        .map(|w| w.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
        }
        let recommended: Vec<Option<f64>> = curves.iter().map(LrCurve::recommended).collect();
        let auto: Vec<Outcome> = pool.install(|| {
            seed_list
                .par_iter()
                .zip(&recommended)
                .filter_map(|(&s, r)| {
                    r.map(|peak| {
                        train(
                            kind,
                            warmup_cosine(peak, epochs, per_epoch),
                            s,
                            epochs,
                            &train_set,
                            &test_set,
                        )
                    })
                })
                .collect()
        });
        let rec: Vec<f64> = recommended.iter().flatten().copied().collect();
        let auto_acc = mean(&auto.iter().map(|o| o.accuracy).collect::<Vec<_>>());
        if !rec.is_empty() {
            let g = geomean(&rec);
            println!(
                "recommended (minimum/10): geometric mean {g:.3e}; ratio to grid best (acc) {:.2}, (loss) {:.2}",
                g / best_acc.0,
                g / best_loss.0
            );
            println!(
                "auto recipe (warmup 2 epochs + cosine, peak = recommendation): {:.2}% vs grid best {:.2}% ({:+.2} points), {} of {} seeds",
                100.0 * auto_acc,
                100.0 * best_acc.1,
                100.0 * (auto_acc - best_acc.1),
                auto.len(),
                seeds
            );
        } else {
            println!("no recommendation on any seed");
        }
        println!(
            "{} runs in {:.1} s",
            jobs.len() + auto.len(),
            start.elapsed().as_secs_f64()
        );
        json.push(serde_json::json!({
            "optimizer": kind.name(),
            "epochs": epochs,
            "seeds": seed_list,
            "grid": rows.iter().map(|r| serde_json::json!({"lr": r.0, "accuracy": r.1, "loss": r.2})).collect::<Vec<_>>(),
            "grid_best_accuracy": {"lr": best_acc.0, "accuracy": best_acc.1},
            "grid_best_loss": {"lr": best_loss.0, "loss": best_loss.2},
            "suggestions": by_method,
            "recommended": rec,
            "auto_accuracy": auto.iter().map(|o| o.accuracy).collect::<Vec<_>>(),
        }));
    }
    if let Some(path) = get("--json") {
        std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json"))
            .expect("write --json");
    }
}
