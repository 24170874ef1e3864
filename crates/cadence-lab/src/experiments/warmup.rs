//! `warmup`: a deep MLP without normalisation trained on digits by Adam at a high peak
//! rate, with and without a linear warmup: divergence rate, final test accuracy and the
//! early displacement of the weights from their initial values.
//!
//! ```no_run
//! use cadence_lab::{Config, Experiment, Size};
//!
//! let r = cadence_lab::experiments::warmup::Warmup.run(&Config::new("out", Size::Quick))?;
//! println!("{}", r.verdict.explanation);
//! # Ok::<(), anyhow::Error>(())
//! ```

use super::seeds;
use crate::Experiment;
use crate::digits::{Digits, DigitsJob, DigitsRun, Optimizer, train};
use crate::plot::{Figure, Scale, Series, Style};
use crate::report::{Cell, ExperimentReport, Outcome, Table, Verdict, fmt_num};
use crate::runner::{Config, run_parallel};
use crate::stats::{Estimate, fisher_exact, holm, mean, welch_t_test};
use anyhow::Result;
use cadence::Schedule;
use cadence_candle::init::Init;
use cadence_candle::model::{MlpConfig, ModelSpec};
use cadence_candle::train::TrainMetrics;

/// The `warmup` experiment.
///
/// ```
/// use cadence_lab::Experiment;
/// assert_eq!(cadence_lab::experiments::warmup::Warmup.name(), "warmup");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Warmup;

const CLAIM: &str = "At the very start of training, a neural network's weights are random. The initial landscape is chaotic. Taking a large step at this point would be like trying to sprint on an icy patch—it's highly unstable and likely to send the optimizer flying in a random, unhelpful direction. The warmup phase addresses this by starting with a very small learning rate and gradually increasing it over the first few epochs. This allows the model to \"settle down\" and find a stable initial direction before the main, high-learning-rate phase of training begins.";

/// Hidden layers and their width: deep enough to be fragile without normalisation.
const DEPTH: usize = 8;
const WIDTH: usize = 128;
const BATCH: usize = 64;
/// A mini-batch loss above this multiple of the first step's loss is a blow-up.
const BLOWUP_FACTOR: f64 = 10.0;

/// The pilot's peak rates (no warmup).
const PILOT_PEAKS: [f64; 5] = [1e-2, 2e-2, 3e-2, 4e-2, 6e-2];
/// The pilot picks the smallest peak at which at least this fraction of its runs diverge.
const PILOT_TARGET: f64 = 0.5;
/// After how many updates the displacement `||w - w0||` is recorded.
const DISPLACEMENT_AT: [u64; 5] = [5, 10, 25, 50, 100];

fn model() -> Result<ModelSpec> {
    Ok(ModelSpec::Mlp(
        MlpConfig::deep(64, WIDTH, DEPTH, 10)?.with_init(Init::KaimingNormal),
    ))
}

/// Linear warmup from 0 over `warmup` steps laid over a cosine decay from `peak` to 0 over
/// `total` steps (overlay: after the warmup both schedules are the same function).
fn schedule(peak: f64, warmup: u64, total: u64) -> String {
    let decay = format!("cosine(init={peak:e}, end=0, decay_steps={total})");
    if warmup == 0 {
        decay
    } else {
        format!("warmup(shape=linear, steps={warmup}, init=0, mode=overlay) >> {decay}")
    }
}

/// Adam on the deep MLP on all of `data`'s training images, at a constant `peak`
/// (the schedule is set once the run's length is known).
fn base(peak: f64, epochs: u64, seed: u64) -> Result<DigitsJob> {
    Ok(
        DigitsJob::mlp(cadence::Constant::new(peak)?.into(), epochs, seed)
            .with_model(model()?)
            .with_optimizer(Optimizer::adam())
            .with_batch_size(BATCH)
            .with_train_metrics(TrainMetrics::Running)
            .with_displacement_at(&DISPLACEMENT_AT),
    )
}

fn job(data: &Digits, peak: f64, warmup: u64, epochs: u64, seed: u64) -> Result<DigitsJob> {
    let job = base(peak, epochs, seed)?;
    let total = job.total_steps(data);
    Ok(job.with_schedule(cadence::text::parse(&schedule(peak, warmup, total))?))
}

/// Runs that blew up: a mini-batch loss above [`BLOWUP_FACTOR`] times the first one, or
/// not finite.
fn diverged(runs: &[&DigitsRun]) -> u64 {
    runs.iter()
        .filter(|r| r.blowup_at(BLOWUP_FACTOR).is_some())
        .count() as u64
}

/// The displacement after `k` updates of the runs that got that far.
fn displacement(runs: &[&DigitsRun], k: u64) -> Vec<f64> {
    runs.iter()
        .filter_map(|r| {
            r.displacement
                .iter()
                .find(|(s, _)| *s == k)
                .map(|(_, d)| *d)
        })
        .filter(|d| d.is_finite())
        .collect()
}

impl Experiment for Warmup {
    fn name(&self) -> &'static str {
        "warmup"
    }

    fn claim(&self) -> &'static str {
        CLAIM
    }

    fn run(&self, config: &Config) -> Result<ExperimentReport> {
        let size = config.size;
        let data = Digits::load_unsplit()?;
        let steps_per_epoch = base(PILOT_PEAKS[0], 1, 0)?.steps_per_epoch(&data);

        // Pilot: no warmup, a few seeds, a short run, one peak after another.
        let pilot_epochs: u64 = size.pick(1, 2);
        let pilot_seeds: Vec<u64> = (1000..1000 + size.pick(2, 4)).collect();
        let mut pilot_jobs = Vec::new();
        for &peak in &PILOT_PEAKS {
            for &seed in &pilot_seeds {
                pilot_jobs.push(job(&data, peak, 0, pilot_epochs, seed)?);
            }
        }
        let pilot = run_parallel(
            config,
            &format!("{}-pilot", self.name()),
            &pilot_jobs,
            |j| train(j, &data),
        )?;
        let mut pilot_table = Table::new(
            format!(
                "Pilot: Adam without warmup, cosine over {pilot_epochs} epoch(s), seeds {}..{}",
                pilot_seeds[0],
                pilot_seeds[pilot_seeds.len() - 1]
            ),
            &[
                "peak rate",
                "blew up",
                "largest mini-batch loss (median)",
                "test accuracy (mean)",
            ],
        );
        let mut pilot_curve = Vec::new();
        let mut chosen = None;
        // The pilot's runs, one peak after another.
        for (&peak, runs) in PILOT_PEAKS
            .iter()
            .zip(pilot.results.chunks(pilot_seeds.len()))
        {
            let runs: Vec<&DigitsRun> = runs.iter().collect();
            let d = diverged(&runs);
            let frac = d as f64 / runs.len() as f64;
            pilot_curve.push((peak, frac));
            pilot_table.push(vec![
                Cell::number(peak),
                Cell::text(format!("{d} / {}", runs.len())),
                Cell::number(crate::stats::median(
                    &runs.iter().map(|r| r.max_loss()).collect::<Vec<_>>(),
                )),
                Cell::number(mean(
                    &runs.iter().map(|r| r.end.test_accuracy).collect::<Vec<_>>(),
                )),
            ]);
            if chosen.is_none() && frac >= PILOT_TARGET {
                chosen = Some(peak);
            }
        }
        let peak = chosen.unwrap_or(PILOT_PEAKS[PILOT_PEAKS.len() - 1]);

        // Main comparison at the chosen peak.
        let epochs: u64 = size.pick(2, 12);
        let total = epochs * steps_per_epoch;
        let warmups: Vec<(String, u64)> = vec![
            ("no warmup".into(), 0),
            (
                format!("warmup {} steps (1 epoch)", steps_per_epoch),
                steps_per_epoch,
            ),
            (
                format!("warmup {} steps (4 epochs)", 4 * steps_per_epoch),
                4 * steps_per_epoch,
            ),
        ];
        let seeds = seeds(size, 5, 12);
        let mut jobs = Vec::new();
        for (_, w) in &warmups {
            for &seed in &seeds {
                jobs.push(job(&data, peak, *w, epochs, seed)?);
            }
        }
        let runs = run_parallel(config, self.name(), &jobs, |j| train(j, &data))?;
        // The runs of each warmup, in the order of `warmups`.
        let groups: Vec<Vec<&DigitsRun>> = runs
            .results
            .chunks(seeds.len())
            .map(|g| g.iter().collect())
            .collect();
        let none = &groups[0];
        let n = seeds.len() as u64;
        let d_none = diverged(none);
        let acc_none: Vec<f64> = none.iter().map(|r| r.end.test_accuracy).collect();

        let mut table = Table::new(
            format!(
                "Adam, peak {} (from the pilot), cosine to 0 over {epochs} epochs ({total} steps), {} seeds",
                fmt_num(peak),
                seeds.len()
            ),
            &[
                "schedule",
                "blew up",
                "blow-up steps",
                "final test accuracy (mean ± 95% CI)",
                "Fisher exact p vs no warmup (blow-ups)",
                "Welch t p vs no warmup (accuracy)",
            ],
        );
        let mut disp_table = Table::new(
            "Early displacement ||w - w0|| (L2 over all weights) after k updates, runs that got that far",
            &[
                "schedule",
                "k",
                "runs",
                "||w - w0|| (mean ± 95% CI)",
                "ratio to no warmup",
            ],
        );
        let mut fisher = Vec::new();
        let mut welch = Vec::new();
        let mut fig_disp = Figure::new("Early parameter displacement", "updates k", "||w - w0||")
            .with_x_scale(Scale::Log)
            .with_y_scale(Scale::Log)
            .with_caption("Mean L2 distance of all weights from their initial values after the first k updates. Warmup keeps the first steps small; without it Adam's first updates move every weight by about the peak rate at once.");
        let mut fig_acc = Figure::new("Test accuracy during training", "step", "test accuracy")
            .with_caption("Mean test accuracy after each epoch over the runs the harness did not stop (only a non-finite loss stops a run).");
        for (i, (label, _)) in warmups.iter().enumerate() {
            let g = &groups[i];
            let d = diverged(g);
            let acc: Vec<f64> = g.iter().map(|r| r.end.test_accuracy).collect();
            let steps_div: Vec<String> = g
                .iter()
                .filter_map(|r| r.blowup_at(BLOWUP_FACTOR).map(|s| s.to_string()))
                .collect();
            let (pf, pw) = if i == 0 {
                (Cell::text("—"), Cell::text("—"))
            } else {
                let f = fisher_exact(d, n - d, d_none, n - d_none);
                let t = welch_t_test(&acc, &acc_none);
                let cells = (Cell::number(f.p_value), Cell::number(t.p_value));
                fisher.push((label.clone(), f));
                welch.push((label.clone(), t));
                cells
            };
            table.push(vec![
                Cell::text(label.clone()),
                Cell::text(format!("{d} / {n}")),
                Cell::text(if steps_div.is_empty() {
                    "—".into()
                } else {
                    steps_div.join(", ")
                }),
                Cell::estimate(Estimate::from_samples(&acc)),
                pf,
                pw,
            ]);
            let mut pts = Vec::new();
            for k in DISPLACEMENT_AT {
                let ds = displacement(g, k);
                let base = mean(&displacement(none, k));
                if ds.is_empty() {
                    continue;
                }
                let e = Estimate::from_samples(&ds);
                pts.push((k as f64, e.mean));
                disp_table.push(vec![
                    Cell::text(label.clone()),
                    Cell::number(k as f64),
                    Cell::number(ds.len() as f64),
                    Cell::estimate(e),
                    Cell::number(e.mean / base),
                ]);
            }
            fig_disp
                .series
                .push(Series::line(label.clone(), pts).with_color(i));
            let alive: Vec<&&DigitsRun> = g.iter().filter(|r| !r.diverged).collect();
            if let Some(first) = alive.first() {
                let pts = (0..first.epochs.len())
                    .map(|e| {
                        (
                            first.epochs[e].step as f64,
                            mean(
                                &alive
                                    .iter()
                                    .map(|r| r.epochs[e].test_accuracy)
                                    .collect::<Vec<_>>(),
                            ),
                        )
                    })
                    .collect();
                fig_acc
                    .series
                    .push(Series::line(label.clone(), pts).with_color(i));
            }
        }
        let p_fisher = holm(&fisher.iter().map(|(_, t)| t.p_value).collect::<Vec<_>>());
        let p_welch = holm(&welch.iter().map(|(_, t)| t.p_value).collect::<Vec<_>>());
        let mut helps = Vec::new();
        let mut hurts = Vec::new();
        for (i, (label, _)) in warmups.iter().enumerate().skip(1) {
            let g = &groups[i];
            let d = diverged(g);
            let acc = mean(&g.iter().map(|r| r.end.test_accuracy).collect::<Vec<_>>());
            let div_better = p_fisher[i - 1] < 0.05 && d < d_none;
            let div_worse = p_fisher[i - 1] < 0.05 && d > d_none;
            let acc_better = p_welch[i - 1] < 0.05 && acc > mean(&acc_none);
            let acc_worse = p_welch[i - 1] < 0.05 && acc < mean(&acc_none);
            if (div_better || acc_better) && !(div_worse || acc_worse) {
                helps.push(label.clone());
            }
            if div_worse || acc_worse {
                hurts.push(label.clone());
            }
        }
        let outcome = if !hurts.is_empty() {
            Outcome::NotSupported
        } else if !helps.is_empty() {
            Outcome::Supported
        } else {
            Outcome::Inconclusive
        };
        let summary = warmups
            .iter()
            .zip(&groups)
            .map(|((label, _), g)| {
                format!(
                    "{label}: {} / {n} blew up, accuracy {}",
                    diverged(g),
                    fmt_num(mean(
                        &g.iter().map(|r| r.end.test_accuracy).collect::<Vec<_>>()
                    ))
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let explanation = match outcome {
            Outcome::Supported => format!(
                "Without warmup, Adam's first steps at peak {} (each weight moves by about the peak rate at once) blow the loss of the deep unnormalised MLP up; with a linear warmup ({}) it is significantly more stable. {summary}.",
                fmt_num(peak),
                helps.join(", ")
            ),
            Outcome::NotSupported => format!(
                "Warmup made things significantly worse here ({}): {summary}.",
                hurts.join(", ")
            ),
            Outcome::Inconclusive => format!(
                "No warmup length changed the blow-up rate or the final accuracy significantly at peak {} ({summary}). {}",
                fmt_num(peak),
                if d_none == 0 {
                    "Without warmup no run blew up: at this rate the first large steps are not destabilising enough for warmup to have anything to fix."
                } else {
                    "With this many seeds the difference in blow-up counts is not significant, and runs that blew up largely recovered before the end."
                }
            ),
        };
        let mut verdict = Verdict::new(
            outcome,
            "Each warmup length against no warmup: Fisher's exact test on the blow-up counts and Welch's t test on the final test accuracy (every run), each family Holm-adjusted. Supported when some warmup significantly (p < 0.05) lowers the blow-up rate or raises accuracy and none significantly hurts; not supported when a warmup significantly hurts; inconclusive otherwise.",
            explanation,
        );
        for ((label, t), p) in fisher.into_iter().zip(&p_fisher) {
            verdict = verdict.with_test(
                format!("blow-ups: {label} vs no warmup (Holm p = {})", fmt_num(*p)),
                t,
            );
        }
        for ((label, t), p) in welch.into_iter().zip(&p_welch) {
            verdict = verdict.with_test(
                format!(
                    "test accuracy: {label} vs no warmup (Holm p = {})",
                    fmt_num(*p)
                ),
                t,
            );
        }

        let mut report = ExperimentReport::new(self.name(), CLAIM, size, verdict);
        report.seeds = seeds.clone();
        report.setup = vec![
            format!(
                "Model: MLP 64-{}-10 ({DEPTH} hidden layers of {WIDTH}, ReLU, Kaiming-normal init, no normalisation) on the digits split (1437 training, 360 test images, standardised), batch {BATCH}, {steps_per_epoch} steps per epoch.",
                vec![WIDTH.to_string(); DEPTH].join("-")
            ),
            format!(
                "Optimizer: cadence-candle's Adam (PyTorch's rule, betas 0.9/0.999, eps 1e-8, no weight decay), learning rate cosine from the peak to 0 over {total} steps; warmups are linear from 0 and overlaid on the same cosine (`warmup(..., mode=overlay)`), so after the warmup all three schedules are one function."
            ),
            format!(
                "Divergence (a blow-up): some mini-batch loss above {BLOWUP_FACTOR} times the first step's loss (about ln 10, the loss of a uniform guess), or not finite. Runs go on after a blow-up (the harness stops only a non-finite loss), so the final accuracy shows whether they recovered. (The harness's own rule, a loss above a multiple of the best so far, also fires on ordinary late spikes once the loss is small, so it is not used here.)"
            ),
            format!(
                "Peak rate from a pilot: the smallest of {:?} at which at least {}% of the pilot runs without warmup blew up (else the largest): {}.",
                PILOT_PEAKS,
                PILOT_TARGET * 100.0,
                fmt_num(peak)
            ),
        ];
        let mut fig_pilot = Figure::new("Pilot: blow-ups without warmup", "peak rate", "fraction blown up")
            .with_x_scale(Scale::Log)
            .with_caption("Fraction of the pilot runs (no warmup) whose loss blew up, per peak rate; the main comparison runs at the first rate where it reaches the target.");
        fig_pilot
            .series
            .push(Series::line("no warmup", pilot_curve));
        let mut fig_lr = Figure::new("The schedules' first steps", "step", "learning rate")
            .with_caption("The learning rates of the three schedules over the longest warmup.");
        for (i, (label, w)) in warmups.iter().enumerate() {
            let s = cadence::text::parse(&schedule(peak, *w, total))?;
            let end = (5 * steps_per_epoch).min(total);
            fig_lr.series.push(
                Series::line(
                    label.clone(),
                    (0..end).map(|t| (t as f64, s.value(t))).collect(),
                )
                .with_color(i)
                .with_style(if i == 0 { Style::Solid } else { Style::Dashed }),
            );
        }
        report.figures = vec![fig_pilot, fig_lr, fig_disp, fig_acc];
        report.tables = vec![pilot_table, table, disp_table];
        report.count_runs(&pilot);
        report.count_runs(&runs);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Size;
    use crate::runner::Progress;

    #[test]
    fn schedules_differ_only_during_warmup() {
        let a = cadence::text::parse(&schedule(1e-2, 0, 100)).unwrap();
        let b = cadence::text::parse(&schedule(1e-2, 20, 100)).unwrap();
        assert!((a.value(0) - 1e-2).abs() < 1e-15);
        assert!(b.value(0).abs() < 1e-15);
        assert!(b.value(10) < a.value(10));
        for t in 20..100 {
            assert!((a.value(t) - b.value(t)).abs() < 1e-15, "{t}");
        }
    }

    #[test]
    fn quick_run_reports() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path(), Size::Quick).with_progress(Progress::Hidden);
        let r = Warmup.run(&config).unwrap();
        assert_eq!(r.tables.len(), 3);
        assert_eq!(r.tables[1].rows.len(), 3);
        assert_eq!(r.verdict.tests.len(), 4);
        assert!(!r.verdict.explanation.is_empty());
    }
}
