//! `cadence lab fold`: gradient descent on the AB protein model under any schedule,
//! over several seeds in parallel.
//!
//! ```
//! use cadence_lab::fold::{FoldOptions, fold};
//! use cadence_lab::landscape::AbModel;
//!
//! let model = AbModel::parse("ABBABBABABBAB")?;
//! let lr = cadence::Cosine::new(0.01, 1e-4, 300)?;
//! let r = fold(&model, &lr, &FoldOptions { seeds: 3, steps: 300, ..FoldOptions::default() });
//! assert_eq!(r.per_seed.len(), 3);
//! let json = serde_json::to_value(&r)?;
//! assert!(json["best_energy"].as_f64().unwrap() < 0.0);
//! # Ok::<(), anyhow::Error>(())
//! ```

use crate::landscape::{AbModel, Descent, Landscape, descend};
use cadence::Schedule;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The gradient-norm clip used by the lab's descents on the AB model: near contact the
/// `r^-13` forces make gradients huge, and an unclipped step would only scramble the
/// angles. With the clip a step moves the angles by at most `lr` radians in norm.
pub const AB_CLIP: f64 = 1.0;

/// Options of [`fold`].
///
/// ```
/// let o = cadence_lab::fold::FoldOptions::default();
/// assert_eq!((o.seeds, o.first_seed), (20, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FoldOptions {
    /// How many seeds (starting points) to run.
    pub seeds: u64,
    /// The first seed; runs use `first_seed..first_seed + seeds`.
    pub first_seed: u64,
    /// Gradient steps per seed.
    pub steps: u64,
    /// Gradient-norm clip.
    pub clip: f64,
}

impl Default for FoldOptions {
    fn default() -> Self {
        FoldOptions {
            seeds: 20,
            first_seed: 0,
            steps: 20_000,
            clip: AB_CLIP,
        }
    }
}

/// One seed's result.
///
/// ```
/// let s = cadence_lab::fold::SeedResult { seed: 0, best_energy: -3.0, final_energy: -2.9 };
/// assert!(s.best_energy < s.final_energy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// The lowest energy met.
    pub best_energy: f64,
    /// The energy at the end.
    pub final_energy: f64,
}

/// What `cadence lab fold --json` prints.
///
/// ```
/// use cadence_lab::fold::{FoldResult, SeedResult};
///
/// let r = FoldResult { sequence: "AAB".into(), best_known: None, best_energy: -1.0, per_seed: vec![] };
/// assert!(serde_json::to_string(&r)?.contains("\"best_energy\":-1.0"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldResult {
    /// The sequence folded.
    pub sequence: String,
    /// The best known energy, for the sequences that have one.
    pub best_known: Option<f64>,
    /// The lowest energy over all seeds.
    pub best_energy: f64,
    /// Each seed's result, in seed order.
    pub per_seed: Vec<SeedResult>,
}

/// Runs gradient descent on `model` under `schedule` from `options.seeds` seeded random
/// starting points, in parallel.
///
/// ```
/// use cadence_lab::fold::{FoldOptions, fold};
/// use cadence_lab::landscape::AbModel;
///
/// let r = fold(&AbModel::parse("AAB")?, &0.01, &FoldOptions { seeds: 2, steps: 50, ..Default::default() });
/// assert_eq!(r.best_known, None);
/// assert_eq!(r.per_seed[1].seed, 1);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn fold<S: Schedule + ?Sized>(
    model: &AbModel,
    schedule: &S,
    options: &FoldOptions,
) -> FoldResult {
    let per_seed: Vec<SeedResult> = (options.first_seed..options.first_seed + options.seeds)
        .into_par_iter()
        .map(|seed| {
            let Descent {
                best_energy,
                final_energy,
                ..
            } = descend(model, schedule, seed, options.steps, options.clip);
            SeedResult {
                seed,
                best_energy,
                final_energy,
            }
        })
        .collect();
    let best_energy = per_seed
        .iter()
        .map(|s| s.best_energy)
        .fold(f64::INFINITY, f64::min);
    let best_known = model.best_known();
    FoldResult {
        sequence: model.sequence(),
        best_known: best_known.is_finite().then_some(best_known),
        best_energy,
        per_seed,
    }
}
