//! Benchmarks of `Schedule::value` for every family and for composites.
//!
//! Adding a family or combinator case is one `bench(...)` line in `families` or
//! `combinators`. Each case evaluates at pseudo-random steps spread over twice the
//! schedule's horizon, so branches on both sides of every boundary are taken.

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
    Anneal, Constant, Cosine, DecayMode, Exponential, Expr, InverseSqrt, InverseTime, Join, Linear,
    MultiStep, Overrun, PiecewiseConstant, Polynomial, Schedule, ScheduleExt, ScheduleSpec, Step,
    Tanh, WarmupMode,
};
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};

/// The horizon of the benchmarked schedules, in steps.
const HORIZON: u64 = 1_000_000;

/// Benchmarks `schedule.value(t)` at steps walking over `[0, 2 * HORIZON)`.
fn bench<S: Schedule>(g: &mut BenchmarkGroup<'_, ThreadCpuTime>, name: &str, schedule: S) {
    let steps = Steps::walk(2 * HORIZON);
    g.bench_function(name, |b| b.iter(steps.cycle(|t| schedule.value(t))));
}

fn families(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("family");
    bench(&mut g, "constant", Constant::new(0.1).unwrap());
    bench(&mut g, "linear", Linear::new(1.0, 0.0, HORIZON).unwrap());
    let milestones: Vec<u64> = (1..=8).map(|k| k * HORIZON / 5).collect();
    let pairs: Vec<(u64, f64)> = milestones.iter().map(|&m| (m, 0.5)).collect();
    let polynomial = Polynomial::new(1.0, 0.0, 2.0, HORIZON).unwrap();
    bench(&mut g, "polynomial", polynomial.with_begin(1_000));
    let exponential = Exponential::new(1.0, 0.5, HORIZON / 10).unwrap();
    bench(&mut g, "exponential", exponential.with_end(1e-3).unwrap());
    let staircase = exponential.with_mode(DecayMode::Staircase);
    bench(&mut g, "exponential_staircase", staircase);
    bench(&mut g, "step", Step::new(1.0, 0.5, 1e5).unwrap());
    bench(
        &mut g,
        "multi_step_8",
        MultiStep::new(1.0, 0.5, milestones).unwrap(),
    );
    bench(
        &mut g,
        "piecewise_constant_8",
        PiecewiseConstant::new(1.0, pairs).unwrap(),
    );
    bench(
        &mut g,
        "inverse_time",
        InverseTime::new(1.0, 0.5, 1_000).unwrap(),
    );
    bench(
        &mut g,
        "inverse_sqrt",
        InverseSqrt::new(1.0, 4_000.0).unwrap(),
    );
    bench(&mut g, "cosine", Cosine::new(1.0, 0.0, HORIZON).unwrap());
    let k_cosine = Cosine::new(1.0, 0.0, HORIZON)
        .unwrap()
        .with_k_decay(2.0)
        .unwrap();
    bench(
        &mut g,
        "cosine_continue_k",
        k_cosine.with_overrun(Overrun::Continue),
    );
    bench(&mut g, "tanh", Tanh::new(1.0, 0.0, HORIZON).unwrap());
    // `Expr`: PyTorch `LambdaLR` lambdas (a staircase, a decay factor to the step, a
    // warmup, a linear decay written as a conditional).
    for (name, source) in [
        ("expr", "0.1 * 0.5 ** (step // 1000)"),
        ("expr_decay", "lambda epoch: 0.95 ** (epoch / 1000)"),
        ("expr_warmup", "lambda step: min(1.0, (step + 1) / 1000)"),
        (
            "expr_linear_if",
            "lambda e: 1 - e / 1000000 if e < 1000000 else 0.0",
        ),
    ] {
        bench(&mut g, name, Expr::parse(source).unwrap());
    }
    g.finish();
}

fn decay() -> Linear {
    Linear::new(1.0, 0.1, HORIZON).unwrap()
}

fn combinators(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("combinator");
    bench(
        &mut g,
        "warmup",
        decay().warmup(Anneal::Cosine, 1_000, 0.0).unwrap(),
    );
    bench(&mut g, "join", decay().then(HORIZON / 2, decay()).unwrap());
    bench(&mut g, "scale", decay().scale(0.5).unwrap());
    bench(&mut g, "clamp", decay().clamp(0.2, 0.8).unwrap());
    bench(
        &mut g,
        "product",
        cadence::Product::new(vec![decay(), decay()]).unwrap(),
    );
    bench(&mut g, "delay", decay().delay(1_000));
    bench(&mut g, "repeat", decay().repeat(HORIZON / 3).unwrap());
    bench(
        &mut g,
        "restarts",
        decay().restarts(HORIZON / 3, 0.5, Some(2)).unwrap(),
    );
    bench(
        &mut g,
        "per_epoch",
        Linear::new(1.0, 0.0, 100)
            .unwrap()
            .per_epoch(HORIZON / 100)
            .unwrap(),
    );
    bench(
        &mut g,
        "on_fraction",
        Linear::new(1.0, 0.0, 1)
            .unwrap()
            .on_fraction(HORIZON)
            .unwrap(),
    );
    bench(&mut g, "accumulate", decay().accumulate(4).unwrap());
    g.finish();
}

/// The depth-4 composite: a floor around a cosine warmup into a join of two decays.
/// (Swap the `Linear` pieces for `Cosine` once that family is on the branch.)
fn composite_generic() -> impl Schedule {
    let pieces = vec![
        Linear::new(1.0, 0.3, HORIZON / 2).unwrap(),
        Linear::new(0.3, 0.0, HORIZON / 2).unwrap(),
    ];
    Join::new(vec![HORIZON / 2], pieces)
        .unwrap()
        .warmup(Anneal::Cosine, 1_000, 0.0)
        .unwrap()
        .floor(1e-3)
        .unwrap()
}

/// The same composite as a serialisable [`ScheduleSpec`] tree.
fn composite_spec() -> ScheduleSpec {
    let join = ScheduleSpec::from(Linear::new(1.0, 0.3, HORIZON / 2).unwrap())
        .then(HORIZON / 2, Linear::new(0.3, 0.0, HORIZON / 2).unwrap())
        .unwrap();
    let warm = ScheduleSpec::from(
        cadence::Warmup::new(Anneal::Cosine, 1_000, 0.0, WarmupMode::Prefix, join).unwrap(),
    );
    ScheduleSpec::from(warm.floor(1e-3).unwrap())
}

fn deep_join<S: Schedule>(piece: impl Fn(u64) -> S) -> Join<S> {
    let bounds = (1..100).map(|i| i * HORIZON / 100).collect();
    Join::new(bounds, (0..100).map(piece).collect()).unwrap()
}

fn composites(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("composite");
    bench(&mut g, "depth4_generic", composite_generic());
    bench(&mut g, "depth4_spec", composite_spec());
    let piece = |i: u64| Linear::new(1.0 / (i + 1) as f64, 0.0, HORIZON / 100).unwrap();
    bench(&mut g, "join100_generic", deep_join(piece));
    bench(
        &mut g,
        "join100_spec",
        ScheduleSpec::from(deep_join(|i| ScheduleSpec::from(piece(i)))),
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = families, combinators, composites
}
criterion_main!(benches);
