//! Robust fitting: Huber loss, seeded multi-start, Levenberg–Marquardt with Huber
//! reweighting (IRLS) in a transformed parameter space.

use rayon::prelude::*;

use crate::error::Error;
use crate::law::{FittedLaw, LawKind, Prepared, Quadrature, evaluate};
use crate::run::TrainingRun;

/// Where residuals are measured before the Huber loss.
///
/// ```
/// assert_eq!(cadence_curve::Residual::default(), cadence_curve::Residual::LogLoss);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Residual {
    /// `ln(loss) - ln(prediction)`, as the multi-power-law authors fit.
    #[default]
    LogLoss,
    /// `loss - prediction`.
    Loss,
}

/// Options of [`fit`].
///
/// ```
/// let o = cadence_curve::FitOptions::default();
/// assert_eq!((o.starts, o.huber_delta), (8, 1e-3));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitOptions {
    /// Seed of the deterministic start generator.
    pub seed: u64,
    /// Number of starts (the first is a fixed, data-derived guess; the others are seeded
    /// perturbations of it). At least 1.
    pub starts: usize,
    /// Huber threshold on the residual (`1e-3` on log-loss, as the authors use).
    pub huber_delta: f64,
    /// Residual space.
    pub residual: Residual,
    /// Levenberg–Marquardt iterations per polished start.
    pub max_iters: usize,
    /// Prior on the shape of the multi-power `G`, added to the objective of the multi-power
    /// laws. `None`: the law's default (none for [`LawKind::MultiPower`],
    /// [`ShapePrior::default`] for [`LawKind::PowerArea`]); ignored by the annealing law.
    pub shape_prior: Option<ShapePrior>,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            starts: 8,
            huber_delta: 1e-3,
            residual: Residual::LogLoss,
            max_iters: 200,
            shape_prior: None,
        }
    }
}

impl FitOptions {
    fn validate(&self) -> Result<(), Error> {
        if self.starts == 0 {
            return Err(Error::invalid("starts", 0, "must be at least 1"));
        }
        if !(self.huber_delta.is_finite() && self.huber_delta > 0.0) {
            return Err(Error::invalid(
                "huber_delta",
                self.huber_delta,
                "must be finite and > 0",
            ));
        }
        if let Some(p) = self.shape_prior {
            p.validate()?;
        }
        if self.max_iters == 0 {
            return Err(Error::invalid("max_iters", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// A Gaussian prior on the shape of the multi-power law's `G`, in log space:
///
/// ```text
/// weight / 2 * ((ln C - ln c)^2 + (ln beta' - ln beta)^2 + (ln gamma' - ln gamma)^2)
/// ```
///
/// Its centre is also where every start puts the shape. The default (weight 0.1, centre
/// `C = 2, beta = gamma = 0.5`) nearly pins the shape: with three training runs the free
/// shape drifts to degenerate values (`beta -> 0`, `B -> inf`) that fit and extrapolate badly.
///
/// ```
/// let p = cadence_curve::ShapePrior::default();
/// assert_eq!((p.weight, p.c, p.beta, p.gamma), (0.1, 2.0, 0.5, 0.5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShapePrior {
    /// Weight (0 disables the prior but keeps the centre as the start).
    pub weight: f64,
    /// Centre for `C`.
    pub c: f64,
    /// Centre for `beta`.
    pub beta: f64,
    /// Centre for `gamma`.
    pub gamma: f64,
}

impl Default for ShapePrior {
    fn default() -> Self {
        Self {
            weight: 0.1,
            c: 2.0,
            beta: 0.5,
            gamma: 0.5,
        }
    }
}

impl ShapePrior {
    /// No prior, starts at the default centre.
    ///
    /// ```
    /// assert_eq!(cadence_curve::ShapePrior::NONE.weight, 0.0);
    /// ```
    pub const NONE: Self = Self {
        weight: 0.0,
        c: 2.0,
        beta: 0.5,
        gamma: 0.5,
    };

    fn validate(&self) -> Result<(), Error> {
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(Error::invalid(
                "shape_prior.weight",
                self.weight,
                "must be finite and >= 0",
            ));
        }
        for (name, x) in [
            ("shape_prior.c", self.c),
            ("shape_prior.beta", self.beta),
            ("shape_prior.gamma", self.gamma),
        ] {
            if !(x.is_finite() && x > 0.0) {
                return Err(Error::invalid(name, x, "must be finite and > 0"));
            }
        }
        Ok(())
    }

    /// `ln C, ln beta, ln gamma` of the centre.
    fn center(&self) -> [f64; 3] {
        [self.c.ln(), self.beta.ln(), self.gamma.ln()]
    }
}

/// A fitted law with the objective it reached.
///
/// ```
/// # use cadence_curve::*;
/// # let runs: Vec<TrainingRun> = vec![];
/// // See `fit` for a full example.
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fit {
    /// The law.
    pub law: FittedLaw,
    /// The Huber objective at the optimum (sum over every logged point of every run).
    pub objective: f64,
    /// Which start won (0-based).
    pub start: usize,
}

/// Fits `kind` to `runs` by minimising the summed Huber loss of the residuals: every start
/// runs a few iterations of Levenberg–Marquardt, the best two continue to convergence; LM runs on Huber-reweighted least squares (exact gradient of the Huber
/// objective, Gauss–Newton curvature) over positive parameters in log space; starts run in
/// parallel and the best objective wins (ties to the lower start index), so the result only
/// depends on `options.seed`.
///
/// # Errors
/// [`Error::InvalidParameter`] for bad options or no runs; [`Error::FitFailed`] if no start
/// reaches a finite objective.
///
/// ```
/// use cadence_curve::{fit, FitOptions, FittedLaw, LawKind, MultiPowerParams, Run, TrainingRun};
/// // Synthetic runs drawn from a known law: a constant and a step-decay schedule.
/// let truth = FittedLaw::multi_power(MultiPowerParams {
///     l0: 3.0, a: 0.5, alpha: 0.5, b: 400.0, c: 2.0, beta: 0.6, gamma: 0.6,
///     ..MultiPowerParams::PUBLISHED_FORM })?;
/// let steps: Vec<u64> = (100..4000).step_by(100).collect();
/// let mut runs = Vec::new();
/// for lrs in [vec![3e-4; 4000], (0..4000).map(|k| if k < 2000 { 3e-4 } else { 1e-4 }).collect()] {
///     let loss = truth.predict_lrs(&lrs, &steps);
///     let logged = steps.iter().map(|&s| lrs[s as usize]).collect();
///     let run = Run::new("synthetic", steps.clone(), logged, loss)?;
///     runs.push(TrainingRun::new(run, lrs)?);
/// }
/// let fitted = fit(LawKind::MultiPower, &runs, &FitOptions { starts: 4, ..Default::default() })?;
/// let (want, got) = (truth.predict(&1e-4, &[3000]), fitted.law.predict(&1e-4, &[3000]));
/// assert!((want[0] - got[0]).abs() < 1e-3);
/// # Ok::<(), cadence_curve::Error>(())
/// ```
pub fn fit(kind: LawKind, runs: &[TrainingRun], options: &FitOptions) -> Result<Fit, Error> {
    options.validate()?;
    if runs.is_empty() {
        return Err(Error::invalid("runs", 0, "need at least one run"));
    }
    let problem = Problem::new(kind, runs, options);
    let starts = problem.starts(options.seed, options.starts);
    // Screen every start briefly, then polish the most promising ones to convergence.
    let mut screened: Vec<(usize, (f64, Vec<f64>))> = starts
        .into_par_iter()
        .map(|theta| problem.levenberg_marquardt(theta, SCREEN_ITERS))
        .enumerate()
        .filter(|(_, (f, _))| f.is_finite())
        .collect();
    screened.sort_by(|a, b| a.1.0.total_cmp(&b.1.0).then(a.0.cmp(&b.0)));
    screened.truncate(POLISHED);
    let polished: Vec<(usize, (f64, Vec<f64>))> = screened
        .into_par_iter()
        .map(|(i, (_, theta))| (i, problem.levenberg_marquardt(theta, options.max_iters)))
        .collect();
    let (start, (objective, theta)) = polished
        .into_iter()
        .filter(|(_, (f, _))| f.is_finite())
        .min_by(|a, b| a.1.0.total_cmp(&b.1.0).then(a.0.cmp(&b.0)))
        .ok_or(Error::FitFailed { law: kind.name() })?;
    Ok(Fit {
        law: FittedLaw::from_theta(kind, &theta),
        objective,
        start,
    })
}

/// Index of `ln C` in the multi-power parameter vector.
const SHAPE_FIRST: usize = 4;

/// Start of the power-area law's transient amplitude `E` (loss units): a few hundredths,
/// the size of the excess loss just after warmup.
const TRANSIENT_START: f64 = 0.05;
/// Start of its decay scale `s_E` (learning-rate area): about the area of a warmup, so the
/// transient starts out fading over the first few thousand steps after it.
const TRANSIENT_AREA_START: f64 = 0.3;

/// Levenberg–Marquardt iterations every start gets before the best are polished.
const SCREEN_ITERS: usize = 25;
/// How many screened starts are polished to convergence.
const POLISHED: usize = 2;

/// The fitting problem: prepared runs, targets, residual settings.
struct Problem {
    kind: LawKind,
    /// Prior on the shape of `G` (weight 0: none).
    shape: ShapePrior,
    runs: Vec<(Prepared, Vec<f64>)>,
    delta: f64,
    residual: Residual,
}

/// Huber loss.
fn huber(r: f64, delta: f64) -> f64 {
    let a = r.abs();
    if a <= delta {
        0.5 * r * r
    } else {
        delta * (a - 0.5 * delta)
    }
}

/// Deterministic SplitMix64 stream of uniforms in [0, 1).
struct SplitMix(u64);

impl SplitMix {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Problem {
    fn new(kind: LawKind, runs: &[TrainingRun], options: &FitOptions) -> Self {
        let runs = runs
            .iter()
            .map(|r| {
                (
                    Prepared::new(r.lrs(), r.run().steps(), Quadrature::default()),
                    r.run().loss().to_vec(),
                )
            })
            .collect();
        let shape = match kind {
            LawKind::Annealing => ShapePrior::NONE,
            LawKind::MultiPower => options.shape_prior.unwrap_or(ShapePrior::NONE),
            LawKind::PowerArea => options.shape_prior.unwrap_or_default(),
        };
        Self {
            kind,
            shape,
            runs,
            delta: options.huber_delta,
            residual: options.residual,
        }
    }

    /// A data-derived first guess, then seeded perturbations of it.
    fn starts(&self, seed: u64, n: usize) -> Vec<Vec<f64>> {
        let min_loss = self
            .runs
            .iter()
            .flat_map(|(_, y)| y.iter().copied())
            .fold(f64::INFINITY, f64::min);
        // The first logged point of the first run pins A given L0 and alpha.
        let (prep, y) = &self.runs[0];
        let p0 = prep.s1(prep.steps[0]).max(1e-12);
        let base_l0 = min_loss - 0.3;
        let base_alpha: f64 = 0.5;
        let base_a = ((y[0] - base_l0).max(0.05)) * p0.powf(base_alpha);
        let base = match self.kind {
            LawKind::MultiPower | LawKind::PowerArea => {
                let mut t = vec![base_l0, base_a.ln(), base_alpha.ln(), 400f64.ln()];
                t.extend(self.shape.center());
                if self.kind == LawKind::PowerArea {
                    t.extend([0.0, TRANSIENT_START.ln(), TRANSIENT_AREA_START.ln()]);
                }
                t
            }
            LawKind::Annealing => vec![
                base_l0,
                base_a.ln(),
                base_alpha.ln(),
                0.5f64.ln(),
                1e-3f64.ln(),
            ],
        };
        let mut rng = SplitMix(seed ^ 0x5EED_CAD3_0C0F_FEE5);
        let mut out = vec![base.clone()];
        for _ in 1..n {
            let mut theta = base.clone();
            // L0 moves additively (loss units); the log-parameters by up to a factor e^1.
            theta[0] += 0.6 * (rng.uniform() - 0.5);
            for t in theta.iter_mut().take(7).skip(2) {
                *t += 2.0 * (rng.uniform() - 0.5);
            }
            // Re-pin A for the moved L0 and alpha so every start begins near the data.
            let alpha = theta[2].exp();
            theta[1] = ((y[0] - theta[0]).max(0.05) * p0.powf(alpha)).ln();
            out.push(theta);
        }
        out
    }

    /// Residuals (and optionally their Jacobian) of every point of every run.
    fn residuals(&self, theta: &[f64], r: &mut Vec<f64>, mut jac: Option<&mut Vec<f64>>) -> bool {
        let n = self.kind.n_params();
        r.clear();
        if let Some(j) = jac.as_deref_mut() {
            j.clear();
        }
        let (mut pred, mut pj) = (Vec::new(), Vec::new());
        for (prep, y) in &self.runs {
            let want_jac = jac.is_some();
            evaluate(
                self.kind,
                theta,
                prep,
                &mut pred,
                want_jac.then_some(&mut pj),
            );
            for (i, (&p, &yi)) in pred.iter().zip(y).enumerate() {
                if !(p.is_finite() && p > 0.0) {
                    return false;
                }
                let (ri, scale) = match self.residual {
                    Residual::LogLoss => (p.ln() - yi.ln(), 1.0 / p),
                    Residual::Loss => (p - yi, 1.0),
                };
                r.push(ri);
                if let Some(j) = jac.as_deref_mut() {
                    j.extend(pj[i * n..(i + 1) * n].iter().map(|x| x * scale));
                }
            }
        }
        true
    }

    /// The shape prior's term of the objective.
    fn penalty(&self, theta: &[f64]) -> f64 {
        if self.shape.weight == 0.0 {
            return 0.0;
        }
        self.shape
            .center()
            .iter()
            .enumerate()
            .map(|(i, c)| 0.5 * self.shape.weight * (theta[SHAPE_FIRST + i] - c).powi(2))
            .sum()
    }

    fn objective(&self, theta: &[f64]) -> f64 {
        let mut r = Vec::new();
        if !self.residuals(theta, &mut r, None) {
            return f64::INFINITY;
        }
        let f: f64 = r.iter().map(|&x| huber(x, self.delta)).sum::<f64>() + self.penalty(theta);
        if f.is_finite() { f } else { f64::INFINITY }
    }

    /// Levenberg–Marquardt on the Huber objective via iteratively reweighted least squares.
    fn levenberg_marquardt(&self, mut theta: Vec<f64>, max_iters: usize) -> (f64, Vec<f64>) {
        let n = theta.len();
        let mut f = self.objective(&theta);
        if !f.is_finite() {
            return (f, theta);
        }
        let mut mu = 1e-3;
        let (mut r, mut jac) = (Vec::new(), Vec::new());
        let mut stalls = 0;
        for _ in 0..max_iters {
            if !self.residuals(&theta, &mut r, Some(&mut jac)) {
                break;
            }
            // Gradient g = sum psi(r) J and curvature H = sum w J^T J, w = psi(r)/r.
            let mut g = vec![0.0; n];
            let mut h = vec![0.0; n * n];
            for (i, &ri) in r.iter().enumerate() {
                let w = if ri.abs() <= self.delta {
                    1.0
                } else {
                    self.delta / ri.abs()
                };
                let row = &jac[i * n..(i + 1) * n];
                for a in 0..n {
                    g[a] += w * ri * row[a];
                    for b in 0..=a {
                        h[a * n + b] += w * row[a] * row[b];
                    }
                }
            }
            for a in 0..n {
                for b in 0..a {
                    h[b * n + a] = h[a * n + b];
                }
            }
            if self.shape.weight != 0.0 {
                for (i, c) in self.shape.center().iter().enumerate() {
                    let k = SHAPE_FIRST + i;
                    g[k] += self.shape.weight * (theta[k] - c);
                    h[k * n + k] += self.shape.weight;
                }
            }
            let mut improved = false;
            for _ in 0..30 {
                let mut m = h.clone();
                for a in 0..n {
                    m[a * n + a] += mu * h[a * n + a].max(1e-12) + 1e-15;
                }
                let Some(step) = solve(&m, &g, n) else {
                    mu *= 10.0;
                    continue;
                };
                let trial: Vec<f64> = theta.iter().zip(&step).map(|(t, s)| t - s).collect();
                let ft = self.objective(&trial);
                if ft < f {
                    let gain = (f - ft) / f.max(f64::MIN_POSITIVE);
                    theta = trial;
                    f = ft;
                    mu = (mu / 3.0).max(1e-12);
                    improved = true;
                    stalls = if gain < 1e-10 { stalls + 1 } else { 0 };
                    break;
                }
                mu *= 4.0;
                if mu > 1e12 {
                    break;
                }
            }
            if !improved || stalls >= 3 {
                break;
            }
        }
        (f, theta)
    }
}

/// Solves the symmetric positive-definite system `m x = b` by Cholesky; `None` if not SPD.
fn solve(m: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = m[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * y[k];
        }
        y[i] = s / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves() {
        let m = [4.0, 2.0, 2.0, 3.0];
        let x = solve(&m, &[2.0, 1.0], 2).unwrap();
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12);
        assert!((2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12);
        assert!(solve(&[0.0, 0.0, 0.0, 0.0], &[1.0, 1.0], 2).is_none());
    }

    #[test]
    fn huber_is_quadratic_then_linear() {
        assert!((huber(0.5e-3, 1e-3) - 0.125e-6).abs() < 1e-18);
        assert!((huber(-3e-3, 1e-3) - 2.5e-6).abs() < 1e-18);
    }

    #[test]
    fn rejects_bad_options() {
        let bad = FitOptions {
            starts: 0,
            ..Default::default()
        };
        assert!(matches!(
            fit(LawKind::MultiPower, &[], &bad),
            Err(Error::InvalidParameter { name: "starts", .. })
        ));
        assert!(matches!(
            fit(LawKind::MultiPower, &[], &FitOptions::default()),
            Err(Error::InvalidParameter { name: "runs", .. })
        ));
    }
}
