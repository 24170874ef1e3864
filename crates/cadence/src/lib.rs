//! # cadence
//!
//! Learning-rate and other hyperparameter schedules as pure, random-access functions of
//! the optimizer step, with combinators that compose without surprises.
//!
//! - [`Schedule`]: `value(step) -> f64`, total, object safe, `Send + Sync`.
//! - Families: [`Constant`], [`Linear`], ... (see [`families`]).
//! - Combinators: [`Warmup`], [`Join`], [`Restarts`], [`PerEpoch`], ... (see [`combinators`]).
//! - [`ScheduleSpec`]: one serialisable tree for any schedule.
//! - [`analysis`]: half-life, areas `S1`/`S2`, summaries, allocation-free sampling.
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
//! Combinators build schedules from schedules (see [`combinators`]); [`ScheduleExt`] adds
//! them as chainable methods:
//!
//! ```
//! use cadence::{Anneal, Linear, Schedule, ScheduleExt};
//!
//! // Linear warmup over 100 steps, then 1e-3 -> 1e-5 over 900 steps, never below 1e-5.
//! let lr = Linear::new(1e-3, 1e-5, 900)?.warmup(Anneal::Linear, 100, 0.0)?.floor(1e-5)?;
//! assert_eq!(lr.value(100), 1e-3);
//! assert_eq!(lr.value(5_000), 1e-5);
//! # Ok::<(), cadence::Error>(())
//! ```
//!
//! This crate depends on no ML framework; adapters live in their own crates.
//!
//! # Performance
//!
//! One `value(step)` call, measured with `cargo bench -p cadence --bench value` and
//! `--bench recipes` (criterion, `--warm-up-time 1 --measurement-time 2`; steps walk over
//! twice each schedule's horizon in strides of 7919, so short cycles are hit at random
//! and long ones in order) on a 2-core virtual Intel Xeon, rustc 1.95. The benches
//! measure the thread's CPU time (`benches/cpu_time.rs`), which shields them from other
//! processes but not from the virtual machine's neighbours: on this machine the same
//! binary's numbers drift by up to 1.6x over an hour. The table gives the median of three
//! consecutive runs of the current code (the spread of the three in parentheses where it
//! exceeds 2 ns); the ~3.7 ns of `constant` is the harness's own cost. Evaluation never
//! allocates (`tests/no_alloc.rs` counts heap allocations for every registered kind). A
//! PyTorch scheduler `step()` costs about 2 us.
//!
//! | case | ns / value |
//! |---|---|
//! | depth-4 composite (floor, warmup, join, decay), generic types / `ScheduleSpec` | 6.8 / 14.7 |
//! | 100-piece join, generic / `ScheduleSpec` | 22.2 / 21.5 (17 – 25) |
//! | `constant`, `linear`, `inverse_time`, `inverse_sqrt`, `warmup_stable_decay` | 3.7 – 6.0 |
//! | `polynomial`, `multi_step` (8), `piecewise_constant` (8), `cosine`, `swa_anneal` | 5.9 – 9.9 |
//! | `expr` (a Python lambda: warmup `min(1.0, (step + 1) / 1000)`, linear as a conditional, `0.95 ** (epoch / 1000)`, staircase `0.1 * 0.5 ** (step // 1000)`) | 9.1 – 14.0 |
//! | `exponential` (staircase), `step`, `one_cycle` | 11.0 – 12.3 |
//! | `cosine` with k-decay past its end, `tanh`, `exponential` (continuous), `piecewise_interpolate` (16 knots) | 17.2 – 19.8 |
//! | `cyclical` (amplitude halving every cycle, PyTorch's `triangular2`) | 20.6 (20 – 29) |
//! | `cosine_restarts`: period multiplier 2 with peak decay and warmup / equal periods | 22.6 / 23.1 (21 – 29) |
//! | `noise` (timm's normal, std 1, clip 0.67) over a constant / over `one_cycle` | 16.4 / 26.4 (12 – 37) |
//! | every combinator (warmup, join, scale, clamp, product, delay, repeat, restarts, per_epoch, on_fraction, accumulate) over `linear` | 4.3 – 9.7 |
//!
//! In a quieter hour, before the last changes to it, `cosine_restarts` measured 17.4 ns
//! (both cases), `noise` over `one_cycle` 20.7, `cyclical` 17.8. Against the code at the
//! start of this work, interleaved in one process so that the drift cancels
//! (`tools/ab-bench/run.sh REV` in the repository), the ratios
//! are: `cosine_restarts` 0.33 - 0.36, `noise` over `one_cycle` 0.5 (wide normal noise
//! 0.3), `expr` 0.33, `cyclical` 0.65, `step` 0.6, `exponential` and k-decay `cosine` 0.8,
//! `one_cycle` and `piecewise_interpolate` 0.85.
//!
//! How: the hot paths avoid libm and division where they dominate. Integer powers by
//! square-and-multiply (exact powers of two from the exponent bits), real powers of a decay
//! factor as `exp(x ln r)` with `ln r` stored; `cos(pi f)` by a quarter-period polynomial;
//! `floor`, integer-float conversions without library calls or `cvtsi2sd`'s false
//! dependency; knot paths found by counting instead of a binary search; values derived
//! from the parameters once, at validation (a private `Derived`, never state: SGDR's cycle
//! table, found from the top bits of `1 + t (m - 1) / p0`, with each cycle's reciprocal
//! length; `ln(gamma)` of a cyclical amplitude; the noise seed's stream). Noise draws are
//! one 128-bit multiply each (counter-based wyrand) and normal noise uses the ziggurat.
//! `expr` compiles its expression at parse time into a flat program (constant
//! subexpressions folded, numbers and the variable fused into the instructions; walking
//! the tree cost 27 – 46 ns for the same four lambdas).

pub mod analysis;
pub mod combinators;
pub mod controllers;
pub mod coupling;
mod derived;
mod error;
pub mod families;
mod fastmath;
mod fingerprint;
pub mod groups;
pub mod hparams;
pub mod runtime;
mod schedule;
mod shape;
mod spec;
pub mod testing;
#[cfg(feature = "serde")]
pub mod text;

pub use analysis::{Summary, annealing_area, area, fill, half_life, summary};
pub use combinators::*;
pub use error::Error;
pub use families::*;
pub use schedule::{FromFn, Schedule, finite_or_saturate, floor_step, from_fn};
pub use shape::Anneal;
pub use spec::ScheduleSpec;

pub use controllers::{Controller, Decision, Observation};
pub use groups::{Group, GroupPlan};
pub use hparams::{HyperParams, Values};
pub use runtime::{Runtime, RuntimeState};
