//! `half-life`: a staircase and an exponential decay with the same half-life, matched
//! with `cadence::analysis`, compared on the noisy quadratic model.
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
use crate::nqm::Nqm;
use crate::plot::{Figure, Scale, Series, Style};
use crate::report::{Cell, ExperimentReport, Outcome, Table, Verdict, fmt_num};
use crate::runner::{Config, run_parallel};
use crate::stats::{Estimate, holm, paired_t_test};
use anyhow::{Result, bail};
use cadence::Schedule;
use cadence::analysis::{area, half_life, matched_exponential, matched_staircase};
use serde::{Deserialize, Serialize};

/// The `half-life` experiment (its noisy-quadratic half; the digits half joins with the
/// training harness).
///
/// ```
/// use cadence_lab::Experiment;
/// assert_eq!(cadence_lab::experiments::half_life::HalfLife.name(), "half-life");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HalfLife;

const CLAIM: &str = "It's possible to design a step decay schedule that has the exact same half-life as a smooth exponential one. While their long-term decay rates are matched, their moment-to-moment behavior is different, and these subtle differences in their path can lead to slightly different final results, a hint that the journey of optimization is just as important as the destination.";

const SHAPES: [&str; 2] = ["staircase", "exponential"];

fn schedule(shape: &str, a0: f64, half: u64) -> Result<Box<dyn Schedule>> {
    Ok(match shape {
        "staircase" => Box::new(matched_staircase(a0, half)?),
        "exponential" => Box::new(matched_exponential(a0, half)?),
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
        let outcome = super::all_of(&per_h);
        let ratio_text = halves
            .iter()
            .zip(&ratios)
            .map(|(h, r)| format!("H = {h}: {}", fmt_num(*r)))
            .collect::<Vec<_>>()
            .join(", ");
        let explanation = match outcome {
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
        let mut verdict = Verdict::new(
            outcome,
            format!(
                "Per half-life, a paired t test over seeds on the log final excess loss (common noise per seed), Holm-adjusted; supported when every difference is significant (p < 0.05) and slight (geometric-mean ratio within a factor {SLIGHT}); not supported when a significant difference exceeds that factor."
            ),
            explanation,
        );
        for ((h, t), p) in tests.into_iter().zip(&p_adj) {
            verdict = verdict.with_test(
                format!(
                    "H = {h}: staircase vs exponential (Holm p = {})",
                    fmt_num(*p)
                ),
                t,
            );
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
            "The digits-MLP half of this comparison joins when the lab's training harness lands."
                .into(),
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
        report.figures = vec![fig, lr_fig];
        report.tables = vec![matched, outcomes];
        report.runs_executed = runs.executed;
        report.runs_reused = runs.reused;
        report.run_time_s = runs.run_seconds;
        Ok(report)
    }
}
