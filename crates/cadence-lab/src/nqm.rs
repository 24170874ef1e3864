//! The noisy quadratic model: SGD on `L(x) = h x^2 / 2` with gradient noise of variance
//! `c / B`, simulated with many independent particles and solved exactly.
//!
//! ```text
//! x_{t+1}       = x_t - a_t (h x_t + xi_t),         xi_t ~ N(0, c / B)
//! E[x_{t+1}^2]  = (1 - a_t h)^2 E[x_t^2] + a_t^2 c / B
//! excess loss   = h E[x^2] / 2  ->  a c / (2 B (2 - a h))   for a constant rate a
//! ```
//!
//! ```
//! use cadence_lab::nqm::Nqm;
//!
//! let m = Nqm { h: 1.0, c: 1.0, batch: 1.0, x0: 3.0 };
//! let exact = m.exact(&0.5, 200);
//! assert!((m.excess(exact.second_moment[200]) - m.stationary_excess(0.5)).abs() < 1e-12);
//! ```

use cadence::Schedule;
use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// The model's constants.
///
/// ```
/// let m = cadence_lab::nqm::Nqm { h: 2.0, c: 1.0, batch: 4.0, x0: 1.0 };
/// assert!((m.stationary_excess(0.1) - 0.1 / (2.0 * 4.0 * 1.8)).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Nqm {
    /// Curvature `h`.
    pub h: f64,
    /// Per-example gradient noise variance `c`.
    pub c: f64,
    /// Batch size `B`.
    pub batch: f64,
    /// Starting point `x_0` (deterministic).
    pub x0: f64,
}

/// Exact first and second moments of `x_t` for `t = 0..=steps`.
///
/// ```
/// let m = cadence_lab::nqm::Nqm { h: 1.0, c: 0.0, batch: 1.0, x0: 2.0 };
/// let e = m.exact(&0.5, 2);
/// assert_eq!(e.mean, vec![2.0, 1.0, 0.5]);
/// assert_eq!(e.second_moment, vec![4.0, 1.0, 0.25]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// `E[x_t]`.
    pub mean: Vec<f64>,
    /// `E[x_t^2]`.
    pub second_moment: Vec<f64>,
}

impl Nqm {
    /// The lab's noisy quadratic: unit curvature and noise, batch 1, starting at 10 (the
    /// `noise` and `half-life` experiments share it, so their numbers compare).
    ///
    /// ```
    /// assert_eq!(cadence_lab::nqm::Nqm::LAB.x0, 10.0);
    /// ```
    pub const LAB: Nqm = Nqm {
        h: 1.0,
        c: 1.0,
        batch: 1.0,
        x0: 10.0,
    };

    /// The excess loss `h E[x^2] / 2` for a second moment.
    ///
    /// ```
    /// # let m = cadence_lab::nqm::Nqm { h: 2.0, c: 1.0, batch: 1.0, x0: 1.0 };
    /// assert_eq!(m.excess(3.0), 3.0);
    /// ```
    pub fn excess(&self, second_moment: f64) -> f64 {
        0.5 * self.h * second_moment
    }

    /// The stationary excess loss of a constant rate `a`: `a c / (2 B (2 - a h))`
    /// (finite for `0 < a h < 2`).
    ///
    /// ```
    /// # let m = cadence_lab::nqm::Nqm { h: 1.0, c: 1.0, batch: 1.0, x0: 1.0 };
    /// assert!((m.stationary_excess(0.5) - 1.0 / 6.0).abs() < 1e-15);
    /// ```
    pub fn stationary_excess(&self, a: f64) -> f64 {
        a * self.c / (2.0 * self.batch * (2.0 - a * self.h))
    }

    /// The exact moments under `schedule` by the recursion.
    ///
    /// ```
    /// let m = cadence_lab::nqm::Nqm { h: 1.0, c: 1.0, batch: 1.0, x0: 0.0 };
    /// let e = m.exact(&0.5, 1);
    /// assert_eq!(e.second_moment[1], 0.25); // a^2 c / B
    /// ```
    pub fn exact<S: Schedule + ?Sized>(&self, schedule: &S, steps: u64) -> Moments {
        let mut mean = Vec::with_capacity(steps as usize + 1);
        let mut second = Vec::with_capacity(steps as usize + 1);
        let (mut m, mut s) = (self.x0, self.x0 * self.x0);
        mean.push(m);
        second.push(s);
        for t in 0..steps {
            let a = schedule.value(t);
            let k = 1.0 - a * self.h;
            m *= k;
            s = k * k * s + a * a * self.c / self.batch;
            mean.push(m);
            second.push(s);
        }
        Moments {
            mean,
            second_moment: second,
        }
    }

    /// Simulates `particles` independent SGD chains with the noise of `seed` and returns
    /// the sample mean of `x_t^2` at each step in `record` (ascending, at most `steps`).
    ///
    /// The noise depends only on the seed, so schedules compared under one seed see the
    /// same noise (common random numbers).
    ///
    /// ```
    /// let m = cadence_lab::nqm::Nqm { h: 1.0, c: 1.0, batch: 1.0, x0: 1.0 };
    /// let sim = m.simulate(&0.1, 100, 2_000, 7, &[0, 100]);
    /// assert_eq!(sim[0], 1.0);
    /// let exact = m.exact(&0.1, 100).second_moment[100];
    /// assert!((sim[1] - exact).abs() < 0.1 * exact);
    /// ```
    pub fn simulate<S: Schedule + ?Sized>(
        &self,
        schedule: &S,
        steps: u64,
        particles: usize,
        seed: u64,
        record: &[u64],
    ) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let sd = (self.c / self.batch).sqrt();
        let mut x = vec![self.x0; particles];
        let mut out = Vec::with_capacity(record.len());
        let mut next = record.iter().peekable();
        let mean_sq = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
        for t in 0..=steps {
            while next.peek().is_some_and(|&&r| r == t) {
                out.push(mean_sq(&x));
                next.next();
            }
            if t == steps {
                break;
            }
            let a = schedule.value(t);
            for xi in x.iter_mut() {
                let noise: f64 = rng.sample(StandardNormal);
                *xi -= a * (self.h * *xi + sd * noise);
            }
        }
        out
    }
}

/// About `n` steps from 0 to `steps`, evenly spaced on a log scale (0 and `steps` included).
///
/// ```
/// let r = cadence_lab::nqm::log_steps(1000, 10);
/// assert_eq!((r[0], *r.last().unwrap()), (0, 1000));
/// assert!(r.windows(2).all(|w| w[0] < w[1]));
/// ```
pub fn log_steps(steps: u64, n: usize) -> Vec<u64> {
    let mut v = vec![0];
    for i in 0..n {
        let t = ((steps as f64).ln() * i as f64 / (n - 1).max(1) as f64)
            .exp()
            .round() as u64;
        v.push(t.min(steps));
    }
    v.push(steps);
    v.sort_unstable();
    v.dedup();
    v
}
