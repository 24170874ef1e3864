//! transformers schedulers (`transformers.get_scheduler`) ported to cadence.
//!
//! Every type is a `LambdaLR` over the optimizer's lr, read with the torch loop convention
//! (`lr[i]` after `i` calls of `scheduler.step()`), so step `i` of the port is the lambda at
//! `i`. The linear warmup `lr * i / num_warmup_steps` is a prefix [`Warmup`] aimed at the
//! optimizer's lr.

use cadence::controllers::{GreedyConfig, Mode, PlateauConfig, Threshold};
use cadence::{
    Anneal, Constant, Cosine, CosineRestarts, Cycles, DecayLength, InverseSqrt, Linear, Overrun,
    PiecewiseInterpolate, Polynomial, ScheduleSpec, Warmup, WarmupMode, WarmupStableDecay,
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
        // get_scheduler passes no scheduler_specific_kwargs to these two: ignored.
        "constant" => Ok(Ported::lr(hf.build(Constant::new(lr))?)),
        "constant_with_warmup" => hf.warmup(hf.build(Constant::new(lr))?).map(Ported::lr),
        "linear" => {
            kw.only(&[])?;
            // transformers: max(0, (T - i) / max(1, T - W)), which is 0 from W on if T <= W.
            let (w, total) = (hf.warmup_steps()?, hf.training_steps()?);
            let decay = if total > w {
                hf.build(Linear::new(lr, 0.0, total - w))?
            } else {
                hf.build(Constant::new(0.0))?
            };
            hf.warmup(decay).map(Ported::lr)
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
            let power = kw.f64_or("power", 1.0)?;
            let decay = match total.checked_sub(w) {
                // transformers divides by T - W at step W = T.
                Some(0) => {
                    return Err(CompatError::invalid(
                        &args.path_of("num_training_steps"),
                        total,
                        format!("must differ from num_warmup_steps ({w}): division by zero"),
                    ));
                }
                Some(steps) => hf.build(Polynomial::new(lr, lr_end, power, steps))?,
                // Past num_training_steps transformers holds lr_end.
                None => hf.build(Constant::new(lr_end))?,
            };
            hf.warmup(decay).map(Ported::lr)
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
        // cos is even: a negative num_cycles is its absolute value; 0 never leaves the lr.
        let cycles = self.kw.f64_or("num_cycles", 0.5)?.abs();
        if cycles == 0.0 {
            return self.build(Constant::new(self.lr));
        }
        // One half wave lasts span / (2 num_cycles) steps: a periodic cosine when that is
        // a whole number of steps, else cycles of one full wave, span / num_cycles long.
        let half = span as f64 / (2.0 * cycles);
        if half.fract() == 0.0 && half >= 1.0 {
            let cos =
                Cosine::new(self.lr, end, half as u64).map(|c| c.with_overrun(Overrun::Continue));
            return self.build(cos);
        }
        let wave = PiecewiseInterpolate::new(
            vec![(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)],
            Anneal::Cosine.into(),
        )
        .map(ScheduleSpec::from)
        .map(Box::new);
        let waves = wave.and_then(|w| Cycles::new(self.lr, end, 2.0 * half, w));
        build(&field, waves).map(ScheduleSpec::from)
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
    if w == 0 {
        return Err(CompatError::Unsupported {
            field: hf.args.path_of("num_warmup_steps"),
            detail: "0 warmup steps: the decay clock would start one step before step 0, \
                     which no cadence clock expresses (use at least 1 warmup step)"
                .to_owned(),
        });
    }
    let decay = hf.cosine(hf.min_lr()?)?;
    let warm = match rate {
        // r + (1 - r) i / max(1, W - 1) reaches the lr at W - 1 only when W >= 2; with one
        // warmup step, step 0 reads r and the decay clock runs from step 0 (progress i / T').
        Some(r) if w == 1 => Warmup::new(Anneal::Linear, 1, hf.lr * r, WarmupMode::Overlay, decay),
        Some(r) => Warmup::new(Anneal::Linear, w - 1, hf.lr * r, WarmupMode::Prefix, decay),
        None => Warmup::new(
            Anneal::Linear,
            w - 1,
            hf.lr / w as f64,
            WarmupMode::Prefix,
            decay,
        ),
    }
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

/// `threshold` under `threshold_mode` (torch's and GreedyLR's `rel` / `abs`).
fn threshold(kw: &Fields<'_>, default: f64, default_mode: &str) -> Result<Threshold, CompatError> {
    let value = kw.f64_or("threshold", default)?;
    match kw.str_or("threshold_mode", default_mode)? {
        "rel" => Ok(Threshold::Rel(value)),
        "abs" => Ok(Threshold::Abs(value)),
        other => Err(CompatError::invalid(
            &kw.path_of("threshold_mode"),
            other,
            "must be rel or abs",
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
    Ok(ControllerRule::Plateau(PlateauConfig {
        mode: mode(kw, "min")?,
        threshold: threshold(kw, 1e-4, "rel")?,
        factor: kw.f64_or("factor", d.factor)?,
        patience: kw.u64_or("patience", d.patience)?,
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
        "threshold_mode",
        "cooldown",
        "warmup",
        "min_lr",
        "max_lr",
        "eps",
        "verbose",
        "smooth",
        "window_size",
        "reset_start",
    ])?;
    let d = GreedyConfig::default();
    let window = if kw.bool_or("smooth", false)? {
        usize::try_from(kw.u64_or("window_size", 50)?)
            .map_err(|_| CompatError::invalid(&kw.path_of("window_size"), "", "too large"))?
    } else {
        1
    };
    let reset_after = match kw.get("reset_start") {
        None => d.reset_after,
        // GreedyLR: reset_start <= 0 resets on the first cut at the floor.
        Some(_) => Some(kw.i64_or("reset_start", 0)?.max(1) as u64),
    };
    let threshold = threshold(kw, 1e-6, "abs")?;
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

#[cfg(test)]
mod tests {
    use crate::{CompatError, eval_case};
    use cadence::testing::close;
    use serde_json::{Value, json};
    use std::f64::consts::PI;

    fn run(scheduler: &str, args: Value, steps: u64) -> Result<Vec<f64>, CompatError> {
        eval_case(
            &json!({"source": "transformers", "steps": steps, "config": {
            "scheduler": scheduler, "optimizer": {"type": "SGD", "lr": 0.1}, "args": args}}),
        )
        .map(|t| t.lr)
    }

    /// Compares every step with the peer's lambda (written out from its definition).
    fn check(scheduler: &str, args: Value, steps: u64, lambda: impl Fn(f64) -> f64) {
        let lr = run(scheduler, args, steps).unwrap();
        for (i, got) in lr.iter().enumerate() {
            let want = 0.1 * lambda(i as f64);
            assert!(
                close(*got, want, 1e-12) || (got - want).abs() < 1e-15,
                "{scheduler} step {i}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn cosine_with_a_fractional_half_wave_and_past_the_end() {
        // (45 - 0) / (2 * 2) = 11.25 steps per half wave: cycles of one full wave.
        let args = json!({"num_warmup_steps": 0, "num_training_steps": 45,
                          "scheduler_specific_kwargs": {"num_cycles": 2.0}});
        check("cosine", args, 70, |i| {
            0.5 * (1.0 + (PI * 2.0 * 2.0 * i / 45.0).cos())
        });
    }

    #[test]
    fn cosine_with_zero_or_negative_cycles() {
        let args = |n: f64| {
            json!({"num_warmup_steps": 2, "num_training_steps": 22,
                   "scheduler_specific_kwargs": {"num_cycles": n}})
        };
        check(
            "cosine",
            args(0.0),
            30,
            |i| if i < 2.0 { i / 2.0 } else { 1.0 },
        );
        check("cosine", args(-1.0), 30, |i| {
            if i < 2.0 {
                i / 2.0
            } else {
                0.5 * (1.0 + (-PI * 2.0 * (i - 2.0) / 20.0).cos())
            }
        });
    }

    #[test]
    fn cosine_with_min_lr_rate_and_cycles() {
        let args = json!({"num_warmup_steps": 4, "num_training_steps": 34,
                          "scheduler_specific_kwargs": {"num_cycles": 1.5, "min_lr_rate": 0.2}});
        check("cosine_with_min_lr", args, 50, |i| {
            if i < 4.0 {
                return i / 4.0;
            }
            let p = (i - 4.0) / 30.0;
            let c = 0.5 * (1.0 + (PI * 1.5 * 2.0 * p).cos());
            c * 0.8 + 0.2
        });
    }

    #[test]
    fn cosine_warmup_with_min_lr_and_warmup_lr_rate() {
        let args = json!({"num_warmup_steps": 5, "num_training_steps": 25,
            "scheduler_specific_kwargs": {"min_lr": 0.001, "warmup_lr_rate": 0.2}});
        check("cosine_warmup_with_min_lr", args, 30, |i| {
            if i < 5.0 {
                return 0.2 + 0.8 * i / 4.0;
            }
            let p = (i - 5.0 + 1.0) / 20.0;
            let c = 0.5 * (1.0 + (PI * 0.5 * 2.0 * p).cos());
            c * (1.0 - 0.01) + 0.01
        });
        let one = json!({"num_warmup_steps": 1, "num_training_steps": 21,
            "scheduler_specific_kwargs": {"min_lr_rate": 0.1, "warmup_lr_rate": 0.3}});
        check("cosine_warmup_with_min_lr", one, 25, |i| {
            if i < 1.0 {
                return 0.3;
            }
            let c = 0.5 * (1.0 + (PI * 0.5 * 2.0 * (i / 20.0)).cos());
            c * 0.9 + 0.1
        });
        let none = json!({"num_warmup_steps": 0, "num_training_steps": 25,
            "scheduler_specific_kwargs": {"min_lr": 0.001}});
        let e = run("cosine_warmup_with_min_lr", none, 3).unwrap_err();
        assert_eq!(e.field(), "config.args.num_warmup_steps");
    }

    #[test]
    fn min_lr_needs_exactly_one_of_two() {
        let both = json!({"num_warmup_steps": 0, "num_training_steps": 10,
            "scheduler_specific_kwargs": {"min_lr": 0.001, "min_lr_rate": 0.1}});
        let e = run("cosine_with_min_lr", both, 3).unwrap_err();
        assert_eq!(
            e.field(),
            "config.args.scheduler_specific_kwargs.min_lr_rate"
        );
        let neither = json!({"num_warmup_steps": 0, "num_training_steps": 10});
        let e = run("cosine_with_min_lr", neither, 3).unwrap_err();
        assert_eq!(e.field(), "config.args.scheduler_specific_kwargs.min_lr");
    }

    #[test]
    fn polynomial_power_and_end() {
        let args = json!({"num_warmup_steps": 3, "num_training_steps": 23,
            "scheduler_specific_kwargs": {"lr_end": 0.01, "power": 2.0}});
        check("polynomial", args, 30, |i| {
            if i < 3.0 {
                return i / 3.0;
            }
            if i > 23.0 {
                return 0.01 / 0.1;
            }
            let left = 1.0 - (i - 3.0) / 20.0;
            ((0.1 - 0.01) * left * left + 0.01) / 0.1
        });
        let short = json!({"num_warmup_steps": 4, "num_training_steps": 2,
            "scheduler_specific_kwargs": {"lr_end": 0.01}});
        check("polynomial", short, 8, |i| {
            if i < 4.0 { i / 4.0 } else { 0.01 / 0.1 }
        });
        let bad = json!({"num_warmup_steps": 3, "num_training_steps": 23,
            "scheduler_specific_kwargs": {"lr_end": 0.5}});
        let e = run("polynomial", bad, 3).unwrap_err();
        assert_eq!(e.field(), "config.args.scheduler_specific_kwargs.lr_end");
    }

    #[test]
    fn inverse_sqrt_timescale_defaults() {
        check("inverse_sqrt", json!({"num_warmup_steps": 0}), 20, |i| {
            1.0 / ((i + 10_000.0) / 10_000.0).sqrt()
        });
        let args = json!({"num_warmup_steps": 5, "scheduler_specific_kwargs": {"timescale": 50}});
        check("inverse_sqrt", args, 40, |i| {
            if i < 5.0 {
                i / 5.0
            } else {
                1.0 / ((i + 45.0) / 50.0).sqrt()
            }
        });
    }

    #[test]
    fn linear_with_training_shorter_than_warmup() {
        let args = json!({"num_warmup_steps": 6, "num_training_steps": 4});
        check("linear", args, 10, |i| {
            if i < 6.0 {
                i / 6.0
            } else {
                ((4.0 - i) / 1.0).max(0.0)
            }
        });
    }

    #[test]
    fn warmup_stable_decay_from_stable_steps() {
        let args = json!({"num_warmup_steps": 4, "scheduler_specific_kwargs":
            {"num_decay_steps": 6, "num_stable_steps": 5, "warmup_type": "cosine"}});
        check("warmup_stable_decay", args, 20, |i| {
            if i < 4.0 {
                0.5 * (1.0 - (PI * i / 4.0).cos())
            } else if i < 9.0 {
                1.0
            } else if i < 15.0 {
                0.5 * (1.0 + (PI * 2.0 * 0.5 * (i - 9.0) / 6.0).cos())
            } else {
                0.0
            }
        });
        let missing = json!({"num_warmup_steps": 4,
            "scheduler_specific_kwargs": {"num_decay_steps": 6}});
        let e = run("warmup_stable_decay", missing, 3).unwrap_err();
        assert_eq!(
            e.field(),
            "config.args.scheduler_specific_kwargs.num_stable_steps"
        );
    }

    #[test]
    fn reduce_lr_on_plateau_with_torch_rules() {
        let case = json!({"source": "transformers", "steps": 7, "config": {
            "scheduler": "reduce_lr_on_plateau", "optimizer": {"type": "SGD", "lr": 0.1},
            "args": {"scheduler_specific_kwargs": {"factor": 0.5, "patience": 1}},
            "driver": {"metrics": [1.0, 0.9, 0.95, 0.96, 0.97, 0.98]}}});
        let lr = eval_case(&case).unwrap().lr;
        assert_eq!(lr, vec![0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025]);
    }

    #[test]
    fn malformed_configs_name_the_field() {
        let e = run("cosine_with_hard_restarts", json!({}), 3).unwrap_err();
        assert_eq!(e.field(), "config.scheduler");
        let e = run("linear", json!({"num_training_steps": 10}), 3).unwrap_err();
        assert_eq!(e.field(), "config.args.num_warmup_steps");
        let e = run(
            "linear",
            json!({"num_warmup_steps": "ten", "num_training_steps": 10}),
            3,
        )
        .unwrap_err();
        assert_eq!(e.field(), "config.args.num_warmup_steps");
        let typo = json!({"num_warmup_steps": 1, "num_training_steps": 10,
                          "scheduler_specific_kwargs": {"num_cycle": 2}});
        let e = run("cosine", typo, 3).unwrap_err();
        assert_eq!(e.field(), "config.args.scheduler_specific_kwargs.num_cycle");
        let e = run("constant", json!({"warmup": 3}), 3).unwrap_err();
        assert_eq!(e.field(), "config.args.warmup");
    }
}
