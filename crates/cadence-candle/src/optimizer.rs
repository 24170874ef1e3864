//! [`ScheduledOptimizer`]: groups, step counting, fused in-place updates, checkpoints.

use crate::adagrad::AdagradConfig;
use crate::adam::AdamConfig;
use crate::error::to_candle;
use crate::hyper::{Hyper, hyper};
use crate::kernel::{Float, Kernel, State};
use crate::rmsprop::RmsPropConfig;
use crate::schedule_free::{Averaging, Interpolate, Mode, ScheduleFreeConfig};
use crate::sgd::SgdConfig;
use crate::{Error, ParamGroup};
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Device, InplaceOp1, InplaceOp2, Layout, Tensor, Var};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// The update rule of a [`ScheduledOptimizer`] and its scheduled hyperparameters.
///
/// Build one from a config with `.into()`.
///
/// # Examples
///
/// ```
/// use cadence_candle::{AdamConfig, Algorithm};
///
/// let a: Algorithm = AdamConfig::adamw(1e-3).into();
/// assert_eq!(a.name(), "adam");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Algorithm {
    /// SGD with momentum, dampening, Nesterov and LARS options.
    Sgd(SgdConfig),
    /// Adam / AdamW with AMSGrad and LAMB options.
    Adam(AdamConfig),
    /// RMSprop, optionally centered and with momentum.
    RmsProp(RmsPropConfig),
    /// Adagrad.
    Adagrad(AdagradConfig),
    /// Schedule-free SGD or AdamW.
    ScheduleFree(ScheduleFreeConfig),
}

impl Algorithm {
    /// A short lowercase name: `sgd`, `adam`, `rmsprop`, `adagrad`, `schedule_free`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{Algorithm, SgdConfig};
    /// assert_eq!(Algorithm::from(SgdConfig::new(0.1)).name(), "sgd");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Sgd(_) => "sgd",
            Algorithm::Adam(_) => "adam",
            Algorithm::RmsProp(_) => "rmsprop",
            Algorithm::Adagrad(_) => "adagrad",
            Algorithm::ScheduleFree(_) => "schedule_free",
        }
    }

    /// The names of the per-variable state buffers, in storage order.
    fn buffer_names(&self) -> &'static [&'static str] {
        match self {
            Algorithm::Sgd(_) => &["momentum_buffer"],
            Algorithm::Adam(_) => &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
            Algorithm::RmsProp(_) => &["square_avg", "momentum_buffer", "grad_avg"],
            Algorithm::Adagrad(_) => &["sum"],
            Algorithm::ScheduleFree(_) => &["z", "exp_avg_sq"],
        }
    }

    fn lr(&self) -> &Hyper {
        match self {
            Algorithm::Sgd(c) => &c.lr,
            Algorithm::Adam(c) => &c.lr,
            Algorithm::RmsProp(c) => &c.lr,
            Algorithm::Adagrad(c) => &c.lr,
            Algorithm::ScheduleFree(c) => &c.lr,
        }
    }

    fn set_lr(&mut self, lr: Hyper) {
        match self {
            Algorithm::Sgd(c) => c.set_lr(lr),
            Algorithm::Adam(c) => c.set_lr(lr),
            Algorithm::RmsProp(c) => c.set_lr(lr),
            Algorithm::Adagrad(c) => c.set_lr(lr),
            Algorithm::ScheduleFree(c) => c.set_lr(lr),
        }
    }
}

macro_rules! from_config {
    ($($config:ident => $variant:ident),* $(,)?) => {$(
        impl From<$config> for Algorithm {
            fn from(c: $config) -> Self {
                Algorithm::$variant(c)
            }
        }
    )*};
}

from_config! {
    SgdConfig => Sgd,
    AdamConfig => Adam,
    RmsPropConfig => RmsProp,
    AdagradConfig => Adagrad,
    ScheduleFreeConfig => ScheduleFree,
}

/// A variable's optimizer state, typed by the variable's dtype.
#[derive(Clone, Default, PartialEq)]
enum Slot {
    #[default]
    Empty,
    F32(State<f32>),
    F64(State<f64>),
}

/// Access to the slot variant of an element type.
trait SlotOf: Float {
    fn slot(slot: &mut Slot) -> Option<&mut State<Self>>;
}

impl SlotOf for f32 {
    fn slot(slot: &mut Slot) -> Option<&mut State<f32>> {
        if matches!(slot, Slot::Empty) {
            *slot = Slot::F32(State::default());
        }
        match slot {
            Slot::F32(s) => Some(s),
            _ => None,
        }
    }
}

impl SlotOf for f64 {
    fn slot(slot: &mut Slot) -> Option<&mut State<f64>> {
        if matches!(slot, Slot::Empty) {
            *slot = Slot::F64(State::default());
        }
        match slot {
            Slot::F64(s) => Some(s),
            _ => None,
        }
    }
}

/// The contiguous element range of a CPU buffer.
fn range(layout: &Layout) -> candle_core::Result<std::ops::Range<usize>> {
    layout
        .contiguous_offsets()
        .map(|(a, b)| a..b)
        .ok_or_else(|| candle_core::Error::Msg("cadence-candle: buffer is not contiguous".into()))
}

fn slot_mismatch() -> candle_core::Error {
    candle_core::Error::Msg("cadence-candle: state dtype differs from the variable's".into())
}

/// The fused update as a candle in-place op: candle hands us the variable's storage
/// mutably (under its write lock) and the gradient's immutably.
struct Fused<'a, K> {
    kernel: &'a K,
    slot: RefCell<&'a mut Slot>,
}

impl<K: Kernel> Fused<'_, K> {
    fn run<T: SlotOf>(&self, p: &mut [T], g: &[T]) -> candle_core::Result<()> {
        let mut slot = self.slot.borrow_mut();
        let st = T::slot(&mut slot).ok_or_else(slot_mismatch)?;
        self.kernel.update(p, g, st);
        Ok(())
    }
}

impl<K: Kernel> InplaceOp2 for Fused<'_, K> {
    fn name(&self) -> &'static str {
        "cadence-fused-update"
    }

    fn cpu_fwd(
        &self,
        p: &mut CpuStorage,
        pl: &Layout,
        g: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<()> {
        let (pr, gr) = (range(pl)?, range(gl)?);
        match (p, g) {
            (CpuStorage::F32(p), CpuStorage::F32(g)) => self.run(&mut p[pr], &g[gr]),
            (CpuStorage::F64(p), CpuStorage::F64(g)) => self.run(&mut p[pr], &g[gr]),
            _ => Err(candle_core::Error::Msg(
                "cadence-candle: variable and gradient must both be f32 or both f64".into(),
            )),
        }
    }
}

/// The schedule-free `y <-> x` switch as a candle in-place op.
struct Switch<'a> {
    interpolate: Interpolate,
    slot: RefCell<&'a mut Slot>,
}

impl InplaceOp1 for Switch<'_> {
    fn name(&self) -> &'static str {
        "cadence-schedule-free-switch"
    }

    fn cpu_fwd(&self, p: &mut CpuStorage, pl: &Layout) -> candle_core::Result<()> {
        let r = range(pl)?;
        let mut slot = self.slot.borrow_mut();
        match (p, &mut **slot) {
            (CpuStorage::F32(p), Slot::F32(st)) => self.interpolate.apply(&mut p[r], st),
            (CpuStorage::F64(p), Slot::F64(st)) => self.interpolate.apply(&mut p[r], st),
            _ => return Err(slot_mismatch()),
        }
        Ok(())
    }
}

/// An optimizer whose every hyperparameter follows a [`cadence::Schedule`], over
/// parameter groups, with PyTorch's update rules and fused in-place CPU kernels.
///
/// - Implements [`candle_nn::Optimizer`] (`Config = Algorithm`), so it replaces
///   candle-nn's `SGD`/`AdamW` in existing code; [`ScheduledOptimizer::with_groups`]
///   takes [`ParamGroup`]s.
/// - Hyperparameters are evaluated at the optimizer's own step count
///   ([`ScheduledOptimizer::step_count`], 0 for the first update), so resuming is one
///   integer and no scheduler object has to be stepped beside the optimizer.
/// - Each step makes one pass over each variable's buffer (two with a trust ratio), in
///   place, chunked and run on rayon's pool for buffers of 2^17 elements or more. Only
///   f32 and f64 variables on the CPU are supported.
/// - Frozen groups take no update and keep no state. Variables without a gradient in the
///   [`GradStore`] are skipped (their state does not advance), as in PyTorch.
/// - The state saves to and restores from safetensors exactly
///   ([`ScheduledOptimizer::save_state`]).
///
/// # Errors
///
/// Construction fails with [`Error::UnsupportedDType`] or [`Error::UnsupportedDevice`]
/// naming the variable; a step fails if a hyperparameter leaves its domain
/// ([`Error::InvalidHyperparameter`]) or a gradient does not match its variable.
///
/// # Examples
///
/// ```
/// use cadence::Linear;
/// use cadence_candle::{AdamConfig, ParamGroup, ScheduledOptimizer};
/// use candle_core::{DType, Device, Var};
/// use candle_nn::Optimizer;
///
/// let w = Var::from_vec(vec![0.5_f32; 8], (2, 4), &Device::Cpu)?;
/// let b = Var::zeros(4, DType::F32, &Device::Cpu)?;
/// let lr = Linear::new(1e-2, 0.0, 100)?;
/// let mut opt = ScheduledOptimizer::with_groups(
///     vec![ParamGroup::new(vec![w.clone()]), ParamGroup::new(vec![b]).with_weight_decay(0.0)],
///     AdamConfig::adamw(lr),
/// )?;
/// assert_eq!(opt.learning_rates(), vec![1e-2, 1e-2]);
/// let loss = w.as_tensor().sqr()?.sum_all()?;
/// opt.backward_step(&loss)?;
/// assert_eq!(opt.step_count(), 1);
/// assert!((opt.learning_rate() - 0.0099).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Cloning copies the configuration and the state (moments, step count) and shares the
/// variables: the clone continues exactly where the original stands (the learning-rate
/// range test trains a clone).
#[derive(Clone)]
pub struct ScheduledOptimizer {
    algorithm: Algorithm,
    groups: Vec<ParamGroup>,
    step: u64,
    slots: Vec<Vec<Slot>>,
    averaging: Vec<Averaging>,
    mode: Mode,
}

impl fmt::Debug for ScheduledOptimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScheduledOptimizer")
            .field("algorithm", &self.algorithm)
            .field("groups", &self.groups.len())
            .field("step", &self.step)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ScheduledOptimizer {
    /// An optimizer over parameter groups.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedDType`] for a variable that is not f32/f64,
    /// [`Error::UnsupportedDevice`] for one not on the CPU.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{GroupMode, ParamGroup, ScheduledOptimizer, SgdConfig};
    /// use candle_core::{DType, Device, Var};
    ///
    /// let frozen = ParamGroup::new(vec![Var::zeros(3, DType::F32, &Device::Cpu)?])
    ///     .with_mode(GroupMode::Frozen);
    /// let opt = ScheduledOptimizer::with_groups(vec![frozen], SgdConfig::new(0.1))?;
    /// assert_eq!(opt.groups().len(), 1);
    ///
    /// let ints = ParamGroup::new(vec![Var::zeros(3, DType::U32, &Device::Cpu)?]);
    /// assert!(ScheduledOptimizer::with_groups(vec![ints], SgdConfig::new(0.1)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_groups(
        groups: Vec<ParamGroup>,
        algorithm: impl Into<Algorithm>,
    ) -> Result<Self, Error> {
        for (group, g) in groups.iter().enumerate() {
            for (index, var) in g.vars().iter().enumerate() {
                if !matches!(var.dtype(), DType::F32 | DType::F64) {
                    return Err(Error::UnsupportedDType {
                        group,
                        index,
                        dtype: format!("{:?}", var.dtype()),
                    });
                }
                if !var.device().is_cpu() {
                    return Err(Error::UnsupportedDevice {
                        group,
                        index,
                        device: format!("{:?}", var.device().location()),
                    });
                }
            }
        }
        let slots = groups
            .iter()
            .map(|g| vec![Slot::Empty; g.vars().len()])
            .collect();
        let averaging = vec![Averaging::default(); groups.len()];
        Ok(ScheduledOptimizer {
            algorithm: algorithm.into(),
            groups,
            step: 0,
            slots,
            averaging,
            mode: Mode::Train,
        })
    }

    /// The number of steps taken (the step the next update evaluates its schedules at).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{ScheduledOptimizer, SgdConfig};
    /// let opt = ScheduledOptimizer::with_groups(vec![], SgdConfig::new(0.1))?;
    /// assert_eq!(opt.step_count(), 0);
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The parameter groups.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{ParamGroup, ScheduledOptimizer, SgdConfig};
    /// let opt = ScheduledOptimizer::with_groups(vec![ParamGroup::new(vec![])], SgdConfig::new(0.1))?;
    /// assert_eq!(opt.groups().len(), 1);
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    /// The algorithm and its schedules.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{ScheduledOptimizer, SgdConfig};
    /// let opt = ScheduledOptimizer::with_groups(vec![], SgdConfig::new(0.1))?;
    /// assert_eq!(opt.algorithm().name(), "sgd");
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn algorithm(&self) -> &Algorithm {
        &self.algorithm
    }

    /// Each group's learning rate at the current step (group schedule or the optimizer's,
    /// times the group's multiplier; for schedule-free, before its warmup factor).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{ParamGroup, ScheduledOptimizer, SgdConfig};
    /// let groups = vec![ParamGroup::new(vec![]), ParamGroup::new(vec![]).with_lr_scale(0.5)?];
    /// let opt = ScheduledOptimizer::with_groups(groups, SgdConfig::new(0.1))?;
    /// assert_eq!(opt.learning_rates(), vec![0.1, 0.05]);
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn learning_rates(&self) -> Vec<f64> {
        self.groups
            .iter()
            .map(|g| g.lr_at(self.algorithm.lr(), self.step))
            .collect()
    }

    /// Whether the variables hold the training point or (schedule-free only) the
    /// evaluation average.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{Mode, ScheduledOptimizer, SgdConfig};
    /// let opt = ScheduledOptimizer::with_groups(vec![], SgdConfig::new(0.1))?;
    /// assert_eq!(opt.mode(), Mode::Train);
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Switches to evaluation mode: schedule-free optimizers write the average `x` into
    /// the variables (`p = lerp(p, z, 1 - 1/beta)`); other algorithms only record the
    /// mode. Idempotent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] if the momentum schedule leaves `(0, 1)`; candle
    /// errors from the in-place op.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{Mode, ScheduleFreeConfig, ScheduledOptimizer};
    /// let mut opt = ScheduledOptimizer::with_groups(vec![], ScheduleFreeConfig::sgd(1.0))?;
    /// opt.eval()?;
    /// assert_eq!(opt.mode(), Mode::Eval);
    /// opt.train()?;
    /// assert_eq!(opt.mode(), Mode::Train);
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn eval(&mut self) -> Result<(), Error> {
        self.switch(Mode::Eval)
    }

    /// Switches back to training mode: schedule-free optimizers write `y` back into the
    /// variables (`p = lerp(p, z, 1 - beta)`). Idempotent.
    ///
    /// # Errors
    ///
    /// As [`ScheduledOptimizer::eval`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{Mode, ScheduleFreeConfig, ScheduledOptimizer};
    /// let mut opt = ScheduledOptimizer::with_groups(vec![], ScheduleFreeConfig::sgd(1.0))?;
    /// opt.train()?;
    /// assert_eq!(opt.mode(), Mode::Train);
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn train(&mut self) -> Result<(), Error> {
        self.switch(Mode::Train)
    }

    fn switch(&mut self, to: Mode) -> Result<(), Error> {
        if self.mode == to {
            return Ok(());
        }
        if let Algorithm::ScheduleFree(c) = &self.algorithm {
            let beta = c.beta(self.step)?;
            let weight = match to {
                Mode::Eval => 1.0 - 1.0 / beta,
                Mode::Train => 1.0 - beta,
            };
            for (group, slots) in self.groups.iter().zip(self.slots.iter_mut()) {
                for (var, slot) in group.vars().iter().zip(slots.iter_mut()) {
                    if matches!(slot, Slot::Empty) {
                        continue;
                    }
                    let op = Switch {
                        interpolate: Interpolate { weight },
                        slot: RefCell::new(slot),
                    };
                    var.as_tensor().inplace_op1(&op)?;
                }
            }
        }
        self.mode = to;
        Ok(())
    }

    /// One update from the gradients in `grads`, with typed errors (the
    /// [`candle_nn::Optimizer::step`] implementation calls this).
    ///
    /// # Errors
    ///
    /// [`Error::WrongMode`] in evaluation mode; [`Error::InvalidHyperparameter`];
    /// [`Error::GradientMismatch`] when a gradient's dtype or size differs from its
    /// variable's. On error the step counter does not advance, but groups before the
    /// failing one may already have been updated.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::from_fn;
    /// use cadence_candle::{Error, ScheduledOptimizer, SgdConfig};
    /// use candle_core::{Device, Var};
    ///
    /// let x = Var::from_vec(vec![1.0_f64], 1, &Device::Cpu)?;
    /// // a learning rate that turns negative at step 1
    /// let lr = from_fn(|t| 0.1 - 0.2 * t as f64);
    /// let mut opt = ScheduledOptimizer::with_groups(vec![cadence_candle::ParamGroup::new(vec![x.clone()])], SgdConfig::new(lr))?;
    /// let grads = x.as_tensor().sqr()?.sum_all()?.backward()?;
    /// opt.apply(&grads)?;
    /// let err = opt.apply(&grads).unwrap_err();
    /// assert!(matches!(err, Error::InvalidHyperparameter { name: "lr", step: 1, .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&mut self, grads: &GradStore) -> Result<(), Error> {
        if self.mode != Mode::Train {
            return Err(Error::WrongMode {
                operation: "step",
                expected: Mode::Train,
                found: self.mode,
            });
        }
        let step = self.step;
        for gi in 0..self.groups.len() {
            let group = &self.groups[gi];
            if group.mode().is_frozen_at(step) {
                continue;
            }
            match &self.algorithm {
                Algorithm::Sgd(c) => {
                    let k = c.kernel(group, step)?;
                    update_group(gi, group, &mut self.slots[gi], &k, grads)?;
                }
                Algorithm::Adam(c) => {
                    let k = c.kernel(group, step)?;
                    update_group(gi, group, &mut self.slots[gi], &k, grads)?;
                }
                Algorithm::RmsProp(c) => {
                    let k = c.kernel(group, step)?;
                    update_group(gi, group, &mut self.slots[gi], &k, grads)?;
                }
                Algorithm::Adagrad(c) => {
                    let k = c.kernel(group, step)?;
                    update_group(gi, group, &mut self.slots[gi], &k, grads)?;
                }
                Algorithm::ScheduleFree(c) => {
                    let k = c.kernel(group, step, &mut self.averaging[gi])?;
                    update_group(gi, group, &mut self.slots[gi], &k, grads)?;
                }
            }
        }
        self.step += 1;
        Ok(())
    }
}

fn update_group<K: Kernel>(
    gi: usize,
    group: &ParamGroup,
    slots: &mut [Slot],
    kernel: &K,
    grads: &GradStore,
) -> Result<(), Error> {
    for (vi, (var, slot)) in group.vars().iter().zip(slots.iter_mut()).enumerate() {
        let Some(grad) = grads.get(var) else { continue };
        let mismatch = |reason: String| Error::GradientMismatch {
            group: gi,
            index: vi,
            reason,
        };
        if grad.dtype() != var.dtype() {
            return Err(mismatch(format!(
                "dtype {:?}, variable has {:?}",
                grad.dtype(),
                var.dtype()
            )));
        }
        if grad.elem_count() != var.elem_count() {
            return Err(mismatch(format!(
                "{} elements, variable has {}",
                grad.elem_count(),
                var.elem_count()
            )));
        }
        let grad = if grad.is_contiguous() {
            grad.clone()
        } else {
            grad.contiguous()?
        };
        let op = Fused {
            kernel,
            slot: RefCell::new(slot),
        };
        var.as_tensor().inplace_op2(&grad, &op)?;
    }
    Ok(())
}

impl candle_nn::Optimizer for ScheduledOptimizer {
    type Config = Algorithm;

    fn new(vars: Vec<Var>, config: Algorithm) -> candle_core::Result<Self> {
        Self::with_groups(vec![ParamGroup::new(vars)], config).map_err(to_candle)
    }

    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        self.apply(grads).map_err(to_candle)
    }

    /// The first group's learning rate at the current step (the optimizer's base schedule
    /// when there are no groups).
    fn learning_rate(&self) -> f64 {
        match self.groups.first() {
            Some(g) => g.lr_at(self.algorithm.lr(), self.step),
            None => cadence::Schedule::value(self.algorithm.lr(), self.step),
        }
    }

    /// Replaces the optimizer's learning-rate schedule with the constant `lr` (groups with
    /// their own schedule keep it; multipliers still apply).
    fn set_learning_rate(&mut self, lr: f64) {
        self.algorithm.set_lr(hyper(lr));
    }
}

// ---------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------

fn scalar_i64(x: i64) -> Result<Tensor, Error> {
    Ok(Tensor::new(&[x], &Device::Cpu)?)
}

fn scalar_f64(x: f64) -> Result<Tensor, Error> {
    Ok(Tensor::new(&[x], &Device::Cpu)?)
}

fn read_i64(map: &HashMap<String, Tensor>, key: &str) -> Result<i64, Error> {
    let t = map.get(key).ok_or_else(|| Error::state(key, "missing"))?;
    let v: Vec<i64> = t
        .flatten_all()
        .and_then(|t| t.to_vec1())
        .map_err(|e| Error::state(key, format!("expected one i64: {e}")))?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(Error::state(
            key,
            format!("expected one i64, found {}", v.len()),
        )),
    }
}

fn read_f64(map: &HashMap<String, Tensor>, key: &str) -> Result<f64, Error> {
    let t = map.get(key).ok_or_else(|| Error::state(key, "missing"))?;
    let v: Vec<f64> = t
        .flatten_all()
        .and_then(|t| t.to_vec1())
        .map_err(|e| Error::state(key, format!("expected one f64: {e}")))?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(Error::state(
            key,
            format!("expected one f64, found {}", v.len()),
        )),
    }
}

fn read_buffer<T: candle_core::WithDType>(
    t: &Tensor,
    key: &str,
    len: usize,
) -> Result<Vec<T>, Error> {
    if t.dtype() != T::DTYPE {
        return Err(Error::state(
            key,
            format!("dtype {:?}, expected {:?}", t.dtype(), T::DTYPE),
        ));
    }
    if t.elem_count() != len {
        return Err(Error::state(
            key,
            format!("{} elements, expected {len}", t.elem_count()),
        ));
    }
    Ok(t.flatten_all()?.to_vec1()?)
}

impl ScheduledOptimizer {
    /// The complete optimizer state as named tensors: `step`, `mode`, per group
    /// `g{i}.lr_max` and `g{i}.weight_sum` (schedule-free averaging), and per variable
    /// that has state `g{i}.p{j}.count` and `g{i}.p{j}.{buffer}` (e.g. `exp_avg`), each
    /// buffer in the variable's dtype and shape. Values are copied bit for bit.
    ///
    /// # Errors
    ///
    /// Candle errors from tensor creation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{AdamConfig, ScheduledOptimizer};
    /// use candle_core::{Device, Var};
    /// use candle_nn::Optimizer;
    ///
    /// let x = Var::from_vec(vec![1.0_f32, 2.0], 2, &Device::Cpu)?;
    /// let mut opt = ScheduledOptimizer::new(vec![x.clone()], AdamConfig::adamw(1e-3).into())?;
    /// opt.backward_step(&x.as_tensor().sqr()?.sum_all()?)?;
    /// let state = opt.state_tensors()?;
    /// assert!(state.contains_key("g0.p0.exp_avg") && state.contains_key("step"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn state_tensors(&self) -> Result<HashMap<String, Tensor>, Error> {
        let mut map = HashMap::new();
        map.insert("step".to_string(), scalar_i64(self.step as i64)?);
        map.insert(
            "mode".to_string(),
            scalar_i64(i64::from(self.mode == Mode::Eval))?,
        );
        let names = self.algorithm.buffer_names();
        for (gi, (group, slots)) in self.groups.iter().zip(&self.slots).enumerate() {
            let avg = self.averaging[gi];
            map.insert(format!("g{gi}.lr_max"), scalar_f64(avg.lr_max)?);
            map.insert(format!("g{gi}.weight_sum"), scalar_f64(avg.weight_sum)?);
            for (vi, (var, slot)) in group.vars().iter().zip(slots).enumerate() {
                let (count, bufs): (u64, Vec<Option<Tensor>>) = match slot {
                    Slot::Empty => continue,
                    Slot::F32(st) => (st.count, to_tensors(&st.bufs, var)?),
                    Slot::F64(st) => (st.count, to_tensors(&st.bufs, var)?),
                };
                map.insert(format!("g{gi}.p{vi}.count"), scalar_i64(count as i64)?);
                for (name, t) in names.iter().zip(bufs) {
                    if let Some(t) = t {
                        map.insert(format!("g{gi}.p{vi}.{name}"), t);
                    }
                }
            }
        }
        Ok(map)
    }

    /// Restores a state produced by [`ScheduledOptimizer::state_tensors`] for an optimizer
    /// built with the same algorithm and the same groups of variables. Continuing after a
    /// restore gives bit-for-bit the run that was never interrupted.
    ///
    /// # Errors
    ///
    /// [`Error::State`] naming the entry that is missing, has the wrong dtype or size, or is
    /// not part of this optimizer's state. The optimizer is unchanged on error.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{Error, ScheduledOptimizer, SgdConfig};
    /// use std::collections::HashMap;
    ///
    /// let mut opt = ScheduledOptimizer::with_groups(vec![], SgdConfig::new(0.1))?;
    /// let err = opt.load_state_tensors(&HashMap::new()).unwrap_err();
    /// assert!(matches!(err, Error::State { ref key, .. } if key == "step"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_state_tensors(&mut self, map: &HashMap<String, Tensor>) -> Result<(), Error> {
        let step = read_i64(map, "step")? as u64;
        let mode = match read_i64(map, "mode")? {
            0 => Mode::Train,
            1 => Mode::Eval,
            other => {
                return Err(Error::state(
                    "mode",
                    format!("{other} is neither 0 (train) nor 1 (eval)"),
                ));
            }
        };
        let names = self.algorithm.buffer_names();
        let mut used = 2;
        let mut averaging = Vec::with_capacity(self.groups.len());
        let mut all_slots = Vec::with_capacity(self.groups.len());
        for (gi, group) in self.groups.iter().enumerate() {
            averaging.push(Averaging {
                lr_max: read_f64(map, &format!("g{gi}.lr_max"))?,
                weight_sum: read_f64(map, &format!("g{gi}.weight_sum"))?,
            });
            used += 2;
            let mut slots = Vec::with_capacity(group.vars().len());
            for (vi, var) in group.vars().iter().enumerate() {
                let count_key = format!("g{gi}.p{vi}.count");
                if !map.contains_key(&count_key) {
                    slots.push(Slot::Empty);
                    continue;
                }
                let count = read_i64(map, &count_key)? as u64;
                used += 1;
                let n = var.elem_count();
                let mut raw = Vec::new();
                for name in names {
                    let key = format!("g{gi}.p{vi}.{name}");
                    raw.push(map.get(&key).map(|t| (key, t)));
                }
                used += raw.iter().flatten().count();
                // Buffers that were never needed are stored as absent and restored empty.
                let slot = match var.dtype() {
                    DType::F32 => Slot::F32(State {
                        count,
                        bufs: from_tensors::<f32>(&raw, n)?,
                    }),
                    _ => Slot::F64(State {
                        count,
                        bufs: from_tensors::<f64>(&raw, n)?,
                    }),
                };
                slots.push(slot);
            }
            all_slots.push(slots);
        }
        if used != map.len() {
            let known = |k: &String| {
                k == "step"
                    || k == "mode"
                    || self.groups.iter().enumerate().any(|(gi, g)| {
                        k.strip_prefix(&format!("g{gi}.")).is_some_and(|rest| {
                            rest == "lr_max"
                                || rest == "weight_sum"
                                || (0..g.vars().len()).any(|vi| {
                                    rest.strip_prefix(&format!("p{vi}."))
                                        .is_some_and(|b| b == "count" || names.contains(&b))
                                })
                        })
                    })
            };
            let mut unknown: Vec<&String> = map.keys().filter(|k| !known(k)).collect();
            unknown.sort();
            let key = unknown
                .first()
                .map_or_else(|| "?".to_string(), |k| k.to_string());
            return Err(Error::state(
                key,
                format!(
                    "not part of this optimizer's state ({} algorithm)",
                    self.algorithm.name()
                ),
            ));
        }
        self.step = step;
        self.mode = mode;
        self.averaging = averaging;
        self.slots = all_slots;
        Ok(())
    }

    /// Saves [`ScheduledOptimizer::state_tensors`] to a safetensors file.
    ///
    /// # Errors
    ///
    /// Candle errors from writing the file.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{ScheduledOptimizer, SgdConfig};
    ///
    /// let opt = ScheduledOptimizer::with_groups(vec![], SgdConfig::new(0.1))?;
    /// let path = std::env::temp_dir().join("cadence-candle-doc-save.safetensors");
    /// opt.save_state(&path)?;
    /// let mut again = ScheduledOptimizer::with_groups(vec![], SgdConfig::new(0.1))?;
    /// again.load_state(&path)?;
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn save_state(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        candle_core::safetensors::save(&self.state_tensors()?, path)?;
        Ok(())
    }

    /// Loads a state saved by [`ScheduledOptimizer::save_state`].
    ///
    /// # Errors
    ///
    /// Candle errors from reading the file; [`Error::State`] as in
    /// [`ScheduledOptimizer::load_state_tensors`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{ScheduledOptimizer, SgdConfig};
    ///
    /// let mut opt = ScheduledOptimizer::with_groups(vec![], SgdConfig::new(0.1))?;
    /// assert!(opt.load_state("/nonexistent/state.safetensors").is_err());
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn load_state(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        let map = candle_core::safetensors::load(path, &Device::Cpu)?;
        self.load_state_tensors(&map)
    }
}

fn to_tensors<T: candle_core::WithDType>(
    bufs: &[Vec<T>],
    var: &Var,
) -> Result<Vec<Option<Tensor>>, Error> {
    bufs.iter()
        .map(|b| {
            if b.is_empty() {
                Ok(None)
            } else {
                Ok(Some(Tensor::from_slice(b, var.shape(), &Device::Cpu)?))
            }
        })
        .collect()
}

fn from_tensors<T: candle_core::WithDType>(
    raw: &[Option<(String, &Tensor)>],
    n: usize,
) -> Result<Vec<Vec<T>>, Error> {
    // Trailing absent buffers are dropped; inner absent ones stay empty.
    let last = raw.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    raw[..last]
        .iter()
        .map(|r| match r {
            Some((key, t)) => read_buffer(t, key, n),
            None => Ok(Vec::new()),
        })
        .collect()
}
