//! The families against the recorded trajectories of their direct peers in
//! `crates/cadence-compat/tests/golden` (PyTorch, optax, timm, transformers).
//!
//! Each case builds the cadence family from the file's own `config`, and compares the
//! recorded `lr` (for optax: the float64 `lr`) over a stated range of steps. Where the
//! peer puts a warmup in front (a combinator, not a family), only the steps after the
//! warmup are compared, with the family's clock starting where the peer's decay clock
//! starts. Tolerances are stated per case: `1e-12` relative for closed forms evaluated
//! in float64 (optax under x64, timm, transformers), `1e-12` also for PyTorch's
//! recursive ("chainable") formulas, whose drift over the recorded lengths stays far
//! below that. Absolute floor `1e-15` near zero.

mod common;
use cadence::{
    Cosine, DecayMode, Exponential, InverseSqrt, MultiStep, Overrun, PiecewiseConstant, Polynomial,
    Schedule, Step, Tanh,
};
use common::golden_dir;
use serde_json::Value;

struct Case {
    value: Value,
}

impl Case {
    fn load(name: &str) -> Case {
        let path = golden_dir().join(format!("{name}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Case {
            value: serde_json::from_str(&text).unwrap(),
        }
    }

    fn args(&self) -> &Value {
        &self.value["config"]["args"]
    }

    fn f(&self, key: &str) -> f64 {
        self.args()[key]
            .as_f64()
            .unwrap_or_else(|| panic!("missing {key}"))
    }

    fn f_or(&self, key: &str, default: f64) -> f64 {
        self.args()[key].as_f64().unwrap_or(default)
    }

    fn u(&self, key: &str) -> u64 {
        self.args()[key]
            .as_u64()
            .unwrap_or_else(|| panic!("missing {key}"))
    }

    fn u_or(&self, key: &str, default: u64) -> u64 {
        self.args()[key].as_u64().unwrap_or(default)
    }

    fn base_lr(&self) -> f64 {
        self.value["config"]["optimizer"]["lr"].as_f64().unwrap()
    }

    fn lr(&self) -> Vec<f64> {
        self.value["lr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }

    /// Compares `lr[i]` with `schedule.value(i - offset)` for `i >= offset`.
    fn check(&self, schedule: &dyn Schedule, offset: u64, rel: f64) -> f64 {
        self.check_from(schedule, offset, offset, rel)
    }

    /// Compares `lr[i]` with `schedule.value(i - shift)` for `i >= from >= shift`.
    fn check_from(&self, schedule: &dyn Schedule, from: u64, shift: u64, rel: f64) -> f64 {
        self.check_range(schedule, from..u64::MAX, shift, rel)
    }

    /// Compares `lr[i]` with `schedule.value(i - shift)` for the recorded `i` in `range`
    /// (`range.start >= shift`); returns the largest relative error seen and panics past
    /// `rel`.
    fn check_range(
        &self,
        schedule: &dyn Schedule,
        range: std::ops::Range<u64>,
        shift: u64,
        rel: f64,
    ) -> f64 {
        let name = self.value["name"].as_str().unwrap();
        let lr = self.lr();
        let from = range.start;
        let until = range.end.min(lr.len() as u64);
        assert!(until > from + 1, "{name}: nothing to compare");
        let mut worst = 0.0_f64;
        for (i, &expected) in lr
            .iter()
            .enumerate()
            .take(until as usize)
            .skip(from as usize)
        {
            let actual = schedule.value(i as u64 - shift);
            let err = (actual - expected).abs();
            let scale = expected.abs().max(actual.abs());
            assert!(
                err <= rel * scale || err <= 1e-15,
                "{name}: step {i}: got {actual:e}, expected {expected:e} (rel tol {rel:e})"
            );
            if scale > 0.0 {
                worst = worst.max(err / scale);
            }
        }
        println!("{name}: {} steps, max rel err {worst:.1e}", until - from);
        worst
    }
}

const TOL: f64 = 1e-12;

#[test]
fn optax_polynomial_schedule() {
    for name in [
        "optax__polynomial_schedule_02",
        "optax__polynomial_schedule_03",
    ] {
        let c = Case::load(name);
        let s = Polynomial::new(
            c.f("init_value"),
            c.f("end_value"),
            c.f("power"),
            c.u("transition_steps"),
        )
        .unwrap()
        .with_begin(c.u_or("transition_begin", 0));
        c.check(&s, 0, TOL);
    }
}

#[test]
fn optax_exponential_decay() {
    for name in [
        "optax__exponential_decay_01",
        "optax__exponential_decay_02",
        "optax__exponential_decay_04",
        "optax__exponential_decay_05_growth",
    ] {
        let c = Case::load(name);
        let mode = if c.args()["staircase"].as_bool().unwrap_or(false) {
            DecayMode::Staircase
        } else {
            DecayMode::Continuous
        };
        let mut s = Exponential::new(
            c.f("init_value"),
            c.f("decay_rate"),
            c.u("transition_steps"),
        )
        .unwrap()
        .with_begin(c.u_or("transition_begin", 0))
        .with_mode(mode);
        if let Some(end) = c.args()["end_value"].as_f64() {
            s = s.with_end(end).unwrap();
        }
        c.check(&s, 0, TOL);
    }
}

#[test]
fn optax_cosine_decay_schedule() {
    for name in [
        "optax__cosine_decay_schedule_01",
        "optax__cosine_decay_schedule_04",
    ] {
        let c = Case::load(name);
        let s = Cosine::with_alpha(c.f("init_value"), c.f_or("alpha", 0.0), c.u("decay_steps"))
            .unwrap()
            .with_exponent(c.f_or("exponent", 1.0))
            .unwrap();
        c.check(&s, 0, TOL);
    }
}

#[test]
fn optax_piecewise_constant_schedule() {
    let c = Case::load("optax__piecewise_constant_schedule_01");
    let mut pairs: Vec<(u64, f64)> = c.args()["boundaries_and_scales"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap()))
        .collect();
    pairs.sort_by_key(|p| p.0);
    let s = PiecewiseConstant::new(c.f("init_value"), pairs).unwrap();
    // The scale applies at count == boundary: lr[10] is already 0.05.
    assert_eq!(c.lr()[9], 0.1);
    assert_eq!(c.lr()[10], 0.05);
    c.check(&s, 0, TOL);
}

#[test]
fn torch_step_lr() {
    for name in ["torch__StepLR_01", "torch__StepLR_03"] {
        let c = Case::load(name);
        let s = Step::new(c.base_lr(), c.f("gamma"), c.f("step_size")).unwrap();
        c.check(&s, 0, TOL);
    }
}

#[test]
fn torch_multistep_lr() {
    for name in ["torch__MultiStepLR_01", "torch__MultiStepLR_03"] {
        let c = Case::load(name);
        let milestones = c.args()["milestones"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_u64().unwrap())
            .collect();
        let s = MultiStep::new(c.base_lr(), c.f("gamma"), milestones).unwrap();
        c.check(&s, 0, TOL);
    }
}

#[test]
fn torch_exponential_lr() {
    let c = Case::load("torch__ExponentialLR_01");
    let s = Exponential::new(c.base_lr(), c.f("gamma"), 1).unwrap();
    c.check(&s, 0, TOL);
}

#[test]
fn torch_polynomial_lr() {
    for name in ["torch__PolynomialLR_01", "torch__PolynomialLR_03"] {
        let c = Case::load(name);
        let s = Polynomial::new(c.base_lr(), 0.0, c.f("power"), c.u("total_iters")).unwrap();
        c.check(&s, 0, TOL);
    }
}

#[test]
fn torch_cosine_annealing_lr_including_past_t_max() {
    for name in [
        "torch__CosineAnnealingLR_01",
        "torch__CosineAnnealingLR_03_past_tmax",
        "torch__CosineAnnealingLR_05",
    ] {
        let c = Case::load(name);
        let s = Cosine::new(c.base_lr(), c.f("eta_min"), c.u("T_max"))
            .unwrap()
            .with_overrun(Overrun::Continue);
        c.check(&s, 0, TOL);
    }
}

/// timm's schedulers read `t` as given; a non-prefix warmup overrides the first
/// `warmup_t` steps but leaves the clock alone, a prefix warmup shifts it.
fn timm_clock(c: &Case) -> (u64, u64) {
    let warmup = c.u_or("warmup_t", 0);
    let prefix = c.args()["warmup_prefix"].as_bool().unwrap_or(false);
    (warmup, if prefix { warmup } else { 0 })
}

/// Compares the steps after timm's warmup: `lr[i] = family.value(i - shift)`.
fn check_after_timm_warmup(c: &Case, s: &dyn Schedule) {
    let (warmup, shift) = timm_clock(c);
    c.check_from(s, warmup, shift, TOL);
}

#[test]
fn timm_cosine_single_cycle_with_k_decay() {
    for name in [
        "timm__CosineLRScheduler_04",
        "timm__CosineLRScheduler_05",
        "timm__CosineLRScheduler_06",
        "timm__CosineLRScheduler_08_updates",
    ] {
        let c = Case::load(name);
        let s = Cosine::new(c.base_lr(), c.f("lr_min"), c.u("t_initial"))
            .unwrap()
            .with_k_decay(c.f_or("k_decay", 1.0))
            .unwrap();
        check_after_timm_warmup(&c, &s);
    }
}

#[test]
fn timm_tanh() {
    for name in [
        "timm__TanhLRScheduler_01",
        "timm__TanhLRScheduler_03_updates",
    ] {
        let c = Case::load(name);
        let s = Tanh::new(c.base_lr(), c.f("lr_min"), c.u("t_initial"))
            .unwrap()
            .with_bounds(c.f_or("lb", -7.0), c.f_or("ub", 3.0))
            .unwrap();
        check_after_timm_warmup(&c, &s);
    }
}

#[test]
fn timm_poly_first_cycle_with_k_decay() {
    for name in ["timm__PolyLRScheduler_02", "timm__PolyLRScheduler_03"] {
        let c = Case::load(name);
        let (warmup, shift) = timm_clock(&c);
        let t = c.u("t_initial");
        let s = Polynomial::new(c.base_lr(), c.f("lr_min"), c.f("power"), t)
            .unwrap()
            .with_k_decay(c.f_or("k_decay", 1.0))
            .unwrap();
        // Later cycles (cycle_limit > 1) are restarts, not this family: stop at the first.
        let end = if c.u_or("cycle_limit", 1) > 1 {
            shift + t
        } else {
            u64::MAX
        };
        c.check_range(&s, warmup..end, shift, TOL);
    }
}

#[test]
fn timm_step_with_fractional_decay_t() {
    let c = Case::load("timm__StepLRScheduler_02");
    let s = Step::new(c.base_lr(), c.f("decay_rate"), c.f("decay_t")).unwrap();
    c.check(&s, 0, TOL);
}

#[test]
fn timm_multistep_applies_milestones_one_step_early() {
    let c = Case::load("timm__MultiStepLRScheduler_03_updates");
    let milestones = c.args()["decay_t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap().saturating_sub(1))
        .collect();
    let s = MultiStep::new(c.base_lr(), c.f("decay_rate"), milestones).unwrap();
    c.check(&s, 0, TOL);
}

#[test]
fn transformers_inverse_sqrt_after_warmup() {
    let c = Case::load("transformers__inverse_sqrt_01");
    let w = c.u("num_warmup_steps");
    let timescale = c.args()["timescale"].as_f64().unwrap_or(w as f64);
    let s = InverseSqrt::new(c.base_lr(), timescale).unwrap();
    c.check(&s, w, TOL);
}

#[test]
fn transformers_polynomial_after_warmup() {
    let c = Case::load("transformers__polynomial_01");
    let w = c.u("num_warmup_steps");
    let total = c.u("num_training_steps");
    let kw = &c.args()["scheduler_specific_kwargs"];
    let lr_end = kw["lr_end"].as_f64().unwrap_or(1e-7);
    let power = kw["power"].as_f64().unwrap_or(1.0);
    let s = Polynomial::new(c.base_lr(), lr_end, power, total - w).unwrap();
    c.check(&s, w, TOL);
}
