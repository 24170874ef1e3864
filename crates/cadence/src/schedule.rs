//! The [`Schedule`] trait: a hyperparameter as a pure function of the optimizer step.

use std::fmt;
use std::sync::Arc;

/// A hyperparameter value as a pure, random-access function of the optimizer step.
///
/// Steps are `u64`, 0-based optimizer steps: `value(0)` is the value used by the first
/// update. Implementations must be *total*: never panic and return a finite number for
/// every `u64`, including `u64::MAX`. Because a schedule holds no state, resuming a run is
/// one integer, a preview or plot is a loop, and a test is a list of `(step, value)` pairs.
///
/// The trait is object safe (`Box<dyn Schedule>` and `Arc<dyn Schedule>` are schedules)
/// and `Send + Sync`. A plain `f64` is a constant schedule; closures enter only through
/// [`from_fn`].
///
/// # Examples
///
/// ```
/// use cadence::{Linear, Schedule};
///
/// let warm = Linear::new(0.0, 1.0, 4)?;
/// assert_eq!(warm.value(0), 0.0);
/// assert_eq!(warm.value(2), 0.5);
/// assert_eq!(warm.value(u64::MAX), 1.0);
///
/// let boxed: Box<dyn Schedule> = Box::new(warm);
/// assert_eq!(boxed.value(1), 0.25);
/// assert_eq!(0.1_f64.value(123), 0.1);
/// # Ok::<(), cadence::Error>(())
/// ```
pub trait Schedule: fmt::Debug + Send + Sync {
    /// The value at optimizer step `step` (0-based). Never panics; finite for every step.
    fn value(&self, step: u64) -> f64;

    /// The value at a real-valued time `t` on the schedule's own clock (in steps).
    ///
    /// Schedules with a closed form evaluate it continuously, so that a schedule counted in
    /// epochs can be read at a fractional epoch (PyTorch's `scheduler.step(epoch + i/iters)`)
    /// and a schedule on the training fraction can be read anywhere in `[0, 1]`. Staircase
    /// schedules read the step `floor(t)`, which is also the default. Negative or `NaN`
    /// times read step 0. For every integer `n`, `value_at(n as f64) == value(n)` up to
    /// rounding. Never panics; finite for every `t`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Linear, Schedule};
    ///
    /// let ramp = Linear::new(0.0, 1.0, 10)?;
    /// assert_eq!(ramp.value_at(2.5), 0.25);
    /// assert_eq!(0.3_f64.value_at(7.9), 0.3);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    fn value_at(&self, t: f64) -> f64 {
        self.value(floor_step(t))
    }
}

/// The step `floor(t)`, saturating: negative and `NaN` times give 0, huge ones `u64::MAX`.
///
/// # Examples
///
/// ```
/// use cadence::floor_step;
///
/// assert_eq!(floor_step(2.9), 2);
/// assert_eq!(floor_step(-1.0), 0);
/// assert_eq!(floor_step(f64::NAN), 0);
/// assert_eq!(floor_step(1e300), u64::MAX);
/// ```
#[inline]
pub fn floor_step(t: f64) -> u64 {
    // `as` truncates, which is the floor at `t >= 0`, saturates, and maps negative and NaN
    // times to 0 (the floor of `t` in (-1, 0) would be -1, which saturates to 0 as well),
    // so no call to `floor` is needed.
    t as u64
}

/// A plain number is a constant schedule.
impl Schedule for f64 {
    #[inline]
    fn value(&self, _step: u64) -> f64 {
        *self
    }
}

impl<S: Schedule + ?Sized> Schedule for &S {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        (**self).value(step)
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        (**self).value_at(t)
    }
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        (**self).value(step)
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        (**self).value_at(t)
    }
}

impl<S: Schedule + ?Sized> Schedule for Arc<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        (**self).value(step)
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        (**self).value_at(t)
    }
}

/// A schedule defined by a closure; build it with [`from_fn`].
///
/// The closure is trusted to be total and finite; non-finite results are mapped to the
/// nearest finite number (`NaN` to `0.0`) so the [`Schedule`] contract still holds.
#[derive(Clone)]
pub struct FromFn<F> {
    f: F,
}

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn(<closure>)")
    }
}

impl<F: Fn(u64) -> f64 + Send + Sync> Schedule for FromFn<F> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        finite_or_saturate((self.f)(step))
    }
}

/// Wraps a closure `step -> value` as a [`Schedule`].
///
/// This is the only way closures become schedules, so a schedule that cannot be
/// serialised or inspected is always visible at its construction site.
///
/// # Examples
///
/// ```
/// use cadence::{Schedule, from_fn};
///
/// let halving = from_fn(|step| 0.5_f64.powi((step / 10) as i32));
/// assert_eq!(halving.value(0), 1.0);
/// assert_eq!(halving.value(25), 0.25);
/// ```
pub fn from_fn<F: Fn(u64) -> f64 + Send + Sync>(f: F) -> FromFn<F> {
    FromFn { f }
}

/// Maps a possibly non-finite result to a finite one: `±inf` to `±f64::MAX`, `NaN` to 0.
///
/// Families whose formulas can overflow for huge steps or extreme parameters pass their
/// result through this so that [`Schedule::value`] stays total.
///
/// # Examples
///
/// ```
/// use cadence::finite_or_saturate;
///
/// assert_eq!(finite_or_saturate(f64::INFINITY), f64::MAX);
/// assert_eq!(finite_or_saturate(f64::NAN), 0.0);
/// assert_eq!(finite_or_saturate(0.5), 0.5);
/// ```
#[inline]
pub fn finite_or_saturate(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else if x.is_nan() {
        0.0
    } else {
        x.signum() * f64::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_object_safe(_: &dyn Schedule) {}

    #[test]
    fn pointers_and_numbers_are_schedules() {
        let arc: Arc<dyn Schedule> = Arc::new(2.0_f64);
        assert_object_safe(&arc);
        assert_eq!(arc.value(u64::MAX), 2.0);
        let r = &3.0_f64;
        assert_eq!(r.value(7), 3.0);
    }

    #[test]
    fn from_fn_is_total() {
        let s = from_fn(|step| 1.0 / (step as f64 - 3.0));
        assert_eq!(s.value(3), f64::MAX);
        let nan = from_fn(|_| f64::NAN);
        assert_eq!(nan.value(0), 0.0);
    }
}
