//! The library half of the `cadence` command, reusable by the lab and other tools.
//!
//! - [`input`]: schedules from the text spec language or from TOML/JSON/text files.
//! - [`analysis`]: areas, half-lives, peaks, differences, phases and shapes of sampled
//!   schedules, and [`analysis::explain`] in words.
//! - [`plot`]: PNG and SVG plots with an embedded font (no system fonts needed).
//! - [`terminal`]: a braille preview for the terminal.
//!
//! ```
//! let lr = cadence_cli::input::from_text("linear(init=1e-3, end=0, steps=100)")?;
//! let values = cadence_cli::input::sample(&lr.spec, 100)?;
//! assert_eq!(cadence_cli::analysis::summary(&values).unwrap().half_life, Some(50));
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod analysis;
pub mod input;
pub mod plot;
pub mod terminal;
