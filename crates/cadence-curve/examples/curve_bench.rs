//! Runs the published protocol on the bundled data with every law and prints a table:
//! `cargo run --release -p cadence-curve --example curve_bench [SIZE...]`.

use std::path::Path;
use std::time::Instant;

use cadence_curve::{FitOptions, LawKind, Metrics, bench, published_metrics};

fn row(size: &str, label: &str, m: &Metrics, extra: &str) {
    println!(
        "{size:>4}M {label:<12} R2 {:.5}  MAE {:.5}  RMSE {:.5}  PredE {:.5}  WorstE {:.5}  {extra}",
        m.r2, m.mae, m.rmse, m.prede, m.worste
    );
}

fn main() -> Result<(), cadence_curve::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<&str> = if args.is_empty() {
        vec!["25", "100", "400"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/loss-curves");
    let start = Instant::now();
    for size in sizes {
        if let Some(p) = published_metrics(size) {
            row(size, "published", &p, "");
        }
        for law in LawKind::ALL {
            let t = Instant::now();
            let report = bench(&data.join(size), law, &FitOptions::default())?;
            let verdict = published_metrics(size)
                .map(|p| {
                    if report.overall.meets(&p) {
                        "beats"
                    } else {
                        "misses"
                    }
                })
                .unwrap_or("");
            let extra = format!("{verdict:<6} {:.1}s", t.elapsed().as_secs_f64());
            row(size, law.name(), &report.overall, &extra);
        }
    }
    println!("total {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}
