//! # cadence-candle
//!
//! cadence schedules on [candle](https://github.com/huggingface/candle): a deterministic
//! training harness for small models.
//!
//! - [`data`]: the digits data set, seeded splits, scaling, a batching iterator with
//!   seeded per-epoch shuffling.
//! - [`model`]: seeded MLPs (any depth) and a small CNN for 8x8 images.
//! - [`init`]: seeded initialisation (candle's CPU generator cannot be seeded).
//! - [`train`]: the training loop with per-step learning rates from any
//!   [`cadence::Schedule`], CSV/JSONL logs, progress bars, early stopping, divergence
//!   detection, and checkpoints that resume bit-identically.
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

pub mod data;
pub mod init;
pub mod model;
pub mod train;

pub use train::TrainError;
