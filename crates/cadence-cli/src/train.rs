//! `cadence train`: train a model on the embedded digits data with a scheduled optimizer.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cadence::{Schedule, ScheduleSpec};
use cadence_candle::data::{Loader, Scaling, digits_split};
use cadence_candle::lr_finder::RangeTest;
use cadence_candle::model::{CnnConfig, MlpConfig, Model, ModelSpec};
use cadence_candle::train::{Every, Progress, TrainConfig, Trainer, single_threaded};
use cadence_candle::{AdamConfig, Algorithm, MomentumKind, ScheduledOptimizer, SgdConfig};
use cadence_cli::input;
use clap::{Args, ValueEnum};

/// Which model to train.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelKind {
    /// MLP 64-128-10 (ReLU).
    Mlp,
    /// A small CNN for 8x8 images.
    Cnn,
}

/// Which optimizer to use.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OptimizerKind {
    /// AdamW (PyTorch's rule, decoupled weight decay).
    Adamw,
    /// SGD with Nesterov momentum 0.9.
    #[value(alias = "sgd-momentum")]
    Sgd,
}

impl ModelKind {
    /// The model's configuration.
    pub fn spec(self) -> ModelSpec {
        match self {
            ModelKind::Mlp => ModelSpec::Mlp(MlpConfig::default()),
            ModelKind::Cnn => ModelSpec::Cnn(CnnConfig::default()),
        }
    }
}

impl OptimizerKind {
    /// The weight decay used when `--weight-decay` is not given: 0.5 for AdamW (decoupled
    /// from the gradient, scaled by the learning rate) and 5e-4 for SGD (an L2 term added
    /// to the gradient, where 0.5 would swamp the loss).
    pub fn default_weight_decay(self) -> f64 {
        match self {
            OptimizerKind::Adamw => 0.5,
            OptimizerKind::Sgd => 5e-4,
        }
    }

    /// The optimizer with learning-rate schedule `lr` and weight decay `weight_decay`.
    pub fn algorithm(self, lr: impl Schedule + 'static, weight_decay: f64) -> Algorithm {
        match self {
            OptimizerKind::Adamw => AdamConfig::adamw(lr).weight_decay(weight_decay).into(),
            OptimizerKind::Sgd => SgdConfig::new(lr)
                .momentum(0.9)
                .kind(MomentumKind::Nesterov)
                .weight_decay(weight_decay)
                .into(),
        }
    }
}

/// The peak learning rate: a number, or `auto` (a range test picks it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PeakLr {
    /// Find it with `cadence find-lr`'s range test before training.
    Auto,
    /// This value.
    Value(f64),
}

fn parse_lr(text: &str) -> Result<PeakLr, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(PeakLr::Auto);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(PeakLr::Value(v)),
        _ => Err(format!("`{text}` is neither `auto` nor a positive number")),
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "The data is the real 8x8 handwritten digits set (1797 images, UCI), embedded;
a fixed seeded stratified 80/20 split, standardised on the training part. Without
--schedule the learning rate warms up linearly over 2 epochs to --lr, then follows a cosine
to 0 (the spec is printed); --lr auto takes the peak from a range test (`cadence find-lr`'s
defaults) on the freshly initialised model. Logs (steps.csv/jsonl, evals.csv/jsonl), the final weights and
a checkpoint every epoch go to --out; --resume continues a stopped run bit-identically.

Examples:
  cadence train
  cadence train --model cnn --epochs 40 --out runs/cnn
  cadence train --optimizer sgd --lr 0.1 --schedule 'one_cycle(0.1, 1380)' --epochs 60
  cadence train --lr auto
  cadence train --out runs/a --resume"
)]
pub struct TrainArgs {
    /// The model.
    #[arg(long, value_enum, default_value_t = ModelKind::Mlp)]
    model: ModelKind,
    /// The optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adamw)]
    optimizer: OptimizerKind,
    /// The peak learning rate of the default schedule, or `auto`: a learning-rate range
    /// test (as `cadence find-lr` with its defaults) on the freshly initialised model
    /// picks it.
    #[arg(long, default_value = "3e-3", value_parser = parse_lr)]
    lr: PeakLr,
    /// The learning-rate schedule over optimizer steps (text spec); overrides --lr.
    #[arg(long, value_name = "SPEC")]
    schedule: Option<String>,
    /// Weight decay [default: 0.5 for adamw (decoupled), 5e-4 for sgd (L2)].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Epochs.
    #[arg(long, default_value_t = 60)]
    epochs: u64,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Seed of the weights and of the batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory for logs, checkpoints and the final weights.
    #[arg(long, short, default_value = "train-out")]
    out: PathBuf,
    /// Resume from OUT/checkpoint.safetensors.
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Runs `cadence train`.
pub fn run(args: TrainArgs, out: &mut impl Write) -> Result<()> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let (train, test) = digits_split(Scaling::Standardize)?;
    let steps_per_epoch = (train.len() as u64).div_ceil(args.batch_size as u64);
    let total = args.epochs * steps_per_epoch;
    let model_spec = args.model.spec();
    let schedule: ScheduleSpec = match &args.schedule {
        Some(text) => input::from_text(text).context("--schedule")?.spec,
        None => {
            let peak = match args.lr {
                PeakLr::Value(v) => v,
                PeakLr::Auto => {
                    use crate::find_lr::{MAX_LR, MIN_LR, STEPS};
                    let test = RangeTest::new(MIN_LR, MAX_LR, STEPS)?
                        .with_loader(Loader::new(args.batch_size)?)
                        .with_seed(args.seed);
                    let curve = crate::find_lr::range_test(
                        &test,
                        &model_spec,
                        args.optimizer,
                        args.weight_decay
                            .unwrap_or(args.optimizer.default_weight_decay()),
                        args.seed,
                        &train,
                    )?;
                    for w in &curve.warnings {
                        writeln!(out, "warning: {w}")?;
                    }
                    let Some(s) = curve.recommendation else {
                        bail!(
                            "--lr auto: the range test gives no learning rate to trust; \
                             run `cadence find-lr --plot lr.svg` and pass --lr"
                        );
                    };
                    writeln!(out, "lr auto: {} from the range test ({})", s.lr, s.method)?;
                    s.lr
                }
            };
            let warmup = (2 * steps_per_epoch).min(total / 2);
            let text = format!(
                "warmup(linear, {warmup}, 0) >> cosine(init={}, end=0, decay_steps={})",
                peak,
                (total - warmup).max(1)
            );
            input::from_text(&text)?.spec
        }
    };
    writeln!(out, "schedule: {}", cadence::text::to_text(&schedule))?;
    let algorithm = args.optimizer.algorithm(
        schedule,
        args.weight_decay
            .unwrap_or(args.optimizer.default_weight_decay()),
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let checkpoint = args.out.join("checkpoint.safetensors");
    let report = single_threaded(|| -> Result<_> {
        let model = model_spec.build(args.seed, &candle_core::Device::Cpu)?;
        let optimizer = <ScheduledOptimizer as candle_nn::Optimizer>::new(model.vars(), algorithm)?;
        let config = TrainConfig::new(args.epochs, args.batch_size)?
            .with_seed(args.seed)
            .with_progress(if args.quiet {
                Progress::Hidden
            } else {
                Progress::Auto
            })
            .with_checkpoints(&checkpoint, Every::Epochs(1))?
            .with_log_dir(&args.out);
        let mut trainer = Trainer::new(&model, optimizer, &train, config)?.with_validation(&test);
        if args.resume {
            trainer
                .resume(&checkpoint)
                .with_context(|| format!("resuming from {}", checkpoint.display()))?;
        }
        Ok(trainer.run()?)
    })??;
    let last = report.history.last_eval();
    writeln!(
        out,
        "stopped: {:?} after {} epochs, {:.1} s ({:.1} ms per epoch)",
        report.stop,
        report.epochs_run,
        report.wall.as_secs_f64(),
        1e3 * report.train_time.as_secs_f64() / report.epochs_run.max(1) as f64
    )?;
    if let Some(e) = last {
        writeln!(
            out,
            "test accuracy {:.2}%  test loss {:.4}  train loss {:.4}",
            100.0 * e.val_accuracy.unwrap_or(f64::NAN),
            e.val_loss.unwrap_or(f64::NAN),
            e.train_loss
        )?;
    }
    writeln!(out, "logs and weights in {}", args.out.display())?;
    Ok(())
}
