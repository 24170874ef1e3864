//! The laws: parameters, prediction, and the O(t) / blocked summations behind them.

use cadence::Schedule;

use crate::error::Error;
use crate::run::lr_sequence;

/// Which schedule-aware loss law to fit.
///
/// ```
/// use cadence_curve::LawKind;
/// assert_eq!(LawKind::MultiPower.name(), "multi-power");
/// assert_eq!("annealing".parse::<LawKind>()?, LawKind::Annealing);
/// # Ok::<(), cadence_curve::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LawKind {
    /// The multi-power law (Luo et al., ICLR 2025):
    ///
    /// ```text
    /// L(t)  = L0 + A * S1(t)^(-alpha) - B * sum_{k=1..t} (eta_{k-1} - eta_k) * G(eta_k^(-gamma) * S_k(t))
    /// G(x)  = 1 - (C x + 1)^(-beta)
    /// S1(t) = sum_{tau=0..t} eta_tau      (warmup included: the paper's S1 + S_W)
    /// S_k(t)= sum_{tau=k..t} eta_tau
    /// ```
    ///
    /// Seven parameters `L0, A, alpha, B, C, beta, gamma`. The sum runs over every step with
    /// a change of learning rate, warmup included, exactly as the authors' code does.
    MultiPower,
    /// This crate's law: the multi-power law with a *power-area* progress term and an early
    /// transient,
    ///
    /// ```text
    /// L(t)   = L0 + A * Sp(t)^(-alpha) - LD(t) + E * exp(-S1(t) / s_E)
    /// Sp(t)  = sum_{tau=0..t} eta_tau^p
    /// LD(t), S1(t) exactly as in MultiPower
    /// ```
    ///
    /// Ten parameters (`p = 1, E = 0` is the multi-power law). The transient
    /// `E * exp(-S1 / s_E)` is the fast excess loss of the first few thousand steps after
    /// warmup, which decays in learning-rate area faster than any power law; without it the
    /// single power term has to bend to fit those steps and its tail, the part that
    /// extrapolates to longer runs, flattens too early (on the 25M data the constant run to
    /// 72000 steps is then predicted 0.01 too high at its end). [`fit`](crate::fit) fits
    /// it with a [`ShapePrior`](crate::ShapePrior) on `C, beta, gamma` (by default nearly
    /// pinning them at `2, 0.5, 0.5`): with three training runs the free multi-power fit
    /// drifts to degenerate shapes (`beta -> 0`, `B -> inf`) that fit the runs and
    /// extrapolate badly.
    PowerArea,
    /// The LR-annealing law (Tissue et al., 2024), momentum form:
    ///
    /// ```text
    /// L(t) = L0 + A * S1(t)^(-alpha) - C * S2(t)
    /// S1(t) = sum_{tau=0..t} eta_tau
    /// S2(t) = sum_{i=1..t} m_i,   m_i = lambda * m_{i-1} + (eta_{i-1} - eta_i)
    /// ```
    ///
    /// Five parameters `L0, A, alpha, C, lambda`. Only steps after the schedule first reaches
    /// its maximum (the end of warmup) feed `m_i`: warmup is not annealing.
    Annealing,
}

impl LawKind {
    /// The law's name as used on the command line and in JSON.
    ///
    /// ```
    /// assert_eq!(cadence_curve::LawKind::Annealing.name(), "annealing");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Self::MultiPower => "multi-power",
            Self::PowerArea => "power-area",
            Self::Annealing => "annealing",
        }
    }

    /// Every law: the two published baselines, then this crate's.
    ///
    /// ```
    /// assert_eq!(cadence_curve::LawKind::ALL.len(), 3);
    /// ```
    pub const ALL: [LawKind; 3] = [LawKind::MultiPower, LawKind::Annealing, LawKind::PowerArea];

    /// Number of free parameters.
    pub(crate) fn n_params(self) -> usize {
        match self {
            Self::MultiPower => 7,
            Self::PowerArea => 10,
            Self::Annealing => 5,
        }
    }
}

impl std::fmt::Display for LawKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LawKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "law",
                    s,
                    "expected `multi-power`, `annealing` or `power-area`",
                )
            })
    }
}

/// Parameters of the multi-power law (see [`LawKind::MultiPower`]).
///
/// ```
/// use cadence_curve::MultiPowerParams;
/// // The authors' published 25M fit.
/// let p = MultiPowerParams {
///     l0: 3.040, a: 0.525, alpha: 0.508, b: 363.8, c: 2.066, beta: 0.583, gamma: 0.641,
///     ..MultiPowerParams::PUBLISHED_FORM
/// };
/// assert!(p.b > 0.0 && p.transient == 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MultiPowerParams {
    pub l0: f64,
    pub a: f64,
    pub alpha: f64,
    pub b: f64,
    pub c: f64,
    pub beta: f64,
    pub gamma: f64,
    /// Exponent of the progress area `sum eta^p`: 1 for the published law, fitted by
    /// [`LawKind::PowerArea`].
    #[serde(default = "one")]
    pub p: f64,
    /// Amplitude `E` of the early transient `E * exp(-S1 / s_E)`: 0 for the published law,
    /// fitted by [`LawKind::PowerArea`].
    #[serde(default)]
    pub transient: f64,
    /// Its decay scale `s_E`, in learning-rate area (the units of `S1`).
    #[serde(default = "one")]
    pub transient_area: f64,
}

fn one() -> f64 {
    1.0
}

impl MultiPowerParams {
    /// The published multi-power law's form: `p = 1`, no transient (`transient = 0`,
    /// `transient_area = 1`); every other field 0, to be filled by struct update syntax.
    ///
    /// ```
    /// use cadence_curve::MultiPowerParams;
    /// let p = MultiPowerParams { l0: 3.0, a: 0.5, ..MultiPowerParams::PUBLISHED_FORM };
    /// assert_eq!((p.p, p.transient), (1.0, 0.0));
    /// ```
    pub const PUBLISHED_FORM: Self = Self {
        l0: 0.0,
        a: 0.0,
        alpha: 0.0,
        b: 0.0,
        c: 0.0,
        beta: 0.0,
        gamma: 0.0,
        p: 1.0,
        transient: 0.0,
        transient_area: 1.0,
    };
}

/// Parameters of the LR-annealing law (see [`LawKind::Annealing`]).
///
/// ```
/// use cadence_curve::AnnealingParams;
/// let p = AnnealingParams { l0: 3.0, a: 0.5, alpha: 0.5, c: 300.0, lambda: 0.999 };
/// assert!(p.lambda < 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AnnealingParams {
    pub l0: f64,
    pub a: f64,
    pub alpha: f64,
    pub c: f64,
    pub lambda: f64,
}

/// A fitted law: parameters plus how well they fitted. Serialises to one JSON object
/// tagged by `"law"`.
///
/// ```
/// use cadence_curve::{FittedLaw, MultiPowerParams};
/// let law = FittedLaw::multi_power(MultiPowerParams {
///     l0: 3.040, a: 0.525, alpha: 0.508, b: 363.8, c: 2.066, beta: 0.583, gamma: 0.641,
///     ..MultiPowerParams::PUBLISHED_FORM
/// })?;
/// let json = serde_json::to_string(&law).unwrap();
/// assert!(json.contains("\"law\":\"multi-power\""));
/// # Ok::<(), cadence_curve::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "law", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FittedLaw {
    /// A multi-power law.
    MultiPower {
        /// The parameters.
        params: MultiPowerParams,
    },
    /// A power-area multi-power law.
    PowerArea {
        /// The parameters.
        params: MultiPowerParams,
    },
    /// An LR-annealing law.
    Annealing {
        /// The parameters.
        params: AnnealingParams,
    },
}

impl FittedLaw {
    /// A multi-power law with given parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `l0` is finite, `a, alpha, b, c, beta, gamma`
    /// are finite and positive, `p = 1` and `transient = 0` (the published form).
    ///
    /// ```
    /// use cadence_curve::{FittedLaw, MultiPowerParams};
    /// let bad = MultiPowerParams {
    ///     l0: 3.0, a: -1.0, alpha: 0.5, b: 1.0, c: 1.0, beta: 0.5, gamma: 0.5,
    ///     ..MultiPowerParams::PUBLISHED_FORM
    /// };
    /// assert!(FittedLaw::multi_power(bad).is_err());
    /// ```
    pub fn multi_power(params: MultiPowerParams) -> Result<Self, Error> {
        let law = Self::MultiPower { params };
        law.validate()?;
        Ok(law)
    }

    /// An LR-annealing law with given parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `l0` is finite, `a, alpha, c` finite and positive,
    /// and `0 < lambda < 1`.
    ///
    /// ```
    /// use cadence_curve::{AnnealingParams, FittedLaw};
    /// let p = AnnealingParams { l0: 3.0, a: 0.5, alpha: 0.5, c: 300.0, lambda: 1.5 };
    /// assert!(FittedLaw::annealing(p).is_err());
    /// ```
    pub fn annealing(params: AnnealingParams) -> Result<Self, Error> {
        let law = Self::Annealing { params };
        law.validate()?;
        Ok(law)
    }

    /// A power-area multi-power law (see [`LawKind::PowerArea`]).
    ///
    /// # Errors
    /// As [`FittedLaw::multi_power`], except that `p` may be any finite positive value and
    /// `transient` any finite value `>= 0`; `transient_area` must be finite and positive.
    ///
    /// ```
    /// use cadence_curve::{FittedLaw, MultiPowerParams};
    /// let p = MultiPowerParams {
    ///     l0: 3.0, a: 0.5, alpha: 0.5, b: 400.0, c: 2.0, beta: 0.6, gamma: 0.6, p: 0.9,
    ///     transient: 0.05, transient_area: 0.3,
    /// };
    /// assert!(FittedLaw::power_area(p).is_ok());
    /// assert!(FittedLaw::multi_power(p).is_err());
    /// ```
    pub fn power_area(params: MultiPowerParams) -> Result<Self, Error> {
        let law = Self::PowerArea { params };
        law.validate()?;
        Ok(law)
    }

    /// The multi-power parameters, for either multi-power variant; `None` for the annealing
    /// law.
    ///
    /// ```
    /// use cadence_curve::{AnnealingParams, FittedLaw};
    /// let law = FittedLaw::annealing(AnnealingParams { l0: 3.0, a: 0.5, alpha: 0.5, c: 300.0, lambda: 0.999 })?;
    /// assert!(law.multi_power_params().is_none());
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn multi_power_params(&self) -> Option<&MultiPowerParams> {
        match self {
            Self::MultiPower { params } | Self::PowerArea { params } => Some(params),
            Self::Annealing { .. } => None,
        }
    }

    /// Checks the parameters (also run after deserialising by the CLI).
    ///
    /// # Errors
    /// As [`FittedLaw::multi_power`] / [`FittedLaw::annealing`].
    ///
    /// ```
    /// let law: cadence_curve::FittedLaw = serde_json::from_str(
    ///     r#"{"law":"annealing","params":{"l0":3,"a":0.5,"alpha":0.5,"c":300,"lambda":0.999}}"#,
    /// ).unwrap();
    /// assert!(law.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let finite = |name: &'static str, x: f64| {
            if x.is_finite() {
                Ok(())
            } else {
                Err(Error::invalid(name, x, "must be finite"))
            }
        };
        let positive = |name: &'static str, x: f64| {
            if x.is_finite() && x > 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(name, x, "must be finite and > 0"))
            }
        };
        match self {
            Self::MultiPower { params: p } | Self::PowerArea { params: p } => {
                if matches!(self, Self::MultiPower { .. }) {
                    if p.p != 1.0 {
                        return Err(Error::invalid(
                            "p",
                            p.p,
                            "must be 1 for `multi-power` (use `power-area`)",
                        ));
                    }
                    if p.transient != 0.0 {
                        return Err(Error::invalid(
                            "transient",
                            p.transient,
                            "must be 0 for `multi-power` (use `power-area`)",
                        ));
                    }
                }
                positive("p", p.p)?;
                if !(p.transient.is_finite() && p.transient >= 0.0) {
                    return Err(Error::invalid(
                        "transient",
                        p.transient,
                        "must be finite and >= 0",
                    ));
                }
                positive("transient_area", p.transient_area)?;
                finite("l0", p.l0)?;
                positive("a", p.a)?;
                positive("alpha", p.alpha)?;
                positive("b", p.b)?;
                positive("c", p.c)?;
                positive("beta", p.beta)?;
                positive("gamma", p.gamma)
            }
            Self::Annealing { params: p } => {
                finite("l0", p.l0)?;
                positive("a", p.a)?;
                positive("alpha", p.alpha)?;
                positive("c", p.c)?;
                if p.lambda > 0.0 && p.lambda < 1.0 {
                    Ok(())
                } else {
                    Err(Error::invalid("lambda", p.lambda, "must be in (0, 1)"))
                }
            }
        }
    }

    /// Which law this is.
    ///
    /// ```
    /// # use cadence_curve::{AnnealingParams, FittedLaw, LawKind};
    /// let law = FittedLaw::annealing(AnnealingParams { l0: 3.0, a: 0.5, alpha: 0.5, c: 300.0, lambda: 0.999 })?;
    /// assert_eq!(law.kind(), LawKind::Annealing);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn kind(&self) -> LawKind {
        match self {
            Self::MultiPower { .. } => LawKind::MultiPower,
            Self::PowerArea { .. } => LawKind::PowerArea,
            Self::Annealing { .. } => LawKind::Annealing,
        }
    }

    /// Predicted loss at each of `steps` (any order) for a run trained with `schedule`
    /// (`eta_k = schedule.value(k)`). Memory and time are O(max step).
    ///
    /// ```
    /// use cadence_curve::{FittedLaw, MultiPowerParams};
    /// let law = FittedLaw::multi_power(MultiPowerParams {
    ///     l0: 3.040, a: 0.525, alpha: 0.508, b: 363.8, c: 2.066, beta: 0.583, gamma: 0.641,
    ///     ..MultiPowerParams::PUBLISHED_FORM
    /// })?;
    /// let constant = law.predict(&3e-4, &[10_000, 20_000]);
    /// let decayed = law.predict(&cadence::Linear::new(3e-4, 3e-5, 20_000)?, &[20_000]);
    /// assert!(constant[1] < constant[0]);      // more steps, lower loss
    /// assert!(decayed[0] < constant[1]);       // annealing drops the loss further
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn predict(&self, schedule: &dyn Schedule, steps: &[u64]) -> Vec<f64> {
        let len = steps.iter().max().map_or(0, |&m| m + 1);
        self.predict_lrs(&lr_sequence(schedule, len), steps)
    }

    /// As [`FittedLaw::predict`], from an explicit per-step learning rate `lrs[k]`.
    /// Steps beyond `lrs` hold its last value.
    ///
    /// ```
    /// # use cadence_curve::{FittedLaw, MultiPowerParams};
    /// # let law = FittedLaw::multi_power(MultiPowerParams {
    /// #     l0: 3.040, a: 0.525, alpha: 0.508, b: 363.8, c: 2.066, beta: 0.583, gamma: 0.641,
    /// #     ..MultiPowerParams::PUBLISHED_FORM })?;
    /// let lrs = vec![3e-4; 1000];
    /// assert_eq!(law.predict_lrs(&lrs, &[999]), law.predict(&3e-4, &[999]));
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn predict_lrs(&self, lrs: &[f64], steps: &[u64]) -> Vec<f64> {
        let need = steps.iter().max().map_or(0, |&m| m as usize + 1);
        let mut owned;
        let lrs = if lrs.len() >= need {
            lrs
        } else {
            owned = lrs.to_vec();
            let last = owned.last().copied().unwrap_or(0.0);
            owned.resize(need, last);
            &owned
        };
        let prepared = Prepared::new(lrs, steps, Quadrature::default());
        let mut out = Vec::new();
        evaluate(self.kind(), &self.theta(), &prepared, &mut out, None);
        out
    }

    /// The parameters in the unconstrained space the fit works in.
    pub(crate) fn theta(&self) -> Vec<f64> {
        match self {
            Self::MultiPower { params: p } | Self::PowerArea { params: p } => {
                let mut t = vec![
                    p.l0,
                    p.a.ln(),
                    p.alpha.ln(),
                    p.b.ln(),
                    p.c.ln(),
                    p.beta.ln(),
                    p.gamma.ln(),
                ];
                if self.kind() == LawKind::PowerArea {
                    // ln 0 = -inf is a valid "no transient": exp(-inf) = 0 in evaluate.
                    t.extend([p.p.ln(), p.transient.ln(), p.transient_area.ln()]);
                }
                t
            }
            Self::Annealing { params: p } => vec![
                p.l0,
                p.a.ln(),
                p.alpha.ln(),
                p.c.ln(),
                (1.0 - p.lambda).ln(),
            ],
        }
    }

    /// Inverse of [`FittedLaw::theta`].
    pub(crate) fn from_theta(kind: LawKind, t: &[f64]) -> Self {
        match kind {
            LawKind::MultiPower | LawKind::PowerArea => {
                let params = MultiPowerParams {
                    l0: t[0],
                    a: t[1].exp(),
                    alpha: t[2].exp(),
                    b: t[3].exp(),
                    c: t[4].exp(),
                    beta: t[5].exp(),
                    gamma: t[6].exp(),
                    p: t.get(7).map_or(1.0, |x| x.exp()),
                    transient: t.get(8).map_or(0.0, |x| x.exp()),
                    transient_area: t.get(9).map_or(1.0, |x| x.exp()),
                };
                if kind == LawKind::PowerArea {
                    Self::PowerArea { params }
                } else {
                    Self::MultiPower { params }
                }
            }
            LawKind::Annealing => Self::Annealing {
                params: AnnealingParams {
                    l0: t[0],
                    a: t[1].exp(),
                    alpha: t[2].exp(),
                    c: t[3].exp(),
                    lambda: 1.0 - t[4].exp(),
                },
            },
        }
    }
}

/// How the multi-power sum over past steps is evaluated: a multi-level midpoint rule. The
/// `window` steps just before each evaluated step are summed exactly; further back, aligned
/// blocks of 4, 16, 64, ... steps (at most `window` blocks of each size, then the next size)
/// are each collapsed to their |drop|-weighted centroid (in `S1` and `ln eta`), where `G` is
/// nearly linear. A block is never longer than `4 / window` of its distance to the evaluated
/// step, and never mixes learning rates more than `e^0.1` apart (so warmup, where `eta`
/// changes fast, stays accurate). `levels = 0` is exact. Cost per evaluated step: about
/// `levels * window` terms instead of `t`; on a 24k-step cosine the result is within `1e-6`
/// of the exact sum (see the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quadrature {
    pub(crate) window: usize,
    pub(crate) levels: u32,
}

impl Default for Quadrature {
    fn default() -> Self {
        Self {
            window: 64,
            levels: 8,
        }
    }
}

impl Quadrature {
    /// Every step summed exactly.
    pub(crate) const EXACT: Self = Self {
        window: 0,
        levels: 0,
    };
}

/// Width, in `ln eta`, of the learning-rate buckets a block may not straddle.
const ETA_BUCKET: f64 = 0.1;

/// One step (or block of steps) where the learning rate changes.
#[derive(Debug, Clone, Copy)]
struct Drop {
    /// Index of the block at its level (`k` for exact entries).
    chunk: usize,
    /// `eta_{k-1} - eta_k` (summed over a block).
    d: f64,
    /// `ln eta_k` (centroid for a block); `-inf` when a zero learning rate is involved.
    ln_eta: f64,
    /// `S1(k-1)` (centroid for a block).
    p_before: f64,
}

/// Everything about one learning-rate sequence and its evaluated steps that does not depend
/// on the law's parameters.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// Evaluated steps.
    pub(crate) steps: Vec<usize>,
    /// `S1(t) = sum_{tau <= t} eta_tau` for every step.
    prefix: Vec<f64>,
    /// Per-step learning rate.
    lrs: Vec<f64>,
    /// `levels[0]`: exact entries by step; `levels[l]`: blocks of `4^l` steps by block index.
    levels: Vec<Vec<Drop>>,
    quadrature: Quadrature,
    /// First step at which the learning rate is maximal (end of warmup).
    peak_index: usize,
}

impl Prepared {
    pub(crate) fn new(lrs: &[f64], steps: &[u64], quadrature: Quadrature) -> Self {
        let mut prefix = Vec::with_capacity(lrs.len());
        let mut acc = 0.0;
        for &x in lrs {
            acc += x;
            prefix.push(acc);
        }
        let mut exact = Vec::new();
        for k in 1..lrs.len() {
            let d = lrs[k - 1] - lrs[k];
            if d != 0.0 {
                exact.push(Drop {
                    chunk: k,
                    d,
                    ln_eta: lrs[k].ln(),
                    p_before: prefix[k - 1],
                });
            }
        }
        let mut levels = vec![exact];
        for level in 1..=quadrature.levels {
            let size = 4usize.pow(level);
            // (block, total |drop| weight, eta bucket); centroids accumulate as weighted sums.
            // A block only merges steps whose learning rates agree within a factor
            // e^ETA_BUCKET, so the centroid stays accurate where eta changes fast (warmup).
            let mut blocks: Vec<(Drop, f64, i64)> = Vec::new();
            for e in &levels[0] {
                let (chunk, w) = (e.chunk / size, e.d.abs());
                let bucket = if e.ln_eta.is_finite() {
                    (e.ln_eta / ETA_BUCKET).floor() as i64
                } else {
                    i64::MIN
                };
                match blocks.last_mut() {
                    Some((b, total, kb)) if b.chunk == chunk && *kb == bucket => {
                        b.d += e.d;
                        b.ln_eta += w * e.ln_eta;
                        b.p_before += w * e.p_before;
                        *total += w;
                    }
                    _ => blocks.push((
                        Drop {
                            chunk,
                            d: e.d,
                            ln_eta: w * e.ln_eta,
                            p_before: w * e.p_before,
                        },
                        w,
                        bucket,
                    )),
                }
            }
            levels.push(
                blocks
                    .into_iter()
                    .map(|(mut b, total, _)| {
                        b.ln_eta /= total;
                        b.p_before /= total;
                        b
                    })
                    .collect(),
            );
        }
        let peak = lrs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let peak_index = lrs.iter().position(|&x| x == peak).unwrap_or(0);
        Self {
            steps: steps.iter().map(|&s| s as usize).collect(),
            prefix,
            lrs: lrs.to_vec(),
            levels,
            quadrature,
            peak_index,
        }
    }

    /// `S1(t)`, the learning-rate area up to and including step `t`.
    pub(crate) fn s1(&self, t: usize) -> f64 {
        self.prefix[t]
    }

    /// For an evaluated step `t`, the index range of each level's entries that together
    /// cover steps `1..=t` exactly once.
    fn ranges(&self, t: usize, out: &mut Vec<(usize, usize)>) {
        out.clear();
        let top = self.levels.len() - 1;
        let mut hi = t + 1; // exclusive, in steps
        for (level, entries) in self.levels.iter().enumerate() {
            let size = 4usize.pow(level as u32);
            let lo = if level == top {
                0
            } else {
                let next = size * 4;
                (hi.saturating_sub(self.quadrature.window * size) / next) * next
            };
            let (a, b) = (lo / size, hi.div_ceil(size));
            let first = entries.partition_point(|e| e.chunk < a);
            let last = entries.partition_point(|e| e.chunk < b);
            out.push((first, last));
            hi = lo;
            if hi == 0 {
                break;
            }
        }
    }
}

/// Per-term multi-power pieces: `G` and its derivatives in log-parameter space.
#[inline]
fn mpl_term(x: f64, beta: f64) -> (f64, f64, f64) {
    // x = C eta^-gamma S >= 0; u = 1 + x.
    let lu = x.ln_1p();
    let p = (-beta * lu).exp();
    let g = 1.0 - p;
    // dG/dlnC = beta x u^(-beta-1); dG/dln beta = beta p ln u.
    let dc = beta * x * p / (1.0 + x);
    (g, dc, beta * p * lu)
}

/// Evaluates a law at `theta` on one prepared sequence; fills `out` with predictions and, if
/// given, `jac` with the row-major Jacobian `d pred / d theta`.
pub(crate) fn evaluate(
    kind: LawKind,
    theta: &[f64],
    prep: &Prepared,
    out: &mut Vec<f64>,
    mut jac: Option<&mut Vec<f64>>,
) {
    let n = kind.n_params();
    out.clear();
    out.reserve(prep.steps.len());
    if let Some(j) = jac.as_deref_mut() {
        j.clear();
        j.resize(prep.steps.len() * n, 0.0);
    }
    let (l0, a, alpha) = (theta[0], theta[1].exp(), theta[2].exp());
    // Area of the power-law term: sum eta^p (p = 1 except for the power-area law), with
    // its derivative d/dp = sum eta^p ln eta.
    let (area, darea) = if kind == LawKind::PowerArea {
        let p = theta[7].exp();
        let (mut s, mut ds) = (0.0, 0.0);
        let mut area = Vec::with_capacity(prep.lrs.len());
        let mut darea = Vec::with_capacity(prep.lrs.len());
        for &x in &prep.lrs {
            if x > 0.0 {
                let lx = x.ln();
                let e = (p * lx).exp();
                s += e;
                ds += e * lx;
            }
            area.push(s);
            darea.push(ds);
        }
        (std::borrow::Cow::Owned(area), darea)
    } else {
        (std::borrow::Cow::Borrowed(&prep.prefix), Vec::new())
    };
    // Returns A S^-alpha and ln S.
    let power = |t: usize| {
        let s1 = area[t].max(f64::MIN_POSITIVE);
        let ls = s1.ln();
        let v = a * (-alpha * ls).exp();
        (v, ls)
    };
    match kind {
        LawKind::MultiPower | LawKind::PowerArea => {
            let (b, c, beta, gamma) = (
                theta[3].exp(),
                theta[4].exp(),
                theta[5].exp(),
                theta[6].exp(),
            );
            // C * eta^-gamma for every entry and block: the only per-parameter precomputation.
            let scales: Vec<Vec<f64>> = prep
                .levels
                .iter()
                .map(|entries| {
                    entries
                        .iter()
                        .map(|e| {
                            if e.ln_eta == f64::NEG_INFINITY {
                                f64::INFINITY
                            } else {
                                c * (-gamma * e.ln_eta).exp()
                            }
                        })
                        .collect()
                })
                .collect();
            let mut ranges = Vec::new();
            for (row, &t) in prep.steps.iter().enumerate() {
                let (v, ls) = power(t);
                let pt = prep.prefix[t];
                prep.ranges(t, &mut ranges);
                let (mut sg, mut sc, mut sb, mut sgam) = (0.0, 0.0, 0.0, 0.0);
                for (level, &(first, last)) in ranges.iter().enumerate() {
                    let entries = &prep.levels[level][first..last];
                    for (e, &k) in entries.iter().zip(&scales[level][first..last]) {
                        let s = (pt - e.p_before).max(0.0);
                        if k.is_infinite() {
                            sg += e.d;
                            continue;
                        }
                        let (g, dc, db) = mpl_term(k * s, beta);
                        sg += e.d * g;
                        sc += e.d * dc;
                        sb += e.d * db;
                        sgam += e.d * dc * e.ln_eta;
                    }
                }
                // The early transient E exp(-S1/s_E) (power-area law only).
                let transient = match theta.get(8..10) {
                    Some(&[le, ls_e]) => (le - pt / ls_e.exp()).exp(),
                    _ => 0.0,
                };
                out.push(l0 + v - b * sg + transient);
                if let Some(j) = jac.as_deref_mut() {
                    let r = &mut j[row * n..(row + 1) * n];
                    r[0] = 1.0;
                    r[1] = v;
                    r[2] = -alpha * ls * v;
                    r[3] = -b * sg;
                    r[4] = -b * sc;
                    r[5] = -b * sb;
                    // dx/dln gamma = -gamma ln(eta) x, so dG/dln gamma = -gamma ln(eta) * dc.
                    r[6] = b * gamma * sgam;
                    if kind == LawKind::PowerArea {
                        // d(A Sp^-alpha)/dln p = -alpha v / Sp * sum eta^p ln eta * p.
                        r[7] = -alpha * v * (-ls).exp() * darea[t] * theta[7].exp();
                        r[8] = transient;
                        r[9] = transient * pt / theta[9].exp();
                    }
                }
            }
        }
        LawKind::Annealing => {
            let (c, one_minus) = (theta[3].exp(), theta[4].exp());
            let lambda = 1.0 - one_minus;
            let last = prep.steps.iter().copied().max().unwrap_or(0);
            // S2 and dS2/dlambda at every step by the momentum recursion: O(t).
            let mut s2 = vec![0.0; last + 1];
            let mut ds2 = vec![0.0; last + 1];
            let (mut m, mut dm, mut acc, mut dacc) = (0.0, 0.0, 0.0, 0.0);
            for i in 1..=last.min(prep.lrs.len().saturating_sub(1)) {
                let d = if i > prep.peak_index {
                    prep.lrs[i - 1] - prep.lrs[i]
                } else {
                    0.0
                };
                dm = m + lambda * dm;
                m = lambda * m + d;
                acc += m;
                dacc += dm;
                s2[i] = acc;
                ds2[i] = dacc;
            }
            for (row, &t) in prep.steps.iter().enumerate() {
                let (v, ls) = power(t);
                out.push(l0 + v - c * s2[t]);
                if let Some(j) = jac.as_deref_mut() {
                    let r = &mut j[row * n..(row + 1) * n];
                    r[0] = 1.0;
                    r[1] = v;
                    r[2] = -alpha * ls * v;
                    r[3] = -c * s2[t];
                    // dlambda/dtheta4 = -(1 - lambda).
                    r[4] = c * ds2[t] * one_minus;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published_25m() -> FittedLaw {
        FittedLaw::multi_power(MultiPowerParams {
            l0: 3.04045406,
            a: 0.52468604,
            alpha: 0.50786857,
            b: 363.78751622,
            c: 2.06560812,
            beta: 0.58279013,
            gamma: 0.64142257,
            ..MultiPowerParams::PUBLISHED_FORM
        })
        .unwrap()
    }

    fn cosine_lrs(total: usize) -> Vec<f64> {
        let (w, peak, end) = (2160usize, 3e-4, 3e-5);
        (0..total)
            .map(|t| {
                if t < w {
                    peak * t as f64 / (w - 1) as f64
                } else {
                    let f = (t - w) as f64 / (total - w) as f64;
                    end + (peak - end) / 2.0 * (1.0 + (std::f64::consts::PI * f).cos())
                }
            })
            .collect()
    }

    /// The literal O(t^2) sum of the authors' code, for reference.
    fn naive_mpl(p: &MultiPowerParams, lrs: &[f64], t: usize) -> f64 {
        let prefix: Vec<f64> = lrs
            .iter()
            .scan(0.0, |s, &x| {
                *s += x;
                Some(*s)
            })
            .collect();
        let mut ld = 0.0;
        for k in 1..=t {
            let gap = lrs[k] - lrs[k - 1];
            let s = prefix[t] - prefix[k - 1];
            ld += gap * (1.0 - (1.0 + p.c * lrs[k].powf(-p.gamma) * s).powf(-p.beta));
        }
        p.l0 + p.a * prefix[t].powf(-p.alpha) + p.b * ld
    }

    #[test]
    fn blocked_sum_matches_the_literal_sum() {
        let law = published_25m();
        let params = *law.multi_power_params().unwrap();
        let lrs = cosine_lrs(24_000);
        let steps = [2160u64, 2500, 5000, 12_000, 20_000, 23_999];
        let fast = law.predict_lrs(&lrs, &steps);
        for (&s, &f) in steps.iter().zip(&fast) {
            let slow = naive_mpl(&params, &lrs, s as usize);
            assert!((f - slow).abs() < 1e-6, "step {s}: {f} vs {slow}");
        }
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        let lrs = cosine_lrs(6000);
        let steps = [2200u64, 3000, 5999];
        let mut power_area = *published_25m().multi_power_params().unwrap();
        power_area.p = 0.9;
        power_area.transient = 0.05;
        power_area.transient_area = 0.3;
        for law in [
            published_25m(),
            FittedLaw::power_area(power_area).unwrap(),
            FittedLaw::annealing(AnnealingParams {
                l0: 3.0,
                a: 0.5,
                alpha: 0.5,
                c: 300.0,
                lambda: 0.999,
            })
            .unwrap(),
        ] {
            let prep = Prepared::new(&lrs, &steps, Quadrature::EXACT);
            let theta = law.theta();
            let (mut out, mut jac) = (Vec::new(), Vec::new());
            evaluate(law.kind(), &theta, &prep, &mut out, Some(&mut jac));
            let n = theta.len();
            for i in 0..n {
                let h = 1e-6;
                let (mut tp, mut tm) = (theta.clone(), theta.clone());
                tp[i] += h;
                tm[i] -= h;
                let (mut op, mut om) = (Vec::new(), Vec::new());
                evaluate(law.kind(), &tp, &prep, &mut op, None);
                evaluate(law.kind(), &tm, &prep, &mut om, None);
                for row in 0..steps.len() {
                    let fd = (op[row] - om[row]) / (2.0 * h);
                    let an = jac[row * n + i];
                    assert!(
                        (fd - an).abs() <= 1e-6 * (1.0 + an.abs()),
                        "{} param {i} row {row}: {an} vs {fd}",
                        law.kind()
                    );
                }
            }
        }
    }

    #[test]
    fn annealing_law_matches_its_definition() {
        let p = AnnealingParams {
            l0: 3.0,
            a: 0.5,
            alpha: 0.5,
            c: 300.0,
            lambda: 0.99,
        };
        let law = FittedLaw::annealing(p).unwrap();
        // Warmup 0..=2, then a drop at step 3 and 4.
        let lrs = [0.0, 0.5e-3, 1e-3, 0.8e-3, 0.6e-3, 0.6e-3];
        let got = law.predict_lrs(&lrs, &[5]);
        let (m3, m4) = (0.2e-3, 0.99 * 0.2e-3 + 0.2e-3);
        let m5 = 0.99 * m4;
        let s1: f64 = lrs.iter().sum();
        let want = 3.0 + 0.5 * s1.powf(-0.5) - 300.0 * (m3 + m4 + m5);
        assert!((got[0] - want).abs() < 1e-12, "{} vs {want}", got[0]);
    }

    #[test]
    fn transient_adds_a_fading_excess_in_area() {
        let mut with = *published_25m().multi_power_params().unwrap();
        with.p = 0.9;
        let without = FittedLaw::power_area(with).unwrap();
        with.transient = 0.05;
        with.transient_area = 0.3;
        let law = FittedLaw::power_area(with).unwrap();
        let lrs = cosine_lrs(24_000);
        let steps = [2160u64, 4000, 23_999];
        let (a, b) = (
            law.predict_lrs(&lrs, &steps),
            without.predict_lrs(&lrs, &steps),
        );
        for (i, &s) in steps.iter().enumerate() {
            let s1: f64 = lrs[..=s as usize].iter().sum();
            let want = 0.05 * (-s1 / 0.3).exp();
            assert!((a[i] - b[i] - want).abs() < 1e-12, "step {s}");
        }
        // A third of E at the end of warmup (S1 = 0.32), faded by the end of the run (S1 = 3.9).
        assert!(a[0] - b[0] > 0.015 && a[2] - b[2] < 1e-6);
        // The published form has no transient.
        assert!(FittedLaw::multi_power(with).is_err());
        let json = r#"{"law":"power-area","params":{"l0":3,"a":0.5,"alpha":0.5,"b":400,"c":2,"beta":0.6,"gamma":0.6,"p":0.9}}"#;
        let old: FittedLaw = serde_json::from_str(json).unwrap();
        assert!(old.validate().is_ok());
        assert_eq!(old.multi_power_params().unwrap().transient, 0.0);
        assert!(old.predict_lrs(&lrs, &steps).iter().all(|x| x.is_finite()));
    }

    #[test]
    fn zero_learning_rate_is_finite() {
        let law = published_25m();
        let mut lrs = vec![1e-3; 100];
        lrs.extend(vec![0.0; 100]);
        let out = law.predict_lrs(&lrs, &[50, 150, 199]);
        assert!(out.iter().all(|x| x.is_finite()), "{out:?}");
    }

    #[test]
    fn kind_round_trips_through_its_name() {
        for k in LawKind::ALL {
            assert_eq!(k.name().parse::<LawKind>().unwrap(), k);
        }
        assert!("chinchilla".parse::<LawKind>().is_err());
    }
}
