//! Early stopping: stop when the metric has not improved for `patience` observations.

use super::{
    Controller, ControllerState, Decision, Mode, Observation, StopReason, Threshold, check_best,
};
use crate::error::{Error, check};

/// The configuration of [`EarlyStopping`].
///
/// # Parameters
/// - `mode`: [`Mode::Min`] for a loss, [`Mode::Max`] for an accuracy.
/// - `patience`: the run stops on the `patience`-th observation in a row that does not
///   improve on the best (Keras and Lightning semantics; default 10).
/// - `min_delta`: the absolute margin an improvement must beat, `>= 0` (default 0).
///
/// # Examples
///
/// ```
/// use cadence::controllers::{EarlyStoppingConfig, Mode};
///
/// let config = EarlyStoppingConfig { mode: Mode::Max, patience: 3, min_delta: 1e-3 };
/// assert_eq!(EarlyStoppingConfig::default().patience, 10);
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields, default))]
pub struct EarlyStoppingConfig {
    /// Whether lower or higher is better.
    pub mode: Mode,
    /// Non-improving observations in a row that stop the run.
    pub patience: u64,
    /// Absolute margin an improvement must beat.
    pub min_delta: f64,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        EarlyStoppingConfig {
            mode: Mode::Min,
            patience: 10,
            min_delta: 0.0,
        }
    }
}

/// The mutable state of [`EarlyStopping`].
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, ControllerState, EarlyStopping, Observation};
///
/// let mut stop = EarlyStopping::new(Default::default())?;
/// stop.observe(Observation::new(50, 0.3))?;
/// let ControllerState::EarlyStopping(s) = stop.state() else { unreachable!() };
/// assert_eq!(s.best(), Some((50, 0.3)));
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct EarlyStoppingState {
    best: Option<f64>,
    best_step: u64,
    bad: u64,
}

impl EarlyStoppingState {
    /// The best step and metric so far.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::controllers::EarlyStoppingState::default().best(), None);
    /// ```
    pub fn best(&self) -> Option<(u64, f64)> {
        self.best.map(|b| (self.best_step, b))
    }

    /// Non-improving observations since the best.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::controllers::EarlyStoppingState::default().bad(), 0);
    /// ```
    pub fn bad(&self) -> u64 {
        self.bad
    }
}

/// Stops the run when the metric has not improved by more than `min_delta` for
/// `patience` observations in a row; reports the best step and value so the caller can
/// restore the best checkpoint. Its scale is always 1.
///
/// ```text
/// improvement:  Min: m < best - min_delta      Max: m > best + min_delta
/// on improvement: best = m, best_step = step, bad = 0;  else bad += 1
/// stop when bad >= patience (and on every later observation until an improvement)
/// ```
///
/// # Errors
/// [`EarlyStopping::new`]: [`Error::InvalidParameter`] for a negative or non-finite
/// `min_delta`. [`Controller::observe`]: [`Error::NonFiniteMetric`] (state unchanged).
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, Decision, EarlyStopping, EarlyStoppingConfig, Observation, StopReason};
///
/// let mut stop = EarlyStopping::new(EarlyStoppingConfig { patience: 2, min_delta: 0.01, ..Default::default() })?;
/// assert_eq!(stop.observe(Observation::new(10, 0.50))?, Decision::Continue);
/// assert_eq!(stop.observe(Observation::new(20, 0.495))?, Decision::Continue); // < min_delta
/// assert_eq!(
///     stop.observe(Observation::new(30, 0.493))?,
///     Decision::Stop(StopReason::NoImprovement { best_step: 10, best: 0.5, waited: 2 })
/// );
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Keras `EarlyStopping`; PyTorch Lightning `EarlyStopping`.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopping {
    config: EarlyStoppingConfig,
    state: EarlyStoppingState,
}

impl EarlyStopping {
    /// An early-stopping rule; see the type's documentation.
    ///
    /// # Errors
    /// `min_delta` must be finite and `>= 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{EarlyStopping, EarlyStoppingConfig};
    ///
    /// assert!(EarlyStopping::new(EarlyStoppingConfig { min_delta: -1.0, ..Default::default() }).is_err());
    /// ```
    pub fn new(config: EarlyStoppingConfig) -> Result<Self, Error> {
        check::non_negative("min_delta", config.min_delta)?;
        Ok(EarlyStopping {
            config,
            state: EarlyStoppingState::default(),
        })
    }
}

impl Controller for EarlyStopping {
    fn observe(&mut self, obs: Observation) -> Result<Decision, Error> {
        let metric = obs.finite_metric()?;
        let c = &self.config;
        let s = &mut self.state;
        if Threshold::Abs(c.min_delta).is_better(c.mode, metric, s.best) {
            s.best = Some(metric);
            s.best_step = obs.step;
            s.bad = 0;
            return Ok(Decision::Continue);
        }
        s.bad = s.bad.saturating_add(1);
        match s.best {
            Some(best) if s.bad >= c.patience => Ok(Decision::Stop(StopReason::NoImprovement {
                best_step: s.best_step,
                best,
                waited: s.bad,
            })),
            _ => Ok(Decision::Continue),
        }
    }

    fn scale(&self) -> f64 {
        1.0
    }

    fn state(&self) -> ControllerState {
        ControllerState::EarlyStopping(self.state.clone())
    }

    fn restore(&mut self, state: &ControllerState) -> Result<(), Error> {
        let ControllerState::EarlyStopping(s) = state else {
            return Err(Error::mismatch("kind", "early_stopping", state.kind()));
        };
        check_best("best", s.best)?;
        if s.best.is_none() && (s.bad > 0 || s.best_step > 0) {
            return Err(Error::corrupt(
                "bad",
                s.bad,
                "must be 0 before any observation",
            ));
        }
        self.state = s.clone();
        Ok(())
    }

    #[cfg(feature = "serde")]
    fn fingerprint(&self) -> Option<String> {
        super::config_fingerprint("early_stopping", &self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patience_zero_stops_on_first_non_improvement() {
        let mut e = EarlyStopping::new(EarlyStoppingConfig {
            patience: 0,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            e.observe(Observation::new(1, 1.0)).unwrap(),
            Decision::Continue
        );
        assert!(e.observe(Observation::new(2, 1.0)).unwrap().is_stop());
    }

    #[test]
    fn max_mode_and_recovery() {
        let mut e = EarlyStopping::new(EarlyStoppingConfig {
            mode: Mode::Max,
            patience: 2,
            min_delta: 0.0,
        })
        .unwrap();
        let accs = [0.5, 0.6, 0.55, 0.58, 0.61, 0.6, 0.6];
        let stops: Vec<bool> = accs
            .iter()
            .enumerate()
            .map(|(i, &a)| e.observe(Observation::new(i as u64, a)).unwrap().is_stop())
            .collect();
        assert_eq!(stops, [false, false, false, true, false, false, true]);
        let ControllerState::EarlyStopping(s) = e.state() else {
            unreachable!()
        };
        assert_eq!(s.best(), Some((4, 0.61)));
    }

    #[test]
    fn nan_is_typed_error() {
        let mut e = EarlyStopping::new(Default::default()).unwrap();
        assert!(matches!(
            e.observe(Observation::new(3, f64::NAN)),
            Err(Error::NonFiniteMetric { step: 3, .. })
        ));
        assert_eq!(e.state, EarlyStoppingState::default());
    }
}
