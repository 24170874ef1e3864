//! `cadence find-lr` (the learning-rate range test) and `cadence curvature` (the largest
//! Hessian eigenvalue and the step sizes it implies), on the embedded digits data.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cadence_candle::curvature::{CurvatureReport, PowerIteration, on_batch};
use cadence_candle::data::{Dataset, Loader, Scaling, digits_split};
use cadence_candle::lr_finder::{LrCurve, Method, RangeTest, Sweep};
use cadence_candle::model::{Model, ModelSpec};
use cadence_candle::train::{Checkpoint, single_threaded};
use cadence_candle::{ScheduledOptimizer, TrainError};
use cadence_cli::plot::{Marker, PlotOptions, XySeries, render_log_x};
use candle_core::Device;
use clap::{Args, ValueEnum};

use crate::train::{ModelKind, OptimizerKind};

/// The default sweep of `cadence find-lr`, also what `cadence train --lr auto` runs.
pub const MIN_LR: f64 = 1e-5;
/// See [`MIN_LR`].
pub const MAX_LR: f64 = 10.0;
/// See [`MIN_LR`].
pub const STEPS: usize = 100;

/// How the sweep moves (command-line names).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Geometric steps.
    Exp,
    /// Equal steps.
    Linear,
}

/// Which suggestion to recommend (command-line names).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Recommend {
    /// The middle of the longest falling stretch.
    Valley,
    /// The steepest descent against log lr.
    Steepest,
    /// A tenth of the minimum's learning rate.
    #[value(name = "minimum-tenth")]
    MinimumTenth,
    /// fastai's interval slide rule.
    Slide,
}

impl From<Recommend> for Method {
    fn from(r: Recommend) -> Method {
        match r {
            Recommend::Valley => Method::Valley,
            Recommend::Steepest => Method::Steepest,
            Recommend::MinimumTenth => Method::MinimumTenth,
            Recommend::Slide => Method::Slide,
        }
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Trains a copy of the optimizer on the model for --steps mini-batches while the
learning rate sweeps from --min to --max, smooths the loss (bias-corrected moving average,
--smoothing), stops once it exceeds --divergence times its best, and puts the weights back.
Suggestions: valley, steepest, minimum/10, slide; one is recommended (--recommend). A curve
that rises from the start, never falls, or is as noisy as its fall gets a warning and no
recommendation. The model, optimizer and data are those of `cadence train`.

Examples:
  cadence find-lr
  cadence find-lr --optimizer sgd-momentum --plot lr.svg
  cadence find-lr --model cnn --min 1e-6 --max 1 --steps 200 --json"
)]
pub struct FindLrArgs {
    /// The model.
    #[arg(long, value_enum, default_value_t = ModelKind::Mlp)]
    model: ModelKind,
    /// The optimizer (as `cadence train`).
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adamw)]
    optimizer: OptimizerKind,
    /// Weight decay (as `cadence train`) [default: 0.5 for adamw, 5e-4 for sgd].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// The smallest learning rate.
    #[arg(long, default_value_t = MIN_LR)]
    min: f64,
    /// The largest learning rate.
    #[arg(long, default_value_t = MAX_LR)]
    max: f64,
    /// Sweep points (one mini-batch each).
    #[arg(long, default_value_t = STEPS)]
    steps: usize,
    /// Exponential or linear sweep.
    #[arg(long, value_enum, default_value_t = Mode::Exp)]
    mode: Mode,
    /// Smoothing factor of the moving average of the loss.
    #[arg(long, default_value_t = 0.98)]
    smoothing: f64,
    /// Stop once the smoothed loss exceeds this many times its best.
    #[arg(long, default_value_t = 4.0)]
    divergence: f64,
    /// The suggestion to recommend.
    #[arg(long, value_enum, default_value_t = Recommend::MinimumTenth)]
    recommend: Recommend,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Seed of the weights and of the batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object (settings, curve, suggestions, recommendation, warnings).
    #[arg(long)]
    json: bool,
    /// Plot the loss against the learning rate with the suggestions marked (.png or .svg).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// Runs the range test of `test` for a fresh `model` (seed `seed`) trained by `optimizer`.
pub fn range_test(
    test: &RangeTest,
    model: &ModelSpec,
    optimizer: OptimizerKind,
    weight_decay: f64,
    seed: u64,
    train: &Dataset,
) -> Result<LrCurve> {
    let curve = single_threaded(|| -> Result<LrCurve, TrainError> {
        let model = model.build(seed, &Device::Cpu)?;
        let opt = <ScheduledOptimizer as candle_nn::Optimizer>::new(
            model.vars(),
            optimizer.algorithm(0.0, weight_decay),
        )?;
        test.run(&model, &opt, train)
    })??;
    Ok(curve)
}

/// Runs `cadence find-lr`.
pub fn run(args: FindLrArgs, out: &mut impl Write) -> Result<()> {
    let weight_decay = args
        .weight_decay
        .unwrap_or(args.optimizer.default_weight_decay());
    let test = RangeTest::new(args.min, args.max, args.steps)?
        .with_sweep(match args.mode {
            Mode::Exp => Sweep::Exponential,
            Mode::Linear => Sweep::Linear,
        })
        .with_smoothing(args.smoothing)?
        .with_divergence_factor(args.divergence)?
        .with_loader(Loader::new(args.batch_size)?)
        .with_seed(args.seed)
        .with_recommend(args.recommend.into());
    let (train, _) = digits_split(Scaling::Standardize)?;
    let curve = range_test(
        &test,
        &args.model.spec(),
        args.optimizer,
        weight_decay,
        args.seed,
        &train,
    )?;
    if let Some(path) = &args.plot {
        plot(path, &curve)?;
    }
    if args.json {
        let json = serde_json::json!({
            "model": format!("{:?}", args.model).to_lowercase(),
            "optimizer": format!("{:?}", args.optimizer).to_lowercase(),
            "weight_decay": weight_decay,
            "settings": test,
            "recommended": curve.recommended(),
            "warnings_text": curve.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "curve": curve,
        });
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
        return Ok(());
    }
    let stopped = if curve.losses.len() < args.steps {
        format!(
            "stopped at lr {:.3e} after {} of {} steps",
            curve.lrs.last().copied().unwrap_or(f64::NAN),
            curve.losses.len(),
            args.steps
        )
    } else {
        "ran all steps".to_string()
    };
    writeln!(
        out,
        "range test: lr {:e} to {:e} ({stopped})",
        args.min, args.max
    )?;
    for s in &curve.suggestions {
        writeln!(
            out,
            "  {:<11} {:.3e}  (smoothed loss {:.4})",
            s.method.to_string(),
            s.lr,
            curve.smoothed[s.index]
        )?;
    }
    for w in &curve.warnings {
        writeln!(out, "warning: {w}")?;
    }
    match curve.recommendation {
        Some(s) => writeln!(out, "recommended: {:.3e} ({})", s.lr, s.method)?,
        None => writeln!(out, "recommended: none (see the warnings)")?,
    }
    if let Some(path) = &args.plot {
        writeln!(out, "plot: {}", path.display())?;
    }
    Ok(())
}

fn plot(path: &Path, curve: &LrCurve) -> Result<()> {
    // Past the start the raw loss explodes; clip at 1.5x the starting level so the
    // falling part stays readable.
    let cap = 1.5
        * curve
            .smoothed
            .first()
            .copied()
            .unwrap_or(f64::INFINITY)
            .abs();
    let zip = |ys: &[f64]| {
        curve
            .lrs
            .iter()
            .copied()
            .zip(ys.iter().copied())
            .filter(|&(_, y)| y <= cap)
            .collect()
    };
    let series = [
        XySeries {
            label: "loss".into(),
            points: zip(&curve.losses),
        },
        XySeries {
            label: "smoothed".into(),
            points: zip(&curve.smoothed),
        },
    ];
    let markers: Vec<Marker> = curve
        .suggestions
        .iter()
        .map(|s| Marker {
            label: format!(
                "{} {:.2e}{}",
                s.method,
                s.lr,
                if Some(*s) == curve.recommendation {
                    " (recommended)"
                } else {
                    ""
                }
            ),
            x: s.lr,
        })
        .collect();
    render_log_x(
        path,
        &series,
        &markers,
        &PlotOptions {
            title: "learning-rate range test".into(),
            x_label: "learning rate".into(),
            y_label: "training loss (clipped at 1.5x the start)".into(),
            ..Default::default()
        },
    )
}

#[derive(Debug, Args)]
#[command(
    after_help = "Power iteration on Hessian-vector products (central differences of gradients)
of the mean cross-entropy on the digits training set, at the initial weights of --model
(seed --seed) or at the weights of --checkpoint (a checkpoint.safetensors or
model.safetensors written by `cadence train`). Reports lambda_max, the stability bound
2/lambda_max and, with --lower when the smallest eigenvalue mu comes out positive,
2/(L+mu) and its contraction rate.

Examples:
  cadence curvature
  cadence curvature --checkpoint train-out/model.safetensors --batch 512 --json"
)]
pub struct CurvatureArgs {
    /// The model.
    #[arg(long, value_enum, default_value_t = ModelKind::Mlp)]
    model: ModelKind,
    /// Weights to load (from `cadence train`); otherwise the seeded initial weights.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Use a seeded sample of this many training images; default the whole training set.
    #[arg(long, value_name = "N")]
    batch: Option<usize>,
    /// Relative tolerance between successive estimates.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f64,
    /// At most this many Hessian-vector products per eigenvalue.
    #[arg(long, default_value_t = 100)]
    max_iterations: usize,
    /// Also estimate the smallest eigenvalue (shifted power iteration).
    #[arg(long)]
    lower: bool,
    /// Seed of the weights, the sample and the start vector.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Loads `path` (a training checkpoint or a plain safetensors file of named weights) into
/// `model`.
fn load_weights(model: &dyn Model, path: &Path) -> Result<()> {
    let tensors: Vec<(String, candle_core::Tensor)> = match Checkpoint::load(path, &Device::Cpu) {
        Ok(ckpt) => ckpt.model,
        Err(TrainError::Format { .. }) => candle_core::safetensors::load(path, &Device::Cpu)
            .with_context(|| format!("reading {}", path.display()))?
            .into_iter()
            .collect(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    for (name, var) in model.parameters() {
        let Some((_, t)) = tensors.iter().find(|(n, _)| *n == name) else {
            bail!(
                "{} has no tensor `{name}`: was it written for this --model?",
                path.display()
            );
        };
        if t.dims() != var.dims() {
            bail!(
                "{}: `{name}` has shape {:?}, the model needs {:?}",
                path.display(),
                t.dims(),
                var.dims()
            );
        }
        var.set(&t.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

/// Runs `cadence curvature`.
pub fn curvature(args: CurvatureArgs, out: &mut impl Write) -> Result<()> {
    let (train, _) = digits_split(Scaling::Standardize)?;
    let data = match args.batch {
        Some(n) => train.subsample(n, args.seed)?,
        None => train,
    };
    let power = PowerIteration::default()
        .with_tolerance(args.tolerance)?
        .with_max_iterations(args.max_iterations)?
        .with_seed(args.seed)
        .with_lower(args.lower);
    let report: CurvatureReport = single_threaded(|| -> Result<CurvatureReport> {
        let model = args.model.spec().build(args.seed, &Device::Cpu)?;
        if let Some(path) = &args.checkpoint {
            load_weights(&model, path)?;
        }
        let batch = data.to_batch(&Device::Cpu)?;
        Ok(on_batch(&model, &batch, &power)?)
    })??;
    if args.json {
        let json = serde_json::json!({
            "model": format!("{:?}", args.model).to_lowercase(),
            "checkpoint": args.checkpoint,
            "samples": data.len(),
            "report": report,
        });
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
        return Ok(());
    }
    let state = |converged: bool, n: usize| {
        if converged {
            format!("converged in {n} products")
        } else {
            format!("NOT converged after {n} products")
        }
    };
    writeln!(
        out,
        "lambda_max       {:.6}  ({} on {} samples)",
        report.lambda_max,
        state(report.top.converged, report.top.iterations),
        data.len()
    )?;
    writeln!(out, "2 / lambda_max   {:.6}", report.stability_bound)?;
    if let Some(b) = report.bottom {
        writeln!(
            out,
            "lambda_min       {:.6}  ({})",
            b.value,
            state(b.converged, b.iterations)
        )?;
    }
    match (report.optimal_step, report.contraction) {
        (Some(step), Some(rate)) => writeln!(
            out,
            "2 / (L + mu)     {step:.6}  (contraction {rate:.6} per step)"
        )?,
        _ if args.lower => writeln!(
            out,
            "2 / (L + mu)     none: the smallest curvature is not positive (or not converged)"
        )?,
        _ => {}
    }
    Ok(())
}
