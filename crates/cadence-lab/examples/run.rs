//! Runs the lab without the CLI: `cargo run --release -p cadence-lab --example run -- OUT [quick|full] [FILTER]`.

use cadence_lab::{Size, run_all};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().map_or("lab-report", String::as_str);
    let size = match args.get(1).map(String::as_str) {
        Some("quick") => Size::Quick,
        _ => Size::Full,
    };
    let reports = run_all(out.as_ref(), size, args.get(2).map(String::as_str))?;
    for r in &reports {
        println!(
            "{:14} {:14} {:6.1} s  ({} runs, {} reused)  {}",
            r.name,
            r.verdict.outcome.label(),
            r.wall_time_s,
            r.runs_executed,
            r.runs_reused,
            r.verdict.explanation
        );
    }
    Ok(())
}
