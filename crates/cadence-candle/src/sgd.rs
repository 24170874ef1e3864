//! SGD with momentum, dampening, Nesterov, weight decay and an optional LARS trust ratio.

use crate::hyper::{Domain, Hyper, TrustRatio, eval, hyper};
use crate::kernel::{Float, Kernel, State, chunked, trust_ratio};
use crate::{Error, ParamGroup};
use cadence::Schedule;

/// Which momentum update SGD uses.
///
/// # Examples
///
/// ```
/// use cadence_candle::{MomentumKind, SgdConfig};
/// let c = SgdConfig::new(0.1).momentum(0.9).kind(MomentumKind::Nesterov);
/// assert_eq!(c.momentum_kind(), MomentumKind::Nesterov);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MomentumKind {
    /// Heavy-ball momentum: the step is the buffer.
    #[default]
    Classical,
    /// Nesterov momentum: the step is `d + momentum * buffer` (needs `dampening = 0`).
    Nesterov,
}

/// Configuration of SGD with PyTorch's `torch.optim.SGD` update rule.
///
/// ```text
/// d_t = g_t + wd_t * p_{t-1}                                   (if wd_t != 0)
/// d_t = ratio_t * d_t                                          (trust ratio, if on)
/// b_t = d_t  (first step with momentum)   else   mu_t * b_{t-1} + (1 - dampening_t) * d_t
/// s_t = b_t  (classical)   or   d_t + mu_t * b_t  (Nesterov);   s_t = d_t if mu_t = 0
/// p_t = p_{t-1} - lr_t * s_t
/// ```
///
/// Parameters (every one a [`cadence::Schedule`]; a plain `f64` is constant): `lr`
/// (`>= 0`), `momentum` (`[0, 1]`, default 0), `dampening` (`[0, 1]`, default 0),
/// `weight_decay` (`>= 0`, default 0), plus the [`MomentumKind`] and a [`TrustRatio`]
/// (LARS).
///
/// # Errors
///
/// Nothing is checked at construction (schedules can change their values); every step
/// checks the evaluated values and fails with [`Error::InvalidHyperparameter`] naming the
/// hyperparameter and step, e.g. Nesterov with zero momentum or non-zero dampening.
///
/// # Examples
///
/// ```
/// use cadence_candle::{ScheduledOptimizer, SgdConfig};
/// use candle_core::{Device, Tensor, Var};
/// use candle_nn::Optimizer;
///
/// let x = Var::from_vec(vec![1.0_f64], 1, &Device::Cpu)?;
/// let mut opt = ScheduledOptimizer::new(vec![x.clone()], SgdConfig::new(0.1).momentum(0.9).into())?;
/// for _ in 0..2 {
///     let loss = x.as_tensor().sqr()?.sum_all()?; // gradient 2x
///     opt.backward_step(&loss)?;
/// }
/// // step 1: b = 2, x = 0.8; step 2: b = 0.9*2 + 1.6 = 3.4, x = 0.8 - 0.34
/// let v = x.as_tensor().to_vec1::<f64>()?[0];
/// assert!((v - 0.46).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
///
/// - PyTorch, `torch.optim.SGD` (the update rule above, including `dampening` and
///   `nesterov`).
/// - Sutskever et al., "On the importance of initialization and momentum in deep
///   learning", ICML 2013.
#[derive(Debug, Clone)]
pub struct SgdConfig {
    pub(crate) lr: Hyper,
    momentum: Hyper,
    dampening: Hyper,
    pub(crate) weight_decay: Hyper,
    kind: MomentumKind,
    trust: TrustRatio,
}

impl SgdConfig {
    /// Plain SGD with learning rate `lr` and PyTorch's defaults (no momentum, dampening
    /// or weight decay).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// let c = cadence_candle::SgdConfig::new(0.1);
    /// assert_eq!(c.lr().value(0), 0.1);
    /// ```
    pub fn new(lr: impl Schedule + 'static) -> Self {
        SgdConfig {
            lr: hyper(lr),
            momentum: hyper(0.0),
            dampening: hyper(0.0),
            weight_decay: hyper(0.0),
            kind: MomentumKind::Classical,
            trust: TrustRatio::Off,
        }
    }

    /// Sets the momentum schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// let c = cadence_candle::SgdConfig::new(0.1).momentum(0.9);
    /// assert_eq!(c.momentum_schedule().value(3), 0.9);
    /// ```
    pub fn momentum(mut self, momentum: impl Schedule + 'static) -> Self {
        self.momentum = hyper(momentum);
        self
    }

    /// Sets the dampening schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::SgdConfig::new(0.1).momentum(0.9).dampening(0.1);
    /// # let _ = c;
    /// ```
    pub fn dampening(mut self, dampening: impl Schedule + 'static) -> Self {
        self.dampening = hyper(dampening);
        self
    }

    /// Sets the (L2, added to the gradient) weight-decay schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::SgdConfig::new(0.1).weight_decay(5e-4);
    /// # let _ = c;
    /// ```
    pub fn weight_decay(mut self, weight_decay: impl Schedule + 'static) -> Self {
        self.weight_decay = hyper(weight_decay);
        self
    }

    /// Chooses classical or Nesterov momentum.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{MomentumKind, SgdConfig};
    /// let c = SgdConfig::new(0.1).momentum(0.9).kind(MomentumKind::Nesterov);
    /// # let _ = c;
    /// ```
    pub fn kind(mut self, kind: MomentumKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the trust-ratio option (LARS).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{SgdConfig, TrustRatio};
    /// let c = SgdConfig::new(1.0).trust_ratio(TrustRatio::Layerwise { coefficient: 0.001 });
    /// # let _ = c;
    /// ```
    pub fn trust_ratio(mut self, trust: TrustRatio) -> Self {
        self.trust = trust;
        self
    }

    /// The learning-rate schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// assert_eq!(cadence_candle::SgdConfig::new(0.5).lr().value(9), 0.5);
    /// ```
    pub fn lr(&self) -> &Hyper {
        &self.lr
    }

    /// The momentum schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// assert_eq!(cadence_candle::SgdConfig::new(0.5).momentum_schedule().value(0), 0.0);
    /// ```
    pub fn momentum_schedule(&self) -> &Hyper {
        &self.momentum
    }

    /// The momentum kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{MomentumKind, SgdConfig};
    /// assert_eq!(SgdConfig::new(0.5).momentum_kind(), MomentumKind::Classical);
    /// ```
    pub fn momentum_kind(&self) -> MomentumKind {
        self.kind
    }

    /// The trust-ratio option.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{SgdConfig, TrustRatio};
    /// assert_eq!(SgdConfig::new(0.5).trust(), TrustRatio::Off);
    /// ```
    pub fn trust(&self) -> TrustRatio {
        self.trust
    }

    pub(crate) fn set_lr(&mut self, lr: Hyper) {
        self.lr = lr;
    }

    /// Evaluates and checks this step's values for `group`.
    pub(crate) fn kernel(&self, group: &ParamGroup, step: u64) -> Result<SgdStep, Error> {
        let lr = Domain::NonNegative.check("lr", step, group.lr_at(&self.lr, step))?;
        let weight_decay = Domain::NonNegative.check(
            "weight_decay",
            step,
            group.weight_decay_at(&self.weight_decay, step),
        )?;
        let momentum = eval("momentum", &self.momentum, step, Domain::Unit)?;
        let dampening = eval("dampening", &self.dampening, step, Domain::Unit)?;
        let nesterov = self.kind == MomentumKind::Nesterov;
        if nesterov && momentum <= 0.0 {
            return Err(Error::InvalidHyperparameter {
                name: "momentum",
                step,
                value: momentum,
                rule: "Nesterov momentum needs momentum > 0",
            });
        }
        if nesterov && dampening != 0.0 {
            return Err(Error::InvalidHyperparameter {
                name: "dampening",
                step,
                value: dampening,
                rule: "Nesterov momentum needs dampening = 0",
            });
        }
        Ok(SgdStep {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            trust: self.trust.coefficient(),
        })
    }
}

/// One step of SGD for one group, hyperparameters evaluated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SgdStep {
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    trust: Option<f64>,
}

impl Kernel for SgdStep {
    fn update<T: Float>(&self, p: &mut [T], g: &[T], st: &mut State<T>) {
        let use_momentum = self.momentum != 0.0;
        let first = use_momentum && st.bufs.is_empty();
        if first {
            st.bufs.push(vec![T::ZERO; p.len()]);
        }
        st.count += 1;
        let decay = self.weight_decay != 0.0;
        let wd = T::of(self.weight_decay);
        // The trust ratio scales the direction; without one the factor is exactly 1 (and
        // `d * 1 == d` bit for bit), so one loop serves both.
        let ratio = match self.trust {
            Some(c) => {
                let [pp, dd] = chunked(p, Some(g), &mut [], |p, g, _| {
                    let g = g.unwrap_or_default();
                    p.iter().zip(g).fold([0.0, 0.0], |[a, b], (&x, &gi)| {
                        let d = if decay { gi + wd * x } else { gi }.to_f64();
                        [a + x.to_f64() * x.to_f64(), b + d * d]
                    })
                });
                T::of(trust_ratio(c, pp, dd))
            }
            None => T::of(1.0),
        };
        let s = Scalars {
            wd,
            ratio,
            neg_lr: T::of(-self.lr),
            mu: T::of(self.momentum),
            keep: T::of(1.0 - self.dampening),
        };
        let bufs: &mut [Vec<T>] = if use_momentum { &mut st.bufs } else { &mut [] };
        // Every flag is a const parameter of the loop, so each loop body is branch-free
        // and vectorises.
        let nesterov = self.nesterov;
        chunked(p, Some(g), bufs, |p, g, b| {
            let g = g.unwrap_or_default();
            match b {
                [buf] => match (decay, first, nesterov) {
                    (false, false, false) => momentum::<T, false, false, false>(&s, p, g, buf),
                    (false, false, true) => momentum::<T, false, false, true>(&s, p, g, buf),
                    (false, true, false) => momentum::<T, false, true, false>(&s, p, g, buf),
                    (false, true, true) => momentum::<T, false, true, true>(&s, p, g, buf),
                    (true, false, false) => momentum::<T, true, false, false>(&s, p, g, buf),
                    (true, false, true) => momentum::<T, true, false, true>(&s, p, g, buf),
                    (true, true, false) => momentum::<T, true, true, false>(&s, p, g, buf),
                    (true, true, true) => momentum::<T, true, true, true>(&s, p, g, buf),
                },
                _ if decay => plain::<T, true>(&s, p, g),
                _ => plain::<T, false>(&s, p, g),
            }
            [0.0, 0.0]
        });
    }
}

/// One step's scalars, converted to the element type once.
#[derive(Clone, Copy)]
struct Scalars<T> {
    wd: T,
    ratio: T,
    neg_lr: T,
    mu: T,
    keep: T,
}

/// The direction `(g + wd * x) * ratio` (no decay term unless `DECAY`).
#[inline(always)]
fn direction<T: Float, const DECAY: bool>(s: &Scalars<T>, gi: T, x: T) -> T {
    let d = if DECAY { gi + s.wd * x } else { gi };
    d * s.ratio
}

/// SGD without momentum: `p -= lr * d`.
fn plain<T: Float, const DECAY: bool>(s: &Scalars<T>, p: &mut [T], g: &[T]) {
    let g = &g[..p.len()];
    for (x, &gi) in p.iter_mut().zip(g) {
        let d = direction::<T, DECAY>(s, gi, *x);
        *x = *x + s.neg_lr * d;
    }
}

/// SGD with a momentum buffer; `FIRST` initialises the buffer with the direction.
fn momentum<T: Float, const DECAY: bool, const FIRST: bool, const NESTEROV: bool>(
    s: &Scalars<T>,
    p: &mut [T],
    g: &[T],
    buf: &mut [T],
) {
    let n = p.len();
    let (g, buf) = (&g[..n], &mut buf[..n]);
    for ((x, &gi), bi) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
        let d = direction::<T, DECAY>(s, gi, *x);
        let nb = if FIRST { d } else { *bi * s.mu + s.keep * d };
        *bi = nb;
        let step = if NESTEROV { d + s.mu * nb } else { nb };
        *x = *x + s.neg_lr * step;
    }
}
