use super::*;
use crate::schedule::Schedule;
use crate::testing::specs::{random_spec, random_spec_named};
use proptest::prelude::*;
use serde_json::json;

fn tree(src: &str) -> Value {
    parse_tree(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn error(src: &str) -> ParseError {
    match parse(src) {
        Ok(spec) => panic!("{src} parsed as {spec:?}"),
        Err(e) => e,
    }
}

#[test]
fn numbers() {
    let cases = [
        ("3e-4", json!(3e-4)),
        ("10_000", json!(10_000)),
        ("10k", json!(10_000)),
        ("1.5M", json!(1_500_000)),
        ("2G", json!(2_000_000_000u64)),
        ("1e4", json!(10_000)),
        ("2.0", json!(2)),
        ("0.1", json!(0.1)),
        ("-7", json!(-7)),
        ("-2.5k", json!(-2500)),
        (".5", json!(0.5)),
        ("18446744073709551615", json!(u64::MAX)),
        ("1e300", json!(1e300)),
    ];
    for (text, want) in cases {
        assert_eq!(tree(&format!("f(x={text})"))["x"], want, "{text}");
    }
    // -0.0 stays a float with its sign.
    let neg_zero = tree("f(x=-0.0)")["x"].as_f64().unwrap();
    assert!(neg_zero == 0.0 && neg_zero.is_sign_negative());
    for bad in ["1e5k", "1__0", "10_", "0x10", "1e999", "1.2.3"] {
        let err = parse_tree(&format!("f(x={bad})")).unwrap_err();
        assert_eq!(err.column(), 5, "{bad}: {err}");
        assert!(err.message().contains("malformed number"), "{bad}: {err}");
    }
}

#[test]
fn words_strings_lists_tables_and_comments() {
    let got = tree(
        "f(  # a comment\n a=cosine, b=true, c=null, d=\"x \\\"y\\\"\", e='0.95 ** step',\n f=[1, 2.5, [],], g={h=1, \"i j\"=k},)",
    );
    assert_eq!(
        got,
        json!({"type": "f", "a": "cosine", "b": true, "c": null, "d": "x \"y\"",
               "e": "0.95 ** step", "f": [1, 2.5, []], "g": {"h": 1, "i j": "k"}})
    );
    assert_eq!(tree("f(s='\\u{3b1}\\n')")["s"], json!("α\n"));
}

#[test]
fn then_sugar_fills_the_schedule_child_right_to_left() {
    let got = tree("warmup(warmup_steps=5) >> clamp(min=0.1) >> linear(1, 0, 10)");
    assert_eq!(
        got,
        json!({"type": "warmup", "warmup_steps": 5, "schedule":
               {"type": "clamp", "min": 0.1, "schedule":
                {"type": "linear", "init": 1, "end": 0, "steps": 10}}})
    );
    // Inside lists and arguments too; commas end the chain.
    let got = tree("join(schedules=[a() >> b(), c()], at=[3])");
    assert_eq!(got["schedules"][0]["schedule"]["type"], "b");
    assert_eq!(got["schedules"][1]["type"], "c");
    assert_eq!(
        tree_to_text(&got),
        "join(schedules=[a() >> b(), c()], at=[3])"
    );
    let err = parse_tree("f(schedule=a()) >> b()").unwrap_err();
    assert!(err.message().contains("`schedule` is given twice"), "{err}");
    let err = parse_tree("[1] >> b()").unwrap_err();
    assert!(err.message().contains("`>>` needs a combinator"), "{err}");
}

#[test]
fn positional_arguments_fill_declared_fields() {
    assert_eq!(
        parse("linear(1e-3, 0, 10k)").unwrap(),
        parse("linear(init=1e-3, end=0, steps=10_000)").unwrap()
    );
    // `end` is named, so the positional `0` fills `steps`, and the error points at it.
    let err = error("linear(1e-3, 0, end=0.5)");
    assert_eq!(err.column(), 14);
    assert!(err.message().contains("`steps` = 0"), "{err}");
    let err = error("linear(1, 0, 10, 4)");
    assert_eq!(err.column(), 18);
    assert!(err.message().contains("`init`, `end`, `steps`"), "{err}");
    let err = error("linear(init=1, 0, 10)");
    assert!(err.message().contains("before named"), "{err}");
}

#[test]
fn errors_point_at_the_token_and_suggest_names() {
    let err = error("linaer(init=1, end=0, steps=10)");
    assert_eq!(
        (err.line(), err.column(), err.suggestion()),
        (1, 1, Some("linear"))
    );
    assert!(err.message().contains("unknown schedule `linaer`"), "{err}");

    let err = error("linear(init=1,\n  end=0, step=10)");
    assert_eq!(
        (err.line(), err.column(), err.suggestion()),
        (2, 10, Some("steps"))
    );
    assert_eq!(err.excerpt(), "  end=0, step=10)\n         ^");

    let err = error("linear(init=1, end=0, steps=0)");
    assert_eq!((err.column(), err.suggestion()), (23, None));
    assert!(err.message().contains("must be at least 1"), "{err}");

    let err = error("linear(init=1, end=0, steps=2.5)");
    assert_eq!(err.column(), 23, "{err}");
    assert!(err.message().contains("floating point"), "{err}");

    let err = error("linear(init=1, end=0)");
    assert_eq!(err.column(), 1);
    assert!(err.message().contains("missing field `steps`"), "{err}");

    let err = error("linear(init=1 end=0)");
    assert_eq!(err.column(), 15);
    assert!(err.message().contains("expected `,` or `)`"), "{err}");

    for (src, column) in [
        ("", 1),
        ("   ", 4),
        ("linear(", 8),
        ("'abc", 1),
        ("a(b=)", 5),
        ("@", 1),
    ] {
        let err = error(src);
        assert_eq!(err.column(), column, "{src:?}: {err}");
    }
    assert!(
        error(&"[".repeat(10_000))
            .message()
            .contains("nested deeper")
    );
}

#[test]
fn every_registered_name_declares_its_fields() {
    for name in ScheduleSpec::NAMES {
        let declared = fields(name).unwrap_or_else(|| panic!("`{name}`: fields unknown"));
        assert!(!declared.is_empty(), "{name}");
    }
}

fn assert_same_values(a: &ScheduleSpec, b: &ScheduleSpec) {
    for t in [0, 1, 2, 7, 99, 1000, 123_456, u64::MAX] {
        let (x, y) = (a.value(t), b.value(t));
        assert!(x.to_bits() == y.to_bits() || x == y, "step {t}: {x} vs {y}");
    }
}

#[test]
fn the_generator_builds_registered_kinds() {
    let built: Vec<&str> = ScheduleSpec::NAMES
        .iter()
        .copied()
        .filter(|name| (0..20).any(|seed| random_spec_named(name, seed, 2).is_some()))
        .collect();
    for name in ScheduleSpec::NAMES {
        if !built.contains(name) {
            eprintln!("note: random specs never produced a valid `{name}`");
        }
    }
    assert!(
        built.contains(&"constant") && built.contains(&"linear"),
        "{built:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// text -> spec -> text -> spec, and spec <-> JSON <-> TOML, all identical.
    #[test]
    fn round_trips_are_identical(seed in any::<u64>()) {
        let Some(spec) = random_spec(seed, 3) else { return Ok(()) };

        let text = to_text(&spec);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}\n{}\n{e}", e.excerpt())))?;
        prop_assert_eq!(&back, &spec, "{}", text);
        prop_assert_eq!(to_text(&back), text.clone());
        assert_same_values(&back, &spec);

        let json = serde_json::to_string(&spec).unwrap();
        let from_json: ScheduleSpec = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&from_json, &spec);

        let toml_text = toml::to_string(&spec).unwrap();
        let from_toml: ScheduleSpec = toml::from_str(&toml_text).map_err(|e| TestCaseError::fail(format!("{toml_text}\n{e}")))?;
        prop_assert_eq!(&from_toml, &spec);
        prop_assert_eq!(serde_json::to_value(&from_toml).unwrap(), serde_json::to_value(&spec).unwrap());
        assert_same_values(&from_toml, &spec);
    }

    /// Random text never panics; what parses prints back to itself.
    #[test]
    fn random_text_never_panics(src in "\\PC{0,60}") {
        check_arbitrary_text(&src)?;
    }

    #[test]
    fn random_token_soup_never_panics(
        parts in prop::collection::vec(prop::sample::select(vec![
            "linear", "constant", "cosine", "init", "end", "steps", "value", "schedule", "(", ")",
            "[", "]", "{", "}", ",", "=", ">>", " ", "\n", "#", "'", "\"", "\\", "-", "1",
            "3e-4", "10k", "1.5M", "_", "0", ".", "e", "null", "true", "1e400", "-0.0",
        ]), 0..40)
    ) {
        check_arbitrary_text(&parts.concat())?;
    }
}

fn check_arbitrary_text(src: &str) -> Result<(), TestCaseError> {
    match parse(src) {
        Ok(spec) => {
            let text = to_text(&spec);
            prop_assert_eq!(parse(&text).ok(), Some(spec));
        }
        Err(e) => {
            prop_assert!(e.line() >= 1 && e.line() <= src.lines().count().max(1) + 1);
            prop_assert!(e.column() >= 1 && e.column() <= src.chars().count() + 1);
            prop_assert!(!e.message().is_empty());
            let _ = e.excerpt();
        }
    }
    Ok(())
}
