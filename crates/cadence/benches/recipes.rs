//! Benchmarks of `Schedule::value` for the recipe families (knot paths, one-cycle, SGDR,
//! cyclical, WSD, SWA, noise).

#[cfg(unix)]
#[path = "clock.rs"]
mod clock;
#[path = "cpu_time.rs"]
mod cpu_time;
#[path = "steps.rs"]
mod steps;
use cpu_time::ThreadCpuTime;
use steps::Steps;

use cadence::{
    Amplitude, AmplitudeClock, Anneal, CosineRestarts, Cyclical, DecayLength, Noise, NoiseKind,
    OneCycle, Phases, PiecewiseInterpolate, Schedule, SwaAnneal, WarmupStableDecay,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench<S: Schedule>(g: &mut criterion::BenchmarkGroup<'_, ThreadCpuTime>, name: &str, s: &S) {
    let steps = Steps::walk(2_000_000);
    g.bench_function(name, |b| b.iter(steps.cycle(|t| s.value(t))));
}

fn recipes(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("recipe");
    let knots: Vec<(f64, f64)> = (0..16)
        .map(|i| (f64::from(i) * 1e5, 1.0 / f64::from(i + 1)))
        .collect();
    bench(
        &mut g,
        "piecewise_interpolate_16",
        &PiecewiseInterpolate::new(knots, Anneal::Cosine.into()).unwrap(),
    );
    let one_cycle = OneCycle::new(0.1, 1_000_000)
        .and_then(|s| s.with_phases(Phases::Three { pct_final: 0.6 }))
        .unwrap();
    bench(&mut g, "one_cycle", &one_cycle);
    let sgdr = CosineRestarts::new(0.1, 1e-5, 1_000.0)
        .and_then(|s| s.with_period_mult(2.0))
        .and_then(|s| s.with_peak_decay(0.9))
        .and_then(|s| s.with_warmup(0.0, 100.0))
        .unwrap();
    bench(&mut g, "cosine_restarts", &sgdr);
    // PyTorch's default T_mult = 1: equal periods.
    let equal = CosineRestarts::new(0.1, 1e-5, 10_000.0).unwrap();
    bench(&mut g, "cosine_restarts_equal", &equal);
    let cyclical = Cyclical::new(1e-4, 1e-2, 2_000, 2_000)
        .and_then(|s| {
            s.with_amplitude(Amplitude::Geometric {
                gamma: 0.5,
                clock: AmplitudeClock::Cycle,
            })
        })
        .unwrap();
    bench(&mut g, "cyclical", &cyclical);
    bench(
        &mut g,
        "warmup_stable_decay",
        &WarmupStableDecay::new(1e-3, 0.0, 10_000, 1_000_000, DecayLength::Fraction(0.2)).unwrap(),
    );
    bench(
        &mut g,
        "swa_anneal",
        &SwaAnneal::new(0.5, 0.05, 1_000_000, Anneal::Cosine).unwrap(),
    );
    let noise = Noise::new(
        one_cycle,
        42,
        NoiseKind::Normal {
            std: 1.0,
            clip: 0.67,
        },
    )
    .unwrap();
    bench(&mut g, "noise(one_cycle)", &noise);
    // The noise factor's own cost: over a constant.
    let timm_noise = NoiseKind::Normal {
        std: 1.0,
        clip: 0.67,
    };
    bench(
        &mut g,
        "noise(constant)",
        &Noise::new(0.1, 42, timm_noise).unwrap(),
    );
    for (name, kind) in [
        (
            "noise_sample_normal_wide",
            NoiseKind::Normal {
                std: 0.5,
                clip: 1.0,
            },
        ),
        (
            "noise_sample_normal_narrow",
            NoiseKind::Normal {
                std: 1.0,
                clip: 0.67,
            },
        ),
        ("noise_sample_uniform", NoiseKind::Uniform { pct: 0.5 }),
    ] {
        let steps = Steps::walk(u64::MAX);
        g.bench_function(name, |b| {
            b.iter(steps.cycle(|t| kind.sample(black_box(42), t)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = recipes
}
criterion_main!(benches);
