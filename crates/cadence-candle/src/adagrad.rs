//! Adagrad with learning-rate decay, initial accumulator and eps.

use crate::hyper::{Domain, Hyper, eval, hyper};
use crate::kernel::{Float, Kernel, State, chunked};
use crate::{Error, ParamGroup};
use cadence::Schedule;

/// Configuration of Adagrad with PyTorch's `torch.optim.Adagrad` update rule.
///
/// ```text
/// g   = g + wd_t * p                                    (if wd_t != 0)
/// clr = lr_t / (1 + (n - 1) * lr_decay_t)               (n: the variable's update count)
/// s_t = s + g^2                                         (s_0 = initial_accumulator_value)
/// p_t = p - clr * g / (sqrt(s_t) + eps_t)
/// ```
///
/// Parameters: `lr`, `lr_decay`, `weight_decay`, `eps` (schedules, `>= 0`; defaults 0,
/// 0, 1e-10) and `initial_accumulator_value` (a fixed `f64 >= 0`, default 0, used when a
/// variable's state is created).
///
/// # Errors
///
/// [`AdagradConfig::initial_accumulator_value`] rejects a negative or non-finite value;
/// every step checks the evaluated schedules and fails with
/// [`Error::InvalidHyperparameter`].
///
/// # Examples
///
/// ```
/// use cadence_candle::{AdagradConfig, ScheduledOptimizer};
/// use candle_core::{Device, Var};
/// use candle_nn::Optimizer;
///
/// let x = Var::from_vec(vec![1.0_f64], 1, &Device::Cpu)?;
/// let mut opt = ScheduledOptimizer::new(vec![x.clone()], AdagradConfig::new(0.3).into())?;
/// opt.backward_step(&x.as_tensor().sqr()?.sum_all()?)?;
/// // the first step has size lr: 2 / sqrt(4) = 1
/// let v = x.as_tensor().to_vec1::<f64>()?[0];
/// assert!((v - 0.7).abs() < 1e-9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
///
/// - Duchi, Hazan, Singer, "Adaptive Subgradient Methods for Online Learning and
///   Stochastic Optimization", JMLR 2011.
/// - PyTorch, `torch.optim.Adagrad`.
#[derive(Debug, Clone)]
pub struct AdagradConfig {
    pub(crate) lr: Hyper,
    lr_decay: Hyper,
    pub(crate) weight_decay: Hyper,
    eps: Hyper,
    initial_accumulator_value: f64,
}

impl AdagradConfig {
    /// Adagrad with learning rate `lr` and PyTorch's defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// assert_eq!(cadence_candle::AdagradConfig::new(0.01).lr().value(0), 0.01);
    /// ```
    pub fn new(lr: impl Schedule + 'static) -> Self {
        AdagradConfig {
            lr: hyper(lr),
            lr_decay: hyper(0.0),
            weight_decay: hyper(0.0),
            eps: hyper(1e-10),
            initial_accumulator_value: 0.0,
        }
    }

    /// Sets the `lr_decay` schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::AdagradConfig::new(0.01).lr_decay(1e-3);
    /// # let _ = c;
    /// ```
    pub fn lr_decay(mut self, lr_decay: impl Schedule + 'static) -> Self {
        self.lr_decay = hyper(lr_decay);
        self
    }

    /// Sets the (L2) weight-decay schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::AdagradConfig::new(0.01).weight_decay(1e-4);
    /// # let _ = c;
    /// ```
    pub fn weight_decay(mut self, weight_decay: impl Schedule + 'static) -> Self {
        self.weight_decay = hyper(weight_decay);
        self
    }

    /// Sets the `eps` schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::AdagradConfig::new(0.01).eps(1e-8);
    /// # let _ = c;
    /// ```
    pub fn eps(mut self, eps: impl Schedule + 'static) -> Self {
        self.eps = hyper(eps);
        self
    }

    /// Sets the initial value of the squared-gradient accumulator.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming `initial_accumulator_value` if `value` is
    /// negative or not finite.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = cadence_candle::AdagradConfig::new(0.01).initial_accumulator_value(0.1)?;
    /// assert_eq!(c.initial_accumulator(), 0.1);
    /// # Ok::<(), cadence_candle::Error>(())
    /// ```
    pub fn initial_accumulator_value(mut self, value: f64) -> Result<Self, Error> {
        if !(value.is_finite() && value >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "initial_accumulator_value",
                value: value.to_string(),
                rule: "must be finite and >= 0",
            });
        }
        self.initial_accumulator_value = value;
        Ok(self)
    }

    /// The learning-rate schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    /// assert_eq!(cadence_candle::AdagradConfig::new(0.5).lr().value(9), 0.5);
    /// ```
    pub fn lr(&self) -> &Hyper {
        &self.lr
    }

    /// The initial accumulator value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::AdagradConfig::new(0.5).initial_accumulator(), 0.0);
    /// ```
    pub fn initial_accumulator(&self) -> f64 {
        self.initial_accumulator_value
    }

    pub(crate) fn set_lr(&mut self, lr: Hyper) {
        self.lr = lr;
    }

    pub(crate) fn kernel(&self, group: &ParamGroup, step: u64) -> Result<AdagradStep, Error> {
        Ok(AdagradStep {
            lr: Domain::NonNegative.check("lr", step, group.lr_at(&self.lr, step))?,
            lr_decay: eval("lr_decay", &self.lr_decay, step, Domain::NonNegative)?,
            weight_decay: Domain::NonNegative.check(
                "weight_decay",
                step,
                group.weight_decay_at(&self.weight_decay, step),
            )?,
            eps: eval("eps", &self.eps, step, Domain::NonNegative)?,
            initial: self.initial_accumulator_value,
        })
    }
}

/// One step of Adagrad for one group. Buffer: `sum`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdagradStep {
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    initial: f64,
}

impl Kernel for AdagradStep {
    fn update<T: Float>(&self, p: &mut [T], g: &[T], st: &mut State<T>) {
        if st.bufs.is_empty() {
            st.bufs = vec![vec![T::of(self.initial); p.len()]];
        }
        st.count += 1;
        let clr = self.lr / (1.0 + (st.count - 1) as f64 * self.lr_decay);
        let neg_clr = T::of(-clr);
        let decay = self.weight_decay != 0.0;
        let wd = T::of(self.weight_decay);
        let eps = T::of(self.eps);
        chunked(p, Some(g), &mut st.bufs, |p, g, b| {
            let g = g.unwrap_or_default();
            let [sum] = b else { return [0.0, 0.0] };
            for ((x, &gi), s) in p.iter_mut().zip(g).zip(sum.iter_mut()) {
                let gi = if decay { gi + wd * *x } else { gi };
                *s = *s + gi * gi;
                *x = *x + neg_clr * (gi / (s.sqrt() + eps));
            }
            [0.0, 0.0]
        });
    }
}
