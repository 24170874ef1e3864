//! `cadence curve`: fit a schedule-aware loss law to logged runs, predict the loss curve of
//! any schedule, optimise a schedule against the law, and run the published benchmark.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cadence_cli::analysis::format_number;
use cadence_cli::input;
use cadence_cli::plot::{self, Line, Look, PlotOptions, Series};
use cadence_curve::{
    BenchReport, FitOptions, FittedLaw, LawKind, Metrics, OptimizeOptions, Role, TrainingRun,
};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum CurveCommand {
    /// Fit a law to logged runs (CSV files with `step,lr,loss` columns).
    #[command(
        after_help = "The per-step LR of each run is rebuilt from its logged `lr` column (linear
between logged rows), or given exactly with one --schedule per run, in order.

Examples:
  cadence curve fit runs/cosine.csv runs/constant.csv -o law.json
  cadence curve fit a.csv b.csv --schedule 'warmup(linear, 2160, 0) >> cosine(3e-4, 3e-5, 21840)' \\
      --schedule 'warmup(linear, 2160, 0) >> constant(value=3e-4)' --law annealing -o law.json"
    )]
    Fit {
        /// The runs to fit on.
        #[arg(value_name = "RUN.csv", required = true)]
        runs: Vec<PathBuf>,
        /// The exact schedule of each run (text spec), in the order of the files.
        #[arg(long, value_name = "SPEC")]
        schedule: Vec<String>,
        /// Which law: power-area (cadence's), multi-power (Luo et al. 2025) or annealing
        /// (Tissue et al. 2024).
        #[arg(long, default_value = "power-area")]
        law: String,
        /// Where to write the fitted law (JSON).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Seed of the fit's random starts.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Predict the loss curve of a schedule with a fitted law (CSV `step,loss`).
    #[command(after_help = "Examples:
  cadence curve predict --law law.json --schedule 'warmup(linear, 2160, 0) >> cosine(3e-4, 3e-5, 69840)' --steps 72k --every 1k")]
    Predict {
        /// The fitted law (from `cadence curve fit`).
        #[arg(long, value_name = "FILE")]
        law: PathBuf,
        /// The schedule (text spec).
        #[arg(long, value_name = "SPEC")]
        schedule: String,
        /// The number of steps.
        #[arg(long, value_name = "N", value_parser = input::parse_steps)]
        steps: u64,
        /// Print every K-th step (and the last).
        #[arg(long, value_name = "K", value_parser = input::parse_steps, default_value = "1")]
        every: u64,
    },
    /// Find the schedule with the lowest predicted final loss for a budget and a peak
    /// (non-increasing after a linear warmup, as the multi-power-law paper does).
    #[command(after_help = "Examples:
  cadence curve optimize --law law.json --steps 24k --peak 3e-4 --warmup 2160 -o schedule.json")]
    Optimize {
        /// The fitted law.
        #[arg(long, value_name = "FILE")]
        law: PathBuf,
        /// The step budget.
        #[arg(long, value_name = "N", value_parser = input::parse_steps)]
        steps: u64,
        /// The peak learning rate.
        #[arg(long, value_name = "LR")]
        peak: f64,
        /// Linear warmup steps from 0 to the peak.
        #[arg(long, value_name = "N", value_parser = input::parse_steps, default_value = "0")]
        warmup: u64,
        /// Where to write the schedule: a cadence spec (JSON) usable with --spec-file.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Also plot the optimised schedule (PNG or SVG).
        #[arg(long, value_name = "FILE")]
        plot: Option<PathBuf>,
    },
    /// Run the published protocol on a folder of loss curves: fit on cosine_24000,
    /// constant_24000 and wsdcon_9, predict the other six.
    #[command(after_help = "DIR is one model size of the bundled data, e.g.
crates/cadence-curve/data/loss-curves/25 (also 100, 400). When the size folders next to
DIR all have published numbers (the bundled data), the fit settings of each DIR are chosen
by the other sizes only (leave-one-size-out, never looking at DIR's predicted curves);
several DIRs share that one selection, so all three sizes take one run. Elsewhere, or with
--default-settings, the default settings are used.

Examples:
  cadence curve bench crates/cadence-curve/data/loss-curves/{25,100,400}
  cadence curve bench crates/cadence-curve/data/loss-curves/400 --json
  cadence curve bench crates/cadence-curve/data/loss-curves/100 --plot bench-100.png")]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The folders of CSV curves, one per model size.
    #[arg(value_name = "DIR", required = true)]
    dirs: Vec<PathBuf>,
    /// Print one JSON object per DIR (`r2, mae, rmse, prede, worste`, per curve, and the
    /// baseline); an array of them for several DIRs.
    #[arg(long)]
    json: bool,
    /// The law to benchmark (the annealing law is always shown alongside as the baseline).
    #[arg(long, default_value = "power-area")]
    law: String,
    /// Require the fit settings to be chosen by leave-one-size-out over DIR's sibling
    /// size folders (the default wherever they all have published numbers): an error
    /// where they cannot be.
    #[arg(long, conflicts_with = "default_settings")]
    select: bool,
    /// Fit with the default settings, without choosing them by the sibling sizes.
    #[arg(long)]
    default_settings: bool,
    /// Plot the observed and predicted curves (PNG or SVG; one DIR only).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

fn read_law(path: &Path) -> Result<FittedLaw> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let law: FittedLaw = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a fitted law", path.display()))?;
    law.validate()
        .with_context(|| format!("{}", path.display()))?;
    Ok(law)
}

/// Runs one `cadence curve` subcommand.
pub fn run(command: CurveCommand, out: &mut impl Write) -> Result<()> {
    match command {
        CurveCommand::Fit {
            runs,
            schedule,
            law,
            output,
            seed,
        } => {
            let kind: LawKind = law.parse()?;
            if !schedule.is_empty() && schedule.len() != runs.len() {
                bail!(
                    "{} --schedule for {} runs: give none or one per run",
                    schedule.len(),
                    runs.len()
                );
            }
            let mut training = Vec::new();
            for (i, path) in runs.iter().enumerate() {
                let run = cadence_curve::load_run_csv(path)?;
                let run = match schedule.get(i) {
                    Some(text) => {
                        let spec = input::from_text(text)
                            .with_context(|| format!("--schedule #{}", i + 1))?
                            .spec;
                        TrainingRun::from_schedule(run, &spec)?
                    }
                    None => TrainingRun::from_logged_lr(run)?,
                };
                training.push(run);
            }
            let options = FitOptions {
                seed,
                ..FitOptions::default()
            };
            let fit = cadence_curve::fit(kind, &training, &options)?;
            std::fs::write(&output, serde_json::to_string_pretty(&fit.law)?)
                .with_context(|| format!("writing {}", output.display()))?;
            writeln!(
                out,
                "fitted {} on {} runs (objective {}); wrote {}",
                kind.name(),
                training.len(),
                format_number(fit.objective),
                output.display()
            )?;
            Ok(())
        }
        CurveCommand::Predict {
            law,
            schedule,
            steps,
            every,
        } => {
            let law = read_law(&law)?;
            let spec = input::from_text(&schedule).context("--schedule")?.spec;
            if steps == 0 {
                bail!("--steps must be at least 1");
            }
            let mut at: Vec<u64> = (1..steps).step_by(every.max(1) as usize).collect();
            if at.last() != Some(&(steps - 1)) {
                at.push(steps - 1);
            }
            let loss = law.predict(&spec, &at);
            writeln!(out, "step,loss")?;
            for (t, l) in at.iter().zip(loss) {
                writeln!(out, "{t},{l:?}")?;
            }
            Ok(())
        }
        CurveCommand::Optimize {
            law,
            steps,
            peak,
            warmup,
            output,
            plot: plot_path,
        } => {
            let law = read_law(&law)?;
            let options = OptimizeOptions {
                warmup_steps: warmup,
                ..OptimizeOptions::default()
            };
            let best = cadence_curve::optimize_schedule(&law, steps, peak, &options)?;
            // The result as a cadence spec: a linear path through every step's value.
            let knots: Vec<(f64, f64)> = best
                .lrs()
                .iter()
                .enumerate()
                .map(|(t, &v)| (t as f64, v))
                .collect();
            let spec = cadence::ScheduleSpec::from(cadence::PiecewiseInterpolate::new(
                knots,
                cadence::SegmentAnneal::Uniform(cadence::Anneal::Linear),
            )?);
            std::fs::write(&output, serde_json::to_string(&spec)?)
                .with_context(|| format!("writing {}", output.display()))?;
            writeln!(
                out,
                "predicted final loss {} (wrote {})",
                format_number(best.predicted_final_loss()),
                output.display()
            )?;
            if let Some(path) = plot_path {
                plot_optimized(&path, &law, &best, steps, peak, &options)?;
            }
            Ok(())
        }
        CurveCommand::Bench(args) => bench(args, out),
    }
}

fn bench(args: BenchArgs, out: &mut impl Write) -> Result<()> {
    let kind: LawKind = args.law.parse()?;
    if args.plot.is_some() && args.dirs.len() > 1 {
        bail!("--plot takes one DIR");
    }
    let size_of = |dir: &Path| {
        dir.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned()
    };
    // One leave-one-size-out selection per folder of sizes, shared by its DIRs: required
    // with --select, skipped with --default-settings, else wherever the folder allows it.
    let mut selections: Vec<(&Path, Vec<cadence_curve::SizeSelection>)> = Vec::new();
    if !args.default_settings {
        for dir in &args.dirs {
            let root = match dir.parent() {
                Some(root) if selectable(root, &size_of(dir)) => root,
                _ if args.select => bail!(
                    "--select needs DIR among size folders that all have published numbers \
                     (like crates/cadence-curve/data/loss-curves/25): {}",
                    dir.display()
                ),
                _ => continue,
            };
            if selections.iter().all(|(r, _)| *r != root) {
                selections.push((root, select(root, kind)?));
            }
        }
    }
    let mut results = Vec::new();
    for dir in &args.dirs {
        let size = size_of(dir);
        let selected = selections
            .iter()
            .filter(|(root, _)| dir.parent() == Some(*root))
            .flat_map(|(_, selected)| selected)
            .find(|s| s.size == size);
        let (report, settings) = match selected {
            Some(s) => (
                s.report.clone(),
                format!(
                    "settings #{} of the grid, chosen by the other sizes ({})",
                    s.chosen,
                    sibling_sizes(dir)
                ),
            ),
            None => (
                cadence_curve::bench(dir, kind, &FitOptions::default())?,
                "default settings".to_owned(),
            ),
        };
        let baseline = cadence_curve::bench(dir, LawKind::Annealing, &FitOptions::default())?;
        if let Some(path) = &args.plot {
            plot_bench(path, &report, kind)?;
        }
        results.push((size, report, baseline, settings));
    }
    if args.json {
        let objects: Vec<serde_json::Value> = results
            .iter()
            .map(|(size, report, baseline, settings)| {
                let mut json = bench_json(kind, size, report, baseline);
                json["settings"] = serde_json::Value::from(settings.as_str());
                json
            })
            .collect();
        match objects.as_slice() {
            [one] => serde_json::to_writer_pretty(&mut *out, one)?,
            many => serde_json::to_writer_pretty(&mut *out, many)?,
        }
        writeln!(out)?;
        return Ok(());
    }
    for (i, (size, report, baseline, settings)) in results.iter().enumerate() {
        if args.dirs.len() > 1 {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{}", args.dirs[i].display())?;
        }
        bench_table(out, kind, size, report, baseline)?;
        writeln!(out, "fit with {settings}")?;
    }
    Ok(())
}

/// The size folders in `root` (its subfolders), numeric names in numeric order (25
/// before 100), others after them by name.
fn size_folders(root: &Path) -> Result<Vec<String>> {
    let mut sizes: Vec<String> = std::fs::read_dir(root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    sizes.sort_by_key(|s| (s.parse::<u64>().unwrap_or(u64::MAX), s.clone()));
    Ok(sizes)
}

/// The size folders next to `dir` (its siblings), comma-separated.
fn sibling_sizes(dir: &Path) -> String {
    let own = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let root = dir.parent().unwrap_or(Path::new("."));
    let sizes = size_folders(root).unwrap_or_default();
    let others: Vec<&str> = sizes
        .iter()
        .map(String::as_str)
        .filter(|s| *s != own)
        .collect();
    others.join(", ")
}

/// Whether `root`'s size folders allow a leave-one-size-out choice for `size`: at least
/// two, every one with published numbers, `size` among them.
fn selectable(root: &Path, size: &str) -> bool {
    let sizes = size_folders(root).unwrap_or_default();
    sizes.len() >= 2
        && sizes.iter().any(|s| s == size)
        && sizes
            .iter()
            .all(|s| cadence_curve::published_metrics(s).is_some())
}

/// The leave-one-size-out choice of fit settings over every size folder in `root`.
fn select(root: &Path, kind: LawKind) -> Result<Vec<cadence_curve::SizeSelection>> {
    let sizes = size_folders(root)?;
    let names: Vec<&str> = sizes.iter().map(String::as_str).collect();
    let grid = cadence_curve::selection_grid();
    Ok(cadence_curve::leave_one_size_out(
        root, &names, kind, &grid,
    )?)
}

/// One DIR's benchmark as the `--json` object.
fn bench_json(
    kind: LawKind,
    size: &str,
    report: &BenchReport,
    baseline: &BenchReport,
) -> serde_json::Value {
    serde_json::json!({
        "law": kind.name(),
        "r2": report.overall.r2, "mae": report.overall.mae, "rmse": report.overall.rmse,
        "prede": report.overall.prede, "worste": report.overall.worste,
        "per_curve": report.per_curve.iter().filter(|c| c.role == Role::Predict).map(|c| serde_json::json!({
            "name": c.name, "r2": c.metrics.r2, "mae": c.metrics.mae, "rmse": c.metrics.rmse,
            "prede": c.metrics.prede, "worste": c.metrics.worste})).collect::<Vec<_>>(),
        "baseline": {"law": "annealing", "r2": baseline.overall.r2, "mae": baseline.overall.mae,
            "rmse": baseline.overall.rmse, "prede": baseline.overall.prede, "worste": baseline.overall.worste},
        "published": cadence_curve::published_metrics(size),
    })
}

/// One DIR's benchmark as a text table: the predicted curves, the law's mean, the baseline
/// and the published numbers with the verdict.
fn bench_table(
    out: &mut impl Write,
    kind: LawKind,
    size: &str,
    report: &BenchReport,
    baseline: &BenchReport,
) -> Result<()> {
    let published = cadence_curve::published_metrics(size);
    let row = |out: &mut dyn Write, label: &str, m: &Metrics| {
        writeln!(
            out,
            "{label:<26} {:>8.5} {:>8.5} {:>8.5} {:>8.5} {:>8.5}",
            m.r2, m.mae, m.rmse, m.prede, m.worste
        )
    };
    writeln!(
        out,
        "{:<26} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "", "R2", "MAE", "RMSE", "PredE", "WorstE"
    )?;
    for c in report.per_curve.iter().filter(|c| c.role == Role::Predict) {
        row(out, &format!("  {}", c.name), &c.metrics)?;
    }
    row(out, &format!("{} (mean)", kind.name()), &report.overall)?;
    row(out, "annealing law (baseline)", &baseline.overall)?;
    if let Some(p) = published {
        row(out, "published (Luo et al.)", &p)?;
        let verdict = if report.overall.meets(&p) {
            "beats"
        } else {
            "does not beat"
        };
        writeln!(out, "{} {verdict} the published R2 and WorstE", kind.name())?;
    }
    Ok(())
}

/// Every curve of a benchmark: the data as points, the law as a line of the same colour,
/// solid where it was fitted and dashed where it predicts a schedule it never saw.
fn plot_bench(path: &Path, report: &BenchReport, kind: LawKind) -> Result<()> {
    let (mut observed, mut laws) = (Vec::new(), Vec::new());
    for (i, c) in report.per_curve.iter().enumerate() {
        let (Some(&first), Some(&last)) = (c.steps.first(), c.steps.last()) else {
            continue;
        };
        let mut values = vec![f64::NAN; last as usize + 1];
        for (&t, &y) in c.steps.iter().zip(&c.loss) {
            values[t as usize] = y;
        }
        let role = match c.role {
            Role::Fit => "fitted on",
            Role::Predict => "predicted",
        };
        observed.push((
            Series {
                label: format!("{} ({role})", c.name),
                values,
            },
            Look {
                color: Some(i),
                line: Line::Points,
            },
        ));
        // The law on every step it covers (not only the logged ones).
        let lrs = cadence_curve::published_lrs(&c.name)
            .with_context(|| format!("no learning rates for {}", c.name))?;
        let steps: Vec<u64> = (first..=last).collect();
        let mut values = vec![f64::NAN; first as usize];
        values.extend(report.law.predict_lrs(&lrs, &steps));
        let line = if c.role == Role::Fit {
            Line::Solid
        } else {
            Line::Dashed
        };
        laws.push((
            Series {
                label: String::new(),
                values,
            },
            Look {
                color: Some(i),
                line,
            },
        ));
    }
    // The law's lines over all the data points.
    let (series, looks): (Vec<Series>, Vec<Look>) = observed.into_iter().chain(laws).unzip();
    let options = PlotOptions {
        title: format!(
            "{} law vs data: points observed, solid fitted, dashed predicted",
            kind.name()
        ),
        x_label: "step".into(),
        y_label: "loss".into(),
        width: 1200,
        height: 800,
        tight_y: true,
        ..PlotOptions::default()
    };
    plot::render_styled(path, &series, &looks, &options)
}

/// The optimised schedule against a warmup + cosine and a constant schedule with the same
/// budget, peak and warmup, each labelled with the law's predicted final loss.
fn plot_optimized(
    path: &Path,
    law: &FittedLaw,
    best: &cadence_curve::OptimizedSchedule,
    steps: u64,
    peak: f64,
    options: &OptimizeOptions,
) -> Result<()> {
    let warmup = options.warmup_steps.min(steps);
    let reference = |after: &dyn Fn(u64) -> f64| -> Vec<f64> {
        (0..steps)
            .map(|t| {
                if t < warmup {
                    peak * t as f64 / (warmup.max(2) - 1) as f64
                } else {
                    after(t)
                }
            })
            .collect()
    };
    let span = (steps - warmup).max(1) as f64;
    let floor = options.min_lr;
    let cosine = reference(&|t| {
        floor
            + (peak - floor) / 2.0
                * (1.0 + (std::f64::consts::PI * (t - warmup) as f64 / span).cos())
    });
    let constant = reference(&|_| peak);
    let last = steps.saturating_sub(1);
    let final_loss = |lrs: &[f64]| format_number(law.predict_lrs(lrs, &[last])[0]);
    let series = [
        Series {
            label: format!(
                "optimised (predicted final loss {})",
                format_number(best.predicted_final_loss())
            ),
            values: best.lrs().to_vec(),
        },
        Series {
            label: format!("warmup + cosine ({})", final_loss(&cosine)),
            values: cosine,
        },
        Series {
            label: format!("warmup + constant ({})", final_loss(&constant)),
            values: constant,
        },
    ];
    let looks = [
        Look::default(),
        Look {
            color: Some(1),
            line: Line::Dashed,
        },
        Look {
            color: Some(7),
            line: Line::Dashed,
        },
    ];
    let plot_options = PlotOptions {
        title: format!("schedule optimised for {steps} steps ({} law)", law.kind()),
        x_label: "step".into(),
        y_label: "learning rate".into(),
        ..PlotOptions::default()
    };
    plot::render_styled(path, &series, &looks, &plot_options)
}
