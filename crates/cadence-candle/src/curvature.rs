//! The curvature advisor: the largest Hessian eigenvalue of a loss by power iteration on
//! Hessian-vector products, the stability bound `2 / lambda_max`, and — when the smallest
//! curvature is positive — the best constant step of gradient descent on a quadratic,
//! `2 / (L + mu)`.
//!
//! ```text
//! H v ≈ (g(w + h v) - g(w - h v)) / (2 h)                  (central difference)
//! v_{k+1} = H v_k / |H v_k|,  lambda_k = v_k . H v_k     (power iteration)
//! mu = s - lambda_max(s I - H),  s = lambda_max           (shifted power iteration)
//! eta* = 2 / (L + mu),  rate (kappa - 1) / (kappa + 1),  kappa = L / mu
//! ```
//!
//! Hessian-vector products come from central differences of gradients: candle detaches
//! the gradients it returns (double backward needs `CANDLE_GRAD_DO_NOT_DETACH` and
//! backward rules that are themselves differentiable, which not all of candle's are), so
//! two backward passes per product are the portable route. The step `h` is relative:
//! `h = step * max(1, |w|)` with `|v| = 1`; the default `step = 1e-2` keeps the f32
//! rounding of `w ± h v` and of the gradients far below the difference (at `1e-4` on the
//! digits MLP the estimate is noise), and on piecewise-linear networks (ReLU) it measures
//! the curvature at that scale. The weights are put back bit for bit after
//! every estimate.
//!
//! Power iteration converges to the eigenvalue of largest *magnitude*; on a non-convex
//! loss that is the most negative one when it outweighs the largest positive one (the
//! reported value is then negative). The smallest eigenvalue is reported as `mu` only when
//! its shifted iteration converged; `2 / (L + mu)` only when `mu > 0`.
//!
//! ```
//! use cadence_candle::curvature::PowerIteration;
//! use candle_core::{Device, Var};
//!
//! // f(x) = 0.5 (4 x0^2 + x1^2): Hessian diag(4, 1).
//! let x = Var::from_vec(vec![1.0_f64, -2.0], 2, &Device::Cpu)?;
//! let scale = candle_core::Tensor::new(&[4.0_f64, 1.0], &Device::Cpu)?;
//! let loss = || (x.as_tensor().sqr()? * &scale)?.sum_all()? * 0.5;
//! let report = PowerIteration::default().with_lower(true).estimate(&[x.clone()], loss)?;
//! assert!((report.lambda_max - 4.0).abs() < 1e-3);
//! assert!((report.stability_bound - 0.5).abs() < 1e-3);
//! assert!((report.optimal_step.unwrap() - 0.4).abs() < 1e-3); // 2 / (4 + 1)
//! assert_eq!(x.to_vec1::<f64>()?, vec![1.0, -2.0]); // weights untouched
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # References
//! - Nesterov (2004), *Introductory Lectures on Convex Optimization*, Theorem 2.1.15
//!   (`2 / (L + mu)` and its rate).
//! - Cohen et al. (2021), "Gradient Descent on Neural Networks Typically Occurs at the
//!   Edge of Stability", ICLR (sharpness against `2 / lr`).

use std::io::Write;
use std::path::PathBuf;

use candle_core::{DType, Tensor, Var};
use rand_distr::{Distribution, StandardNormal};

use crate::data::Batch;
use crate::init::stream;
use crate::model::Model;
use crate::train::{Callback, Control, StepRecord, TrainError};

/// Purpose tag of the start-vector stream (see [`crate::init::stream`]).
const START_STREAM: u64 = 0x4845_5353; // "HESS"

/// The settings of the power iteration.
///
/// # Examples
///
/// ```
/// use cadence_candle::curvature::PowerIteration;
/// let p = PowerIteration::default().with_tolerance(1e-5)?.with_max_iterations(200)?;
/// assert_eq!(p.max_iterations(), 200);
/// assert!(PowerIteration::default().with_tolerance(0.0).is_err());
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PowerIteration {
    tolerance: f64,
    max_iterations: usize,
    step: f64,
    seed: u64,
    lower: bool,
}

impl Default for PowerIteration {
    /// Relative tolerance `1e-4` between successive estimates, at most 100 iterations,
    /// finite-difference step `1e-2`, seed 0, no smallest-eigenvalue estimate.
    fn default() -> Self {
        PowerIteration {
            tolerance: 1e-4,
            max_iterations: 100,
            step: 1e-2,
            seed: 0,
            lower: false,
        }
    }
}

impl PowerIteration {
    /// Stops when two successive estimates differ by at most `tolerance` times the
    /// latest.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] unless `0 < tolerance < 1`.
    pub fn with_tolerance(mut self, tolerance: f64) -> Result<Self, TrainError> {
        if !(tolerance > 0.0 && tolerance < 1.0) {
            return Err(TrainError::invalid(
                "tolerance",
                tolerance,
                "must be in (0, 1)",
            ));
        }
        self.tolerance = tolerance;
        Ok(self)
    }

    /// At most `n` Hessian-vector products per eigenvalue.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `n` is 0.
    pub fn with_max_iterations(mut self, n: usize) -> Result<Self, TrainError> {
        if n == 0 {
            return Err(TrainError::invalid(
                "max_iterations",
                0,
                "must be at least 1",
            ));
        }
        self.max_iterations = n;
        Ok(self)
    }

    /// The relative finite-difference step.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] unless `0 < step < 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::curvature::PowerIteration::default().with_step(1e-2).is_ok());
    /// ```
    pub fn with_step(mut self, step: f64) -> Result<Self, TrainError> {
        if !(step > 0.0 && step < 1.0) {
            return Err(TrainError::invalid("step", step, "must be in (0, 1)"));
        }
        self.step = step;
        Ok(self)
    }

    /// The seed of the random start vector.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::curvature::PowerIteration::default().with_seed(2).seed(), 2);
    /// ```
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Also estimates the smallest eigenvalue (a second, shifted power iteration), for
    /// `2 / (L + mu)`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence_candle::curvature::PowerIteration::default().with_lower(true).lower());
    /// ```
    pub fn with_lower(mut self, lower: bool) -> Self {
        self.lower = lower;
        self
    }

    /// The tolerance.
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }

    /// The iteration cap.
    pub fn max_iterations(&self) -> usize {
        self.max_iterations
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether the smallest eigenvalue is estimated too.
    pub fn lower(&self) -> bool {
        self.lower
    }

    /// Estimates the curvature of `loss` (a scalar built from `vars`, recomputed on each
    /// call) at the current values of `vars`, and restores them bit for bit.
    ///
    /// # Errors
    /// [`TrainError::Candle`] from the loss or its gradient; [`TrainError::InvalidParameter`]
    /// if `vars` is empty or the loss is not finite.
    pub fn estimate<F>(&self, vars: &[Var], mut loss: F) -> Result<CurvatureReport, TrainError>
    where
        F: FnMut() -> candle_core::Result<Tensor>,
    {
        if vars.is_empty() {
            return Err(TrainError::invalid(
                "vars",
                0,
                "needs at least one variable",
            ));
        }
        let saved: Vec<Tensor> = vars
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect::<Result<_, _>>()?;
        let result = self.estimate_inner(vars, &saved, &mut loss);
        for (v, t) in vars.iter().zip(&saved) {
            v.set(t)?;
        }
        result
    }

    fn estimate_inner<F>(
        &self,
        vars: &[Var],
        saved: &[Tensor],
        loss: &mut F,
    ) -> Result<CurvatureReport, TrainError>
    where
        F: FnMut() -> candle_core::Result<Tensor>,
    {
        let w0: Vec<f64> = flatten(saved)?;
        let norm_w = dot(&w0, &w0).sqrt();
        let h = self.step * norm_w.max(1.0);
        let mut products = 0_usize;
        let mut hvp = |v: &[f64]| -> Result<Vec<f64>, TrainError> {
            products += 1;
            let plus: Vec<f64> = w0.iter().zip(v).map(|(w, d)| w + h * d).collect();
            let minus: Vec<f64> = w0.iter().zip(v).map(|(w, d)| w - h * d).collect();
            let gp = gradient_at(vars, &plus, loss)?;
            let gm = gradient_at(vars, &minus, loss)?;
            Ok(gp
                .iter()
                .zip(&gm)
                .map(|(a, b)| (a - b) / (2.0 * h))
                .collect())
        };
        let mut rng = stream(self.seed, START_STREAM);
        let start: Vec<f64> = (0..w0.len())
            .map(|_| Distribution::<f64>::sample(&StandardNormal, &mut rng))
            .collect();
        let top = self.iterate(&start, 0.0, &mut hvp)?;
        let lambda_max = top.value;
        let lower = if self.lower {
            // Largest eigenvalue of s I - H is s - mu.
            let s = lambda_max.abs();
            let shifted = self.iterate(&start, s, &mut hvp)?;
            Some(Eigen {
                value: s - shifted.value,
                ..shifted
            })
        } else {
            None
        };
        Ok(CurvatureReport::new(top, lower, products))
    }

    /// Power iteration on `v -> H v` (or `v -> s v - H v` when `shift` is not 0).
    fn iterate(
        &self,
        start: &[f64],
        shift: f64,
        hvp: &mut impl FnMut(&[f64]) -> Result<Vec<f64>, TrainError>,
    ) -> Result<Eigen, TrainError> {
        let mut v = normalized(start.to_vec());
        let mut previous = f64::NAN;
        let mut value = 0.0;
        for iteration in 1..=self.max_iterations {
            let mut w = hvp(&v)?;
            if shift != 0.0 {
                for (wi, vi) in w.iter_mut().zip(&v) {
                    *wi = shift * vi - *wi;
                }
            }
            value = dot(&v, &w);
            if !value.is_finite() {
                return Err(TrainError::invalid(
                    "loss",
                    value,
                    "Hessian-vector product is not finite",
                ));
            }
            let norm = dot(&w, &w).sqrt();
            if norm == 0.0 {
                return Ok(Eigen {
                    value: 0.0,
                    iterations: iteration,
                    converged: true,
                });
            }
            if (value - previous).abs() <= self.tolerance * value.abs() {
                return Ok(Eigen {
                    value,
                    iterations: iteration,
                    converged: true,
                });
            }
            previous = value;
            v = w.into_iter().map(|x| x / norm).collect();
        }
        Ok(Eigen {
            value,
            iterations: self.max_iterations,
            converged: false,
        })
    }
}

/// One eigenvalue estimate.
///
/// # Examples
///
/// ```
/// let e = cadence_candle::curvature::Eigen { value: 2.0, iterations: 12, converged: true };
/// assert!(e.converged);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Eigen {
    /// The estimate (the last Rayleigh quotient).
    pub value: f64,
    /// Hessian-vector products used.
    pub iterations: usize,
    /// Whether the tolerance was met before the cap.
    pub converged: bool,
}

/// What the curvature says about step sizes.
///
/// # Examples
///
/// ```
/// use cadence_candle::curvature::{CurvatureReport, Eigen};
/// let top = Eigen { value: 10.0, iterations: 5, converged: true };
/// let low = Eigen { value: 1.0, iterations: 9, converged: true };
/// let r = CurvatureReport::new(top, Some(low), 14);
/// assert!((r.stability_bound - 0.2).abs() < 1e-12);
/// assert!((r.optimal_step.unwrap() - 2.0 / 11.0).abs() < 1e-12);
/// assert!((r.contraction.unwrap() - 9.0 / 11.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvatureReport {
    /// The largest-magnitude Hessian eigenvalue `L`.
    pub lambda_max: f64,
    /// `2 / lambda_max`: gradient descent with a larger constant step diverges along the
    /// top eigenvector (of a quadratic; locally, of any smooth loss).
    pub stability_bound: f64,
    /// The estimate of `L`, with its iteration count and convergence.
    pub top: Eigen,
    /// The smallest eigenvalue `mu`, when asked for and converged.
    pub lambda_min: Option<f64>,
    /// The shifted iteration that gave `lambda_min`, when asked for (converged or not).
    pub bottom: Option<Eigen>,
    /// `2 / (L + mu)`, when `0 < mu <= L`.
    pub optimal_step: Option<f64>,
    /// `(kappa - 1) / (kappa + 1)` with `kappa = L / mu`: the rate per step of gradient
    /// descent with `optimal_step` on a quadratic.
    pub contraction: Option<f64>,
    /// Hessian-vector products computed in all (two gradients each).
    pub products: usize,
}

impl CurvatureReport {
    /// The report for the estimates `top` (of `L`) and `bottom` (of `mu`).
    pub fn new(top: Eigen, bottom: Option<Eigen>, products: usize) -> Self {
        let l = top.value;
        let lambda_min = bottom.filter(|b| b.converged).map(|b| b.value);
        let usable = lambda_min.filter(|&mu| mu > 0.0 && mu <= l);
        CurvatureReport {
            lambda_max: l,
            stability_bound: 2.0 / l,
            top,
            lambda_min,
            bottom,
            optimal_step: usable.map(|mu| 2.0 / (l + mu)),
            contraction: usable.map(|mu| (l - mu) / (l + mu)),
            products,
        }
    }
}

/// The curvature of the mean cross-entropy of `model` on `batch` (pass the whole
/// training set as one batch, [`crate::data::Dataset::to_batch`], for the full loss).
///
/// # Errors
/// As [`PowerIteration::estimate`].
///
/// # Examples
///
/// ```
/// use cadence_candle::curvature::{PowerIteration, on_batch};
/// use cadence_candle::data::{Scaling, digits_split};
/// use cadence_candle::model::{Mlp, MlpConfig, Snapshot};
/// use candle_core::Device;
///
/// let (train, _) = digits_split(Scaling::Standardize)?;
/// let batch = train.subsample(256, 0)?.to_batch(&Device::Cpu)?;
/// let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
/// let before = Snapshot::take(&model)?;
/// let report = on_batch(&model, &batch, &PowerIteration::default())?;
/// assert!(report.lambda_max > 0.0 && report.top.converged);
/// assert_eq!(Snapshot::take(&model)?, before);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn on_batch<M: Model + ?Sized>(
    model: &M,
    batch: &Batch,
    power: &PowerIteration,
) -> Result<CurvatureReport, TrainError> {
    let vars = model.vars();
    power.estimate(&vars, || {
        candle_nn::loss::cross_entropy(&model.forward(&batch.x)?, &batch.y)
    })
}

fn flatten(tensors: &[Tensor]) -> Result<Vec<f64>, TrainError> {
    let mut out = Vec::new();
    for t in tensors {
        out.extend(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?);
    }
    Ok(out)
}

/// Sets `vars` to the flat values `w` and returns the flat gradient of `loss` there.
fn gradient_at<F>(vars: &[Var], w: &[f64], loss: &mut F) -> Result<Vec<f64>, TrainError>
where
    F: FnMut() -> candle_core::Result<Tensor>,
{
    let mut offset = 0;
    for v in vars {
        let n = v.elem_count();
        let t = Tensor::from_slice(&w[offset..offset + n], v.shape(), v.device())?
            .to_dtype(v.dtype())?;
        v.set(&t)?;
        offset += n;
    }
    let l = loss()?;
    let grads = l.backward()?;
    let mut out = Vec::with_capacity(w.len());
    for v in vars {
        match grads.get(v.as_tensor()) {
            Some(g) => out.extend(g.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?),
            None => out.extend(std::iter::repeat_n(0.0, v.elem_count())),
        }
    }
    Ok(out)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalized(v: Vec<f64>) -> Vec<f64> {
    let n = dot(&v, &v).sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// One sharpness measurement of [`SharpnessMonitor`].
///
/// # Examples
///
/// ```
/// let r = cadence_candle::curvature::SharpnessRecord { step: 10, lr: 0.1, lambda_max: 15.0, threshold: 20.0 };
/// assert!(r.lambda_max < r.threshold); // below the edge of stability
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SharpnessRecord {
    /// The optimizer step after which it was measured (steps taken so far).
    pub step: u64,
    /// The learning rate of that step (first group).
    pub lr: f64,
    /// The largest Hessian eigenvalue on the monitor's batch.
    pub lambda_max: f64,
    /// The edge of stability `2 (1 + momentum) / lr` (`2 / lr` without momentum).
    pub threshold: f64,
}

/// A training [`Callback`] that measures the sharpness (largest Hessian eigenvalue) on a
/// fixed batch every `every` steps and compares it with the edge of stability
/// `2 (1 + beta) / lr` of (heavy-ball) gradient descent. It restores the weights bit for
/// bit, so training is unchanged; the records are kept (and travel in checkpoints) and,
/// with [`SharpnessMonitor::with_csv`], appended to a CSV file `step,lr,lambda_max,threshold`
/// next to the training log.
///
/// For adaptive optimizers (Adam) the relevant quantity is the preconditioned sharpness;
/// the plain one still shows progressive sharpening.
///
/// # Examples
///
/// ```
/// use cadence_candle::curvature::{PowerIteration, SharpnessMonitor};
/// use cadence_candle::data::{Scaling, digits_split};
/// use cadence_candle::model::{Mlp, MlpConfig, Model};
/// use cadence_candle::train::{Progress, TrainConfig, Trainer};
/// use candle_core::Device;
/// use candle_nn::{Optimizer, SGD};
///
/// let (train, _) = digits_split(Scaling::Standardize)?;
/// let train = train.subsample(256, 0)?;
/// let batch = train.to_batch(&Device::Cpu)?;
/// let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
/// let monitor = SharpnessMonitor::new(batch, 2, PowerIteration::default())?;
/// let config = TrainConfig::new(1, 64)?.with_progress(Progress::Hidden);
/// let mut trainer = Trainer::new(&model, SGD::new(model.vars(), 0.1)?, &train, config)?
///     .with_callback(Box::new(monitor));
/// trainer.run()?;
/// let state = trainer.callbacks()[0].state();
/// assert_eq!(state.as_array().map(|a| a.len()), Some(2)); // after steps 2 and 4
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SharpnessMonitor {
    batch: Batch,
    every: u64,
    power: PowerIteration,
    momentum: f64,
    csv: Option<PathBuf>,
    records: Vec<SharpnessRecord>,
}

impl SharpnessMonitor {
    /// Measures on `batch` after every `every`-th step.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `every` is 0 or `batch` is empty.
    pub fn new(batch: Batch, every: u64, power: PowerIteration) -> Result<Self, TrainError> {
        if every == 0 {
            return Err(TrainError::invalid("every", 0, "must be at least 1"));
        }
        if batch.is_empty() {
            return Err(TrainError::invalid("batch", 0, "needs at least one sample"));
        }
        Ok(SharpnessMonitor {
            batch,
            every,
            power,
            momentum: 0.0,
            csv: None,
            records: Vec::new(),
        })
    }

    /// The heavy-ball momentum `beta` of the optimizer: the threshold becomes
    /// `2 (1 + beta) / lr`.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] unless `0 <= beta < 1`.
    pub fn with_momentum(mut self, beta: f64) -> Result<Self, TrainError> {
        if !(0.0..1.0).contains(&beta) {
            return Err(TrainError::invalid("momentum", beta, "must be in [0, 1)"));
        }
        self.momentum = beta;
        Ok(self)
    }

    /// Also appends each record to the CSV file `path` (created with a header).
    ///
    /// # Errors
    /// [`TrainError::Io`] if the file cannot be created.
    pub fn with_csv(mut self, path: impl Into<PathBuf>) -> Result<Self, TrainError> {
        let path = path.into();
        std::fs::write(&path, "step,lr,lambda_max,threshold\n")
            .map_err(|e| TrainError::io(&path, e))?;
        self.csv = Some(path);
        Ok(self)
    }

    /// The measurements so far.
    pub fn records(&self) -> &[SharpnessRecord] {
        &self.records
    }
}

impl Callback for SharpnessMonitor {
    fn on_step(&mut self, record: &StepRecord, model: &dyn Model) -> Result<Control, TrainError> {
        let step = record.step + 1;
        if !step.is_multiple_of(self.every) {
            return Ok(Control::Continue);
        }
        let report = on_batch(model, &self.batch, &self.power)?;
        let lr = record.lr.first().copied().unwrap_or(f64::NAN);
        let r = SharpnessRecord {
            step,
            lr,
            lambda_max: report.lambda_max,
            threshold: 2.0 * (1.0 + self.momentum) / lr,
        };
        if let Some(path) = &self.csv {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| TrainError::io(path, e))?;
            writeln!(f, "{},{},{},{}", r.step, r.lr, r.lambda_max, r.threshold)
                .map_err(|e| TrainError::io(path, e))?;
        }
        self.records.push(r);
        Ok(Control::Continue)
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.records).unwrap_or(serde_json::Value::Null)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        self.records = serde_json::from_value(state.clone())
            .map_err(|e| TrainError::mismatch("sharpness records", "a list", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// A random orthogonal matrix (Gram-Schmidt on Gaussian columns), row-major.
    fn orthogonal(n: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = stream(seed, 1);
        let mut q: Vec<Vec<f64>> = Vec::new();
        while q.len() < n {
            let mut c: Vec<f64> = (0..n)
                .map(|_| Distribution::<f64>::sample(&StandardNormal, &mut rng))
                .collect();
            for p in &q {
                let d = dot(&c, p);
                for (ci, pi) in c.iter_mut().zip(p) {
                    *ci -= d * pi;
                }
            }
            q.push(normalized(c));
        }
        q
    }

    /// A = Q^T diag(spectrum) Q.
    fn matrix(spectrum: &[f64], seed: u64) -> Vec<Vec<f64>> {
        let n = spectrum.len();
        let q = orthogonal(n, seed);
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (0..n).map(|k| q[k][i] * spectrum[k] * q[k][j]).sum())
                    .collect()
            })
            .collect()
    }

    fn quadratic_report(spectrum: &[f64], dtype: DType) -> (CurvatureReport, Vec<Vec<f64>>) {
        let a = matrix(spectrum, 7);
        let n = spectrum.len();
        let flat: Vec<f64> = a.iter().flatten().copied().collect();
        let at = Tensor::from_vec(flat, (n, n), &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let x0: Vec<f64> = (0..n).map(|i| 0.3 * i as f64 - 0.5).collect();
        let x = Var::from_tensor(
            &Tensor::from_vec(x0, (n, 1), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
        let before = x.as_tensor().copy().unwrap();
        let loss = || {
            let ax = at.matmul(x.as_tensor())?;
            (x.as_tensor() * ax)?.sum_all()? * 0.5
        };
        let report = PowerIteration::default()
            .with_tolerance(1e-7)
            .unwrap()
            .with_max_iterations(500)
            .unwrap()
            .with_lower(true)
            .estimate(std::slice::from_ref(&x), loss)
            .unwrap();
        let same = (x.as_tensor() - &before)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert_eq!(same, 0.0, "weights restored exactly");
        (report, a)
    }

    /// The per-step contraction of gradient descent with `step` on A, measured over
    /// steps 100..200 from a start with weight on every eigenvector.
    fn measured_rate(a: &[Vec<f64>], step: f64) -> f64 {
        let n = a.len();
        let mut x = vec![1.0; n];
        let mut norms = Vec::new();
        for _ in 0..200 {
            let ax: Vec<f64> = a.iter().map(|row| dot(row, &x)).collect();
            for (xi, g) in x.iter_mut().zip(ax) {
                *xi -= step * g;
            }
            norms.push(dot(&x, &x).sqrt());
        }
        (norms[199] / norms[99]).powf(1.0 / 100.0)
    }

    #[test]
    fn known_spectra_give_lambda_max_within_one_percent() {
        for (spectrum, dtype) in [
            (vec![0.5, 2.0, 3.0, 5.0, 8.0, 10.0], DType::F64),
            (vec![0.5, 2.0, 3.0, 5.0, 8.0, 10.0], DType::F32),
            (vec![1e-2, 0.3, 1.0, 40.0, 50.0, 100.0, 120.0], DType::F64),
        ] {
            let (report, _) = quadratic_report(&spectrum, dtype);
            let l = spectrum.iter().copied().fold(0.0, f64::max);
            let err = (report.lambda_max - l).abs() / l;
            eprintln!(
                "{spectrum:?} {dtype:?}: lambda_max {} (relative error {err:.2e}), {} products",
                report.lambda_max, report.products
            );
            assert!(err < 1e-2, "{spectrum:?} {dtype:?}: {report:?}");
            assert!(report.top.converged);
            assert!((report.stability_bound * l - 2.0).abs() < 2e-2);
        }
    }

    #[test]
    fn the_suggested_step_reaches_the_predicted_contraction() {
        let spectrum = [0.5, 2.0, 3.0, 5.0, 8.0, 10.0];
        let (report, a) = quadratic_report(&spectrum, DType::F64);
        let mu = report.lambda_min.expect("mu converged");
        assert!((mu - 0.5).abs() < 0.01 * 0.5, "{report:?}");
        let kappa: f64 = 10.0 / 0.5;
        let predicted = (kappa - 1.0) / (kappa + 1.0);
        let step = report.optimal_step.expect("2/(L+mu)");
        let rate = measured_rate(&a, step);
        eprintln!("mu {mu}, step {step}, rate {rate} vs predicted {predicted}");
        assert!(
            (rate - predicted).abs() < 0.01 * predicted,
            "rate {rate} vs predicted {predicted}"
        );
        assert!((report.contraction.unwrap() - predicted).abs() < 0.01 * predicted);
        // The naive step 1/L is slower: 1 - 1/kappa.
        assert!(measured_rate(&a, 1.0 / report.lambda_max) > rate + 0.03);
        // Past the stability bound, gradient descent diverges.
        assert!(measured_rate(&a, 1.05 * report.stability_bound) > 1.0);
    }

    #[test]
    fn an_indefinite_hessian_reports_no_optimal_step() {
        let (report, _) = quadratic_report(&[-1.0, 0.5, 4.0], DType::F64);
        assert!((report.lambda_max - 4.0).abs() < 0.04);
        assert!(report.lambda_min.is_some_and(|mu| (mu + 1.0).abs() < 0.05));
        assert_eq!(report.optimal_step, None);
    }

    #[test]
    fn sharpness_monitor_leaves_training_unchanged() {
        use crate::data::{Scaling, digits_split};
        use crate::model::{Mlp, MlpConfig};
        use crate::train::{Progress, TrainConfig, Trainer, single_threaded};
        use candle_nn::{Optimizer, SGD};
        single_threaded(|| {
            let (train, _) = digits_split(Scaling::Standardize).unwrap();
            let train = train.subsample(256, 0).unwrap();
            let batch = train.to_batch(&Device::Cpu).unwrap();
            let run = |monitor: bool| {
                let model = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu).unwrap();
                let config = TrainConfig::new(2, 64)
                    .unwrap()
                    .with_progress(Progress::Hidden);
                let mut t =
                    Trainer::new(&model, SGD::new(model.vars(), 0.2).unwrap(), &train, config)
                        .unwrap();
                if monitor {
                    let dir = std::env::temp_dir().join("cadence-sharpness-test");
                    std::fs::create_dir_all(&dir).unwrap();
                    let m = SharpnessMonitor::new(batch.clone(), 4, PowerIteration::default())
                        .unwrap()
                        .with_csv(dir.join("sharpness.csv"))
                        .unwrap();
                    t = t.with_callback(Box::new(m));
                }
                let report = t.run().unwrap();
                let records: Vec<SharpnessRecord> = t
                    .callbacks()
                    .first()
                    .map(|c| serde_json::from_value(c.state()).unwrap())
                    .unwrap_or_default();
                (report.history.steps, records)
            };
            let (with, records) = run(true);
            let (without, _) = run(false);
            assert_eq!(with, without);
            assert_eq!(records.len(), 2);
            for r in &records {
                assert!(r.lambda_max > 0.0 && r.lambda_max.is_finite(), "{r:?}");
                assert!((r.threshold - 10.0).abs() < 1e-9);
            }
        })
        .unwrap();
    }
}
