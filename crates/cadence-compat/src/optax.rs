//! optax schedule functions ported to cadence.
//!
//! A config is `{"schedule": NAME, "args": {...}}` with optax's keyword arguments;
//! `join_schedules` carries its children as nested configs of the same shape. The name
//! may be given with or without an `optax.` / `optax.schedules.` prefix. optax's own
//! degenerate cases are reproduced, not rejected: a non-positive `transition_steps` (or a
//! zero `decay_rate`) makes `linear_schedule`, `polynomial_schedule` and
//! `exponential_decay` the constant `init_value`, and a negative `transition_begin` is
//! read as 0. Where optax raises (`cosine_decay_schedule` without positive
//! `decay_steps`, negative scales, non-positive one-cycle `transition_steps`), the port
//! is an error naming the field.

use cadence::{
    Anneal, Constant, Cosine, DecayMode, Delay, Exponential, Join, Linear, OneCycle, PhaseEnds,
    Phases, PiecewiseConstant, PiecewiseInterpolate, Polynomial, ScheduleSpec, Warmup, WarmupMode,
};

use crate::config::Fields;
use crate::{CompatError, Ported, build};

/// Ports an optax config (`config.schedule`, `config.args`).
pub(crate) fn port(config: &Fields<'_>) -> Result<Ported, CompatError> {
    Ok(Ported::lr(schedule(config)?))
}

/// One schedule config, possibly nested in `join_schedules`.
fn schedule(config: &Fields<'_>) -> Result<ScheduleSpec, CompatError> {
    config.only(&["schedule", "args", "driver"])?;
    let raw = config.str("schedule")?;
    let name = raw
        .strip_prefix("optax.schedules.")
        .or_else(|| raw.strip_prefix("optax."))
        .unwrap_or(raw);
    let args = config.object("args")?.ok_or_else(|| CompatError::Missing {
        field: config.path_of("args"),
    })?;
    let a = &args;
    let path = a.path().to_owned();
    let spec: ScheduleSpec = match name {
        "constant_schedule" => {
            a.only(&["value"])?;
            constant(&path, a.f64("value")?)?
        }
        "linear_schedule" => {
            a.only(&[
                "init_value",
                "end_value",
                "transition_steps",
                "transition_begin",
            ])?;
            linear(a)?
        }
        "polynomial_schedule" => {
            a.only(&[
                "init_value",
                "end_value",
                "power",
                "transition_steps",
                "transition_begin",
            ])?;
            let init = a.f64("init_value")?;
            let end = a.f64("end_value")?;
            let power = a.f64("power")?;
            match transition_steps(a, "transition_steps")? {
                None => constant(&path, init)?,
                Some(n) => build(&path, Polynomial::new(init, end, power, n))?
                    .with_begin(transition_begin(a)?)
                    .into(),
            }
        }
        "exponential_decay" => {
            a.only(&[
                "init_value",
                "transition_steps",
                "decay_rate",
                "transition_begin",
                "staircase",
                "end_value",
            ])?;
            exponential_decay(a, a.f64("init_value")?)?
        }
        "cosine_decay_schedule" => {
            a.only(&["init_value", "decay_steps", "alpha", "exponent"])?;
            cosine_decay(
                a,
                a.f64("init_value")?,
                "decay_steps",
                a.f64_or("alpha", 0.0)?,
                0,
            )?
        }
        "piecewise_constant_schedule" => {
            a.only(&["init_value", "boundaries_and_scales"])?;
            let init = a.f64("init_value")?;
            let pairs = boundaries_and_scales(a)?;
            build(&path, PiecewiseConstant::new(init, pairs))?.into()
        }
        "piecewise_interpolate_schedule" => {
            a.only(&["interpolate_type", "init_value", "boundaries_and_scales"])?;
            let anneal = match a.str("interpolate_type")? {
                "linear" => Anneal::Linear,
                "cosine" => Anneal::Cosine,
                other => {
                    return Err(CompatError::invalid(
                        &a.path_of("interpolate_type"),
                        format!("\"{other}\""),
                        "must be \"linear\" or \"cosine\"",
                    ));
                }
            };
            let init = a.f64("init_value")?;
            let pairs = boundaries_and_scales(a)?;
            if pairs.is_empty() {
                constant(&path, init)?
            } else {
                build(
                    &path,
                    PiecewiseInterpolate::from_scales(init, &pairs, anneal),
                )?
                .into()
            }
        }
        "join_schedules" => {
            a.only(&["schedules", "boundaries"])?;
            let schedules = a
                .objects("schedules")?
                .into_iter()
                .map(|(p, v)| schedule(&Fields::new(p, v)?))
                .collect::<Result<Vec<_>, _>>()?;
            let boundaries = a.u64_list("boundaries")?;
            build(&a.path_of("boundaries"), Join::new(boundaries, schedules))?.into()
        }
        "warmup_constant_schedule" => {
            a.only(&["init_value", "peak_value", "warmup_steps"])?;
            let peak = constant(&path, a.f64("peak_value")?)?;
            warmup(a, peak)?
        }
        "warmup_cosine_decay_schedule" => {
            a.only(&[
                "init_value",
                "peak_value",
                "warmup_steps",
                "decay_steps",
                "end_value",
                "exponent",
            ])?;
            warmup_cosine(a)?
        }
        "warmup_exponential_decay_schedule" => {
            a.only(&[
                "init_value",
                "peak_value",
                "warmup_steps",
                "transition_steps",
                "decay_rate",
                "transition_begin",
                "staircase",
                "end_value",
            ])?;
            let decay = exponential_decay(a, a.f64("peak_value")?)?;
            warmup(a, decay)?
        }
        "sgdr_schedule" => {
            a.only(&["cosine_kwargs"])?;
            sgdr(a)?
        }
        "cosine_onecycle_schedule" => {
            a.only(&[
                "transition_steps",
                "peak_value",
                "pct_start",
                "div_factor",
                "final_div_factor",
            ])?;
            one_cycle(a, Phases::Two, Anneal::Cosine)?
        }
        "linear_onecycle_schedule" => {
            a.only(&[
                "transition_steps",
                "peak_value",
                "pct_start",
                "pct_final",
                "div_factor",
                "final_div_factor",
            ])?;
            let pct_final = a.f64_or("pct_final", 0.85)?;
            one_cycle(a, Phases::Three { pct_final }, Anneal::Linear)?
        }
        other => {
            return Err(CompatError::Unsupported {
                field: config.path_of("schedule"),
                detail: format!(
                    "`{other}` is not a supported optax schedule (supported: \
                     constant_schedule, linear_schedule, polynomial_schedule, \
                     exponential_decay, cosine_decay_schedule, piecewise_constant_schedule, \
                     piecewise_interpolate_schedule, join_schedules, warmup_constant_schedule, \
                     warmup_cosine_decay_schedule, warmup_exponential_decay_schedule, \
                     sgdr_schedule, cosine_onecycle_schedule, linear_onecycle_schedule)"
                ),
            });
        }
    };
    Ok(spec)
}

fn constant(path: &str, value: f64) -> Result<ScheduleSpec, CompatError> {
    Ok(build(path, Constant::new(value))?.into())
}

/// optax's integer step counts: `None` for a non-positive count, which optax turns into
/// a constant schedule.
fn transition_steps(a: &Fields<'_>, key: &str) -> Result<Option<u64>, CompatError> {
    a.required(key)?;
    let n = a.i64_or(key, 0)?;
    Ok(u64::try_from(n).ok().filter(|&n| n > 0))
}

/// `transition_begin`, default 0; optax reads a negative value as 0.
fn transition_begin(a: &Fields<'_>) -> Result<u64, CompatError> {
    Ok(u64::try_from(a.i64_or("transition_begin", 0)?).unwrap_or(0))
}

/// `linear_schedule`: optax's `polynomial_schedule` with power 1, a [`Linear`] ramp held
/// at `init_value` for `transition_begin` steps.
fn linear(a: &Fields<'_>) -> Result<ScheduleSpec, CompatError> {
    let init = a.f64("init_value")?;
    let end = a.f64("end_value")?;
    let path = a.path().to_owned();
    Ok(match transition_steps(a, "transition_steps")? {
        None => constant(&path, init)?,
        Some(n) => {
            let ramp: ScheduleSpec = build(&path, Linear::new(init, end, n))?.into();
            match transition_begin(a)? {
                0 => ramp,
                begin => build(&path, Delay::new(begin, ramp))?.into(),
            }
        }
    })
}

/// `exponential_decay` from `init` (the `init_value`, or the `peak_value` after a warmup).
fn exponential_decay(a: &Fields<'_>, init: f64) -> Result<ScheduleSpec, CompatError> {
    let path = a.path().to_owned();
    let rate = a.f64("decay_rate")?;
    let steps = transition_steps(a, "transition_steps")?;
    let (Some(steps), false) = (steps, rate == 0.0) else {
        // optax: a non-positive transition_steps or a zero decay_rate is constant init.
        return constant(&path, init);
    };
    let mode = if a.bool_or("staircase", false)? {
        DecayMode::Staircase
    } else {
        DecayMode::Continuous
    };
    let mut s = build(
        &a.path_of("decay_rate"),
        Exponential::new(init, rate, steps),
    )?
    .with_begin(transition_begin(a)?)
    .with_mode(mode);
    if let Some(end) = a.opt_f64("end_value")? {
        s = build(&a.path_of("end_value"), s.with_end(end))?;
    }
    Ok(s.into())
}

/// `cosine_decay_schedule(init, decay_steps, alpha, exponent)`; `decay_steps` is read from
/// `key` minus `minus` (the warmup of `warmup_cosine_decay_schedule`) and must be positive.
fn cosine_decay(
    a: &Fields<'_>,
    init: f64,
    key: &str,
    alpha: f64,
    minus: u64,
) -> Result<ScheduleSpec, CompatError> {
    a.required(key)?;
    let total = a.i64_or(key, 0)?;
    let steps = total - i64::try_from(minus).unwrap_or(i64::MAX);
    let Some(steps) = u64::try_from(steps).ok().filter(|&n| n > 0) else {
        let rule = if minus == 0 {
            "optax requires positive decay_steps".to_owned()
        } else {
            format!("optax requires decay_steps > warmup_steps = {minus}")
        };
        return Err(CompatError::invalid(&a.path_of(key), total, rule));
    };
    let exponent = a.f64_or("exponent", 1.0)?;
    Ok(build(
        a.path(),
        Cosine::with_alpha(init, alpha, steps).and_then(|s| s.with_exponent(exponent)),
    )?
    .into())
}

/// A linear warmup from `init_value` to the start of `next` over `warmup_steps`, then
/// `next` on its own clock (optax joins `linear_schedule(init, peak, warmup_steps)` and
/// `next` at `warmup_steps`).
fn warmup(a: &Fields<'_>, next: ScheduleSpec) -> Result<ScheduleSpec, CompatError> {
    let init = a.f64("init_value")?;
    let steps = warmup_steps(a)?;
    Ok(build(
        a.path(),
        Warmup::new(Anneal::Linear, steps, init, WarmupMode::Prefix, next),
    )?
    .into())
}

/// `warmup_steps`: 0 is no warmup (optax's zero-length ramp is joined at step 0 and never
/// read). A negative one would make optax read the next schedule `|warmup_steps|` steps
/// ahead; that is rejected rather than guessed.
fn warmup_steps(a: &Fields<'_>) -> Result<u64, CompatError> {
    a.required("warmup_steps")?;
    let n = a.i64_or("warmup_steps", 0)?;
    u64::try_from(n).map_err(|_| CompatError::Unsupported {
        field: a.path_of("warmup_steps"),
        detail: format!("a negative warmup ({n} steps)"),
    })
}

/// `warmup_cosine_decay_schedule`: the cosine decays over `decay_steps - warmup_steps`
/// from `peak_value` with `alpha = end_value / peak_value` (0 when the peak is 0).
fn warmup_cosine(a: &Fields<'_>) -> Result<ScheduleSpec, CompatError> {
    let peak = a.f64("peak_value")?;
    let end = a.f64_or("end_value", 0.0)?;
    let alpha = if peak == 0.0 { 0.0 } else { end / peak };
    let decay = cosine_decay(a, peak, "decay_steps", alpha, warmup_steps(a)?)?;
    warmup(a, decay)
}

/// `sgdr_schedule(cosine_kwargs)`: `warmup_cosine_decay_schedule`s joined end to end, each
/// lasting its `decay_steps`.
fn sgdr(a: &Fields<'_>) -> Result<ScheduleSpec, CompatError> {
    let cycles = a.objects("cosine_kwargs")?;
    if cycles.is_empty() {
        return Err(CompatError::invalid(
            &a.path_of("cosine_kwargs"),
            "[]",
            "needs at least one cycle",
        ));
    }
    let mut boundaries = Vec::with_capacity(cycles.len());
    let mut schedules = Vec::with_capacity(cycles.len());
    let mut at: u64 = 0;
    for (path, value) in cycles {
        let k = Fields::new(path, value)?;
        k.only(&[
            "init_value",
            "peak_value",
            "warmup_steps",
            "decay_steps",
            "end_value",
            "exponent",
        ])?;
        schedules.push(warmup_cosine(&k)?);
        at = at.saturating_add(k.u64("decay_steps")?);
        boundaries.push(at);
    }
    boundaries.pop();
    Ok(build(
        &a.path_of("cosine_kwargs"),
        Join::new(boundaries, schedules),
    )?
    .into())
}

/// optax's one-cycle schedules: phase ends at `floor(pct * transition_steps)`.
fn one_cycle(a: &Fields<'_>, phases: Phases, anneal: Anneal) -> Result<ScheduleSpec, CompatError> {
    let total = a.i64_or("transition_steps", 0)?;
    let total = u64::try_from(total)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            CompatError::invalid(
                &a.path_of("transition_steps"),
                total,
                "optax requires a positive transition_steps",
            )
        })?;
    let div_factor = a.f64_or("div_factor", 25.0)?;
    let final_div_factor = a.f64_or("final_div_factor", 1e4)?;
    let pct_start = a.f64_or("pct_start", 0.3)?;
    Ok(build(
        a.path(),
        OneCycle::new(a.f64("peak_value")?, total)
            .and_then(|s| s.with_div_factors(div_factor, final_div_factor))
            .and_then(|s| s.with_pct_start(pct_start))
            .and_then(|s| s.with_phases(phases))
            .and_then(|s| s.with_anneal(anneal))
            .and_then(|s| s.with_phase_ends(PhaseEnds::Floor)),
    )?
    .into())
}

/// `boundaries_and_scales` (a JSON object `{"step": scale}`), sorted by step; absent or
/// `null` is none. Scales must be non-negative, as optax requires.
fn boundaries_and_scales(a: &Fields<'_>) -> Result<Vec<(u64, f64)>, CompatError> {
    let Some(map) = a.object("boundaries_and_scales")? else {
        return Ok(Vec::new());
    };
    let mut pairs = Vec::new();
    for key in map.keys() {
        let field = map.path_of(key);
        let step: u64 = key.trim().parse().map_err(|_| {
            CompatError::invalid(&field, format!("\"{key}\""), "the key must be a step >= 0")
        })?;
        let scale = map.f64(key)?;
        if scale < 0.0 {
            return Err(CompatError::invalid(
                &field,
                scale,
                "optax requires non-negative scales",
            ));
        }
        pairs.push((step, scale));
    }
    pairs.sort_by_key(|p| p.0);
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(CompatError::invalid(
            &a.path_of("boundaries_and_scales"),
            w[0].0,
            "a boundary appears twice",
        ));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use cadence::testing::close;
    use serde_json::{Value, json};

    use crate::{CompatError, eval_case};

    fn try_lr(schedule: &str, args: Value, steps: u64) -> Result<Vec<f64>, CompatError> {
        eval_case(&json!({"source": "optax", "steps": steps,
            "config": {"schedule": schedule, "args": args}}))
        .map(|t| t.lr)
    }

    fn lr(schedule: &str, args: Value, steps: u64) -> Vec<f64> {
        try_lr(schedule, args, steps).unwrap()
    }

    fn assert_close(got: &[f64], expected: &[f64]) {
        assert_eq!(got.len(), expected.len(), "{got:?}");
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!(close(*g, *e, 1e-12), "[{i}] {g} vs {e} in {got:?}");
        }
    }

    fn field_of(err: &CompatError) -> String {
        match err {
            CompatError::Missing { field }
            | CompatError::Invalid { field, .. }
            | CompatError::Unsupported { field, .. }
            | CompatError::Schedule { field, .. } => field.clone(),
        }
    }

    #[test]
    fn degenerate_decays_are_constant_as_in_optax() {
        let args = json!({"init_value": 0.3, "transition_steps": 0, "decay_rate": 0.5});
        assert_close(&lr("exponential_decay", args, 3), &[0.3; 3]);
        let args = json!({"init_value": 0.3, "transition_steps": 2, "decay_rate": 0.0});
        assert_close(&lr("exponential_decay", args, 3), &[0.3; 3]);
        let args = json!({"init_value": 0.3, "end_value": 0.0, "transition_steps": -4});
        assert_close(&lr("linear_schedule", args, 3), &[0.3; 3]);
        let args = json!({"init_value": 0.3, "end_value": 0.0, "power": 2.0,
                          "transition_steps": 0});
        assert_close(&lr("polynomial_schedule", args, 3), &[0.3; 3]);
    }

    #[test]
    fn negative_transition_begin_reads_as_zero() {
        let args = json!({"init_value": 1.0, "transition_steps": 1, "decay_rate": 0.5,
                          "transition_begin": -5});
        assert_close(&lr("exponential_decay", args, 3), &[1.0, 0.5, 0.25]);
        let args = json!({"init_value": 1.0, "end_value": 0.0, "transition_steps": 2,
                          "transition_begin": 1});
        assert_close(&lr("linear_schedule", args, 4), &[1.0, 1.0, 0.5, 0.0]);
    }

    #[test]
    fn warmups_and_unequal_sgdr_cycles() {
        let args = json!({"init_value": 0.0, "peak_value": 0.4, "warmup_steps": 4});
        assert_close(
            &lr("optax.warmup_constant_schedule", args, 6),
            &[0.0, 0.1, 0.2, 0.3, 0.4, 0.4],
        );
        let args = json!({"init_value": 0.0, "peak_value": 0.4, "warmup_steps": 0});
        assert_close(&lr("warmup_constant_schedule", args, 2), &[0.4, 0.4]);
        // Cycle 0: 4 steps of cosine from 1 to 0; cycle 1: 2 warmup steps 0 -> 0.5, then
        // a cosine to 0.1 over the remaining 2.
        let args = json!({"cosine_kwargs": [
            {"init_value": 1.0, "peak_value": 1.0, "warmup_steps": 0, "decay_steps": 4},
            {"init_value": 0.0, "peak_value": 0.5, "warmup_steps": 2, "decay_steps": 4,
             "end_value": 0.1}]});
        let got = lr("sgdr_schedule", args, 10);
        assert_close(
            &got,
            &[
                1.0,
                0.853_553_390_593_273_8,
                0.5,
                0.146_446_609_406_726_2,
                0.0,
                0.25,
                0.5,
                0.3,
                0.1,
                0.1,
            ],
        );
    }

    #[test]
    fn piecewise_without_boundaries_is_constant() {
        let args = json!({"interpolate_type": "cosine", "init_value": 0.2});
        assert_close(&lr("piecewise_interpolate_schedule", args, 2), &[0.2; 2]);
        let args = json!({"init_value": 0.2, "boundaries_and_scales": null});
        assert_close(&lr("piecewise_constant_schedule", args, 2), &[0.2; 2]);
    }

    #[test]
    fn nested_join() {
        let args = json!({"boundaries": [2], "schedules": [
            {"schedule": "constant_schedule", "args": {"value": 1.0}},
            {"schedule": "join_schedules", "args": {"boundaries": [1], "schedules": [
                {"schedule": "constant_schedule", "args": {"value": 2.0}},
                {"schedule": "linear_schedule",
                 "args": {"init_value": 3.0, "end_value": 1.0, "transition_steps": 2}}]}}]});
        assert_close(
            &lr("join_schedules", args, 6),
            &[1.0, 1.0, 2.0, 3.0, 2.0, 1.0],
        );
    }

    #[test]
    fn malformed_configs_name_the_field() {
        let cases = [
            (
                "cosine_decay_schedule",
                json!({"init_value": 1.0, "decay_steps": 0}),
                "config.args.decay_steps",
            ),
            (
                "warmup_cosine_decay_schedule",
                json!({"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 10, "decay_steps": 10}),
                "config.args.decay_steps",
            ),
            (
                "piecewise_constant_schedule",
                json!({"init_value": 1.0, "boundaries_and_scales": {"10": -0.5}}),
                "config.args.boundaries_and_scales.10",
            ),
            (
                "piecewise_constant_schedule",
                json!({"init_value": 1.0, "boundaries_and_scales": {"ten": 0.5}}),
                "config.args.boundaries_and_scales.ten",
            ),
            (
                "piecewise_interpolate_schedule",
                json!({"interpolate_type": "cubic", "init_value": 1.0}),
                "config.args.interpolate_type",
            ),
            (
                "linear_onecycle_schedule",
                json!({"transition_steps": 0, "peak_value": 1.0}),
                "config.args.transition_steps",
            ),
            (
                "exponential_decay",
                json!({"init_value": 1.0, "transition_steps": 5}),
                "config.args.decay_rate",
            ),
            (
                "constant_schedule",
                json!({"value": 1.0, "vale": 2.0}),
                "config.args.vale",
            ),
            (
                "join_schedules",
                json!({"boundaries": [1], "schedules": [
                {"schedule": "constant_schedule", "args": {"value": 1.0}},
                {"schedule": "constant_schedule"}]}),
                "config.args.schedules[1].args",
            ),
            (
                "join_schedules",
                json!({"boundaries": [3, 3], "schedules": [
                {"schedule": "constant_schedule", "args": {"value": 1.0}},
                {"schedule": "constant_schedule", "args": {"value": 1.0}},
                {"schedule": "constant_schedule", "args": {"value": 1.0}}]}),
                "config.args.boundaries",
            ),
            ("adam", json!({}), "config.schedule"),
            (
                "warmup_constant_schedule",
                json!({"init_value": 0.0, "peak_value": 1.0, "warmup_steps": -2}),
                "config.args.warmup_steps",
            ),
        ];
        for (name, args, field) in cases {
            let err = try_lr(name, args, 2).unwrap_err();
            assert_eq!(field_of(&err), field, "{name}: {err}");
        }
    }
}
