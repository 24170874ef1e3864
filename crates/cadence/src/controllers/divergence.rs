//! Divergence guard: roll back on a non-finite or spiking loss, with bounded retries.

use super::{
    Controller, ControllerState, Decision, DivergenceCause, Observation, StopReason, check_scale,
};
use crate::error::{Error, check};

/// The configuration of [`DivergenceGuard`].
///
/// # Parameters
/// - `spike_factor`: a loss above `spike_factor` times the running average is a spike,
///   `> 1` (default 4).
/// - `smoothing`: the running average is an exponential moving average with this weight on
///   the past, in `[0, 1)` (default 0.9).
/// - `warmup`: healthy observations needed before spikes are judged (non-finite losses are
///   always caught; default 10).
/// - `cut`: the scale is multiplied by `cut` on every rollback, in `(0, 1]` (default 0.5).
/// - `max_retries`: rollbacks allowed; the next divergence stops the run (default 3).
///
/// # Examples
///
/// ```
/// use cadence::controllers::DivergenceConfig;
///
/// let config = DivergenceConfig { max_retries: 5, ..Default::default() };
/// assert_eq!(config.cut, 0.5);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields, default))]
pub struct DivergenceConfig {
    /// A spike is a loss above `spike_factor` times the running average.
    pub spike_factor: f64,
    /// Weight on the past of the exponential moving average.
    pub smoothing: f64,
    /// Healthy observations before spikes are judged.
    pub warmup: u64,
    /// Scale multiplier on each rollback.
    pub cut: f64,
    /// Rollbacks allowed before stopping.
    pub max_retries: u32,
}

impl Default for DivergenceConfig {
    fn default() -> Self {
        DivergenceConfig {
            spike_factor: 4.0,
            smoothing: 0.9,
            warmup: 10,
            cut: 0.5,
            max_retries: 3,
        }
    }
}

/// The mutable state of [`DivergenceGuard`].
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, ControllerState, DivergenceGuard, Observation};
///
/// let mut guard = DivergenceGuard::new(Default::default())?;
/// guard.observe(Observation::new(1, 2.0))?;
/// let ControllerState::Divergence(s) = guard.state() else { unreachable!() };
/// assert_eq!(s.average(), Some(2.0));
/// assert_eq!(s.retries(), 0);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct DivergenceState {
    average: Option<f64>,
    healthy: u64,
    last_good_step: Option<u64>,
    retries: u32,
    scale: f64,
    stopped: Option<StopReason>,
}

impl DivergenceState {
    /// The running average of healthy losses.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let g = DivergenceGuard::new(Default::default())?;
    /// let ControllerState::Divergence(s) = g.state() else { unreachable!() };
    /// assert_eq!(s.average(), None);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn average(&self) -> Option<f64> {
        self.average
    }

    /// Rollbacks spent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let g = DivergenceGuard::new(Default::default())?;
    /// let ControllerState::Divergence(s) = g.state() else { unreachable!() };
    /// assert_eq!(s.retries(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The step of the last healthy observation.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let g = DivergenceGuard::new(Default::default())?;
    /// let ControllerState::Divergence(s) = g.state() else { unreachable!() };
    /// assert_eq!(s.last_good_step(), None);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn last_good_step(&self) -> Option<u64> {
        self.last_good_step
    }
}

/// Watches a loss for divergence: a non-finite value, or a spike above `spike_factor`
/// times its running average. On divergence it cuts its scale by `cut` and asks for a
/// rollback to the last healthy step; after `max_retries` rollbacks the next divergence
/// stops the run, with the reason. Meant for a non-negative loss.
///
/// ```text
/// healthy(m) = m finite and (healthy_seen < warmup or average <= 0 or m <= spike_factor * average)
/// healthy:   average = smoothing * average + (1 - smoothing) * m  (the first m when none)
///            last_good_step = step                              -> Continue
/// diverged:  retries < max_retries: retries += 1, scale *= cut  -> Rollback { last_good_step }
///            otherwise                                          -> Stop(Diverged), for ever
/// ```
///
/// The unhealthy loss is not added to the average. After a rollback, restore the model and
/// optimizer from the checkpoint, then call
/// [`Runtime::rewind`](crate::runtime::Runtime::rewind) (not `restore`: the guard's retries and
/// cut must survive the rollback).
///
/// # Errors
/// [`DivergenceGuard::new`]: [`Error::InvalidParameter`] naming the field of
/// [`DivergenceConfig`] that is out of range. `observe` never fails: non-finite losses
/// are what it is for.
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, Decision, DivergenceCause, DivergenceConfig, DivergenceGuard, Observation};
///
/// let mut guard = DivergenceGuard::new(DivergenceConfig { warmup: 2, max_retries: 1, ..Default::default() })?;
/// guard.observe(Observation::new(1, 2.0))?;
/// guard.observe(Observation::new(2, 2.0))?;
/// assert_eq!(
///     guard.observe(Observation::new(3, 50.0))?,
///     Decision::Rollback { last_good_step: Some(2), cause: DivergenceCause::Spike { metric: 50.0, average: 2.0 } }
/// );
/// assert_eq!(guard.scale(), 0.5);
/// assert!(guard.observe(Observation::new(3, f64::NAN))?.is_stop());
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// The loss-spike restarts of large-model training reports (PaLM, OPT logbooks): roll back
/// to a checkpoint before the spike and continue, with a lower LR.
#[derive(Debug, Clone, PartialEq)]
pub struct DivergenceGuard {
    config: DivergenceConfig,
    state: DivergenceState,
}

impl DivergenceGuard {
    /// A divergence guard with scale 1; see the type's documentation.
    ///
    /// # Errors
    /// `spike_factor > 1` finite, `smoothing` in `[0, 1)`, `cut` in `(0, 1]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{DivergenceConfig, DivergenceGuard};
    ///
    /// assert!(DivergenceGuard::new(DivergenceConfig { cut: 0.0, ..Default::default() }).is_err());
    /// ```
    pub fn new(config: DivergenceConfig) -> Result<Self, Error> {
        if !(config.spike_factor.is_finite() && config.spike_factor > 1.0) {
            return Err(Error::invalid(
                "spike_factor",
                config.spike_factor,
                "must be finite and > 1",
            ));
        }
        if !(config.smoothing.is_finite() && (0.0..1.0).contains(&config.smoothing)) {
            return Err(Error::invalid(
                "smoothing",
                config.smoothing,
                "must be in [0, 1)",
            ));
        }
        check::in_range("cut", config.cut, f64::MIN_POSITIVE, 1.0)?;
        Ok(DivergenceGuard {
            config,
            state: DivergenceState {
                average: None,
                healthy: 0,
                last_good_step: None,
                retries: 0,
                scale: 1.0,
                stopped: None,
            },
        })
    }

    fn diagnose(&self, metric: f64) -> Option<DivergenceCause> {
        if !metric.is_finite() {
            return Some(DivergenceCause::NonFinite);
        }
        match self.state.average {
            Some(average)
                if self.state.healthy >= self.config.warmup
                    && average > 0.0
                    && metric > self.config.spike_factor * average =>
            {
                Some(DivergenceCause::Spike { metric, average })
            }
            _ => None,
        }
    }
}

impl Controller for DivergenceGuard {
    fn observe(&mut self, obs: Observation) -> Result<Decision, Error> {
        if let Some(reason) = &self.state.stopped {
            return Ok(Decision::Stop(reason.clone()));
        }
        let c = &self.config;
        let Some(cause) = self.diagnose(obs.metric) else {
            let s = &mut self.state;
            s.average = Some(match s.average {
                Some(avg) => c.smoothing * avg + (1.0 - c.smoothing) * obs.metric,
                None => obs.metric,
            });
            s.healthy = s.healthy.saturating_add(1);
            s.last_good_step = Some(obs.step);
            return Ok(Decision::Continue);
        };
        let s = &mut self.state;
        if s.retries < c.max_retries {
            s.retries += 1;
            s.scale = (s.scale * c.cut).max(f64::MIN_POSITIVE);
            return Ok(Decision::Rollback {
                last_good_step: s.last_good_step,
                cause,
            });
        }
        let reason = StopReason::Diverged {
            step: obs.step,
            retries: s.retries,
            cause,
        };
        s.stopped = Some(reason.clone());
        Ok(Decision::Stop(reason))
    }

    fn scale(&self) -> f64 {
        self.state.scale
    }

    fn state(&self) -> ControllerState {
        ControllerState::Divergence(self.state.clone())
    }

    fn restore(&mut self, state: &ControllerState) -> Result<(), Error> {
        let ControllerState::Divergence(s) = state else {
            return Err(Error::mismatch("kind", "divergence", state.kind()));
        };
        super::check_best("average", s.average)?;
        check_scale(s.scale)?;
        if s.scale > 1.0 {
            return Err(Error::corrupt(
                "scale",
                s.scale,
                "a divergence cut never exceeds 1",
            ));
        }
        if s.retries > self.config.max_retries {
            let rule = format!("must be <= max_retries = {}", self.config.max_retries);
            return Err(Error::corrupt("retries", s.retries, rule));
        }
        if s.average.is_none() && s.healthy > 0 {
            return Err(Error::corrupt(
                "healthy",
                s.healthy,
                "must be 0 without an average",
            ));
        }
        self.state = s.clone();
        Ok(())
    }

    #[cfg(feature = "serde")]
    fn fingerprint(&self) -> Option<String> {
        super::config_fingerprint("divergence", &self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_retries_then_stop() {
        let mut g = DivergenceGuard::new(DivergenceConfig {
            max_retries: 2,
            cut: 0.1,
            ..Default::default()
        })
        .unwrap();
        g.observe(Observation::new(1, 1.0)).unwrap();
        for expected_scale in [0.1, 0.1 * 0.1] {
            let d = g.observe(Observation::new(2, f64::INFINITY)).unwrap();
            assert_eq!(
                d,
                Decision::Rollback {
                    last_good_step: Some(1),
                    cause: DivergenceCause::NonFinite
                }
            );
            assert!((g.scale() - expected_scale).abs() < 1e-15);
        }
        let stop = g.observe(Observation::new(2, f64::NAN)).unwrap();
        let expected = StopReason::Diverged {
            step: 2,
            retries: 2,
            cause: DivergenceCause::NonFinite,
        };
        assert_eq!(stop, Decision::Stop(expected.clone()));
        assert_eq!(
            stop.clone(),
            g.observe(Observation::new(3, 1.0)).unwrap(),
            "stop is final"
        );
        assert_eq!(
            expected.to_string(),
            "diverged at step 2 after 2 rollbacks: loss is not finite"
        );
    }

    #[test]
    fn spikes_are_judged_after_warmup_only() {
        let mut g = DivergenceGuard::new(DivergenceConfig {
            warmup: 3,
            spike_factor: 2.0,
            smoothing: 0.0,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            g.observe(Observation::new(1, 1.0)).unwrap(),
            Decision::Continue
        );
        assert_eq!(
            g.observe(Observation::new(2, 5.0)).unwrap(),
            Decision::Continue,
            "still warming up"
        );
        assert_eq!(
            g.observe(Observation::new(3, 5.0)).unwrap(),
            Decision::Continue
        );
        assert_eq!(
            g.observe(Observation::new(4, 9.9)).unwrap(),
            Decision::Continue,
            "9.9 <= 2 * 5"
        );
        assert!(matches!(
            g.observe(Observation::new(5, 20.0)).unwrap(),
            Decision::Rollback {
                last_good_step: Some(4),
                ..
            }
        ));
    }

    #[test]
    fn rejects_bad_config() {
        for (config, name) in [
            (
                DivergenceConfig {
                    spike_factor: 1.0,
                    ..Default::default()
                },
                "spike_factor",
            ),
            (
                DivergenceConfig {
                    smoothing: 1.0,
                    ..Default::default()
                },
                "smoothing",
            ),
            (
                DivergenceConfig {
                    cut: 1.5,
                    ..Default::default()
                },
                "cut",
            ),
            (
                DivergenceConfig {
                    cut: -0.5,
                    ..Default::default()
                },
                "cut",
            ),
        ] {
            assert!(
                matches!(DivergenceGuard::new(config), Err(Error::InvalidParameter { name: n, .. }) if n == name)
            );
        }
    }
}
