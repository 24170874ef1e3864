//! Every recorded peer trajectory in `tests/golden/` reproduced by cadence.
//!
//! Tolerance (the compatibility issue's acceptance, stated once for every case): relative
//! error 1e-9, or absolute 1e-12 near zero. optax cases compare to the float64 `lr`.

use std::path::Path;

use serde_json::Value;

const REL: f64 = 1e-9;
const ABS: f64 = 1e-12;

fn within(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= ABS || (actual - expected).abs() <= REL * expected.abs()
}

fn compare(name: &str, what: &str, actual: &[f64], expected: &[f64]) -> Option<String> {
    if actual.len() != expected.len() {
        return Some(format!("{name}: {what} has {} values, expected {}", actual.len(), expected.len()));
    }
    let bad: Vec<String> = actual
        .iter()
        .zip(expected)
        .enumerate()
        .filter(|(_, (a, e))| !within(**a, **e))
        .take(3)
        .map(|(i, (a, e))| format!("[{i}] got {a:e} expected {e:e}"))
        .collect();
    (!bad.is_empty()).then(|| format!("{name}: {what} off at {}", bad.join(", ")))
}

#[test]
fn every_golden_case_matches() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 88, "expected the 88 recorded cases, found {}", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let expected_lr: Vec<f64> = serde_json::from_value(case["lr"].clone()).unwrap();
        let expected_mom: Option<Vec<f64>> = serde_json::from_value(case["momentum"].clone()).unwrap();
        match cadence_compat::eval_case(&case) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(run) => {
                failures.extend(compare(&name, "lr", &run.lr, &expected_lr));
                match (&run.momentum, &expected_mom) {
                    (Some(a), Some(e)) => failures.extend(compare(&name, "momentum", a, e)),
                    (None, None) => {}
                    (a, e) => failures.push(format!(
                        "{name}: momentum {} but the recording has {}",
                        if a.is_some() { "produced" } else { "missing" },
                        if e.is_some() { "some" } else { "none" }
                    )),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
