//! `loss-prediction`: fit a schedule-aware loss law (`cadence-curve`) to the training-loss
//! curves of three schedules on the digits MLP, predict the curves of three other
//! schedules, and compare the prediction with naive baselines.
//!
//! ```no_run
//! use cadence_lab::{Config, Experiment, Size};
//!
//! let r = cadence_lab::experiments::loss_prediction::LossPrediction
//!     .run(&Config::new("out", Size::Quick))?;
//! println!("{}", r.verdict.explanation);
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::sync::Arc;

use super::seeds;
use crate::Experiment;
use crate::plot::{Figure, Scale, Series, Style};
use crate::report::{Cell, ExperimentReport, Outcome, Table, Verdict, fmt_num};
use crate::runner::{Config, run_parallel};
use crate::stats::{TestResult, holm, one_sample_t_test};
use anyhow::{Context, Result, bail};
use cadence::{Schedule, from_fn};
use cadence_candle::data::{Scaling, digits_split};
use cadence_candle::model::{Mlp, MlpConfig, Model};
use cadence_candle::train::{Progress, TrainConfig, Trainer, single_threaded};
use cadence_curve::{FitOptions, FittedLaw, LawKind, Metrics, Run, TrainingRun, fit};
use candle_core::Device;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The `loss-prediction` experiment.
///
/// ```
/// use cadence_lab::Experiment;
/// let e = cadence_lab::experiments::loss_prediction::LossPrediction;
/// assert_eq!(e.name(), "loss-prediction");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LossPrediction;

const CLAIM: &str = "While their long-term decay rates are matched, their moment-to-moment behavior is different, and these subtle differences in their path can lead to slightly different final results, a hint that the journey of optimization is just as important as the destination.";

/// Every schedule, fitted ones first.
const SCHEDULES: [&str; 6] = ["constant", "cosine", "step", "wsd", "linear", "exponential"];
/// The schedules the law is fitted on (as in the multi-power-law protocol: a constant, a
/// cosine and a two-level step).
const FIT: [&str; 3] = ["constant", "cosine", "step"];
/// The schedules the law predicts.
const PREDICT: [&str; 3] = ["wsd", "linear", "exponential"];
/// Peak learning rate of AdamW (the tuned digits default).
const PEAK: f64 = 3e-3;
/// Final learning rate of the decaying schedules, relative to the peak.
const END: f64 = 0.01;
/// Decoupled weight decay (the tuned digits default).
const WEIGHT_DECAY: f64 = 0.5;
/// Mini-batch size.
const BATCH: usize = 64;
/// Linear warmup from 0 to the peak, in epochs.
const WARMUP_EPOCHS: u64 = 2;
/// The law under test: cadence's power-area law with its default fit.
const LAW: LawKind = LawKind::PowerArea;

/// The seed of replicate `r` of schedule `i`: every run has its own seed (weights and
/// batch order), so no curve shares its noise with the curve that predicts it.
fn seed_of(schedule: usize, replicate: u64) -> u64 {
    1000 * schedule as u64 + replicate
}

/// The learning rate of schedule `name` at step `t` of `total`, after a linear warmup of
/// `warmup` steps from 0 to [`PEAK`]; with `u` the fraction of the post-warmup steps done:
///
/// ```text
/// constant      peak
/// cosine        end + (peak - end) (1 + cos(pi u)) / 2
/// step          peak, then peak / 10 from u = 1/2, then peak / 100 from u = 3/4
/// wsd           peak until u = 0.8, then linear to end at u = 1
/// linear        peak + (end - peak) u
/// exponential   peak (end / peak)^u
/// ```
fn lr(name: &str, t: u64, warmup: u64, total: u64) -> Result<f64> {
    if t < warmup {
        return Ok(PEAK * t as f64 / warmup as f64);
    }
    let u = (t - warmup) as f64 / (total - warmup).max(1) as f64;
    let end = PEAK * END;
    Ok(match name {
        "constant" => PEAK,
        "cosine" => end + (PEAK - end) * (1.0 + (std::f64::consts::PI * u).cos()) / 2.0,
        "step" if u < 0.5 => PEAK,
        "step" if u < 0.75 => PEAK / 10.0,
        "step" => PEAK / 100.0,
        "wsd" if u < 0.8 => PEAK,
        "wsd" => PEAK + (end - PEAK) * (u - 0.8) / 0.2,
        "linear" => PEAK + (end - PEAK) * u,
        "exponential" => PEAK * END.powf(u),
        other => bail!("unknown schedule {other:?}"),
    })
}

/// The per-step learning rates of a schedule.
fn lrs(name: &str, warmup: u64, total: u64) -> Result<Vec<f64>> {
    (0..total).map(|t| lr(name, t, warmup, total)).collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    schedule: String,
    epochs: u64,
    seed: u64,
}

/// One training run: the mean mini-batch training loss of every epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Trained {
    steps_per_epoch: u64,
    epoch_loss: Vec<f64>,
}

fn train(job: &Job) -> Result<Trained> {
    single_threaded(|| -> Result<Trained> {
        let (train, _test) = digits_split(Scaling::Standardize)?;
        let model = Mlp::new(&MlpConfig::default(), job.seed, &Device::Cpu)?;
        let optimizer = AdamW::new(
            model.vars(),
            ParamsAdamW {
                lr: PEAK,
                weight_decay: WEIGHT_DECAY,
                ..ParamsAdamW::default()
            },
        )?;
        let config = TrainConfig::new(job.epochs, BATCH)?
            .with_seed(job.seed)
            .with_progress(Progress::Hidden);
        let total = config.total_steps(train.len());
        let steps_per_epoch = total / job.epochs;
        let rates = lrs(&job.schedule, WARMUP_EPOCHS * steps_per_epoch, total)?;
        let schedule: Arc<dyn Schedule> =
            Arc::new(from_fn(move |t| rates[(t as usize).min(rates.len() - 1)]));
        let report = Trainer::new(&model, optimizer, &train, config)?
            .with_schedule(schedule)
            .run()?;
        if !report.stop.is_completed() {
            bail!("{} seed {}: {}", job.schedule, job.seed, report.stop);
        }
        let mut sums = vec![(0.0, 0usize); job.epochs as usize];
        for r in &report.history.steps {
            let s = &mut sums[r.epoch as usize];
            s.0 += r.loss;
            s.1 += 1;
        }
        Ok(Trained {
            steps_per_epoch,
            epoch_loss: sums.iter().map(|(s, n)| s / *n as f64).collect(),
        })
    })?
}

/// A loss curve as `cadence-curve` sees it: one point per epoch after warmup, at the
/// epoch's middle step, holding that epoch's mean training loss (averaged over `runs`).
fn curve(name: &str, runs: &[&Trained], epochs: u64) -> Result<TrainingRun> {
    let spe = runs[0].steps_per_epoch;
    let total = spe * epochs;
    let rates = lrs(name, WARMUP_EPOCHS * spe, total)?;
    let (mut steps, mut logged, mut loss) = (Vec::new(), Vec::new(), Vec::new());
    for e in WARMUP_EPOCHS..epochs {
        let step = e * spe + spe / 2;
        steps.push(step);
        logged.push(rates[step as usize]);
        let l: f64 = runs.iter().map(|r| r.epoch_loss[e as usize]).sum::<f64>();
        loss.push(l / runs.len() as f64);
    }
    let run = Run::new(name, steps, logged, loss).context("loss curve")?;
    Ok(TrainingRun::new(run, rates)?)
}

/// The naive predictions of a curve: the observed constant-rate curve, and the observed
/// curve of the fitted schedule whose learning rates are nearest (mean absolute
/// difference over every step).
fn baselines(target: &TrainingRun, fitted: &[TrainingRun]) -> [(String, Vec<f64>); 2] {
    let distance = |a: &TrainingRun| -> f64 {
        a.lrs()
            .iter()
            .zip(target.lrs())
            .map(|(x, y)| (x - y).abs())
            .sum()
    };
    let nearest = fitted
        .iter()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .expect("fitted curves");
    let constant = fitted
        .iter()
        .find(|r| r.run().name() == "constant")
        .expect("constant is fitted");
    [
        ("constant".to_string(), constant.run().loss().to_vec()),
        (
            nearest.run().name().to_string(),
            nearest.run().loss().to_vec(),
        ),
    ]
}

/// The better naive baseline's metrics on `target` (by MAE), with its name.
fn best_baseline(target: &TrainingRun, fitted: &[TrainingRun]) -> (String, Metrics) {
    baselines(target, fitted)
        .into_iter()
        .map(|(name, p)| (name, Metrics::of(target.run().loss(), &p)))
        .min_by(|a, b| a.1.mae.total_cmp(&b.1.mae))
        .expect("two baselines")
}

/// The law's prediction of `target`.
fn predict(law: &FittedLaw, target: &TrainingRun) -> Vec<f64> {
    law.predict_lrs(target.lrs(), target.run().steps())
}

/// One-sided p-value of `mean(xs) > 0` from the two-sided t test.
fn greater_than_zero(xs: &[f64]) -> TestResult {
    let two = one_sample_t_test(xs, 0.0);
    let p = if two.statistic > 0.0 {
        two.p_value / 2.0
    } else {
        1.0 - two.p_value / 2.0
    };
    TestResult {
        test: "one-sample t test (one-sided, mean > 0)".into(),
        p_value: p,
        ..two
    }
}

/// The rule: supported when the law's error is significantly below the baseline's on
/// every predicted curve (Holm-adjusted `p_law` < 0.05) and the law also wins on every
/// seed-averaged curve; not supported when the baseline is significantly better on some
/// curve; otherwise inconclusive.
fn outcome(p_law: &[f64], p_baseline: &[f64], law_wins_mean: &[bool]) -> Outcome {
    let (law, base) = (holm(p_law), holm(p_baseline));
    if base.iter().any(|&p| p < 0.05) {
        Outcome::NotSupported
    } else if law.iter().all(|&p| p < 0.05) && law_wins_mean.iter().all(|&w| w) {
        Outcome::Supported
    } else {
        Outcome::Inconclusive
    }
}

impl Experiment for LossPrediction {
    fn name(&self) -> &'static str {
        "loss-prediction"
    }

    fn claim(&self) -> &'static str {
        CLAIM
    }

    fn run(&self, config: &Config) -> Result<ExperimentReport> {
        let size = config.size;
        let epochs = size.pick(12, 40);
        let replicates = seeds(size, 5, 10);
        let jobs: Vec<Job> = SCHEDULES
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                replicates.iter().map(move |&r| Job {
                    schedule: s.to_string(),
                    epochs,
                    seed: seed_of(i, r),
                })
            })
            .collect();
        let runs = run_parallel(config, self.name(), &jobs, train)?;
        // Replicate `r` of every schedule, or all of them.
        let of = |i: usize, replicate: Option<u64>| -> Vec<&Trained> {
            runs.results
                .iter()
                .zip(&jobs)
                .filter(|(_, j)| {
                    j.schedule == SCHEDULES[i] && replicate.is_none_or(|r| j.seed == seed_of(i, r))
                })
                .map(|(r, _)| r)
                .collect()
        };
        let curves = |replicate: Option<u64>| -> Result<Vec<TrainingRun>> {
            SCHEDULES
                .iter()
                .enumerate()
                .map(|(i, s)| curve(s, &of(i, replicate), epochs))
                .collect()
        };
        let options = FitOptions::default();

        // The seed-averaged curves: every law, every predicted curve, both baselines.
        let mean_curves = curves(None)?;
        let (fitted, predicted) = mean_curves.split_at(FIT.len());
        let law = fit(LAW, fitted, &options)?.law;
        // The published laws for comparison; a fit that fails is reported, not fatal.
        let others: Vec<(LawKind, Option<FittedLaw>)> = [LawKind::MultiPower, LawKind::Annealing]
            .par_iter()
            .map(|&k| (k, fit(k, fitted, &options).ok().map(|f| f.law)))
            .collect();
        let laws: Vec<(LawKind, Option<FittedLaw>)> = std::iter::once((LAW, Some(law.clone())))
            .chain(others)
            .collect();
        let mut table = Table::new(
            format!(
                "Seed-averaged curves ({} seeds per schedule): the laws fitted on {} predict {}",
                replicates.len(),
                FIT.join(", "),
                PREDICT.join(", ")
            ),
            &["curve", "predictor", "R^2", "MAE", "WorstE"],
        );
        let mut law_wins_mean = Vec::new();
        let mut findings = Vec::new();
        for target in predicted {
            let name = target.run().name();
            for (kind, fitted_law) in &laws {
                let row = match fitted_law {
                    Some(l) => {
                        let m = Metrics::of(target.run().loss(), &predict(l, target));
                        vec![
                            Cell::number(m.r2),
                            Cell::number(m.mae),
                            Cell::number(m.worste),
                        ]
                    }
                    None => vec![Cell::text("fit failed"), Cell::text("-"), Cell::text("-")],
                };
                let mut cells = vec![Cell::text(name), Cell::text(format!("{kind} law"))];
                cells.extend(row);
                table.push(cells);
            }
            let mut shown = Vec::new();
            for (base, p) in baselines(target, fitted) {
                // The nearest schedule may be the constant one: one row each.
                if shown.contains(&base) {
                    continue;
                }
                shown.push(base.clone());
                let m = Metrics::of(target.run().loss(), &p);
                table.push(vec![
                    Cell::text(name),
                    Cell::text(format!("observed {base} curve")),
                    Cell::number(m.r2),
                    Cell::number(m.mae),
                    Cell::number(m.worste),
                ]);
            }
            let lm = Metrics::of(target.run().loss(), &predict(&law, target));
            let (base, b) = best_baseline(target, fitted);
            law_wins_mean.push(lm.mae < b.mae);
            findings.push(format!(
                "{name}: the {LAW} law predicts the seed-averaged curve with MAE {} (R^2 {}, WorstE {}), the best naive baseline (the observed {base} curve) with MAE {} ({:.1}x the law's).",
                fmt_num(lm.mae),
                fmt_num(lm.r2),
                fmt_num(lm.worste),
                fmt_num(b.mae),
                b.mae / lm.mae
            ));
        }
        let mut fitted_r2 = f64::INFINITY;
        for target in fitted {
            let m = Metrics::of(target.run().loss(), &predict(&law, target));
            fitted_r2 = fitted_r2.min(m.r2);
            table.push(vec![
                Cell::text(format!("{} (fitted)", target.run().name())),
                Cell::text(format!("{LAW} law")),
                Cell::number(m.r2),
                Cell::number(m.mae),
                Cell::number(m.worste),
            ]);
        }

        findings.push(format!(
            "The {LAW} law fits its own three seed-averaged curves with R^2 >= {}; where an untried schedule stays close to a fitted one for most of the run (wsd is the constant schedule for 80% of it), the observed curve of that run is the harder baseline to beat.",
            fmt_num(fitted_r2)
        ));
        // Per replicate: fit on its three curves, predict its other three.
        let per_seed = replicates
            .par_iter()
            .map(|&r| -> Result<Vec<(f64, f64)>> {
                let c = curves(Some(r))?;
                let (fitted, predicted) = c.split_at(FIT.len());
                let law = fit(LAW, fitted, &options)?.law;
                Ok(predicted
                    .iter()
                    .map(|t| {
                        let m = Metrics::of(t.run().loss(), &predict(&law, t));
                        (m.mae, best_baseline(t, fitted).1.mae)
                    })
                    .collect())
            })
            .collect::<Result<Vec<_>>>()?;
        let mut seed_table = Table::new(
            "Per replicate (fit on its three curves, each run with its own seed): MAE of the law and of the better naive baseline",
            &[
                "curve",
                "law MAE (mean)",
                "baseline MAE (mean)",
                "law better on",
                "mean ln(baseline / law)",
            ],
        );
        let (mut p_law, mut p_base, mut tests) = (Vec::new(), Vec::new(), Vec::new());
        for (i, name) in PREDICT.iter().enumerate() {
            let pairs: Vec<(f64, f64)> = per_seed.iter().map(|s| s[i]).collect();
            let d: Vec<f64> = pairs.iter().map(|(l, b)| (b / l).ln()).collect();
            let neg: Vec<f64> = d.iter().map(|x| -x).collect();
            let (law_better, base_better) = (greater_than_zero(&d), greater_than_zero(&neg));
            let n = pairs.len() as f64;
            seed_table.push(vec![
                Cell::text(*name),
                Cell::number(pairs.iter().map(|p| p.0).sum::<f64>() / n),
                Cell::number(pairs.iter().map(|p| p.1).sum::<f64>() / n),
                Cell::text(format!(
                    "{}/{}",
                    pairs.iter().filter(|(l, b)| l < b).count(),
                    pairs.len()
                )),
                Cell::number(d.iter().sum::<f64>() / n),
            ]);
            p_law.push(law_better.p_value);
            p_base.push(base_better.p_value);
            tests.push((name, law_better, base_better));
        }
        let outcome = outcome(&p_law, &p_base, &law_wins_mean);
        let (hl, hb) = (holm(&p_law), holm(&p_base));
        let explanation = match outcome {
            Outcome::Supported => format!(
                "The path of the schedule, summarised by a law fitted on three runs, predicts the loss curves of three untried schedules better than any observed curve does: on every predicted curve the {LAW} law's error is below the better naive baseline's, averaged over seeds and per replicate (Holm p = {}).",
                hl.iter()
                    .map(|p| fmt_num(*p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Outcome::NotSupported => format!(
                "A naive baseline predicts some untried schedule's curve significantly better than the {LAW} law fitted on three runs (Holm p = {}).",
                hb.iter()
                    .map(|p| fmt_num(*p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Outcome::Inconclusive => format!(
                "The {LAW} law does not beat the naive baselines on every predicted curve with significance (law better: Holm p = {}; seed-averaged wins: {:?}).",
                hl.iter()
                    .map(|p| fmt_num(*p))
                    .collect::<Vec<_>>()
                    .join(", "),
                law_wins_mean
            ),
        };
        let mut verdict = Verdict::new(
            outcome,
            format!(
                "For each predicted curve, per replicate, the law (fitted on that replicate's {} curves) and the better of two naive baselines (the observed constant-rate curve; the observed curve of the fitted schedule with the nearest learning rates), compared by MAE; one-sided one-sample t tests on ln(baseline MAE / law MAE) over replicates, Holm-adjusted over the three curves in each direction. Supported if the law is significantly better (p < 0.05) on every curve and also better on every seed-averaged curve; not supported if the baseline is significantly better on some curve; otherwise inconclusive.",
                FIT.join(", ")
            ),
            explanation,
        );
        for (name, law_better, base_better) in tests {
            verdict = verdict
                .with_test(
                    format!("{name}: law error below the baseline's"),
                    law_better,
                )
                .with_test(
                    format!("{name}: baseline error below the law's"),
                    base_better,
                );
        }

        // Plots: observed points, the law's fitted (solid) and predicted (dashed) curves.
        let spe = runs.results[0].steps_per_epoch;
        let total = spe * epochs;
        let mut fig = Figure::new(
            format!("Digits MLP: training loss vs the {LAW} law"),
            "optimizer step",
            "training loss (epoch mean)",
        )
        .with_y_scale(Scale::Log)
        .with_caption(format!(
            "Points: per-epoch mean training loss averaged over {} seeds. Solid: the {LAW} law fitted on {}; dashed: its predictions for {} (never seen by the fit).",
            replicates.len(),
            FIT.join(", "),
            PREDICT.join(", ")
        ));
        let dense: Vec<u64> = (WARMUP_EPOCHS * spe..total).step_by(4).collect();
        for (k, c) in mean_curves.iter().enumerate() {
            let run = c.run();
            let name = run.name();
            fig.series.push(
                Series::line(
                    format!("{name} observed"),
                    run.steps()
                        .iter()
                        .zip(run.loss())
                        .map(|(&s, &l)| (s as f64, l))
                        .collect(),
                )
                .with_style(Style::Points)
                .with_color(k),
            );
            let law_curve = law.predict_lrs(c.lrs(), &dense);
            let role = if k < FIT.len() { "fitted" } else { "predicted" };
            fig.series.push(
                Series::line(
                    format!("{name} {role}"),
                    dense
                        .iter()
                        .zip(law_curve)
                        .map(|(&s, l)| (s as f64, l))
                        .collect(),
                )
                .with_style(if k < FIT.len() {
                    Style::Solid
                } else {
                    Style::Dashed
                })
                .with_color(k),
            );
        }
        let mut lr_fig = Figure::new("The six schedules", "optimizer step", "learning rate")
            .with_caption(format!(
                "AdamW, peak {}, linear warmup over {WARMUP_EPOCHS} epochs, decays to {} x peak.",
                fmt_num(PEAK),
                fmt_num(END)
            ));
        for (k, c) in mean_curves.iter().enumerate() {
            lr_fig.series.push(
                Series::line(
                    c.run().name(),
                    (0..total)
                        .step_by(4)
                        .map(|t| (t as f64, c.lrs()[t as usize]))
                        .collect(),
                )
                .with_color(k),
            );
        }

        let mut report = ExperimentReport::new(self.name(), CLAIM, size, verdict);
        report.seeds = jobs.iter().map(|j| j.seed).collect();
        report.setup = vec![
            format!(
                "The digits MLP 64-128-10 (ReLU) trained by AdamW (peak {}, decoupled weight decay {WEIGHT_DECAY}, batch {BATCH}) for {epochs} epochs ({total} steps) under six schedules with the same peak and warmup: {}.",
                fmt_num(PEAK),
                SCHEDULES.join(", ")
            ),
            format!("Data points: the mean mini-batch training loss of each epoch after warmup (every training sample once), at the epoch's middle step. Every run has its own seed (weights and batch order): replicate r of schedule i uses seed 1000 i + r, r < {}; the main table averages the replicates, the test compares them one by one.", replicates.len()),
            format!(
                "Law: cadence-curve's {LAW} law with its default fit (Huber loss on log-loss, seeded multi-start Levenberg-Marquardt, shape prior), fitted on {} and predicting {}; the multi-power and LR-annealing laws are shown alongside.",
                FIT.join(", "),
                PREDICT.join(", ")
            ),
            "Naive baselines: predict an untried schedule's curve by an observed one - the constant-rate curve, or the fitted schedule's curve whose learning rates are nearest (mean absolute difference).".into(),
        ];
        report.figures = vec![fig, lr_fig];
        report.tables = vec![table, seed_table];
        report.findings = findings;
        report.count_runs(&runs);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_share_peak_warmup_and_end() {
        let (warmup, total) = (10, 110);
        for name in SCHEDULES {
            let r = lrs(name, warmup, total).unwrap();
            assert_eq!(r[0], 0.0, "{name}");
            assert!((r[warmup as usize] - PEAK).abs() < 1e-15, "{name}");
            assert!(
                r.windows(2).skip(warmup as usize).all(|w| w[1] <= w[0]),
                "{name}"
            );
            // At u = 1 every decay has reached the end rate.
            let end = lr(name, total, warmup, total).unwrap();
            let want = if name == "constant" { PEAK } else { PEAK * END };
            assert!((end - want).abs() < 1e-12, "{name}: {end}");
            assert!(r[total as usize - 1] >= want, "{name}");
        }
        assert!(lr("onecycle", 50, warmup, total).is_err());
    }

    #[test]
    fn outcome_rule() {
        assert_eq!(
            outcome(&[0.001, 0.001], &[0.9, 0.9], &[true, true]),
            Outcome::Supported
        );
        assert_eq!(
            outcome(&[0.001, 0.001], &[0.9, 0.9], &[true, false]),
            Outcome::Inconclusive
        );
        assert_eq!(
            outcome(&[0.001, 0.2], &[0.9, 0.9], &[true, true]),
            Outcome::Inconclusive
        );
        assert_eq!(
            outcome(&[0.001, 0.9], &[0.9, 0.001], &[true, true]),
            Outcome::NotSupported
        );
    }

    #[test]
    fn one_sided_test_direction() {
        assert!(greater_than_zero(&[1.0, 1.2, 0.9, 1.1]).p_value < 0.01);
        assert!(greater_than_zero(&[-1.0, -1.2, -0.9, -1.1]).p_value > 0.99);
    }

    #[test]
    fn baselines_pick_the_nearest_schedule() {
        let epochs = 6;
        let trained = Trained {
            steps_per_epoch: 10,
            epoch_loss: (0..epochs).map(|e| 1.0 / (1.0 + e as f64)).collect(),
        };
        let c = |name: &str| curve(name, &[&trained], epochs).unwrap();
        let fitted = [c("constant"), c("cosine"), c("step")];
        let names: Vec<String> = baselines(&c("wsd"), &fitted)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["constant", "constant"]);
        assert_eq!(baselines(&c("linear"), &fitted)[1].0, "cosine");
    }

    #[test]
    fn quick_run_predicts_every_untried_schedule() {
        let dir = std::env::temp_dir().join(format!("cadence-lab-loss-{}", std::process::id()));
        let config =
            Config::new(&dir, crate::Size::Quick).with_progress(crate::runner::Progress::Hidden);
        let r = LossPrediction.run(&config).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        eprintln!(
            "{}\n{:#?}\n{:#?}",
            r.verdict.explanation, r.tables, r.findings
        );
        assert_eq!(r.verdict.tests.len(), 2 * PREDICT.len());
        assert!(
            r.verdict
                .tests
                .iter()
                .all(|t| (0.0..=1.0).contains(&t.result.p_value))
        );
        assert_eq!(r.findings.len(), PREDICT.len() + 1);
        // Three laws and one or two distinct baselines per predicted curve, then the
        // fitted curves.
        let rows = r.tables[0].rows.len();
        assert!((4 * PREDICT.len() + FIT.len()..=5 * PREDICT.len() + FIT.len()).contains(&rows));
        assert_eq!(r.runs_executed, r.seeds.len());
        assert_eq!(r.seeds.len(), SCHEDULES.len() * 5);
    }
}
