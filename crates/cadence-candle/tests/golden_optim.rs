//! Every case in `tests/data/golden-optim` reproduced within relative 1e-10 (f64).

use cadence_candle::golden::{max_relative_error, run_case};
use std::path::PathBuf;

/// The tolerance of every golden-optim case: PyTorch's kernels and ours differ only by
/// floating-point rounding (operation order, fused multiply-add) over 60 steps.
const REL_TOL: f64 = 1e-10;

fn cases() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-optim");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("golden-optim directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_golden_optim_case_matches() {
    let files = cases();
    assert!(
        files.len() >= 12,
        "expected the 12 recorded cases, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable case");
        let case: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match run_case(&case).and_then(|t| max_relative_error(&case, &t).map(|e| (t, e))) {
            Ok((t, err)) => {
                assert_eq!(
                    t.x_eval.is_some(),
                    case.get("x_eval").is_some(),
                    "{name}: x_eval presence"
                );
                println!("{name}: max relative error {err:.3e}");
                if err > REL_TOL {
                    failures.push(format!("{name}: {err:.3e}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "cases over {REL_TOL:e}: {failures:#?}");
}

#[test]
fn a_perturbed_trajectory_is_caught() {
    let path = &cases()[0];
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut t = run_case(&case).unwrap();
    t.x[10][2] *= 1.0 + 1e-8;
    assert!(max_relative_error(&case, &t).unwrap() > REL_TOL);
}

#[test]
fn bad_cases_name_the_field() {
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cases()[1]).unwrap()).unwrap();
    let mut missing = case.clone();
    missing["problem"].as_object_mut().unwrap().remove("b");
    assert!(
        run_case(&missing)
            .unwrap_err()
            .to_string()
            .contains("problem.b")
    );
    let mut short = case.clone();
    short["lr_per_step"] = serde_json::json!([0.1]);
    assert!(
        run_case(&short)
            .unwrap_err()
            .to_string()
            .contains("lr_per_step")
    );
    let mut betas = case.clone();
    betas["optimizer"] = serde_json::json!({"type": "Adam", "args": {"betas": [0.9]}});
    assert!(
        run_case(&betas)
            .unwrap_err()
            .to_string()
            .contains("optimizer.args.betas")
    );
    let mut kind = case;
    kind["optimizer"] = serde_json::json!({"type": "LBFGS", "args": {}});
    assert!(
        run_case(&kind)
            .unwrap_err()
            .to_string()
            .contains("optimizer.type")
    );
}
