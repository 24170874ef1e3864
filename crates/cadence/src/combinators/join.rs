//! Join: schedules one after another at given boundaries.

use crate::error::Error;
use crate::schedule::Schedule;
use crate::spec::Validate;

use super::clock;

/// Schedules played one after another; each sees the steps since its own start.
///
/// ```text
/// i        = number of boundaries <= t
/// value(t) = schedules[0].value(t)                         i = 0
///          = schedules[i].value(t - boundaries[i - 1])     i > 0
/// ```
///
/// Lookup is a binary search, so a join of hundreds of pieces costs a few comparisons.
/// The join is exact at each boundary: step `boundaries[i - 1]` is step 0 of
/// `schedules[i]`.
///
/// # Parameters
/// - `boundaries`: strictly increasing steps where the next schedule starts, one fewer
///   than `schedules`.
/// - `schedules`: at least one schedule.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `schedules` if there are none, or `boundaries` if
/// their count is not `schedules.len() - 1` or they are not strictly increasing (the
/// message gives the index).
///
/// # Examples
///
/// ```
/// use cadence::{Join, Linear, Schedule};
///
/// // optax.join_schedules([linear(0 -> 0.1, 10), linear(0.1 -> 0, 90)], [10])
/// let lr = Join::new(vec![10], vec![Linear::new(0.0, 0.1, 10)?, Linear::new(0.1, 0.0, 90)?])?;
/// assert_eq!(lr.value(5), 0.05);
/// assert_eq!(lr.value(10), 0.1);
/// assert!((lr.value(55) - 0.05).abs() < 1e-15);
/// assert_eq!(lr.value(u64::MAX), 0.0);
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `optax.join_schedules`; `torch.optim.lr_scheduler.SequentialLR` (milestones).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Join<S> {
    boundaries: Vec<u64>,
    schedules: Vec<S>,
}

impl<S: Schedule> Join<S> {
    /// A join; see the type's documentation.
    ///
    /// # Errors
    /// At least one schedule; `boundaries` strictly increasing, one fewer than `schedules`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Join;
    ///
    /// assert!(Join::new(vec![5, 5], vec![1.0, 2.0, 3.0]).is_err());
    /// assert!(Join::new(vec![5], vec![1.0]).is_err());
    /// assert!(Join::new(vec![3, 5], vec![1.0, 2.0, 3.0]).is_ok());
    /// ```
    pub fn new(boundaries: Vec<u64>, schedules: Vec<S>) -> Result<Self, Error> {
        let s = Join {
            boundaries,
            schedules,
        };
        s.validate()?;
        Ok(s)
    }

    /// The steps where each schedule after the first starts.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::Join::new(vec![4], vec![1.0, 2.0])?.boundaries(), &[4]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn boundaries(&self) -> &[u64] {
        &self.boundaries
    }

    /// The joined schedules, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::Join::new(vec![4], vec![1.0, 2.0])?.schedules(), &[1.0, 2.0]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn schedules(&self) -> &[S] {
        &self.schedules
    }

    /// Appends `next`, starting at absolute step `at` (after the last boundary).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `boundaries` if `at` is not after the last one.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Join, Schedule};
    ///
    /// let j = Join::new(vec![2], vec![1.0, 2.0])?.push(5, 3.0)?;
    /// assert_eq!(j.value(4), 2.0);
    /// assert_eq!(j.value(5), 3.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn push(mut self, at: u64, next: S) -> Result<Self, Error> {
        self.boundaries.push(at);
        self.schedules.push(next);
        self.validate()?;
        Ok(self)
    }
}

impl<S> Join<S> {
    pub(crate) fn map<T>(self, f: impl FnMut(S) -> T) -> Join<T> {
        Join {
            boundaries: self.boundaries,
            schedules: self.schedules.into_iter().map(f).collect(),
        }
    }
}

impl<S: Schedule> Validate for Join<S> {
    fn validate(&self) -> Result<(), Error> {
        let n = self.schedules.len();
        if n == 0 {
            return Err(Error::invalid(
                "schedules",
                "[]",
                "must hold at least one schedule",
            ));
        }
        if self.boundaries.len() != n - 1 {
            return Err(Error::invalid(
                "boundaries",
                format!("{:?}", self.boundaries),
                format!("must have one entry fewer than `schedules` ({n})"),
            ));
        }
        for (i, w) in self.boundaries.windows(2).enumerate() {
            if w[1] <= w[0] {
                return Err(Error::invalid(
                    "boundaries",
                    format!("[{}] = {}", i + 1, w[1]),
                    format!("must be greater than boundaries[{i}] = {}", w[0]),
                ));
            }
        }
        Ok(())
    }
}

impl<S: Schedule> Schedule for Join<S> {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        let i = self.boundaries.partition_point(|&b| b <= step);
        match i.checked_sub(1) {
            None => self.schedules[0].value(step),
            Some(prev) => self.schedules[i].value(step - self.boundaries[prev]),
        }
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = clock(t);
        let i = self.boundaries.partition_point(|&b| b as f64 <= t);
        match i.checked_sub(1) {
            None => self.schedules[0].value_at(t),
            Some(prev) => self.schedules[i].value_at(t - self.boundaries[prev] as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_total, assert_values, close};
    use crate::{Linear, from_fn};
    use proptest::prelude::*;

    #[test]
    fn optax_join_schedules() {
        // optax__join_schedules_01: linear 0 -> 0.1 over 10, then cosine decay from 0.1 over 90.
        let cos = from_fn(|t| {
            let f = t.min(90) as f64 / 90.0;
            0.1 * 0.5 * (1.0 + (std::f64::consts::PI * f).cos())
        });
        let j = Join::new(
            vec![10],
            vec![
                Box::new(Linear::new(0.0, 0.1, 10).unwrap()) as Box<dyn Schedule>,
                Box::new(cos),
            ],
        )
        .unwrap();
        assert_values(
            &j,
            &[
                (0, 0.0),
                (9, 0.09000000000000001),
                (10, 0.1),
                (11, 0.0999695413509548),
                (100, 0.0),
            ],
            1e-12,
        );
        assert_total(&j, &[10]);
    }

    #[test]
    fn boundaries_are_validated_with_their_index() {
        let err = Join::new(vec![1, 5, 5, 9], vec![0.0; 5]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `boundaries` = [2] = 5: must be greater than boundaries[1] = 5"
        );
        assert!(matches!(
            Join::new(vec![], Vec::<f64>::new()),
            Err(Error::InvalidParameter {
                name: "schedules",
                ..
            })
        ));
        assert!(matches!(
            Join::new(vec![1, 2], vec![0.0; 2]),
            Err(Error::InvalidParameter {
                name: "boundaries",
                ..
            })
        ));
        // A boundary at 0 is allowed (optax): the first schedule is never used.
        let j = Join::new(vec![0], vec![1.0, 2.0]).unwrap();
        assert_eq!(j.value(0), 2.0);
    }

    #[test]
    fn continuous_time_is_relative() {
        let j = Join::new(
            vec![4],
            vec![
                Linear::new(0.0, 1.0, 4).unwrap(),
                Linear::new(1.0, 0.0, 8).unwrap(),
            ],
        )
        .unwrap();
        assert!(close(j.value_at(2.0), 0.5, 1e-15));
        assert!(close(j.value_at(6.0), 0.75, 1e-15));
        assert!(close(j.value_at(3.999), 0.99975, 1e-12));
        assert_eq!(j.value_at(-2.0), 0.0);
    }

    #[test]
    fn deep_join_picks_the_right_piece() {
        let bounds: Vec<u64> = (1..100).map(|i| i * 10).collect();
        let pieces: Vec<Linear> = (0..100)
            .map(|i| Linear::new(i as f64, i as f64 + 1.0, 10).unwrap())
            .collect();
        let j = Join::new(bounds, pieces).unwrap();
        for t in 0..1000u64 {
            assert!(close(j.value(t), t as f64 / 10.0, 1e-12), "{t}");
        }
        assert_eq!(j.value(u64::MAX), 100.0);
    }

    proptest! {
        #[test]
        fn exact_at_boundaries(mut bounds in proptest::collection::vec(1u64..1_000_000, 1..20), t in any::<u64>()) {
            bounds.sort_unstable();
            bounds.dedup();
            // Piece i is the constant i + 1 offset by the local step / 1e9.
            let pieces: Vec<_> = (0..=bounds.len())
                .map(|i| from_fn(move |s| (i + 1) as f64 + s as f64 * 1e-9))
                .collect();
            let j = Join::new(bounds.clone(), pieces).unwrap();
            for (i, &b) in bounds.iter().enumerate() {
                prop_assert_eq!(j.value(b), (i + 2) as f64);
                let start = if i == 0 { 0 } else { bounds[i - 1] };
                let expected = (i + 1) as f64 + (b - 1 - start) as f64 * 1e-9;
                prop_assert!(close(j.value(b - 1), expected, 1e-15));
            }
            prop_assert!(j.value(t).is_finite());
            let t = t % 2_000_000;
            prop_assert!(close(j.value(t), j.value_at(t as f64), 1e-15));
        }
    }
}
