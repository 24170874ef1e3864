//! Reproduce a `golden-optim` case: run an optimizer on a quadratic in f64.
//!
//! A case is a JSON object recorded from `torch.optim` or the `schedulefree` package:
//!
//! ```text
//! problem:      {"kind": "quadratic", "A": [[..]], "b": [..], "x0": [..]}   loss 0.5 x'Ax - b'x
//! optimizer:    {"type": "SGD" | "Adam" | "AdamW" | "RMSprop" | "Adagrad"
//!                        | "SGDScheduleFree" | "AdamWScheduleFree", "args": {...}}
//! lr_per_step:  [lr before step 0, lr before step 1, ...]   (optional; else args.lr)
//! steps:        number of steps
//! ```
//!
//! At step `t` the learning rate is `lr_per_step[t]`, the gradient `A x - b` is taken at
//! the current `x`, and the optimizer steps; `x[t]` is the parameter vector after step
//! `t`. Schedule-free cases also report `x_eval`, the parameters after switching to
//! evaluation mode at the end. `args` use PyTorch's names and defaults; unknown or
//! unsupported arguments are errors naming the field.

use crate::{
    AdagradConfig, AdamConfig, Algorithm, Centering, Error, MomentumKind, ParamGroup,
    RmsPropConfig, ScheduleFreeConfig, ScheduledOptimizer, SecondMoment, SgdConfig,
};
use cadence::Schedule;
use candle_core::{Device, Tensor, Var};
use serde_json::{Map, Value};

/// The parameters after every step, and for schedule-free optimizers the evaluation
/// parameters after the last step.
///
/// Serialises as `{"x": [[...], ...], "x_eval": [...] | null}`.
///
/// # Examples
///
/// ```
/// let t = cadence_candle::golden::Trajectory { x: vec![vec![1.0]], x_eval: None };
/// assert_eq!(serde_json::to_string(&t)?, r#"{"x":[[1.0]],"x_eval":null}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trajectory {
    /// `x[t]`: the parameter vector after step `t`.
    pub x: Vec<Vec<f64>>,
    /// The evaluation parameters after the last step (schedule-free only).
    pub x_eval: Option<Vec<f64>>,
}

/// A learning rate given per step; the last value holds after the table ends.
#[derive(Debug, Clone)]
struct PerStep(Vec<f64>);

impl Schedule for PerStep {
    fn value(&self, step: u64) -> f64 {
        let i = usize::try_from(step)
            .unwrap_or(usize::MAX)
            .min(self.0.len().saturating_sub(1));
        self.0.get(i).copied().unwrap_or(0.0)
    }
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value, Error> {
    obj.get(key)
        .ok_or_else(|| Error::case(format!("{path}{key}"), "missing"))
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Error> {
    v.as_object()
        .ok_or_else(|| Error::case(path, "must be an object"))
}

fn number(v: &Value, path: &str) -> Result<f64, Error> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| Error::case(path, format!("must be a finite number, found {v}")))
}

fn vector(v: &Value, path: &str) -> Result<Vec<f64>, Error> {
    v.as_array()
        .ok_or_else(|| Error::case(path, "must be an array of numbers"))?
        .iter()
        .enumerate()
        .map(|(i, x)| number(x, &format!("{path}[{i}]")))
        .collect()
}

fn boolean(v: &Value, path: &str) -> Result<bool, Error> {
    v.as_bool()
        .ok_or_else(|| Error::case(path, format!("must be true or false, found {v}")))
}

fn count(v: &Value, path: &str) -> Result<u64, Error> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|x| x.fract() == 0.0 && *x >= 0.0)
                .map(|x| x as u64)
        })
        .ok_or_else(|| Error::case(path, format!("must be a non-negative integer, found {v}")))
}

/// The quadratic `0.5 x'Ax - b'x`.
struct Quadratic {
    a: Vec<Vec<f64>>,
    b: Vec<f64>,
    x0: Vec<f64>,
}

impl Quadratic {
    fn parse(v: &Value) -> Result<Self, Error> {
        let p = object(v, "problem")?;
        let kind = field(p, "kind", "problem.")?;
        if kind.as_str() != Some("quadratic") {
            return Err(Error::case(
                "problem.kind",
                format!("only \"quadratic\" is supported, found {kind}"),
            ));
        }
        let b = vector(field(p, "b", "problem.")?, "problem.b")?;
        let x0 = vector(field(p, "x0", "problem.")?, "problem.x0")?;
        let rows = field(p, "A", "problem.")?
            .as_array()
            .ok_or_else(|| Error::case("problem.A", "must be an array of rows"))?;
        let a = rows
            .iter()
            .enumerate()
            .map(|(i, r)| vector(r, &format!("problem.A[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let n = x0.len();
        if n == 0 {
            return Err(Error::case("problem.x0", "must not be empty"));
        }
        if b.len() != n {
            return Err(Error::case(
                "problem.b",
                format!("has {} entries, x0 has {n}", b.len()),
            ));
        }
        if a.len() != n || a.iter().any(|r| r.len() != n) {
            return Err(Error::case("problem.A", format!("must be {n} x {n}")));
        }
        Ok(Quadratic { a, b, x0 })
    }

    fn grad(&self, x: &[f64]) -> Vec<f64> {
        self.a
            .iter()
            .zip(&self.b)
            .map(|(row, bi)| row.iter().zip(x).map(|(aij, xj)| aij * xj).sum::<f64>() - bi)
            .collect()
    }
}

/// Reads `args`, remembering which keys were used so that the rest can be rejected.
struct Args<'a> {
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Args<'a> {
    fn get(&mut self, key: &'static str) -> Option<(&'a Value, String)> {
        self.used.push(key);
        self.map
            .get(key)
            .filter(|v| !v.is_null())
            .map(|v| (v, format!("optimizer.args.{key}")))
    }

    fn number(&mut self, key: &'static str, default: f64) -> Result<f64, Error> {
        self.get(key).map_or(Ok(default), |(v, p)| number(v, &p))
    }

    fn flag(&mut self, key: &'static str) -> Result<bool, Error> {
        self.get(key).map_or(Ok(false), |(v, p)| boolean(v, &p))
    }

    fn betas(&mut self, default: (f64, f64)) -> Result<(f64, f64), Error> {
        match self.get("betas") {
            None => Ok(default),
            Some((v, p)) => match vector(v, &p)?.as_slice() {
                [b1, b2] => Ok((*b1, *b2)),
                other => Err(Error::case(
                    p,
                    format!("must hold 2 numbers, found {}", other.len()),
                )),
            },
        }
    }

    /// Rejects `maximize`/`capturable`/`differentiable` set to true, and unknown keys.
    fn finish(mut self) -> Result<(), Error> {
        for key in ["maximize", "capturable", "differentiable"] {
            if self.flag(key)? {
                return Err(Error::case(
                    format!("optimizer.args.{key}"),
                    "only false is supported",
                ));
            }
        }
        // Implementation choices that do not change the update.
        self.used.extend(["foreach", "fused"]);
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.used.contains(&k.as_str()))
            .collect();
        unknown.sort();
        match unknown.first() {
            Some(k) => Err(Error::case(
                format!("optimizer.args.{k}"),
                "unknown or unsupported argument",
            )),
            None => Ok(()),
        }
    }
}

/// Builds the algorithm for `optimizer` with learning-rate schedule `lr`.
fn algorithm(optimizer: &Value, mut lr: Option<PerStep>) -> Result<Algorithm, Error> {
    let o = object(optimizer, "optimizer")?;
    let kind = field(o, "type", "optimizer.")?;
    let kind = kind
        .as_str()
        .ok_or_else(|| Error::case("optimizer.type", format!("must be a string, found {kind}")))?;
    let empty = Map::new();
    let map = match o.get("args") {
        Some(v) => object(v, "optimizer.args")?,
        None => &empty,
    };
    let mut args = Args {
        map,
        used: Vec::new(),
    };
    let mut lr_of = |args: &mut Args<'_>, default: f64| -> Result<Box<dyn Schedule>, Error> {
        let constant = args.number("lr", default)?;
        Ok(match lr.take() {
            Some(table) => Box::new(table),
            None => Box::new(constant),
        })
    };
    let algorithm: Algorithm = match kind {
        "SGD" => {
            let lr = lr_of(&mut args, 1e-3)?;
            let kind = if args.flag("nesterov")? {
                MomentumKind::Nesterov
            } else {
                MomentumKind::Classical
            };
            SgdConfig::new(lr)
                .momentum(args.number("momentum", 0.0)?)
                .dampening(args.number("dampening", 0.0)?)
                .weight_decay(args.number("weight_decay", 0.0)?)
                .kind(kind)
                .into()
        }
        "Adam" | "AdamW" => {
            let lr = lr_of(&mut args, 1e-3)?;
            let (b1, b2) = args.betas((0.9, 0.999))?;
            let decoupled = kind == "AdamW" || args.flag("decoupled_weight_decay")?;
            let base = if decoupled {
                AdamConfig::adamw(lr)
            } else {
                AdamConfig::adam(lr)
            };
            let wd_default = if kind == "AdamW" { 0.01 } else { 0.0 };
            let moment = if args.flag("amsgrad")? {
                SecondMoment::AmsGrad
            } else {
                SecondMoment::Average
            };
            base.betas(b1, b2)
                .eps(args.number("eps", 1e-8)?)
                .weight_decay(args.number("weight_decay", wd_default)?)
                .second_moment(moment)
                .into()
        }
        "RMSprop" => {
            let lr = lr_of(&mut args, 1e-2)?;
            let centering = if args.flag("centered")? {
                Centering::Centered
            } else {
                Centering::Uncentered
            };
            RmsPropConfig::new(lr)
                .alpha(args.number("alpha", 0.99)?)
                .eps(args.number("eps", 1e-8)?)
                .weight_decay(args.number("weight_decay", 0.0)?)
                .momentum(args.number("momentum", 0.0)?)
                .centering(centering)
                .into()
        }
        "Adagrad" => {
            let lr = lr_of(&mut args, 1e-2)?;
            AdagradConfig::new(lr)
                .lr_decay(args.number("lr_decay", 0.0)?)
                .weight_decay(args.number("weight_decay", 0.0)?)
                .eps(args.number("eps", 1e-10)?)
                .initial_accumulator_value(args.number("initial_accumulator_value", 0.0)?)
                .map_err(|e| rename(e, "optimizer.args.initial_accumulator_value"))?
                .into()
        }
        "SGDScheduleFree" | "AdamWScheduleFree" => {
            let sgd = kind == "SGDScheduleFree";
            let lr = lr_of(&mut args, if sgd { 1.0 } else { 0.0025 })?;
            let config = if sgd {
                ScheduleFreeConfig::sgd(lr).momentum(args.number("momentum", 0.9)?)
            } else {
                let (b1, b2) = args.betas((0.9, 0.999))?;
                ScheduleFreeConfig::adamw(lr)
                    .momentum(b1)
                    .beta2(b2)
                    .eps(args.number("eps", 1e-8)?)
            };
            let warmup = match args.get("warmup_steps") {
                Some((v, p)) => count(v, &p)?,
                None => 0,
            };
            config
                .weight_decay(args.number("weight_decay", 0.0)?)
                .warmup_steps(warmup)
                .r(args.number("r", 0.0)?)
                .map_err(|e| rename(e, "optimizer.args.r"))?
                .weight_lr_power(args.number("weight_lr_power", 2.0)?)
                .map_err(|e| rename(e, "optimizer.args.weight_lr_power"))?
                .into()
        }
        other => {
            return Err(Error::case(
                "optimizer.type",
                format!(
                    "unsupported optimizer {other:?} (supported: SGD, Adam, AdamW, RMSprop, Adagrad, SGDScheduleFree, AdamWScheduleFree)"
                ),
            ));
        }
    };
    args.finish()?;
    Ok(algorithm)
}

fn rename(e: Error, field: &str) -> Error {
    Error::case(field, e.to_string())
}

/// Runs the optimizer of a golden case on its quadratic, in f64, through
/// [`ScheduledOptimizer`] (the same fused kernels as training).
///
/// # Errors
///
/// [`Error::Case`] naming the missing or bad field (`problem.A`, `optimizer.args.betas`,
/// `lr_per_step`, ...); [`Error::InvalidHyperparameter`] if a value is out of range at
/// some step.
///
/// # Examples
///
/// ```
/// use cadence_candle::golden::run_case;
/// use serde_json::json;
///
/// let case = json!({
///     "problem": {"kind": "quadratic", "A": [[2.0]], "b": [0.0], "x0": [1.0]},
///     "optimizer": {"type": "SGD", "args": {"lr": 0.25}},
///     "lr_per_step": [0.25, 0.25],
///     "steps": 2
/// });
/// let t = run_case(&case)?;
/// assert_eq!(t.x, vec![vec![0.5], vec![0.25]]); // x <- x - 0.25 * 2x
/// assert_eq!(t.x_eval, None);
///
/// let bad = json!({"problem": case["problem"], "optimizer": {"type": "SGD", "args": {"lr": 0.1, "foo": 1}}, "steps": 1});
/// let err = run_case(&bad).unwrap_err();
/// assert!(err.to_string().contains("optimizer.args.foo"));
/// # Ok::<(), cadence_candle::Error>(())
/// ```
pub fn run_case(case: &Value) -> Result<Trajectory, Error> {
    let c = object(case, "case")?;
    let problem = Quadratic::parse(field(c, "problem", "")?)?;
    let steps = count(field(c, "steps", "")?, "steps")?;
    let lr = match c.get("lr_per_step").filter(|v| !v.is_null()) {
        Some(v) => {
            let table = vector(v, "lr_per_step")?;
            if (table.len() as u64) < steps {
                return Err(Error::case(
                    "lr_per_step",
                    format!("has {} entries, steps is {steps}", table.len()),
                ));
            }
            Some(PerStep(table))
        }
        None => None,
    };
    let algorithm = algorithm(field(c, "optimizer", "")?, lr)?;
    let schedule_free = matches!(algorithm, Algorithm::ScheduleFree(_));
    let n = problem.x0.len();
    let x = Var::from_vec(problem.x0.clone(), n, &Device::Cpu)?;
    let mut opt =
        ScheduledOptimizer::with_groups(vec![ParamGroup::new(vec![x.clone()])], algorithm)?;
    let mut xs = Vec::with_capacity(usize::try_from(steps).unwrap_or(0));
    let mut current = problem.x0.clone();
    for _ in 0..steps {
        // d/dx sum(x * g) = g exactly (candle multiplies the incoming ones by g).
        let g = Tensor::from_vec(problem.grad(&current), n, &Device::Cpu)?;
        let grads = (x.as_tensor() * &g)?.sum_all()?.backward()?;
        opt.apply(&grads)?;
        current = x.as_tensor().to_vec1()?;
        xs.push(current.clone());
    }
    let x_eval = if schedule_free {
        opt.eval()?;
        Some(x.as_tensor().to_vec1()?)
    } else {
        None
    };
    Ok(Trajectory { x: xs, x_eval })
}

/// The largest relative difference `|got - want| / |want|` between a trajectory and the
/// case's recorded `x` (and `x_eval`, when the case has one).
///
/// # Errors
///
/// [`Error::Case`] if the case lacks `x`, or shapes differ.
///
/// # Examples
///
/// ```
/// use cadence_candle::golden::{Trajectory, max_relative_error};
/// use serde_json::json;
///
/// let case = json!({"x": [[1.0, 2.0]]});
/// let t = Trajectory { x: vec![vec![1.0, 2.0 + 2e-12]], x_eval: None };
/// assert!((max_relative_error(&case, &t)? - 1e-12).abs() < 1e-15);
/// # Ok::<(), cadence_candle::Error>(())
/// ```
pub fn max_relative_error(case: &Value, got: &Trajectory) -> Result<f64, Error> {
    let c = object(case, "case")?;
    let want = field(c, "x", "")?
        .as_array()
        .ok_or_else(|| Error::case("x", "must be an array of vectors"))?;
    if want.len() != got.x.len() {
        return Err(Error::case(
            "x",
            format!("has {} steps, trajectory has {}", want.len(), got.x.len()),
        ));
    }
    let mut pairs: Vec<(Vec<f64>, &[f64], String)> = Vec::new();
    for (t, (w, g)) in want.iter().zip(&got.x).enumerate() {
        let path = format!("x[{t}]");
        pairs.push((vector(w, &path)?, g, path));
    }
    if let Some(w) = c.get("x_eval").filter(|v| !v.is_null()) {
        let g = got
            .x_eval
            .as_deref()
            .ok_or_else(|| Error::case("x_eval", "recorded, but the trajectory has none"))?;
        pairs.push((vector(w, "x_eval")?, g, "x_eval".to_string()));
    }
    let mut worst: f64 = 0.0;
    for (w, g, path) in pairs {
        if w.len() != g.len() {
            return Err(Error::case(
                path,
                format!("has {} entries, trajectory has {}", w.len(), g.len()),
            ));
        }
        for (a, b) in g.iter().zip(&w) {
            let err = (a - b).abs() / b.abs().max(f64::MIN_POSITIVE);
            worst = worst.max(if err.is_nan() { f64::INFINITY } else { err });
        }
    }
    Ok(worst)
}
