//! The published benchmark protocol of the multi-power-law paper on its loss-curve data set.

use std::path::Path;

use rayon::prelude::*;

use crate::error::Error;
use crate::fit::{Fit, FitOptions, ShapePrior, fit};
use crate::law::{FittedLaw, LawKind};
use crate::run::{TrainingRun, load_run_csv};

/// Warmup length of every published run: a linear ramp over steps `0..2160`.
pub const WARMUP_STEPS: usize = 2160;
/// Peak learning rate of every published run.
pub const PEAK: f64 = 3e-4;
/// Final learning rate of the decaying published schedules.
pub const END: f64 = 3e-5;

/// The curves the law is fitted on.
pub const FIT_CURVES: [&str; 3] = ["cosine_24000", "constant_24000", "wsdcon_9"];
/// The curves the law predicts.
pub const PREDICT_CURVES: [&str; 6] = [
    "constant_72000",
    "cosine_72000",
    "wsd_20000_24000",
    "wsdld_20000_24000",
    "wsdcon_3",
    "wsdcon_18",
];

/// The per-step learning rate of a published run, rebuilt from the data README's definitions
/// (`lrs[k]` for `k in 0..N`): linear warmup from 0 to [`PEAK`] over 2160 evenly spaced
/// values (the last exactly the peak), then
///
/// ```text
/// constant_N         peak until N
/// cosine_N           end + (peak-end)/2 * (1 + cos(pi (t-2160)/(N-2160)))
/// wsd_D_N            peak until D, then peak^((N-t)/(N-D)) * end^((t-D)/(N-D))
/// wsdld_D_N          peak until D, then linear from peak to end at N
/// wsdcon_K           peak until 8000, then K * 1e-5 until 16000
/// ```
///
/// `None` for an unknown name.
///
/// ```
/// let lrs = cadence_curve::published_lrs("cosine_24000").unwrap();
/// assert_eq!(lrs.len(), 24_000);
/// assert_eq!((lrs[0], lrs[2159], lrs[2160]), (0.0, 3e-4, 3e-4));
/// assert!((lrs[23_999] - 3e-5).abs() < 1e-10);
/// assert!((cadence_curve::published_lrs("wsdcon_3").unwrap()[8000] - 3e-5).abs() < 1e-18);
/// assert!(cadence_curve::published_lrs("onecycle_10").is_none());
/// ```
pub fn published_lrs(name: &str) -> Option<Vec<f64>> {
    let parts: Vec<&str> = name.split('_').collect();
    let num = |i: usize| parts.get(i)?.parse::<usize>().ok();
    let (len, after): (usize, Box<dyn Fn(usize) -> f64>) = match (parts[0], parts.len()) {
        ("constant", 2) => (num(1)?, Box::new(|_| PEAK)),
        ("cosine", 2) => {
            let n = num(1)?;
            let span = (n - WARMUP_STEPS) as f64;
            (
                n,
                Box::new(move |t| {
                    let f = (t - WARMUP_STEPS) as f64 / span;
                    END + (PEAK - END) / 2.0 * (1.0 + (std::f64::consts::PI * f).cos())
                }),
            )
        }
        ("wsd", 3) => {
            let (d, n) = (num(1)?, num(2)?);
            let span = (n - d) as f64;
            (
                n,
                Box::new(move |t| {
                    if t < d {
                        PEAK
                    } else {
                        let (a, b) = ((n - t) as f64 / span, (t - d) as f64 / span);
                        PEAK.powf(a) * END.powf(b)
                    }
                }),
            )
        }
        ("wsdld", 3) => {
            let (d, n) = (num(1)?, num(2)?);
            let span = (n - d) as f64;
            (
                n,
                Box::new(move |t| {
                    if t < d {
                        PEAK
                    } else {
                        let f = (t - d) as f64 / span;
                        PEAK * (1.0 - f) + END * f
                    }
                }),
            )
        }
        ("wsdcon", 2) => {
            let low = num(1)? as f64 * 1e-5;
            (16_000, Box::new(move |t| if t < 8000 { PEAK } else { low }))
        }
        _ => return None,
    };
    if len <= WARMUP_STEPS {
        return None;
    }
    Some(
        (0..len)
            .map(|t| {
                if t < WARMUP_STEPS {
                    PEAK * t as f64 / (WARMUP_STEPS - 1) as f64
                } else {
                    after(t)
                }
            })
            .collect(),
    )
}

/// Goodness of a prediction.
///
/// ```
/// let m = cadence_curve::Metrics::of(&[3.0, 2.0], &[3.0, 2.2]);
/// assert!((m.mae - 0.1).abs() < 1e-12 && (m.worste - 0.1).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Coefficient of determination `1 - SS_res / SS_tot`.
    pub r2: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean relative error `mean(|y - p| / y)`.
    pub prede: f64,
    /// Worst relative error `max(|y - p| / y)`.
    pub worste: f64,
}

impl Metrics {
    /// Metrics of `predicted` against `observed` (same length, at least one point).
    ///
    /// ```
    /// let m = cadence_curve::Metrics::of(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]);
    /// assert_eq!((m.r2, m.rmse), (1.0, 0.0));
    /// ```
    pub fn of(observed: &[f64], predicted: &[f64]) -> Self {
        let n = observed.len().min(predicted.len()).max(1) as f64;
        let mean = observed.iter().sum::<f64>() / n;
        let (mut ss_res, mut ss_tot, mut abs, mut rel, mut worst) = (0.0, 0.0, 0.0, 0.0, 0.0f64);
        for (&y, &p) in observed.iter().zip(predicted) {
            let e = y - p;
            ss_res += e * e;
            ss_tot += (y - mean) * (y - mean);
            abs += e.abs();
            rel += e.abs() / y;
            worst = worst.max(e.abs() / y);
        }
        Self {
            r2: 1.0 - ss_res / ss_tot,
            mae: abs / n,
            rmse: (ss_res / n).sqrt(),
            prede: rel / n,
            worste: worst,
        }
    }

    /// The mean of each metric over several curves (how the authors aggregate).
    ///
    /// ```
    /// use cadence_curve::Metrics;
    /// let a = Metrics { r2: 1.0, mae: 0.0, rmse: 0.0, prede: 0.0, worste: 0.0 };
    /// let b = Metrics { r2: 0.5, mae: 2.0, rmse: 2.0, prede: 0.2, worste: 0.4 };
    /// assert_eq!(Metrics::mean(&[a, b]).worste, 0.2);
    /// ```
    pub fn mean(all: &[Metrics]) -> Self {
        let n = all.len().max(1) as f64;
        let avg = |f: fn(&Metrics) -> f64| all.iter().map(f).sum::<f64>() / n;
        Self {
            r2: avg(|m| m.r2),
            mae: avg(|m| m.mae),
            rmse: avg(|m| m.rmse),
            prede: avg(|m| m.prede),
            worste: avg(|m| m.worste),
        }
    }

    /// `true` when `self` is at least as good as `reference` on the acceptance criteria:
    /// `r2 >= reference.r2` and `worste <= reference.worste`.
    ///
    /// ```
    /// use cadence_curve::{published_metrics, Metrics};
    /// let paper = published_metrics("25").unwrap();
    /// assert!(paper.meets(&paper));
    /// ```
    pub fn meets(&self, reference: &Metrics) -> bool {
        self.r2 >= reference.r2 && self.worste <= reference.worste
    }

    /// How far `self` is ahead of `reference` on the acceptance criteria, as the smaller of
    /// the two relative margins
    ///
    /// ```text
    /// min( (r2 - r2_ref) / (1 - r2_ref),  (worste_ref - worste) / worste_ref )
    /// ```
    ///
    /// `>= 0` exactly when [`Metrics::meets`] holds (up to rounding); the criterion
    /// [`leave_one_size_out`] maximises.
    ///
    /// ```
    /// use cadence_curve::{published_metrics, Metrics};
    /// let paper = published_metrics("25").unwrap();
    /// let better = Metrics { r2: 0.9994, worste: 0.002045, ..paper };
    /// assert!((better.margin(&paper) - 0.5).abs() < 1e-9);
    /// ```
    pub fn margin(&self, reference: &Metrics) -> f64 {
        let r2 = (self.r2 - reference.r2) / (1.0 - reference.r2);
        let worste = (reference.worste - self.worste) / reference.worste;
        r2.min(worste)
    }
}

/// The numbers the multi-power-law authors publish for a size folder (`"25"`, `"100"`,
/// `"400"`; see the data README), averaged over the six predicted curves.
///
/// ```
/// assert_eq!(cadence_curve::published_metrics("400").unwrap().worste, 0.00995);
/// assert!(cadence_curve::published_metrics("7").is_none());
/// ```
pub fn published_metrics(size: &str) -> Option<Metrics> {
    let m = |r2, mae, rmse, prede, worste| Metrics {
        r2,
        mae,
        rmse,
        prede,
        worste,
    };
    match size {
        "25" => Some(m(0.9988, 0.00376, 0.00465, 0.00110, 0.00409)),
        "100" => Some(m(0.9983, 0.00435, 0.00592, 0.00142, 0.00583)),
        "400" => Some(m(0.9978, 0.00484, 0.00730, 0.00168, 0.00995)),
        _ => None,
    }
}

/// Whether a curve was fitted on or predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// One of [`FIT_CURVES`].
    Fit,
    /// One of [`PREDICT_CURVES`].
    Predict,
}

/// One curve of a benchmark: its data, the law's curve, and the metrics; the series are what a
/// plot draws.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurveReport {
    /// File stem, e.g. `cosine_72000`.
    pub name: String,
    /// Fitted on or predicted.
    pub role: Role,
    /// Logged steps used.
    pub steps: Vec<u64>,
    /// Observed loss.
    pub loss: Vec<f64>,
    /// The law's loss at the same steps.
    pub predicted: Vec<f64>,
    /// Metrics of `predicted` against `loss`.
    pub metrics: Metrics,
}

/// Result of [`bench()`] and [`bench_law`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BenchReport {
    /// The law evaluated.
    pub law: FittedLaw,
    /// The fit that produced it ([`bench()`]); `None` for [`bench_law`].
    pub fit: Option<Fit>,
    /// Mean of the per-curve metrics over the six predicted curves: the published
    /// aggregation, comparable with [`published_metrics`].
    pub overall: Metrics,
    /// Metrics of all predicted points pooled together (stricter on `worste`).
    pub pooled: Metrics,
    /// Every curve, fitted ones first.
    pub per_curve: Vec<CurveReport>,
}

/// Loads one published curve with its rebuilt per-step learning rate, applying the README's
/// rule that runs whose last logged step is 24000 are used for steps `< 24000` only.
///
/// # Errors
/// [`Error::MissingCurve`] if the file is absent or its name unknown; CSV errors as
/// [`load_run_csv`].
///
/// ```
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/loss-curves/25");
/// let run = cadence_curve::load_published_curve(dir.as_ref(), "wsdcon_3")?;
/// assert_eq!(run.lrs().len(), 16_000);
/// # Ok::<(), cadence_curve::Error>(())
/// ```
pub fn load_published_curve(dir: &Path, name: &str) -> Result<TrainingRun, Error> {
    let file = format!("{name}.csv");
    let path = dir.join(&file);
    let missing = || Error::MissingCurve {
        dir: dir.to_owned(),
        file: file.clone(),
    };
    if !path.is_file() {
        return Err(missing());
    }
    let lrs = published_lrs(name).ok_or_else(missing)?;
    let mut run = load_run_csv(&path)?;
    if run.steps().last() == Some(&24_000) {
        run = run.truncated(24_000)?;
    }
    TrainingRun::new(run, lrs)
}

/// Runs the published protocol on one size folder of the loss-curve data set: fit `law` on
/// [`FIT_CURVES`], predict [`PREDICT_CURVES`], report the metrics.
///
/// # Errors
/// As [`load_published_curve`] and [`fit`].
///
/// ```no_run
/// use cadence_curve::{bench, FitOptions, LawKind};
/// let report = bench("data/loss-curves/25".as_ref(), LawKind::MultiPower, &FitOptions::default())?;
/// println!("R^2 {:.4}  WorstE {:.5}", report.overall.r2, report.overall.worste);
/// # Ok::<(), cadence_curve::Error>(())
/// ```
pub fn bench(dir: &Path, law: LawKind, options: &FitOptions) -> Result<BenchReport, Error> {
    let train = load_all(dir, &FIT_CURVES)?;
    let fitted = fit(law, &train, options)?;
    let mut report = evaluate(dir, &fitted.law, train)?;
    report.fit = Some(fitted);
    Ok(report)
}

/// Evaluates a given law under the published protocol (no fitting): the metrics of its
/// predictions on [`PREDICT_CURVES`], and its curves on [`FIT_CURVES`] too.
///
/// # Errors
/// As [`load_published_curve`].
///
/// ```
/// use cadence_curve::{bench_law, FittedLaw, MultiPowerParams};
/// // The authors' published 25M parameters.
/// let law = FittedLaw::multi_power(MultiPowerParams {
///     l0: 3.04045406, a: 0.52468604, alpha: 0.50786857, b: 363.78751622,
///     c: 2.06560812, beta: 0.58279013, gamma: 0.64142257, ..MultiPowerParams::PUBLISHED_FORM
/// })?;
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/loss-curves/25");
/// let report = bench_law(dir.as_ref(), &law)?;
/// assert!(report.overall.r2 > 0.99);
/// # Ok::<(), cadence_curve::Error>(())
/// ```
pub fn bench_law(dir: &Path, law: &FittedLaw) -> Result<BenchReport, Error> {
    evaluate(dir, law, load_all(dir, &FIT_CURVES)?)
}

fn load_all(dir: &Path, names: &[&str]) -> Result<Vec<TrainingRun>, Error> {
    names.iter().map(|n| load_published_curve(dir, n)).collect()
}

fn evaluate(dir: &Path, law: &FittedLaw, train: Vec<TrainingRun>) -> Result<BenchReport, Error> {
    let test = load_all(dir, &PREDICT_CURVES)?;
    let report = |runs: &[TrainingRun], role: Role| -> Vec<CurveReport> {
        runs.iter().map(|tr| curve_report(law, tr, role)).collect()
    };
    let mut per_curve = report(&train, Role::Fit);
    per_curve.extend(report(&test, Role::Predict));
    let predicted: Vec<&CurveReport> = per_curve
        .iter()
        .filter(|c| c.role == Role::Predict)
        .collect();
    let overall = Metrics::mean(&predicted.iter().map(|c| c.metrics).collect::<Vec<_>>());
    let (all_y, all_p): (Vec<f64>, Vec<f64>) = predicted
        .iter()
        .flat_map(|c| c.loss.iter().copied().zip(c.predicted.iter().copied()))
        .unzip();
    Ok(BenchReport {
        law: law.clone(),
        fit: None,
        overall,
        pooled: Metrics::of(&all_y, &all_p),
        per_curve,
    })
}

fn curve_report(law: &FittedLaw, tr: &TrainingRun, role: Role) -> CurveReport {
    let run = tr.run();
    let predicted = law.predict_lrs(tr.lrs(), run.steps());
    CurveReport {
        name: run.name().to_owned(),
        role,
        steps: run.steps().to_vec(),
        loss: run.loss().to_vec(),
        metrics: Metrics::of(run.loss(), &predicted),
        predicted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilt_lr_matches_the_logged_lr_column() {
        for size in ["25", "100", "400"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("data/loss-curves")
                .join(size);
            for name in FIT_CURVES.iter().chain(&PREDICT_CURVES) {
                let tr = load_published_curve(&dir, name).unwrap();
                let run = tr.run();
                for (&s, &lr) in run.steps().iter().zip(run.lr()) {
                    let rebuilt = tr.lrs()[s as usize];
                    assert!(
                        (rebuilt - lr).abs() <= 1e-9 * lr.max(1e-12),
                        "{size}/{name} step {s}: {rebuilt} vs logged {lr}"
                    );
                }
            }
        }
    }

    #[test]
    fn choice_never_looks_at_the_held_out_size() {
        // Rows: settings; columns: sizes. Settings 0 and 2 tie on sizes 1 and 2.
        let margins = vec![
            vec![-0.5, 0.3, 0.2],
            vec![0.9, 0.1, 0.1],
            vec![0.0, 0.3, 0.2],
        ];
        assert_eq!(choose(&margins, 0), (0, 0.2)); // ties to the lower index
        assert_eq!(choose(&margins, 1), (1, 0.1));
        assert_eq!(choose(&margins, 2), (1, 0.1));
        // Changing the held-out size's own margins never changes its choice.
        let mut changed = margins.clone();
        changed[1][0] = 5.0;
        changed[0][0] = -5.0;
        assert_eq!(choose(&changed, 0), choose(&margins, 0));
    }

    #[test]
    fn margin_is_the_worse_relative_margin() {
        let paper = published_metrics("100").unwrap();
        let worse_r2 = Metrics {
            r2: paper.r2 - 0.00017,
            worste: paper.worste / 2.0,
            ..paper
        };
        assert!((worse_r2.margin(&paper) + 0.1).abs() < 1e-9);
        assert!(!worse_r2.meets(&paper));
    }

    #[test]
    fn missing_curve_is_a_typed_error() {
        let err = load_published_curve(Path::new("/nonexistent"), "cosine_24000").unwrap_err();
        assert!(matches!(err, Error::MissingCurve { .. }));
    }

    #[test]
    fn metrics_of_a_known_case() {
        let m = Metrics::of(&[1.0, 2.0, 3.0, 4.0], &[1.1, 1.9, 3.0, 4.0]);
        // SS_res = 0.02, SS_tot = 5.
        assert!((m.r2 - (1.0 - 0.02 / 5.0)).abs() < 1e-12);
        assert!((m.mae - 0.05).abs() < 1e-12);
        assert!((m.rmse - (0.02f64 / 4.0).sqrt()).abs() < 1e-12);
        assert!((m.worste - 0.1).abs() < 1e-12);
        assert!((m.prede - (0.1 + 0.05) / 4.0).abs() < 1e-12);
    }
}

/// The fit settings [`leave_one_size_out`] chooses among for [`LawKind::PowerArea`]: every
/// combination of the shape-prior centre `C in {2, 3}`, `beta = gamma in {0.5, 0.6}`
/// (weight 0.1) and the Huber threshold `delta in {1e-3, 3e-3}` (on log-loss), eight in all,
/// the first being what [`FitOptions::default`] means for [`LawKind::PowerArea`].
///
/// ```
/// use cadence_curve::{selection_grid, FitOptions, ShapePrior};
/// let grid = selection_grid();
/// assert_eq!(grid.len(), 8);
/// let default = FitOptions { shape_prior: Some(ShapePrior::default()), ..FitOptions::default() };
/// assert_eq!(grid[0], default);
/// ```
pub fn selection_grid() -> Vec<FitOptions> {
    let mut grid = Vec::new();
    for huber_delta in [1e-3, 3e-3] {
        for shape in [0.5, 0.6] {
            for c in [2.0, 3.0] {
                grid.push(FitOptions {
                    huber_delta,
                    shape_prior: Some(ShapePrior {
                        c,
                        beta: shape,
                        gamma: shape,
                        ..ShapePrior::default()
                    }),
                    ..FitOptions::default()
                });
            }
        }
    }
    grid
}

/// The honest result for one size of [`leave_one_size_out`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SizeSelection {
    /// The held-out size folder, e.g. `"25"`.
    pub size: String,
    /// Index of the chosen settings in the grid.
    pub chosen: usize,
    /// The chosen settings.
    pub options: FitOptions,
    /// Their score on the *other* sizes: the smallest [`Metrics::margin`] over them
    /// (`>= 0`: they beat the published numbers on every other size).
    pub score: f64,
    /// The held-out size's benchmark with the chosen settings: the reported result.
    pub report: BenchReport,
}

/// Leave-one-size-out choice of the fit settings: for each size folder under `root`, picks
/// from `grid` the settings whose worst [`Metrics::margin`] against the published numbers
/// over the *other* sizes is largest (ties to the lower index), and reports that size's
/// benchmark with them. No choice ever looks at the held-out size's predicted curves, so
/// each [`SizeSelection::report`] is an honest out-of-sample result. Every (settings,
/// size) pair is fitted once, in parallel.
///
/// # Errors
/// [`Error::InvalidParameter`] for fewer than two sizes, a size without
/// [`published_metrics`], or an empty grid; otherwise as [`bench()`].
///
/// ```no_run
/// use cadence_curve::{leave_one_size_out, selection_grid, LawKind};
/// let root = concat!(env!("CARGO_MANIFEST_DIR"), "/data/loss-curves");
/// let grid = selection_grid();
/// for sel in leave_one_size_out(root.as_ref(), &["25", "100", "400"], LawKind::PowerArea, &grid)? {
///     println!("{}M: settings {} -> R^2 {:.5}", sel.size, sel.chosen, sel.report.overall.r2);
/// }
/// # Ok::<(), cadence_curve::Error>(())
/// ```
pub fn leave_one_size_out(
    root: &Path,
    sizes: &[&str],
    law: LawKind,
    grid: &[FitOptions],
) -> Result<Vec<SizeSelection>, Error> {
    if sizes.len() < 2 {
        return Err(Error::invalid(
            "sizes",
            sizes.len(),
            "need at least two sizes",
        ));
    }
    if grid.is_empty() {
        return Err(Error::invalid("grid", 0, "need at least one setting"));
    }
    let papers = sizes
        .iter()
        .map(|s| {
            published_metrics(s)
                .ok_or_else(|| Error::invalid("size", s, "has no published numbers"))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let pairs: Vec<(usize, usize)> = (0..grid.len())
        .flat_map(|g| (0..sizes.len()).map(move |s| (g, s)))
        .collect();
    // A pool of its own, one thread per core: the global pool follows RAYON_NUM_THREADS,
    // which applications training tiny models set to 1 (the cadence CLI does).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let fit_all = || {
        pairs
            .par_iter()
            .map(|&(g, s)| bench(&root.join(sizes[s]), law, &grid[g]))
            .collect::<Result<Vec<_>, Error>>()
    };
    let reports = match rayon::ThreadPoolBuilder::new().num_threads(cores).build() {
        Ok(pool) => pool.install(fit_all)?,
        Err(_) => fit_all()?,
    };
    let report = |g: usize, s: usize| &reports[g * sizes.len() + s];
    let margins: Vec<Vec<f64>> = (0..grid.len())
        .map(|g| {
            (0..sizes.len())
                .map(|s| report(g, s).overall.margin(&papers[s]))
                .collect()
        })
        .collect();
    Ok((0..sizes.len())
        .map(|held| {
            let (chosen, best) = choose(&margins, held);
            SizeSelection {
                size: sizes[held].to_owned(),
                chosen,
                options: grid[chosen].clone(),
                score: best,
                report: report(chosen, held).clone(),
            }
        })
        .collect())
}

/// The leave-one-size-out rule: given `margins[setting][size]`, the setting whose smallest
/// margin over every size but `held` is largest (ties to the lower index), and that margin.
fn choose(margins: &[Vec<f64>], held: usize) -> (usize, f64) {
    let score = |row: &[f64]| {
        row.iter()
            .enumerate()
            .filter(|&(s, _)| s != held)
            .map(|(_, &m)| m)
            .fold(f64::INFINITY, f64::min)
    };
    margins
        .iter()
        .enumerate()
        .map(|(g, row)| (g, score(row)))
        .fold((0, f64::NEG_INFINITY), |best, (g, v)| {
            if v > best.1 { (g, v) } else { best }
        })
}
