//! Benchmarks of `Schedule::value` for every family and for composites.

use cadence::{
    Cosine, DecayMode, Exponential, InverseSqrt, InverseTime, Linear, MultiStep, Overrun,
    PiecewiseConstant, Polynomial, Schedule, Step, Tanh,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn families(c: &mut Criterion) {
    let mut g = c.benchmark_group("family");
    let linear = Linear::new(1.0, 0.0, 1_000_000).unwrap();
    g.bench_function("linear", |b| {
        let mut t = 0u64;
        b.iter(|| {
            t = t.wrapping_add(7919) % 2_000_000;
            black_box(linear.value(black_box(t)))
        })
    });
    g.finish();
}

/// Evaluates `schedule` at pseudo-random steps in `[0, 2e6)`.
fn bench_one(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    schedule: &dyn Schedule,
) {
    g.bench_function(name, |b| {
        let mut t = 0u64;
        b.iter(|| {
            t = t.wrapping_add(7919) % 2_000_000;
            black_box(schedule.value(black_box(t)))
        })
    });
}

fn decay_families(c: &mut Criterion) {
    let mut g = c.benchmark_group("family");
    let milestones: Vec<u64> = (1..=8).map(|k| k * 200_000).collect();
    let pairs: Vec<(u64, f64)> = milestones.iter().map(|&m| (m, 0.5)).collect();
    let cases: Vec<(&str, Box<dyn Schedule>)> = vec![
        (
            "polynomial",
            Box::new(
                Polynomial::new(1.0, 0.0, 2.0, 1_000_000)
                    .unwrap()
                    .with_begin(1_000),
            ),
        ),
        (
            "exponential",
            Box::new(
                Exponential::new(1.0, 0.5, 100_000)
                    .unwrap()
                    .with_end(1e-3)
                    .unwrap(),
            ),
        ),
        (
            "exponential_staircase",
            Box::new(
                Exponential::new(1.0, 0.5, 100_000)
                    .unwrap()
                    .with_mode(DecayMode::Staircase),
            ),
        ),
        ("step", Box::new(Step::new(1.0, 0.5, 100_000.0).unwrap())),
        (
            "multi_step_8",
            Box::new(MultiStep::new(1.0, 0.5, milestones).unwrap()),
        ),
        (
            "piecewise_constant_8",
            Box::new(PiecewiseConstant::new(1.0, pairs).unwrap()),
        ),
        (
            "inverse_time",
            Box::new(InverseTime::new(1.0, 0.5, 1_000).unwrap()),
        ),
        (
            "inverse_sqrt",
            Box::new(InverseSqrt::new(1.0, 4_000.0).unwrap()),
        ),
        (
            "cosine",
            Box::new(Cosine::new(1.0, 0.0, 1_000_000).unwrap()),
        ),
        (
            "cosine_continue_k",
            Box::new(
                Cosine::new(1.0, 0.0, 1_000_000)
                    .unwrap()
                    .with_k_decay(2.0)
                    .unwrap()
                    .with_overrun(Overrun::Continue),
            ),
        ),
        ("tanh", Box::new(Tanh::new(1.0, 0.0, 1_000_000).unwrap())),
    ];
    for (name, schedule) in &cases {
        bench_one(&mut g, name, schedule.as_ref());
    }
    g.finish();
}

criterion_group!(benches, families, decay_families);
criterion_main!(benches);
