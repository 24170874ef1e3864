//! A criterion measurement of the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`)
//! instead of wall time, so that numbers taken on a machine busy with other work (a CI
//! runner, a shared 2-core box) still measure this code: time the thread spends waiting
//! for a core is not counted. Shared by the benches through `#[path]`.
//!
//! On a quiet machine the two agree for this single-threaded code. Off unix (no
//! `clock_gettime`), wall time is used.
//!
//! With `CADENCE_BENCH_CYCLES=1` (x86-64 only) the unit is core cycles instead: each
//! sample's CPU time times the core's clock, measured just before and just after the
//! sample (`clock.rs`). A virtual machine's host moves its clock (2.25 to 3.4 GHz on the
//! machine the crate docs' numbers come from), which moves nanoseconds but not cycles.

#[cfg(unix)]
use criterion::Throughput;
#[cfg(unix)]
use criterion::measurement::{Measurement, ValueFormatter, WallTime};

#[cfg(not(unix))]
pub use criterion::measurement::WallTime as ThreadCpuTime;

#[cfg(unix)]
use super::clock::{clock_ghz, thread_cpu_ns};

/// Whether `CADENCE_BENCH_CYCLES` asks for cycles (x86-64 only).
#[cfg(unix)]
fn in_cycles() -> bool {
    cfg!(target_arch = "x86_64")
        && std::env::var_os("CADENCE_BENCH_CYCLES").is_some_and(|v| v != "0")
}

/// Thread CPU time, reported in the same units as wall time, or in core cycles (see the
/// module docs).
#[cfg(unix)]
pub struct ThreadCpuTime;

#[cfg(unix)]
impl Measurement for ThreadCpuTime {
    /// The thread's CPU ns at the start, and the clock measured just before it (0 when
    /// measuring nanoseconds).
    type Intermediate = (u64, f64);
    type Value = f64;

    fn start(&self) -> (u64, f64) {
        let ghz = if in_cycles() { clock_ghz() } else { 0.0 };
        (thread_cpu_ns(), ghz)
    }
    fn end(&self, (start, ghz_before): (u64, f64)) -> f64 {
        let ns = (thread_cpu_ns() - start) as f64;
        if ghz_before > 0.0 {
            ns * 0.5 * (ghz_before + clock_ghz())
        } else {
            ns
        }
    }
    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }
    fn zero(&self) -> f64 {
        0.0
    }
    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        if in_cycles() { &Cycles } else { &Nanoseconds }
    }
}

/// Formats nanosecond values as wall time's formatter would.
#[cfg(unix)]
struct Nanoseconds;

#[cfg(unix)]
impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        WallTime.formatter().scale_values(typical, values)
    }
    fn scale_throughputs(&self, typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        WallTime.formatter().scale_throughputs(typical, t, values)
    }
    fn scale_for_machines(&self, values: &mut [f64]) -> &'static str {
        WallTime.formatter().scale_for_machines(values)
    }
}

/// Formats cycle counts as they are.
#[cfg(unix)]
struct Cycles;

#[cfg(unix)]
impl ValueFormatter for Cycles {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "cycles"
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        // Elements (or bytes) per cycle.
        let per = match *t {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => n,
            Throughput::Elements(n) => n,
            _ => 1,
        } as f64;
        for v in values.iter_mut() {
            *v = per / *v;
        }
        "per cycle"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "cycles"
    }
}
