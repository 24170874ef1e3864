//! PyTorch schedulers (`torch.optim.lr_scheduler`) ported to cadence.
//!
//! The recording convention of the goldens: `lr[0]` is the learning rate right after the
//! scheduler's construction and `lr[i]` the one after `i` calls of `scheduler.step()`, so
//! step `i` of a port is torch's `last_epoch = i`. The base learning rate is the
//! optimizer's `lr` (torch's `initial_lr`), except where the scheduler overrides it
//! (CyclicLR's `base_lr`, OneCycleLR's `max_lr / div_factor`). The cycled momentum is SGD's
//! `momentum` or Adam's `betas[0]`.
//!
//! torch computes most values recursively (`lr_t = lr_{t-1} * ratio`); the ports use the
//! closed forms, which agree to a few ulps. Where torch's recursion or arithmetic departs
//! from the closed form by more than rounding, the port follows torch and says so:
//! `LinearLR`/`ConstantLR` with `total_iters = 0` hold their start factor for ever,
//! `SequentialLR` restarts each later scheduler at its milestone from the base lr (a
//! `MultiplicativeLR` from the current lr), and `CosineAnnealingWarmRestarts.step(epoch)`
//! finds the cycle with `int(math.log(...))`, which can land one cycle early or late
//! exactly at a restart. A `MultiplicativeLR` whose factor varies is the running product
//! of its factors ([`CumulativeProduct`], `O(t)` per value).

use cadence::controllers::{Mode, PlateauConfig, Threshold};
use cadence::{Amplitude, AmplitudeClock};
use cadence::{
    Anneal, Constant, Cosine, CosineRestarts, CumulativeProduct, Cyclical, Exponential, Expr, Join,
    Linear, MultiStep, OneCycle, Overrun, Phases, Polynomial, Product, Scale, Schedule,
    ScheduleSpec, Step, SwaAnneal,
};
use serde_json::Value;

use crate::config::Fields;
use crate::{CompatError, ControllerRule, Ported, PortedController, build};

/// The optimizer fields a scheduler reads.
struct Optimizer<'a> {
    fields: Fields<'a>,
    lr: f64,
}

impl<'a> Optimizer<'a> {
    fn read(config: &Fields<'a>) -> Result<Self, CompatError> {
        let fields = config
            .object("optimizer")?
            .ok_or_else(|| CompatError::Missing {
                field: config.path_of("optimizer"),
            })?;
        let lr = fields.f64("lr")?;
        Ok(Optimizer { fields, lr })
    }

    /// Checks that the optimizer has the momentum that torch's `cycle_momentum` rewrites:
    /// `betas[0]` for Adam-style optimizers, `momentum` for SGD-style ones (torch raises
    /// otherwise). The cycled values themselves come from the scheduler's arguments.
    fn check_cycles_momentum(&self) -> Result<(), CompatError> {
        if self.fields.has("betas") {
            let betas = self.fields.f64_list("betas")?;
            if betas.len() != 2 {
                return Err(CompatError::invalid(
                    &self.fields.path_of("betas"),
                    format!("{betas:?}"),
                    "must be two numbers (beta1, beta2)",
                ));
            }
            return Ok(());
        }
        let kind = self.fields.str_or("type", "SGD")?;
        let betas = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"];
        let momentum = ["SGD", "RMSprop"];
        if self.fields.has("momentum") || momentum.contains(&kind) || betas.contains(&kind) {
            Ok(())
        } else {
            Err(CompatError::Unsupported {
                field: self.fields.path_of("type"),
                detail: format!(
                    "`{kind}` has neither `momentum` nor `betas`, which cycling momentum needs \
                     (set cycle_momentum = false)"
                ),
            })
        }
    }
}

/// Ports a PyTorch config (`config.scheduler`, `config.optimizer`, `config.args`).
pub(crate) fn port(config: &Fields<'_>) -> Result<Ported, CompatError> {
    config.only(&["scheduler", "optimizer", "args", "driver"])?;
    let name = config.str("scheduler")?;
    let optimizer = Optimizer::read(config)?;
    let empty = Value::Object(Default::default());
    let args = args_of(config, &empty)?;
    let by_epoch = config
        .object("driver")?
        .is_some_and(|d| d.has("step_epochs"));
    match name {
        "ReduceLROnPlateau" => plateau(&args, optimizer.lr),
        "CyclicLR" => cyclic(&args, &optimizer),
        "OneCycleLR" => one_cycle(&args, &optimizer),
        "SequentialLR" => Ok(Ported::lr(sequential(&args, optimizer.lr)?)),
        "ChainedScheduler" => Ok(Ported::lr(chained(&args, optimizer.lr)?)),
        "CosineAnnealingWarmRestarts" if by_epoch => {
            Ok(Ported::lr(warm_restarts_by_epoch(&args, optimizer.lr)?))
        }
        _ => Ok(Ported::lr(schedule(
            name,
            &config.path_of("scheduler"),
            &args,
            optimizer.lr,
        )?)),
    }
}

/// Rejects unknown arguments. Every torch scheduler also takes `verbose` (ignored: it only
/// prints) and `last_epoch`, of which only the default `-1` (a fresh start) is supported.
fn only(args: &Fields<'_>, known: &[&str]) -> Result<(), CompatError> {
    let mut all = known.to_vec();
    all.extend(["verbose", "last_epoch"]);
    args.only(&all)?;
    args.bool_or("verbose", false)?;
    match args.i64_or("last_epoch", -1)? {
        -1 => Ok(()),
        other => Err(CompatError::Unsupported {
            field: args.path_of("last_epoch"),
            detail: format!(
                "last_epoch = {other} (resuming a torch scheduler); port the fresh schedule \
                 and read it from step {}",
                other.saturating_add(1)
            ),
        }),
    }
}

/// `config.args`, or an empty object when absent.
fn args_of<'a>(config: &Fields<'a>, empty: &'a Value) -> Result<Fields<'a>, CompatError> {
    match config.object("args")? {
        Some(args) => Ok(args),
        None => Fields::new(config.path_of("args"), empty),
    }
}

/// The pure learning-rate schedulers, with `base` as torch's `base_lrs`.
fn schedule(
    name: &str,
    name_field: &str,
    args: &Fields<'_>,
    base: f64,
) -> Result<ScheduleSpec, CompatError> {
    let at = |key: &str| args.path_of(key);
    let path = args.path().to_owned();
    Ok(match name {
        "StepLR" => {
            only(args, &["step_size", "gamma"])?;
            let step_size = positive_u64(args, "step_size")?;
            let gamma = args.f64_or("gamma", 0.1)?;
            build(&at("gamma"), Step::new(base, gamma, step_size as f64))?.into()
        }
        "MultiStepLR" => {
            only(args, &["milestones", "gamma"])?;
            // torch counts milestones in a Counter: order is free, repeats multiply twice.
            let mut milestones = args.u64_list("milestones")?;
            milestones.sort_unstable();
            let gamma = args.f64_or("gamma", 0.1)?;
            build(&at("gamma"), MultiStep::new(base, gamma, milestones))?.into()
        }
        "ConstantLR" => {
            only(args, &["factor", "total_iters"])?;
            let factor = args.f64_or("factor", 1.0 / 3.0)?;
            if !(0.0..=1.0).contains(&factor) {
                return Err(CompatError::invalid(
                    &at("factor"),
                    factor,
                    "torch requires 0 <= factor <= 1",
                ));
            }
            let total_iters = args.u64_or("total_iters", 5)?;
            let low = constant(&path, base * factor)?;
            if total_iters == 0 {
                // torch applies the factor at epoch 0 and only undoes it when
                // `last_epoch == total_iters` after epoch 0: never.
                low
            } else {
                if factor == 0.0 {
                    return Err(CompatError::invalid(
                        &at("factor"),
                        factor,
                        "torch divides by the factor at total_iters",
                    ));
                }
                join(&path, vec![total_iters], vec![low, constant(&path, base)?])?
            }
        }
        "LinearLR" => {
            only(args, &["start_factor", "end_factor", "total_iters"])?;
            let start = args.f64_or("start_factor", 1.0 / 3.0)?;
            let end = args.f64_or("end_factor", 1.0)?;
            if !(start > 0.0 && start <= 1.0) {
                return Err(CompatError::invalid(
                    &at("start_factor"),
                    start,
                    "torch requires 0 < start_factor <= 1",
                ));
            }
            if !(0.0..=1.0).contains(&end) {
                return Err(CompatError::invalid(
                    &at("end_factor"),
                    end,
                    "torch requires 0 <= end_factor <= 1",
                ));
            }
            match args.u64_or("total_iters", 5)? {
                // torch applies start_factor at epoch 0 and changes nothing after
                // `last_epoch > total_iters`: with 0 iterations it holds the start.
                0 => constant(&path, base * start)?,
                n => build(&path, Linear::new(base * start, base * end, n))?.into(),
            }
        }
        "ExponentialLR" => {
            only(args, &["gamma"])?;
            let gamma = args.f64("gamma")?;
            exponential(&path, &at("gamma"), base, gamma)?
        }
        "PolynomialLR" => {
            only(args, &["total_iters", "power"])?;
            let power = args.f64_or("power", 1.0)?;
            match args.u64_or("total_iters", 5)? {
                // torch returns the current lr whenever last_epoch > total_iters.
                0 => constant(&path, base)?,
                n => build(&path, Polynomial::new(base, 0.0, power, n))?.into(),
            }
        }
        "CosineAnnealingLR" => {
            only(args, &["T_max", "eta_min"])?;
            let t_max = positive_u64(args, "T_max")?;
            let eta_min = args.f64_or("eta_min", 0.0)?;
            // Past T_max torch keeps following the cosine: period 2 T_max.
            build(&path, Cosine::new(base, eta_min, t_max))?
                .with_overrun(Overrun::Continue)
                .into()
        }
        "CosineAnnealingWarmRestarts" => {
            let (t_0, t_mult, eta_min) = warm_restarts_args(args)?;
            build(
                &path,
                CosineRestarts::new(base, eta_min, t_0 as f64)
                    .and_then(|s| s.with_period_mult(t_mult as f64)),
            )?
            .into()
        }
        "LambdaLR" => {
            only(args, &["lr_lambda_src"])?;
            let lambda = expr(args)?;
            build(&path, Scale::new(base, ScheduleSpec::from(lambda)))?.into()
        }
        "MultiplicativeLR" => {
            only(args, &["lr_lambda_src"])?;
            multiplicative(args, base, &path)?
        }
        "SWALR" => {
            only(args, &["swa_lr", "anneal_epochs", "anneal_strategy"])?;
            let swa_lr = args.f64("swa_lr")?;
            let anneal_epochs = args.u64_or("anneal_epochs", 10)?;
            let anneal = anneal_of(args, "anneal_strategy")?;
            build(&path, SwaAnneal::new(base, swa_lr, anneal_epochs, anneal))?.into()
        }
        "CyclicLR" | "OneCycleLR" | "ReduceLROnPlateau" | "SequentialLR" | "ChainedScheduler" => {
            return Err(CompatError::Unsupported {
                field: name_field.to_owned(),
                detail: format!("`{name}` is supported only as the top-level scheduler"),
            });
        }
        other => {
            return Err(CompatError::Unsupported {
                field: name_field.to_owned(),
                detail: format!(
                    "`{other}` is not a supported torch scheduler (supported: StepLR, \
                     MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, \
                     CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, \
                     SequentialLR, ChainedScheduler, ReduceLROnPlateau, LambdaLR, \
                     MultiplicativeLR, SWALR)"
                ),
            });
        }
    })
}

fn constant(path: &str, value: f64) -> Result<ScheduleSpec, CompatError> {
    Ok(build(path, Constant::new(value))?.into())
}

fn join(
    path: &str,
    boundaries: Vec<u64>,
    schedules: Vec<ScheduleSpec>,
) -> Result<ScheduleSpec, CompatError> {
    Ok(build(path, Join::new(boundaries, schedules))?.into())
}

/// `base * gamma^t` (`ExponentialLR`, and `MultiplicativeLR` with a constant factor);
/// `gamma = 0` is `base` at step 0 and 0 after.
fn exponential(
    path: &str,
    gamma_field: &str,
    base: f64,
    gamma: f64,
) -> Result<ScheduleSpec, CompatError> {
    if gamma == 0.0 {
        return join(
            path,
            vec![1],
            vec![constant(path, base)?, constant(path, 0.0)?],
        );
    }
    Ok(build(gamma_field, Exponential::new(base, gamma, 1))?.into())
}

/// How many epochs of a varying `MultiplicativeLR` factor are multiplied out; past it the
/// factor of this epoch repeats (see [`CumulativeProduct`]).
pub(crate) const MULTIPLICATIVE_HORIZON: u64 = 1 << 20;

/// `MultiplicativeLR`: `lr_t = lr_{t-1} * f(t)` from `lr_0 = base`. A constant factor is
/// an exponential; a varying one is the running product of its values, exact for the
/// first [`MULTIPLICATIVE_HORIZON`] epochs and `O(t)` to evaluate.
fn multiplicative(args: &Fields<'_>, base: f64, path: &str) -> Result<ScheduleSpec, CompatError> {
    let lambda = expr(args)?;
    if lambda.is_constant() {
        let factor = lambda.eval(0.0);
        return exponential(path, &args.path_of("lr_lambda_src"), base, factor);
    }
    let factors = Box::new(ScheduleSpec::from(lambda));
    let product = build(
        path,
        CumulativeProduct::new(MULTIPLICATIVE_HORIZON, factors),
    )?;
    Ok(build(path, Scale::new(base, ScheduleSpec::from(product)))?.into())
}

fn expr(args: &Fields<'_>) -> Result<Expr, CompatError> {
    let src = args.str("lr_lambda_src")?;
    build(&args.path_of("lr_lambda_src"), Expr::parse(src))
}

fn positive_u64(args: &Fields<'_>, key: &str) -> Result<u64, CompatError> {
    match args.u64(key)? {
        0 => Err(CompatError::invalid(&args.path_of(key), 0, "must be >= 1")),
        n => Ok(n),
    }
}

fn anneal_of(args: &Fields<'_>, key: &str) -> Result<Anneal, CompatError> {
    match args.str_or(key, "cos")? {
        "cos" => Ok(Anneal::Cosine),
        "linear" => Ok(Anneal::Linear),
        other => Err(CompatError::invalid(
            &args.path_of(key),
            format!("\"{other}\""),
            "must be \"cos\" or \"linear\"",
        )),
    }
}

/// `(T_0, T_mult, eta_min)` of `CosineAnnealingWarmRestarts`, checked as torch does.
fn warm_restarts_args(args: &Fields<'_>) -> Result<(u64, u64, f64), CompatError> {
    only(args, &["T_0", "T_mult", "eta_min"])?;
    let t_0 = positive_u64(args, "T_0")?;
    let t_mult = if args.has("T_mult") {
        positive_u64(args, "T_mult")?
    } else {
        1
    };
    Ok((t_0, t_mult, args.f64_or("eta_min", 0.0)?))
}

/// `CosineAnnealingWarmRestarts` driven by `scheduler.step(epoch)`.
///
/// torch's epoch path finds the cycle as `n = int(math.log(epoch / T_0 * (T_mult - 1) + 1,
/// T_mult))`; the logarithm is rounded, so exactly at a restart `n` can come out one low
/// (e.g. `math.log(243, 3) = 4.999...`: the value is `eta_min` where the exact schedule
/// restarts at the peak) or, just below one, one high. To give the peer's numbers the port
/// evaluates torch's own arithmetic as an [`Expr`] (the same `log(x, base) = ln x / ln
/// base` as CPython). With `T_mult = 1` torch uses `epoch % T_0`, which the expression
/// also follows. Integer `step()` calls count exactly and use [`CosineRestarts`].
fn warm_restarts_by_epoch(args: &Fields<'_>, base: f64) -> Result<ScheduleSpec, CompatError> {
    let (t_0, t_mult, eta_min) = warm_restarts_args(args)?;
    let cosine = |t_cur: &str, t_i: &str| {
        format!("{eta_min:?} + ({base:?} - {eta_min:?}) * (1 + cos(pi * ({t_cur}) / ({t_i}))) / 2")
    };
    let first = cosine("epoch", &format!("{t_0}"));
    let later = if t_mult == 1 {
        cosine(&format!("epoch % {t_0}"), &format!("{t_0}"))
    } else {
        let n = format!("int(log(epoch / {t_0} * ({t_mult} - 1) + 1, {t_mult}))");
        cosine(
            &format!("epoch - {t_0} * ({t_mult} ** {n} - 1) / ({t_mult} - 1)"),
            &format!("{t_0} * {t_mult} ** {n}"),
        )
    };
    let src = format!("lambda epoch: {first} if epoch < {t_0} else {later}");
    Ok(build(&args.path_of("T_0"), Expr::parse(&src))?.into())
}

/// `ReduceLROnPlateau`: the optimizer's lr scaled by a plateau controller.
fn plateau(args: &Fields<'_>, base: f64) -> Result<Ported, CompatError> {
    only(
        args,
        &[
            "mode",
            "factor",
            "patience",
            "threshold",
            "threshold_mode",
            "cooldown",
            "min_lr",
            "eps",
        ],
    )?;
    let mode = match args.str_or("mode", "min")? {
        "min" => Mode::Min,
        "max" => Mode::Max,
        other => {
            return Err(CompatError::invalid(
                &args.path_of("mode"),
                format!("\"{other}\""),
                "must be \"min\" or \"max\"",
            ));
        }
    };
    let factor = args.f64_or("factor", 0.1)?;
    if factor >= 1.0 {
        return Err(CompatError::invalid(
            &args.path_of("factor"),
            factor,
            "torch requires factor < 1",
        ));
    }
    let threshold = args.f64_or("threshold", 1e-4)?;
    let threshold = match args.str_or("threshold_mode", "rel")? {
        "rel" => Threshold::Rel(threshold),
        "abs" => Threshold::Abs(threshold),
        other => {
            return Err(CompatError::invalid(
                &args.path_of("threshold_mode"),
                format!("\"{other}\""),
                "must be \"rel\" or \"abs\"",
            ));
        }
    };
    let config = PlateauConfig {
        mode,
        factor,
        patience: args.u64_or("patience", 10)?,
        threshold,
        cooldown: args.u64_or("cooldown", 0)?,
        min_value: args.f64_or("min_lr", 0.0)?,
        eps: args.f64_or("eps", 1e-8)?,
        ..Default::default()
    };
    let rule = ControllerRule::Plateau(config);
    // Surface an invalid configuration now, naming the arguments.
    let path = args.path().to_owned();
    build(&path, rule.build())?;
    Ok(Ported {
        lr: constant(&path, base)?,
        momentum: None,
        controller: Some(PortedController {
            rule,
            ignore_until: 0,
        }),
    })
}

/// `CyclicLR`: triangular cycles between `base_lr` and `max_lr` (the optimizer's lr is
/// replaced by `base_lr`), momentum cycled the other way unless `cycle_momentum = false`.
fn cyclic(args: &Fields<'_>, optimizer: &Optimizer<'_>) -> Result<Ported, CompatError> {
    only(
        args,
        &[
            "base_lr",
            "max_lr",
            "step_size_up",
            "step_size_down",
            "mode",
            "gamma",
            "scale_mode",
            "cycle_momentum",
            "base_momentum",
            "max_momentum",
        ],
    )?;
    let path = args.path().to_owned();
    let up = args.u64_or("step_size_up", 2000)?;
    let down = args.u64_or("step_size_down", up)?;
    let amplitude = match args.str_or("mode", "triangular")? {
        "triangular" => Amplitude::Constant,
        "triangular2" => Amplitude::Geometric {
            gamma: 0.5,
            clock: AmplitudeClock::Cycle,
        },
        "exp_range" => Amplitude::Geometric {
            gamma: args.f64_or("gamma", 1.0)?,
            clock: AmplitudeClock::Step,
        },
        other => {
            return Err(CompatError::invalid(
                &args.path_of("mode"),
                format!("\"{other}\""),
                "must be \"triangular\", \"triangular2\" or \"exp_range\"",
            ));
        }
    };
    if args.has("scale_mode") {
        // scale_mode only matters with a custom scale_fn, which a config cannot carry.
        let mode = args.str("scale_mode")?;
        if !["cycle", "iterations"].contains(&mode) {
            return Err(CompatError::invalid(
                &args.path_of("scale_mode"),
                format!("\"{mode}\""),
                "must be \"cycle\" or \"iterations\"",
            ));
        }
    }
    let lr = build(
        &path,
        Cyclical::new(args.f64("base_lr")?, args.f64("max_lr")?, up, down)
            .and_then(|s| s.with_amplitude(amplitude)),
    )?;
    let momentum = cycled_momentum(args, optimizer, &path, (0.8, 0.9), |b, m| lr.momentum(b, m))?;
    Ok(Ported {
        lr: lr.into(),
        momentum,
        controller: None,
    })
}

/// `OneCycleLR`: from `max_lr / div_factor` up to `max_lr` and down to `initial_lr /
/// final_div_factor`, torch's phase ends (`pct_start * total - 1`, ...); the optimizer's
/// lr is ignored.
fn one_cycle(args: &Fields<'_>, optimizer: &Optimizer<'_>) -> Result<Ported, CompatError> {
    only(
        args,
        &[
            "max_lr",
            "total_steps",
            "epochs",
            "steps_per_epoch",
            "pct_start",
            "anneal_strategy",
            "cycle_momentum",
            "base_momentum",
            "max_momentum",
            "div_factor",
            "final_div_factor",
            "three_phase",
        ],
    )?;
    let path = args.path().to_owned();
    let total = if args.has("total_steps") {
        args.u64("total_steps")?
    } else if args.has("epochs") || args.has("steps_per_epoch") {
        let epochs = args.u64("epochs")?;
        let per_epoch = args.u64("steps_per_epoch")?;
        epochs.checked_mul(per_epoch).ok_or_else(|| {
            CompatError::invalid(
                &args.path_of("epochs"),
                epochs,
                "epochs * steps_per_epoch overflows",
            )
        })?
    } else {
        return Err(CompatError::Missing {
            field: args.path_of("total_steps"),
        });
    };
    if total == 0 {
        return Err(CompatError::invalid(
            &args.path_of("total_steps"),
            0,
            "torch requires a positive total number of steps",
        ));
    }
    let pct_start = args.f64_or("pct_start", 0.3)?;
    if !(0.0..=1.0).contains(&pct_start) {
        return Err(CompatError::invalid(
            &args.path_of("pct_start"),
            pct_start,
            "torch requires 0 <= pct_start <= 1",
        ));
    }
    let phases = if args.bool_or("three_phase", false)? {
        Phases::Three {
            pct_final: 2.0 * pct_start,
        }
    } else {
        Phases::Two
    };
    let div_factor = args.f64_or("div_factor", 25.0)?;
    let final_div_factor = args.f64_or("final_div_factor", 1e4)?;
    let anneal = anneal_of(args, "anneal_strategy")?;
    let lr = build(
        &path,
        OneCycle::new(args.f64("max_lr")?, total)
            .and_then(|s| s.with_div_factors(div_factor, final_div_factor))
            .and_then(|s| s.with_pct_start(pct_start))
            .and_then(|s| s.with_phases(phases))
            .and_then(|s| s.with_anneal(anneal)),
    )?;
    let momentum = cycled_momentum(args, optimizer, &path, (0.85, 0.95), |b, m| {
        lr.momentum(b, m)
    })?;
    Ok(Ported {
        lr: lr.into(),
        momentum,
        controller: None,
    })
}

/// The member schedulers of `SequentialLR` / `ChainedScheduler`: `(name, name path, args)`.
fn members<'a>(
    args: &Fields<'a>,
    empty: &'a Value,
) -> Result<Vec<(&'a str, String, Fields<'a>)>, CompatError> {
    let list = args.objects("schedulers")?;
    if list.is_empty() {
        return Err(CompatError::invalid(
            &args.path_of("schedulers"),
            "[]",
            "needs at least one scheduler",
        ));
    }
    list.into_iter()
        .map(|(path, value)| {
            let member = Fields::new(path, value)?;
            member.only(&["scheduler", "args"])?;
            let name = member.str("scheduler")?;
            Ok((name, member.path_of("scheduler"), args_of(&member, empty)?))
        })
        .collect()
}

/// `SequentialLR(schedulers, milestones)`: scheduler `i` runs from milestone `i - 1` on
/// its own clock. At a milestone torch calls `scheduler.step(0)`, which restarts it from
/// the base lr through its closed form; `MultiplicativeLR` has none, so it continues from
/// the lr in force just before its milestone.
fn sequential(args: &Fields<'_>, base: f64) -> Result<ScheduleSpec, CompatError> {
    only(args, &["schedulers", "milestones"])?;
    let empty = Value::Object(Default::default());
    let members = members(args, &empty)?;
    let milestones = args.u64_list("milestones")?;
    if milestones.len() + 1 != members.len() {
        return Err(CompatError::invalid(
            &args.path_of("milestones"),
            format!("{milestones:?}"),
            format!(
                "needs one fewer milestone than schedulers ({} schedulers)",
                members.len()
            ),
        ));
    }
    if let Some(i) = milestones.iter().position(|&m| m == 0) {
        return Err(CompatError::invalid(
            &format!("{}[{i}]", args.path_of("milestones")),
            0,
            "a milestone must be >= 1 (torch never restarts a scheduler at step 0)",
        ));
    }
    let mut pieces: Vec<ScheduleSpec> = Vec::with_capacity(members.len());
    for (i, (name, name_path, member_args)) in members.iter().enumerate() {
        let member_base = if i > 0 && *name == "MultiplicativeLR" {
            let so_far = join(
                &args.path_of("milestones"),
                milestones[..i - 1].to_vec(),
                pieces.clone(),
            )?;
            so_far.value(milestones[i - 1].saturating_sub(1))
        } else {
            base
        };
        if i > 0 && *name == "SWALR" {
            return Err(CompatError::Unsupported {
                field: name_path.clone(),
                detail: "SWALR after the first milestone of a SequentialLR (torch restarts it \
                         from its internal step count) is not supported"
                    .to_owned(),
            });
        }
        pieces.push(schedule(name, name_path, member_args, member_base)?);
    }
    join(&args.path_of("milestones"), milestones, pieces)
}

/// `ChainedScheduler(schedulers)`: every member multiplies the lr by its own factor each
/// step, so the result is the base lr times the product of the members' factor
/// schedules. Only members whose torch update is a pure multiplication qualify.
fn chained(args: &Fields<'_>, base: f64) -> Result<ScheduleSpec, CompatError> {
    only(args, &["schedulers", "optimizer"])?;
    const MULTIPLICATIVE: [&str; 7] = [
        "ConstantLR",
        "LinearLR",
        "ExponentialLR",
        "StepLR",
        "MultiStepLR",
        "PolynomialLR",
        "MultiplicativeLR",
    ];
    let empty = Value::Object(Default::default());
    let mut factors = Vec::new();
    for (name, name_path, member_args) in members(args, &empty)? {
        if !MULTIPLICATIVE.contains(&name) {
            return Err(CompatError::Unsupported {
                field: name_path,
                detail: format!(
                    "`{name}` sets the lr instead of multiplying it, so its effect in a \
                     ChainedScheduler depends on the order of the members; supported \
                     members: {}",
                    MULTIPLICATIVE.join(", ")
                ),
            });
        }
        factors.push(schedule(name, &name_path, &member_args, 1.0)?);
    }
    let path = args.path_of("schedulers");
    let product: ScheduleSpec = build(&path, Product::new(factors))?.into();
    Ok(build(&path, Scale::new(base, product))?.into())
}

/// The momentum (SGD) or beta1 (Adam) cycle of CyclicLR and OneCycleLR: `None` when
/// `cycle_momentum` is false, else `momentum(base_momentum, max_momentum)` with the peer's
/// defaults.
fn cycled_momentum<S: Into<ScheduleSpec>>(
    args: &Fields<'_>,
    optimizer: &Optimizer<'_>,
    path: &str,
    (base, max): (f64, f64),
    momentum: impl FnOnce(f64, f64) -> Result<S, cadence::Error>,
) -> Result<Option<ScheduleSpec>, CompatError> {
    if !args.bool_or("cycle_momentum", true)? {
        return Ok(None);
    }
    optimizer.check_cycles_momentum()?;
    let m = momentum(
        args.f64_or("base_momentum", base)?,
        args.f64_or("max_momentum", max)?,
    );
    Ok(Some(build(path, m)?.into()))
}

#[cfg(test)]
mod tests {
    use cadence::testing::close;
    use serde_json::{Value, json};

    use crate::{CompatError, ControllerRule, Trajectory, eval_case};

    fn run(scheduler: &str, optimizer: Value, args: Value, steps: u64) -> Trajectory {
        try_run(scheduler, optimizer, args, steps).unwrap()
    }

    fn try_run(
        scheduler: &str,
        optimizer: Value,
        args: Value,
        steps: u64,
    ) -> Result<Trajectory, CompatError> {
        eval_case(&json!({"source": "torch", "steps": steps,
            "config": {"scheduler": scheduler, "optimizer": optimizer, "args": args}}))
    }

    fn sgd(lr: f64) -> Value {
        json!({"type": "SGD", "lr": lr})
    }

    fn assert_close(got: &[f64], expected: &[f64]) {
        assert_eq!(got.len(), expected.len(), "{got:?}");
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!(close(*g, *e, 1e-12), "[{i}] {g} vs {e} in {got:?}");
        }
    }

    #[test]
    fn defaults_follow_torch() {
        // StepLR gamma = 0.1; ConstantLR factor = 1/3 for 5 steps; LinearLR 1/3 -> 1 over
        // 5; PolynomialLR 5 steps, power 1; SWALR 10 cosine epochs.
        let args = json!({"step_size": 3, "verbose": false, "last_epoch": -1});
        let step = run("StepLR", sgd(1.0), args, 7);
        assert_close(&step.lr, &[1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01]);
        let constant = run("ConstantLR", sgd(0.3), json!({}), 7);
        assert_close(&constant.lr, &[0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.3]);
        let linear = run("LinearLR", sgd(0.3), json!({}), 7);
        let ramp: Vec<f64> = (0..7)
            .map(|t| 0.3 * (1.0 / 3.0 + (2.0 / 3.0) * (t.min(5) as f64) / 5.0))
            .collect();
        assert_close(&linear.lr, &ramp);
        let poly = run("PolynomialLR", sgd(1.0), json!({}), 7);
        assert_close(&poly.lr, &[1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0]);
        let swa = run("SWALR", sgd(1.0), json!({"swa_lr": 0.0}), 12);
        assert!(close(swa.lr[5], 0.5, 1e-12), "{:?}", swa.lr);
        assert_eq!(swa.lr[10], 0.0);
    }

    #[test]
    fn zero_lengths_hold_what_torch_holds() {
        // total_iters = 0: ConstantLR and LinearLR apply their factor at epoch 0 and never
        // undo it; PolynomialLR never decays; SWALR jumps to swa_lr at once.
        let args = json!({"factor": 0.5, "total_iters": 0});
        assert_close(&run("ConstantLR", sgd(1.0), args, 3).lr, &[0.5; 3]);
        let args = json!({"start_factor": 0.25, "total_iters": 0});
        assert_close(&run("LinearLR", sgd(1.0), args, 3).lr, &[0.25; 3]);
        let args = json!({"total_iters": 0, "power": 2.0});
        assert_close(&run("PolynomialLR", sgd(0.7), args, 3).lr, &[0.7; 3]);
        let args = json!({"swa_lr": 0.05, "anneal_epochs": 0});
        assert_close(&run("SWALR", sgd(0.5), args, 3).lr, &[0.05; 3]);
        let args = json!({"gamma": 0.0});
        assert_close(
            &run("ExponentialLR", sgd(0.5), args, 3).lr,
            &[0.5, 0.0, 0.0],
        );
    }

    #[test]
    fn multistep_milestones_are_a_counter() {
        // Order is free and a repeated milestone applies gamma twice.
        let args = json!({"milestones": [6, 2, 2], "gamma": 0.5});
        let lr = run("MultiStepLR", sgd(1.0), args, 7).lr;
        assert_close(&lr, &[1.0, 1.0, 0.25, 0.25, 0.25, 0.25, 0.125]);
    }

    #[test]
    fn lambda_and_multiplicative() {
        let args = json!({"lr_lambda_src": "lambda e: 0.5 if e < 2 else 0.1"});
        assert_close(&run("LambdaLR", sgd(2.0), args, 3).lr, &[1.0, 1.0, 0.2]);
        let args = json!({"lr_lambda_src": "lambda epoch: 0.5"});
        let lr = run("MultiplicativeLR", sgd(2.0), args, 4).lr;
        assert_close(&lr, &[2.0, 1.0, 0.5, 0.25]);
        // A varying factor multiplies out: 1, 1 * 0.5, 0.5 * 0.25, ... (f(t) = 0.5^t).
        let args = json!({"lr_lambda_src": "lambda epoch: 0.5 ** epoch"});
        let lr = run("MultiplicativeLR", sgd(2.0), args, 4).lr;
        assert_close(&lr, &[2.0, 1.0, 0.25, 0.25 * 0.125]);
        let args = json!({"lr_lambda_src": "lambda epoch: epoch ^ 2"});
        let err = try_run("LambdaLR", sgd(1.0), args, 3).unwrap_err();
        assert_eq!(err.field(), "config.args.lr_lambda_src", "{err}");
    }

    #[test]
    fn warm_restarts_by_epoch_keep_torchs_rounded_cycle() {
        // torch: n = int(math.log(121 / 1 * 2 + 1, 3)) = int(4.999...) = 4, so at epoch 121
        // (exactly the sixth restart) T_cur = T_i = 81 and the lr is eta_min; counting
        // steps, torch (and the exact schedule) restarts at the peak.
        assert!(
            243f64.ln() / 3f64.ln() < 5.0,
            "libm rounds as CPython's does"
        );
        let args = json!({"T_0": 1, "T_mult": 3, "eta_min": 0.0});
        let config = |driver: Value| {
            json!({"source": "torch", "steps": 2, "config": {
                "scheduler": "CosineAnnealingWarmRestarts", "optimizer": sgd(1.0),
                "args": args, "driver": driver}})
        };
        let by_epoch = eval_case(&config(json!({"step_epochs": [121.0]}))).unwrap();
        assert_close(&by_epoch.lr, &[1.0, 0.0]);
        let half = eval_case(&config(json!({"step_epochs": [121.5 + 121.0]}))).unwrap();
        // Epoch 242.5: cycle 5 starts at 121 and lasts 243.
        let expected = (1.0 + (std::f64::consts::PI * 121.5 / 243.0).cos()) / 2.0;
        assert!(close(half.lr[1], expected, 1e-12), "{:?}", half.lr);
        let by_step = run("CosineAnnealingWarmRestarts", sgd(1.0), args.clone(), 122).lr;
        assert_eq!(by_step[121], 1.0);
        assert!(close(
            by_step[120],
            (1.0 + (std::f64::consts::PI * 80.0 / 81.0).cos()) / 2.0,
            1e-12
        ));
    }

    #[test]
    fn cyclic_defaults_and_momentum() {
        let args = json!({"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 2});
        let t = run(
            "CyclicLR",
            json!({"type": "SGD", "lr": 5.0}),
            args.clone(),
            5,
        );
        assert_close(&t.lr, &[0.1, 0.55, 1.0, 0.55, 0.1]);
        assert_close(&t.momentum.unwrap(), &[0.9, 0.85, 0.8, 0.85, 0.9]);
        let adam = json!({"type": "Adam", "lr": 1e-3, "betas": [0.9, 0.999]});
        assert!(run("CyclicLR", adam, args.clone(), 3).momentum.is_some());
        let err = try_run("CyclicLR", json!({"type": "Adagrad", "lr": 0.1}), args, 3).unwrap_err();
        assert_eq!(err.field(), "config.optimizer.type", "{err}");
    }

    #[test]
    fn one_cycle_from_epochs_without_momentum() {
        let args = json!({"max_lr": 1.0, "epochs": 2, "steps_per_epoch": 5,
                          "cycle_momentum": false, "anneal_strategy": "linear"});
        let t = run("OneCycleLR", sgd(123.0), args, 10);
        assert_eq!(t.momentum, None);
        assert!(close(t.lr[0], 1.0 / 25.0, 1e-12));
        // Peak at pct_start * total - 1 = 2.
        assert!(close(t.lr[2], 1.0, 1e-12), "{:?}", t.lr);
        assert!(close(t.lr[9], 1.0 / 25.0 / 1e4, 1e-12), "{:?}", t.lr);
        let err = try_run("OneCycleLR", sgd(0.1), json!({"max_lr": 1.0}), 3).unwrap_err();
        assert_eq!(err.field(), "config.args.total_steps", "{err}");
    }

    #[test]
    fn sequential_restarts_members_and_continues_a_multiplicative_one() {
        // ConstantLR: 0.5, 0.5, then 1.0 at total_iters = 2; at milestone 3 torch calls
        // MultiplicativeLR.step(0), which keeps the current lr (1.0), then multiplies.
        let args = json!({"schedulers": [
            {"scheduler": "ConstantLR", "args": {"factor": 0.5, "total_iters": 2}},
            {"scheduler": "MultiplicativeLR", "args": {"lr_lambda_src": "lambda e: 0.9"}}],
            "milestones": [3]});
        let lr = run("SequentialLR", sgd(1.0), args, 6).lr;
        assert_close(&lr, &[0.5, 0.5, 1.0, 1.0, 0.9, 0.81]);
        let args = json!({"schedulers": [{"scheduler": "StepLR", "args": {"step_size": 1}}],
                          "milestones": [3]});
        let err = try_run("SequentialLR", sgd(1.0), args, 3).unwrap_err();
        assert_eq!(err.field(), "config.args.milestones", "{err}");
    }

    #[test]
    fn chained_multiplies_factors_and_rejects_setters() {
        let args = json!({"schedulers": [
            {"scheduler": "LinearLR", "args": {"start_factor": 0.5, "total_iters": 2}},
            {"scheduler": "StepLR", "args": {"step_size": 2, "gamma": 0.5}}]});
        let lr = run("ChainedScheduler", sgd(2.0), args, 5).lr;
        assert_close(&lr, &[1.0, 1.5, 1.0, 1.0, 0.5]);
        let args = json!({"schedulers": [
            {"scheduler": "StepLR", "args": {"step_size": 2}},
            {"scheduler": "LambdaLR", "args": {"lr_lambda_src": "lambda e: 1.0"}}]});
        let err = try_run("ChainedScheduler", sgd(1.0), args, 3).unwrap_err();
        assert_eq!(err.field(), "config.args.schedulers[1].scheduler", "{err}");
    }

    #[test]
    fn plateau_defaults_and_checks() {
        let config = json!({"scheduler": "ReduceLROnPlateau", "optimizer": sgd(0.1)});
        let ported = crate::port(crate::Source::Torch, &config).unwrap();
        let Some(ControllerRule::Plateau(c)) = ported.controller.map(|c| c.rule) else {
            panic!("no plateau controller");
        };
        assert_eq!((c.patience, c.cooldown), (10, 0));
        assert!(close(c.factor, 0.1, 0.0));
        let err = try_run("ReduceLROnPlateau", sgd(0.1), json!({"factor": 1.0}), 1).unwrap_err();
        assert_eq!(err.field(), "config.args.factor", "{err}");
    }

    #[test]
    fn malformed_configs_name_the_field() {
        let cases = [
            ("StepLR", json!({}), "config.args.step_size"),
            ("StepLR", json!({"step_size": 0}), "config.args.step_size"),
            (
                "StepLR",
                json!({"step_size": 2, "gama": 0.5}),
                "config.args.gama",
            ),
            ("ConstantLR", json!({"factor": 1.5}), "config.args.factor"),
            (
                "LinearLR",
                json!({"start_factor": 0.0}),
                "config.args.start_factor",
            ),
            (
                "CosineAnnealingLR",
                json!({"T_max": "ten"}),
                "config.args.T_max",
            ),
            (
                "SWALR",
                json!({"swa_lr": 0.1, "anneal_strategy": "exp"}),
                "config.args.anneal_strategy",
            ),
            (
                "CosineAnnealingWarmRestarts",
                json!({"T_0": 5, "T_mult": 0}),
                "config.args.T_mult",
            ),
            ("NoSuchLR", json!({}), "config.scheduler"),
            (
                "StepLR",
                json!({"step_size": 1, "last_epoch": 4}),
                "config.args.last_epoch",
            ),
            (
                "StepLR",
                json!({"step_size": 1, "verbose": "yes"}),
                "config.args.verbose",
            ),
            (
                "SequentialLR",
                json!({"schedulers": [{"scheduler": "StepLR", "args": {"step_size": 1}},
                                      {"scheduler": "StepLR", "args": {"step_size": 1}}],
                       "milestones": [0]}),
                "config.args.milestones[0]",
            ),
        ];
        for (name, args, field) in cases {
            let err = try_run(name, sgd(0.1), args, 2).unwrap_err();
            assert_eq!(err.field(), field, "{name}: {err}");
        }
        let err = eval_case(&json!({"source": "torch", "steps": 1,
            "config": {"scheduler": "StepLR", "args": {"step_size": 1}}}))
        .unwrap_err();
        assert_eq!(err.field(), "config.optimizer", "{err}");
    }
}
