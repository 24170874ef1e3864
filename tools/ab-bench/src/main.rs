//! A/B benchmark of `Schedule::value`: `cadence` (the working tree) against `cadence_old`
//! (a snapshot at a git revision made by `run.sh`), interleaved; see README.md.

#[path = "../../../crates/cadence/benches/clock.rs"]
mod clock;
use clock::{clock_ghz as ghz, thread_cpu_ns as cpu_ns};
#[path = "../../../crates/cadence/benches/steps.rs"]
mod steps;
use steps::Steps;

/// Mean CPU ns of `f` over `n` steps of the benches' walk over `[0, 2e6)`, through the
/// benches' own loop (`Steps::cycle`: `f` inlined, input and output through `black_box`).
#[inline(never)]
fn run(f: &impl Fn(u64) -> f64, steps: &Steps, n: u64) -> f64 {
    let mut next = steps.cycle(f);
    let t0 = cpu_ns();
    for _ in 0..n {
        next();
    }
    (cpu_ns() - t0) as f64 / n as f64
}

/// Runs `old` and `new` alternately, 21 rounds each, and prints their medians, the ratio
/// and the largest relative difference of their values.
fn ab(name: &str, old: &impl Fn(u64) -> f64, new: &impl Fn(u64) -> f64) {
    let n = 300_000;
    let steps = Steps::walk(2_000_000);
    let (mut a, mut b, mut clock) = (vec![], vec![], vec![]);
    for _ in 0..21 {
        clock.push(ghz());
        a.push(run(old, &steps, n));
        b.push(run(new, &steps, n));
    }
    for v in [&mut a, &mut b, &mut clock] {
        v.sort_by(f64::total_cmp);
    }
    let (ma, mb, ghz) = (a[10], b[10], clock[10]);
    // How far the two versions' values are apart.
    let mut maxrel: f64 = 0.0;
    for t in (0..2_000_000u64).step_by(997) {
        let (x, y) = (old(t), new(t));
        let rel = if x == y {
            0.0
        } else {
            ((x - y) / x.abs().max(1e-300)).abs()
        };
        maxrel = maxrel.max(rel);
    }
    println!(
        "{name:32} old {ma:6.2} ns {:5.1} cy  new {mb:6.2} ns {:5.1} cy  ratio {:5.2}  \
         {ghz:.2} GHz  maxrel {maxrel:.1e}",
        ma * ghz,
        mb * ghz,
        mb / ma
    );
}

macro_rules! case {
    ($filter:expr, $name:expr, |$c:ident| $build:expr) => {
        if $filter.is_empty() || $name.contains(&$filter) {
            let old = {
                use cadence_old as $c;
                #[allow(unused_imports)] // ScheduleExt: only some cases build with it
                use $c::{Schedule, ScheduleExt};
                let s = $build;
                move |t: u64| s.value(t)
            };
            let new = {
                use cadence as $c;
                #[allow(unused_imports)] // ScheduleExt: only some cases build with it
                use $c::{Schedule, ScheduleExt};
                let s = $build;
                move |t: u64| s.value(t)
            };
            ab($name, &old, &new);
        }
    };
}

fn main() {
    // The first argument filters the cases by name.
    let filter = std::env::args().nth(1).unwrap_or_default();
    include!("cases.rs");
}
