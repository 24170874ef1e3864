//! Runs the real `cadence` binary on real files.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs `cadence` with `args`; returns (exit success, stdout, stderr).
fn cadence(args: &[&str]) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_cadence"))
        .args(args)
        .output()
        .expect("cadence runs");
    (
        status.success(),
        String::from_utf8(stdout).expect("utf-8 stdout"),
        String::from_utf8(stderr).expect("utf-8 stderr"),
    )
}

/// A fresh path in this test target's scratch folder.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cadence-cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn write(name: &str, contents: &str) -> PathBuf {
    let path = scratch(name);
    std::fs::write(&path, contents).unwrap();
    path
}

const LINEAR: &str = "linear(init=1e-3, end=0, steps=4)";

#[test]
fn values_csv_and_json() {
    let (ok, out, err) = cadence(&["values", LINEAR, "--steps", "6"]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "step,value\n0,0.001\n1,0.00075\n2,0.0005\n3,0.00025\n4,0.0\n5,0.0\n"
    );
    let (ok, out, err) = cadence(&["values", LINEAR, "--steps", "3", "--format", "json"]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["values"], serde_json::json!([0.001, 0.00075, 0.0005]));
    assert_eq!(json["spec"], "linear(init=0.001, end=0.0, steps=4)");
}

#[test]
fn spec_files_in_toml_json_and_text_agree_with_the_command_line() {
    let toml = write(
        "lr.toml",
        "# a linear decay\ntype = \"linear\"\ninit = 1e-3\nend = 0.0\nsteps = 4\n",
    );
    let json = write(
        "lr.json",
        r#"{"type": "linear", "init": 0.001, "end": 0, "steps": 4}"#,
    );
    let text = write("lr.cadence", "# the same\nlinear(1e-3, 0, 4)\n");
    let (_, want, _) = cadence(&["values", LINEAR, "--steps", "8"]);
    for file in [&toml, &json, &text] {
        let (ok, out, err) = cadence(&[
            "values",
            "--spec-file",
            file.to_str().unwrap(),
            "--steps",
            "8",
        ]);
        assert!(ok, "{}: {err}", file.display());
        assert_eq!(out, want, "{}", file.display());
    }
}

#[test]
fn a_closed_pipe_exits_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cadence"))
        .args(["values", "constant(value=0.1)", "--steps", "100M"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "step,value\n");
    // The reader is dropped here: the pipe closes while cadence is still writing.
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn malformed_specs_report_position_and_suggestion() {
    let cases = [
        (
            "linear(init=1, end=0, stesp=10)",
            "line 1, column 23",
            Some("`steps`"),
        ),
        ("lineer(1, 0, 10)", "line 1, column 1", Some("`linear`")),
        ("linear(1, 0, 10", "line 1, column 16", None),
        ("linear(1, 0, 0)", "line 1, column 14", None),
        ("", "line 1, column 1", None),
    ];
    for (spec, position, suggestion) in cases {
        let (ok, out, err) = cadence(&["values", spec, "--steps", "3"]);
        assert!(!ok, "{spec}");
        assert_eq!(out, "", "{spec}");
        assert!(
            err.starts_with("error: invalid schedule spec: "),
            "{spec}: {err}"
        );
        assert!(err.contains(position), "{spec}: {err}");
        if let Some(name) = suggestion {
            assert!(
                err.contains(&format!("did you mean {name}?")),
                "{spec}: {err}"
            );
        }
        assert!(err.contains('^'), "{spec}: the excerpt has a caret: {err}");
        assert!(!err.contains("panicked"), "{spec}: {err}");
    }
}

#[test]
fn malformed_spec_files_name_the_file_and_suggest() {
    let json = write(
        "typo.json",
        r#"{"type": "linear", "init": 1, "end": 0, "stpes": 3}"#,
    );
    let (ok, _, err) = cadence(&[
        "explain",
        "--spec-file",
        json.to_str().unwrap(),
        "--steps",
        "3",
    ]);
    assert!(!ok);
    assert!(err.contains("typo.json"), "{err}");
    assert!(err.contains("unknown field `stpes`"), "{err}");
    assert!(err.contains("did you mean `steps`?"), "{err}");

    let toml = write("typo.toml", "type = \"lienar\"\ninit = 1.0\n");
    let (ok, _, err) = cadence(&[
        "values",
        "--spec-file",
        toml.to_str().unwrap(),
        "--steps",
        "3",
    ]);
    assert!(!ok);
    assert!(err.contains("did you mean `linear`?"), "{err}");

    let (ok, _, err) = cadence(&[
        "values",
        "--spec-file",
        "/nonexistent/lr.toml",
        "--steps",
        "3",
    ]);
    assert!(!ok);
    assert!(
        err.contains("cannot read spec file /nonexistent/lr.toml"),
        "{err}"
    );
}

#[test]
fn compare_reports_where_and_how_much() {
    let (ok, out, err) = cadence(&[
        "compare",
        "linear(init=1, end=0, steps=10)",
        "constant(value=1)",
        "--steps",
        "11",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("first difference:  step 1"), "{out}");
    assert!(out.contains("max |A - B|:       1 at step 10"), "{out}");
    assert!(out.contains("max relative:      100% at step 10"), "{out}");
    assert!(out.contains("half-life   5 steps"), "{out}");
    // Areas: 0.1 * (10 + 9 + ... + 0) = 5.5 and 11.
    assert!(out.contains("area S1     5.5"), "{out}");
    assert!(out.contains("area ratio B / A:  2"), "{out}");

    let spec = write("same.toml", "type = \"constant\"\nvalue = 1.0\n");
    let (ok, out, _) = cadence(&[
        "compare",
        "constant(value=1)",
        "--spec-file",
        spec.to_str().unwrap(),
        "--steps",
        "5",
    ]);
    assert!(ok);
    assert!(out.contains("identical at every sampled step"), "{out}");

    let (ok, _, err) = cadence(&["compare", "constant(value=1)", "--steps", "5"]);
    assert!(!ok);
    assert!(err.contains("exactly two schedules"), "{err}");
}

#[test]
fn explain_describes_phases_in_words() {
    let (ok, out, err) = cadence(&["explain", "linear(1e-3, 1e-5, 8k)", "--steps", "10k"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("1. steps 0..8000: falls from 0.001 to 1e-5 (linear)"),
        "{out}"
    );
    assert!(out.contains("2. steps 8000..9999: holds at 1e-5"), "{out}");
    assert!(out.contains("warmup:    none"), "{out}");
    assert!(
        out.contains("decay:     linear from step 0 to 8000"),
        "{out}"
    );
    assert!(out.contains("half-life: 4041 steps"), "{out}");
    assert!(
        out.contains("in words:  starts at 0.001, decays (linear) to 1e-5 by step 8000"),
        "{out}"
    );
}

#[test]
fn svg_plots_are_deterministic_and_labelled() {
    let render = |name: &str| {
        let path = scratch(name);
        let (ok, _, err) = cadence(&[
            "plot",
            "linear(1e-3, 0, 10k)",
            "constant(value=5e-4)",
            "--steps",
            "12k",
            "--label",
            "decay",
            "--title",
            "two schedules",
            "-o",
            path.to_str().unwrap(),
        ]);
        assert!(ok, "{err}");
        std::fs::read(path).unwrap()
    };
    let (a, b) = (render("a.svg"), render("b.svg"));
    assert_eq!(a, b, "the same plot twice gives the same bytes");
    let svg = String::from_utf8(a).unwrap();
    assert!(svg.starts_with("<svg"));
    for text in [
        "two schedules",
        "decay",
        "constant(value=0.0005)",
        "step",
        "learning rate",
        "10k",
    ] {
        assert!(svg.contains(text), "missing {text:?}");
    }
    // Each series in its palette colour: one curve and one legend mark apiece.
    for colour in ["#1F77B4", "#FF7F0E"] {
        let lines = format!("stroke=\"{colour}\"");
        assert_eq!(svg.matches(&lines).count(), 2, "{colour}");
    }
    assert!(!svg.contains("#2CA02C"), "no third series");
}

#[test]
fn png_plots_are_deterministic_and_need_no_system_font() {
    let render = |name: &str| {
        let path = scratch(name);
        let (ok, _, err) = cadence(&[
            "plot",
            "linear(1e-3, 1e-6, 10k)",
            "--steps",
            "10k",
            "--log-y",
            "--width",
            "640",
            "--height",
            "400",
            "-o",
            path.to_str().unwrap(),
        ]);
        assert!(ok, "{err}");
        std::fs::read(path).unwrap()
    };
    let (a, b) = (render("a.png"), render("b.png"));
    assert_eq!(a, b, "the same plot twice gives the same bytes");
    assert_eq!(&a[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height as big-endian u32 at bytes 16..24.
    assert_eq!(u32::from_be_bytes(a[16..20].try_into().unwrap()), 640);
    assert_eq!(u32::from_be_bytes(a[20..24].try_into().unwrap()), 400);
    // Text was drawn (the embedded font rasterises): a plain chart without any text would
    // compress far smaller than one with title, ticks and legend.
    assert!(a.len() > 10_000, "{} bytes", a.len());
}

#[test]
fn plot_errors() {
    let (ok, _, err) = cadence(&[
        "plot",
        "constant(value=1)",
        "--steps",
        "3",
        "-o",
        &scratch("x.jpg").display().to_string(),
    ]);
    assert!(!ok);
    assert!(err.contains("use a .png or .svg file name"), "{err}");
    let (ok, _, err) = cadence(&[
        "plot",
        "linear(1, 0, 2)",
        "--steps",
        "3",
        "--log-y",
        "-o",
        &scratch("x.png").display().to_string(),
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = cadence(&[
        "plot",
        "linear(0, -1, 2)",
        "--steps",
        "3",
        "--log-y",
        "-o",
        &scratch("y.png").display().to_string(),
    ]);
    assert!(!ok);
    assert!(err.contains("no value is > 0"), "{err}");
    let (ok, _, _) = cadence(&["plot", "constant(value=1)", "--steps", "3"]);
    assert!(!ok, "no output and no --terminal");
}

#[test]
fn terminal_preview() {
    let (ok, out, err) = cadence(&[
        "plot",
        "linear(1, 0, 100)",
        "constant(value=0.5)",
        "--steps",
        "100",
        "--terminal",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "{out}"
    );
    assert!(
        out.contains("━━ linear(init=1.0, end=0.0, steps=100)"),
        "{out}"
    );
    assert!(out.contains("━━ constant(value=0.5)"), "{out}");
    assert!(!out.contains('\x1b'), "no colour codes into a pipe");
    assert_eq!(out.lines().count(), 16 + 3);
}

#[test]
fn help_has_examples_and_list_names_every_schedule() {
    for sub in ["values", "plot", "compare", "explain", "list"] {
        let (ok, out, err) = cadence(&[sub, "--help"]);
        assert!(ok, "{sub}: {err}");
        assert!(out.contains("Examples:"), "{sub}: {out}");
    }
    let (ok, out, _) = cadence(&["list"]);
    assert!(ok);
    assert!(out.contains("linear(init, end, steps)"), "{out}");
    assert!(out.lines().count() >= 2);
    let (ok, _, err) = cadence(&["values", LINEAR, "--steps", "ten"]);
    assert!(!ok);
    assert!(err.contains("is not a step count"), "{err}");
}

#[test]
fn lab_help_names_every_registered_experiment() {
    let (ok, out, err) = cadence(&["lab", "--help"]);
    assert!(ok, "{err}");
    for e in cadence_lab::experiments() {
        assert!(
            out.contains(e.name()),
            "`cadence lab --help` omits {}: {out}",
            e.name()
        );
    }
}

/// Every registered family and combinator, as a random valid spec printed in the text
/// language, through every subcommand.
#[test]
fn every_registered_kind_runs_through_every_subcommand() {
    use cadence::testing::specs::random_spec_named;
    use cadence::{Schedule, ScheduleSpec};

    let mut ran = Vec::new();
    for name in ScheduleSpec::NAMES {
        let Some(spec) = (0..20).find_map(|seed| random_spec_named(name, seed, 1)) else {
            eprintln!("note: no random `{name}` could be built; not run");
            continue;
        };
        let text = cadence::text::to_text(&spec);
        let (ok, out, err) = cadence(&["values", &text, "--steps", "300"]);
        assert!(ok, "{text}: {err}");
        for (t, line) in out.lines().skip(1).enumerate() {
            let value: f64 = line.split_once(',').unwrap().1.parse().unwrap();
            let want = spec.value(t as u64);
            assert!(
                value.to_bits() == want.to_bits(),
                "{text} at {t}: {value} vs {want}"
            );
        }
        let svg = scratch(&format!("{name}.svg"));
        let svg = svg.to_str().unwrap();
        for args in [
            vec!["explain", &text, "--steps", "300"],
            vec!["compare", &text, "constant(value=0.001)", "--steps", "300"],
            vec!["plot", &text, "--steps", "300", "--terminal", "-o", svg],
        ] {
            let (ok, out, err) = cadence(&args);
            assert!(ok, "{args:?}: {err}");
            assert!(!out.is_empty() && err.is_empty(), "{args:?}: {err}");
        }
        ran.push(*name);
    }
    assert!(
        ran.contains(&"constant") && ran.contains(&"linear"),
        "{ran:?}"
    );
}

/// The repository's golden peer trajectories (see crates/cadence-compat/tests/golden).
fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cadence-compat/tests/golden")
        .join(name)
}

#[test]
fn compat_eval_reproduces_a_recorded_peer_and_ignores_its_values() {
    for name in [
        "torch__OneCycleLR_01.json",
        "timm__PlateauLRScheduler_01.json",
    ] {
        let path = golden(name);
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // Blank the recorded values: the command must not read them.
        let mut blind = case.clone();
        blind["lr"] = serde_json::json!([]);
        blind["momentum"] = serde_json::Value::Null;
        let file = write(&format!("blind-{name}"), &blind.to_string());
        let (ok, out, err) = cadence(&["compat", "eval", file.to_str().unwrap()]);
        assert!(ok, "{name}: {err}");
        let got: serde_json::Value = serde_json::from_str(&out).unwrap();
        for key in ["lr", "momentum"] {
            match (got[key].as_array(), case[key].as_array()) {
                (Some(g), Some(e)) => {
                    assert_eq!(g.len(), e.len(), "{name} {key}");
                    for (i, (g, e)) in g.iter().zip(e).enumerate() {
                        let (g, e) = (g.as_f64().unwrap(), e.as_f64().unwrap());
                        assert!(
                            (g - e).abs() <= 1e-9 * e.abs() + 1e-12,
                            "{name} {key}[{i}]: {g} vs {e}"
                        );
                    }
                }
                (None, None) => {}
                (g, e) => panic!("{name} {key}: got {g:?}, recorded {e:?}"),
            }
        }
    }
}

#[test]
fn compat_eval_names_the_bad_field() {
    let file = write(
        "bad-case.json",
        r#"{"source": "torch", "steps": 3, "config": {"scheduler": "StepLR",
            "optimizer": {"type": "SGD", "lr": 0.1}, "args": {"step_size": -2}}}"#,
    );
    let (ok, out, err) = cadence(&["compat", "eval", file.to_str().unwrap()]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("config.args.step_size"), "{err}");
    let file = write(
        "unknown-scheduler.json",
        r#"{"source": "torch", "steps": 3, "config": {"scheduler": "StepLRR", "optimizer": {"lr": 0.1}, "args": {}}}"#,
    );
    let (ok, _, err) = cadence(&["compat", "eval", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("config.scheduler"), "{err}");
}

/// The bundled loss curves of the multi-power-law data set (crates/cadence-curve/data).
fn curves(size: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cadence-curve/data/loss-curves")
        .join(size)
}

#[test]
fn curve_bench_json_reports_the_protocol_metrics_and_the_baseline() {
    let dir = curves("400");
    let plot = scratch("bench-400.svg");
    let (ok, out, err) = cadence(&[
        "curve",
        "bench",
        dir.to_str().unwrap(),
        "--json",
        "--default-settings",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // Every curve in the plot: the data as points, labelled by role.
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("<circle"), "observed data drawn as points");
    assert!(svg.contains("cosine_24000 (fitted on)") && svg.contains("wsdcon_3 (predicted)"));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["r2", "mae", "rmse", "prede", "worste"] {
        assert!(
            json[key].as_f64().is_some_and(f64::is_finite),
            "{key}: {json}"
        );
        assert!(json["baseline"][key].as_f64().is_some(), "baseline {key}");
    }
    let per_curve = json["per_curve"].as_array().unwrap();
    let names: Vec<&str> = per_curve
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(
        !names.contains(&"cosine_24000"),
        "a fitting curve was scored: {names:?}"
    );
    // 400M: cadence's default law beats the published numbers even with its default
    // settings (see the crate docs).
    assert_eq!(json["settings"], "default settings");
    assert!(json["r2"].as_f64().unwrap() >= json["published"]["r2"].as_f64().unwrap());
    assert!(json["worste"].as_f64().unwrap() <= json["published"]["worste"].as_f64().unwrap());
}

#[test]
fn curve_bench_several_dirs_give_one_report_each() {
    let (small, large) = (curves("25"), curves("400"));
    let (ok, out, err) = cadence(&[
        "curve",
        "bench",
        small.to_str().unwrap(),
        large.to_str().unwrap(),
        "--law",
        "annealing",
        "--json",
        "--default-settings",
    ]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let reports = json.as_array().expect("an array for several DIRs");
    assert_eq!(reports.len(), 2);
    // In the order given, each against its own size's published numbers.
    assert_eq!(reports[0]["published"]["worste"].as_f64(), Some(0.00409));
    assert_eq!(reports[1]["published"]["worste"].as_f64(), Some(0.00995));
    let plot = scratch("bench-two.svg");
    let (ok, _, err) = cadence(&[
        "curve",
        "bench",
        small.to_str().unwrap(),
        large.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("--plot takes one DIR"), "{err}");
}

#[test]
fn curve_bench_of_an_unpublished_folder_uses_the_default_settings() {
    // A copy of the 400M curves under a name with no published numbers: no sibling sizes
    // to choose settings by, so the defaults, said so; --select refuses.
    let root = scratch("unpublished-sizes");
    let mine = root.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    for entry in std::fs::read_dir(curves("400")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, mine.join(path.file_name().unwrap())).unwrap();
    }
    let (ok, out, err) = cadence(&["curve", "bench", mine.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["settings"], "default settings");
    assert!(json["published"].is_null(), "{json}");
    let (ok, _, err) = cadence(&["curve", "bench", mine.to_str().unwrap(), "--select"]);
    assert!(!ok);
    assert!(
        err.contains("--select needs DIR among size folders"),
        "{err}"
    );
}

#[test]
fn curve_fit_predict_and_optimize_round_trip_through_files() {
    let dir = curves("25");
    let law = scratch("law.json");
    let (ok, _, err) = cadence(&[
        "curve",
        "fit",
        dir.join("cosine_24000.csv").to_str().unwrap(),
        dir.join("constant_24000.csv").to_str().unwrap(),
        "--law",
        "annealing",
        "-o",
        law.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = cadence(&[
        "curve",
        "predict",
        "--law",
        law.to_str().unwrap(),
        "--schedule",
        "warmup(linear, 2160, 0) >> cosine(3e-4, 3e-5, 21840)",
        "--steps",
        "24k",
        "--every",
        "4k",
    ]);
    assert!(ok, "{err}");
    let rows: Vec<f64> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(rows.len(), 7, "{out}");
    assert!(
        rows.windows(2).all(|w| w[1] < w[0]),
        "loss should fall under a cosine: {rows:?}"
    );
    let schedule = scratch("optimised.json");
    let schedule_plot = scratch("optimised.svg");
    let (ok, out, err) = cadence(&[
        "curve",
        "optimize",
        "--law",
        law.to_str().unwrap(),
        "--steps",
        "3000",
        "--peak",
        "3e-4",
        "--warmup",
        "300",
        "-o",
        schedule.to_str().unwrap(),
        "--plot",
        schedule_plot.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("predicted final loss"), "{out}");
    let svg = std::fs::read_to_string(&schedule_plot).unwrap();
    assert!(svg.contains("optimised (predicted final loss") && svg.contains("warmup + cosine ("));
    // The written schedule is a cadence spec: peak after warmup, never above it.
    let (ok, out, err) = cadence(&[
        "values",
        "--spec-file",
        schedule.to_str().unwrap(),
        "--steps",
        "3000",
    ]);
    assert!(ok, "{err}");
    let values: Vec<f64> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!((values[299] - 3e-4).abs() < 1e-12, "{}", values[299]);
    assert!(values.iter().all(|&v| v <= 3e-4 + 1e-15));
    let bad = write("bad-run.csv", "step,lr,loss\n1,0.1,3.0\n0,0.1,2.9\n");
    let (ok, _, err) = cadence(&[
        "curve",
        "fit",
        bad.to_str().unwrap(),
        "-o",
        law.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("bad-run.csv:3") && err.contains("steps must increase"),
        "{err}"
    );
}

#[test]
fn compat_optim_reproduces_a_recorded_optimizer_trajectory() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cadence-candle/tests/data/golden-optim/torch__SGD_nesterov_wd.json");
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (ok, out, err) = cadence(&["compat", "optim", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (got_x, want_x) = (got["x"].as_array().unwrap(), case["x"].as_array().unwrap());
    assert_eq!(got_x.len(), want_x.len());
    for (t, (g, w)) in got_x.iter().zip(want_x).enumerate() {
        for (g, w) in g.as_array().unwrap().iter().zip(w.as_array().unwrap()) {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= 1e-10 * w.abs().max(1e-300) + 1e-14,
                "x[{t}]: {g} vs {w}"
            );
        }
    }
    assert!(got["x_eval"].is_null());
}

#[test]
fn train_reaches_the_digits_accuracy_and_resumes() {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cadence-cli-train");
    let _ = std::fs::remove_dir_all(&out_dir);
    let dir = out_dir.to_str().unwrap();
    let (ok, out, err) = cadence(&["train", "--quiet", "--epochs", "20", "--out", dir]);
    assert!(ok, "{err}");
    let accuracy: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("test accuracy "))
        .and_then(|l| l.split('%').next())
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {out}"));
    assert!(accuracy > 95.0, "{out}");
    for file in [
        "steps.csv",
        "evals.csv",
        "checkpoint.safetensors",
        "model.safetensors",
    ] {
        assert!(out_dir.join(file).exists(), "{file} missing");
    }
    // Resuming a completed run trains nothing more and reports the same accuracy.
    let (ok, again, err) = cadence(&[
        "train", "--quiet", "--epochs", "20", "--out", dir, "--resume",
    ]);
    assert!(ok, "{err}");
    let line = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("test accuracy"))
            .map(str::to_owned)
    };
    assert_eq!(line(&again), line(&out));
    let (ok, _, err) = cadence(&["train", "--schedule", "cosin(1, 0, 10)", "--out", dir]);
    assert!(!ok && err.contains("did you mean `cosine`"), "{err}");
}

#[test]
fn find_lr_recommends_a_rate_and_plots_the_suggestions() {
    let plot = scratch("find-lr.svg");
    let (ok, out, err) = cadence(&[
        "find-lr",
        "--steps",
        "80",
        "--json",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let lr = json["recommended"]
        .as_f64()
        .unwrap_or_else(|| panic!("{out}"));
    // AdamW on the digits MLP: the grid-best constant rate is 1e-2 (docs/find-lr.md).
    assert!(lr > 3e-3 && lr < 3e-2, "{lr}");
    assert_eq!(json["curve"]["recommendation"]["method"], "minimum_tenth");
    assert_eq!(json["curve"]["suggestions"].as_array().unwrap().len(), 4);
    let points = json["curve"]["losses"].as_array().unwrap().len();
    assert!(points < 80, "the sweep should stop at divergence: {points}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    for label in ["valley", "steepest", "minimum/10", "slide", "(recommended)"] {
        assert!(svg.contains(label), "{label} missing from the plot");
    }
}

#[test]
fn find_lr_warns_instead_of_guessing_on_a_diverging_sweep() {
    let (ok, out, err) = cadence(&[
        "find-lr",
        "--optimizer",
        "sgd-momentum",
        "--min",
        "30",
        "--max",
        "1000",
        "--steps",
        "40",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("warning:"), "{out}");
    assert!(out.contains("recommended: none"), "{out}");
    let (ok, _, err) = cadence(&["find-lr", "--min", "1", "--max", "0.1"]);
    assert!(!ok && err.contains("max_lr"), "{err}");
}

#[test]
fn curvature_reports_lambda_max_for_a_trained_checkpoint() {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cadence-cli-curvature");
    let _ = std::fs::remove_dir_all(&out_dir);
    let dir = out_dir.to_str().unwrap();
    let (ok, _, err) = cadence(&["train", "--quiet", "--epochs", "2", "--out", dir]);
    assert!(ok, "{err}");
    let mut lambdas = Vec::new();
    for extra in [
        &[][..],
        &["--checkpoint", &format!("{dir}/model.safetensors")][..],
    ] {
        let mut args = vec!["curvature", "--batch", "256", "--json"];
        args.extend_from_slice(extra);
        let (ok, out, err) = cadence(&args);
        assert!(ok, "{err}");
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let l = json["report"]["lambda_max"].as_f64().unwrap();
        let bound = json["report"]["stability_bound"].as_f64().unwrap();
        assert!(l.is_finite() && l > 0.0, "{out}");
        assert!((bound * l - 2.0).abs() < 1e-9);
        assert_eq!(json["report"]["top"]["converged"], true);
        assert_eq!(json["samples"], 256);
        lambdas.push(l);
    }
    // Trained weights sit elsewhere on the landscape than the initial ones.
    assert!(
        (lambdas[0] - lambdas[1]).abs() > 1e-3 * lambdas[0],
        "{lambdas:?}"
    );
    // The training checkpoint loads too; a CNN checkpoint does not fit the MLP.
    let (ok, out, err) = cadence(&[
        "curvature",
        "--checkpoint",
        &format!("{dir}/checkpoint.safetensors"),
        "--batch",
        "128",
    ]);
    assert!(ok && out.contains("2 / lambda_max"), "{err}");
    let (ok, _, err) = cadence(&[
        "curvature",
        "--model",
        "cnn",
        "--checkpoint",
        &format!("{dir}/model.safetensors"),
    ]);
    assert!(!ok && err.contains("has no tensor"), "{err}");
}

#[test]
fn train_lr_auto_runs_the_range_test_then_trains() {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cadence-cli-train-auto");
    let _ = std::fs::remove_dir_all(&out_dir);
    let dir = out_dir.to_str().unwrap();
    let (ok, out, err) = cadence(&[
        "train", "--quiet", "--lr", "auto", "--epochs", "8", "--out", dir,
    ]);
    assert!(ok, "{err}");
    let lr: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("lr auto: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no lr in {out}"));
    assert!(lr > 3e-3 && lr < 3e-2, "{lr}");
    assert!(out.contains(&format!("cosine(init={lr}")), "{out}");
    let accuracy: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("test accuracy "))
        .and_then(|l| l.split('%').next())
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {out}"));
    assert!(accuracy > 95.0, "{out}");
    let (ok, _, err) = cadence(&["train", "--lr", "fast", "--out", dir]);
    assert!(!ok && err.contains("neither `auto`"), "{err}");
}
