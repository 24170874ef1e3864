//! Reduce-on-plateau: cut the scale when the metric stops improving.

use std::collections::VecDeque;

use super::{
    Controller, ControllerState, Decision, Mode, Observation, Threshold, check_best, check_scale,
    check_window, cut, windowed_mean,
};
use crate::error::{Error, check};

/// The configuration of [`ReduceOnPlateau`]; `Default` gives PyTorch's defaults.
///
/// # Parameters
/// - `mode`: [`Mode::Min`] for a loss, [`Mode::Max`] for an accuracy.
/// - `factor`: the cut, in `(0, 1)` (PyTorch `factor`, default 0.1).
/// - `patience`: non-improving observations tolerated; the cut comes on the
///   `patience + 1`-th in a row (default 10).
/// - `threshold`: what counts as an improvement ([`Threshold`], default `Rel(1e-4)`).
/// - `cooldown`: observations after a cut during which bad observations are not counted
///   (default 0).
/// - `min_value`: the floor on the *combined* value `base * scale` (PyTorch `min_lr`,
///   default 0).
/// - `min_scale`: the floor on the scale itself, in `[0, 1]` (default 0).
/// - `eps`: the minimum change of the combined value; a smaller cut is skipped (PyTorch
///   `eps`, default 1e-8).
/// - `window`: the number of most recent metrics averaged before comparing, at least 1
///   (default 1: no averaging).
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Mode, PlateauConfig, Threshold};
///
/// let config = PlateauConfig { mode: Mode::Max, factor: 0.5, threshold: Threshold::Abs(0.01), ..Default::default() };
/// assert_eq!(config.patience, 10);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields, default))]
pub struct PlateauConfig {
    /// Whether lower or higher is better.
    pub mode: Mode,
    /// The multiplicative cut, in `(0, 1)`.
    pub factor: f64,
    /// Non-improving observations tolerated before a cut.
    pub patience: u64,
    /// What counts as an improvement.
    pub threshold: Threshold,
    /// Observations ignored after a cut.
    pub cooldown: u64,
    /// Floor on the combined value `base * scale`.
    pub min_value: f64,
    /// Floor on the scale.
    pub min_scale: f64,
    /// Minimum change of the combined value for a cut to be applied.
    pub eps: f64,
    /// Number of recent metrics averaged.
    pub window: usize,
}

impl Default for PlateauConfig {
    fn default() -> Self {
        PlateauConfig {
            mode: Mode::Min,
            factor: 0.1,
            patience: 10,
            threshold: Threshold::default(),
            cooldown: 0,
            min_value: 0.0,
            min_scale: 0.0,
            eps: 1e-8,
            window: 1,
        }
    }
}

impl PlateauConfig {
    fn validate(&self) -> Result<(), Error> {
        if !(self.factor.is_finite() && self.factor > 0.0 && self.factor < 1.0) {
            return Err(Error::invalid("factor", self.factor, "must be in (0, 1)"));
        }
        self.threshold.validate("threshold")?;
        check::non_negative("min_value", self.min_value)?;
        check::in_range("min_scale", self.min_scale, 0.0, 1.0)?;
        check::non_negative("eps", self.eps)?;
        if self.window == 0 {
            return Err(Error::invalid("window", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// The mutable state of [`ReduceOnPlateau`].
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, ControllerState, Observation, PlateauConfig, ReduceOnPlateau};
///
/// let mut p = ReduceOnPlateau::new(PlateauConfig::default())?;
/// p.observe(Observation::new(1, 0.7))?;
/// let ControllerState::Plateau(s) = p.state() else { unreachable!() };
/// assert_eq!(s.best(), Some(0.7));
/// assert_eq!(s.bad(), 0);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct PlateauState {
    best: Option<f64>,
    bad: u64,
    cooldown_left: u64,
    scale: f64,
    recent: VecDeque<f64>,
}

impl PlateauState {
    fn fresh() -> Self {
        PlateauState {
            best: None,
            bad: 0,
            cooldown_left: 0,
            scale: 1.0,
            recent: VecDeque::new(),
        }
    }

    /// The best (averaged) metric so far.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let p = ReduceOnPlateau::new(PlateauConfig::default())?;
    /// let ControllerState::Plateau(s) = p.state() else { unreachable!() };
    /// assert_eq!(s.best(), None);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Consecutive non-improving observations counted towards `patience`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let p = ReduceOnPlateau::new(PlateauConfig::default())?;
    /// let ControllerState::Plateau(s) = p.state() else { unreachable!() };
    /// assert_eq!(s.bad(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn bad(&self) -> u64 {
        self.bad
    }

    /// Observations of cooldown left.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let p = ReduceOnPlateau::new(PlateauConfig::default())?;
    /// let ControllerState::Plateau(s) = p.state() else { unreachable!() };
    /// assert_eq!(s.cooldown_left(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn cooldown_left(&self) -> u64 {
        self.cooldown_left
    }

    /// The current scale.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let p = ReduceOnPlateau::new(PlateauConfig::default())?;
    /// let ControllerState::Plateau(s) = p.state() else { unreachable!() };
    /// assert_eq!(s.scale(), 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

/// Cuts a multiplicative scale by `factor` when the metric has not improved for more than
/// `patience` observations: PyTorch's `ReduceLROnPlateau`, as a scale on any schedule.
///
/// ```text
/// on each observation (metric m, base b = the value the scale multiplies):
///   m'   = mean of the last `window` metrics
///   if threshold.is_better(mode, m', best): best = m', bad = 0  else bad += 1
///   if cooldown_left > 0:                   cooldown_left -= 1, bad = 0
///   if bad > patience:
///       old = b * scale
///       new = max(b * scale * factor, max(min_value, b * min_scale))
///       if old - new > eps: scale = new / b      (exactly scale * factor when no floor binds)
///       cooldown_left = cooldown, bad = 0
/// value used for training = schedule(step) * scale
/// ```
///
/// With a constant base `b = lr` this is PyTorch's rule on the LR itself, floor and `eps`
/// included: it reproduces `ReduceLROnPlateau` decision for decision (see the golden tests).
/// With a varying base (warmup, cosine) the floor and the minimum change are judged on the
/// value at the observed step. A zero base (e.g. the first step of a warmup from 0) makes
/// every cut smaller than `eps`: like PyTorch with a zero LR, the cut is skipped (the
/// cooldown still starts). Set `min_value = 0` and give no base (`1.0`) to let `min_scale`
/// and `eps` apply to the scale alone.
///
/// # Errors
/// [`ReduceOnPlateau::new`]: [`Error::InvalidParameter`] naming the field of
/// [`PlateauConfig`] that is out of range. [`Controller::observe`]:
/// [`Error::NonFiniteMetric`] for a `NaN` or infinite metric (state unchanged; put a
/// [`DivergenceGuard`](super::DivergenceGuard) in front to handle those).
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, Decision, Observation, PlateauConfig, ReduceOnPlateau};
///
/// let mut plateau = ReduceOnPlateau::new(PlateauConfig { factor: 0.5, patience: 2, cooldown: 1, ..Default::default() })?;
/// let losses = [1.0, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8];
/// let mut scales = vec![];
/// for (i, &loss) in losses.iter().enumerate() {
///     plateau.observe(Observation::new(i as u64 + 1, loss))?;
///     scales.push(plateau.scale());
/// }
/// // three bad observations after the best (patience 2): cut; one ignored (cooldown),
/// // then patience runs again.
/// assert_eq!(scales, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `torch.optim.lr_scheduler.ReduceLROnPlateau`; Keras `ReduceLROnPlateau` (`min_delta` is
/// `Threshold::Abs`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceOnPlateau {
    config: PlateauConfig,
    state: PlateauState,
}

impl ReduceOnPlateau {
    /// A plateau controller with scale 1; see the type's documentation.
    ///
    /// # Errors
    /// `factor` in `(0, 1)`, `threshold` valid ([`Threshold`]), `min_value` and `eps`
    /// finite and `>= 0`, `min_scale` in `[0, 1]`, `window >= 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{PlateauConfig, ReduceOnPlateau};
    ///
    /// assert!(ReduceOnPlateau::new(PlateauConfig { factor: 1.5, ..Default::default() }).is_err());
    /// ```
    pub fn new(config: PlateauConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(ReduceOnPlateau {
            config,
            state: PlateauState::fresh(),
        })
    }

    /// The configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let p = ReduceOnPlateau::new(PlateauConfig::default())?;
    /// assert_eq!(p.config().factor, 0.1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn config(&self) -> &PlateauConfig {
        &self.config
    }
}

impl Controller for ReduceOnPlateau {
    fn observe(&mut self, obs: Observation) -> Result<Decision, Error> {
        let metric = obs.finite_metric()?;
        let c = &self.config;
        let s = &mut self.state;
        let current = windowed_mean(&mut s.recent, c.window, metric);
        if c.threshold.is_better(c.mode, current, s.best) {
            s.best = Some(current);
            s.bad = 0;
        } else {
            s.bad += 1;
        }
        if s.cooldown_left > 0 {
            s.cooldown_left -= 1;
            s.bad = 0;
        }
        if s.bad <= c.patience {
            return Ok(Decision::Continue);
        }
        s.cooldown_left = c.cooldown;
        s.bad = 0;
        let b = obs.base;
        let floor = c.min_value.max(b * c.min_scale);
        let from = s.scale;
        let cut = cut(from, b, c.factor, floor, c.eps);
        s.scale = cut.to;
        Ok(if cut.applied {
            Decision::Rescaled { from, to: cut.to }
        } else {
            Decision::Continue
        })
    }

    fn scale(&self) -> f64 {
        self.state.scale
    }

    fn state(&self) -> ControllerState {
        ControllerState::Plateau(self.state.clone())
    }

    fn restore(&mut self, state: &ControllerState) -> Result<(), Error> {
        let ControllerState::Plateau(s) = state else {
            return Err(Error::mismatch("kind", "plateau", state.kind()));
        };
        check_best("best", s.best)?;
        if s.bad > self.config.patience {
            let rule = format!("must be <= patience = {}", self.config.patience);
            return Err(Error::corrupt("bad", s.bad, rule));
        }
        if s.cooldown_left > self.config.cooldown {
            let rule = format!("must be <= cooldown = {}", self.config.cooldown);
            return Err(Error::corrupt("cooldown_left", s.cooldown_left, rule));
        }
        check_scale(s.scale)?;
        if s.scale > 1.0 {
            return Err(Error::corrupt(
                "scale",
                s.scale,
                "a plateau scale never exceeds 1",
            ));
        }
        check_window(&s.recent, self.config.window)?;
        self.state = s.clone();
        Ok(())
    }

    #[cfg(feature = "serde")]
    fn fingerprint(&self) -> Option<String> {
        super::config_fingerprint("plateau", &self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::close;

    fn plateau(config: PlateauConfig) -> ReduceOnPlateau {
        ReduceOnPlateau::new(config).unwrap()
    }

    #[test]
    fn rejects_bad_config() {
        let bad = [
            PlateauConfig {
                factor: 0.0,
                ..Default::default()
            },
            PlateauConfig {
                factor: 1.0,
                ..Default::default()
            },
            PlateauConfig {
                factor: -0.5,
                ..Default::default()
            },
            PlateauConfig {
                factor: f64::NAN,
                ..Default::default()
            },
            PlateauConfig {
                min_value: -1.0,
                ..Default::default()
            },
            PlateauConfig {
                min_scale: 1.5,
                ..Default::default()
            },
            PlateauConfig {
                eps: f64::INFINITY,
                ..Default::default()
            },
            PlateauConfig {
                window: 0,
                ..Default::default()
            },
            PlateauConfig {
                threshold: Threshold::Rel(2.0),
                ..Default::default()
            },
        ];
        let names = [
            "factor",
            "factor",
            "factor",
            "factor",
            "min_value",
            "min_scale",
            "eps",
            "window",
            "threshold",
        ];
        for (config, name) in bad.into_iter().zip(names) {
            match ReduceOnPlateau::new(config) {
                Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
                other => panic!("expected an error on {name}, got {other:?}"),
            }
        }
    }

    #[test]
    fn nan_metric_is_a_typed_error_and_changes_nothing() {
        let mut p = plateau(PlateauConfig {
            patience: 0,
            ..Default::default()
        });
        p.observe(Observation::new(1, 1.0)).unwrap();
        let before = p.clone();
        for m in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = p.observe(Observation::new(2, m)).unwrap_err();
            assert!(
                matches!(err, Error::NonFiniteMetric { step: 2, .. }),
                "{err}"
            );
        }
        assert_eq!(p, before);
    }

    #[test]
    fn floors_on_scale_and_value() {
        let mut p = plateau(PlateauConfig {
            factor: 0.1,
            patience: 0,
            min_scale: 0.05,
            ..Default::default()
        });
        p.observe(Observation::new(0, 1.0)).unwrap();
        p.observe(Observation::new(1, 1.0)).unwrap();
        assert!(close(p.scale(), 0.1, 1e-15));
        p.observe(Observation::new(2, 1.0)).unwrap();
        assert!(close(p.scale(), 0.05, 1e-15));
        assert_eq!(
            p.observe(Observation::new(3, 1.0)).unwrap(),
            Decision::Continue
        );

        // An absolute floor on the combined value: base 0.2, floor 0.01 -> scale 0.05.
        let mut q = plateau(PlateauConfig {
            factor: 0.1,
            patience: 0,
            min_value: 0.01,
            ..Default::default()
        });
        for step in 0..4 {
            q.observe(Observation::new(step, 1.0).with_base(0.2))
                .unwrap();
        }
        assert!(close(0.2 * q.scale(), 0.01, 1e-15));
    }

    #[test]
    fn averaging_window_smooths_noise() {
        // Alternating noise around a slowly falling trend: unaveraged, every other
        // observation is "bad"; averaged over 2 the trend always improves.
        let metrics: Vec<f64> = (0..20)
            .map(|i| 1.0 - 0.01 * i as f64 + if i % 2 == 0 { 0.05 } else { 0.0 })
            .collect();
        let run = |window| {
            let mut p = plateau(PlateauConfig {
                patience: 0,
                window,
                threshold: Threshold::Abs(0.0),
                ..Default::default()
            });
            for (i, &m) in metrics.iter().enumerate() {
                p.observe(Observation::new(i as u64, m)).unwrap();
            }
            p.scale()
        };
        assert!(run(1) < 1.0);
        assert_eq!(run(2), 1.0);
    }

    #[test]
    fn restore_validates() {
        let mut p = plateau(PlateauConfig {
            patience: 2,
            cooldown: 1,
            ..Default::default()
        });
        let good = p.state();
        let ControllerState::Plateau(mut s) = good.clone() else {
            unreachable!()
        };
        s.bad = 3;
        let err = p.restore(&ControllerState::Plateau(s.clone())).unwrap_err();
        assert!(
            matches!(&err, Error::CorruptState { field, .. } if field == "bad"),
            "{err}"
        );
        s.bad = 0;
        s.scale = -1.0;
        assert!(p.restore(&ControllerState::Plateau(s)).is_err());
        let other = crate::controllers::EarlyStopping::new(Default::default())
            .unwrap()
            .state();
        assert!(matches!(
            p.restore(&other),
            Err(Error::StateMismatch { .. })
        ));
        assert_eq!(p.state(), good);
    }
}
