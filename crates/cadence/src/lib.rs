//! # cadence
//!
//! Learning-rate and other hyperparameter schedules as pure, random-access functions of
//! the optimizer step, with combinators that compose without surprises.
//!
//! - [`Schedule`]: `value(step) -> f64`, total, object safe, `Send + Sync`.
//! - Families: [`Constant`], [`Linear`], ... (see [`families`]).
//! - [`ScheduleSpec`]: one serialisable tree for any schedule.
//! - [`controllers`]: metric-driven, stateful rules ([`ReduceOnPlateau`](controllers::ReduceOnPlateau),
//!   early stopping, a divergence guard, greedy) whose output is a multiplicative scale on
//!   any schedule, with explicit serialisable state.
//! - [`HyperParams`]: named schedules (lr, momentum, betas, weight decay, temperatures...)
//!   evaluated together per step.
//! - [`GroupPlan`]: per-group LR multipliers or schedules, discriminative rates and gradual
//!   unfreezing, for any step without replay.
//! - [`Runtime`]: the training-loop object (step counter, skipped steps, gradient
//!   accumulation, controllers, groups) with versioned, validated [`RuntimeState`].
//! - [`coupling`]: the alignment index of two schedules and the LR drop that matches an
//!   exponentially decaying temperature.
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

pub mod controllers;
pub mod coupling;
mod error;
pub mod families;
mod fingerprint;
pub mod groups;
pub mod hparams;
pub mod runtime;
mod schedule;
mod shape;
mod spec;
pub mod testing;

pub use error::Error;
pub use families::*;
pub use schedule::{FromFn, Schedule, finite_or_saturate, floor_step, from_fn};
pub use shape::Anneal;
pub use spec::ScheduleSpec;

pub use controllers::{Controller, Decision, Observation};
pub use groups::{Group, GroupPlan};
pub use hparams::{HyperParams, Values};
pub use runtime::{Runtime, RuntimeState};
