//! Schedule-free SGD and AdamW (Defazio et al.), matching the `schedulefree` package.

use crate::hyper::{Domain, Hyper, eval, hyper};
use crate::kernel::{Float, Kernel, State, chunked, lerp, lerp_small};
use crate::{Error, ParamGroup};
use cadence::Schedule;

/// The base method a schedule-free optimizer wraps.
///
/// # Examples
///
/// ```
/// use cadence_candle::{ScheduleFreeBase, ScheduleFreeConfig};
/// assert_eq!(ScheduleFreeConfig::adamw(0.0025).base(), ScheduleFreeBase::AdamW);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleFreeBase {
    /// `SGDScheduleFree`: the z step is the (weight-decayed) gradient.
    Sgd,
    /// `AdamWScheduleFree`: the z step is the gradient divided by `sqrt(v) + eps`.
    AdamW,
}

/// Whether a schedule-free optimizer's variables hold the training point `y` or the
/// evaluation average `x`.
///
/// # Examples
///
/// ```
/// use cadence_candle::Mode;
/// assert_eq!(Mode::default(), Mode::Train);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Variables hold `y`, the point where gradients are taken; `step` is allowed.
    #[default]
    Train,
    /// Variables hold `x`, the weighted average to evaluate and checkpoint.
    Eval,
}

/// Configuration of schedule-free SGD or AdamW, with the `schedulefree` package's update
/// (version 1.4: `SGDScheduleFree`, `AdamWScheduleFree`).
///
/// ```text
/// k        = the optimizer step (0-based)
/// lr_k     = lr(k) * min(1, (k + 1) / warmup_steps)        (* sqrt(1 - beta2^(k+1)) for AdamW)
/// lr_max   = max(lr_max, lr_k)
/// w_k      = (k + 1)^r * lr_max^weight_lr_power;   W += w_k;   c = w_k / W  (0 if W = 0)
/// d        = g + wd * y                         (Sgd)
/// v        = beta2 v + (1 - beta2) g^2;  d = g / (sqrt(v) + eps) + wd * y   (AdamW)
/// y        = lerp(y, z, c) + lr_k * (beta (1 - c) - 1) * d
/// z        = z - lr_k * d
/// eval:  y -> lerp(y, z, 1 - 1/beta)  (= x);    train:  x -> lerp(x, z, 1 - beta)  (= y)
/// ```
///
/// `beta` is `momentum` (SGD) or `beta1` (AdamW), both set with
/// [`ScheduleFreeConfig::momentum`]. Parameters: `lr` (schedule, `>= 0`; default 1.0 for
/// SGD, 0.0025 for AdamW), `momentum` (schedule in `(0, 1)`, default 0.9), `beta2`
/// (schedule in `[0, 1)`, 0.999), `eps` (schedule, 1e-8), `weight_decay` (schedule, 0),
/// `warmup_steps` (0), `r` (0), `weight_lr_power` (2).
///
/// Call [`ScheduledOptimizer::eval`](crate::ScheduledOptimizer::eval) before evaluating
/// or checkpointing and [`ScheduledOptimizer::train`](crate::ScheduledOptimizer::train)
/// before training again.
///
/// # Errors
///
/// [`ScheduleFreeConfig::r`] and [`ScheduleFreeConfig::weight_lr_power`] reject
/// non-finite or negative values; every step checks the scheduled values and fails with
/// [`Error::InvalidHyperparameter`].
///
/// # Examples
///
/// ```
/// use cadence_candle::{Mode, ScheduleFreeConfig, ScheduledOptimizer};
/// use candle_core::{Device, Var};
/// use candle_nn::Optimizer;
///
/// let x = Var::from_vec(vec![1.0_f64], 1, &Device::Cpu)?;
/// let mut opt = ScheduledOptimizer::new(vec![x.clone()], ScheduleFreeConfig::sgd(0.1).into())?;
/// opt.backward_step(&x.as_tensor().sqr()?.sum_all()?)?;
/// // first step: c = 1, y = z - 0.1 * 2 * 1 = 0.8, z = 0.8
/// assert!((x.as_tensor().to_vec1::<f64>()?[0] - 0.8).abs() < 1e-12);
/// opt.eval()?;
/// assert_eq!(opt.mode(), Mode::Eval);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
///
/// - Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less Scheduled",
///   NeurIPS 2024.
/// - The `schedulefree` Python package (facebookresearch/schedule_free).
#[derive(Debug, Clone)]
pub struct ScheduleFreeConfig {
    base: ScheduleFreeBase,
    pub(crate) lr: Hyper,
    momentum: Hyper,
    beta2: Hyper,
    eps: Hyper,
    pub(crate) weight_decay: Hyper,
    warmup_steps: u64,
    r: f64,
    weight_lr_power: f64,
}

impl ScheduleFreeConfig {
    fn with_base(base: ScheduleFreeBase, lr: Hyper) -> Self {
        ScheduleFreeConfig {
            base,
            lr,
            momentum: hyper(0.9),
            beta2: hyper(0.999),
            eps: hyper(1e-8),
            weight_decay: hyper(0.0),
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: 2.0,
        }
    }

    /// Schedule-free SGD with learning rate `lr` and the package's defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{ScheduleFreeBase, ScheduleFreeConfig};
    /// assert_eq!(ScheduleFreeConfig::sgd(1.0).base(), ScheduleFreeBase::Sgd);
    /// ```
    pub fn sgd(lr: impl Schedule + 'static) -> Self {
        Self::with_base(ScheduleFreeBase::Sgd, hyper(lr))
    }

    /// Schedule-free AdamW with learning rate `lr` and the package's defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{ScheduleFreeBase, ScheduleFreeConfig};
    /// assert_eq!(ScheduleFreeConfig::adamw(0.0025).base(), ScheduleFreeBase::AdamW);
    /// ```
    pub fn adamw(lr: impl Schedule + 'static) -> Self {
        Self::with_base(ScheduleFreeBase::AdamW, hyper(lr))
    }

    /// Sets the interpolation momentum (`momentum` for SGD, `beta1` for AdamW).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::ScheduleFreeConfig::sgd(1.0).momentum(0.95);
    /// # let _ = c;
    /// ```
    pub fn momentum(mut self, momentum: impl Schedule + 'static) -> Self {
        self.momentum = hyper(momentum);
        self
    }

    /// Sets `beta2` (AdamW only).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::ScheduleFreeConfig::adamw(0.0025).beta2(0.99);
    /// # let _ = c;
    /// ```
    pub fn beta2(mut self, beta2: impl Schedule + 'static) -> Self {
        self.beta2 = hyper(beta2);
        self
    }

    /// Sets `eps` (AdamW only).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::ScheduleFreeConfig::adamw(0.0025).eps(1e-6);
    /// # let _ = c;
    /// ```
    pub fn eps(mut self, eps: impl Schedule + 'static) -> Self {
        self.eps = hyper(eps);
        self
    }

    /// Sets the weight decay (taken at `y`, added to the step direction).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::ScheduleFreeConfig::adamw(0.0025).weight_decay(0.01);
    /// # let _ = c;
    /// ```
    pub fn weight_decay(mut self, weight_decay: impl Schedule + 'static) -> Self {
        self.weight_decay = hyper(weight_decay);
        self
    }

    /// Sets the linear warmup length in steps (0: none).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::ScheduleFreeConfig::sgd(1.0).warmup_steps(100);
    /// # let _ = c;
    /// ```
    pub fn warmup_steps(mut self, warmup_steps: u64) -> Self {
        self.warmup_steps = warmup_steps;
        self
    }

    /// Sets the polynomial weighting power `r` of the average.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming `r` if it is negative or not finite.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::ScheduleFreeConfig::sgd(1.0).r(0.5)?;
    /// # let _ = c;
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn r(mut self, r: f64) -> Result<Self, Error> {
        self.r = non_negative("r", r)?;
        Ok(self)
    }

    /// Sets the power of `lr_max` in the averaging weights (0: uniform weights).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming `weight_lr_power` if it is negative or not
    /// finite.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::ScheduleFreeConfig::sgd(1.0).weight_lr_power(0.0)?;
    /// # let _ = c;
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn weight_lr_power(mut self, power: f64) -> Result<Self, Error> {
        self.weight_lr_power = non_negative("weight_lr_power", power)?;
        Ok(self)
    }

    /// The base method.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{ScheduleFreeBase, ScheduleFreeConfig};
    /// assert_eq!(ScheduleFreeConfig::sgd(1.0).base(), ScheduleFreeBase::Sgd);
    /// ```
    pub fn base(&self) -> ScheduleFreeBase {
        self.base
    }

    /// The learning-rate schedule (before warmup).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// assert_eq!(cadence_candle::ScheduleFreeConfig::sgd(0.5).lr().value(3), 0.5);
    /// ```
    pub fn lr(&self) -> &Hyper {
        &self.lr
    }

    pub(crate) fn set_lr(&mut self, lr: Hyper) {
        self.lr = lr;
    }

    /// The interpolation constant used by `eval`/`train` after `step` steps.
    pub(crate) fn beta(&self, step: u64) -> Result<f64, Error> {
        let at = step.saturating_sub(1);
        eval("momentum", &self.momentum, at, Domain::Interior)
    }

    /// Evaluates this step's values for `group`, advancing the group's averaging weights.
    pub(crate) fn kernel(
        &self,
        group: &ParamGroup,
        step: u64,
        avg: &mut Averaging,
    ) -> Result<ScheduleFreeStep, Error> {
        let k = step;
        let beta = eval("momentum", &self.momentum, k, Domain::Interior)?;
        let (beta2, eps) = match self.base {
            ScheduleFreeBase::Sgd => (0.0, 0.0),
            ScheduleFreeBase::AdamW => (
                eval("beta2", &self.beta2, k, Domain::UnitOpen)?,
                eval("eps", &self.eps, k, Domain::NonNegative)?,
            ),
        };
        let weight_decay = Domain::NonNegative.check(
            "weight_decay",
            k,
            group.weight_decay_at(&self.weight_decay, k),
        )?;
        let sched = if k < self.warmup_steps {
            (k + 1) as f64 / self.warmup_steps as f64
        } else {
            1.0
        };
        let mut lr = Domain::NonNegative.check("lr", k, group.lr_at(&self.lr, k))? * sched;
        if self.base == ScheduleFreeBase::AdamW {
            lr *= (1.0 - beta2.powf((k + 1) as f64)).sqrt();
        }
        avg.lr_max = avg.lr_max.max(lr);
        let weight = ((k + 1) as f64).powf(self.r) * avg.lr_max.powf(self.weight_lr_power);
        avg.weight_sum += weight;
        let ckp1 = if avg.weight_sum == 0.0 {
            0.0
        } else {
            weight / avg.weight_sum
        };
        Ok(ScheduleFreeStep {
            adam: self.base == ScheduleFreeBase::AdamW,
            lr,
            ckp1,
            y_coef: lr * (beta * (1.0 - ckp1) - 1.0),
            beta2,
            eps,
            weight_decay,
        })
    }
}

fn non_negative(name: &'static str, x: f64) -> Result<f64, Error> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(Error::InvalidParameter {
            name,
            value: x.to_string(),
            rule: "must be finite and >= 0",
        })
    }
}

/// A group's averaging state: the running maximum learning rate and the sum of weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Averaging {
    pub lr_max: f64,
    pub weight_sum: f64,
}

impl Default for Averaging {
    fn default() -> Self {
        // The package starts lr_max at -1 so that the first max picks the first lr.
        Averaging {
            lr_max: -1.0,
            weight_sum: 0.0,
        }
    }
}

/// One schedule-free step for one group. Buffers: `z` (and `exp_avg_sq` for AdamW).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScheduleFreeStep {
    adam: bool,
    lr: f64,
    ckp1: f64,
    y_coef: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
}

impl Kernel for ScheduleFreeStep {
    fn update<T: Float>(&self, p: &mut [T], g: &[T], st: &mut State<T>) {
        if st.bufs.is_empty() {
            st.bufs.push(p.to_vec());
            if self.adam {
                st.bufs.push(vec![T::ZERO; p.len()]);
            }
        }
        st.count += 1;
        let decay = self.weight_decay != 0.0;
        let wd = T::of(self.weight_decay);
        let c = T::of(self.ckp1);
        let c_small = lerp_small(self.ckp1);
        let y_coef = T::of(self.y_coef);
        let neg_lr = T::of(-self.lr);
        let b2 = T::of(self.beta2);
        let one_minus_b2 = T::of(1.0 - self.beta2);
        let eps = T::of(self.eps);
        chunked(p, Some(g), &mut st.bufs, |p, g, b| {
            let g = g.unwrap_or_default();
            let apply = |y: &mut T, z: &mut T, d: T| {
                let d = if decay { d + wd * *y } else { d };
                *y = lerp(*y, *z, c, c_small) + y_coef * d;
                *z = *z + neg_lr * d;
            };
            match b {
                [z] => {
                    for ((y, &gi), z) in p.iter_mut().zip(g).zip(z.iter_mut()) {
                        apply(y, z, gi);
                    }
                }
                [z, v] => {
                    for (((y, &gi), z), v) in
                        p.iter_mut().zip(g).zip(z.iter_mut()).zip(v.iter_mut())
                    {
                        *v = *v * b2 + one_minus_b2 * gi * gi;
                        apply(y, z, gi / (v.sqrt() + eps));
                    }
                }
                _ => {}
            }
            [0.0, 0.0]
        });
    }
}

/// Moves the variables between `y` and `x`: `p = lerp(p, z, weight)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interpolate {
    pub weight: f64,
}

impl Interpolate {
    pub(crate) fn apply<T: Float>(&self, p: &mut [T], st: &mut State<T>) {
        let w = T::of(self.weight);
        let small = lerp_small(self.weight);
        chunked(p, None, &mut st.bufs[..1], |p, _, b| {
            if let [z] = b {
                for (y, &z) in p.iter_mut().zip(z.iter()) {
                    *y = lerp(*y, z, w, small);
                }
            }
            [0.0, 0.0]
        });
    }
}
