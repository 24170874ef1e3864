//! Small enums shared by several families: how a decay counts time, and what a finite
//! decay does past its end.

/// Whether a decay reads time continuously or in whole transitions.
///
/// ```text
/// Continuous   p = t / transition_steps
/// Staircase    p = floor(t / transition_steps)
/// ```
///
/// # Examples
///
/// ```
/// use cadence::{DecayMode, Exponential, Schedule};
///
/// let smooth = Exponential::new(1.0, 0.5, 10)?;
/// let stairs = smooth.with_mode(DecayMode::Staircase);
/// assert!((smooth.value(5) - 0.5_f64.sqrt()).abs() < 1e-15);
/// assert_eq!(stairs.value(5), 1.0);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum DecayMode {
    /// Decay a little at every step (and at every fractional time).
    #[default]
    Continuous,
    /// Decay in whole transitions: constant between multiples of the transition length.
    Staircase,
}

impl DecayMode {
    /// The decay exponent `p` after `elapsed` time in transitions of length `transition`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::DecayMode;
    ///
    /// assert_eq!(DecayMode::Continuous.exponent(15.0, 10.0), 1.5);
    /// assert_eq!(DecayMode::Staircase.exponent(15.0, 10.0), 1.0);
    /// ```
    #[inline]
    pub fn exponent(self, elapsed: f64, transition: f64) -> f64 {
        let p = elapsed / transition;
        match self {
            DecayMode::Continuous => p,
            DecayMode::Staircase => crate::fastmath::floor(p),
        }
    }
}

/// What a decay defined over `decay_steps` does after them.
///
/// # Examples
///
/// ```
/// use cadence::{Cosine, Overrun, Schedule};
///
/// let hold = Cosine::new(1.0, 0.0, 10)?;
/// let periodic = hold.with_overrun(Overrun::Continue);
/// assert_eq!(hold.value(20), 0.0);
/// assert!((periodic.value(20) - 1.0).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Overrun {
    /// Stay at the end value for ever (optax, timm, transformers).
    #[default]
    Hold,
    /// Keep evaluating the formula past the end (PyTorch's `CosineAnnealingLR` climbs
    /// back up and repeats with period `2 * T_max`).
    Continue,
}
