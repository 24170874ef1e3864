//! Helpers for checking schedules in tests: compare `(step, value)` pairs within a
//! stated tolerance, and check the [`Schedule`] contract at telling steps.

use crate::schedule::Schedule;

#[cfg(feature = "serde")]
pub mod specs;

/// Whether `actual` is within `rel` relative error of `expected`, with an absolute floor
/// of `rel * 1e-3` for values near zero.
///
/// # Examples
///
/// ```
/// use cadence::testing::close;
///
/// assert!(close(1.0 + 1e-12, 1.0, 1e-9));
/// assert!(!close(1.1, 1.0, 1e-9));
/// assert!(close(1e-15, 0.0, 1e-9));
/// ```
pub fn close(actual: f64, expected: f64, rel: f64) -> bool {
    let scale = expected.abs().max(actual.abs());
    (actual - expected).abs() <= rel * scale || (actual - expected).abs() <= rel * 1e-3
}

/// Asserts that `schedule.value(step)` is within relative tolerance `rel` of the expected
/// value for every `(step, expected)` pair, listing every mismatch on failure.
///
/// # Panics
/// When any pair is off; this is a test helper.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, testing::assert_values};
///
/// let s = Linear::new(1.0, 0.0, 10)?;
/// assert_values(&s, &[(0, 1.0), (5, 0.5), (10, 0.0)], 1e-12);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn assert_values<S: Schedule + ?Sized>(schedule: &S, pairs: &[(u64, f64)], rel: f64) {
    let bad: Vec<String> = pairs
        .iter()
        .filter_map(|&(step, expected)| {
            let actual = schedule.value(step);
            (!close(actual, expected, rel))
                .then(|| format!("  step {step}: got {actual:e}, expected {expected:e}"))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{schedule:?} is off at {} of {} steps (rel tol {rel:e}):\n{}",
        bad.len(),
        pairs.len(),
        bad.join("\n")
    );
}

/// Steps where schedules usually break: 0, 1, around each given boundary, far past
/// them, and the extremes of `u64`.
///
/// # Examples
///
/// ```
/// use cadence::testing::telling_steps;
///
/// let steps = telling_steps(&[100]);
/// assert!(steps.contains(&99) && steps.contains(&100) && steps.contains(&101));
/// assert!(steps.contains(&u64::MAX));
/// ```
pub fn telling_steps(boundaries: &[u64]) -> Vec<u64> {
    let mut steps = vec![0, 1, 2, 1 << 32, 1 << 53, u64::MAX - 1, u64::MAX];
    for &b in boundaries {
        steps.extend([
            b.saturating_sub(1),
            b,
            b.saturating_add(1),
            b.saturating_mul(10),
        ]);
    }
    steps.sort_unstable();
    steps.dedup();
    steps
}

/// Asserts the [`Schedule`] contract at the [`telling_steps`]: finite, never panicking.
///
/// # Panics
/// When a value is not finite; this is a test helper.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, testing::assert_total};
///
/// assert_total(&Linear::new(1.0, 0.0, 10)?, &[10]);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn assert_total<S: Schedule + ?Sized>(schedule: &S, boundaries: &[u64]) {
    for step in telling_steps(boundaries) {
        let v = schedule.value(step);
        assert!(
            v.is_finite(),
            "{schedule:?}.value({step}) = {v}, not finite"
        );
    }
}
