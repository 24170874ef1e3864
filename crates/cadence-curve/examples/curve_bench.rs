//! Runs the published protocol on the bundled data and prints a table: the two published
//! laws as baselines, then this crate's power-area law with its fit settings chosen
//! leave-one-size-out (see `leave_one_size_out`):
//! `cargo run --release -p cadence-curve --example curve_bench`.

use std::path::Path;
use std::time::Instant;

use cadence_curve::{
    FitOptions, LawKind, Metrics, bench, leave_one_size_out, published_metrics, selection_grid,
};

fn row(size: &str, label: &str, m: &Metrics, extra: &str) {
    println!(
        "{size:>4}M {label:<12} R2 {:.5}  MAE {:.5}  RMSE {:.5}  PredE {:.5}  WorstE {:.5}  {extra}",
        m.r2, m.mae, m.rmse, m.prede, m.worste
    );
}

fn verdict(size: &str, m: &Metrics) -> &'static str {
    match published_metrics(size) {
        Some(p) if m.meets(&p) => "beats",
        Some(_) => "misses",
        None => "",
    }
}

fn main() -> Result<(), cadence_curve::Error> {
    let sizes = ["25", "100", "400"];
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/loss-curves");
    let start = Instant::now();
    for size in sizes {
        if let Some(p) = published_metrics(size) {
            row(size, "published", &p, "");
        }
        for law in [LawKind::MultiPower, LawKind::Annealing] {
            let t = Instant::now();
            let report = bench(&data.join(size), law, &FitOptions::default())?;
            let extra = format!(
                "{:<6} {:.1}s",
                verdict(size, &report.overall),
                t.elapsed().as_secs_f64()
            );
            row(size, law.name(), &report.overall, &extra);
        }
    }
    let t = Instant::now();
    let grid = selection_grid();
    let selections = leave_one_size_out(&data, &sizes, LawKind::PowerArea, &grid)?;
    println!(
        "power-area, settings chosen leave-one-size-out from {} candidates ({:.1}s):",
        grid.len(),
        t.elapsed().as_secs_f64()
    );
    for sel in &selections {
        let prior = sel.options.shape_prior.unwrap_or_default();
        let extra = format!(
            "{:<6} chosen #{} (C {}, beta = gamma {}, delta {:e}; margin on the others {:+.3})",
            verdict(&sel.size, &sel.report.overall),
            sel.chosen,
            prior.c,
            prior.beta,
            sel.options.huber_delta,
            sel.score
        );
        row(&sel.size, "power-area", &sel.report.overall, &extra);
    }
    println!("total {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}
