//! Every experiment at quick size into a temporary directory: report files, computed
//! verdicts, and resumption without rerunning finished runs.

use cadence_lab::{Config, Progress, Size, run_selected};

#[test]
fn quick_lab_writes_reports_and_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path(), Size::Quick).with_progress(Progress::Hidden);
    let first = run_selected(&config, None).expect("lab runs");
    let names: Vec<&str> = first.iter().map(|r| r.name.as_str()).collect();
    let registered: Vec<&str> = cadence_lab::experiments()
        .iter()
        .map(|e| e.name())
        .collect();
    assert_eq!(names, registered);
    assert_eq!(
        &names[..4],
        ["noise", "half-life", "gradient-flow", "restarts"]
    );
    assert!(names.contains(&"decay-speed") && names.contains(&"loss-prediction"));
    for r in &first {
        assert!(r.runs_executed > 0 && r.runs_reused == 0, "{}", r.name);
        assert!(
            !r.verdict.tests.is_empty(),
            "{}: verdict without a test",
            r.name
        );
        assert!(
            r.verdict
                .tests
                .iter()
                .all(|t| (0.0..=1.0).contains(&t.result.p_value)),
            "{}",
            r.name
        );
        assert!(!r.figures.is_empty() && !r.tables.is_empty(), "{}", r.name);
        assert!(r.seeds.len() >= 5, "{}", r.name);
    }
    for file in [
        "index.html",
        "report.md",
        "results.json",
        "plots/noise-1.svg",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(html.matches("<svg").count() >= 8, "plots are inlined");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no external assets"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let experiments = json["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), registered.len());
    for e in experiments {
        let outcome = e["verdict"]["outcome"].as_str().unwrap();
        assert!(["supported", "not_supported", "inconclusive"].contains(&outcome));
        assert!(e["wall_time_s"].as_f64().unwrap() > 0.0);
    }

    // A second run with the same configuration reads every run back.
    let second = run_selected(&config, Some("noise,restarts")).expect("lab reruns");
    for (r, before) in second.iter().zip([&first[0], &first[3]]) {
        assert_eq!(r.runs_executed, 0, "{} reran finished runs", r.name);
        assert_eq!(r.runs_reused, before.runs_executed);
        assert_eq!(
            r.tables, before.tables,
            "{}: same results from stored runs",
            r.name
        );
        assert_eq!(r.verdict.outcome, before.verdict.outcome);
        // The stored runs keep their time: the CPU cost is reported unchanged (same
        // numbers summed in the same order).
        assert!(before.run_time_s > 0.0);
        assert_eq!(r.run_time_s, before.run_time_s);
    }
}
