//! Periodic schedules the lab needs, written with [`cadence::from_fn`] until the core's
//! cyclical and warm-restart families land (then these become thin constructors of
//! those families).
//!
//! ```
//! use cadence::Schedule;
//! use cadence_lab::schedules::{triangular, warm_restarts};
//!
//! let clr = triangular(0.1, 1.0, 10);
//! assert!((clr.value(0) - 0.1).abs() < 1e-15 && (clr.value(5) - 1.0).abs() < 1e-15);
//! let sgdr = warm_restarts(1.0, 0.0, 10);
//! assert_eq!(sgdr.value(0), 1.0);
//! assert_eq!(sgdr.value(10), 1.0);
//! assert!(sgdr.value(9) < 0.05);
//! ```

use cadence::Schedule;

/// Smith's triangular cyclical rate: from `min` up to `max` and back, every `period` steps.
///
/// ```text
/// u = (t mod period) / period
/// value(t) = min + (max - min) * (1 - |2u - 1|)
/// ```
///
/// `period` below 2 is read as 2.
///
/// ```
/// use cadence::Schedule;
/// let s = cadence_lab::schedules::triangular(0.0, 1.0, 4);
/// assert_eq!([s.value(0), s.value(1), s.value(2), s.value(3), s.value(4)], [0.0, 0.5, 1.0, 0.5, 0.0]);
/// ```
///
/// # References
/// Smith 2017, "Cyclical Learning Rates for Training Neural Networks".
pub fn triangular(min: f64, max: f64, period: u64) -> impl Schedule + Clone {
    let period = period.max(2);
    cadence::from_fn(move |t| {
        let u = (t % period) as f64 / period as f64;
        min + (max - min) * (1.0 - (2.0 * u - 1.0).abs())
    })
}

/// SGDR: cosine annealing from `max` to `min` over `period` steps, restarted at `max`.
///
/// ```text
/// u = (t mod period) / period
/// value(t) = min + (max - min) * (1 + cos(pi u)) / 2
/// ```
///
/// `period` 0 is read as 1.
///
/// ```
/// use cadence::Schedule;
/// let s = cadence_lab::schedules::warm_restarts(1.0, 0.0, 4);
/// assert!((s.value(2) - 0.5).abs() < 1e-15);
/// assert_eq!(s.value(4), 1.0);
/// ```
///
/// # References
/// Loshchilov & Hutter 2017, "SGDR: Stochastic Gradient Descent with Warm Restarts".
pub fn warm_restarts(max: f64, min: f64, period: u64) -> impl Schedule + Clone {
    let period = period.max(1);
    cadence::from_fn(move |t| {
        let u = (t % period) as f64 / period as f64;
        min + (max - min) * 0.5 * (1.0 + (std::f64::consts::PI * u).cos())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_and_bounded() {
        let a = triangular(0.2, 0.9, 37);
        let b = warm_restarts(0.9, 0.2, 37);
        for t in 0..200u64 {
            for s in [a.value(t), b.value(t)] {
                assert!((0.2..=0.9).contains(&s));
            }
            assert!((a.value(t) - a.value(t + 37)).abs() < 1e-15);
            assert!((b.value(t) - b.value(t + 37)).abs() < 1e-15);
        }
        assert!(a.value(u64::MAX).is_finite() && b.value(u64::MAX).is_finite());
    }
}
