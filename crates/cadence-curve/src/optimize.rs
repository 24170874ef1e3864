//! Schedule optimisation against a fitted law: minimise the predicted final loss over
//! non-increasing post-warmup schedules with a fixed budget and peak.

use cadence::Schedule;

use crate::error::Error;
use crate::law::{FittedLaw, Prepared, Quadrature, evaluate};

/// Options of [`optimize_schedule`].
///
/// ```
/// let o = cadence_curve::OptimizeOptions::default();
/// assert_eq!(o.warmup_steps, 2160);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizeOptions {
    /// Linear warmup from 0 to the peak over this many steps (the last one exactly the peak),
    /// held fixed.
    pub warmup_steps: u64,
    /// The learning rate never goes below this (positive, below the peak).
    pub min_lr: f64,
    /// Adam iterations. On a 24000-step budget, 1000 iterations land within 2e-4 of the
    /// loss that 10000 reach.
    pub iters: usize,
    /// Adam step size on the per-step decrements (learning-rate units per step).
    pub step_size: f64,
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        Self {
            warmup_steps: 2160,
            min_lr: 1e-10,
            iters: 1000,
            step_size: 5e-9,
        }
    }
}

/// A schedule found by [`optimize_schedule`]: its per-step learning rate, usable as a
/// cadence [`Schedule`] (steps beyond the budget hold the last value).
///
/// ```
/// use cadence::Schedule;
/// let s = cadence_curve::OptimizedSchedule::from_lrs(vec![1.0, 0.5], f64::NAN)?;
/// assert_eq!((s.value(0), s.value(1), s.value(u64::MAX)), (1.0, 0.5, 0.5));
/// # Ok::<(), cadence_curve::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizedSchedule {
    lrs: Vec<f64>,
    predicted_final_loss: f64,
}

impl OptimizedSchedule {
    /// Wraps a per-step learning-rate sequence.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `lrs` is empty or holds a value that is not finite and
    /// `>= 0`.
    ///
    /// ```
    /// assert!(cadence_curve::OptimizedSchedule::from_lrs(vec![], 0.0).is_err());
    /// ```
    pub fn from_lrs(lrs: Vec<f64>, predicted_final_loss: f64) -> Result<Self, Error> {
        if lrs.is_empty() {
            return Err(Error::invalid("lrs", "[]", "must hold at least one step"));
        }
        if let Some(x) = lrs.iter().find(|x| !x.is_finite() || **x < 0.0) {
            return Err(Error::invalid(
                "lrs",
                x,
                "every value must be finite and >= 0",
            ));
        }
        Ok(Self {
            lrs,
            predicted_final_loss,
        })
    }

    /// The learning rate of every step of the budget.
    ///
    /// ```
    /// # let s = cadence_curve::OptimizedSchedule::from_lrs(vec![1.0, 0.5], 2.0)?;
    /// assert_eq!(s.lrs(), &[1.0, 0.5]);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn lrs(&self) -> &[f64] {
        &self.lrs
    }

    /// The law's predicted loss at the last step of the budget.
    ///
    /// ```
    /// # let s = cadence_curve::OptimizedSchedule::from_lrs(vec![1.0], 2.5)?;
    /// assert_eq!(s.predicted_final_loss(), 2.5);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn predicted_final_loss(&self) -> f64 {
        self.predicted_final_loss
    }
}

impl Schedule for OptimizedSchedule {
    fn value(&self, step: u64) -> f64 {
        let i = usize::try_from(step)
            .unwrap_or(usize::MAX)
            .min(self.lrs.len() - 1);
        self.lrs[i]
    }
}

/// Finds the schedule of `total_steps` steps with a fixed warmup to `peak`, then a
/// non-increasing learning rate (never below `options.min_lr`), that minimises `law`'s
/// predicted loss at the last step — the multi-power-law paper's procedure: Adam on the
/// per-step decrements `delta_t >= 0` (`eta_t = peak - sum delta`), projected after every
/// step, with the exact O(T) gradient of the predicted final loss.
///
/// # Errors
/// [`Error::InvalidParameter`] if `peak` is not finite and positive, `min_lr` not in
/// `(0, peak)`, `step_size` not positive, or `total_steps <= warmup_steps`.
///
/// ```
/// use cadence_curve::{optimize_schedule, FittedLaw, MultiPowerParams, OptimizeOptions};
/// let law = FittedLaw::multi_power(MultiPowerParams {
///     l0: 3.040, a: 0.525, alpha: 0.508, b: 363.8, c: 2.066, beta: 0.583, gamma: 0.641,
///     ..MultiPowerParams::PUBLISHED_FORM
/// })?;
/// let options = OptimizeOptions { warmup_steps: 200, iters: 300, ..Default::default() };
/// let best = optimize_schedule(&law, 3000, 3e-4, &options)?;
/// // The same warmup, then constant at the peak:
/// let mut constant = best.lrs()[..200].to_vec();
/// constant.resize(3000, 3e-4);
/// assert!(best.predicted_final_loss() < law.predict_lrs(&constant, &[2999])[0]);
/// assert!(best.lrs()[200..].windows(2).all(|w| w[1] <= w[0])); // non-increasing
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn optimize_schedule(
    law: &FittedLaw,
    total_steps: u64,
    peak: f64,
    options: &OptimizeOptions,
) -> Result<OptimizedSchedule, Error> {
    if !(peak.is_finite() && peak > 0.0) {
        return Err(Error::invalid("peak", peak, "must be finite and > 0"));
    }
    if !(options.min_lr > 0.0 && options.min_lr < peak) {
        return Err(Error::invalid(
            "min_lr",
            options.min_lr,
            "must be in (0, peak)",
        ));
    }
    if !(options.step_size.is_finite() && options.step_size > 0.0) {
        return Err(Error::invalid(
            "step_size",
            options.step_size,
            "must be finite and > 0",
        ));
    }
    if total_steps <= options.warmup_steps {
        return Err(Error::invalid(
            "total_steps",
            total_steps,
            format!("must exceed warmup_steps = {}", options.warmup_steps),
        ));
    }
    let n = total_steps as usize;
    let w = options.warmup_steps as usize;
    let mut lrs: Vec<f64> = (0..n)
        .map(|t| {
            if t < w && w > 1 {
                peak * t as f64 / (w - 1) as f64
            } else {
                peak
            }
        })
        .collect();
    let m = n - w;
    let mut delta = vec![0.0; m];
    let (mut m1, mut m2) = (vec![0.0; m], vec![0.0; m]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-30);
    let mut grad = vec![0.0; n];
    let mut best = (final_loss(law, &lrs), lrs.clone());
    for it in 1..=options.iters {
        gradient(law, &lrs, &mut grad);
        // d L / d delta_i = -sum_{j >= i} d L / d eta_j (post-warmup indices).
        let mut acc = 0.0;
        for i in (0..m).rev() {
            acc -= grad[w + i];
            let g = acc;
            m1[i] = b1 * m1[i] + (1.0 - b1) * g;
            m2[i] = b2 * m2[i] + (1.0 - b2) * g * g;
            let mh = m1[i] / (1.0 - b1.powi(it as i32));
            let vh = m2[i] / (1.0 - b2.powi(it as i32));
            delta[i] = (delta[i] - options.step_size * mh / (vh.sqrt() + eps)).clamp(0.0, peak);
        }
        // Project: the schedule may not go below min_lr.
        let mut eta = peak;
        for i in 0..m {
            let next = (eta - delta[i]).max(options.min_lr).min(eta);
            delta[i] = eta - next;
            eta = next;
            lrs[w + i] = eta;
        }
        let f = final_loss(law, &lrs);
        if f < best.0 {
            best = (f, lrs.clone());
        }
    }
    OptimizedSchedule::from_lrs(best.1, best.0)
}

fn final_loss(law: &FittedLaw, lrs: &[f64]) -> f64 {
    let last = lrs.len() - 1;
    let prep = Prepared::new(lrs, &[last as u64], Quadrature::EXACT);
    let mut out = Vec::new();
    evaluate(law.kind(), &law.theta(), &prep, &mut out, None);
    out[0]
}

/// Exact gradient of the predicted loss at the last step with respect to every `eta_j`.
fn gradient(law: &FittedLaw, lrs: &[f64], grad: &mut [f64]) {
    let n = lrs.len();
    let t = n - 1;
    match law {
        FittedLaw::MultiPower { params: p } | FittedLaw::PowerArea { params: p } => {
            // d(A Sp^-alpha)/d eta_j = -alpha A Sp^(-alpha-1) p eta_j^(p-1), plus the
            // transient's d(E exp(-S1/s_E))/d eta_j = -E/s_E exp(-S1/s_E), the same for all j.
            let area: f64 = lrs.iter().map(|x| x.powf(p.p)).sum();
            let scale = -p.alpha * p.a * area.powf(-p.alpha - 1.0) * p.p;
            let s1: f64 = lrs.iter().sum();
            let transient = -p.transient / p.transient_area * (-s1 / p.transient_area).exp();
            let base = |eta: f64| {
                transient
                    + if eta > 0.0 {
                        scale * eta.powf(p.p - 1.0)
                    } else {
                        0.0
                    }
            };
            // S_k = sum_{tau=k..t} eta_tau, suffix sums.
            let mut suffix = vec![0.0; n + 1];
            for k in (0..n).rev() {
                suffix[k] = suffix[k + 1] + lrs[k];
            }
            let mut g_val = vec![0.0; n + 1];
            let mut q = 0.0;
            for j in 0..n {
                // Terms with k = j (k >= 1).
                let mut own = 0.0;
                if j >= 1 {
                    let eta = lrs[j];
                    let d = lrs[j - 1] - eta;
                    if eta > 0.0 {
                        let e = eta.powf(-p.gamma);
                        let x = p.c * e * suffix[j];
                        let u = 1.0 + x;
                        let gx = 1.0 - u.powf(-p.beta);
                        let gp = p.beta * u.powf(-p.beta - 1.0);
                        g_val[j] = gx;
                        q += d * gp * p.c * e;
                        own = d * gp * x * (-p.gamma / eta);
                    } else {
                        g_val[j] = 1.0;
                    }
                }
                // sum_k d_k G_k: d/d eta_j = G_j * (-1) [j>=1] + G_{j+1} [j+1<=t] + Q_j + own.
                grad[j] = own + q - if j >= 1 { g_val[j] } else { 0.0 };
            }
            // The G_{j+1} term needs G at j+1, known only after the loop.
            for j in 0..t {
                let eta = lrs[j + 1];
                let g_next = if eta > 0.0 {
                    let x = p.c * eta.powf(-p.gamma) * suffix[j + 1];
                    1.0 - (1.0 + x).powf(-p.beta)
                } else {
                    1.0
                };
                grad[j] += g_next;
            }
            for (g, &eta) in grad.iter_mut().zip(lrs) {
                *g = base(eta) - p.b * *g;
            }
        }
        FittedLaw::Annealing { params: p } => {
            let total: f64 = lrs.iter().sum();
            let base = -p.alpha * p.a * total.powf(-p.alpha - 1.0);
            let peak = lrs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let peak_index = lrs.iter().position(|&x| x == peak).unwrap_or(0);
            // S2 = sum_{k > peak_index} d_k w_k, w_k = (1 - lambda^(t-k+1)) / (1 - lambda).
            let weight = |k: usize| {
                if k > peak_index && k <= t {
                    (1.0 - p.lambda.powi((t - k + 1) as i32)) / (1.0 - p.lambda)
                } else {
                    0.0
                }
            };
            for (j, g) in grad.iter_mut().enumerate() {
                let ds2 = weight(j + 1) - weight(j);
                *g = base - p.c * ds2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::law::{AnnealingParams, MultiPowerParams};

    fn laws() -> Vec<FittedLaw> {
        vec![
            FittedLaw::multi_power(MultiPowerParams {
                l0: 3.0,
                a: 0.5,
                alpha: 0.5,
                b: 400.0,
                c: 2.0,
                beta: 0.6,
                gamma: 0.6,
                ..MultiPowerParams::PUBLISHED_FORM
            })
            .unwrap(),
            FittedLaw::annealing(AnnealingParams {
                l0: 3.0,
                a: 0.5,
                alpha: 0.5,
                c: 300.0,
                lambda: 0.99,
            })
            .unwrap(),
            FittedLaw::power_area(MultiPowerParams {
                l0: 3.0,
                a: 0.3,
                alpha: 0.5,
                b: 400.0,
                c: 2.0,
                beta: 0.5,
                gamma: 0.5,
                p: 0.9,
                transient: 0.05,
                transient_area: 0.3,
            })
            .unwrap(),
        ]
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let n = 400;
        let lrs: Vec<f64> = (0..n)
            .map(|t| {
                if t < 50 {
                    3e-4 * t as f64 / 49.0
                } else {
                    3e-4 - 2e-4 * (t - 50) as f64 / 350.0
                }
            })
            .collect();
        for law in laws() {
            let mut grad = vec![0.0; n];
            gradient(&law, &lrs, &mut grad);
            for j in [1usize, 30, 51, 200, 398, 399] {
                let h = 1e-9;
                let (mut up, mut down) = (lrs.clone(), lrs.clone());
                up[j] += h;
                down[j] -= h;
                let fd = (final_loss(&law, &up) - final_loss(&law, &down)) / (2.0 * h);
                assert!(
                    (fd - grad[j]).abs() <= 1e-4 * (1.0 + fd.abs()),
                    "{} eta_{j}: {} vs {fd}",
                    law.kind(),
                    grad[j]
                );
            }
        }
    }

    #[test]
    fn optimum_beats_constant_and_cosine_and_is_monotone() {
        let (n, w) = (6000usize, 500usize);
        let with_warmup = |after: &dyn Fn(usize) -> f64| -> Vec<f64> {
            (0..n)
                .map(|t| {
                    if t < w {
                        3e-4 * t as f64 / (w - 1) as f64
                    } else {
                        after(t)
                    }
                })
                .collect()
        };
        let constant = with_warmup(&|_| 3e-4);
        let cosine = with_warmup(&|t| {
            let f = (t - w) as f64 / (n - w) as f64;
            3e-5 + 1.35e-4 * (1.0 + (std::f64::consts::PI * f).cos())
        });
        for law in laws() {
            let opt = OptimizeOptions {
                warmup_steps: w as u64,
                iters: 300,
                ..Default::default()
            };
            let best = optimize_schedule(&law, n as u64, 3e-4, &opt).unwrap();
            let f = best.predicted_final_loss();
            assert!((f - final_loss(&law, best.lrs())).abs() < 1e-12);
            assert!(f < final_loss(&law, &cosine), "{}", law.kind());
            assert!(f < final_loss(&law, &constant), "{}", law.kind());
            assert!(best.lrs()[w..].windows(2).all(|p| p[1] <= p[0]));
            assert!(best.lrs().iter().skip(1).all(|&x| x >= 1e-10));
            let again = optimize_schedule(&law, n as u64, 3e-4, &opt).unwrap();
            assert_eq!(best, again, "deterministic");
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        let law = &laws()[0];
        let o = OptimizeOptions::default();
        assert!(optimize_schedule(law, 100, 3e-4, &o).is_err());
        assert!(optimize_schedule(law, 5000, -1.0, &o).is_err());
    }
}
