//! Running many small, independent runs: in parallel across cores (each run on one
//! thread), with a progress bar, and resumable.
//!
//! Every finished run is saved as `runs/<experiment>/<hash>.json` in the output directory
//! (written to a temporary file and renamed, so an interrupted write never leaves a
//! half file). The hash covers the run's whole configuration as JSON, so a rerun with the
//! same configuration reads the result back instead of running it again, and a changed
//! configuration runs afresh.
//!
//! ```
//! use cadence_lab::runner::{Config, run_parallel};
//! use cadence_lab::report::Size;
//!
//! let dir = std::env::temp_dir().join(format!("cadence-lab-runner-doc-{}", std::process::id()));
//! let config = Config::new(&dir, Size::Quick);
//! let square = |x: &u64| Ok(x * x);
//! let first = run_parallel(&config, "demo", &[1u64, 2, 3], square)?;
//! assert_eq!((first.results, first.executed), (vec![1, 4, 9], 3));
//! let again = run_parallel(&config, "demo", &[1u64, 2, 3], square)?;
//! assert_eq!((again.executed, again.reused), (0, 3));
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

use crate::report::Size;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bump when a change to the lab's code changes what a stored run would contain, so
/// that old results are not reused.
const RUNS_VERSION: u32 = 2;

/// Whether to draw progress bars.
///
/// ```
/// assert_ne!(cadence_lab::runner::Progress::Auto, cadence_lab::runner::Progress::Hidden);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// On standard error when it is a terminal, hidden otherwise.
    Auto,
    /// Never.
    Hidden,
}

/// Where and how large experiments run.
///
/// ```
/// use cadence_lab::runner::{Config, Progress};
/// use cadence_lab::report::Size;
///
/// let c = Config::new("out", Size::Full).with_progress(Progress::Hidden);
/// assert_eq!(c.size, Size::Full);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The output directory (reports and saved runs).
    pub out_dir: PathBuf,
    /// Quick (tests) or full size.
    pub size: Size,
    /// Progress bars.
    pub progress: Progress,
}

impl Config {
    /// A configuration with automatic progress bars.
    ///
    /// ```
    /// # use cadence_lab::{runner::Config, report::Size};
    /// assert_eq!(Config::new("o", Size::Quick).out_dir, std::path::PathBuf::from("o"));
    /// ```
    pub fn new(out_dir: impl AsRef<Path>, size: Size) -> Self {
        Config {
            out_dir: out_dir.as_ref().to_path_buf(),
            size,
            progress: Progress::Auto,
        }
    }

    /// Sets the progress mode.
    ///
    /// ```
    /// # use cadence_lab::{runner::{Config, Progress}, report::Size};
    /// assert_eq!(Config::new("o", Size::Quick).with_progress(Progress::Hidden).progress, Progress::Hidden);
    /// ```
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }
}

/// The results of [`run_parallel`], in the order of the jobs, and how many ran.
///
/// ```
/// let r = cadence_lab::runner::Runs { results: vec![1], executed: 1, reused: 0, run_seconds: 0.5 };
/// assert_eq!(r.results.len(), r.executed + r.reused);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Runs<R> {
    /// One result per job, in job order.
    pub results: Vec<R>,
    /// Jobs run now.
    pub executed: usize,
    /// Jobs read back from earlier runs.
    pub reused: usize,
    /// The summed single-thread time of all runs, those read back included (each stored
    /// run keeps the time it took).
    pub run_seconds: f64,
}

/// 64-bit FNV-1a: stable across builds and platforms (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a
/// rename over the target.
///
/// # Errors
/// When the directory cannot be created or the file cannot be written or renamed.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("cadence-lab-atomic-{}", std::process::id()));
/// let path = dir.join("a/b.txt");
/// cadence_lab::runner::write_atomic(&path, b"hello")?;
/// assert_eq!(std::fs::read_to_string(&path)?, "hello");
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.{}.{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

#[derive(Serialize)]
struct Stored<'a, C, R> {
    version: u32,
    experiment: &'a str,
    job: &'a C,
    seconds: f64,
    result: &'a R,
}

fn load<R: DeserializeOwned>(path: &Path, job_json: &serde_json::Value) -> Option<(R, f64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut stored: serde_json::Value = serde_json::from_str(&text).ok()?;
    if stored.get("version")? != &serde_json::json!(RUNS_VERSION) || stored.get("job")? != job_json
    {
        return None;
    }
    let seconds = stored.get("seconds")?.as_f64()?;
    Some((
        serde_json::from_value(stored.get_mut("result")?.take()).ok()?,
        seconds,
    ))
}

/// Runs `run` on every job in parallel (one job per thread at a time, one thread per
/// core whatever `RAYON_NUM_THREADS` says), reusing results saved by an earlier call with
/// the same experiment name and job.
///
/// A job must serialise everything its result depends on (seed, sizes, parameters).
///
/// # Errors
/// The first error of a run, or of writing its result.
///
/// ```
/// use cadence_lab::runner::{Config, Progress, run_parallel};
/// use cadence_lab::report::Size;
///
/// let dir = std::env::temp_dir().join(format!("cadence-lab-runner-doc2-{}", std::process::id()));
/// let config = Config::new(&dir, Size::Quick).with_progress(Progress::Hidden);
/// let fails = run_parallel(&config, "bad", &[1u64], |_| -> anyhow::Result<u64> { anyhow::bail!("no") });
/// assert!(fails.is_err());
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn run_parallel<C, R, F>(
    config: &Config,
    experiment: &str,
    jobs: &[C],
    run: F,
) -> Result<Runs<R>>
where
    C: Serialize + Sync,
    R: Serialize + DeserializeOwned + Send,
    F: Fn(&C) -> Result<R> + Sync,
{
    let dir = config.out_dir.join("runs").join(experiment);
    let target = match config.progress {
        Progress::Auto if std::io::stderr().is_terminal() => ProgressDrawTarget::stderr(),
        _ => ProgressDrawTarget::hidden(),
    };
    let bar = ProgressBar::with_draw_target(Some(jobs.len() as u64), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>14} [{bar:40}] {pos}/{len} runs, {elapsed} (eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(experiment.to_string());
    let executed = AtomicUsize::new(0);
    let reused = AtomicUsize::new(0);
    // A pool of its own, one thread per core: the global pool follows
    // RAYON_NUM_THREADS, which applications set to 1 for candle's matrix products.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build()
        .context("starting the runner's threads")?;
    let results = pool.install(|| {
        jobs.par_iter()
            .map(|job| -> Result<(R, f64)> {
                let job_json = serde_json::to_value(job)?;
                let key = format!("{RUNS_VERSION}/{experiment}/{job_json}");
                let path = dir.join(format!("{:016x}.json", fnv1a(key.as_bytes())));
                if let Some(found) = load::<R>(&path, &job_json) {
                    reused.fetch_add(1, Ordering::Relaxed);
                    bar.inc(1);
                    return Ok(found);
                }
                let start = std::time::Instant::now();
                let r = run(job)?;
                let seconds = start.elapsed().as_secs_f64();
                let stored = Stored {
                    version: RUNS_VERSION,
                    experiment,
                    job,
                    seconds,
                    result: &r,
                };
                write_atomic(&path, serde_json::to_string(&stored)?.as_bytes())?;
                executed.fetch_add(1, Ordering::Relaxed);
                bar.inc(1);
                Ok((r, seconds))
            })
            .collect::<Result<Vec<(R, f64)>>>()
    })?;
    bar.finish_and_clear();
    let run_seconds = results.iter().map(|(_, s)| s).sum();
    Ok(Runs {
        results: results.into_iter().map(|(r, _)| r).collect(),
        run_seconds,
        executed: executed.into_inner(),
        reused: reused.into_inner(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_job_runs_again_and_corrupt_files_are_rerun() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path(), Size::Quick).with_progress(Progress::Hidden);
        let f = |x: &(u64, f64)| Ok(x.0 as f64 * x.1);
        let a = run_parallel(&config, "t", &[(1, 0.5), (2, 0.5)], f).unwrap();
        assert_eq!(a.executed, 2);
        let b = run_parallel(&config, "t", &[(1, 0.5), (2, 0.25)], f).unwrap();
        assert_eq!((b.executed, b.reused), (1, 1));
        assert_eq!(b.results, vec![0.5, 0.5]);
        // Corrupt every stored file: all run again.
        for e in std::fs::read_dir(dir.path().join("runs/t")).unwrap() {
            std::fs::write(e.unwrap().path(), "{").unwrap();
        }
        let c = run_parallel(&config, "t", &[(1, 0.5)], f).unwrap();
        assert_eq!(c.executed, 1);
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
