//! A/B benchmark of `Schedule::value`: `cadence` (the working tree) against `cadence_old`
//! (a snapshot at a git revision made by `run.sh`), interleaved; see README.md.

use std::hint::black_box;

/// This thread's CPU time in nanoseconds.
fn cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Mean CPU ns of `f` over `n` steps walking `[0, 2e6)` in strides of 7919.
fn run(f: &dyn Fn(u64) -> f64, n: u64) -> f64 {
    let t0 = cpu_ns();
    let mut t = 0u64;
    let mut acc = 0.0;
    for _ in 0..n {
        t = (t + 7919) % 2_000_000;
        acc += f(black_box(t));
    }
    black_box(acc);
    (cpu_ns() - t0) as f64 / n as f64
}

/// Runs `old` and `new` alternately, 21 rounds each, and prints their medians, the ratio
/// and the largest relative difference of their values.
fn ab(name: &str, old: &dyn Fn(u64) -> f64, new: &dyn Fn(u64) -> f64) {
    let n = 300_000;
    let (mut a, mut b) = (vec![], vec![]);
    for _ in 0..21 {
        a.push(run(old, n));
        b.push(run(new, n));
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (ma, mb) = (a[10], b[10]);
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
        "{name:32} old {ma:7.2} ns  new {mb:7.2} ns  ratio {:5.2}  maxrel {maxrel:.1e}",
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
