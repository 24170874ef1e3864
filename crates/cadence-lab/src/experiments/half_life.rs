//! `half-life`: a staircase and an exponential decay with the same half-life, matched
//! with `cadence::analysis`, compared on the noisy quadratic model and on the digits MLP.
//!
//! ```no_run
//! use cadence_lab::{Config, Experiment, Size};
//!
//! let r = cadence_lab::experiments::half_life::HalfLife.run(&Config::new("out", Size::Quick))?;
//! println!("{}", r.verdict.explanation);
//! # Ok::<(), anyhow::Error>(())
//! ```

use super::seeds;
use crate::Experiment;
use crate::digits::{Digits, DigitsJob, DigitsRun, train};
use crate::nqm::Nqm;
use crate::plot::{Figure, Scale, Series, Style};
use crate::report::{Cell, ExperimentReport, Outcome, Table, Verdict, fmt_num};
use crate::runner::{Config, run_parallel};
use crate::stats::{Estimate, TestResult, equivalence_test, holm, paired_t_test};
use anyhow::{Result, bail};
use cadence::analysis::{area, half_life, matched_exponential, matched_staircase};
use cadence::{Schedule, ScheduleSpec};
use serde::{Deserialize, Serialize};

/// The `half-life` experiment: the noisy-quadratic half and the digits-MLP half.
///
/// ```
/// use cadence_lab::Experiment;
/// assert_eq!(cadence_lab::experiments::half_life::HalfLife.name(), "half-life");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HalfLife;

const CLAIM: &str = "It's possible to design a step decay schedule that has the exact same half-life as a smooth exponential one. While their long-term decay rates are matched, their moment-to-moment behavior is different, and these subtle differences in their path can lead to slightly different final results, a hint that the journey of optimization is just as important as the destination.";

const SHAPES: [&str; 2] = ["staircase", "exponential"];

fn schedule(shape: &str, a0: f64, half: u64) -> Result<ScheduleSpec> {
    Ok(match shape {
        "staircase" => matched_staircase(a0, half)?.into(),
        "exponential" => matched_exponential(a0, half)?.into(),
        other => bail!("unknown shape {other:?}"),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    model: Nqm,
    a0: f64,
    shape: String,
    half_life: u64,
    steps: u64,
    particles: usize,
    seed: u64,
    record: Vec<u64>,
}

/// "Slightly different": the geometric-mean ratio of final losses within this factor.
const SLIGHT: f64 = 2.0;

impl Experiment for HalfLife {
    fn name(&self) -> &'static str {
        "half-life"
    }

    fn claim(&self) -> &'static str {
        CLAIM
    }

    fn run(&self, config: &Config) -> Result<ExperimentReport> {
        let size = config.size;
        let model = Nqm::LAB;
        let a0 = 0.5;
        let steps: u64 = size.pick(200, 1000);
        let halves: Vec<u64> = size.pick(vec![steps / 10], vec![steps / 20, steps / 10, steps / 5]);
        let particles = size.pick(400, 5000);
        let seeds = seeds(size, 5, 10);
        let record: Vec<u64> = (0..=100).map(|i| steps * i / 100).collect();
        let mut jobs = Vec::new();
        for &h in &halves {
            for shape in SHAPES {
                for &seed in &seeds {
                    jobs.push(Job {
                        model,
                        a0,
                        shape: shape.into(),
                        half_life: h,
                        steps,
                        particles,
                        seed,
                        record: record.clone(),
                    });
                }
            }
        }
        let runs = run_parallel(config, self.name(), &jobs, |job| {
            let s = schedule(&job.shape, job.a0, job.half_life)?;
            Ok(job
                .model
                .simulate(&s, job.steps, job.particles, job.seed, &job.record))
        })?;
        let pick = |shape: &str, h: u64| -> Vec<&Vec<f64>> {
            runs.results
                .iter()
                .zip(&jobs)
                .filter(|(_, j)| j.shape == shape && j.half_life == h)
                .map(|(r, _)| r)
                .collect()
        };

        let mut matched = Table::new(
            "Matched half-lives, measured with cadence::analysis::half_life from step t (steps until the rate halves)",
            &[
                "half-life H",
                "staircase from t = 0",
                "exponential from t = 0",
                "staircase from t = H/2",
                "exponential from t = H/2",
                "area ratio staircase / exponential over the run",
            ],
        );
        let mut outcomes = Table::new(
            format!(
                "Excess loss after {steps} steps (a whole number of half-lives: both rates are equal there)"
            ),
            &[
                "half-life H",
                "staircase (mean ± 95% CI)",
                "exponential (mean ± 95% CI)",
                "exact staircase",
                "exact exponential",
                "ratio staircase / exponential (geometric mean over seeds)",
                "paired t test on log loss: p",
            ],
        );
        let mut tests = Vec::new();
        let mut ratios = Vec::new();
        let mut fig = Figure::new("Staircase vs exponential with equal half-life", "step", "excess loss")
            .with_y_scale(Scale::Log)
            .with_caption("Mean excess loss over seeds; solid staircase, dashed exponential, one colour per half-life. The curves meet the same rates at every multiple of H but take different paths.");
        for (k, &h) in halves.iter().enumerate() {
            let stairs = schedule("staircase", a0, h)?;
            let smooth = schedule("exponential", a0, h)?;
            matched.push(vec![
                Cell::number(h as f64),
                Cell::number(half_life(&stairs, 0).map_or(f64::NAN, |v| v as f64)),
                Cell::number(half_life(&smooth, 0).map_or(f64::NAN, |v| v as f64)),
                Cell::number(half_life(&stairs, h / 2).map_or(f64::NAN, |v| v as f64)),
                Cell::number(half_life(&smooth, h / 2).map_or(f64::NAN, |v| v as f64)),
                Cell::number(area(&stairs, 0..steps) / area(&smooth, 0..steps)),
            ]);
            let last = record.len() - 1;
            let fs: Vec<f64> = pick("staircase", h)
                .iter()
                .map(|r| model.excess(r[last]))
                .collect();
            let fe: Vec<f64> = pick("exponential", h)
                .iter()
                .map(|r| model.excess(r[last]))
                .collect();
            let ls: Vec<f64> = fs.iter().map(|v| v.ln()).collect();
            let le: Vec<f64> = fe.iter().map(|v| v.ln()).collect();
            let t = paired_t_test(&ls, &le);
            let ratio = (crate::stats::mean(&ls) - crate::stats::mean(&le)).exp();
            ratios.push(ratio);
            let es = model.excess(model.exact(&stairs, steps).second_moment[steps as usize]);
            let ee = model.excess(model.exact(&smooth, steps).second_moment[steps as usize]);
            outcomes.push(vec![
                Cell::number(h as f64),
                Cell::estimate(Estimate::from_samples(&fs)),
                Cell::estimate(Estimate::from_samples(&fe)),
                Cell::number(es),
                Cell::number(ee),
                Cell::number(ratio),
                Cell::number(t.p_value),
            ]);
            tests.push((h, t));
            for (shape, style) in [("staircase", Style::Solid), ("exponential", Style::Dashed)] {
                let rs = pick(shape, h);
                let pts = record
                    .iter()
                    .enumerate()
                    .map(|(i, &step)| {
                        (
                            step as f64,
                            rs.iter().map(|r| model.excess(r[i])).sum::<f64>() / rs.len() as f64,
                        )
                    })
                    .collect();
                let name = if style == Style::Solid {
                    format!("H = {h}")
                } else {
                    String::new()
                };
                fig.series
                    .push(Series::line(name, pts).with_style(style).with_color(k));
            }
        }
        let p_adj = holm(&tests.iter().map(|(_, t)| t.p_value).collect::<Vec<_>>());
        let per_h: Vec<Outcome> = p_adj
            .iter()
            .zip(&ratios)
            .map(|(&p, &r)| {
                if p >= 0.05 {
                    Outcome::Inconclusive
                } else if (1.0 / SLIGHT..=SLIGHT).contains(&r) {
                    Outcome::Supported
                } else {
                    Outcome::NotSupported
                }
            })
            .collect();
        let nqm_outcome = super::all_of(&per_h);
        let ratio_text = halves
            .iter()
            .zip(&ratios)
            .map(|(h, r)| format!("H = {h}: {}", fmt_num(*r)))
            .collect::<Vec<_>>()
            .join(", ");
        let nqm_text = match nqm_outcome {
            Outcome::Supported => format!(
                "With equal half-lives (measured by cadence::analysis::half_life) the two decays end at measurably but slightly different losses; staircase / exponential final excess loss: {ratio_text}.{}",
                if ratios.iter().all(|&r| r > 1.0) {
                    " The staircase ends higher: it holds each rate for a whole half-life (2 ln 2 = 1.39 times the exponential's rate area per half-life), so it carries more noise into the end of each stair."
                } else {
                    ""
                }
            ),
            Outcome::NotSupported => format!(
                "The final results differ by more than a factor {SLIGHT}, which is not \"slightly\": staircase / exponential final excess loss: {ratio_text}. The staircase holds each rate for a whole half-life, so at the end it sits at the noise level of twice the final rate."
            ),
            Outcome::Inconclusive => format!(
                "No significant difference in final loss for some half-life (staircase / exponential: {ratio_text})."
            ),
        };
        let digits = digits_part(config, &seeds)?;
        let mut all = per_h.clone();
        all.extend(&digits.outcomes);
        let outcome = super::all_of(&all);
        let mut verdict = Verdict::new(
            outcome,
            format!(
                "Noisy quadratic: per half-life, a paired t test over seeds on the log final excess loss (common noise per seed), Holm-adjusted; supported when every difference is significant (p < 0.05) and slight (geometric-mean ratio within a factor {SLIGHT}); not supported when a significant difference exceeds that factor. Digits MLP: {} Supported overall only when both halves are.",
                digits.rule
            ),
            format!("Noisy quadratic: {nqm_text} Digits MLP: {}", digits.text),
        );
        for ((h, t), p) in tests.into_iter().zip(&p_adj) {
            verdict = verdict.with_test(
                format!(
                    "noisy quadratic, H = {h}: staircase vs exponential (Holm p = {})",
                    fmt_num(*p)
                ),
                t,
            );
        }
        for (name, t) in digits.tests {
            verdict = verdict.with_test(name, t);
        }
        let mut report = ExperimentReport::new(self.name(), CLAIM, size, verdict);
        report.seeds = seeds.clone();
        report.setup = vec![
            format!(
                "Noisy quadratic model as in `noise` (h = {}, c / B = {}, x0 = {}), {particles} particles per seed, {steps} steps, both schedules from a0 = {a0}; each seed's noise is shared by both shapes.",
                model.h,
                model.c / model.batch,
                model.x0
            ),
            format!(
                "Staircase: cadence::analysis::matched_staircase(a0, H) = a0 * 0.5^floor(t/H); exponential: matched_exponential(a0, H) = a0 * 0.5^(t/H); H in {halves:?}."
            ),
            digits.setup,
        ];
        let mut lr_fig = Figure::new("Equal half-life, different paths", "step", "learning rate")
            .with_y_scale(Scale::Log)
            .with_caption(format!(
                "The matched pair for H = {}: equal at every multiple of H.",
                halves[0]
            ));
        for (shape, style) in [("staircase", Style::Solid), ("exponential", Style::Dashed)] {
            let s = schedule(shape, a0, halves[0])?;
            lr_fig.series.push(
                Series::line(shape, (0..steps).map(|t| (t as f64, s.value(t))).collect())
                    .with_style(style),
            );
        }
        report.figures = vec![fig, lr_fig, digits.figure];
        report.tables = vec![matched, outcomes, digits.table];
        report.runs_executed = runs.executed + digits.executed;
        report.runs_reused = runs.reused + digits.reused;
        report.run_time_s = runs.run_seconds + digits.run_seconds;
        Ok(report)
    }
}

/// The digits half: outcomes per half-life, tests, a table, a figure and words.
struct DigitsPart {
    outcomes: Vec<Outcome>,
    tests: Vec<(String, TestResult)>,
    table: Table,
    figure: Figure,
    rule: String,
    text: String,
    setup: String,
    executed: usize,
    reused: usize,
    run_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DigitsHalfJob {
    shape: String,
    half_life_epochs: u64,
    digits: DigitsJob,
}

/// "Slightly different" on the digits: final test accuracies within this margin.
const ACCURACY_MARGIN: f64 = 0.01;
/// The digits runs' peak rate (heavy-ball SGD, momentum 0.9).
const DIGITS_PEAK: f64 = 0.05;

/// The matched staircase and exponential decays on the digits MLP trained on the whole
/// training pool: final test accuracy (equivalence within [`ACCURACY_MARGIN`]) and final
/// validation loss (paired t test) per half-life.
fn digits_part(config: &Config, seeds: &[u64]) -> Result<DigitsPart> {
    let size = config.size;
    let data = Digits::load()?;
    let epochs: u64 = size.pick(8, 24);
    let halves: Vec<u64> = size.pick(vec![2], vec![2, 6]);
    let template = DigitsJob::mlp(cadence::Constant::new(DIGITS_PEAK)?.into(), epochs, 0);
    let per_epoch = template.steps_per_epoch(&data);
    let mut jobs = Vec::new();
    for &h in &halves {
        for shape in SHAPES {
            for &seed in seeds {
                jobs.push(DigitsHalfJob {
                    shape: shape.into(),
                    half_life_epochs: h,
                    digits: DigitsJob {
                        schedule: schedule(shape, DIGITS_PEAK, h * per_epoch)?,
                        seed,
                        ..template.clone()
                    },
                });
            }
        }
    }
    let runs = run_parallel(config, "half-life-digits", &jobs, |job| {
        train(&job.digits, &data)
    })?;
    let pick = |shape: &str, h: u64| -> Vec<&DigitsRun> {
        runs.results
            .iter()
            .zip(&jobs)
            .filter(|(_, j)| j.shape == shape && j.half_life_epochs == h)
            .map(|(r, _)| r)
            .collect()
    };
    anyhow::ensure!(
        runs.results.iter().all(|r| !r.diverged),
        "a digits run diverged at peak {DIGITS_PEAK}"
    );
    let mut table = Table::new(
        format!(
            "Digits MLP after {epochs} epochs (a whole number of half-lives; mean ± 95% CI over {} seeds, paired by seed)",
            seeds.len()
        ),
        &[
            "half-life (epochs)",
            "staircase test accuracy",
            "exponential test accuracy",
            "difference staircase - exponential",
            "staircase validation loss",
            "exponential validation loss",
            "equivalence of accuracies within ± margin: p",
            "paired t test on validation loss: p",
        ],
    );
    let mut figure = Figure::new(
        "Digits MLP: staircase vs exponential with equal half-life",
        "epoch",
        "validation loss",
    )
    .with_y_scale(Scale::Log)
    .with_caption("Mean validation loss over seeds; solid staircase, dashed exponential, one colour per half-life.");
    let (mut tost, mut val_t, mut diffs) = (Vec::new(), Vec::new(), Vec::new());
    for (k, &h) in halves.iter().enumerate() {
        let (st, ex) = (pick("staircase", h), pick("exponential", h));
        let acc = |rs: &[&DigitsRun]| -> Vec<f64> {
            rs.iter().map(|r| r.final_epoch().test_accuracy).collect()
        };
        let val = |rs: &[&DigitsRun]| -> Vec<f64> {
            rs.iter().map(|r| r.final_epoch().val_loss).collect()
        };
        let d: Vec<f64> = acc(&st).iter().zip(acc(&ex)).map(|(a, b)| a - b).collect();
        let eq = equivalence_test(&d, -ACCURACY_MARGIN, ACCURACY_MARGIN);
        let acc_t = paired_t_test(&acc(&st), &acc(&ex));
        let vt = paired_t_test(&val(&st), &val(&ex));
        table.push(vec![
            Cell::number(h as f64),
            Cell::estimate(Estimate::from_samples(&acc(&st))),
            Cell::estimate(Estimate::from_samples(&acc(&ex))),
            Cell::estimate(Estimate::from_samples(&d)),
            Cell::estimate(Estimate::from_samples(&val(&st))),
            Cell::estimate(Estimate::from_samples(&val(&ex))),
            Cell::number(eq.p_value),
            Cell::number(vt.p_value),
        ]);
        for (shape, style, rs) in [
            ("staircase", Style::Solid, &st),
            ("exponential", Style::Dashed, &ex),
        ] {
            let n = rs[0].epochs.len();
            let pts = (0..n)
                .map(|i| {
                    let xs: Vec<f64> = rs.iter().map(|r| r.epochs[i].val_loss).collect();
                    (rs[0].epochs[i].epoch as f64, crate::stats::mean(&xs))
                })
                .collect();
            let name = if style == Style::Solid {
                format!("H = {h} epochs ({shape} solid, exponential dashed)")
            } else {
                String::new()
            };
            figure
                .series
                .push(Series::line(name, pts).with_style(style).with_color(k));
        }
        diffs.push(crate::stats::mean(&d));
        tost.push((h, eq, acc_t));
        val_t.push((h, vt));
    }
    let p_eq = holm(&tost.iter().map(|(_, e, _)| e.p_value).collect::<Vec<_>>());
    let p_acc = holm(&tost.iter().map(|(_, _, t)| t.p_value).collect::<Vec<_>>());
    let outcomes: Vec<Outcome> = tost
        .iter()
        .zip(p_eq.iter().zip(&p_acc))
        .zip(&diffs)
        .map(|((_, (&pe, &pa)), &d)| {
            if pe < 0.05 {
                Outcome::Supported
            } else if pa < 0.05 && d.abs() > ACCURACY_MARGIN {
                Outcome::NotSupported
            } else {
                Outcome::Inconclusive
            }
        })
        .collect();
    let per_h_text = tost
        .iter()
        .zip(&diffs)
        .zip(p_acc.iter())
        .map(|(((h, _, _), d), p)| {
            format!(
                "H = {h} epochs: {} percentage points (paired t, Holm p = {})",
                fmt_num(100.0 * d),
                fmt_num(*p)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let text = match super::all_of(&outcomes) {
        Outcome::Supported => format!(
            "the final test accuracies of the matched pair are equivalent within ± {} percentage point (two one-sided t tests): the paths differ, the results at most slightly. Mean difference staircase - exponential: {per_h_text}.",
            fmt_num(100.0 * ACCURACY_MARGIN)
        ),
        Outcome::NotSupported => format!(
            "the matched pair's final test accuracies differ significantly by more than ± {} percentage point, which is not slight: {per_h_text}.",
            fmt_num(100.0 * ACCURACY_MARGIN)
        ),
        Outcome::Inconclusive => format!(
            "the seeds cannot show the accuracies equivalent within ± {} percentage point, nor different by more: {per_h_text}.",
            fmt_num(100.0 * ACCURACY_MARGIN)
        ),
    };
    let rule = format!(
        "per half-life, the two one-sided t tests (TOST) of equivalence of the paired final test accuracies within ± {} (Holm-adjusted) — supported when p < 0.05; not supported when a paired t test (Holm) finds a significant difference beyond the margin; the paired t test on the final validation loss is reported alongside.",
        fmt_num(ACCURACY_MARGIN)
    );
    let mut tests = Vec::new();
    for (((h, eq, acc_t), (pe, pa)), (_, vt)) in
        tost.into_iter().zip(p_eq.iter().zip(&p_acc)).zip(val_t)
    {
        tests.push((
            format!(
                "digits, H = {h} epochs: final test accuracy staircase - exponential within ± {} (Holm p = {})",
                fmt_num(ACCURACY_MARGIN),
                fmt_num(*pe)
            ),
            eq,
        ));
        tests.push((
            format!(
                "digits, H = {h} epochs: final test accuracy, staircase vs exponential (Holm p = {})",
                fmt_num(*pa)
            ),
            acc_t,
        ));
        tests.push((
            format!("digits, H = {h} epochs: final validation loss, staircase vs exponential"),
            vt,
        ));
    }
    let setup = format!(
        "Digits MLP 64-128-10, heavy-ball SGD (momentum 0.9) from a0 = {DIGITS_PEAK}, batches of {}, {epochs} epochs of {per_epoch} steps on the 1149-image training pool; validation on 288 held-out training images, test on the fixed 360 (cadence_lab::digits). Staircase and exponential with H in {halves:?} epochs (times {per_epoch} steps); each seed fixes the weights and batch order of both shapes.",
        template.batch_size
    );
    Ok(DigitsPart {
        outcomes,
        tests,
        table,
        figure,
        rule,
        text,
        setup,
        executed: runs.executed,
        reused: runs.reused,
        run_seconds: runs.run_seconds,
    })
}
