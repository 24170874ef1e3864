//! The decay families through `ScheduleSpec`: JSON and TOML round trips are identical,
//! optional fields have their documented defaults, deserialising validates, and every
//! family's continuous clock agrees with its integer steps (the serde tests need the
//! default `serde` feature).

use cadence::testing::{assert_total, close, telling_steps};
use cadence::{
    Cosine, DecayMode, Exponential, InverseSqrt, InverseTime, MultiStep, Overrun,
    PiecewiseConstant, Polynomial, Schedule, ScheduleSpec, Step, Tanh,
};

fn all() -> Vec<ScheduleSpec> {
    vec![
        Polynomial::new(0.1, 0.001, 2.0, 100)
            .unwrap()
            .with_begin(20)
            .with_k_decay(1.5)
            .unwrap()
            .into(),
        Exponential::new(0.1, 0.7, 5)
            .unwrap()
            .with_begin(10)
            .with_mode(DecayMode::Staircase)
            .with_end(0.01)
            .unwrap()
            .into(),
        Exponential::from_half_life(1.0, 300).unwrap().into(),
        Step::new(0.1, 0.9, 2.5).unwrap().into(),
        MultiStep::new(0.1, 0.1, vec![10, 25, 25]).unwrap().into(),
        PiecewiseConstant::new(0.1, vec![(10, 0.5), (30, 0.1), (50, 2.0)])
            .unwrap()
            .into(),
        InverseTime::new(0.1, 0.5, 10)
            .unwrap()
            .with_mode(DecayMode::Staircase)
            .into(),
        InverseSqrt::new(0.1, 4000.0).unwrap().into(),
        Cosine::with_alpha(1.0, 0.05, 1000)
            .unwrap()
            .with_exponent(0.5)
            .unwrap()
            .with_k_decay(2.0)
            .unwrap()
            .with_overrun(Overrun::Continue)
            .into(),
        Tanh::new(0.1, 1e-5, 50)
            .unwrap()
            .with_bounds(-6.0, 4.0)
            .unwrap()
            .into(),
    ]
}

#[cfg(feature = "serde")]
#[test]
fn json_and_toml_round_trips_are_identical() {
    for spec in all() {
        let json = serde_json::to_string(&spec).unwrap();
        let back: ScheduleSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec, "{json}");
        let toml_text = toml::to_string(&spec).unwrap();
        let back: ScheduleSpec = toml::from_str(&toml_text).unwrap();
        assert_eq!(back, spec, "{toml_text}");
    }
}

#[test]
fn every_family_is_registered_under_its_name() {
    let names: Vec<&str> = all().iter().map(|s| s.name()).collect();
    for name in [
        "polynomial",
        "exponential",
        "step",
        "multi_step",
        "piecewise_constant",
        "inverse_time",
        "inverse_sqrt",
        "cosine",
        "tanh",
    ] {
        assert!(names.contains(&name), "{name}");
        assert!(ScheduleSpec::NAMES.contains(&name), "{name}");
    }
}

#[cfg(feature = "serde")]
#[test]
fn optional_fields_default() {
    let parse = |s: &str| serde_json::from_str::<ScheduleSpec>(s).unwrap();
    assert_eq!(
        parse(r#"{"type":"polynomial","init":1.0,"end":0.0,"power":1.0,"decay_steps":10}"#),
        Polynomial::new(1.0, 0.0, 1.0, 10).unwrap().into()
    );
    assert_eq!(
        parse(r#"{"type":"exponential","init":1.0,"rate":0.5,"transition_steps":10}"#),
        Exponential::new(1.0, 0.5, 10).unwrap().into()
    );
    assert_eq!(
        parse(r#"{"type":"inverse_time","init":1.0,"rate":0.5,"decay_steps":10}"#),
        InverseTime::new(1.0, 0.5, 10).unwrap().into()
    );
    assert_eq!(
        parse(r#"{"type":"cosine","init":1.0,"end":0.0,"decay_steps":10}"#),
        Cosine::new(1.0, 0.0, 10).unwrap().into()
    );
    assert_eq!(
        parse(r#"{"type":"tanh","init":1.0,"end":0.0,"decay_steps":10}"#),
        Tanh::new(1.0, 0.0, 10).unwrap().into()
    );
    let json = serde_json::to_string(&ScheduleSpec::from(Exponential::new(1.0, 0.5, 10).unwrap()))
        .unwrap();
    assert!(!json.contains("end"), "{json}");
    let piecewise =
        parse(r#"{"type":"piecewise_constant","init":1.0,"boundaries_and_scales":[[10,0.5]]}"#);
    assert_eq!(piecewise.value(10), 0.5);
}

#[cfg(feature = "serde")]
#[test]
fn deserialising_validates_and_names_the_field() {
    for (json, field) in [
        (
            r#"{"type":"polynomial","init":1.0,"end":0.0,"power":-1.0,"decay_steps":10}"#,
            "`power`",
        ),
        (
            r#"{"type":"exponential","init":1.0,"rate":0.0,"transition_steps":10}"#,
            "`rate`",
        ),
        (
            r#"{"type":"step","init":1.0,"gamma":0.5,"step_size":0.0}"#,
            "`step_size`",
        ),
        (
            r#"{"type":"multi_step","init":1.0,"gamma":0.5,"milestones":[5,3]}"#,
            "`milestones`",
        ),
        (
            r#"{"type":"piecewise_constant","init":1.0,"boundaries_and_scales":[[5,0.5],[5,0.5]]}"#,
            "`boundaries_and_scales`",
        ),
        (
            r#"{"type":"inverse_sqrt","init":1.0,"timescale":-2.0}"#,
            "`timescale`",
        ),
        (
            r#"{"type":"cosine","init":1.0,"end":0.0,"decay_steps":10,"k_decay":0.0}"#,
            "`k_decay`",
        ),
        (
            r#"{"type":"tanh","init":1.0,"end":0.0,"decay_steps":10,"lower":3.0,"upper":-7.0}"#,
            "`upper`",
        ),
    ] {
        let err = serde_json::from_str::<ScheduleSpec>(json).unwrap_err();
        assert!(err.to_string().contains(field), "{json}: {err}");
    }
    let unknown = serde_json::from_str::<ScheduleSpec>(
        r#"{"type":"cosine","init":1.0,"end":0.0,"decay_steps":10,"alpha":0.1}"#,
    )
    .unwrap_err();
    assert!(unknown.to_string().contains("unknown field"), "{unknown}");
}

#[test]
fn total_and_continuous_time_agrees_with_steps() {
    for spec in all() {
        assert_total(&spec, &[10, 25, 50, 100, 1000]);
        // Through the concrete type: the spec forwards `value` and `value_at`.
        let direct: Box<dyn Schedule> = match spec.clone() {
            ScheduleSpec::Polynomial(s) => Box::new(s),
            ScheduleSpec::Exponential(s) => Box::new(s),
            ScheduleSpec::Step(s) => Box::new(s),
            ScheduleSpec::MultiStep(s) => Box::new(s),
            ScheduleSpec::PiecewiseConstant(s) => Box::new(s),
            ScheduleSpec::InverseTime(s) => Box::new(s),
            ScheduleSpec::InverseSqrt(s) => Box::new(s),
            ScheduleSpec::Cosine(s) => Box::new(s),
            ScheduleSpec::Tanh(s) => Box::new(s),
            other => panic!("unexpected {}", other.name()),
        };
        for t in telling_steps(&[10, 25, 50, 100, 1000]) {
            let v = direct.value(t);
            assert_eq!(v, spec.value(t));
            if t < 1 << 53 {
                let c = direct.value_at(t as f64);
                assert!(close(c, v, 1e-15), "{spec:?} at {t}: {c} vs {v}");
            }
            let half = t as f64 + 0.5;
            assert!(direct.value_at(half).is_finite());
            assert_eq!(spec.value_at(half), direct.value_at(half), "{spec:?}");
        }
    }
}
