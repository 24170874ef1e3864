//! Parameter groups: variables that share hyperparameter overrides.

use crate::{Error, Hyper};
use cadence::Schedule;
use candle_core::Var;
use std::sync::Arc;

/// Whether a group's variables are updated.
///
/// # Examples
///
/// ```
/// use cadence_candle::{GroupMode, ParamGroup};
///
/// let g = ParamGroup::new(vec![]).with_mode(GroupMode::Frozen);
/// assert_eq!(g.mode(), GroupMode::Frozen);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupMode {
    /// The group is updated every step (the default).
    #[default]
    Trainable,
    /// The group takes no update and keeps no optimizer state.
    Frozen,
    /// Frozen before this optimizer step (no update, no state), trainable from it on:
    /// gradual unfreezing (the join step of a [`cadence::Group`]).
    FrozenUntil(u64),
}

impl GroupMode {
    /// Whether the group is frozen at optimizer step `step`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::GroupMode;
    ///
    /// assert!(GroupMode::Frozen.is_frozen_at(10));
    /// assert!(GroupMode::FrozenUntil(5).is_frozen_at(4));
    /// assert!(!GroupMode::FrozenUntil(5).is_frozen_at(5));
    /// assert!(!GroupMode::Trainable.is_frozen_at(0));
    /// ```
    pub fn is_frozen_at(self, step: u64) -> bool {
        match self {
            GroupMode::Trainable => false,
            GroupMode::Frozen => true,
            GroupMode::FrozenUntil(join) => step < join,
        }
    }
}

/// A list of variables with its own learning-rate schedule, LR multiplier, weight-decay
/// schedule and [`GroupMode`].
///
/// The effective learning rate of a group at step `t` is
///
/// ```text
/// lr_group(t) = lr_scale * (group lr schedule, or the optimizer's lr schedule)(t)
/// wd_group(t) = (group weight-decay schedule, or the optimizer's)(t)
/// ```
///
/// All other hyperparameters (betas, momentum, eps, ...) come from the optimizer's config.
/// This is the adapter point for per-group policies: any policy that can say, for each
/// variable, "which lr schedule, which multiplier, which weight decay, frozen or not" maps
/// onto a `Vec<ParamGroup>`.
///
/// # Errors
///
/// [`ParamGroup::with_lr_scale`] rejects a multiplier that is negative or not finite.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, Schedule};
/// use cadence_candle::{GroupMode, ParamGroup};
/// use candle_core::{Device, Var};
///
/// let w = Var::zeros(4, candle_core::DType::F32, &Device::Cpu)?;
/// let head = ParamGroup::new(vec![w])
///     .with_lr(Linear::new(0.1, 0.0, 100)?)
///     .with_lr_scale(0.5)?
///     .with_weight_decay(0.0);
/// assert_eq!(head.vars().len(), 1);
/// assert_eq!(head.lr_scale(), 0.5);
/// assert_eq!(head.lr().map(|s| s.value(50)), Some(0.05));
/// assert_eq!(head.mode(), GroupMode::Trainable);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ParamGroup {
    vars: Vec<Var>,
    lr: Option<Hyper>,
    lr_scale: f64,
    weight_decay: Option<Hyper>,
    mode: GroupMode,
}

impl ParamGroup {
    /// A trainable group with no overrides (LR multiplier 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = cadence_candle::ParamGroup::new(vec![]);
    /// assert_eq!(g.lr_scale(), 1.0);
    /// ```
    pub fn new(vars: Vec<Var>) -> Self {
        ParamGroup {
            vars,
            lr: None,
            lr_scale: 1.0,
            weight_decay: None,
            mode: GroupMode::Trainable,
        }
    }

    /// Overrides the optimizer's learning-rate schedule for this group.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = cadence_candle::ParamGroup::new(vec![]).with_lr(0.01);
    /// assert!(g.lr().is_some());
    /// ```
    pub fn with_lr(mut self, lr: impl Schedule + 'static) -> Self {
        self.lr = Some(Arc::new(lr));
        self
    }

    /// Multiplies this group's learning rate by `scale` (finite, `>= 0`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming `lr_scale` if `scale` is negative or not finite.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = cadence_candle::ParamGroup::new(vec![]).with_lr_scale(0.1)?;
    /// assert_eq!(g.lr_scale(), 0.1);
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn with_lr_scale(mut self, scale: f64) -> Result<Self, Error> {
        if !(scale.is_finite() && scale >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "lr_scale",
                value: scale.to_string(),
                rule: "must be finite and >= 0",
            });
        }
        self.lr_scale = scale;
        Ok(self)
    }

    /// Overrides the optimizer's weight-decay schedule for this group (e.g. `0.0` for
    /// biases and norms).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// let g = cadence_candle::ParamGroup::new(vec![]).with_weight_decay(0.0);
    /// assert_eq!(g.weight_decay().map(|s| s.value(0)), Some(0.0));
    /// ```
    pub fn with_weight_decay(mut self, weight_decay: impl Schedule + 'static) -> Self {
        self.weight_decay = Some(Arc::new(weight_decay));
        self
    }

    /// Sets whether the group is trained or frozen.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{GroupMode, ParamGroup};
    /// let g = ParamGroup::new(vec![]).with_mode(GroupMode::Frozen);
    /// assert_eq!(g.mode(), GroupMode::Frozen);
    /// ```
    pub fn with_mode(mut self, mode: GroupMode) -> Self {
        self.mode = mode;
        self
    }

    /// The group's variables.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::ParamGroup::new(vec![]).vars().is_empty());
    /// ```
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// The group's learning-rate schedule override, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::ParamGroup::new(vec![]).lr().is_none());
    /// ```
    pub fn lr(&self) -> Option<&Hyper> {
        self.lr.as_ref()
    }

    /// The group's LR multiplier.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::ParamGroup::new(vec![]).lr_scale(), 1.0);
    /// ```
    pub fn lr_scale(&self) -> f64 {
        self.lr_scale
    }

    /// The group's weight-decay schedule override, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::ParamGroup::new(vec![]).weight_decay().is_none());
    /// ```
    pub fn weight_decay(&self) -> Option<&Hyper> {
        self.weight_decay.as_ref()
    }

    /// Whether the group is trained or frozen.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{GroupMode, ParamGroup};
    /// assert_eq!(ParamGroup::new(vec![]).mode(), GroupMode::Trainable);
    /// ```
    pub fn mode(&self) -> GroupMode {
        self.mode
    }

    /// The learning rate this group uses at `step`, given the optimizer's schedule.
    pub(crate) fn lr_at(&self, base: &Hyper, step: u64) -> f64 {
        self.lr_scale * self.lr.as_ref().unwrap_or(base).value(step)
    }

    /// The weight decay this group uses at `step`, given the optimizer's schedule.
    pub(crate) fn weight_decay_at(&self, base: &Hyper, step: u64) -> f64 {
        self.weight_decay.as_ref().unwrap_or(base).value(step)
    }
}
