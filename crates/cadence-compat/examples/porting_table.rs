//! Prints the porting guide's mapping table: for every recorded golden case, the peer
//! scheduler and the cadence spec (text form) that reproduces it.
//!
//! ```sh
//! cargo run -p cadence-compat --example porting_table > docs/porting-table.md
//! ```

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    println!("| case | peer | cadence (learning rate) | controller |");
    println!("|---|---|---|---|");
    for path in files {
        let case: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let source: cadence_compat::Source = case["source"].as_str().unwrap_or_default().parse()?;
        let config = &case["config"];
        let peer = config["scheduler"]
            .as_str()
            .or_else(|| config["schedule"].as_str())
            .unwrap_or("?");
        let ported = cadence_compat::port(source, config)?;
        let controller = match &ported.controller {
            Some(c) => format!("{:?}", c.rule).replace('|', "\\|"),
            None => String::new(),
        };
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        println!(
            "| `{name}` | {} `{peer}` | `{}` | {controller} |",
            case["source"].as_str().unwrap_or_default(),
            cadence::text::to_text(&ported.lr).replace('|', "\\|"),
        );
    }
    Ok(())
}
