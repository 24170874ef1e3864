//! [`Anneal`]: how a value travels from one level to another as a fraction goes 0 to 1.
//!
//! One vocabulary shared by warmups, piecewise interpolation, warmup-stable-decay tails,
//! one-cycle phases and every other "go from a to b" in the crate.

use crate::error::Error;

/// The path from `from` to `to` as the fraction `f` of the way goes from 0 to 1.
///
/// ```text
/// Linear          from + (to - from) * f
/// Cosine          from + (to - from) * (1 - cos(pi f)) / 2
/// Exponential     from^(1 - f) * to^f              (geometric; from, to same sign, non-zero)
/// Sqrt            from + (to - from) * sqrt(f)     (the "1-sqrt" cooldown: 1 - sqrt(f) of the gap remains)
/// Square          from + (to - from) * f^2         (the "1-square" cooldown)
/// ReverseSqrt     from + (to - from) * (1 - sqrt(1 - f))   (Sqrt run backwards in time)
/// ```
///
/// # Examples
///
/// ```
/// use cadence::Anneal;
///
/// assert_eq!(Anneal::Linear.interpolate(1.0, 0.0, 0.25), 0.75);
/// assert!((Anneal::Cosine.interpolate(1.0, 0.0, 0.5) - 0.5).abs() < 1e-15);
/// assert!((Anneal::Exponential.interpolate(1.0, 0.01, 0.5) - 0.1).abs() < 1e-15);
/// assert_eq!(Anneal::Sqrt.interpolate(1.0, 0.0, 0.25), 0.5);
/// assert_eq!(Anneal::Square.interpolate(1.0, 0.0, 0.5), 0.75);
/// assert_eq!(Anneal::ReverseSqrt.interpolate(0.0, 1.0, 0.75), 0.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Anneal {
    /// Straight line.
    #[default]
    Linear,
    /// Half a cosine wave: slow at both ends.
    Cosine,
    /// Geometric: constant ratio per step; both ends must be non-zero and of one sign.
    Exponential,
    /// `sqrt(f)` of the way: fast at first (the "1-sqrt" cooldown of WSD).
    Sqrt,
    /// `f^2` of the way: slow at first (the "1-square" cooldown).
    Square,
    /// `1 - sqrt(1 - f)` of the way: [`Anneal::Sqrt`] run backwards in time, slow at first
    /// and steep at the end (the "1-sqrt" warmup of transformers' `warmup_stable_decay`).
    ReverseSqrt,
}

impl Anneal {
    /// The value a fraction `f` of the way from `from` to `to`; `f` is clamped to `[0, 1]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Anneal;
    ///
    /// assert_eq!(Anneal::Linear.interpolate(2.0, 4.0, 2.0), 4.0);
    /// ```
    #[inline]
    pub fn interpolate(self, from: f64, to: f64, f: f64) -> f64 {
        let f = unit_fraction(f);
        match self {
            Anneal::Linear => from + (to - from) * f,
            Anneal::Cosine => cosine_between(from, to, f),
            Anneal::Exponential => from * (to / from).powf(f),
            Anneal::Sqrt => from + (to - from) * f.sqrt(),
            Anneal::Square => from + (to - from) * f * f,
            Anneal::ReverseSqrt => from + (to - from) * (1.0 - (1.0 - f).sqrt()),
        }
    }

    /// Checks that this path can join `from` and `to` (only `Exponential` has a rule).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `name_from`/`name_to` when `Exponential` is asked
    /// to join values that are zero or of opposite signs.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Anneal;
    ///
    /// assert!(Anneal::Exponential.check_ends("init", 0.0, "peak", 1.0).is_err());
    /// assert!(Anneal::Linear.check_ends("init", 0.0, "peak", 1.0).is_ok());
    /// ```
    pub fn check_ends(
        self,
        name_from: &'static str,
        from: f64,
        name_to: &'static str,
        to: f64,
    ) -> Result<(), Error> {
        if self == Anneal::Exponential {
            if from == 0.0 || !from.is_finite() {
                return Err(Error::invalid(
                    name_from,
                    from,
                    "must be finite and non-zero for an exponential path",
                ));
            }
            if to == 0.0 || !to.is_finite() || to.signum() != from.signum() {
                return Err(Error::invalid(
                    name_to,
                    to,
                    format!(
                        "must be non-zero with the sign of `{name_from}` for an exponential path"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `f` clamped to `[0, 1]`, NaN read as 0: the fraction every [`Anneal::interpolate`]
/// takes.
#[inline(always)]
pub(crate) fn unit_fraction(f: f64) -> f64 {
    if f.is_nan() { 0.0 } else { f.clamp(0.0, 1.0) }
}

/// [`Anneal::Cosine`]'s path at `f` in `[0, 1]`, for callers whose anneal is always the
/// cosine (the same arithmetic, so the same bits, without the dispatch).
#[inline(always)]
pub(crate) fn cosine_between(from: f64, to: f64, f: f64) -> f64 {
    from + (to - from) * 0.5 * (1.0 - crate::fastmath::cos_pi(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_starts_and_ends_at_its_ends() {
        for a in [
            Anneal::Linear,
            Anneal::Cosine,
            Anneal::Exponential,
            Anneal::Sqrt,
            Anneal::Square,
            Anneal::ReverseSqrt,
        ] {
            assert!(
                (a.interpolate(0.5, 0.002, 0.0) - 0.5).abs() < 1e-15,
                "{a:?}"
            );
            assert!(
                (a.interpolate(0.5, 0.002, 1.0) - 0.002).abs() < 1e-15,
                "{a:?}"
            );
            assert_eq!(a.interpolate(0.5, 0.002, f64::NAN), 0.5, "{a:?}");
        }
    }
}
