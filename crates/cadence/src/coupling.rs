//! Coupling helpers between schedules: how well two schedules are aligned, and the LR drop
//! that keeps the effective gradient scale constant under a decaying temperature.

use crate::error::{Error, check};
use crate::schedule::Schedule;

/// What the [`alignment_index`] correlates.
///
/// # Examples
///
/// ```
/// assert_eq!(cadence::coupling::Alignment::default(), cadence::coupling::Alignment::Profile);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Alignment {
    /// The values: `a(t)` with `b(t)`. Are both high at the same time?
    #[default]
    Profile,
    /// The step-to-step changes: `a(t+1) - a(t)` with `b(t+1) - b(t)`. Do they move at the
    /// same time?
    Changes,
}

/// The alignment index of two schedules over the steps `start..end`: the Pearson
/// correlation of their profiles (or of their changes).
///
/// ```text
/// Profile:  x_t = a(t),            y_t = b(t),            t in start..end
/// Changes:  x_t = a(t+1) - a(t),   y_t = b(t+1) - b(t),   t in start..end-1
/// index = sum (x_t - mean x)(y_t - mean y) / sqrt(sum (x_t - mean x)^2 * sum (y_t - mean y)^2)
/// ```
///
/// Why this definition: the article asks whether "the student's biggest learning steps
/// happen when the teacher's advice is most informative", i.e. whether two schedules are
/// high (or low) at the same steps. The Pearson correlation of the profiles answers exactly
/// that and nothing else: it is invariant to a positive affine change of either schedule, so
/// an LR in units of 1e-4 and a temperature between 1 and 10 compare directly, and to the
/// peak values; it is +1 for schedules of identical shape, -1 for mirror images, and near 0
/// for unrelated ones. Its weakness is that any two decaying schedules share a trend and
/// score high; [`Alignment::Changes`] removes the trend and asks whether the schedules
/// *move* at the same steps (does the LR drop when the temperature drops?), at the price of
/// being dominated by the few steps of a staircase. For distillation, where low temperature
/// means sharp advice, a large LR during sharp advice is a *negative* index between LR and
/// temperature (or a positive one between LR and `1 / temperature`).
///
/// # Errors
/// [`Error::InvalidParameter`] naming `end` if the range has fewer than 2 points (3 for
/// `Changes`), naming `a` or `b` if that schedule is constant over the range (the
/// correlation is undefined).
///
/// # Examples
///
/// ```
/// use cadence::coupling::{Alignment, alignment_index};
/// use cadence::{Linear, from_fn};
///
/// let lr = Linear::new(1e-3, 0.0, 100)?;
/// let temperature = Linear::new(10.0, 1.0, 100)?;
/// let warmup = Linear::new(0.0, 1.0, 100)?;
/// assert!((alignment_index(&lr, &temperature, 0..100, Alignment::Profile)? - 1.0).abs() < 1e-12);
/// assert!((alignment_index(&lr, &warmup, 0..100, Alignment::Profile)? + 1.0).abs() < 1e-12);
/// let steps = from_fn(|t| if t < 50 { 1.0 } else { 0.1 });
/// let smooth = from_fn(|t| (-0.05 * t as f64).exp());
/// let by_profile = alignment_index(&steps, &smooth, 0..100, Alignment::Profile)?;
/// let by_changes = alignment_index(&steps, &smooth, 0..100, Alignment::Changes)?;
/// assert!(by_profile > 0.6 && by_changes.abs() < 0.1); // same trend, different timing
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// The "alignment index" of the article's section on distillation (teacher temperature
/// versus student LR); Pearson's correlation coefficient.
pub fn alignment_index<A, B>(
    a: &A,
    b: &B,
    steps: std::ops::Range<u64>,
    alignment: Alignment,
) -> Result<f64, Error>
where
    A: Schedule + ?Sized,
    B: Schedule + ?Sized,
{
    let min_points = match alignment {
        Alignment::Profile => 2,
        Alignment::Changes => 3,
    };
    let n_steps = steps.end.saturating_sub(steps.start);
    if n_steps < min_points {
        let rule = format!(
            "the range {}..{} needs at least {min_points} steps",
            steps.start, steps.end
        );
        return Err(Error::invalid("end", steps.end, rule));
    }
    let series = |s: &dyn Fn(u64) -> f64| -> Vec<f64> {
        match alignment {
            Alignment::Profile => steps.clone().map(s).collect(),
            Alignment::Changes => (steps.start..steps.end - 1)
                .map(|t| s(t + 1) - s(t))
                .collect(),
        }
    };
    let x = series(&|t| a.value(t));
    let y = series(&|t| b.value(t));
    pearson(&x, &y)
}

fn pearson(x: &[f64], y: &[f64]) -> Result<f64, Error> {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&xi, &yi) in x.iter().zip(y) {
        let (dx, dy) = (xi - mx, yi - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    // Relative to the scale of the values, a variance this small is rounding noise.
    let flat = |s: f64, m: f64| s <= f64::EPSILON * f64::EPSILON * n * m * m || s == 0.0;
    if flat(sxx, mx) {
        return Err(Error::invalid(
            "a",
            format!("{mx:e}"),
            "is constant over the range: alignment undefined",
        ));
    }
    if flat(syy, my) {
        return Err(Error::invalid(
            "b",
            format!("{my:e}"),
            "is constant over the range: alignment undefined",
        ));
    }
    Ok((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// The LR drop that keeps the effective gradient scale constant under an exponentially
/// decaying temperature, and how far the scale drifts within an interval.
///
/// # Examples
///
/// ```
/// let c = cadence::coupling::lr_drop_for_temperature(0.001, 1_000)?;
/// assert!((c.gamma - (-1.0_f64).exp()).abs() < 1e-15);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemperatureCoupling {
    /// The factor to multiply the LR by every `interval` steps: `exp(-k * interval)`.
    pub gamma: f64,
    /// The relative drift of the effective scale at the last step of an interval compared
    /// with its first step: `exp(k * (interval - 1)) - 1`.
    pub end_drift: f64,
    /// The mean relative drift over the steps of an interval:
    /// `(1/T) * sum_{s=0}^{T-1} exp(k s) - 1 = expm1(k T) / (T expm1(k)) - 1`.
    pub mean_drift: f64,
}

/// The LR drop factor `gamma = exp(-k T)` for a drop every `T = interval` steps that keeps
/// the effective gradient scale `lr / temperature` constant from interval to interval when
/// the temperature decays as `temperature(t) = temperature(0) * exp(-k t)`.
///
/// ```text
/// contrastive loss on logits s / tau:  dL/ds = (softmax(s / tau) - y) / tau
/// effective scale  g(t) = lr(t) / tau(t)
/// lr(t) = lr0 * gamma^floor(t / T),  tau(t) = tau0 * exp(-k t)
/// g(n T + s) = (lr0 / tau0) * (gamma * exp(k T))^n * exp(k s),   0 <= s < T
/// constant across intervals  <=>  gamma = exp(-k T)
/// within an interval the scale still drifts by exp(k s): end_drift = exp(k (T - 1)) - 1
/// ```
///
/// A negative `k` (a rising temperature) gives `gamma > 1` and negative drifts.
///
/// # Errors
/// [`Error::InvalidParameter`] for a non-finite `k` or `interval = 0`.
///
/// # Examples
///
/// ```
/// use cadence::coupling::lr_drop_for_temperature;
///
/// // Temperature halves every 10_000 steps; the LR drops every 2_000 steps.
/// let k = 2f64.ln() / 10_000.0;
/// let c = lr_drop_for_temperature(k, 2_000)?;
/// assert!((c.gamma - 0.5f64.powf(0.2)).abs() < 1e-12);
/// assert!((c.end_drift - 0.1486).abs() < 1e-4);   // the scale grows 14.9% within an interval
/// assert!((c.mean_drift - 0.0726).abs() < 1e-4);
/// assert_eq!(lr_drop_for_temperature(0.0, 10)?.gamma, 1.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// The article's section on contrastive learning (temperature decay coupled with step
/// decay of the LR); the gradient of the InfoNCE / NT-Xent loss scales with `1 / tau`
/// (Chen et al. 2020, SimCLR; Wang and Liu 2021, "Understanding the Behaviour of
/// Contrastive Loss").
pub fn lr_drop_for_temperature(k: f64, interval: u64) -> Result<TemperatureCoupling, Error> {
    check::finite("k", k)?;
    check::at_least_one("interval", interval)?;
    let t = interval as f64;
    let gamma = (-k * t).exp();
    let end_drift = (k * (t - 1.0)).exp_m1();
    let mean_drift = if k == 0.0 {
        0.0
    } else {
        (k * t).exp_m1() / (t * k.exp_m1()) - 1.0
    };
    Ok(TemperatureCoupling {
        gamma,
        end_drift,
        mean_drift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::from_fn;
    use crate::testing::close;

    #[test]
    fn coupling_keeps_scale_constant_across_intervals() {
        let (k, interval) = (0.003, 250u64);
        let c = lr_drop_for_temperature(k, interval).unwrap();
        let lr = |t: u64| 0.1 * c.gamma.powi((t / interval) as i32);
        let tau = |t: u64| 0.5 * (-k * t as f64).exp();
        let g = |t: u64| lr(t) / tau(t);
        for n in 1..5 {
            assert!(close(g(n * interval), g(0), 1e-12));
            assert!(close(
                g(n * interval + interval - 1) / g(n * interval) - 1.0,
                c.end_drift,
                1e-9
            ));
        }
        let mean = (0..interval).map(|s| g(s) / g(0)).sum::<f64>() / interval as f64 - 1.0;
        assert!(close(mean, c.mean_drift, 1e-9));
    }

    #[test]
    fn coupling_rejects_bad_input() {
        assert!(matches!(
            lr_drop_for_temperature(f64::NAN, 10),
            Err(Error::InvalidParameter { name: "k", .. })
        ));
        assert!(matches!(
            lr_drop_for_temperature(0.1, 0),
            Err(Error::InvalidParameter {
                name: "interval",
                ..
            })
        ));
    }

    #[test]
    fn alignment_is_affine_invariant() {
        let a = from_fn(|t| (t as f64 * 0.1).sin());
        let b = from_fn(|t| 1e-4 * (t as f64 * 0.1).sin() + 3.0);
        let c = from_fn(|t| (t as f64 * 0.1).cos());
        assert!(close(
            alignment_index(&a, &b, 0..200, Alignment::Profile).unwrap(),
            1.0,
            1e-9
        ));
        assert!(close(
            alignment_index(&a, &b, 0..200, Alignment::Changes).unwrap(),
            1.0,
            1e-9
        ));
        assert!(
            alignment_index(&a, &c, 0..629, Alignment::Profile)
                .unwrap()
                .abs()
                < 0.05
        );
    }

    #[test]
    fn alignment_rejects_degenerate_input() {
        let a = from_fn(|t| t as f64);
        assert!(matches!(
            alignment_index(&a, &0.5, 0..10, Alignment::Profile),
            Err(Error::InvalidParameter { name: "b", .. })
        ));
        assert!(matches!(
            alignment_index(&0.5, &a, 0..10, Alignment::Profile),
            Err(Error::InvalidParameter { name: "a", .. })
        ));
        assert!(matches!(
            alignment_index(&a, &a, 5..6, Alignment::Profile),
            Err(Error::InvalidParameter { name: "end", .. })
        ));
        assert!(matches!(
            alignment_index(&a, &a, 5..7, Alignment::Changes),
            Err(Error::InvalidParameter { name: "end", .. })
        ));
        // Linear schedules have constant changes: undefined under Changes.
        assert!(alignment_index(&a, &a, 0..10, Alignment::Changes).is_err());
    }
}
