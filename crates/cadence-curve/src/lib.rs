//! # cadence-curve
//!
//! Predict the loss curve of any learning-rate schedule from a few logged runs, and optimise
//! the schedule against the prediction.
//!
//! - [`load_run_csv`] reads `step,lr,loss` logs into a [`Run`]; [`TrainingRun`] pairs a run
//!   with the learning rate of every step (from a cadence [`Schedule`](cadence::Schedule)).
//! - [`fit`] fits a schedule-aware law ([`LawKind`]: the multi-power law of Luo et al.
//!   (ICLR 2025) or the LR-annealing law of Tissue et al. (2024)) with a Huber loss,
//!   seeded multi-start Levenberg–Marquardt; the result is deterministic for a seed.
//! - [`FittedLaw::predict`] gives the loss curve of any schedule;
//!   [`optimize_schedule`] finds the non-increasing schedule that minimises the
//!   predicted final loss.
//! - [`bench`] runs the published protocol on the bundled data set
//!   (`data/loss-curves/{25,100,400}`, MIT, Copyright (c) 2025 Kairong Luo).
//!
//! ```
//! use cadence_curve::{FittedLaw, MultiPowerParams};
//! // The authors' published 25M fit, predicting a constant and a linear-decay run.
//! let law = FittedLaw::multi_power(MultiPowerParams {
//!     l0: 3.040, a: 0.525, alpha: 0.508, b: 363.8, c: 2.066, beta: 0.583, gamma: 0.641, p: 1.0,
//! })?;
//! let constant = law.predict(&3e-4, &[24_000])[0];
//! let decay = law.predict(&cadence::Linear::new(3e-4, 3e-5, 24_000)?, &[24_000])[0];
//! assert!(decay < constant);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bench;
mod error;
mod fit;
mod law;
mod optimize;
mod run;

pub use bench::{
    BenchReport, CurveReport, END, FIT_CURVES, Metrics, PEAK, PREDICT_CURVES, Role, WARMUP_STEPS,
    bench, bench_law, load_published_curve, published_lrs, published_metrics,
};
pub use error::{CsvProblem, Error};
pub use fit::{Fit, FitOptions, Residual, fit};
pub use law::{AnnealingParams, FittedLaw, LawKind, MultiPowerParams};
pub use optimize::{OptimizeOptions, OptimizedSchedule, optimize_schedule};
pub use run::{Run, TrainingRun, load_run_csv, lr_sequence};
