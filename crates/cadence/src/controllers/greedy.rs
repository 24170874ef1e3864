//! Greedy: raise the scale while the metric keeps improving, cut it when it stalls.

use std::collections::VecDeque;

use super::{
    Controller, ControllerState, Decision, Mode, Observation, Threshold, check_best, check_scale,
    check_window, cut, windowed_mean,
};
use crate::error::{Error, check};

/// The configuration of [`Greedy`]; `Default` gives transformers' `GreedyLR` defaults.
///
/// # Parameters
/// - `mode`, `threshold`: what counts as an improvement (default `Min`, `Abs(1e-6)`).
/// - `factor`: in `(0, 1)`; the scale is divided by it on a run of improvements and
///   multiplied by it on a run of non-improvements (default 0.95).
/// - `patience`: the change comes on the `patience + 1`-th good (or bad) observation in a
///   row (default 10).
/// - `cooldown`: observations ignored after a cut (default 0).
/// - `warmup`: observations ignored after a raise (default 0).
/// - `min_value`, `max_value`: bounds on the combined value `base * scale` (transformers'
///   `min_lr`, `max_lr`; defaults 1e-3 and 1).
/// - `eps`: minimum change of the combined value (default 1e-8).
/// - `window`: metrics averaged before comparing, at least 1 (transformers' `smooth` with
///   `window_size`; default 1: no smoothing).
/// - `reset_after`: after this many cuts that find the value at `min_value`, everything
///   resets to the initial state (scale 1); `None` never resets (transformers'
///   `reset_start`, default 500; its `reset_start <= 0` is `Some(1)`).
///
/// # Examples
///
/// ```
/// use cadence::controllers::GreedyConfig;
///
/// let config = GreedyConfig { factor: 0.9, patience: 3, min_value: 1e-3, max_value: 0.5, ..Default::default() };
/// assert_eq!(config.reset_after, Some(500));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields, default))]
pub struct GreedyConfig {
    /// Whether lower or higher is better.
    pub mode: Mode,
    /// The multiplicative step, in `(0, 1)`.
    pub factor: f64,
    /// Good (or bad) observations in a row tolerated before a change.
    pub patience: u64,
    /// What counts as an improvement.
    pub threshold: Threshold,
    /// Observations ignored after a cut.
    pub cooldown: u64,
    /// Observations ignored after a raise.
    pub warmup: u64,
    /// Floor on the combined value.
    pub min_value: f64,
    /// Ceiling on the combined value.
    pub max_value: f64,
    /// Minimum change of the combined value.
    pub eps: f64,
    /// Number of recent metrics averaged.
    pub window: usize,
    /// Cuts at the floor before a full reset; `None`: never.
    pub reset_after: Option<u64>,
}

impl Default for GreedyConfig {
    fn default() -> Self {
        GreedyConfig {
            mode: Mode::Min,
            factor: 0.95,
            patience: 10,
            threshold: Threshold::Abs(1e-6),
            cooldown: 0,
            warmup: 0,
            min_value: 1e-3,
            max_value: 1.0,
            eps: 1e-8,
            window: 1,
            reset_after: Some(500),
        }
    }
}

/// The mutable state of [`Greedy`].
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, ControllerState, Greedy, Observation};
///
/// let mut g = Greedy::new(Default::default())?;
/// g.observe(Observation::new(1, 0.5).with_base(0.1))?;
/// let ControllerState::Greedy(s) = g.state() else { unreachable!() };
/// assert_eq!(s.good(), 1);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct GreedyState {
    best: Option<f64>,
    good: u64,
    bad: u64,
    cooldown_left: u64,
    warmup_left: u64,
    scale: f64,
    recent: VecDeque<f64>,
    floor_hits: u64,
}

impl GreedyState {
    fn fresh() -> Self {
        GreedyState {
            best: None,
            good: 0,
            bad: 0,
            cooldown_left: 0,
            warmup_left: 0,
            scale: 1.0,
            recent: VecDeque::new(),
            floor_hits: 0,
        }
    }

    /// Improving observations in a row.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let ControllerState::Greedy(s) = Greedy::new(Default::default())?.state() else { unreachable!() };
    /// assert_eq!(s.good(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn good(&self) -> u64 {
        self.good
    }

    /// Non-improving observations in a row.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::controllers::*;
    /// let ControllerState::Greedy(s) = Greedy::new(Default::default())?.state() else { unreachable!() };
    /// assert_eq!(s.bad(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn bad(&self) -> u64 {
        self.bad
    }
}

/// GreedyLR as a scale: divide the scale by `factor` after more than `patience` improving
/// observations in a row, multiply it by `factor` after more than `patience` non-improving
/// ones, within `[min_value, max_value]` on the combined value `base * scale`.
///
/// ```text
/// m' = mean of the last `window` metrics
/// if cooldown_left > 0:     cooldown_left -= 1, good = bad = 0
/// elif warmup_left > 0:     warmup_left -= 1,   good = bad = 0
/// else:
///   improvement ? (best = m', good += 1, bad = 0) : (bad += 1, good = 0)
///   if good > patience:  new = min(b*scale / factor, max_value), applied if new - b*scale > eps
///                        warmup_left = warmup, good = 0, floor_hits = 0
///   elif bad > patience: new = max(b*scale * factor, min_value), applied if b*scale - new > eps
///                        cooldown_left = cooldown, bad = 0
///                        if the value is at min_value: floor_hits += 1, and on reaching
///                        reset_after everything resets (scale 1, best forgotten)
/// ```
///
/// With a constant base this is transformers' `GreedyLR` (see the golden test). "At
/// `min_value`" is judged with a relative tolerance of 4 ulps, because `base * scale`
/// represents the floor only to rounding.
///
/// # Errors
/// [`Greedy::new`]: [`Error::InvalidParameter`] naming the field of [`GreedyConfig`] that
/// is out of range. [`Controller::observe`]: [`Error::NonFiniteMetric`] (state unchanged).
///
/// # Examples
///
/// ```
/// use cadence::controllers::{Controller, Greedy, GreedyConfig, Observation};
///
/// let mut g = Greedy::new(GreedyConfig { factor: 0.5, patience: 1, ..Default::default() })?;
/// for (i, loss) in [1.0, 0.9].into_iter().enumerate() {
///     g.observe(Observation::new(i as u64, loss).with_base(0.1))?;
/// }
/// assert_eq!(g.scale(), 2.0);   // two improvements: the LR doubles
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// Subramanian and Ganapathiraman 2023, "Zeroth Order GreedyLR"; transformers
/// `get_scheduler("greedy")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Greedy {
    config: GreedyConfig,
    state: GreedyState,
}

impl Greedy {
    /// A greedy controller with scale 1; see the type's documentation.
    ///
    /// # Errors
    /// `factor` in `(0, 1)`, `threshold` valid, `0 <= min_value <= max_value` finite,
    /// `eps >= 0`, `window >= 1`, `reset_after` not `Some(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{Greedy, GreedyConfig};
    ///
    /// assert!(Greedy::new(GreedyConfig { min_value: 2.0, max_value: 1.0, ..Default::default() }).is_err());
    /// ```
    pub fn new(config: GreedyConfig) -> Result<Self, Error> {
        if !(config.factor.is_finite() && config.factor > 0.0 && config.factor < 1.0) {
            return Err(Error::invalid("factor", config.factor, "must be in (0, 1)"));
        }
        config.threshold.validate("threshold")?;
        check::non_negative("min_value", config.min_value)?;
        check::finite("max_value", config.max_value)?;
        if config.max_value < config.min_value {
            let rule = format!("must be >= min_value = {}", config.min_value);
            return Err(Error::invalid("max_value", config.max_value, rule));
        }
        check::non_negative("eps", config.eps)?;
        if config.window == 0 {
            return Err(Error::invalid("window", 0, "must be at least 1"));
        }
        if config.reset_after == Some(0) {
            return Err(Error::invalid(
                "reset_after",
                0,
                "must be at least 1 (or None)",
            ));
        }
        Ok(Greedy {
            config,
            state: GreedyState::fresh(),
        })
    }

    fn raise(&mut self, b: f64) -> Decision {
        let (c, s) = (&self.config, &mut self.state);
        s.floor_hits = 0;
        let (from, old) = (s.scale, b * s.scale);
        let up = old / c.factor;
        let (new, to) = if up <= c.max_value {
            (up, from / c.factor)
        } else {
            (c.max_value, c.max_value / b)
        };
        if new - old > c.eps && to.is_finite() && to > 0.0 {
            s.scale = to;
            Decision::Rescaled { from, to }
        } else {
            Decision::Continue
        }
    }

    fn cut(&mut self, b: f64) -> Decision {
        let (c, s) = (&self.config, &mut self.state);
        let from = s.scale;
        let old = b * from;
        let cut = cut(from, b, c.factor, c.min_value, c.eps);
        s.scale = cut.to;
        // transformers counts a cut that leaves the LR at `min_lr`; the product `b * scale`
        // represents the floor only to rounding.
        let at_floor = if cut.applied {
            cut.floored
        } else {
            old <= c.min_value * (1.0 + 4.0 * f64::EPSILON)
        };
        if at_floor {
            s.floor_hits += 1;
            if c.reset_after.is_some_and(|n| s.floor_hits >= n) {
                *s = GreedyState::fresh();
                return Decision::Rescaled { from, to: 1.0 };
            }
        }
        if cut.applied {
            Decision::Rescaled { from, to: cut.to }
        } else {
            Decision::Continue
        }
    }
}

impl Controller for Greedy {
    fn observe(&mut self, obs: Observation) -> Result<Decision, Error> {
        let metric = obs.finite_metric()?;
        let c = &self.config;
        let s = &mut self.state;
        let current = windowed_mean(&mut s.recent, c.window, metric);
        if s.cooldown_left > 0 {
            s.cooldown_left -= 1;
            (s.good, s.bad) = (0, 0);
            return Ok(Decision::Continue);
        }
        if s.warmup_left > 0 {
            s.warmup_left -= 1;
            (s.good, s.bad) = (0, 0);
            return Ok(Decision::Continue);
        }
        if c.threshold.is_better(c.mode, current, s.best) {
            s.best = Some(current);
            s.good += 1;
            s.bad = 0;
        } else {
            s.bad += 1;
            s.good = 0;
        }
        if s.good > c.patience {
            s.warmup_left = c.warmup;
            s.good = 0;
            Ok(self.raise(obs.base))
        } else if s.bad > c.patience {
            s.cooldown_left = c.cooldown;
            s.bad = 0;
            Ok(self.cut(obs.base))
        } else {
            Ok(Decision::Continue)
        }
    }

    fn scale(&self) -> f64 {
        self.state.scale
    }

    fn state(&self) -> ControllerState {
        ControllerState::Greedy(self.state.clone())
    }

    fn restore(&mut self, state: &ControllerState) -> Result<(), Error> {
        let ControllerState::Greedy(s) = state else {
            return Err(Error::mismatch("kind", "greedy", state.kind()));
        };
        let c = &self.config;
        check_best("best", s.best)?;
        check_scale(s.scale)?;
        for (field, value, limit, name) in [
            ("good", s.good, c.patience, "patience"),
            ("bad", s.bad, c.patience, "patience"),
            ("cooldown_left", s.cooldown_left, c.cooldown, "cooldown"),
            ("warmup_left", s.warmup_left, c.warmup, "warmup"),
        ] {
            if value > limit {
                return Err(Error::corrupt(
                    field,
                    value,
                    format!("must be <= {name} = {limit}"),
                ));
            }
        }
        check_window(&s.recent, c.window)?;
        if let Some(n) = c.reset_after.filter(|&n| s.floor_hits >= n) {
            return Err(Error::corrupt(
                "floor_hits",
                s.floor_hits,
                format!("must be < reset_after = {n}"),
            ));
        }
        self.state = s.clone();
        Ok(())
    }

    #[cfg(feature = "serde")]
    fn fingerprint(&self) -> Option<String> {
        super::config_fingerprint("greedy", &self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_then_cuts_within_bounds() {
        let mut g = Greedy::new(GreedyConfig {
            factor: 0.5,
            patience: 0,
            min_value: 0.01,
            max_value: 0.3,
            reset_after: None,
            ..Default::default()
        })
        .unwrap();
        let base = 0.1;
        let mut lrs = vec![];
        for (i, m) in [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8].into_iter().enumerate() {
            g.observe(Observation::new(i as u64, m).with_base(base))
                .unwrap();
            lrs.push(base * g.scale());
        }
        let expected = [0.2, 0.3, 0.3, 0.15, 0.075, 0.0375, 0.01875];
        for (got, want) in lrs.iter().zip(expected) {
            assert!((got - want).abs() < 1e-15, "{lrs:?}");
        }
    }

    #[test]
    fn resets_after_repeated_cuts_at_the_floor() {
        let mut g = Greedy::new(GreedyConfig {
            factor: 0.05,
            patience: 0,
            min_value: 0.01,
            max_value: 0.1,
            reset_after: Some(2),
            ..Default::default()
        })
        .unwrap();
        let obs = |i| Observation::new(i, 1.0).with_base(0.1);
        // The first observation improves, but the raise is capped at max_value = base.
        assert_eq!(g.observe(obs(0)).unwrap(), Decision::Continue);
        assert!(matches!(
            g.observe(obs(1)).unwrap(),
            Decision::Rescaled { .. }
        ));
        assert!(
            (0.1 * g.scale() - 0.01).abs() < 1e-15,
            "cut to the floor: first hit"
        );
        let at_floor = g.scale();
        assert_eq!(
            g.observe(obs(2)).unwrap(),
            Decision::Rescaled {
                from: at_floor,
                to: 1.0
            }
        );
        assert_eq!(g.state, GreedyState::fresh());
    }

    #[test]
    fn rejects_bad_config_and_state() {
        assert!(
            Greedy::new(GreedyConfig {
                factor: 1.0,
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            Greedy::new(GreedyConfig {
                reset_after: Some(0),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            Greedy::new(GreedyConfig {
                window: 0,
                ..Default::default()
            })
            .is_err()
        );
        let mut g = Greedy::new(GreedyConfig {
            patience: 2,
            ..Default::default()
        })
        .unwrap();
        let mut s = GreedyState::fresh();
        s.good = 3;
        let err = g.restore(&ControllerState::Greedy(s)).unwrap_err();
        assert!(matches!(err, Error::CorruptState { field, .. } if field == "good"));
        assert!(matches!(
            g.observe(Observation::new(0, f64::NAN)),
            Err(Error::NonFiniteMetric { .. })
        ));
    }
}
