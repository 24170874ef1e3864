//! Evaluating the recipe families allocates nothing: knot paths live in fixed buffers or
//! in the schedule itself, never per call.

use cadence::{
    Amplitude, AmplitudeClock, Anneal, CosineRestarts, Cyclical, DecayLength, Noise, NoiseKind,
    OneCycle, Phases, PiecewiseInterpolate, Schedule, ScheduleSpec, SwaAnneal, WarmupStableDecay,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the allocations of threads that set `TRACKING` (not the test harness's).
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator and only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if TRACKING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn evaluation_allocates_nothing() {
    let one_cycle = OneCycle::new(0.1, 10_000)
        .and_then(|s| s.with_phases(Phases::Three { pct_final: 0.6 }))
        .unwrap();
    let schedules: Vec<ScheduleSpec> = vec![
        PiecewiseInterpolate::from_scales(0.1, &[(20, 0.5), (50, 0.1), (80, 10.0)], Anneal::Cosine)
            .unwrap()
            .into(),
        one_cycle.into(),
        one_cycle.momentum(0.85, 0.95).unwrap().into(),
        CosineRestarts::new(0.1, 1e-5, 7.5)
            .and_then(|s| s.with_period_mult(1.5))
            .and_then(|s| s.with_peak_decay(0.9))
            .and_then(|s| s.with_warmup(0.0, 2.0))
            .and_then(|s| s.with_cycles(12))
            .unwrap()
            .into(),
        Cyclical::new(1e-4, 1e-2, 20, 30)
            .and_then(|s| {
                s.with_amplitude(Amplitude::Geometric {
                    gamma: 0.999,
                    clock: AmplitudeClock::Step,
                })
            })
            .unwrap()
            .into(),
        WarmupStableDecay::new(1e-3, 1e-5, 100, 10_000, DecayLength::Fraction(0.2))
            .unwrap()
            .into(),
        SwaAnneal::new(0.5, 0.05, 10, Anneal::Cosine)
            .unwrap()
            .into(),
        Noise::new(
            Box::new(ScheduleSpec::from(one_cycle)),
            7,
            NoiseKind::Normal {
                std: 1.0,
                clip: 0.67,
            },
        )
        .unwrap()
        .into(),
    ];
    TRACKING.with(|t| t.set(true));
    let mut sum = 0.0;
    for s in &schedules {
        for t in (0..20_000u64).step_by(7) {
            sum += s.value(t) + s.value_at(t as f64 + 0.25);
        }
        sum += s.value(u64::MAX);
    }
    TRACKING.with(|t| t.set(false));
    assert!(sum.is_finite());
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "allocations during evaluation"
    );
    // The counter works: building a spec allocates.
    TRACKING.with(|t| t.set(true));
    let boxed = Box::new(ScheduleSpec::from(one_cycle));
    TRACKING.with(|t| t.set(false));
    assert!(boxed.value(0) > 0.0);
    assert!(ALLOCATIONS.load(Ordering::SeqCst) >= 1);
}
