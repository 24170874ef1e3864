//! # cadence-candle
//!
//! Optimizers for [candle](https://github.com/huggingface/candle) whose every
//! hyperparameter follows a [`cadence::Schedule`], with PyTorch's exact update rules,
//! parameter groups, fused in-place CPU kernels and exact checkpoints; and a deterministic
//! training harness for small models.
//!
//! - [`ScheduledOptimizer`] implements [`candle_nn::Optimizer`]; pick the rule with an
//!   [`Algorithm`] built from [`SgdConfig`], [`AdamConfig`], [`RmsPropConfig`],
//!   [`AdagradConfig`] or [`ScheduleFreeConfig`].
//! - [`ParamGroup`]: variables with their own lr schedule, LR multiplier, weight decay and
//!   [`GroupMode`] (frozen groups take no update and keep no state).
//! - [`groups_from_plan`] / [`groups_from_varmap`]: the groups of a core
//!   [`cadence::GroupPlan`] (multipliers, layer-wise decay, own schedules, gradual
//!   unfreezing) over named variables or a [`candle_nn::VarMap`].
//! - [`golden::run_case`]: runs an optimizer on a quadratic test problem in the
//!   `golden-optim` format (used by `cadence compat optim`).
//!
//! ```
//! use cadence::Linear;
//! use cadence_candle::{AdamConfig, ScheduledOptimizer};
//! use candle_core::{Device, Var};
//! use candle_nn::Optimizer;
//!
//! let w = Var::from_vec(vec![1.0_f32, -1.0, 0.5], 3, &Device::Cpu)?;
//! let lr = Linear::new(1e-2, 1e-3, 100)?; // any cadence schedule
//! let mut opt = ScheduledOptimizer::new(vec![w.clone()], AdamConfig::adamw(lr).betas(0.9, 0.95).into())?;
//! for _ in 0..10 {
//!     let loss = w.as_tensor().sqr()?.sum_all()?;
//!     opt.backward_step(&loss)?;
//! }
//! assert_eq!(opt.step_count(), 10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Performance
//!
//! Each step makes one pass over each variable's buffer (two with a LARS/LAMB trust
//! ratio), updating the variable's CPU storage in place through candle's
//! [`candle_core::InplaceOp2`] (no allocation, no temporary tensors, no `unsafe`).
//! Buffers of 2^17 elements or more are split into chunks of 2^14 elements and run on
//! rayon's pool (`RAYON_NUM_THREADS`). Reductions (trust-ratio norms) sum per chunk in a
//! fixed order, so results do not depend on the thread count.
//!
//! The inner loops take every flag of the update as a const parameter, so each loop body is
//! branch-free and vectorises (f32 and f64).
//!
//! Measured with `benches/step.rs` (the candle-optimisers row with feature
//! `candle-optimisers` on; 1- and 2-thread rayon pools in one run) on the 2-core machine with
//! nothing else running. f32; GB/s counts the minimum bytes moved, 28 per element for
//! AdamW, 20 for SGD-momentum. PyTorch's fused CPU AdamW does 30-39 GB/s on this machine.
//!
//! | step | 1 thread | 2 threads |
//! |---|---|---|
//! | cadence AdamW, 10M | 14.9 ms (18.7 GB/s) | 8.2 ms (34.1 GB/s) |
//! | cadence AdamW, 100M | 138 ms (20.4 GB/s) | 83 ms (33.6 GB/s) |
//! | cadence SGD-momentum, 10M | 11.6 ms (17.2 GB/s) | 6.1 ms (32.8 GB/s) |
//! | cadence SGD-momentum, 100M | 110 ms (18.2 GB/s) | 63 ms (31.9 GB/s) |
//! | candle-optimisers 0.10 AdamW, 10M | 566 ms (0.49 GB/s) | 491 ms (0.57 GB/s) |
//! | candle-optimisers 0.10 AdamW, 100M | 5.42 s (0.52 GB/s) | not run |
//!
//! candle-nn's own AdamW on the same tensors measured 0.2-0.3 GB/s (on the machine while
//! it was busy, beside cadence's AdamW at 10-13 GB/s in the same run: 26-41x slower).
//!
//! ## Training
//!
//! - [`data`]: the digits data set, seeded splits, scaling, a batching iterator with
//!   seeded per-epoch shuffling.
//! - [`model`]: seeded MLPs (any depth) and a small CNN for 8x8 images.
//! - [`init`]: seeded initialisation (candle's CPU generator cannot be seeded).
//! - [`train`]: the training loop with per-step learning rates from any
//!   [`cadence::Schedule`], CSV/JSONL logs, progress bars, early stopping, divergence
//!   detection, and checkpoints that resume bit-identically.
//! - [`lr_finder`]: the learning-rate range test (suggestions, warnings, exact restore).
//! - [`curvature`]: the largest Hessian eigenvalue, `2 / lambda_max`, `2 / (L + mu)`,
//!   and a callback that tracks sharpness against `2 / lr`.
//!
//! ```
//! use std::sync::Arc;
//! use cadence::Linear;
//! use cadence_candle::data::{Scaling, digits_split};
//! use cadence_candle::model::{Mlp, MlpConfig, Model};
//! use cadence_candle::train::{Progress, TrainConfig, Trainer, single_threaded};
//! use candle_core::Device;
//! use candle_nn::{Optimizer, SGD};
//!
//! let (train, test) = digits_split(Scaling::Standardize)?;
//! let report = single_threaded(|| {
//!     let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
//!     let config = TrainConfig::new(2, 64)?.with_progress(Progress::Hidden);
//!     Trainer::new(&model, SGD::new(model.vars(), 0.0)?, &train, config)?
//!         .with_validation(&test)
//!         .with_schedule(Arc::new(Linear::new(0.2, 0.02, 46)?))
//!         .run()
//! })??;
//! assert!(report.history.last_eval().and_then(|e| e.val_accuracy) > Some(0.85));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod adagrad;
mod adam;
pub mod curvature;
pub mod data;
mod error;
pub mod golden;
mod group;
mod hyper;
pub mod init;
#[cfg(feature = "candle-optimisers")]
pub mod interop;
mod kernel;
pub mod lr_finder;
pub mod model;
mod optimizer;
mod plan;
mod rmsprop;
mod schedule_free;
mod sgd;
pub mod train;

pub use adagrad::AdagradConfig;
pub use adam::{AdamConfig, SecondMoment};
pub use error::Error;
pub use group::{GroupMode, ParamGroup};
pub use hyper::{Hyper, TrustRatio, WeightDecay};
pub use optimizer::{Algorithm, ScheduledOptimizer};
pub use plan::{groups_from_plan, groups_from_varmap};
pub use rmsprop::{Centering, RmsPropConfig};
pub use schedule_free::{Mode, ScheduleFreeBase, ScheduleFreeConfig};
pub use sgd::{MomentumKind, SgdConfig};
pub use train::TrainError;
