//! `decay-speed`: the digits MLP on a training subset small enough to overfit, under an
//! aggressive, a balanced and a slow exponential decay from the same peak; train and
//! validation curves, a diagnosis computed from each run's logs (underfitting plateau,
//! widening generalisation gap) and its early-stopping point.
//!
//! ```no_run
//! use cadence_lab::{Config, Experiment, Size};
//!
//! let r = cadence_lab::experiments::decay_speed::DecaySpeed.run(&Config::new("out", Size::Quick))?;
//! println!("{}", r.verdict.explanation);
//! # Ok::<(), anyhow::Error>(())
//! ```

use super::seeds;
use crate::Experiment;
use crate::digits::{Digits, DigitsJob, DigitsRun, EpochMetrics, train};
use crate::plot::{Figure, Scale, Series, Style};
use crate::report::{Cell, ExperimentReport, Outcome, Table, Verdict, fmt_num};
use crate::runner::{Config, run_parallel};
use crate::stats::{Estimate, TestResult, holm, mean, one_sample_t_test, paired_t_test};
use anyhow::Result;
use cadence::ScheduleSpec;
use cadence::analysis::matched_exponential;
use serde::{Deserialize, Serialize};

/// The `decay-speed` experiment.
///
/// ```
/// use cadence_lab::Experiment;
/// assert_eq!(cadence_lab::experiments::decay_speed::DecaySpeed.name(), "decay-speed");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DecaySpeed;

const CLAIM: &str = "In the first scenario, a practitioner uses a very aggressive decay schedule. [...] Both the training and validation losses drop for a while and then plateau at a high value. [...] This is underfitting. [...] In the second scenario, the practitioner uses a very slow decay schedule. The learning rate stays high for a long time. The training loss goes down and down, eventually reaching a very low value. [...] While the training loss plummets, the validation loss, after an initial dip, starts to climb. The gap between how the model performs on seen versus unseen data widens. This is the classic signature of overfitting. [...] These behaviors are directly observable in training logs.";

/// The three decay speeds, fastest first.
const SPEEDS: [Speed; 3] = [Speed::Aggressive, Speed::Balanced, Speed::Slow];

/// A decay speed: an exponential decay from the common peak with this half-life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Speed {
    Aggressive,
    Balanced,
    Slow,
}

impl Speed {
    fn label(self) -> &'static str {
        match self {
            Speed::Aggressive => "aggressive",
            Speed::Balanced => "balanced",
            Speed::Slow => "slow",
        }
    }

    /// The half-life in optimizer steps for a run of `epochs` epochs of `per_epoch` steps.
    fn half_life(self, epochs: u64, per_epoch: u64) -> u64 {
        match self {
            // The rate is below 1% of the peak after seven epochs.
            Speed::Aggressive => per_epoch,
            // Eight half-lives over the run: it ends at 1/256 of the peak.
            Speed::Balanced => (epochs * per_epoch / 8).max(1),
            // Ends at 0.84 of the peak: the rate stays high throughout.
            Speed::Slow => 4 * epochs * per_epoch,
        }
    }
}

/// The training subset: small enough for the MLP to fit every image.
const SUBSET: usize = 100;
/// The common peak learning rate (heavy-ball SGD, momentum 0.9).
const PEAK: f64 = 0.1;
/// A plateau: over the last quarter of the run the rate is below this fraction of the
/// peak ...
const SMALL_LR: f64 = 0.01;
/// ... and the training loss falls by less than this fraction of itself ...
const STALL: f64 = 0.05;
/// ... while it is still above this (a model that fits its subset gets far below).
const HIGH_LOSS: f64 = 0.1;
/// A widening gap: the validation loss ends this fraction above its minimum while the
/// training loss fell and the gap grew since.
const RISE: f64 = 0.1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    speed: Speed,
    digits: DigitsJob,
}

/// What the logs of one run say.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Diagnosis {
    /// The epoch where an underfitting plateau begins, if the run ends on one.
    plateau_from: Option<u64>,
    /// Whether the validation loss climbed from its minimum while the training loss fell.
    widening_gap: bool,
    /// The early-stopping point: the epoch of lowest validation loss.
    best_epoch: u64,
}

/// Reads a run's logs (the rate of every step, the metrics of every epoch) against its
/// schedule's `peak`.
fn diagnose(run: &DigitsRun, peak: f64) -> Diagnosis {
    let epochs = &run.epochs;
    let last = epochs.len() - 1;
    let best = run.best_val_epoch();
    // The epoch-end rate of epoch record i.
    let lr_after = |e: &EpochMetrics| run.lr[(e.step.max(1) - 1) as usize];
    // Plateau: the earliest epoch from which the rate stays small and the training loss
    // moves by less than STALL of itself up to the end, with the end loss still high.
    let end = epochs[last].train_loss;
    let mut plateau_from = None;
    if end > HIGH_LOSS {
        for (i, e) in epochs.iter().enumerate().rev() {
            let small = lr_after(e) < SMALL_LR * peak;
            let stalled = (e.train_loss - end).abs() < STALL * end;
            if small && stalled {
                plateau_from = Some(epochs[i].epoch);
            } else {
                break;
            }
        }
        // A plateau must cover at least the last quarter of the run.
        let quarter = epochs[last].epoch - epochs.len() as u64 / 4;
        if plateau_from.is_some_and(|p| p > quarter) {
            plateau_from = None;
        }
    }
    let fin = &epochs[last];
    let widening_gap = fin.val_loss > (1.0 + RISE) * best.val_loss
        && fin.train_loss < best.train_loss
        && fin.gap() > best.gap();
    Diagnosis {
        plateau_from,
        widening_gap,
        best_epoch: best.epoch,
    }
}

/// Mean and 95% interval of `f` over runs, epoch by epoch, as plot series: the mean
/// (named, solid or dashed) and the interval's two ends (thin dashed, unnamed).
fn curves(
    runs: &[&DigitsRun],
    f: impl Fn(&EpochMetrics) -> f64,
    name: &str,
    color: usize,
) -> Vec<Series> {
    let n = runs.iter().map(|r| r.epochs.len()).min().unwrap_or(0);
    let (mut m, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let xs: Vec<f64> = runs.iter().map(|r| f(&r.epochs[i])).collect();
        let e = Estimate::from_samples(&xs);
        let x = runs[0].epochs[i].epoch as f64;
        m.push((x, e.mean));
        lo.push((x, e.lo()));
        hi.push((x, e.hi()));
    }
    vec![
        Series::line(name, m).with_color(color),
        Series::line("", lo)
            .with_style(Style::Dashed)
            .with_color(color),
        Series::line("", hi)
            .with_style(Style::Dashed)
            .with_color(color),
    ]
}

fn fraction(flags: impl Iterator<Item = bool>) -> String {
    let (mut k, mut n) = (0, 0);
    for f in flags {
        n += 1;
        k += usize::from(f);
    }
    format!("{k}/{n}")
}

impl Experiment for DecaySpeed {
    fn name(&self) -> &'static str {
        "decay-speed"
    }

    fn claim(&self) -> &'static str {
        CLAIM
    }

    fn run(&self, config: &Config) -> Result<ExperimentReport> {
        let size = config.size;
        let data = Digits::load()?;
        let epochs: u64 = size.pick(40, 150);
        let seeds = seeds(size, 5, 20);
        let template = DigitsJob::mlp(cadence::Constant::new(PEAK)?.into(), epochs, 0)
            .with_train_subset(SUBSET);
        let per_epoch = template.steps_per_epoch(&data);
        let spec = |speed: Speed| -> Result<ScheduleSpec> {
            Ok(matched_exponential(PEAK, speed.half_life(epochs, per_epoch))?.into())
        };
        let mut jobs = Vec::new();
        for speed in SPEEDS {
            for &seed in &seeds {
                jobs.push(Job {
                    speed,
                    digits: DigitsJob {
                        schedule: spec(speed)?,
                        seed,
                        ..template.clone()
                    },
                });
            }
        }
        let runs = run_parallel(config, self.name(), &jobs, |job| train(&job.digits, &data))?;
        let pick = |speed: Speed| -> Vec<&DigitsRun> {
            runs.results
                .iter()
                .zip(&jobs)
                .filter(|(_, j)| j.speed == speed)
                .map(|(r, _)| r)
                .collect()
        };
        let diverged: usize = runs.results.iter().filter(|r| r.diverged).count();
        anyhow::ensure!(
            diverged == 0,
            "{diverged} runs diverged at peak {PEAK}; the experiment needs stable runs"
        );

        // Per-run diagnoses and the table.
        let mut table = Table::new(
            format!(
                "After {epochs} epochs on {SUBSET} training images (mean ± 95% CI over {} seeds); the early-stopping point is the epoch of lowest validation loss",
                seeds.len()
            ),
            &[
                "decay",
                "half-life (steps)",
                "final lr / peak",
                "final train loss",
                "final validation loss",
                "lowest validation loss",
                "early-stopping epoch",
                "final gap (val - train)",
                "final test accuracy",
                "test accuracy at early stop",
                "underfitting plateau (runs)",
                "widening gap (runs)",
            ],
        );
        let mut diagnoses = Vec::new();
        for speed in SPEEDS {
            let rs = pick(speed);
            let d: Vec<Diagnosis> = rs.iter().map(|r| diagnose(r, PEAK)).collect();
            let col = |f: &dyn Fn(&DigitsRun) -> f64| {
                Cell::estimate(Estimate::from_samples(
                    &rs.iter().map(|&r| f(r)).collect::<Vec<_>>(),
                ))
            };
            let h = speed.half_life(epochs, per_epoch);
            table.push(vec![
                Cell::text(speed.label()),
                Cell::number(h as f64),
                Cell::number(rs[0].lr.last().copied().unwrap_or(f64::NAN) / PEAK),
                col(&|r| r.final_epoch().train_loss),
                col(&|r| r.final_epoch().val_loss),
                col(&|r| r.best_val_epoch().val_loss),
                col(&|r| r.best_val_epoch().epoch as f64),
                col(&|r| r.final_epoch().gap()),
                col(&|r| r.final_epoch().test_accuracy),
                col(&|r| r.best_val_epoch().test_accuracy),
                Cell::text(fraction(d.iter().map(|x| x.plateau_from.is_some()))),
                Cell::text(fraction(d.iter().map(|x| x.widening_gap))),
            ]);
            diagnoses.push(d);
        }

        // The tests of the claim.
        let (agg, bal, slow) = (
            pick(Speed::Aggressive),
            pick(Speed::Balanced),
            pick(Speed::Slow),
        );
        let log_train = |rs: &[&DigitsRun]| -> Vec<f64> {
            rs.iter().map(|r| r.final_epoch().train_loss.ln()).collect()
        };
        let underfit = paired_t_test(&log_train(&agg), &log_train(&bal));
        let rise: Vec<f64> = slow
            .iter()
            .map(|r| (r.final_epoch().val_loss / r.best_val_epoch().val_loss).ln())
            .collect();
        let climb = one_sample_t_test(&rise, 0.0);
        let gap =
            |rs: &[&DigitsRun]| -> Vec<f64> { rs.iter().map(|r| r.final_epoch().gap()).collect() };
        let widen = paired_t_test(&gap(&slow), &gap(&bal));
        let tests: [(&str, TestResult); 3] = [
            (
                "underfitting: log final training loss, aggressive vs balanced (claim: higher)",
                underfit,
            ),
            (
                "overfitting: log(final / lowest validation loss) under slow decay (claim: above 0, the validation loss climbs)",
                climb,
            ),
            (
                "widening gap: final validation - training loss, slow vs balanced (claim: larger)",
                widen,
            ),
        ];
        let p_adj = holm(&tests.iter().map(|(_, t)| t.p_value).collect::<Vec<_>>());
        let per_test: Vec<Outcome> = tests
            .iter()
            .zip(&p_adj)
            .map(|((_, t), &p)| match (p < 0.05, t.statistic > 0.0) {
                (true, true) => Outcome::Supported,
                (true, false) => Outcome::NotSupported,
                (false, _) => Outcome::Inconclusive,
            })
            .collect();
        let majority = |d: &[Diagnosis], f: &dyn Fn(&Diagnosis) -> bool| {
            2 * d.iter().filter(|x| f(x)).count() > d.len()
        };
        let plateau_seen = majority(&diagnoses[0], &|x| x.plateau_from.is_some());
        let gap_seen = majority(&diagnoses[2], &|x| x.widening_gap);
        let mut outcomes = per_test.clone();
        outcomes.push(if plateau_seen && gap_seen {
            Outcome::Supported
        } else {
            Outcome::Inconclusive
        });
        let outcome = super::all_of(&outcomes);

        let mut missing: Vec<String> = tests
            .iter()
            .zip(&per_test)
            .filter(|(_, o)| **o == Outcome::Inconclusive)
            .map(|((name, _), _)| {
                format!(
                    "the {} test is not significant after Holm's adjustment",
                    name.split(':').next().unwrap_or(name)
                )
            })
            .collect();
        if !plateau_seen {
            missing.push(
                "the logs flag an underfitting plateau in at most half of the aggressive runs"
                    .into(),
            );
        }
        if !gap_seen {
            missing.push("the logs flag a widening gap in at most half of the slow runs".into());
        }
        let inconclusive_because = format!(
            "The data do not show both scenarios clearly: {}.",
            missing.join("; ")
        );
        let m = |xs: &[f64]| fmt_num(mean(xs));
        let train_ratio = (mean(&log_train(&agg)) - mean(&log_train(&bal))).exp();
        let rise_pct = 100.0 * (mean(&rise).exp() - 1.0);
        let explanation = format!(
            "{} Aggressive decay ends with a training loss {}x the balanced one's (geometric mean), on a plateau (lr < {} of the peak, loss moving < {}%) in {} runs. Slow decay drives the training loss to {} while the validation loss climbs {}% above its minimum (reached at epoch {} on average), and its final gap val - train is {} against {} for the balanced decay; the logs flag a widening gap in {} runs.{}",
            match outcome {
                Outcome::Supported => "The data support both scenarios.",
                Outcome::NotSupported => {
                    "The data contradict the claim in at least one scenario (a test significant in the opposite direction)."
                }
                Outcome::Inconclusive => inconclusive_because.as_str(),
            },
            fmt_num(train_ratio),
            fmt_num(SMALL_LR),
            fmt_num(100.0 * STALL),
            fraction(diagnoses[0].iter().map(|x| x.plateau_from.is_some())),
            m(&slow
                .iter()
                .map(|r| r.final_epoch().train_loss)
                .collect::<Vec<_>>()),
            fmt_num(rise_pct),
            m(&slow
                .iter()
                .map(|r| r.best_val_epoch().epoch as f64)
                .collect::<Vec<_>>()),
            m(&gap(&slow)),
            m(&gap(&bal)),
            fraction(diagnoses[2].iter().map(|x| x.widening_gap)),
            if majority(&diagnoses[1], &|x| x.widening_gap) {
                " The balanced decay's validation loss climbs too: on a subset this small, any schedule that fits it overfits in loss, and early stopping helps all of them."
            } else {
                ""
            }
        );
        let mut verdict = Verdict::new(
            outcome,
            format!(
                "Three tests over seeds (paired where the runs share a seed), Holm-adjusted: supported when each is significant (p < 0.05) in the claimed direction and the log diagnoses flag a plateau in most aggressive runs and a widening gap in most slow runs; not supported when a test is significant in the opposite direction. Diagnoses: plateau = over at least the last quarter of the run the lr is below {} of the peak and the training loss moves by less than {}% while above {}; widening gap = the final validation loss exceeds its minimum by more than {}% while the training loss fell and the gap grew since.",
                fmt_num(SMALL_LR),
                fmt_num(100.0 * STALL),
                fmt_num(HIGH_LOSS),
                fmt_num(100.0 * RISE)
            ),
            explanation,
        );
        for ((name, t), p) in tests.into_iter().zip(&p_adj) {
            verdict = verdict.with_test(format!("{name} (Holm p = {})", fmt_num(*p)), t);
        }

        // Findings: what early stopping buys, per schedule.
        let mut findings = Vec::new();
        for (speed, d) in SPEEDS.iter().zip(&diagnoses) {
            let rs = pick(*speed);
            let at_stop: Vec<f64> = rs
                .iter()
                .map(|r| r.best_val_epoch().test_accuracy)
                .collect();
            let at_end: Vec<f64> = rs.iter().map(|r| r.final_epoch().test_accuracy).collect();
            let t = paired_t_test(&at_stop, &at_end);
            let starts: Vec<f64> = d
                .iter()
                .filter_map(|x| x.plateau_from.map(|e| e as f64))
                .collect();
            findings.push(format!(
                "{}: early stopping at epoch {} (mean) gives test accuracy {} against {} at the end (paired t p = {}){}.",
                speed.label(),
                m(&d.iter().map(|x| x.best_epoch as f64).collect::<Vec<_>>()),
                m(&at_stop),
                m(&at_end),
                fmt_num(t.p_value),
                if starts.is_empty() {
                    String::new()
                } else {
                    format!("; the plateau begins at epoch {} on average", m(&starts))
                }
            ));
        }

        // Loss and accuracy can disagree: the validation loss climbs from over-confident
        // predictions while the error rate still falls.
        let slow_stop: Vec<f64> = slow
            .iter()
            .map(|r| r.best_val_epoch().test_accuracy)
            .collect();
        let slow_end: Vec<f64> = slow.iter().map(|r| r.final_epoch().test_accuracy).collect();
        let t = paired_t_test(&slow_stop, &slow_end);
        if t.p_value < 0.05 && mean(&slow_end) > mean(&slow_stop) {
            findings.push(format!(
                "Under slow decay the validation loss climbs but the test accuracy does not fall: it ends {} percentage points above its value at the early-stopping point (paired t p = {}). The overfitting shows in the loss (over-confident predictions on unseen images), not in the error rate, so early stopping on the validation loss costs accuracy here.",
                fmt_num(100.0 * (mean(&slow_end) - mean(&slow_stop))),
                fmt_num(t.p_value)
            ));
        }

        // Figures.
        let mut train_fig = Figure::new("Training loss", "epoch", "training loss (full pass)")
            .with_y_scale(Scale::Log)
            .with_caption("Mean over seeds (solid) with its 95% confidence interval (thin dashed), one colour per decay speed.");
        let mut val_fig = Figure::new("Validation loss", "epoch", "validation loss")
            .with_y_scale(Scale::Log)
            .with_caption("Mean over seeds with its 95% interval; dots: the mean early-stopping point (epoch and value of the lowest validation loss).");
        let mut gap_fig = Figure::new("Generalisation gap", "epoch", "validation - training loss")
            .with_caption("Mean over seeds with its 95% interval. A gap that keeps widening while the training loss falls is the log signature of overfitting.");
        let mut lr_fig = Figure::new("The three decays", "epoch", "learning rate")
            .with_y_scale(Scale::Log)
            .with_caption(format!(
                "Exponential decays from the same peak {PEAK}; half-lives in the table. The aggressive rate is below 1% of the peak within seven epochs."
            ));
        for (k, speed) in SPEEDS.iter().enumerate() {
            let rs = pick(*speed);
            train_fig
                .series
                .extend(curves(&rs, |e| e.train_loss, speed.label(), k));
            val_fig
                .series
                .extend(curves(&rs, |e| e.val_loss, speed.label(), k));
            gap_fig
                .series
                .extend(curves(&rs, EpochMetrics::gap, speed.label(), k));
            let best_x: Vec<f64> = rs.iter().map(|r| r.best_val_epoch().epoch as f64).collect();
            let best_y: Vec<f64> = rs.iter().map(|r| r.best_val_epoch().val_loss).collect();
            val_fig.series.push(
                Series::line("", vec![(mean(&best_x), mean(&best_y))])
                    .with_style(Style::Points)
                    .with_color(k),
            );
            lr_fig.series.push(
                Series::line(
                    speed.label(),
                    rs[0]
                        .lr
                        .iter()
                        .enumerate()
                        .map(|(t, &lr)| (t as f64 / per_epoch as f64, lr))
                        .collect(),
                )
                .with_color(k),
            );
        }

        let mut report = ExperimentReport::new(self.name(), CLAIM, size, verdict);
        report.seeds = seeds;
        report.setup = vec![
            format!(
                "Digits MLP 64-128-10 (ReLU), heavy-ball SGD with momentum 0.9, batches of {}, {epochs} epochs ({per_epoch} steps each) on a class-balanced subset of {SUBSET} training images drawn per seed; validation on 288 held-out training images, test on the fixed 360-image test set (cadence_lab::digits).",
                template.batch_size
            ),
            format!(
                "Decays: cadence::analysis::matched_exponential(peak = {PEAK}, H) with H = {} steps (aggressive: one epoch), {} (balanced: eight half-lives per run) and {} (slow: four runs per half-life).",
                Speed::Aggressive.half_life(epochs, per_epoch),
                Speed::Balanced.half_life(epochs, per_epoch),
                Speed::Slow.half_life(epochs, per_epoch)
            ),
            "Each seed fixes the initial weights, the batch order and the subset; the three decays share them (paired comparisons). Training loss and accuracy are a full pass over the subset after each epoch.".into(),
        ];
        report.figures = vec![train_fig, val_fig, gap_fig, lr_fig];
        report.tables = vec![table];
        report.findings = findings;
        report.count_runs(&runs);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digits::EndMetrics;

    fn run_of(curve: &[(f64, f64)], lr: &[f64], per_epoch: u64) -> DigitsRun {
        DigitsRun {
            epochs: curve
                .iter()
                .enumerate()
                .map(|(i, &(train_loss, val_loss))| EpochMetrics {
                    epoch: i as u64 + 1,
                    step: (i as u64 + 1) * per_epoch,
                    train_loss,
                    train_accuracy: 0.9,
                    val_loss,
                    val_accuracy: 0.9,
                    test_loss: val_loss,
                    test_accuracy: 0.9,
                })
                .collect(),
            lr: lr.to_vec(),
            loss: vec![1.0; lr.len()],
            diverged: false,
            end: EndMetrics {
                train_loss: curve.last().map_or(f64::NAN, |c| c.0),
                train_accuracy: 0.9,
                test_loss: curve.last().map_or(f64::NAN, |c| c.1),
                test_accuracy: 0.9,
            },
            displacement: Vec::new(),
        }
    }

    #[test]
    fn a_stalled_high_loss_at_a_small_rate_is_a_plateau() {
        // 8 epochs of 2 steps; the rate collapses after epoch 2, the loss stalls at 0.8.
        let lr: Vec<f64> = (0..16).map(|t| if t < 4 { 0.1 } else { 1e-5 }).collect();
        let curve = [
            (2.0, 2.1),
            (1.0, 1.1),
            (0.81, 0.9),
            (0.805, 0.9),
            (0.80, 0.9),
            (0.80, 0.9),
            (0.80, 0.9),
            (0.80, 0.9),
        ];
        let d = diagnose(&run_of(&curve, &lr, 2), 0.1);
        assert_eq!(d.plateau_from, Some(3));
        assert!(!d.widening_gap);
        // The same losses at a high rate: not a plateau of the schedule's making.
        let d = diagnose(&run_of(&curve, &[0.1; 16], 2), 0.1);
        assert_eq!(d.plateau_from, None);
    }

    #[test]
    fn a_climbing_validation_loss_over_a_falling_training_loss_is_a_widening_gap() {
        let curve = [(1.0, 1.0), (0.5, 0.6), (0.2, 0.5), (0.05, 0.6), (0.01, 0.8)];
        let d = diagnose(&run_of(&curve, &[0.1; 10], 2), 0.1);
        assert!(d.widening_gap);
        assert_eq!(d.best_epoch, 3);
        assert_eq!(d.plateau_from, None);
        // The validation loss within 10% of its minimum: no flag.
        let flat = [
            (1.0, 1.0),
            (0.5, 0.6),
            (0.2, 0.5),
            (0.05, 0.52),
            (0.01, 0.53),
        ];
        assert!(!diagnose(&run_of(&flat, &[0.1; 10], 2), 0.1).widening_gap);
    }

    #[test]
    fn half_lives_order_the_speeds() {
        let h: Vec<u64> = SPEEDS.iter().map(|s| s.half_life(100, 5)).collect();
        assert!(h[0] < h[1] && h[1] < h[2]);
        assert_eq!(Speed::Aggressive.half_life(100, 4), 4);
    }
}
