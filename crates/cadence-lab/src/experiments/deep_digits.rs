//! Training glue shared by `warmup` and `adam-cosine`: one serialisable job (model, Adam
//! learning-rate schedule in the text spec language, epochs, seed) trained on the digits
//! split by [`cadence_candle::train::Trainer`] on one thread, and a compact outcome
//! (evaluation curve, divergence, early parameter displacement).

use anyhow::{Context, Result};
use cadence_candle::data::{Dataset, Scaling, digits_split};
use cadence_candle::model::{Model, ModelSpec, Snapshot};
use cadence_candle::train::{
    Callback, Control, Progress, StepRecord, StopReason, TrainConfig, TrainError, Trainer,
    evaluate, single_threaded,
};
use cadence_candle::{AdamConfig, ScheduledOptimizer};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// One training run: everything its outcome depends on (the runner's cache key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TrainJob {
    /// A label for tables and plots (not used by training).
    pub label: String,
    pub model: ModelSpec,
    /// The learning-rate schedule of Adam, in cadence's text spec language.
    pub schedule: String,
    pub epochs: u64,
    pub batch_size: usize,
    /// Training images used (a class-balanced subsample of the 1437 when smaller).
    pub train_size: usize,
    /// Seeds the initialisation and the batch order.
    pub seed: u64,
    /// The harness stops a run whose step loss is above this multiple of the best so far
    /// (`None`: only a non-finite loss stops it).
    pub divergence_factor: Option<f64>,
    /// A mini-batch loss above this multiple of the first step's loss counts as a
    /// blow-up (recorded; the run goes on unless the harness stops it).
    pub blowup_factor: f64,
    /// After how many updates the L2 distance of the weights from their initial values is
    /// recorded.
    pub displacement_at: Vec<u64>,
}

/// One evaluation (after an epoch); the training loss is the mean over the epoch's
/// mini-batches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Point {
    pub step: u64,
    pub train_loss: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TrainOutcome {
    /// The step at which the harness stopped the run as diverged, if it did.
    pub diverged_at: Option<u64>,
    /// The mini-batch loss that stopped a diverged run.
    pub diverged_loss: Option<f64>,
    /// The first step whose mini-batch loss exceeded `blowup_factor` times the first
    /// step's loss, or was not finite.
    pub blowup_at: Option<u64>,
    /// The largest mini-batch loss of the run (infinite if one was not finite).
    pub max_loss: f64,
    /// Test accuracy and loss of the weights the run ended with (for a diverged run, the
    /// weights at the divergence).
    pub test_accuracy: f64,
    pub test_loss: f64,
    /// The training loss of the final weights, a full pass over the training images;
    /// `NaN` if diverged.
    pub train_loss: f64,
    /// Evaluations after each completed epoch.
    pub curve: Vec<Point>,
    /// `(updates, ||w - w0||)` for each requested number of updates that was reached.
    pub displacement: Vec<(u64, f64)>,
    /// Steps taken.
    pub steps: u64,
}

/// The digits split, standardised with training statistics, loaded once.
fn split() -> Result<&'static (Dataset, Dataset)> {
    static SPLIT: OnceLock<(Dataset, Dataset)> = OnceLock::new();
    if let Some(s) = SPLIT.get() {
        return Ok(s);
    }
    let s = digits_split(Scaling::Standardize).context("loading digits")?;
    Ok(SPLIT.get_or_init(|| s))
}

/// Records `||w - w0||` after chosen numbers of updates.
struct Displacement {
    init: Snapshot,
    at: Vec<u64>,
    seen: Vec<(u64, f64)>,
}

impl Callback for Displacement {
    fn on_step(&mut self, record: &StepRecord, model: &dyn Model) -> Result<Control, TrainError> {
        let updates = record.step + 1;
        if self.at.contains(&updates) {
            let d = self.init.distance(&Snapshot::take(model)?)?;
            self.seen.push((updates, d));
        }
        Ok(Control::Continue)
    }

    fn state(&self) -> serde_json::Value {
        serde_json::json!(self.seen)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        self.seen =
            serde_json::from_value(state.clone()).map_err(|e| TrainError::CheckpointMismatch {
                field: "displacement state".into(),
                expected: "(updates, distance) pairs".into(),
                found: e.to_string(),
            })?;
        Ok(())
    }
}

/// The number of optimizer steps of `job`.
pub(crate) fn total_steps(epochs: u64, batch_size: usize, train_size: usize) -> u64 {
    epochs * train_size.div_ceil(batch_size) as u64
}

/// Trains `job` on one thread.
pub(crate) fn train(job: &TrainJob) -> Result<TrainOutcome> {
    let (full, test) = split()?;
    let train = if job.train_size < full.len() {
        full.subsample(job.train_size, job.seed)?
    } else {
        full.clone()
    };
    let schedule = cadence::text::parse(&job.schedule)
        .with_context(|| format!("schedule {:?}", job.schedule))?;
    single_threaded(|| -> Result<TrainOutcome> {
        let device = Device::Cpu;
        let model = job.model.build(job.seed, &device)?;
        let optimizer = <ScheduledOptimizer as candle_nn::Optimizer>::new(
            model.vars(),
            AdamConfig::adam(schedule).into(),
        )?;
        let mut config = TrainConfig::new(job.epochs, job.batch_size)?
            .with_seed(job.seed)
            .with_progress(Progress::Hidden);
        if let Some(f) = job.divergence_factor {
            config = config.with_divergence_factor(f)?;
        }
        let displacement = Displacement {
            init: Snapshot::take(&model)?,
            at: job.displacement_at.clone(),
            seen: Vec::new(),
        };
        let mut trainer = Trainer::new(&model, optimizer, &train, config)?
            .with_validation(test)
            .with_callback(Box::new(displacement));
        let report = trainer.run()?;
        let seen: Vec<(u64, f64)> = serde_json::from_value(trainer.callbacks()[0].state())?;
        let (diverged_at, diverged_loss) = match report.stop {
            StopReason::Diverged { step, loss } => (Some(step), Some(loss)),
            _ => (None, None),
        };
        let steps = &report.history.steps;
        let first = steps.first().map_or(f64::NAN, |s| s.loss);
        let blowup_at = steps
            .iter()
            .find(|s| !s.loss.is_finite() || s.loss > job.blowup_factor * first)
            .map(|s| s.step)
            .or(diverged_at);
        let max_loss = if diverged_at.is_some() {
            f64::INFINITY
        } else {
            steps.iter().map(|s| s.loss).fold(f64::NAN, f64::max)
        };
        let end = evaluate(&model, test, &device)?;
        let curve: Vec<Point> = report
            .history
            .evals
            .iter()
            .map(|e| Point {
                step: e.step,
                train_loss: e.train_loss,
                test_loss: e.val_loss.unwrap_or(f64::NAN),
                test_accuracy: e.val_accuracy.unwrap_or(f64::NAN),
            })
            .collect();
        let train_loss = match diverged_at {
            None => evaluate(&model, &train, &device)?.loss,
            Some(_) => f64::NAN,
        };
        Ok(TrainOutcome {
            diverged_at,
            diverged_loss,
            blowup_at,
            max_loss,
            test_accuracy: end.accuracy,
            test_loss: end.loss,
            train_loss,
            curve,
            displacement: seen,
            steps: report.position.step,
        })
    })?
}

/// Runs `f` on a rayon pool of one thread per available core.
///
/// The CLI sets `RAYON_NUM_THREADS=1` so that candle's matrix products never fan out;
/// that also shrinks rayon's global pool, which [`crate::runner::run_parallel`] uses, to
/// one thread. Independent runs still belong on every core, so they get a pool of their
/// own sized by the hardware.
pub(crate) fn on_all_cores<R: Send>(f: impl FnOnce() -> R + Send) -> Result<R> {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build()?;
    Ok(pool.install(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadence_candle::model::MlpConfig;

    #[test]
    fn a_short_run_learns_and_records_displacement() {
        let job = TrainJob {
            label: "t".into(),
            model: ModelSpec::Mlp(MlpConfig::default()),
            schedule: "constant(1e-3)".into(),
            epochs: 2,
            batch_size: 64,
            train_size: 256,
            seed: 1,
            divergence_factor: None,
            blowup_factor: 10.0,
            displacement_at: vec![1, 4, 1000],
        };
        let out = train(&job).unwrap();
        assert_eq!(out.steps, total_steps(2, 64, 256));
        assert_eq!(out.diverged_at, None);
        assert_eq!(out.curve.len(), 2);
        assert!(out.test_accuracy > 0.5, "{}", out.test_accuracy);
        // 1000 updates are never reached; displacement grows with the updates.
        assert_eq!(out.displacement.len(), 2);
        assert!(out.displacement[0].1 > 0.0 && out.displacement[1].1 > out.displacement[0].1);
        // A huge rate diverges.
        let wild = TrainJob {
            schedule: "constant(1e3)".into(),
            divergence_factor: Some(10.0),
            ..job
        };
        assert!(train(&wild).unwrap().diverged_at.is_some());
    }
}
