//! RMSprop with smoothing constant, momentum and centering.

use crate::hyper::{Domain, Hyper, eval, hyper};
use crate::kernel::{Float, Kernel, State, chunked, lerp, lerp_small};
use crate::{Error, ParamGroup};
use cadence::Schedule;

/// Whether RMSprop divides by the second moment or by the variance estimate.
///
/// # Examples
///
/// ```
/// use cadence_candle::{Centering, RmsPropConfig};
/// let c = RmsPropConfig::new(1e-2).centering(Centering::Centered);
/// assert_eq!(c.centering_kind(), Centering::Centered);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Centering {
    /// Divide by `sqrt(E[g^2]) + eps`.
    #[default]
    Uncentered,
    /// Divide by `sqrt(E[g^2] - E[g]^2) + eps` (PyTorch's `centered=True`).
    Centered,
}

/// Configuration of RMSprop with PyTorch's `torch.optim.RMSprop` update rule.
///
/// ```text
/// g   = g + wd_t * p                                   (if wd_t != 0)
/// s_t = alpha_t * s + (1 - alpha_t) * g^2
/// a_t = lerp(a, g, 1 - alpha_t)                        (Centered only)
/// den = sqrt(s_t) + eps_t    or    sqrt(s_t - a_t^2) + eps_t  (Centered)
/// b_t = mu_t * b + g / den;   p_t = p - lr_t * b_t      (if mu_t > 0)
/// p_t = p - lr_t * g / den                              (otherwise)
/// ```
///
/// Parameters (schedules): `lr` (`>= 0`), `alpha` (`[0, 1]`, default 0.99), `eps`
/// (`>= 0`, default 1e-8), `weight_decay` (`>= 0`, default 0), `momentum` (`[0, 1]`,
/// default 0), and the [`Centering`].
///
/// # Errors
///
/// Every step checks the evaluated values and fails with
/// [`Error::InvalidHyperparameter`] naming the hyperparameter and step.
///
/// # Examples
///
/// ```
/// use cadence_candle::{RmsPropConfig, ScheduledOptimizer};
/// use candle_core::{Device, Var};
/// use candle_nn::Optimizer;
///
/// let x = Var::from_vec(vec![1.0_f64], 1, &Device::Cpu)?;
/// let mut opt = ScheduledOptimizer::new(vec![x.clone()], RmsPropConfig::new(0.01).alpha(0.9).into())?;
/// opt.backward_step(&x.as_tensor().sqr()?.sum_all()?)?;
/// // s = 0.1 * 4, step = 0.01 * 2 / sqrt(0.4)
/// let v = x.as_tensor().to_vec1::<f64>()?[0];
/// assert!((v - (1.0 - 0.02 / 0.4_f64.sqrt())).abs() < 1e-9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
///
/// - Tieleman, Hinton, "Lecture 6.5 - RMSprop", COURSERA: Neural Networks for Machine
///   Learning, 2012.
/// - Graves, "Generating Sequences With Recurrent Neural Networks", 2013 (centered form).
/// - PyTorch, `torch.optim.RMSprop`.
#[derive(Debug, Clone)]
pub struct RmsPropConfig {
    pub(crate) lr: Hyper,
    alpha: Hyper,
    eps: Hyper,
    pub(crate) weight_decay: Hyper,
    momentum: Hyper,
    centering: Centering,
}

impl RmsPropConfig {
    /// RMSprop with learning rate `lr` and PyTorch's defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// assert_eq!(cadence_candle::RmsPropConfig::new(0.01).lr().value(0), 0.01);
    /// ```
    pub fn new(lr: impl Schedule + 'static) -> Self {
        RmsPropConfig {
            lr: hyper(lr),
            alpha: hyper(0.99),
            eps: hyper(1e-8),
            weight_decay: hyper(0.0),
            momentum: hyper(0.0),
            centering: Centering::Uncentered,
        }
    }

    /// Sets the smoothing constant schedule `alpha`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::RmsPropConfig::new(0.01).alpha(0.9);
    /// # let _ = c;
    /// ```
    pub fn alpha(mut self, alpha: impl Schedule + 'static) -> Self {
        self.alpha = hyper(alpha);
        self
    }

    /// Sets the `eps` schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::RmsPropConfig::new(0.01).eps(1e-6);
    /// # let _ = c;
    /// ```
    pub fn eps(mut self, eps: impl Schedule + 'static) -> Self {
        self.eps = hyper(eps);
        self
    }

    /// Sets the (L2) weight-decay schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::RmsPropConfig::new(0.01).weight_decay(1e-4);
    /// # let _ = c;
    /// ```
    pub fn weight_decay(mut self, weight_decay: impl Schedule + 'static) -> Self {
        self.weight_decay = hyper(weight_decay);
        self
    }

    /// Sets the momentum schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::RmsPropConfig::new(0.01).momentum(0.5);
    /// # let _ = c;
    /// ```
    pub fn momentum(mut self, momentum: impl Schedule + 'static) -> Self {
        self.momentum = hyper(momentum);
        self
    }

    /// Chooses centered or uncentered RMSprop.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{Centering, RmsPropConfig};
    /// let c = RmsPropConfig::new(0.01).centering(Centering::Centered);
    /// # let _ = c;
    /// ```
    pub fn centering(mut self, centering: Centering) -> Self {
        self.centering = centering;
        self
    }

    /// The learning-rate schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// assert_eq!(cadence_candle::RmsPropConfig::new(0.5).lr().value(9), 0.5);
    /// ```
    pub fn lr(&self) -> &Hyper {
        &self.lr
    }

    /// The centering.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{Centering, RmsPropConfig};
    /// assert_eq!(RmsPropConfig::new(0.5).centering_kind(), Centering::Uncentered);
    /// ```
    pub fn centering_kind(&self) -> Centering {
        self.centering
    }

    pub(crate) fn set_lr(&mut self, lr: Hyper) {
        self.lr = lr;
    }

    pub(crate) fn kernel(&self, group: &ParamGroup, step: u64) -> Result<RmsPropStep, Error> {
        Ok(RmsPropStep {
            lr: Domain::NonNegative.check("lr", step, group.lr_at(&self.lr, step))?,
            alpha: eval("alpha", &self.alpha, step, Domain::Unit)?,
            eps: eval("eps", &self.eps, step, Domain::NonNegative)?,
            weight_decay: Domain::NonNegative.check(
                "weight_decay",
                step,
                group.weight_decay_at(&self.weight_decay, step),
            )?,
            momentum: eval("momentum", &self.momentum, step, Domain::Unit)?,
            centered: self.centering == Centering::Centered,
        })
    }
}

/// One step of RMSprop for one group. Buffers: `square_avg`, `momentum_buffer`,
/// `grad_avg` (the last two empty until needed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RmsPropStep {
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
}

impl Kernel for RmsPropStep {
    fn update<T: Float>(&self, p: &mut [T], g: &[T], st: &mut State<T>) {
        let n = p.len();
        if st.bufs.is_empty() {
            st.bufs.push(vec![T::ZERO; n]);
        }
        // A restored state drops trailing buffers that were never needed.
        st.bufs.resize(3, Vec::new());
        let use_momentum = self.momentum > 0.0;
        if use_momentum && st.bufs[1].is_empty() {
            st.bufs[1] = vec![T::ZERO; n];
        }
        if self.centered && st.bufs[2].is_empty() {
            st.bufs[2] = vec![T::ZERO; n];
        }
        st.count += 1;
        let decay = self.weight_decay != 0.0;
        let wd = T::of(self.weight_decay);
        let alpha = T::of(self.alpha);
        let w = T::of(1.0 - self.alpha);
        let w_small = lerp_small(1.0 - self.alpha);
        let eps = T::of(self.eps);
        let mu = T::of(self.momentum);
        let neg_lr = T::of(-self.lr);
        let centered = self.centered;
        // Only the buffers this step uses enter the loop (unused ones may be empty).
        let mut active = vec![std::mem::take(&mut st.bufs[0])];
        if use_momentum {
            active.push(std::mem::take(&mut st.bufs[1]));
        }
        if centered {
            active.push(std::mem::take(&mut st.bufs[2]));
        }
        chunked(p, Some(g), &mut active, |p, g, b| {
            let g = g.unwrap_or_default();
            let [sq, rest @ ..] = b else {
                return [0.0, 0.0];
            };
            let (mut buf, mut ga) = match rest {
                [] => (None, None),
                [one] if use_momentum => (Some(&mut **one), None),
                [one] => (None, Some(&mut **one)),
                [m, a, ..] => (Some(&mut **m), Some(&mut **a)),
            };
            for i in 0..p.len() {
                let x = p[i];
                let gi = if decay { g[i] + wd * x } else { g[i] };
                let s = sq[i] * alpha + w * gi * gi;
                sq[i] = s;
                let avg = match ga.as_mut() {
                    Some(ga) => {
                        let a = lerp(ga[i], gi, w, w_small);
                        ga[i] = a;
                        (s + -(a * a)).sqrt()
                    }
                    None => s.sqrt(),
                } + eps;
                p[i] = match buf.as_mut() {
                    Some(b) => {
                        let nb = b[i] * mu + gi / avg;
                        b[i] = nb;
                        x + neg_lr * nb
                    }
                    None => x + neg_lr * (gi / avg),
                };
            }
            [0.0, 0.0]
        });
        let mut active = active.into_iter();
        st.bufs[0] = active.next().unwrap_or_default();
        if use_momentum {
            st.bufs[1] = active.next().unwrap_or_default();
        }
        if centered {
            st.bufs[2] = active.next().unwrap_or_default();
        }
    }
}
