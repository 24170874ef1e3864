//! timm schedulers (`timm.scheduler.*`) ported to cadence.
//!
//! timm evaluates `_get_lr(t)` at `t = i` for the `i`-th read (per epoch or per update:
//! the same clock either way), so step `i` of the port is timm's `t = i`. The warmup is
//! linear from `warmup_lr_init` over `warmup_t` steps; with `warmup_prefix` the schedule's
//! clock starts after it ([`WarmupMode::Prefix`]), otherwise the warmup overlays the
//! schedule's first steps ([`WarmupMode::Overlay`]).

use cadence::controllers::{PlateauConfig, Threshold};
use cadence::{
    Anneal, Constant, Cosine, Cycles, DecayLength, MultiStep, Polynomial, Schedule, ScheduleSpec,
    Step, Tanh, Warmup, WarmupMode, WarmupStableDecay,
};
use serde_json::{Map, Value};

use crate::config::Fields;
use crate::transformers::{base_lr, mode};
use crate::{CompatError, ControllerRule, Ported, PortedController, build};

const SCHEDULERS: &str = "CosineLRScheduler, TanhLRScheduler, PolyLRScheduler, \
    StepLRScheduler, MultiStepLRScheduler, PlateauLRScheduler, WSDLRScheduler";

/// Arguments every timm scheduler takes besides its own.
const COMMON: &[&str] = &[
    "t_in_epochs",
    "noise_range_t",
    "noise_pct",
    "noise_std",
    "noise_seed",
    "initialize",
];

/// Ports a timm config (`config.scheduler`, `config.optimizer.lr`, `config.args`).
pub(crate) fn port(config: &Fields<'_>) -> Result<Ported, CompatError> {
    config.only(&["scheduler", "optimizer", "args", "driver"])?;
    let name = config.str("scheduler")?;
    let lr = base_lr(config)?;
    let empty = Value::Object(Map::new());
    let args = match config.object("args")? {
        Some(args) => args,
        None => Fields::new(config.path_of("args"), &empty)?,
    };
    let known = |own: &[&str]| {
        let mut all = own.to_vec();
        all.extend_from_slice(COMMON);
        args.only(&all)
    };
    if args.has("noise_range_t") {
        return Err(CompatError::Unsupported {
            field: args.path_of("noise_range_t"),
            detail: "timm's lr noise draws from torch's random generator and cannot be \
                     reproduced; set noise_range_t to null (cadence's own `noise` \
                     combinator adds seeded noise)"
                .to_owned(),
        });
    }
    let timm = Timm { lr, args: &args };
    match name {
        "CosineLRScheduler" | "TanhLRScheduler" | "PolyLRScheduler" => {
            let shape = match name {
                "CosineLRScheduler" => {
                    known(&[CYCLES, &["k_decay"]].concat())?;
                    Shape::Cosine {
                        k_decay: args.f64_or("k_decay", 1.0)?,
                    }
                }
                "TanhLRScheduler" => {
                    known(&[CYCLES, &["lb", "ub"]].concat())?;
                    Shape::Tanh {
                        lb: args.f64_or("lb", -7.0)?,
                        ub: args.f64_or("ub", 3.0)?,
                    }
                }
                _ => {
                    known(&[CYCLES, &["power", "k_decay"]].concat())?;
                    Shape::Poly {
                        power: args.f64_or("power", 0.5)?,
                        k_decay: args.f64_or("k_decay", 1.0)?,
                    }
                }
            };
            timm.cycles(shape).map(Ported::lr)
        }
        "StepLRScheduler" => {
            known(&[
                "decay_t",
                "decay_rate",
                "warmup_t",
                "warmup_lr_init",
                "warmup_prefix",
            ])?;
            let step = Step::new(lr, args.f64_or("decay_rate", 1.0)?, args.f64("decay_t")?);
            timm.warmup(build(&args.path_of("decay_t"), step)?.into(), None)
                .map(Ported::lr)
        }
        "MultiStepLRScheduler" => {
            known(&[
                "decay_t",
                "decay_rate",
                "warmup_t",
                "warmup_lr_init",
                "warmup_prefix",
            ])?;
            // timm: decay_rate ** bisect_right(decay_t, t + 1): each milestone one step early.
            let milestones = args
                .u64_list("decay_t")?
                .into_iter()
                .map(|m| m.saturating_sub(1))
                .collect();
            let multi = MultiStep::new(lr, args.f64_or("decay_rate", 1.0)?, milestones);
            let multi = build(&args.path_of("decay_t"), multi)?;
            timm.warmup(multi.into(), None).map(Ported::lr)
        }
        "PlateauLRScheduler" => {
            known(&[
                "decay_rate",
                "patience_t",
                "verbose",
                "threshold",
                "cooldown_t",
                "warmup_t",
                "warmup_lr_init",
                "lr_min",
                "mode",
                "noise_type",
            ])?;
            plateau(&timm)
        }
        "WSDLRScheduler" => {
            known(&[
                "t_initial",
                "decay_t",
                "lr_min",
                "stable_fn",
                "stable_timescale",
                "stable_power",
                "decay_fn",
                "decay_power",
                "decay_ratio",
                "warmup_t",
                "warmup_lr_init",
            ])?;
            wsd(&timm).map(Ported::lr)
        }
        other => Err(CompatError::Unsupported {
            field: config.path_of("scheduler"),
            detail: format!("`{other}` (supported: {SCHEDULERS})"),
        }),
    }
}

/// The cycle arguments of the cosine, tanh and poly schedulers.
const CYCLES: &[&str] = &[
    "t_initial",
    "lr_min",
    "cycle_mul",
    "cycle_decay",
    "cycle_limit",
    "warmup_t",
    "warmup_lr_init",
    "warmup_prefix",
];

/// The curve of one cycle.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Cosine { k_decay: f64 },
    Tanh { lb: f64, ub: f64 },
    Poly { power: f64, k_decay: f64 },
}

struct Timm<'f, 'a> {
    lr: f64,
    args: &'f Fields<'a>,
}

impl Timm<'_, '_> {
    fn field(&self, key: &str) -> String {
        self.args.path_of(key)
    }

    /// timm's warmup: `warmup_lr_init + t * (target - warmup_lr_init) / warmup_t` for
    /// `t < warmup_t`, aimed at the base lr unless `target` says otherwise.
    fn warmup(
        &self,
        schedule: ScheduleSpec,
        target: Option<f64>,
    ) -> Result<ScheduleSpec, CompatError> {
        let steps = self.args.u64_or("warmup_t", 0)?;
        if steps == 0 {
            return Ok(schedule);
        }
        let mode = if self.args.bool_or("warmup_prefix", false)? {
            WarmupMode::Prefix
        } else {
            WarmupMode::Overlay
        };
        let init = self.args.f64_or("warmup_lr_init", 0.0)?;
        let warm = Warmup::new(Anneal::Linear, steps, init, mode, schedule)
            .and_then(|s| s.with_target(target.unwrap_or(self.lr)));
        build(&self.field("warmup_t"), warm).map(ScheduleSpec::from)
    }

    /// Cosine, tanh and poly: cycle `i` runs the shape from `lr * cycle_decay^i` to
    /// `lr_min` over `t_initial * cycle_mul^i` steps; after `cycle_limit` cycles, `lr_min`.
    /// One cycle is the family itself; several are [`Cycles`] of the family's unit shape.
    fn cycles(&self, shape: Shape) -> Result<ScheduleSpec, CompatError> {
        let a = self.args;
        let t_initial = a.u64("t_initial")?;
        if t_initial == 0 {
            return Err(CompatError::invalid(
                &self.field("t_initial"),
                0,
                "must be > 0",
            ));
        }
        let lr_min = a.f64_or("lr_min", 0.0)?;
        let limit = a.u64_or("cycle_limit", 1)?;
        let schedule: ScheduleSpec = match limit {
            // timm: no cycle at all when cycle_limit = 0, only lr_min.
            0 => build(&self.field("lr_min"), Constant::new(lr_min))?.into(),
            // One cycle: cycle_mul and cycle_decay never act.
            1 => shape.curve(self.lr, lr_min, t_initial, &self.field(shape.arg()))?,
            _ => {
                let unit = shape.curve(1.0, 0.0, 1, &self.field(shape.arg()))?;
                let (mul, decay) = (a.f64_or("cycle_mul", 1.0)?, a.f64_or("cycle_decay", 1.0)?);
                let cycles = Cycles::new(self.lr, lr_min, t_initial as f64, Box::new(unit))
                    .and_then(|c| c.with_period_mult(mul))
                    .and_then(|c| c.with_peak_decay(decay))
                    .and_then(|c| c.with_cycles(Some(limit)));
                build(&self.field("cycle_limit"), cycles)?.into()
            }
        };
        // timm's tanh warmup aims at the base lr with a prefix, else at the lr at warmup_t.
        let target = match shape {
            Shape::Tanh { .. } if !a.bool_or("warmup_prefix", false)? => {
                Some(schedule.value(a.u64_or("warmup_t", 0)?))
            }
            _ => None,
        };
        self.warmup(schedule, target)
    }
}

impl Shape {
    /// The argument the family's own validation is about (`t_initial` is checked first).
    fn arg(self) -> &'static str {
        match self {
            Shape::Tanh { .. } => "ub",
            Shape::Cosine { .. } | Shape::Poly { .. } => "k_decay",
        }
    }

    /// The family from `peak` to `end` over `steps`.
    fn curve(
        self,
        peak: f64,
        end: f64,
        steps: u64,
        field: &str,
    ) -> Result<ScheduleSpec, CompatError> {
        Ok(match self {
            Shape::Cosine { k_decay } => build(
                field,
                Cosine::new(peak, end, steps).and_then(|c| c.with_k_decay(k_decay)),
            )?
            .into(),
            Shape::Tanh { lb, ub } => build(
                field,
                Tanh::new(peak, end, steps).and_then(|c| c.with_bounds(lb, ub)),
            )?
            .into(),
            Shape::Poly { power, k_decay } => build(
                field,
                Polynomial::new(peak, end, power, steps).and_then(|c| c.with_k_decay(k_decay)),
            )?
            .into(),
        })
    }
}

/// `PlateauLRScheduler`: torch's plateau rule (relative threshold) on a linear warmup to
/// the base lr, fed only after the warmup.
fn plateau(timm: &Timm<'_, '_>) -> Result<Ported, CompatError> {
    let a = timm.args;
    let warmup_t = a.u64_or("warmup_t", 0)?;
    let base = build(&timm.field("warmup_t"), Constant::new(timm.lr))?.into();
    let lr = if warmup_t == 0 {
        base
    } else {
        let warm = Warmup::new(
            Anneal::Linear,
            warmup_t,
            a.f64_or("warmup_lr_init", 0.0)?,
            WarmupMode::Prefix,
            base,
        );
        build(&timm.field("warmup_t"), warm)?.into()
    };
    let d = PlateauConfig::default();
    let rule = ControllerRule::Plateau(PlateauConfig {
        mode: mode(a, "max")?,
        factor: a.f64_or("decay_rate", 0.1)?,
        patience: a.u64_or("patience_t", 10)?,
        threshold: Threshold::Rel(a.f64_or("threshold", 1e-4)?),
        cooldown: a.u64_or("cooldown_t", 0)?,
        min_value: a.f64_or("lr_min", 0.0)?,
        ..d
    });
    Ok(Ported {
        lr,
        momentum: None,
        controller: Some(PortedController {
            rule,
            ignore_until: warmup_t,
        }),
    })
}

/// `WSDLRScheduler`: a prefix warmup, then `t_initial` steps of which the last `decay_t`
/// anneal to `lr_min`; `lr_min` after.
fn wsd(timm: &Timm<'_, '_>) -> Result<ScheduleSpec, CompatError> {
    let a = timm.args;
    let stable_fn = a.str_or("stable_fn", "constant")?;
    if stable_fn != "constant" {
        return Err(CompatError::Unsupported {
            field: timm.field("stable_fn"),
            detail: format!("`{stable_fn}` (supported: constant)"),
        });
    }
    let decay_fn = a.str_or("decay_fn", "1-sqrt")?;
    let power = a.f64_or("decay_power", 0.5)?;
    let anneal = match decay_fn {
        "linear" => Anneal::Linear,
        "1-sqrt" => Anneal::Sqrt,
        "cosine" => Anneal::Cosine,
        "power" if power == 0.5 => Anneal::Sqrt,
        "power" if power == 1.0 => Anneal::Linear,
        "power" if power == 2.0 => Anneal::Square,
        "power" => {
            return Err(CompatError::Unsupported {
                field: timm.field("decay_power"),
                detail: format!("{power} (supported: 0.5, 1, 2)"),
            });
        }
        other => {
            return Err(CompatError::Unsupported {
                field: timm.field("decay_fn"),
                detail: format!("`{other}` (supported: linear, 1-sqrt, cosine, power)"),
            });
        }
    };
    let t_initial = a.u64("t_initial")?;
    let decay_t = a.u64("decay_t")?;
    if decay_t == 0 || decay_t > t_initial {
        return Err(CompatError::invalid(
            &timm.field("decay_t"),
            decay_t,
            format!("must be in (0, t_initial = {t_initial}]"),
        ));
    }
    let warmup_t = a.u64_or("warmup_t", 0)?;
    let init = a.f64_or("warmup_lr_init", 0.0)?;
    let wsd = WarmupStableDecay::new(
        timm.lr,
        a.f64_or("lr_min", 0.0)?,
        warmup_t,
        warmup_t + t_initial,
        DecayLength::Steps(decay_t),
    )
    .and_then(|s| s.with_init(init))
    .and_then(|s| s.with_decay_anneal(anneal));
    build(&timm.field("t_initial"), wsd).map(ScheduleSpec::from)
}

#[cfg(test)]
mod tests {
    use crate::{CompatError, eval_case};
    use cadence::testing::close;
    use serde_json::{Value, json};
    use std::f64::consts::PI;

    const LR: f64 = 0.1;

    fn run(scheduler: &str, args: Value, steps: u64) -> Result<Vec<f64>, CompatError> {
        eval_case(&json!({"source": "timm", "steps": steps, "config": {
            "scheduler": scheduler, "optimizer": {"type": "SGD", "lr": LR}, "args": args}}))
        .map(|t| t.lr)
    }

    fn check(scheduler: &str, args: Value, steps: u64, get_lr: impl Fn(f64) -> f64) {
        let lr = run(scheduler, args, steps).unwrap();
        for (i, got) in lr.iter().enumerate() {
            let want = get_lr(i as f64);
            assert!(
                close(*got, want, 1e-12) || (got - want).abs() < 1e-15,
                "{scheduler} step {i}: {got} vs {want}"
            );
        }
    }

    /// timm's cycle bookkeeping (`_get_lr` after the warmup), written out from its
    /// definition: `curve(lr_max, t_curr, t_i)` inside cycle `i < limit`, else `lr_min`.
    fn timm_cycles(
        t: f64,
        (t0, mul, decay, limit, lr_min): (f64, f64, f64, u64, f64),
        curve: impl Fn(f64, f64, f64) -> f64,
    ) -> f64 {
        let (i, t_i, t_curr) = if mul != 1.0 {
            let i = (1.0 - t / t0 * (1.0 - mul)).log(mul).floor();
            let t_i = mul.powf(i) * t0;
            (i, t_i, t - (1.0 - mul.powf(i)) / (1.0 - mul) * t0)
        } else {
            let i = (t / t0).floor();
            (i, t0, t - t0 * i)
        };
        if i < limit as f64 {
            curve(LR * decay.powf(i), t_curr, t_i)
        } else {
            lr_min
        }
    }

    #[test]
    fn tanh_cycles_with_growth_decay_and_overlay_warmup() {
        let args = json!({"t_initial": 10, "lr_min": 0.001, "cycle_mul": 2.0,
            "cycle_decay": 0.5, "cycle_limit": 3, "warmup_t": 3, "warmup_lr_init": 0.002});
        let cfg = (10.0, 2.0, 0.5, 3, 0.001);
        let tanh = |t: f64| {
            timm_cycles(t, cfg, |lr_max, t_curr, t_i| {
                let tr = t_curr / t_i;
                0.001 + 0.5 * (lr_max - 0.001) * (1.0 - (-7.0 * (1.0 - tr) + 3.0 * tr).tanh())
            })
        };
        // Overlay: the warmup aims at the lr timm computes for t = warmup_t.
        let target = tanh(3.0);
        check("TanhLRScheduler", args, 80, |t| {
            if t < 3.0 {
                0.002 + t * (target - 0.002) / 3.0
            } else {
                tanh(t)
            }
        });
    }

    #[test]
    fn poly_cycles_with_growth_and_k_decay_after_a_prefix_warmup() {
        let args = json!({"t_initial": 8, "power": 2.0, "lr_min": 0.0005, "cycle_mul": 1.5,
            "cycle_limit": 4, "k_decay": 1.5, "warmup_t": 2, "warmup_prefix": true});
        let cfg = (8.0, 1.5, 1.0, 4, 0.0005);
        check("PolyLRScheduler", args, 80, |t| {
            if t < 2.0 {
                return t * LR / 2.0;
            }
            timm_cycles(t - 2.0, cfg, |lr_max, t_curr, t_i| {
                let k = 1.5;
                0.0005 + (lr_max - 0.0005) * (1.0 - t_curr.powf(k) / t_i.powf(k)).powf(2.0)
            })
        });
    }

    #[test]
    fn cosine_cycles_with_k_decay_and_shrinking_periods() {
        let args = json!({"t_initial": 16, "lr_min": 0.0, "cycle_mul": 0.5,
            "cycle_decay": 0.8, "cycle_limit": 3, "k_decay": 0.5});
        let cfg = (16.0, 0.5, 0.8, 3, 0.0);
        check("CosineLRScheduler", args, 40, |t| {
            timm_cycles(t, cfg, |lr_max, t_curr, t_i| {
                0.5 * lr_max * (1.0 + (PI * t_curr.powf(0.5) / t_i.powf(0.5)).cos())
            })
        });
    }

    #[test]
    fn no_cycle_at_all_is_lr_min_after_the_warmup() {
        let args = json!({"t_initial": 10, "lr_min": 0.003, "cycle_limit": 0,
            "warmup_t": 2, "warmup_lr_init": 0.0});
        check("CosineLRScheduler", args, 6, |t| {
            if t < 2.0 { t * LR / 2.0 } else { 0.003 }
        });
    }

    #[test]
    fn step_with_a_prefix_warmup() {
        let args = json!({"decay_t": 3, "decay_rate": 0.5, "warmup_t": 2,
            "warmup_lr_init": 0.01, "warmup_prefix": true});
        check("StepLRScheduler", args, 20, |t| {
            if t < 2.0 {
                0.01 + t * (LR - 0.01) / 2.0
            } else {
                LR * 0.5_f64.powf(((t - 2.0) / 3.0).floor())
            }
        });
    }

    #[test]
    fn wsd_with_a_linear_cooldown() {
        let args = json!({"t_initial": 20, "decay_t": 8, "lr_min": 0.001, "decay_fn": "linear",
            "warmup_t": 4, "warmup_lr_init": 0.0});
        check("WSDLRScheduler", args, 30, |t| {
            if t < 4.0 {
                return t * LR / 4.0;
            }
            let t_decay = t - 4.0 - (20.0 - 8.0);
            if t_decay <= 0.0 {
                return LR;
            }
            0.001 + (LR - 0.001) * (1.0 - (t_decay / 8.0).min(1.0))
        });
    }

    #[test]
    fn noise_and_malformed_configs_name_the_field() {
        let noisy = json!({"t_initial": 10, "noise_range_t": [2, 8]});
        let e = run("CosineLRScheduler", noisy, 3).unwrap_err();
        assert!(matches!(e, CompatError::Unsupported { .. }));
        assert_eq!(e.field(), "config.args.noise_range_t");
        // Noise settings without a noise range are inert.
        assert!(
            run(
                "CosineLRScheduler",
                json!({"t_initial": 10, "noise_std": 0.5}),
                3
            )
            .is_ok()
        );
        let e = run("CosineLRScheduler", json!({"t_initial": 10, "lb": -6.0}), 3).unwrap_err();
        assert_eq!(e.field(), "config.args.lb");
        let e = run("TanhLRScheduler", json!({"t_initial": 10, "lb": 3.0}), 3).unwrap_err();
        assert_eq!(e.field(), "config.args.ub");
        let e = run(
            "CosineLRScheduler",
            json!({"t_initial": 10, "k_decay": 0.0}),
            3,
        )
        .unwrap_err();
        assert_eq!(e.field(), "config.args.k_decay");
        let e = run("CosineLRScheduler", json!({"t_initial": 0}), 3).unwrap_err();
        assert_eq!(e.field(), "config.args.t_initial");
        let e = run("MultiStepLRScheduler", json!({"decay_t": 10}), 3).unwrap_err();
        assert_eq!(e.field(), "config.args.decay_t");
        let e = run("WSDLRScheduler", json!({"t_initial": 10, "decay_t": 11}), 3).unwrap_err();
        assert_eq!(e.field(), "config.args.decay_t");
        let e = run(
            "WSDLRScheduler",
            json!({"t_initial": 10, "decay_t": 5, "decay_fn": "exp"}),
            3,
        )
        .unwrap_err();
        assert_eq!(e.field(), "config.args.decay_fn");
        let e = run("CosineAnnealingLR", json!({}), 3).unwrap_err();
        assert_eq!(e.field(), "config.scheduler");
        let e = run("PlateauLRScheduler", json!({"mode": "up"}), 3).unwrap_err();
        assert_eq!(e.field(), "config.args.mode");
    }
}
