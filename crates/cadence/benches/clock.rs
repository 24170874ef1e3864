//! This thread's CPU time and the core's clock, shared through `#[path]` by the benches'
//! criterion measurement (`cpu_time.rs`) and the repository's measuring tools
//! (`tools/ab-bench`, `tools/torch-ratio`). Unix only (`clock_gettime`).

/// CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is supported on
    // every platform libc's `clock_gettime` exists on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The core's clock now, in cycles per nanosecond (GHz): 400k dependent `imul`s (3 cycles
/// each on every x86-64 since Nehalem; about 0.5 ms) timed on this thread. A time times it
/// is cycles, which do not move when a virtual machine's host changes the clock. NaN off
/// x86-64, where there is no calibrated chain.
#[allow(dead_code)] // not every includer measures cycles
pub fn clock_ghz() -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        const ROUNDS: u64 = 100_000;
        let mut x: u64 = 1;
        let start = thread_cpu_ns();
        for _ in 0..ROUNDS {
            // SAFETY: register-only arithmetic.
            unsafe {
                std::arch::asm!(
                    "imul {0}, {0}, 3",
                    "imul {0}, {0}, 3",
                    "imul {0}, {0}, 3",
                    "imul {0}, {0}, 3",
                    inout(reg) x,
                    options(pure, nomem, nostack),
                )
            };
        }
        std::hint::black_box(x);
        (12 * ROUNDS) as f64 / (thread_cpu_ns() - start).max(1) as f64
    }
    #[cfg(not(target_arch = "x86_64"))]
    f64::NAN
}
