//! Running tiny models on one thread.
//!
//! candle's CPU matrix products hand their work to rayon whenever more than one core is
//! available. For the small models of the harness each hand-off costs far more than the
//! product itself (about 30 us against under 1 us on a 2-core machine), and two
//! experiments sharing the global pool slow each other down. Running the training inside
//! a private one-thread rayon pool makes every nested parallel loop run inline on that
//! thread; independent experiments then run in parallel, one thread each.
//!
//! Faster still: candle reads `RAYON_NUM_THREADS` before every matrix product and, at 1,
//! calls gemm with no parallelism at all. On a loaded 2-core machine the digits MLP
//! trained at 16-18 ms per epoch that way, against 24-26 ms inside [`single_threaded`]
//! and 26-28 ms with neither. A library cannot set the variable soundly once threads
//! exist, so applications (the CLI, the lab, the `train_digits` example) set it at the
//! top of `main`, before starting any thread, and use [`single_threaded`] as well.

use crate::train::TrainError;

/// Runs `f` on a fresh one-thread rayon pool and returns its result.
///
/// Everything candle parallelises with rayon inside `f` runs inline on that one thread,
/// which is what small models want; call it once per run (building the pool costs tens
/// of microseconds), from as many threads as there are experiments to run side by side.
///
/// # Errors
/// [`TrainError::ThreadPool`] if the thread cannot be started.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::single_threaded;
///
/// let threads = single_threaded(|| rayon::current_num_threads())?;
/// assert_eq!(threads, 1);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
pub fn single_threaded<R: Send>(f: impl FnOnce() -> R + Send) -> Result<R, TrainError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "cadence-train".into())
        .build()?;
    Ok(pool.install(f))
}
