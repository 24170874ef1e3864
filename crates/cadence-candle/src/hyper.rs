//! Hyperparameters as schedules and their per-step validation.

use crate::Error;
use cadence::Schedule;
use std::sync::Arc;

/// A scheduled hyperparameter: any [`cadence::Schedule`], shared. A plain `f64` is a
/// constant schedule.
///
/// # Examples
///
/// ```
/// use cadence::Schedule;
/// use cadence_candle::Hyper;
/// use std::sync::Arc;
///
/// let lr: Hyper = Arc::new(0.1);
/// assert_eq!(lr.value(1_000), 0.1);
/// ```
pub type Hyper = Arc<dyn Schedule>;

/// Wraps a schedule as a [`Hyper`].
pub(crate) fn hyper(s: impl Schedule + 'static) -> Hyper {
    Arc::new(s)
}

/// The domain a hyperparameter's value must lie in at every step.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Domain {
    /// Finite and `>= 0`.
    NonNegative,
    /// In `[0, 1)`.
    UnitOpen,
    /// In `[0, 1]`.
    Unit,
    /// In `(0, 1)`.
    Interior,
}

impl Domain {
    fn rule(self) -> &'static str {
        match self {
            Domain::NonNegative => "must be finite and >= 0",
            Domain::UnitOpen => "must be in [0, 1)",
            Domain::Unit => "must be in [0, 1]",
            Domain::Interior => "must be in (0, 1)",
        }
    }

    fn contains(self, x: f64) -> bool {
        match self {
            Domain::NonNegative => x.is_finite() && x >= 0.0,
            Domain::UnitOpen => (0.0..1.0).contains(&x),
            Domain::Unit => (0.0..=1.0).contains(&x),
            Domain::Interior => x > 0.0 && x < 1.0,
        }
    }

    /// Checks a value evaluated at `step`.
    pub(crate) fn check(self, name: &'static str, step: u64, value: f64) -> Result<f64, Error> {
        if self.contains(value) {
            Ok(value)
        } else {
            Err(Error::InvalidHyperparameter {
                name,
                step,
                value,
                rule: self.rule(),
            })
        }
    }
}

/// Evaluates `s` at `step` and checks it against `domain`.
pub(crate) fn eval(name: &'static str, s: &Hyper, step: u64, domain: Domain) -> Result<f64, Error> {
    domain.check(name, step, s.value(step))
}

/// A layer-wise trust-ratio option (LARS for SGD, LAMB for Adam).
///
/// With `Layerwise { coefficient }`, each variable's update direction `u` (gradient plus
/// weight decay for SGD, before momentum; the bias-corrected Adam direction plus decoupled
/// weight decay for Adam) is scaled by
///
/// ```text
/// ratio = coefficient * ||p|| / ||u||     (1 when ||p|| = 0 or ||u|| = 0)
/// ```
///
/// computed per variable (per "layer"). Norms are summed in fixed chunks, so results do
/// not depend on the thread count.
///
/// # Examples
///
/// ```
/// use cadence_candle::{SgdConfig, TrustRatio};
///
/// let lars = SgdConfig::new(0.1).momentum(0.9).trust_ratio(TrustRatio::Layerwise { coefficient: 0.001 });
/// assert_eq!(lars.trust(), TrustRatio::Layerwise { coefficient: 0.001 });
/// ```
///
/// # References
///
/// - You, Gitman, Ginsburg, "Large Batch Training of Convolutional Networks" (LARS), 2017.
/// - You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes"
///   (LAMB), ICLR 2020.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum TrustRatio {
    /// No trust ratio (plain SGD / Adam).
    #[default]
    Off,
    /// Scale each variable's update by `coefficient * ||p|| / ||u||`.
    Layerwise {
        /// The trust coefficient (LARS' `eta`; 1 for LAMB).
        coefficient: f64,
    },
}

impl TrustRatio {
    pub(crate) fn coefficient(self) -> Option<f64> {
        match self {
            TrustRatio::Off => None,
            TrustRatio::Layerwise { coefficient } => Some(coefficient),
        }
    }
}

/// How weight decay enters the update.
///
/// # Examples
///
/// ```
/// use cadence_candle::{AdamConfig, WeightDecay};
///
/// assert_eq!(AdamConfig::adamw(1e-3).decay_kind(), WeightDecay::Decoupled);
/// assert_eq!(AdamConfig::adam(1e-3).decay_kind(), WeightDecay::L2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDecay {
    /// Added to the gradient, `g + wd * p` (PyTorch's `Adam(weight_decay=...)`).
    L2,
    /// Applied to the parameter, `p * (1 - lr * wd)` (PyTorch's `AdamW`).
    Decoupled,
}
