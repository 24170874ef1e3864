//! # cadence-lab
//!
//! Experiments that test the claims of the article on learning-rate scheduling, each
//! from its own data: fixed seeds, means with 95% confidence intervals, a verdict from a
//! named statistical test, and a report (`index.html` with inline plots, `report.md`,
//! `results.json`).
//!
//! - [`Experiment`]: one claim, one `run`. [`experiments`] lists them all.
//! - [`run_all`]: runs a selection and writes the report.
//! - [`runner`]: parallel, resumable runs; [`stats`]: the tests; [`report`], [`plot`]:
//!   the writers.
//! - [`fold`]: the AB protein model under any schedule (`cadence lab fold`).
//! - [`digits`]: the digits models trained by `cadence_candle` under any schedule,
//!   optimizer, seed and training subset, one run per core.
//!
//! ```no_run
//! use cadence_lab::{Size, run_all};
//!
//! let reports = run_all("lab-report".as_ref(), Size::Quick, Some("noise"))?;
//! assert_eq!(reports[0].name, "noise");
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod digits;
pub mod experiments;
pub mod fold;
pub mod landscape;
pub mod nqm;
pub mod plot;
pub mod report;
pub mod runner;
pub mod stats;

pub use report::{ExperimentReport, Outcome, Size, Verdict, write_reports};
pub use runner::{Config, Progress};

use anyhow::{Result, bail};
use std::path::Path;
use std::time::Instant;

/// One claim of the article, tested by running code.
///
/// Implementations measure, test and explain; [`run_experiment`] times them.
///
/// ```
/// use cadence_lab::{Config, Experiment, ExperimentReport, Outcome, Size, Verdict};
///
/// struct Trivial;
/// impl Experiment for Trivial {
///     fn name(&self) -> &'static str { "trivial" }
///     fn claim(&self) -> &'static str { "Nothing." }
///     fn run(&self, config: &Config) -> anyhow::Result<ExperimentReport> {
///         Ok(ExperimentReport::new(self.name(), self.claim(), config.size,
///             Verdict::new(Outcome::Inconclusive, "none", "nothing measured")))
///     }
/// }
/// let dir = std::env::temp_dir();
/// let r = cadence_lab::run_experiment(&Trivial, &Config::new(&dir, Size::Quick))?;
/// assert!(r.wall_time_s >= 0.0);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub trait Experiment: Sync {
    /// The command-line name (`noise`, `half-life`, ...).
    fn name(&self) -> &'static str;
    /// The claim under test, quoted from the article.
    fn claim(&self) -> &'static str;
    /// Runs the experiment at `config.size`, saving runs under `config.out_dir`.
    ///
    /// # Errors
    /// When a run fails or its result cannot be saved.
    fn run(&self, config: &Config) -> Result<ExperimentReport>;
}

/// Every experiment, in report order.
///
/// ```
/// let names: Vec<_> = cadence_lab::experiments().iter().map(|e| e.name()).collect();
/// assert!(names.contains(&"noise") && names.contains(&"restarts"));
/// ```
pub fn experiments() -> Vec<Box<dyn Experiment>> {
    vec![
        Box::new(experiments::noise::Noise),
        Box::new(experiments::half_life::HalfLife),
        Box::new(experiments::gradient_flow::GradientFlow),
        Box::new(experiments::restarts::Restarts),
        Box::new(experiments::decay_speed::DecaySpeed),
        Box::new(experiments::warmup::Warmup),
        Box::new(experiments::adam_cosine::AdamCosine),
        Box::new(experiments::loss_prediction::LossPrediction),
    ]
}

/// Runs one experiment and records its wall time.
///
/// # Errors
/// The experiment's error.
///
/// ```no_run
/// use cadence_lab::{Config, Size, experiments, run_experiment};
///
/// let noise = &experiments()[0];
/// let r = run_experiment(noise.as_ref(), &Config::new("out", Size::Quick))?;
/// println!("{} in {:.1} s", r.verdict.outcome.label(), r.wall_time_s);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn run_experiment(experiment: &dyn Experiment, config: &Config) -> Result<ExperimentReport> {
    let start = Instant::now();
    let mut report = experiment.run(config)?;
    report.wall_time_s = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Runs the experiments selected by `filter` (`None` or `"all"`: all of them; otherwise
/// a comma-separated list of names) at `size`, and writes the report into `out_dir`.
///
/// Finished runs found in `out_dir` from an earlier call with the same configuration are
/// read back instead of run again.
///
/// # Errors
/// An unknown experiment name, a failed run, or a report that cannot be written.
///
/// ```
/// let dir = std::env::temp_dir().join("cadence-lab-doc-unknown");
/// assert!(cadence_lab::run_all(&dir, cadence_lab::Size::Quick, Some("nope")).is_err());
/// ```
pub fn run_all(out_dir: &Path, size: Size, filter: Option<&str>) -> Result<Vec<ExperimentReport>> {
    run_selected(&Config::new(out_dir, size), filter)
}

/// [`run_all`] with a full [`Config`] (for example with progress bars hidden).
///
/// # Errors
/// As [`run_all`].
///
/// ```no_run
/// use cadence_lab::{Config, Progress, Size, run_selected};
///
/// let config = Config::new("out", Size::Full).with_progress(Progress::Hidden);
/// run_selected(&config, Some("gradient-flow,noise"))?;
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn run_selected(config: &Config, filter: Option<&str>) -> Result<Vec<ExperimentReport>> {
    let all = experiments();
    let selected: Vec<&dyn Experiment> = match filter {
        None | Some("all") => all.iter().map(|e| e.as_ref()).collect(),
        Some(list) => {
            let mut chosen = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match all.iter().find(|e| e.name() == name) {
                    Some(e) => chosen.push(e.as_ref()),
                    None => {
                        let known: Vec<_> = all.iter().map(|e| e.name()).collect();
                        bail!("unknown experiment {name:?}; known: {}", known.join(", "));
                    }
                }
            }
            chosen
        }
    };
    let mut reports = Vec::new();
    for e in selected {
        reports.push(run_experiment(e, config)?);
    }
    write_reports(&config.out_dir, &reports)?;
    Ok(reports)
}
