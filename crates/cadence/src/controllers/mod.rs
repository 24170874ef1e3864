//! Metric-driven controllers: stateful rules that watch a metric and answer with a
//! multiplicative scale and a [`Decision`].
//!
//! A [`Schedule`](crate::Schedule) is a pure function of the step; a [`Controller`] is the
//! opposite, a small state machine fed one [`Observation`] at a time. The two compose by
//! multiplication: the value used for training is `schedule.value(step) * controller.scale()`,
//! so a plateau rule works on top of warmup, cosine, restarts or anything else, and resuming
//! needs the step plus the controller's explicit, serialisable [`ControllerState`].
//!
//! - [`ReduceOnPlateau`]: cut the scale when the metric stops improving (PyTorch's
//!   `ReduceLROnPlateau`, decision for decision).
//! - [`EarlyStopping`]: stop when the metric has not improved for `patience` observations.
//! - [`DivergenceGuard`]: on a non-finite or spiking loss, ask for a rollback and cut the
//!   scale; after `max_retries` rollbacks, stop.
//! - [`Greedy`]: raise the scale on a run of improvements, cut it on a run of
//!   non-improvements (transformers' `GreedyLR`).
//!
//! ```
//! use cadence::controllers::{Controller, Decision, Observation, PlateauConfig, ReduceOnPlateau};
//! use cadence::{Linear, Schedule};
//!
//! let base = Linear::new(0.0, 0.1, 3)?; // a warmup, then 0.1
//! let mut plateau = ReduceOnPlateau::new(PlateauConfig { factor: 0.5, patience: 1, ..Default::default() })?;
//! for (step, loss) in [(1, 1.0), (2, 1.0), (3, 1.0)] {
//!     plateau.observe(Observation::new(step, loss).with_base(base.value(step)))?;
//! }
//! assert_eq!(plateau.scale(), 0.5);
//! assert_eq!(base.value(5) * plateau.scale(), 0.05);
//! # Ok::<(), cadence::Error>(())
//! ```

mod divergence;
mod early_stopping;
mod greedy;
mod plateau;

pub use divergence::{DivergenceConfig, DivergenceGuard, DivergenceState};
pub use early_stopping::{EarlyStopping, EarlyStoppingConfig, EarlyStoppingState};
pub use greedy::{Greedy, GreedyConfig, GreedyState};
pub use plateau::{PlateauConfig, PlateauState, ReduceOnPlateau};

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use crate::error::{Error, check};

/// One metric reading handed to a [`Controller`].
///
/// - `step`: the number of optimizer steps completed when the metric was measured (the
///   runtime's clock, and the step a checkpoint taken now would carry).
/// - `metric`: the value (a loss, an accuracy...).
/// - `base`: the value the controller's scale multiplies at this step, i.e. the schedule's
///   value times every *other* controller's scale. Controllers that act on the combined
///   value (the absolute floor and minimum change of [`ReduceOnPlateau`], as in PyTorch)
///   read it; it is `1.0` by default, which makes those limits apply to the scale itself.
///
/// # Examples
///
/// ```
/// use cadence::controllers::Observation;
///
/// let obs = Observation::new(100, 0.42).with_base(3e-4);
/// assert_eq!((obs.step, obs.metric, obs.base), (100, 0.42, 3e-4));
/// assert_eq!(Observation::new(1, 0.5).base, 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Optimizer steps completed when the metric was measured.
    pub step: u64,
    /// The metric.
    pub metric: f64,
    /// The value the controller's scale multiplies at `step` (default `1.0`).
    pub base: f64,
}

impl Observation {
    /// An observation with `base = 1.0`.
    ///
    /// # Examples
    ///
    /// ```
    /// let obs = cadence::controllers::Observation::new(3, 0.9);
    /// assert_eq!(obs.step, 3);
    /// ```
    pub fn new(step: u64, metric: f64) -> Self {
        Observation {
            step,
            metric,
            base: 1.0,
        }
    }

    /// The same observation with the given base value.
    ///
    /// # Examples
    ///
    /// ```
    /// let obs = cadence::controllers::Observation::new(3, 0.9).with_base(0.1);
    /// assert_eq!(obs.base, 0.1);
    /// ```
    pub fn with_base(self, base: f64) -> Self {
        Observation { base, ..self }
    }

    /// The metric if it is finite, else [`Error::NonFiniteMetric`].
    pub(crate) fn finite_metric(&self) -> Result<f64, Error> {
        if self.metric.is_finite() {
            Ok(self.metric)
        } else {
            Err(Error::NonFiniteMetric {
                step: self.step,
                value: self.metric,
            })
        }
    }
}

/// What a controller asks the training loop to do after an observation.
///
/// Ordered by severity ([`Decision::severity`]): `Continue` < `Rescaled` < `Rollback` <
/// `Stop`; a runtime holding several controllers reports the most severe.
///
/// # Examples
///
/// ```
/// use cadence::controllers::Decision;
///
/// let d = Decision::Rescaled { from: 1.0, to: 0.5 };
/// assert!(!d.is_stop());
/// assert!(d.severity() > Decision::Continue.severity());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Decision {
    /// Nothing changes.
    Continue,
    /// The controller's scale changed from `from` to `to`; keep training.
    Rescaled {
        /// The scale before.
        from: f64,
        /// The scale from now on.
        to: f64,
    },
    /// Restore the latest checkpoint taken at or before `last_good_step` (the start of
    /// training when `None`), tell the runtime with [`Runtime::rewind`](crate::runtime::Runtime::rewind),
    /// and continue with the controller's (already cut) scale.
    Rollback {
        /// The step of the last healthy observation, if there was one.
        last_good_step: Option<u64>,
        /// What was wrong with the metric.
        cause: DivergenceCause,
    },
    /// Stop training.
    Stop(StopReason),
}

impl Decision {
    /// 0 for `Continue`, 1 `Rescaled`, 2 `Rollback`, 3 `Stop`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::controllers::Decision::Continue.severity(), 0);
    /// ```
    pub fn severity(&self) -> u8 {
        match self {
            Decision::Continue => 0,
            Decision::Rescaled { .. } => 1,
            Decision::Rollback { .. } => 2,
            Decision::Stop(_) => 3,
        }
    }

    /// Whether this is [`Decision::Stop`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!cadence::controllers::Decision::Continue.is_stop());
    /// ```
    pub fn is_stop(&self) -> bool {
        matches!(self, Decision::Stop(_))
    }
}

/// Why a [`DivergenceGuard`] judged a metric unhealthy.
///
/// # Examples
///
/// ```
/// use cadence::controllers::DivergenceCause;
///
/// let c = DivergenceCause::Spike { metric: 9.0, average: 2.0 };
/// assert_eq!(c.to_string(), "loss 9 spiked above 4.5x its running average 2");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DivergenceCause {
    /// The metric was `NaN` or infinite.
    NonFinite,
    /// The metric exceeded the spike factor times the running average.
    Spike {
        /// The metric.
        metric: f64,
        /// The running average it was compared with.
        average: f64,
    },
}

impl fmt::Display for DivergenceCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DivergenceCause::NonFinite => f.write_str("loss is not finite"),
            DivergenceCause::Spike { metric, average } => write!(
                f,
                "loss {metric} spiked above {}x its running average {average}",
                metric / average
            ),
        }
    }
}

/// Why a controller asked to stop.
///
/// # Examples
///
/// ```
/// use cadence::controllers::StopReason;
///
/// let r = StopReason::NoImprovement { best_step: 40, best: 0.31, waited: 5 };
/// assert_eq!(r.to_string(), "no improvement for 5 observations; best 0.31 at step 40");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum StopReason {
    /// [`EarlyStopping`]: the metric did not improve for `waited` observations.
    NoImprovement {
        /// The step of the best observation.
        best_step: u64,
        /// The best metric.
        best: f64,
        /// Observations since the best one.
        waited: u64,
    },
    /// [`DivergenceGuard`]: the run diverged again after every allowed rollback.
    Diverged {
        /// The step of the last unhealthy observation.
        step: u64,
        /// Rollbacks already spent.
        retries: u32,
        /// What was wrong with the last metric.
        cause: DivergenceCause,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::NoImprovement {
                best_step,
                best,
                waited,
            } => write!(
                f,
                "no improvement for {waited} observations; best {best} at step {best_step}"
            ),
            StopReason::Diverged {
                step,
                retries,
                cause,
            } => write!(
                f,
                "diverged at step {step} after {retries} rollbacks: {cause}"
            ),
        }
    }
}

/// The saved state of a controller: one variant per built-in controller, and
/// [`ControllerState::Custom`] for controllers defined elsewhere. Serialised as an object
/// with a `"type"` tag (`"plateau"`, `"early_stopping"`, `"divergence"`, `"greedy"`,
/// `"custom"`) plus the fields.
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, ControllerState, EarlyStopping, EarlyStoppingConfig};
///
/// let stop = EarlyStopping::new(EarlyStoppingConfig::default())?;
/// assert_eq!(stop.state().kind(), "early_stopping");
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ControllerState {
    /// [`ReduceOnPlateau`]'s state.
    Plateau(PlateauState),
    /// [`EarlyStopping`]'s state.
    EarlyStopping(EarlyStoppingState),
    /// [`DivergenceGuard`]'s state.
    Divergence(DivergenceState),
    /// [`Greedy`]'s state.
    Greedy(GreedyState),
    /// The state of a controller defined outside this crate.
    Custom(CustomState),
}

impl ControllerState {
    /// The kind of controller the state belongs to: `"plateau"`, `"early_stopping"`,
    /// `"divergence"`, `"greedy"`, or a custom controller's own kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{Controller, PlateauConfig, ReduceOnPlateau};
    ///
    /// let p = ReduceOnPlateau::new(PlateauConfig::default())?;
    /// assert_eq!(p.state().kind(), "plateau");
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn kind(&self) -> &str {
        match self {
            ControllerState::Plateau(_) => "plateau",
            ControllerState::EarlyStopping(_) => "early_stopping",
            ControllerState::Divergence(_) => "divergence",
            ControllerState::Greedy(_) => "greedy",
            ControllerState::Custom(c) => &c.kind,
        }
    }
}

/// The state of a controller defined outside this crate, as named numbers (`f64`) and
/// named counters (`u64`, exact beyond 2^53), so that it can be saved with a
/// [`Runtime`](crate::runtime::Runtime)'s state.
///
/// # Examples
///
/// ```
/// use cadence::controllers::{ControllerState, CustomState};
///
/// let mut s = CustomState::new("decay_per_observation");
/// s.numbers.insert("scale".into(), 0.25);
/// s.counts.insert("seen".into(), 2);
/// let state = ControllerState::Custom(s);
/// assert_eq!(state.kind(), "decay_per_observation");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct CustomState {
    /// The controller's kind; checked on restore.
    pub kind: String,
    /// Named real-valued fields.
    pub numbers: BTreeMap<String, f64>,
    /// Named counters.
    pub counts: BTreeMap<String, u64>,
}

impl CustomState {
    /// An empty state of the given kind.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::controllers::CustomState::new("mine").numbers.is_empty());
    /// ```
    pub fn new(kind: &str) -> Self {
        CustomState {
            kind: kind.to_owned(),
            ..Default::default()
        }
    }

    /// The number named `field`.
    ///
    /// # Errors
    /// [`Error::CorruptState`] naming the field when it is missing or not finite.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut s = cadence::controllers::CustomState::new("mine");
    /// s.numbers.insert("scale".into(), 0.5);
    /// assert_eq!(s.number("scale")?, 0.5);
    /// assert!(s.number("best").is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn number(&self, field: &str) -> Result<f64, Error> {
        match self.numbers.get(field) {
            Some(x) if x.is_finite() => Ok(*x),
            Some(x) => Err(Error::corrupt(field, x, "must be finite")),
            None => Err(Error::corrupt(field, "missing", "required")),
        }
    }

    /// The counter named `field`.
    ///
    /// # Errors
    /// [`Error::CorruptState`] naming the field when it is missing.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut s = cadence::controllers::CustomState::new("mine");
    /// s.counts.insert("seen".into(), 3);
    /// assert_eq!(s.count("seen")?, 3);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn count(&self, field: &str) -> Result<u64, Error> {
        self.counts
            .get(field)
            .copied()
            .ok_or_else(|| Error::corrupt(field, "missing", "required"))
    }
}

/// A stateful, metric-driven rule whose output is a multiplicative scale and a [`Decision`].
///
/// Implement it for a rule of your own; its state travels in [`ControllerState::Custom`].
/// Implementations must never panic: a metric they cannot act on gives
/// [`Error::NonFiniteMetric`] and leaves the state untouched. [`Controller::state`] and
/// [`Controller::restore`] round-trip exactly: a controller restored from a state behaves
/// identically to the one the state was taken from, from then on.
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, Decision, EarlyStopping, EarlyStoppingConfig, Observation};
///
/// let mut stop = EarlyStopping::new(EarlyStoppingConfig { patience: 2, ..Default::default() })?;
/// let decisions: Vec<Decision> = [1.0, 0.9, 0.95, 0.92]
///     .iter()
///     .enumerate()
///     .map(|(i, &m)| stop.observe(Observation::new(i as u64, m)))
///     .collect::<Result<_, _>>()?;
/// assert!(decisions[3].is_stop());
/// assert_eq!(stop.scale(), 1.0);
/// # Ok::<(), cadence::Error>(())
/// ```
pub trait Controller: fmt::Debug + Send + Sync {
    /// Feeds one metric reading and returns what the training loop should do.
    ///
    /// # Errors
    /// [`Error::NonFiniteMetric`] for a metric the controller cannot act on (state unchanged).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{Controller, Decision, Observation, PlateauConfig, ReduceOnPlateau};
    ///
    /// let mut p = ReduceOnPlateau::new(PlateauConfig::default())?;
    /// assert_eq!(p.observe(Observation::new(1, 0.5))?, Decision::Continue);
    /// assert!(p.observe(Observation::new(2, f64::NAN)).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn observe(&mut self, obs: Observation) -> Result<Decision, Error>;

    /// The multiplicative factor this controller applies now (1 when it has not acted).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{Controller, DivergenceGuard};
    ///
    /// assert_eq!(DivergenceGuard::new(Default::default())?.scale(), 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn scale(&self) -> f64;

    /// A copy of the controller's mutable state.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{Controller, Greedy};
    ///
    /// assert_eq!(Greedy::new(Default::default())?.state().kind(), "greedy");
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn state(&self) -> ControllerState;

    /// Replaces the mutable state with `state`, after checking it belongs to this kind of
    /// controller and is consistent with its configuration.
    ///
    /// # Errors
    /// [`Error::StateMismatch`] for another kind of controller, [`Error::CorruptState`]
    /// for a value breaking an invariant. On error the state is unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{Controller, Observation, PlateauConfig, ReduceOnPlateau};
    ///
    /// let config = PlateauConfig { patience: 0, ..Default::default() };
    /// let mut a = ReduceOnPlateau::new(config.clone())?;
    /// a.observe(Observation::new(1, 1.0))?;
    /// a.observe(Observation::new(2, 1.0))?;
    /// let mut b = ReduceOnPlateau::new(config)?;
    /// b.restore(&a.state())?;
    /// assert_eq!(b.scale(), a.scale());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn restore(&mut self, state: &ControllerState) -> Result<(), Error>;

    /// A fingerprint of the configuration (not the state), when it can be serialised; a
    /// runtime refuses to restore a state saved under a different fingerprint.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{Controller, PlateauConfig, ReduceOnPlateau};
    ///
    /// let a = ReduceOnPlateau::new(PlateauConfig { factor: 0.5, ..Default::default() })?;
    /// let b = ReduceOnPlateau::new(PlateauConfig { factor: 0.2, ..Default::default() })?;
    /// assert_ne!(a.fingerprint(), b.fingerprint());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn fingerprint(&self) -> Option<String> {
        None
    }
}

impl<C: Controller + ?Sized> Controller for Box<C> {
    fn observe(&mut self, obs: Observation) -> Result<Decision, Error> {
        (**self).observe(obs)
    }

    fn scale(&self) -> f64 {
        (**self).scale()
    }

    fn state(&self) -> ControllerState {
        (**self).state()
    }

    fn restore(&mut self, state: &ControllerState) -> Result<(), Error> {
        (**self).restore(state)
    }

    fn fingerprint(&self) -> Option<String> {
        (**self).fingerprint()
    }
}

/// Whether a lower or a higher metric is better.
///
/// # Examples
///
/// ```
/// use cadence::controllers::Mode;
///
/// assert_eq!(Mode::default(), Mode::Min);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Mode {
    /// Lower is better (a loss).
    #[default]
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How much better a metric must be than the best so far to count as an improvement.
///
/// ```text
/// Min, Rel(r):  metric < best * (1 - r)      Min, Abs(a):  metric < best - a
/// Max, Rel(r):  metric > best * (1 + r)      Max, Abs(a):  metric > best + a
/// ```
///
/// These are PyTorch `ReduceLROnPlateau`'s `threshold_mode` rules, literally (so with a
/// negative best, a relative threshold loosens rather than tightens the test). The first
/// finite metric is always an improvement.
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Mode, Threshold};
///
/// assert!(Threshold::Rel(0.1).is_better(Mode::Min, 0.89, Some(1.0)));
/// assert!(!Threshold::Rel(0.1).is_better(Mode::Min, 0.9, Some(1.0)));
/// assert!(Threshold::Abs(0.01).is_better(Mode::Max, 0.52, Some(0.5)));
/// assert!(Threshold::Abs(0.01).is_better(Mode::Max, -3.0, None));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Threshold {
    /// A relative margin `r` in `[0, 1)`.
    Rel(f64),
    /// An absolute margin `a >= 0`.
    Abs(f64),
}

impl Default for Threshold {
    /// PyTorch's default, `Rel(1e-4)`.
    fn default() -> Self {
        Threshold::Rel(1e-4)
    }
}

impl Threshold {
    /// Whether `metric` improves on `best` (`None`: nothing seen yet, always an improvement).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{Mode, Threshold};
    ///
    /// assert!(!Threshold::Abs(0.0).is_better(Mode::Min, 1.0, Some(1.0)));
    /// ```
    pub fn is_better(self, mode: Mode, metric: f64, best: Option<f64>) -> bool {
        let Some(best) = best else { return true };
        match (mode, self) {
            (Mode::Min, Threshold::Rel(r)) => metric < best * (1.0 - r),
            (Mode::Min, Threshold::Abs(a)) => metric < best - a,
            (Mode::Max, Threshold::Rel(r)) => metric > best * (1.0 + r),
            (Mode::Max, Threshold::Abs(a)) => metric > best + a,
        }
    }

    pub(crate) fn validate(self, name: &'static str) -> Result<(), Error> {
        match self {
            Threshold::Rel(r) => {
                if !(r.is_finite() && (0.0..1.0).contains(&r)) {
                    return Err(Error::invalid(
                        name,
                        r,
                        "a relative threshold must be in [0, 1)",
                    ));
                }
            }
            Threshold::Abs(a) => {
                check::non_negative(name, a)?;
            }
        }
        Ok(())
    }
}

/// Pushes `metric` into the window of the most recent `window` metrics and returns their
/// mean (the metric itself when `window == 1`).
pub(crate) fn windowed_mean(recent: &mut VecDeque<f64>, window: usize, metric: f64) -> f64 {
    if recent.len() >= window {
        recent.pop_front();
    }
    recent.push_back(metric);
    if window == 1 {
        metric
    } else {
        recent.iter().sum::<f64>() / recent.len() as f64
    }
}

/// Checks a restored window: at most `window` finite metrics.
pub(crate) fn check_window(recent: &VecDeque<f64>, window: usize) -> Result<(), Error> {
    if recent.len() > window {
        let rule = format!("must hold at most window = {window} metrics");
        return Err(Error::corrupt("recent", recent.len(), rule));
    }
    match recent.iter().find(|m| !m.is_finite()) {
        Some(bad) => Err(Error::corrupt("recent", bad, "metrics must be finite")),
        None => Ok(()),
    }
}

/// The outcome of PyTorch's reduction rule applied through a scale.
pub(crate) struct Cut {
    /// The scale after the cut (unchanged when not applied).
    pub to: f64,
    /// Whether the combined value moved by more than `eps`.
    pub applied: bool,
    /// Whether the floor, not the factor, set the new value.
    pub floored: bool,
}

/// PyTorch's `_reduce_lr` on the combined value `base * scale`:
/// `new = max(old * factor, floor)`, applied only if `old - new > eps`. When the factor
/// decides, the new scale is `scale * factor` exactly; when the floor does, `floor / base`.
pub(crate) fn cut(scale: f64, base: f64, factor: f64, floor: f64, eps: f64) -> Cut {
    let old = base * scale;
    let down = old * factor;
    let floored = down <= floor;
    let (new, to) = if floored {
        (floor, floor / base)
    } else {
        (down, scale * factor)
    };
    let applied = old - new > eps && to.is_finite() && to > 0.0;
    Cut {
        to: if applied { to } else { scale },
        applied,
        floored,
    }
}

/// Checks that a restored `best` is finite when present.
pub(crate) fn check_best(field: &str, best: Option<f64>) -> Result<(), Error> {
    match best {
        Some(b) if !b.is_finite() => Err(Error::corrupt(field, b, "must be finite")),
        _ => Ok(()),
    }
}

/// Checks that a restored scale is finite and positive.
pub(crate) fn check_scale(scale: f64) -> Result<(), Error> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(Error::corrupt("scale", scale, "must be finite and > 0"))
    }
}

/// The fingerprint of a serialisable configuration, tagged with its kind.
#[cfg(feature = "serde")]
pub(crate) fn config_fingerprint<T: serde::Serialize>(kind: &str, config: &T) -> Option<String> {
    crate::fingerprint::of_serialize(config).map(|h| format!("{kind}:{h}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_torch_rules() {
        let cases = [
            (Mode::Min, Threshold::Rel(0.5), 0.49, 1.0, true),
            (Mode::Min, Threshold::Rel(0.5), 0.5, 1.0, false),
            (Mode::Min, Threshold::Abs(0.1), 0.85, 1.0, true),
            (Mode::Min, Threshold::Abs(0.1), 0.95, 1.0, false),
            (Mode::Max, Threshold::Rel(0.5), 1.51, 1.0, true),
            (Mode::Max, Threshold::Rel(0.5), 1.5, 1.0, false),
            (Mode::Max, Threshold::Abs(0.1), 1.2, 1.0, true),
            (Mode::Max, Threshold::Abs(0.1), 1.05, 1.0, false),
        ];
        for (mode, t, m, best, expected) in cases {
            assert_eq!(
                t.is_better(mode, m, Some(best)),
                expected,
                "{mode:?} {t:?} {m}"
            );
        }
    }

    #[test]
    fn threshold_validation() {
        assert!(Threshold::Rel(1.0).validate("threshold").is_err());
        assert!(Threshold::Rel(-0.1).validate("threshold").is_err());
        assert!(Threshold::Abs(f64::NAN).validate("threshold").is_err());
        assert!(Threshold::Abs(0.0).validate("threshold").is_ok());
    }
}
