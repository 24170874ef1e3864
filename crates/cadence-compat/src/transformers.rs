//! transformers schedulers (`transformers.get_scheduler`) ported to cadence.
//!
//! Every type is a `LambdaLR` over the optimizer's lr, read with the torch loop convention
//! (`lr[i]` after `i` calls of `scheduler.step()`), so step `i` of the port is the lambda at
//! `i`. The linear warmup `lr * i / num_warmup_steps` is a prefix [`Warmup`] aimed at the
//! optimizer's lr.

use cadence::controllers::{GreedyConfig, Mode, PlateauConfig, Threshold};
use cadence::{
    Anneal, Constant, Cosine, CosineRestarts, DecayLength, InverseSqrt, Linear, Overrun,
    Polynomial, ScheduleSpec, Warmup, WarmupMode, WarmupStableDecay,
};
use serde_json::{Map, Value};

use crate::config::Fields;
use crate::{CompatError, ControllerRule, Ported, PortedController, build};

/// The `get_scheduler` types, for the error on an unknown one.
const TYPES: &str = "linear, cosine, cosine_with_restarts, polynomial, constant, \
    constant_with_warmup, inverse_sqrt, reduce_lr_on_plateau, cosine_with_min_lr, \
    cosine_warmup_with_min_lr, warmup_stable_decay, greedy";

/// Ports a transformers config (`config.scheduler`, `config.optimizer.lr`, `config.args`).
pub(crate) fn port(config: &Fields<'_>) -> Result<Ported, CompatError> {
    config.only(&["scheduler", "optimizer", "args", "driver"])?;
    let name = config.str("scheduler")?;
    let lr = base_lr(config)?;
    let empty = Value::Object(Map::new());
    let args = match config.object("args")? {
        Some(args) => args,
        None => Fields::new(config.path_of("args"), &empty)?,
    };
    args.only(&[
        "num_warmup_steps",
        "num_training_steps",
        "scheduler_specific_kwargs",
    ])?;
    let kw = match args.object("scheduler_specific_kwargs")? {
        Some(kw) => kw,
        None => Fields::new(args.path_of("scheduler_specific_kwargs"), &empty)?,
    };
    let hf = Hf {
        lr,
        args: &args,
        kw: &kw,
    };
    match name {
        "constant" => {
            kw.only(&[])?;
            Ok(Ported::lr(hf.build(Constant::new(lr))?))
        }
        "constant_with_warmup" => {
            kw.only(&[])?;
            hf.warmup(hf.build(Constant::new(lr))?).map(Ported::lr)
        }
        "linear" => {
            kw.only(&[])?;
            let span = hf.decay_span()?;
            hf.warmup(hf.build(Linear::new(lr, 0.0, span))?)
                .map(Ported::lr)
        }
        "cosine" => {
            kw.only(&["num_cycles"])?;
            hf.warmup(hf.cosine(0.0)?).map(Ported::lr)
        }
        "cosine_with_min_lr" => {
            kw.only(&["num_cycles", "min_lr", "min_lr_rate"])?;
            hf.warmup(hf.cosine(hf.min_lr()?)?).map(Ported::lr)
        }
        "cosine_warmup_with_min_lr" => cosine_warmup_with_min_lr(&hf).map(Ported::lr),
        "cosine_with_restarts" => {
            kw.only(&["num_cycles"])?;
            let span = hf.decay_span()?;
            let cycles = kw.u64_or("num_cycles", 1)?;
            if cycles == 0 {
                return Err(CompatError::invalid(
                    &kw.path_of("num_cycles"),
                    0,
                    "must be at least 1",
                ));
            }
            let restarts = CosineRestarts::new(lr, 0.0, span as f64 / cycles as f64)
                .and_then(|s| s.with_cycles(cycles));
            hf.warmup(hf.build(restarts)?).map(Ported::lr)
        }
        "polynomial" => {
            kw.only(&["lr_end", "power"])?;
            let lr_end = kw.f64_or("lr_end", 1e-7)?;
            if lr_end >= lr {
                return Err(CompatError::invalid(
                    &kw.path_of("lr_end"),
                    lr_end,
                    format!("must be smaller than the optimizer's lr ({lr})"),
                ));
            }
            let (w, total) = (hf.warmup_steps()?, hf.training_steps()?);
            if total <= w {
                return Err(CompatError::invalid(
                    &args.path_of("num_training_steps"),
                    total,
                    format!("must exceed num_warmup_steps ({w}) for a polynomial decay"),
                ));
            }
            let poly = Polynomial::new(lr, lr_end, kw.f64_or("power", 1.0)?, total - w);
            hf.warmup(hf.build(poly)?).map(Ported::lr)
        }
        "inverse_sqrt" => {
            kw.only(&["timescale"])?;
            let w = hf.warmup_steps()?;
            // transformers: `timescale = num_warmup_steps or 10_000`.
            let default = if w == 0 { 10_000.0 } else { w as f64 };
            let timescale = kw.f64_or("timescale", default)?;
            hf.warmup(hf.build(InverseSqrt::new(lr, timescale))?)
                .map(Ported::lr)
        }
        "warmup_stable_decay" => warmup_stable_decay(&hf).map(Ported::lr),
        "reduce_lr_on_plateau" => metric_driven(lr, plateau(&kw)?),
        "greedy" => metric_driven(lr, greedy(&kw)?),
        other => Err(CompatError::Unsupported {
            field: config.path_of("scheduler"),
            detail: format!("`{other}` is not a get_scheduler type (supported: {TYPES})"),
        }),
    }
}

/// The optimizer's lr (`config.optimizer.lr`), the `LambdaLR` base.
pub(crate) fn base_lr(config: &Fields<'_>) -> Result<f64, CompatError> {
    match config.object("optimizer")? {
        Some(optimizer) => optimizer.f64("lr"),
        None => Err(CompatError::Missing {
            field: config.path_of("optimizer"),
        }),
    }
}

/// The parts of a `get_scheduler` call.
struct Hf<'f, 'a> {
    lr: f64,
    args: &'f Fields<'a>,
    kw: &'f Fields<'a>,
}

impl Hf<'_, '_> {
    fn build<S: Into<ScheduleSpec>>(
        &self,
        result: Result<S, cadence::Error>,
    ) -> Result<ScheduleSpec, CompatError> {
        build(&self.args.path_of("scheduler_specific_kwargs"), result).map(Into::into)
    }

    fn warmup_steps(&self) -> Result<u64, CompatError> {
        self.args.u64("num_warmup_steps")
    }

    fn training_steps(&self) -> Result<u64, CompatError> {
        self.args.u64("num_training_steps")
    }

    /// transformers' decay length `max(1, num_training_steps - num_warmup_steps)`.
    fn decay_span(&self) -> Result<u64, CompatError> {
        Ok(self
            .training_steps()?
            .saturating_sub(self.warmup_steps()?)
            .max(1))
    }

    /// `lr * i / num_warmup_steps` for `i < num_warmup_steps`, then `decay` from its step 0.
    fn warmup(&self, decay: ScheduleSpec) -> Result<ScheduleSpec, CompatError> {
        let w = self.warmup_steps()?;
        let warm = Warmup::new(Anneal::Linear, w, 0.0, WarmupMode::Prefix, decay)
            .and_then(|s| s.with_target(self.lr));
        build(&self.args.path_of("num_warmup_steps"), warm).map(ScheduleSpec::from)
    }

    /// `end + (lr - end) * (1 + cos(2 pi num_cycles p)) / 2`, `p = t / decay_span`, which
    /// transformers keeps evaluating past `num_training_steps` (the wave comes back up).
    fn cosine(&self, end: f64) -> Result<ScheduleSpec, CompatError> {
        let span = self.decay_span()?;
        let field = self.kw.path_of("num_cycles");
        let cycles = self.kw.f64_or("num_cycles", 0.5)?;
        if cycles <= 0.0 {
            return Err(CompatError::invalid(&field, cycles, "must be > 0"));
        }
        // One half wave lasts span / (2 num_cycles) steps.
        let half = span as f64 / (2.0 * cycles);
        if half.fract() != 0.0 || half < 1.0 {
            return Err(CompatError::Unsupported {
                field,
                detail: format!(
                    "a cosine half wave of {half} steps (decay steps {span} / (2 * num_cycles)); \
                     cadence's periodic cosine needs a whole number of steps"
                ),
            });
        }
        let cos = Cosine::new(self.lr, end, half as u64).map(|c| c.with_overrun(Overrun::Continue));
        self.build(cos)
    }

    /// `min_lr` or `lr * min_lr_rate`: exactly one of the two must be given.
    fn min_lr(&self) -> Result<f64, CompatError> {
        match (self.kw.opt_f64("min_lr")?, self.kw.opt_f64("min_lr_rate")?) {
            (Some(_), Some(_)) => Err(CompatError::invalid(
                &self.kw.path_of("min_lr_rate"),
                "both",
                "give only one of min_lr and min_lr_rate",
            )),
            // transformers: min_lr_rate = min_lr / lr.
            (Some(min_lr), None) => Ok(self.lr * (min_lr / self.lr)),
            (None, Some(rate)) => Ok(self.lr * rate),
            (None, None) => Err(CompatError::Missing {
                field: self.kw.path_of("min_lr"),
            }),
        }
    }
}

/// `cosine_warmup_with_min_lr`: its warmup reads `(i + 1) / W` (or `r + (1 - r) i / (W - 1)`
/// with `warmup_lr_rate`), reaching the lr at step `W - 1`, and its decay progress is
/// `(i - W + 1) / (T - W)`: the decay clock starts at `W - 1`, one step before `cosine`'s.
/// So it is a prefix warmup of `W - 1` steps into the same cosine.
fn cosine_warmup_with_min_lr(hf: &Hf<'_, '_>) -> Result<ScheduleSpec, CompatError> {
    hf.kw
        .only(&["num_cycles", "min_lr", "min_lr_rate", "warmup_lr_rate"])?;
    let w = hf.warmup_steps()?;
    let rate = hf.kw.opt_f64("warmup_lr_rate")?;
    if w == 0 || (w == 1 && rate.is_some()) {
        return Err(CompatError::Unsupported {
            field: hf.args.path_of("num_warmup_steps"),
            detail: format!(
                "{w} warmup steps: the decay would start one step before step 0, \
                 which no cadence clock expresses (use at least 2 warmup steps)"
            ),
        });
    }
    let init = match rate {
        None => hf.lr / w as f64,
        Some(r) => hf.lr * r,
    };
    let decay = hf.cosine(hf.min_lr()?)?;
    let warm = Warmup::new(Anneal::Linear, w - 1, init, WarmupMode::Prefix, decay)
        .and_then(|s| s.with_target(hf.lr));
    build(&hf.args.path_of("num_warmup_steps"), warm).map(ScheduleSpec::from)
}

/// `warmup_stable_decay` (`get_wsd_schedule`): the stable length is `num_stable_steps`, or
/// what `num_training_steps` leaves after warmup and decay.
fn warmup_stable_decay(hf: &Hf<'_, '_>) -> Result<ScheduleSpec, CompatError> {
    let kw = hf.kw;
    kw.only(&[
        "num_decay_steps",
        "num_stable_steps",
        "warmup_type",
        "decay_type",
        "min_lr_ratio",
        "num_cycles",
    ])?;
    let w = hf.warmup_steps()?;
    let decay = kw.u64("num_decay_steps")?;
    let stable = match kw.get("num_stable_steps") {
        Some(_) => kw.u64("num_stable_steps")?,
        None => {
            let total = match hf.args.get("num_training_steps") {
                Some(_) => hf.training_steps()?,
                None => {
                    return Err(CompatError::Missing {
                        field: kw.path_of("num_stable_steps"),
                    });
                }
            };
            total.checked_sub(w + decay).ok_or_else(|| {
                CompatError::invalid(
                    &hf.args.path_of("num_training_steps"),
                    total,
                    format!(
                        "must be at least num_warmup_steps + num_decay_steps = {}",
                        w + decay
                    ),
                )
            })?
        }
    };
    let anneal = |key: &str, default: &str, warmup: bool| -> Result<Anneal, CompatError> {
        match kw.str_or(key, default)? {
            "linear" => Ok(Anneal::Linear),
            "cosine" => Ok(Anneal::Cosine),
            "1-sqrt" if warmup => Ok(Anneal::ReverseSqrt),
            "1-sqrt" => Ok(Anneal::Sqrt),
            other => Err(CompatError::invalid(
                &kw.path_of(key),
                other,
                "must be one of linear, cosine, 1-sqrt",
            )),
        }
    };
    let warmup_anneal = anneal("warmup_type", "linear", true)?;
    let decay_anneal = anneal("decay_type", "cosine", false)?;
    let cycles = kw.f64_or("num_cycles", 0.5)?;
    if decay_anneal == Anneal::Cosine && cycles != 0.5 {
        return Err(CompatError::Unsupported {
            field: kw.path_of("num_cycles"),
            detail: format!("{cycles}: the cosine cooldown is the half wave (0.5) only"),
        });
    }
    let floor = hf.lr * kw.f64_or("min_lr_ratio", 0.0)?;
    let wsd = WarmupStableDecay::new(
        hf.lr,
        floor,
        w,
        w + stable + decay,
        DecayLength::Steps(decay),
    )
    .and_then(|s| s.with_init(floor))
    .and_then(|s| s.with_warmup_anneal(warmup_anneal))
    .and_then(|s| s.with_decay_anneal(decay_anneal));
    hf.build(wsd)
}

/// A constant lr scaled by a controller fed from step 1 on.
fn metric_driven(lr: f64, rule: ControllerRule) -> Result<Ported, CompatError> {
    Ok(Ported {
        lr: build("config.optimizer.lr", Constant::new(lr))?.into(),
        momentum: None,
        controller: Some(PortedController {
            rule,
            ignore_until: 0,
        }),
    })
}

pub(crate) fn mode(kw: &Fields<'_>, default: &str) -> Result<Mode, CompatError> {
    match kw.str_or("mode", default)? {
        "min" => Ok(Mode::Min),
        "max" => Ok(Mode::Max),
        other => Err(CompatError::invalid(
            &kw.path_of("mode"),
            other,
            "must be min or max",
        )),
    }
}

/// `reduce_lr_on_plateau`: torch's `ReduceLROnPlateau(optimizer, **kwargs)`.
fn plateau(kw: &Fields<'_>) -> Result<ControllerRule, CompatError> {
    kw.only(&[
        "mode",
        "factor",
        "patience",
        "threshold",
        "threshold_mode",
        "cooldown",
        "min_lr",
        "eps",
    ])?;
    let d = PlateauConfig::default();
    let threshold = kw.f64_or("threshold", 1e-4)?;
    let threshold = match kw.str_or("threshold_mode", "rel")? {
        "rel" => Threshold::Rel(threshold),
        "abs" => Threshold::Abs(threshold),
        other => {
            return Err(CompatError::invalid(
                &kw.path_of("threshold_mode"),
                other,
                "must be rel or abs",
            ));
        }
    };
    Ok(ControllerRule::Plateau(PlateauConfig {
        mode: mode(kw, "min")?,
        factor: kw.f64_or("factor", d.factor)?,
        patience: kw.u64_or("patience", d.patience)?,
        threshold,
        cooldown: kw.u64_or("cooldown", d.cooldown)?,
        min_value: kw.f64_or("min_lr", d.min_value)?,
        eps: kw.f64_or("eps", d.eps)?,
        ..d
    }))
}

/// `greedy`: transformers' `GreedyLR(optimizer, **kwargs)`.
fn greedy(kw: &Fields<'_>) -> Result<ControllerRule, CompatError> {
    kw.only(&[
        "mode",
        "factor",
        "patience",
        "threshold",
        "cooldown",
        "warmup",
        "min_lr",
        "max_lr",
        "smooth",
        "window_size",
        "reset_start",
        "eps",
    ])?;
    let d = GreedyConfig::default();
    let window = if kw.bool_or("smooth", false)? {
        usize::try_from(kw.u64("window_size")?)
            .map_err(|_| CompatError::invalid(&kw.path_of("window_size"), "", "too large"))?
    } else {
        1
    };
    let reset_after = match kw.get("reset_start") {
        None => d.reset_after,
        // GreedyLR: reset_start <= 0 resets on the first cut at the floor.
        Some(_) => Some(kw.i64_or("reset_start", 0)?.max(1) as u64),
    };
    let threshold = match kw.opt_f64("threshold")? {
        Some(a) => Threshold::Abs(a),
        None => d.threshold,
    };
    Ok(ControllerRule::Greedy(GreedyConfig {
        mode: mode(kw, "min")?,
        factor: kw.f64_or("factor", d.factor)?,
        patience: kw.u64_or("patience", d.patience)?,
        threshold,
        cooldown: kw.u64_or("cooldown", d.cooldown)?,
        warmup: kw.u64_or("warmup", d.warmup)?,
        min_value: kw.f64_or("min_lr", d.min_value)?,
        max_value: kw.f64_or("max_lr", d.max_value)?,
        eps: kw.f64_or("eps", d.eps)?,
        window,
        reset_after,
    }))
}
