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
//! One `value(step)` call costs nanoseconds, never allocates (`tests/no_alloc.rs` counts
//! heap allocations for every registered kind), and is 100 to 5000 times cheaper than a
//! Python scheduler's `step()` measured next to it on the same machine.
//!
//! **Side by side with PyTorch.** `tools/torch-ratio` in the repository alternates each
//! case with the same schedule in PyTorch 2.15 (`scheduler.step()` after one
//! `optimizer.step()`; timm 1.0's noise and tanh and transformers 5.24's inverse square
//! root and warmup-stable-decay where PyTorch has none; the `LambdaLR` a user would write
//! for families no library has), 11 rounds per case, and reports the median of the
//! rounds' ratios. Three runs on a 2-core virtual Xeon: PyTorch's `step()` took 2.2 to
//! 8.8 us (timm's noise 12 to 20 us), not the 2 us often quoted for faster machines.
//!
//! | case (PyTorch counterpart) | cadence ns | ratio, 3 runs |
//! |---|---|---|
//! | SGDR, period doubling (`CosineAnnealingWarmRestarts(T_mult=2)`), with / without peak decay and warmup | 28.4 / 30.6 | 104 – 154 / 118 – 155 |
//! | `exponential` (`ExponentialLR`) | 18.9 | 108 – 240 |
//! | `tanh` (timm `TanhLRScheduler`) | 16.9 | 146 – 186 |
//! | SGDR, equal periods (`CosineAnnealingWarmRestarts`) | 27.9 | 156 – 198 |
//! | `expr` lambdas (`LambdaLR` of the same lambda) | 13.6 – 22.5 | 130 – 419 |
//! | `piecewise_interpolate`, 16 cosine knots (`LambdaLR`) | 26.2 | 166 – 299 |
//! | `cosine` with k-decay (`LambdaLR`) | 21.3 | 192 – 261 |
//! | the depth-4 composite, `ScheduleSpec` (`SequentialLR` of a warmup and a cosine) | 17.9 | 228 – 291 |
//! | `cyclical` (`CyclicLR`, `triangular2`) | 20.8 | 266 – 306 |
//! | `one_cycle` (`OneCycleLR`, three phases) | 17.3 | 305 – 369 |
//! | `step`, `multi_step`, staircase `exponential`, `piecewise_constant` (`StepLR`, `MultiStepLR`) | 9.2 – 16.8 | 219 – 465 |
//! | `noise` over a constant / `one_cycle` / `cosine` (timm's noise) | 15.9 / 35.3 / 23.6 | 369 – 1165 |
//! | `cosine`, `polynomial`, `warmup_stable_decay`, `inverse_sqrt`, `swa_anneal`, `inverse_time`, `linear`, `constant` | 0.8 – 11.3 | 388 – 5004 |
//!
//! **Absolute numbers.** `cargo bench -p cadence --bench value` and `--bench recipes`
//! (criterion, `--warm-up-time 1 --measurement-time 2`). Each case evaluates at 2^16
//! precomputed steps walking over twice the schedule's horizon in strides of 7919, so short
//! cycles are hit at random and long ones in order; the loop itself costs about one load
//! (`constant`: 1.3 ns). The benches measure the thread's CPU time
//! (`benches/cpu_time.rs`); with `CADENCE_BENCH_CYCLES=1` they report core cycles, the
//! clock measured around every sample by a chain of dependent multiplications. This
//! machine's host moves the virtual CPU's clock (2.25 to 3.4 GHz measured within one
//! session) and shares its cores, so nanoseconds drift by up to 1.6x within an hour;
//! cycles drift less. Medians of three runs, rustc 1.95, with the range of the three where
//! it exceeds 2 ns:
//!
//! | case | ns | cycles |
//! |---|---|---|
//! | depth-4 composite (floor, warmup, join, decay), generic types / `ScheduleSpec` | 8.6 / 12.1 (10.6 – 19.9) | 19 / 46 |
//! | 100-piece join, generic / `ScheduleSpec` | 19.8 (15.9 – 21.0) / 23.5 (22.9 – 29.4) | 46 / 65 |
//! | `constant`, `linear`, `inverse_time`, `inverse_sqrt` | 1.3 – 6.0 | 4 – 15 |
//! | `cosine`, `swa_anneal`, `warmup_stable_decay`, `multi_step` (8), `piecewise_constant` (8), `polynomial`, `step` | 6.3 – 11.7 | 23 – 33 |
//! | `expr` (Python lambdas: warmup `min(1.0, (step + 1) / 1000)`, linear as a conditional, staircase `0.1 * 0.5 ** (step // 1000)`, `0.95 ** (epoch / 1000)`) | 13.2 – 18.5 | 34 – 54 |
//! | `exponential` (staircase / continuous), `tanh`, `cosine` with k-decay past its end, `one_cycle` | 14.3 – 18.3 | 32 – 54 |
//! | `cyclical` (PyTorch's `triangular2`) | 22.8 (18.3 – 23.4) | 56 |
//! | `piecewise_interpolate` (16 cosine knots) | 26.5 (20.7 – 26.8) | 58 |
//! | `cosine_restarts`: equal periods / doubling with peak decay and warmup | 23.0 (20.6 – 26.7) / 27.8 (20.8 – 29.9) | 46 / 65 |
//! | `noise` (timm's normal, std 1, clip 0.67) over a constant / over `one_cycle` | 12.9 (10.1 – 18.4) / 25.3 (23.1 – 37.3) | 30 / 81 |
//! | every combinator (warmup, join, scale, clamp, product, delay, repeat, restarts, per_epoch, on_fraction, accumulate) over `linear` | 2.8 – 14.3 | 8 – 35 |
//!
//! So against a flat 2 us, the four slowest cases (`cosine_restarts`, `piecewise_interpolate`
//! with 16 knots, `noise` over `one_cycle`, `cyclical`) are 70 – 90 times cheaper at this
//! machine's clock; against PyTorch on the same machine, every case is at least 100 times
//! cheaper.
//!
//! How: the hot paths avoid libm and division where they dominate. Integer powers by
//! square-and-multiply (exact powers of two from the exponent bits), real powers of a decay
//! factor as `exp(x ln r)` with `ln r` stored; `cos(pi f)` by a quarter-period polynomial;
//! `floor`, integer-float conversions without library calls or `cvtsi2sd`'s false
//! dependency; knot paths found by counting instead of a binary search; values derived
//! from the parameters once, at validation (a private `Derived`, never state: SGDR's cycle
//! table, found from the top bits of `1 + t (m - 1) / p0`, with each cycle's reciprocal
//! length, and equal periods' reciprocals; `ln(gamma)` of a cyclical amplitude; the noise
//! seed's stream). Noise draws are one 128-bit multiply each (counter-based wyrand) and
//! normal noise uses the ziggurat. `expr` compiles its expression at parse time into a flat
//! program (constant subexpressions folded, numbers and the variable fused into the
//! instructions). `tools/ab-bench` in the repository runs a change against a git revision
//! interleaved in one process and prints the ratio and the largest difference in values.
//! Tried and measured slower on this machine, so not used: a branch-free `cos(pi f)` (one
//! polynomial over the half period, or a 257-point table with the angle sum) and a
//! branch-free SGDR bucket search.

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
