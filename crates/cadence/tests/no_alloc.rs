//! Evaluating a schedule never allocates: every registered kind and composites are built
//! first, then `value` and `value_at` run at the telling steps while a counting global
//! allocator watches this thread.

use cadence::testing::telling_steps;
use cadence::{
    Accumulate, Anneal, Clamp, Constant, Cosine, CosineRestarts, CumulativeProduct, Cycles,
    Cyclical, DecayLength, Delay, Exponential, Expr, InverseSqrt, InverseTime, Join, Linear,
    MultiStep, Noise, NoiseKind, OnFraction, OneCycle, Overrun, PerEpoch, PiecewiseConstant,
    PiecewiseInterpolate, Polynomial, Product, Repeat, Restarts, Scale, Schedule, ScheduleExt,
    ScheduleSpec, Step, SwaAnneal, Tanh, Warmup, WarmupMode, WarmupStableDecay,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting allocations made by the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; the counter is a const-initialised
// thread local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn spec(s: impl Into<ScheduleSpec>) -> ScheduleSpec {
    s.into()
}

fn leaf() -> ScheduleSpec {
    spec(Linear::new(1.0, 0.1, 100).unwrap())
}

/// One spec per registered kind. Adding a family or combinator: add one line here.
fn every_kind() -> Vec<ScheduleSpec> {
    vec![
        spec(Constant::new(0.5).unwrap()),
        leaf(),
        spec(Warmup::new(Anneal::Exponential, 10, 0.01, WarmupMode::Overlay, leaf()).unwrap()),
        spec(Join::new(vec![50, 150], vec![leaf(), leaf(), leaf()]).unwrap()),
        spec(Product::new(vec![leaf(), leaf()]).unwrap()),
        spec(Scale::new(0.5, leaf()).unwrap()),
        spec(Clamp::new(Some(0.2), Some(0.9), leaf()).unwrap()),
        spec(Delay::new(7, leaf()).unwrap()),
        spec(Repeat::new(30, leaf()).unwrap()),
        spec(Restarts::new(100, 0.5, Some(3), leaf()).unwrap()),
        spec(
            Cycles::new(1.0, 0.1, 10.0, spec(Cosine::new(1.0, 0.0, 1).unwrap()))
                .unwrap()
                .with_period_mult(2.0)
                .unwrap(),
        ),
        spec(PerEpoch::new(9, leaf()).unwrap()),
        spec(OnFraction::new(1_000, spec(Linear::new(1.0, 0.0, 1).unwrap())).unwrap()),
        spec(Accumulate::new(4, leaf()).unwrap()),
        spec(Polynomial::new(1.0, 0.0, 2.0, 100).unwrap().with_begin(5)),
        spec(
            Exponential::new(1.0, 0.5, 10)
                .unwrap()
                .with_end(0.01)
                .unwrap(),
        ),
        spec(Step::new(1.0, 0.5, 2.5).unwrap()),
        spec(MultiStep::new(1.0, 0.5, vec![10, 10, 50]).unwrap()),
        spec(PiecewiseConstant::new(1.0, vec![(10, 0.5), (50, 0.1)]).unwrap()),
        spec(InverseTime::new(1.0, 0.5, 10).unwrap()),
        spec(InverseSqrt::new(1.0, 100.0).unwrap()),
        spec(
            Cosine::new(1.0, 0.0, 100)
                .unwrap()
                .with_overrun(Overrun::Continue),
        ),
        spec(Tanh::new(1.0, 0.0, 100).unwrap()),
        spec(
            Expr::parse(
                "lambda e: min(1.0, (e + 1) / 10) * 0.95 ** (e // 7) if 0 <= e < 50 or not e \
                 else max(0.1, 1 - e / 1000) * 0.5 ** (e / 100) + (e % 3 and floor(e / 7))",
            )
            .unwrap(),
        ),
        spec(
            PiecewiseInterpolate::from_scales(1.0, &[(10, 0.5), (50, 0.1)], Anneal::Cosine)
                .unwrap(),
        ),
        spec(OneCycle::new(1.0, 100).unwrap()),
        spec(
            CosineRestarts::new(1.0, 0.0, 10.0)
                .unwrap()
                .with_period_mult(1.5)
                .unwrap(),
        ),
        spec(Cyclical::new(0.1, 1.0, 10, 20).unwrap()),
        spec(WarmupStableDecay::new(1.0, 0.01, 10, 100, DecayLength::Fraction(0.2)).unwrap()),
        spec(SwaAnneal::new(1.0, 0.1, 10, Anneal::Cosine).unwrap()),
        spec(CumulativeProduct::new(1_000, Box::new(leaf())).unwrap()),
        spec(
            Noise::new(
                Box::new(leaf()),
                7,
                NoiseKind::Normal {
                    std: 0.1,
                    clip: 0.2,
                },
            )
            .unwrap(),
        ),
    ]
}

fn evaluate(s: &dyn Schedule, steps: &[u64], times: &[f64]) -> f64 {
    let mut sum = 0.0;
    for &t in steps {
        sum += s.value(t);
    }
    for &t in times {
        sum += s.value_at(t);
    }
    sum
}

#[test]
fn evaluation_never_allocates() {
    let kinds = every_kind();
    let missing: Vec<&str> = ScheduleSpec::NAMES
        .iter()
        .copied()
        .filter(|name| !kinds.iter().any(|k| k.name() == *name))
        .collect();
    assert!(
        missing.is_empty(),
        "add a case to every_kind() for {missing:?}"
    );

    let generic = Linear::new(1.0, 0.1, 100)
        .unwrap()
        .warmup(Anneal::Cosine, 10, 0.0)
        .unwrap()
        .restarts(500, 0.7, None)
        .unwrap()
        .per_epoch(3)
        .unwrap()
        .floor(0.05)
        .unwrap();
    let chained = Linear::new(0.0, 1.0, 10)
        .unwrap()
        .then(10, Linear::new(1.0, 0.0, 90).unwrap())
        .unwrap()
        .then(100, 0.01)
        .unwrap();
    let deep = Join::new(
        (1..100).map(|i| i * 10).collect(),
        (0..100).map(|_| leaf()).collect(),
    )
    .unwrap();
    let nested = spec(Scale::new(2.0, spec(deep.clone())).unwrap());
    let mut all: Vec<&dyn Schedule> = kinds.iter().map(|k| k as &dyn Schedule).collect();
    all.extend([&generic as &dyn Schedule, &chained, &deep, &nested]);

    let steps = telling_steps(&[7, 10, 50, 100, 150, 500, 990]);
    let times: Vec<f64> = steps
        .iter()
        .map(|&t| t as f64 + 0.25)
        .chain([-1.0, f64::NAN, f64::INFINITY])
        .collect();

    let before = allocations();
    let mut sum = 0.0;
    for s in &all {
        sum += evaluate(*s, &steps, &times);
    }
    let after = allocations();
    assert!(sum.is_finite());
    assert_eq!(
        after - before,
        0,
        "evaluation allocated {} times",
        after - before
    );
}
