//! Adam and AdamW with bias correction, AMSGrad, PyTorch's eps placement and an optional
//! LAMB trust ratio.

use crate::hyper::{Domain, Hyper, TrustRatio, WeightDecay, eval, hyper};
use crate::kernel::{Float, Kernel, State, chunked, lerp, lerp_small, trust_ratio};
use crate::{Error, ParamGroup};
use cadence::Schedule;

/// Which second-moment estimate Adam divides by.
///
/// # Examples
///
/// ```
/// use cadence_candle::{AdamConfig, SecondMoment};
/// let c = AdamConfig::adam(1e-3).second_moment(SecondMoment::AmsGrad);
/// assert_eq!(c.second_moment_kind(), SecondMoment::AmsGrad);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecondMoment {
    /// The exponential moving average `v_t` (Adam).
    #[default]
    Average,
    /// The running maximum of `v_t` (AMSGrad; PyTorch's `amsgrad=True`).
    AmsGrad,
}

/// Configuration of Adam / AdamW with PyTorch's `torch.optim.Adam`/`AdamW` update rule.
///
/// ```text
/// p    = p * (1 - lr_t * wd_t)              (Decoupled, AdamW)   or   g = g + wd_t * p  (L2)
/// m_t  = lerp(m, g, 1 - beta1_t)
/// v_t  = beta2_t * v + (1 - beta2_t) * g^2
/// vhat = v_t   or   max(vhat, v_t)  (AMSGrad)
/// den  = sqrt(vhat) / sqrt(1 - beta2_t^n) + eps_t        (eps outside the root, after
///                                                      bias correction, as PyTorch)
/// p_t  = p - lr_t / (1 - beta1_t^n) * m_t / den
/// ```
///
/// where `n` is the variable's own update count (1 on its first update). With a
/// [`TrustRatio`] (LAMB), the direction `u = m_t / (1 - beta1^n) / den (+ wd * p when
/// decoupled)` is scaled by `coefficient * ||p|| / ||u||` and `p_t = p - lr_t * ratio * u`.
///
/// Parameters (schedules; plain `f64` is constant): `lr` (`>= 0`), `beta1`, `beta2` (in
/// `[0, 1)`, default 0.9, 0.999), `eps` (`>= 0`, default 1e-8), `weight_decay` (`>= 0`,
/// default 0 for Adam, 0.01 for AdamW).
///
/// # Errors
///
/// Every step checks the evaluated values and fails with
/// [`Error::InvalidHyperparameter`] naming the hyperparameter and step.
///
/// # Examples
///
/// ```
/// use cadence_candle::{AdamConfig, ScheduledOptimizer};
/// use candle_core::{Device, Var};
/// use candle_nn::Optimizer;
///
/// let x = Var::from_vec(vec![1.0_f64, -2.0], 2, &Device::Cpu)?;
/// let mut opt = ScheduledOptimizer::new(vec![x.clone()], AdamConfig::adam(0.1).into())?;
/// opt.backward_step(&x.as_tensor().sqr()?.sum_all()?)?;
/// // Adam's first step moves every coordinate by lr (up to eps) against the gradient sign.
/// let v = x.as_tensor().to_vec1::<f64>()?;
/// assert!((v[0] - 0.9).abs() < 1e-7 && (v[1] + 1.9).abs() < 1e-7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
///
/// - Kingma, Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
/// - Loshchilov, Hutter, "Decoupled Weight Decay Regularization", ICLR 2019 (AdamW).
/// - Reddi, Kale, Kumar, "On the Convergence of Adam and Beyond", ICLR 2018 (AMSGrad).
/// - PyTorch, `torch.optim.Adam` and `torch.optim.AdamW`.
#[derive(Debug, Clone)]
pub struct AdamConfig {
    pub(crate) lr: Hyper,
    beta1: Hyper,
    beta2: Hyper,
    eps: Hyper,
    pub(crate) weight_decay: Hyper,
    decay: WeightDecay,
    second_moment: SecondMoment,
    trust: TrustRatio,
}

impl AdamConfig {
    /// Adam (L2 weight decay, default 0) with PyTorch's defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// let c = cadence_candle::AdamConfig::adam(1e-3);
    /// assert_eq!(c.lr().value(0), 1e-3);
    /// ```
    pub fn adam(lr: impl Schedule + 'static) -> Self {
        AdamConfig {
            lr: hyper(lr),
            beta1: hyper(0.9),
            beta2: hyper(0.999),
            eps: hyper(1e-8),
            weight_decay: hyper(0.0),
            decay: WeightDecay::L2,
            second_moment: SecondMoment::Average,
            trust: TrustRatio::Off,
        }
    }

    /// AdamW (decoupled weight decay, default 0.01) with PyTorch's defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{AdamConfig, WeightDecay};
    /// assert_eq!(AdamConfig::adamw(1e-3).decay_kind(), WeightDecay::Decoupled);
    /// ```
    pub fn adamw(lr: impl Schedule + 'static) -> Self {
        AdamConfig {
            weight_decay: hyper(0.01),
            decay: WeightDecay::Decoupled,
            ..AdamConfig::adam(lr)
        }
    }

    /// Sets the `beta1` and `beta2` schedules.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::AdamConfig::adamw(1e-3).betas(0.9, 0.95);
    /// # let _ = c;
    /// ```
    pub fn betas(mut self, beta1: impl Schedule + 'static, beta2: impl Schedule + 'static) -> Self {
        self.beta1 = hyper(beta1);
        self.beta2 = hyper(beta2);
        self
    }

    /// Sets the `eps` schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::AdamConfig::adamw(1e-3).eps(1e-6);
    /// # let _ = c;
    /// ```
    pub fn eps(mut self, eps: impl Schedule + 'static) -> Self {
        self.eps = hyper(eps);
        self
    }

    /// Sets the weight-decay schedule (its kind stays as constructed).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::AdamConfig::adamw(1e-3).weight_decay(0.1);
    /// # let _ = c;
    /// ```
    pub fn weight_decay(mut self, weight_decay: impl Schedule + 'static) -> Self {
        self.weight_decay = hyper(weight_decay);
        self
    }

    /// Chooses the second-moment estimate (AMSGrad or not).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{AdamConfig, SecondMoment};
    /// let c = AdamConfig::adam(1e-3).second_moment(SecondMoment::AmsGrad);
    /// # let _ = c;
    /// ```
    pub fn second_moment(mut self, second_moment: SecondMoment) -> Self {
        self.second_moment = second_moment;
        self
    }

    /// Sets the trust-ratio option (LAMB).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{AdamConfig, TrustRatio};
    /// let lamb = AdamConfig::adamw(1e-3).trust_ratio(TrustRatio::Layerwise { coefficient: 1.0 });
    /// # let _ = lamb;
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
    /// assert_eq!(cadence_candle::AdamConfig::adam(0.5).lr().value(9), 0.5);
    /// ```
    pub fn lr(&self) -> &Hyper {
        &self.lr
    }

    /// How weight decay is applied.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{AdamConfig, WeightDecay};
    /// assert_eq!(AdamConfig::adam(1e-3).decay_kind(), WeightDecay::L2);
    /// ```
    pub fn decay_kind(&self) -> WeightDecay {
        self.decay
    }

    /// The second-moment estimate.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{AdamConfig, SecondMoment};
    /// assert_eq!(AdamConfig::adam(1e-3).second_moment_kind(), SecondMoment::Average);
    /// ```
    pub fn second_moment_kind(&self) -> SecondMoment {
        self.second_moment
    }

    pub(crate) fn set_lr(&mut self, lr: Hyper) {
        self.lr = lr;
    }

    /// Evaluates and checks this step's values for `group`.
    pub(crate) fn kernel(&self, group: &ParamGroup, step: u64) -> Result<AdamStep, Error> {
        Ok(AdamStep {
            lr: Domain::NonNegative.check("lr", step, group.lr_at(&self.lr, step))?,
            beta1: eval("beta1", &self.beta1, step, Domain::UnitOpen)?,
            beta2: eval("beta2", &self.beta2, step, Domain::UnitOpen)?,
            eps: eval("eps", &self.eps, step, Domain::NonNegative)?,
            weight_decay: Domain::NonNegative.check(
                "weight_decay",
                step,
                group.weight_decay_at(&self.weight_decay, step),
            )?,
            decoupled: self.decay == WeightDecay::Decoupled,
            amsgrad: self.second_moment == SecondMoment::AmsGrad,
            trust: self.trust.coefficient(),
        })
    }
}

/// One step of Adam for one group, hyperparameters evaluated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamStep {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    amsgrad: bool,
    trust: Option<f64>,
}

impl Kernel for AdamStep {
    fn update<T: Float>(&self, p: &mut [T], g: &[T], st: &mut State<T>) {
        let n = p.len();
        if st.bufs.is_empty() {
            let count = if self.amsgrad { 3 } else { 2 };
            st.bufs = vec![vec![T::ZERO; n]; count];
        }
        st.count += 1;
        let count = st.count as f64;
        let bc1 = 1.0 - self.beta1.powf(count);
        let bc2_sqrt = T::of((1.0 - self.beta2.powf(count)).sqrt());
        let w1 = T::of(1.0 - self.beta1);
        let w1_small = lerp_small(1.0 - self.beta1);
        let b2 = T::of(self.beta2);
        let one_minus_b2 = T::of(1.0 - self.beta2);
        let eps = T::of(self.eps);
        let wd = T::of(self.weight_decay);
        let l2 = self.weight_decay != 0.0 && !self.decoupled;
        let shrink = (self.weight_decay != 0.0 && self.decoupled)
            .then(|| T::of(1.0 - self.lr * self.weight_decay));
        let amsgrad = self.amsgrad;
        // Moments update shared by both paths; returns the (possibly AMSGrad) v to divide by.
        let moments = move |x: T, gi: T, m: &mut T, v: &mut T, vmax: Option<&mut T>| -> T {
            let gi = if l2 { gi + wd * x } else { gi };
            *m = lerp(*m, gi, w1, w1_small);
            *v = *v * b2 + one_minus_b2 * gi * gi;
            match vmax {
                Some(vm) => {
                    *vm = vm.max(*v);
                    *vm
                }
                None => *v,
            }
        };
        match self.trust {
            None => {
                // Without decoupled decay the shrink factor is exactly 1 (`x * 1 == x` bit
                // for bit), so one loop serves both; the other flags are const parameters
                // of the loop, so its body is branch-free and vectorises.
                let s = Scalars {
                    shrink: shrink.unwrap_or(T::of(1.0)),
                    wd,
                    w1,
                    b2,
                    one_minus_b2,
                    bc2_sqrt,
                    eps,
                    neg_step: T::of(-self.lr / bc1),
                };
                chunked(p, Some(g), &mut st.bufs, |p, g, b| {
                    let g = g.unwrap_or_default();
                    match (b, l2, w1_small) {
                        ([m, v], false, true) => average::<T, false, true>(&s, p, g, m, v),
                        ([m, v], false, false) => average::<T, false, false>(&s, p, g, m, v),
                        ([m, v], true, true) => average::<T, true, true>(&s, p, g, m, v),
                        ([m, v], true, false) => average::<T, true, false>(&s, p, g, m, v),
                        ([m, v, vm], false, true) => ams::<T, false, true>(&s, p, g, m, v, vm),
                        ([m, v, vm], false, false) => ams::<T, false, false>(&s, p, g, m, v, vm),
                        ([m, v, vm], true, true) => ams::<T, true, true>(&s, p, g, m, v, vm),
                        ([m, v, vm], true, false) => ams::<T, true, false>(&s, p, g, m, v, vm),
                        _ => {}
                    }
                    [0.0, 0.0]
                });
            }
            Some(c) => {
                let inv_bc1 = T::of(1.0 / bc1);
                let decoupled_wd = if self.decoupled && self.weight_decay != 0.0 {
                    Some(wd)
                } else {
                    None
                };
                let direction = move |x: T, m: T, vv: T| {
                    let u = m * inv_bc1 / (vv.sqrt() / bc2_sqrt + eps);
                    decoupled_wd.map_or(u, |wd| u + wd * x)
                };
                // Pass 1: moments, and the norms of p and of the direction.
                let [pp, uu] = chunked(p, Some(g), &mut st.bufs, |p, g, b| {
                    let g = g.unwrap_or_default();
                    let mut acc = [0.0, 0.0];
                    let (m, v, mut vmax) = match b {
                        [m, v] => (&mut **m, &mut **v, None),
                        [m, v, vm] => (&mut **m, &mut **v, Some(&mut **vm)),
                        _ => return acc,
                    };
                    for i in 0..p.len() {
                        let vv = moments(
                            p[i],
                            g[i],
                            &mut m[i],
                            &mut v[i],
                            vmax.as_mut().map(|vm| &mut vm[i]),
                        );
                        let u = direction(p[i], m[i], vv).to_f64();
                        acc[0] += p[i].to_f64() * p[i].to_f64();
                        acc[1] += u * u;
                    }
                    acc
                });
                let neg_step = T::of(-self.lr * trust_ratio(c, pp, uu));
                // Pass 2: apply the scaled direction.
                chunked(p, None, &mut st.bufs, |p, _, b| {
                    let (m, v) = match b {
                        [m, v] | [m, v, _] if !amsgrad => (&**m, &**v),
                        [m, _, vm] => (&**m, &**vm),
                        _ => return [0.0, 0.0],
                    };
                    for ((x, &m), &vv) in p.iter_mut().zip(m).zip(v) {
                        *x = *x + neg_step * direction(*x, m, vv);
                    }
                    [0.0, 0.0]
                });
            }
        }
    }
}

/// One step's scalars, converted to the element type once.
#[derive(Clone, Copy)]
struct Scalars<T> {
    /// `1 - lr * wd` for decoupled decay, else exactly 1.
    shrink: T,
    wd: T,
    w1: T,
    b2: T,
    one_minus_b2: T,
    bc2_sqrt: T,
    eps: T,
    neg_step: T,
}

/// The moment updates and the new parameter for one element; returns `(x, m, v)` and
/// divides by `vhat` (`v` itself unless AMSGrad passes its running maximum through
/// `vhat_of`).
#[inline(always)]
fn element<T: Float, const L2: bool, const SMALL: bool>(
    s: &Scalars<T>,
    x: T,
    gi: T,
    m: T,
    v: T,
    vhat_of: impl FnOnce(T) -> T,
) -> (T, T, T) {
    let gi = if L2 { gi + s.wd * x } else { gi };
    let m = lerp(m, gi, s.w1, SMALL);
    let v = v * s.b2 + s.one_minus_b2 * gi * gi;
    let vhat = vhat_of(v);
    let x = x * s.shrink + s.neg_step * (m / (vhat.sqrt() / s.bc2_sqrt + s.eps));
    (x, m, v)
}

/// Adam dividing by the moving average `v`.
fn average<T: Float, const L2: bool, const SMALL: bool>(
    s: &Scalars<T>,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    for (((x, &gi), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        (*x, *m, *v) = element::<T, L2, SMALL>(s, *x, gi, *m, *v, |v| v);
    }
}

/// AMSGrad: dividing by the running maximum of `v`.
fn ams<T: Float, const L2: bool, const SMALL: bool>(
    s: &Scalars<T>,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
) {
    let n = p.len();
    let (g, m, v, vmax) = (&g[..n], &mut m[..n], &mut v[..n], &mut vmax[..n]);
    for ((((x, &gi), m), v), vm) in p
        .iter_mut()
        .zip(g)
        .zip(m.iter_mut())
        .zip(v.iter_mut())
        .zip(vmax.iter_mut())
    {
        (*x, *m, *v) = element::<T, L2, SMALL>(s, *x, gi, *m, *v, |v| {
            *vm = vm.max(v);
            *vm
        });
    }
}
