//! # cadence
//!
//! Learning-rate and other hyperparameter schedules as pure, random-access functions of
//! the optimizer step, with combinators that compose without surprises.
//!
//! - [`Schedule`]: `value(step) -> f64`, total, object safe, `Send + Sync`.
//! - Families: [`Constant`], [`Linear`], ... (see [`families`]).
//! - [`ScheduleSpec`]: one serialisable tree for any schedule.
//!
//! ```
//! use cadence::{Linear, Schedule};
//!
//! let lr = Linear::new(1e-3, 1e-5, 1_000)?;
//! let preview: Vec<f64> = (0..1_000).step_by(250).map(|t| lr.value(t)).collect();
//! assert_eq!(preview.len(), 4);
//! # Ok::<(), cadence::Error>(())
//! ```
//!
//! This crate depends on no ML framework; adapters live in their own crates.

mod error;
pub mod families;
mod schedule;
mod shape;
mod spec;
pub mod testing;
#[cfg(feature = "serde")]
pub mod text;

pub use error::Error;
pub use families::*;
pub use schedule::{FromFn, Schedule, finite_or_saturate, floor_step, from_fn};
pub use shape::Anneal;
pub use spec::ScheduleSpec;
