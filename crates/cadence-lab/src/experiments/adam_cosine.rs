//! `adam-cosine`: Adam under a cosine, a constant and a step schedule with the same peak
//! on the digits CNN: final test accuracy, final training loss, learning curves.
//!
//! ```no_run
//! use cadence_lab::{Config, Experiment, Size};
//!
//! let r = cadence_lab::experiments::adam_cosine::AdamCosine.run(&Config::new("out", Size::Quick))?;
//! println!("{}", r.verdict.explanation);
//! # Ok::<(), anyhow::Error>(())
//! ```

use super::seeds;
use crate::Experiment;
use crate::digits::{Digits, DigitsJob, DigitsRun, EpochMetrics, Optimizer, train};
use crate::plot::{Figure, Scale, Series};
use crate::report::{Cell, ExperimentReport, Outcome, Table, Verdict, fmt_num};
use crate::runner::{Config, run_parallel};
use crate::stats::{Estimate, TestResult, holm, mean, paired_t_test};
use anyhow::Result;
use cadence::Schedule;
use cadence_candle::model::{CnnConfig, ModelSpec};
use cadence_candle::train::TrainMetrics;

/// The `adam-cosine` experiment.
///
/// ```
/// use cadence_lab::Experiment;
/// assert_eq!(cadence_lab::experiments::adam_cosine::AdamCosine.name(), "adam-cosine");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AdamCosine;

const CLAIM: &str = "An optimizer like Adam, for instance, already maintains per-parameter learning rates based on the history of gradients. So why add a global learning rate schedule on top? [...] A cosine annealing schedule, for example, guides the entire adaptive process through a smooth arc—starting with a high learning rate to encourage bold exploration and ending with a near-zero rate for gentle refinement. The schedule and the optimizer are not redundant; they work in concert.";

const BATCH: usize = 64;
/// The peak (and constant) rate of every schedule.
const PEAK: f64 = 3e-3;

/// The three schedules at one peak over `total` steps, in report order.
fn schedules(total: u64) -> [(&'static str, String); 3] {
    [
        ("constant", format!("constant({PEAK:e})")),
        (
            "cosine",
            format!("cosine(init={PEAK:e}, end=0, decay_steps={total})"),
        ),
        (
            "step",
            format!(
                "multi_step(init={PEAK:e}, gamma=0.1, milestones=[{}, {}])",
                total / 2,
                3 * total / 4
            ),
        ),
    ]
}

impl Experiment for AdamCosine {
    fn name(&self) -> &'static str {
        "adam-cosine"
    }

    fn claim(&self) -> &'static str {
        CLAIM
    }

    fn run(&self, config: &Config) -> Result<ExperimentReport> {
        let size = config.size;
        let train_size: usize = size.pick(160, 720);
        let epochs: u64 = size.pick(2, 15);
        let data = Digits::load_unsplit()?;
        let seeds = seeds(size, 5, 5);
        // Adam on the CNN, one schedule and seed per run (the schedule set below).
        let job = |schedule: &str, seed: u64| -> Result<DigitsJob> {
            Ok(
                DigitsJob::mlp(cadence::text::parse(schedule)?, epochs, seed)
                    .with_model(ModelSpec::Cnn(CnnConfig::default()))
                    .with_optimizer(Optimizer::adam())
                    .with_batch_size(BATCH)
                    .with_train_subset(train_size)
                    .with_train_metrics(TrainMetrics::Running),
            )
        };
        let total = job(&format!("constant({PEAK:e})"), 0)?.total_steps(&data);
        let scheds = schedules(total);
        let mut jobs = Vec::new();
        for (_, spec) in &scheds {
            for &seed in &seeds {
                jobs.push(job(spec, seed)?);
            }
        }
        let runs = run_parallel(config, self.name(), &jobs, |j| train(j, &data))?;
        // Runs of one schedule in seed order: seed k of every schedule shares its
        // initialisation and batch order, so comparisons are paired.
        let groups: Vec<Vec<&DigitsRun>> = runs
            .results
            .chunks(seeds.len())
            .map(|g| g.iter().collect())
            .collect();
        let group = |label: &str| -> &[&DigitsRun] {
            let i = scheds.iter().position(|(l, _)| *l == label);
            &groups[i.expect("one of the schedules")]
        };
        // The full-pass training loss of the final weights; `NaN` for a diverged run.
        let train_loss = |r: &DigitsRun| {
            if r.diverged {
                f64::NAN
            } else {
                r.end.train_loss
            }
        };
        let acc = |g: &[&DigitsRun]| g.iter().map(|r| r.end.test_accuracy).collect::<Vec<_>>();
        let log_loss = |g: &[&DigitsRun]| g.iter().map(|r| train_loss(r).ln()).collect::<Vec<_>>();

        let mut table = Table::new(
            format!(
                "Adam, peak {}, {epochs} epochs on {train_size} training images ({total} steps), {} seeds",
                fmt_num(PEAK),
                seeds.len()
            ),
            &[
                "schedule",
                "final test accuracy (mean ± 95% CI)",
                "final training loss (mean ± 95% CI)",
                "diverged",
            ],
        );
        for (label, _) in &scheds {
            let g = group(label);
            table.push(vec![
                Cell::text(*label),
                Cell::estimate(Estimate::from_samples(&acc(g))),
                Cell::estimate(Estimate::from_samples(
                    &g.iter().map(|r| train_loss(r)).collect::<Vec<_>>(),
                )),
                Cell::text(format!(
                    "{} / {}",
                    g.iter().filter(|r| r.diverged).count(),
                    g.len()
                )),
            ]);
        }

        // Paired comparisons, Holm-adjusted as one family.
        let pairs = [
            ("cosine", "constant"),
            ("step", "constant"),
            ("cosine", "step"),
        ];
        let mut tests: Vec<(String, &str, TestResult, f64)> = Vec::new();
        for (a, b) in pairs {
            let (ga, gb) = (group(a), group(b));
            let da = mean(&acc(ga)) - mean(&acc(gb));
            tests.push((
                format!("test accuracy: {a} - {b}"),
                "accuracy",
                paired_t_test(&acc(ga), &acc(gb)),
                da,
            ));
            let ratio = (mean(&log_loss(ga)) - mean(&log_loss(gb))).exp();
            tests.push((
                format!("log training loss: {a} - {b}"),
                "loss",
                paired_t_test(&log_loss(ga), &log_loss(gb)),
                ratio,
            ));
        }
        let p_adj = holm(&tests.iter().map(|t| t.2.p_value).collect::<Vec<_>>());
        let mut cmp = Table::new(
            "Paired comparisons over seeds (paired t test; Holm-adjusted over all six)",
            &[
                "comparison",
                "difference (accuracy) or ratio (loss)",
                "t",
                "p",
                "Holm p",
            ],
        );
        for ((name, _, t, eff), p) in tests.iter().zip(&p_adj) {
            cmp.push(vec![
                Cell::text(name.clone()),
                Cell::number(*eff),
                Cell::number(t.statistic),
                Cell::number(t.p_value),
                Cell::number(*p),
            ]);
        }
        // The verdict: cosine vs constant (tests 0 and 1).
        let (acc_diff, loss_ratio) = (tests[0].3, tests[1].3);
        let (p_acc, p_loss) = (p_adj[0], p_adj[1]);
        let acc_better = p_acc < 0.05 && acc_diff > 0.0;
        let acc_worse = p_acc < 0.05 && acc_diff < 0.0;
        let loss_better = p_loss < 0.05 && loss_ratio < 1.0;
        let loss_worse = p_loss < 0.05 && loss_ratio > 1.0;
        let outcome = if acc_worse || loss_worse {
            Outcome::NotSupported
        } else if acc_better || loss_better {
            Outcome::Supported
        } else {
            Outcome::Inconclusive
        };
        let numbers = format!(
            "cosine - constant test accuracy {} (Holm p = {}), cosine / constant final training loss {} (Holm p = {})",
            fmt_num(acc_diff),
            fmt_num(p_acc),
            fmt_num(loss_ratio),
            fmt_num(p_loss)
        );
        let explanation = match outcome {
            Outcome::Supported => format!(
                "Adam's per-parameter adaptation does not make the global schedule redundant: at the same peak, annealing to zero {} ({numbers}). Adam normalises the gradient's scale per parameter, but the size of its steps is still the learning rate, so only a decaying rate lets the iterate settle below the noise floor of a constant one.",
                match (acc_better, loss_better) {
                    (true, true) => "lowers the final training loss and raises the test accuracy",
                    (true, false) => "raises the test accuracy",
                    _ => "lowers the final training loss without costing test accuracy",
                }
            ),
            Outcome::NotSupported => {
                let constant = group("constant");
                let falling = constant
                    .iter()
                    .filter(|r| {
                        let c = &r.epochs;
                        c.len() >= 2 && c[c.len() - 1].train_loss < c[c.len() - 2].train_loss
                    })
                    .count();
                format!(
                    "The constant rate did significantly better than cosine here ({numbers}). Why: in this budget ({total} steps) Adam at the constant peak is not held up by a noise floor — its final training loss is {} and its epoch loss still fell over the last epoch in {falling} of {} seeds — so the run is limited by progress, not by noise, and cosine's smaller average rate (half the constant's) only slows it down. Annealing's \"gentle refinement\" pays where a constant rate has stalled at its noise level, which this small, easily fitted problem does not reach.",
                    fmt_num(mean(
                        &constant.iter().map(|r| train_loss(r)).collect::<Vec<_>>()
                    )),
                    constant.len()
                )
            }
            Outcome::Inconclusive => format!(
                "No significant difference between cosine and constant at this size ({numbers})."
            ),
        };
        let mut verdict = Verdict::new(
            outcome,
            "Cosine vs constant at the same peak, paired over seeds (same initialisation and batch order): paired t tests on the final test accuracy and on the log final training loss (full pass), Holm-adjusted over all six comparisons of the table. Supported when cosine is significantly better (p < 0.05) on one and not significantly worse on the other; not supported when it is significantly worse on either; inconclusive otherwise.",
            explanation,
        );
        for ((name, _, t, _), p) in tests.iter().zip(&p_adj) {
            verdict = verdict.with_test(format!("{name} (Holm p = {})", fmt_num(*p)), t.clone());
        }

        let mut fig_loss = Figure::new("Training loss per epoch", "step", "training loss (epoch mean)")
            .with_y_scale(Scale::Log)
            .with_caption("Mean over seeds of each epoch's mean mini-batch loss. The decaying schedules pull away from the constant rate as their rate falls; the step schedule drops at each x0.1.");
        let mut fig_acc = Figure::new("Test accuracy per epoch", "step", "test accuracy")
            .with_caption("Mean over seeds of the test accuracy after each epoch.");
        let mut fig_lr = Figure::new("The three schedules", "step", "learning rate").with_caption(
            "Same peak; cosine anneals to 0, step multiplies by 0.1 at 50% and 75% of the run.",
        );
        for (i, (label, spec)) in scheds.iter().enumerate() {
            let g = group(label);
            let alive: Vec<&&DigitsRun> = g.iter().filter(|r| !r.diverged).collect();
            if let Some(first) = alive.first() {
                let curve = |f: &dyn Fn(&EpochMetrics) -> f64| -> Vec<(f64, f64)> {
                    (0..first.epochs.len())
                        .map(|e| {
                            (
                                first.epochs[e].step as f64,
                                mean(&alive.iter().map(|r| f(&r.epochs[e])).collect::<Vec<_>>()),
                            )
                        })
                        .collect()
                };
                fig_loss
                    .series
                    .push(Series::line(*label, curve(&|p| p.train_loss)).with_color(i));
                fig_acc
                    .series
                    .push(Series::line(*label, curve(&|p| p.test_accuracy)).with_color(i));
            }
            let s = cadence::text::parse(spec)?;
            fig_lr.series.push(
                Series::line(*label, (0..total).map(|t| (t as f64, s.value(t))).collect())
                    .with_color(i),
            );
        }

        let mut report = ExperimentReport::new(self.name(), CLAIM, size, verdict);
        report.seeds = seeds.clone();
        report.setup = vec![
            format!(
                "Model: the digits CNN (conv 3x3 1->16, ReLU, conv 3x3 16->32, ReLU, max-pool 2x2, linear 512->10; 9,930 parameters, PyTorch default init) on {train_size} of the 1437 training images (class-balanced subsample per seed when fewer), tested on the 360 test images; batch {BATCH}."
            ),
            format!(
                "Optimizer: cadence-candle's Adam (PyTorch's rule, betas 0.9/0.999, eps 1e-8, no weight decay), {epochs} epochs = {total} steps, peak {} for every schedule:",
                fmt_num(PEAK)
            ),
        ];
        for (label, spec) in &scheds {
            report.setup.push(format!("{label}: `{spec}`"));
        }
        report.figures = vec![fig_loss, fig_acc, fig_lr];
        report.tables = vec![table, cmp];
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
    fn schedules_share_the_peak_and_drop_as_described() {
        let s = schedules(400);
        let v: Vec<_> = s
            .iter()
            .map(|(_, spec)| cadence::text::parse(spec).unwrap())
            .collect();
        for x in &v {
            assert!((x.value(0) - PEAK).abs() < 1e-15);
        }
        assert!((v[0].value(399) - PEAK).abs() < 1e-15);
        assert!(v[1].value(399) < 1e-3 * PEAK);
        assert!((v[2].value(199) - PEAK).abs() < 1e-15);
        assert!((v[2].value(200) - 0.1 * PEAK).abs() < 1e-15);
        assert!((v[2].value(300) - 0.01 * PEAK).abs() < 1e-15);
    }

    #[test]
    fn quick_run_reports() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path(), Size::Quick).with_progress(Progress::Hidden);
        let r = AdamCosine.run(&config).unwrap();
        assert_eq!(r.tables[0].rows.len(), 3);
        assert_eq!(r.verdict.tests.len(), 6);
        assert_eq!(r.figures.len(), 3);
    }
}
