//! Drive [candle-optimisers](https://crates.io/crates/candle-optimisers)' hyperparameters
//! from cadence schedules (feature `candle-optimisers`).
//!
//! candle-optimisers 0.10 depends on candle 0.10, so its optimizers take candle 0.10
//! variables and gradients; this module re-exports that candle as [`candle010`] (core)
//! and [`candle_nn010`] (for its `Optimizer` trait), and the crate as
//! [`candle_optimisers`]. [`Scheduled`] wraps any optimizer that implements
//! `candle_optimisers::OptimParams` and, before every step, writes the values of your
//! schedules at the wrapper's step count into the optimizer's config through
//! `set_params`.
//!
//! ## Why a feature
//!
//! The two candles are separate crates to Cargo: enabling the feature compiles candle
//! 0.10 beside the 0.11 the rest of this crate uses (a minute or more of build time), and
//! tensors do not pass between them. The default build therefore does not depend on it.
//! Enable it with
//!
//! ```toml
//! cadence-candle = { version = "0.1", features = ["candle-optimisers"] }
//! ```
//!
//! or `cargo test -p cadence-candle --features candle-optimisers`; the
//! `step` benchmark compares its AdamW with cadence's.

pub use candle_core_010 as candle010;
pub use candle_nn_010 as candle_nn010;
pub use candle_optimisers;

use candle_optimisers::OptimParams;
use std::fmt;

/// A candle-optimisers optimizer whose config is rewritten from schedules before each
/// step.
///
/// `set(config, step)` receives the optimizer's current config and the 0-based step of
/// the update about to happen; it assigns whichever fields should follow schedules.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, Schedule};
/// use cadence_candle::interop::{Scheduled, candle010, candle_nn010, candle_optimisers};
/// use candle_optimisers::OptimParams;
/// use candle_optimisers::adam::{Adam, ParamsAdam};
/// use candle_nn010::Optimizer;
///
/// let x = candle010::Var::new(&[1.0_f64, -1.0], &candle010::Device::Cpu)?;
/// let adam = Adam::new(vec![x.clone()], ParamsAdam::default())?;
/// let lr = Linear::new(0.1, 0.0, 10)?;
/// let mut opt = Scheduled::new(adam, move |c: &mut ParamsAdam, t| c.lr = lr.value(t));
/// for _ in 0..3 {
///     let loss = x.as_tensor().sqr()?.sum_all()?;
///     opt.step(&loss.backward()?)?;
/// }
/// assert_eq!(opt.step_count(), 3);
/// assert!((opt.inner().params().lr - 0.08).abs() < 1e-12); // the lr of the last step (t = 2)
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Scheduled<O: OptimParams> {
    inner: O,
    step: u64,
    set: ConfigSetter<O>,
}

/// What a [`Scheduled`] calls before each step: writes the hyperparameters of step `t`
/// into the wrapped optimizer's config.
type ConfigSetter<O> = Box<dyn Fn(&mut <O as candle_nn_010::Optimizer>::Config, u64) + Send + Sync>;

impl<O: OptimParams + fmt::Debug> fmt::Debug for Scheduled<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduled")
            .field("inner", &self.inner)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<O> Scheduled<O>
where
    O: OptimParams,
    O::Config: Clone,
{
    /// Wraps `inner`; `set` assigns the scheduled fields of its config at each step.
    ///
    /// # Examples
    ///
    /// See [`Scheduled`].
    pub fn new(inner: O, set: impl Fn(&mut O::Config, u64) + Send + Sync + 'static) -> Self {
        Scheduled {
            inner,
            step: 0,
            set: Box::new(set),
        }
    }

    /// Resumes at `step` (e.g. after loading a checkpoint).
    ///
    /// # Examples
    ///
    /// See [`Scheduled`]; `Scheduled::new(adam, set).starting_at(1000)`.
    pub fn starting_at(mut self, step: u64) -> Self {
        self.step = step;
        self
    }

    /// Sets the scheduled values for the current step, then steps the optimizer.
    ///
    /// # Errors
    ///
    /// Whatever the wrapped optimizer's `step` returns; the step count then does not
    /// advance.
    ///
    /// # Examples
    ///
    /// See [`Scheduled`].
    pub fn step(&mut self, grads: &candle010::backprop::GradStore) -> candle010::Result<()> {
        let mut config = self.inner.params().clone();
        (self.set)(&mut config, self.step);
        self.inner.set_params(config);
        self.inner.step(grads)?;
        self.step += 1;
        Ok(())
    }

    /// The number of steps taken.
    ///
    /// # Examples
    ///
    /// See [`Scheduled`].
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The wrapped optimizer.
    ///
    /// # Examples
    ///
    /// See [`Scheduled`].
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// Unwraps the optimizer.
    ///
    /// # Examples
    ///
    /// See [`Scheduled`].
    pub fn into_inner(self) -> O {
        self.inner
    }
}
