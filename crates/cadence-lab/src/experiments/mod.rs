//! The experiments, one module each. Each implements [`crate::Experiment`].
//!
//! ```
//! use cadence_lab::Experiment;
//! assert_eq!(cadence_lab::experiments::noise::Noise.name(), "noise");
//! ```

pub mod adam_cosine;
pub mod decay_speed;
pub mod gradient_flow;
pub mod half_life;
pub mod loss_prediction;
pub mod noise;
pub mod restarts;
pub mod warmup;

use crate::report::{Outcome, Size};

/// Seeds `0..n` with `n` picked by size.
fn seeds(size: Size, quick: u64, full: u64) -> Vec<u64> {
    (0..size.pick(quick, full)).collect()
}

/// Combines sub-verdicts: supported only if all are, not supported if any is.
fn all_of(outcomes: &[Outcome]) -> Outcome {
    if outcomes.contains(&Outcome::NotSupported) {
        Outcome::NotSupported
    } else if outcomes.iter().all(|o| *o == Outcome::Supported) {
        Outcome::Supported
    } else {
        Outcome::Inconclusive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_outcomes() {
        use Outcome::*;
        assert_eq!(all_of(&[Supported, Supported]), Supported);
        assert_eq!(all_of(&[Supported, Inconclusive]), Inconclusive);
        assert_eq!(all_of(&[Inconclusive, NotSupported]), NotSupported);
        assert_eq!(seeds(Size::Quick, 2, 9), vec![0, 1]);
    }
}
