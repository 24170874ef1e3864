//! Small, dependency-free statistics: means with t confidence intervals, t tests,
//! the Mann-Whitney U test, Fisher's exact test and a least-squares slope.
//!
//! Every test returns a [`TestResult`] naming the test, its statistic and its p-value,
//! so verdicts in the report always say how they were computed.
//!
//! ```
//! use cadence_lab::stats::{Estimate, welch_t_test};
//!
//! let e = Estimate::from_samples(&[1.0, 2.0, 3.0, 4.0, 5.0]);
//! assert_eq!(e.mean, 3.0);
//! assert!((e.half_width - 1.963_243).abs() < 1e-5); // t(0.975, 4) * sd / sqrt(5)
//! let t = welch_t_test(&[1.0, 2.0, 3.0], &[7.0, 8.0, 9.0]);
//! assert!(t.p_value < 0.01);
//! ```

use serde::{Deserialize, Serialize};

/// A mean with its 95% confidence interval from the Student t distribution.
///
/// ```
/// use cadence_lab::stats::Estimate;
///
/// let e = Estimate::from_samples(&[2.0, 2.0]);
/// assert_eq!((e.mean, e.half_width, e.n), (2.0, 0.0, 2));
/// assert_eq!((e.lo(), e.hi()), (2.0, 2.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The sample mean.
    pub mean: f64,
    /// Half the width of the 95% interval: `t(0.975, n - 1) * sd / sqrt(n)` (0 for n < 2).
    pub half_width: f64,
    /// The sample standard deviation (n - 1 in the denominator).
    pub sd: f64,
    /// The number of samples.
    pub n: usize,
}

impl Estimate {
    /// Mean, standard deviation and 95% t interval of `xs`; `NaN` mean for an empty slice.
    ///
    /// ```
    /// use cadence_lab::stats::Estimate;
    ///
    /// assert!(Estimate::from_samples(&[]).mean.is_nan());
    /// assert_eq!(Estimate::from_samples(&[4.0]).half_width, 0.0);
    /// ```
    pub fn from_samples(xs: &[f64]) -> Self {
        let n = xs.len();
        let mean = mean(xs);
        let sd = if n > 1 {
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let half_width = if n > 1 {
            t_quantile(0.975, (n - 1) as f64) * sd / (n as f64).sqrt()
        } else {
            0.0
        };
        Estimate {
            mean,
            half_width,
            sd,
            n,
        }
    }

    /// The lower end of the interval.
    ///
    /// ```
    /// # use cadence_lab::stats::Estimate;
    /// assert!(Estimate::from_samples(&[1.0, 3.0]).lo() < 2.0);
    /// ```
    pub fn lo(&self) -> f64 {
        self.mean - self.half_width
    }

    /// The upper end of the interval.
    ///
    /// ```
    /// # use cadence_lab::stats::Estimate;
    /// assert!(Estimate::from_samples(&[1.0, 3.0]).hi() > 2.0);
    /// ```
    pub fn hi(&self) -> f64 {
        self.mean + self.half_width
    }
}

/// The outcome of a statistical test: which test, its statistic, and its p-value.
///
/// ```
/// use cadence_lab::stats::one_sample_t_test;
///
/// let r = one_sample_t_test(&[0.1, -0.1, 0.2, -0.2], 0.0);
/// assert!(r.p_value > 0.9);
/// assert!(r.test.contains("t test"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The name of the test, e.g. "paired t test (two-sided)".
    pub test: String,
    /// The test statistic (t, z, or the odds ratio for Fisher's test).
    pub statistic: f64,
    /// Degrees of freedom where the test has them.
    pub df: Option<f64>,
    /// The p-value.
    pub p_value: f64,
}

/// The arithmetic mean (`NaN` for an empty slice).
///
/// ```
/// assert_eq!(cadence_lab::stats::mean(&[1.0, 2.0]), 1.5);
/// ```
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The median (`NaN` for an empty slice); `NaN`s sort last.
///
/// ```
/// assert_eq!(cadence_lab::stats::median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
/// ```
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// `ln Gamma(x)` for `x > 0` (Lanczos, g = 7, nine terms; about 15 digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function `I_x(a, b)` by Lentz's continued fraction.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // The fraction converges fast for x < (a + 1) / (a + b + 2); use symmetry otherwise.
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(b, a, 1.0 - x);
    }
    let tiny = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    ln_front.exp() * h / a
}

/// The cumulative distribution function of Student's t with `df` degrees of freedom.
///
/// ```
/// use cadence_lab::stats::t_cdf;
///
/// assert!((t_cdf(0.0, 3.0) - 0.5).abs() < 1e-15);
/// assert!((t_cdf(2.262_157, 9.0) - 0.975).abs() < 1e-6);
/// ```
pub fn t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() {
        return f64::NAN;
    }
    let tail = 0.5 * incomplete_beta(0.5 * df, 0.5, df / (df + t * t));
    if t > 0.0 { 1.0 - tail } else { tail }
}

/// The quantile of Student's t: the `t` with `t_cdf(t, df) = p`, by bisection.
///
/// ```
/// use cadence_lab::stats::t_quantile;
///
/// assert!((t_quantile(0.975, 4.0) - 2.776_445).abs() < 1e-5);
/// assert!((t_quantile(0.975, 1e6) - 1.959_966).abs() < 1e-5);
/// ```
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let (mut lo, mut hi) = (-1e4, 1e4);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The standard normal cumulative distribution function (via `erfc`, about 1e-7).
///
/// ```
/// use cadence_lab::stats::normal_cdf;
///
/// assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
/// ```
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Chebyshev fit, relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The two-sided one-sample t test of `mean(xs) = mu`; with differences it is the paired test.
///
/// ```
/// use cadence_lab::stats::one_sample_t_test;
///
/// let r = one_sample_t_test(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.0);
/// assert!((r.statistic - 4.242_641).abs() < 1e-6);
/// assert!((r.p_value - 0.013_22).abs() < 1e-4);
/// ```
pub fn one_sample_t_test(xs: &[f64], mu: f64) -> TestResult {
    let e = Estimate::from_samples(xs);
    let df = (e.n as f64 - 1.0).max(1.0);
    let se = e.sd / (e.n as f64).sqrt();
    let t = if se > 0.0 {
        (e.mean - mu) / se
    } else if e.mean == mu {
        0.0
    } else {
        (e.mean - mu).signum() * f64::INFINITY
    };
    TestResult {
        test: "one-sample t test (two-sided)".into(),
        statistic: t,
        df: Some(df),
        p_value: 2.0 * t_cdf(-t.abs(), df),
    }
}

/// The two-sided paired t test of `mean(a - b) = 0`.
///
/// ```
/// use cadence_lab::stats::paired_t_test;
///
/// let r = paired_t_test(&[2.0, 3.0, 4.5], &[1.0, 2.0, 3.0]);
/// assert!(r.statistic > 0.0 && r.p_value < 0.05);
/// ```
pub fn paired_t_test(a: &[f64], b: &[f64]) -> TestResult {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    TestResult {
        test: "paired t test (two-sided)".into(),
        ..one_sample_t_test(&d, 0.0)
    }
}

/// The two one-sided t tests (TOST) of equivalence: is `mean(xs)` inside `[lo, hi]`?
///
/// The p-value is the larger of the two one-sided p-values; below 0.05 the 90% interval
/// lies inside the margin. Samples without spread (deterministic runs) give p = 0 inside
/// the margin and 1 outside. The statistic is the sample mean.
///
/// ```
/// use cadence_lab::stats::equivalence_test;
///
/// assert!(equivalence_test(&[0.99, 1.0, 1.01, 1.0], 0.9, 1.1).p_value < 0.01);
/// assert!(equivalence_test(&[1.2, 1.3, 1.25], 0.9, 1.1).p_value > 0.5);
/// assert_eq!(equivalence_test(&[1.0, 1.0], 0.9, 1.1).p_value, 0.0);
/// ```
pub fn equivalence_test(xs: &[f64], lo: f64, hi: f64) -> TestResult {
    let e = Estimate::from_samples(xs);
    let df = (e.n as f64 - 1.0).max(1.0);
    let se = e.sd / (e.n as f64).sqrt();
    let p_value = if se > 0.0 {
        let p_lo = 1.0 - t_cdf((e.mean - lo) / se, df);
        let p_hi = t_cdf((e.mean - hi) / se, df);
        p_lo.max(p_hi)
    } else if (lo..=hi).contains(&e.mean) {
        0.0
    } else {
        1.0
    };
    TestResult {
        test: format!(
            "equivalence (two one-sided t tests) of the mean within [{}, {}]",
            crate::report::fmt_num(lo),
            crate::report::fmt_num(hi)
        ),
        statistic: e.mean,
        df: Some(df),
        p_value,
    }
}

/// Welch's two-sided two-sample t test of equal means (unequal variances).
///
/// ```
/// use cadence_lab::stats::welch_t_test;
///
/// let r = welch_t_test(&[1.0, 2.0, 3.0, 4.0], &[1.5, 2.5, 3.5, 4.5]);
/// assert!(r.p_value > 0.5);
/// ```
pub fn welch_t_test(a: &[f64], b: &[f64]) -> TestResult {
    let (ea, eb) = (Estimate::from_samples(a), Estimate::from_samples(b));
    let (va, vb) = (ea.sd.powi(2) / ea.n as f64, eb.sd.powi(2) / eb.n as f64);
    let se = (va + vb).sqrt();
    let diff = ea.mean - eb.mean;
    let t = if se > 0.0 {
        diff / se
    } else if diff == 0.0 {
        0.0
    } else {
        diff.signum() * f64::INFINITY
    };
    let df = if va + vb > 0.0 {
        (va + vb).powi(2) / (va.powi(2) / (ea.n as f64 - 1.0) + vb.powi(2) / (eb.n as f64 - 1.0))
    } else {
        (ea.n + eb.n) as f64 - 2.0
    };
    TestResult {
        test: "Welch t test (two-sided)".into(),
        statistic: t,
        df: Some(df),
        p_value: 2.0 * t_cdf(-t.abs(), df),
    }
}

/// The Mann-Whitney U test, one-sided, that `a` tends to be smaller than `b`.
///
/// The statistic is the z score of `U_a` (normal approximation with tie correction and
/// continuity correction); negative when `a` is smaller.
///
/// ```
/// use cadence_lab::stats::mann_whitney_less;
///
/// let a: Vec<f64> = (0..20).map(f64::from).collect();
/// let b: Vec<f64> = (10..30).map(f64::from).collect();
/// assert!(mann_whitney_less(&a, &b).p_value < 0.001);
/// assert!(mann_whitney_less(&b, &a).p_value > 0.999);
/// ```
pub fn mann_whitney_less(a: &[f64], b: &[f64]) -> TestResult {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let mut all: Vec<(f64, usize)> = a
        .iter()
        .map(|&x| (x, 0))
        .chain(b.iter().map(|&x| (x, 1)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = 0.5 * ((i + 1) + (j + 1)) as f64;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        for item in &all[i..=j] {
            if item.1 == 0 {
                rank_sum_a += rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let mu = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let var = n1 * n2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)));
    let z = if var > 0.0 {
        (u - mu + 0.5) / var.sqrt()
    } else {
        0.0
    };
    TestResult {
        test: "Mann-Whitney U test (one-sided, normal approximation)".into(),
        statistic: z,
        df: None,
        p_value: normal_cdf(z),
    }
}

/// Fisher's exact test on a 2x2 table `[[a, b], [c, d]]`, two-sided.
///
/// Rows are groups, columns are success/failure; the statistic is the odds ratio with
/// 0.5 added to every cell (Haldane-Anscombe), finite even with empty cells.
///
/// ```
/// use cadence_lab::stats::fisher_exact;
///
/// // Fisher's tea-tasting table.
/// assert!((fisher_exact(3, 1, 1, 3).p_value - 0.485_714).abs() < 1e-5);
/// assert!(fisher_exact(10, 0, 0, 10).p_value < 1e-4);
/// assert_eq!(fisher_exact(0, 5, 0, 5).statistic, 1.0);
/// ```
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> TestResult {
    let (r1, r2, c1) = (a + b, c + d, a + c);
    let n = r1 + r2;
    let ln_choose = |n: u64, k: u64| {
        ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
    };
    let ln_p = |x: u64| ln_choose(r1, x) + ln_choose(r2, c1 - x) - ln_choose(n, c1);
    let observed = ln_p(a);
    let lo = c1.saturating_sub(r2);
    let hi = c1.min(r1);
    let p: f64 = (lo..=hi)
        .map(ln_p)
        .filter(|&lp| lp <= observed + 1e-9)
        .map(f64::exp)
        .sum();
    // Haldane-Anscombe: 0.5 added to every cell keeps the odds ratio finite.
    let odds = ((a as f64 + 0.5) * (d as f64 + 0.5)) / ((b as f64 + 0.5) * (c as f64 + 0.5));
    TestResult {
        test: "Fisher exact test (two-sided)".into(),
        statistic: odds,
        df: None,
        p_value: p.min(1.0),
    }
}

/// The least-squares slope of `ys` against `xs`.
///
/// ```
/// use cadence_lab::stats::slope;
///
/// assert!((slope(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]) - 2.0).abs() < 1e-15);
/// ```
pub fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let (mx, my) = (mean(xs), mean(ys));
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    sxy / sxx
}

/// Holm's step-down adjustment of p-values (returned in the input order).
///
/// ```
/// use cadence_lab::stats::holm;
///
/// assert_eq!(holm(&[0.01, 0.04, 0.03]), vec![0.03, 0.06, 0.06]);
/// ```
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        for (df, q) in [
            (1.0, 12.706_205),
            (2.0, 4.302_653),
            (9.0, 2.262_157),
            (19.0, 2.093_024),
            (29.0, 2.045_230),
        ] {
            assert!((t_quantile(0.975, df) - q).abs() < 1e-5, "df {df}");
        }
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0_f64;
        for n in 1..20 {
            f *= n as f64;
            assert!((ln_gamma(n as f64 + 1.0) - f.ln()).abs() < 1e-10);
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn welch_matches_a_hand_computation() {
        // a: mean 2, var 1, n 3; b: mean 5, var 4, n 3; se = sqrt(1/3 + 4/3)
        let r = welch_t_test(&[1.0, 2.0, 3.0], &[3.0, 5.0, 7.0]);
        let se = (5.0_f64 / 3.0).sqrt();
        assert!((r.statistic + 3.0 / se).abs() < 1e-12);
        let df = (5.0_f64 / 3.0).powi(2) / ((1.0 / 9.0 + 16.0 / 9.0) / 2.0);
        assert!((r.df.unwrap() - df).abs() < 1e-12);
    }

    #[test]
    fn mann_whitney_is_symmetric_under_ties() {
        let a = [1.0, 1.0, 2.0];
        let r1 = mann_whitney_less(&a, &a);
        assert!(r1.p_value > 0.5 && r1.p_value < 0.8);
    }

    #[test]
    fn fisher_is_symmetric() {
        let p1 = fisher_exact(7, 3, 2, 8).p_value;
        let p2 = fisher_exact(2, 8, 7, 3).p_value;
        assert!((p1 - p2).abs() < 1e-12);
        assert!((p1 - 0.069_779).abs() < 1e-5);
    }

    #[test]
    fn normal_cdf_tails() {
        assert!((normal_cdf(-1.644_854) - 0.05).abs() < 1e-6);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
    }
}
