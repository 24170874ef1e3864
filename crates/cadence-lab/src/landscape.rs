//! Multimodal landscapes with known minima, and plain gradient descent on them under any
//! schedule.
//!
//! - [`Rastrigin`]: `f(x) = 10 d + sum_i (x_i^2 - 10 cos(2 pi x_i))`, minimum 0 at 0,
//!   a local minimum near every integer lattice point.
//! - [`AbModel`]: Stillinger's 2D off-lattice AB protein model, parameterised by its bend
//!   angles, with analytic gradients.
//!
//! ```
//! use cadence_lab::landscape::{Landscape, Rastrigin};
//!
//! let f = Rastrigin::new(10);
//! let mut g = vec![0.0; 10];
//! assert!(f.energy_and_gradient(&vec![0.0; 10], &mut g).abs() < 1e-12);
//! assert!(g.iter().all(|v| v.abs() < 1e-12));
//! ```

use anyhow::{Result, bail};
use cadence::Schedule;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// A differentiable energy with a known best value and a random starting point.
///
/// ```
/// use cadence_lab::landscape::{Landscape, Rastrigin};
/// use rand::SeedableRng;
///
/// let f = Rastrigin::new(3);
/// let x = f.init(&mut rand::rngs::StdRng::seed_from_u64(1));
/// assert_eq!(x.len(), f.dim());
/// assert_eq!(f.best_known(), 0.0);
/// ```
pub trait Landscape: Sync {
    /// The number of coordinates.
    fn dim(&self) -> usize;
    /// The energy at `x`; writes the gradient into `grad` (length [`Landscape::dim`]).
    fn energy_and_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64;
    /// A random starting point.
    fn init(&self, rng: &mut StdRng) -> Vec<f64>;
    /// The best known (or exact global) minimum.
    fn best_known(&self) -> f64;
    /// Whether `energy` counts as a success.
    fn success(&self, energy: f64) -> bool;
}

/// The Rastrigin function in `d` dimensions, started uniformly in `[-5.12, 5.12]^d`.
///
/// Success is reaching the global basin (`f < 0.5`): every other local minimum has
/// `f > 0.99`, so "within 1% of the optimum 0" has no other reading.
///
/// ```
/// use cadence_lab::landscape::{Landscape, Rastrigin};
///
/// let f = Rastrigin::new(2);
/// let mut g = [0.0; 2];
/// // Near the local minimum at (1, 0) the value is about 1.
/// assert!((f.energy_and_gradient(&[0.99496, 0.0], &mut g) - 0.99496).abs() < 1e-4);
/// assert!(!f.success(0.99));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rastrigin {
    dim: usize,
}

impl Rastrigin {
    /// Rastrigin in `dim` dimensions.
    ///
    /// ```
    /// # use cadence_lab::landscape::{Landscape, Rastrigin};
    /// assert_eq!(Rastrigin::new(10).dim(), 10);
    /// ```
    pub fn new(dim: usize) -> Self {
        Rastrigin { dim }
    }
}

impl Landscape for Rastrigin {
    fn dim(&self) -> usize {
        self.dim
    }

    fn energy_and_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut e = 10.0 * self.dim as f64;
        for (xi, gi) in x.iter().zip(grad.iter_mut()) {
            let w = 2.0 * PI * xi;
            e += xi * xi - 10.0 * w.cos();
            *gi = 2.0 * xi + 20.0 * PI * w.sin();
        }
        e
    }

    fn init(&self, rng: &mut StdRng) -> Vec<f64> {
        (0..self.dim)
            .map(|_| rng.random_range(-5.12..5.12))
            .collect()
    }

    fn best_known(&self) -> f64 {
        0.0
    }

    fn success(&self, energy: f64) -> bool {
        energy < 0.5
    }
}

/// A residue of the AB model: hydrophobic `A` or hydrophilic `B`.
///
/// ```
/// assert_ne!(cadence_lab::landscape::Residue::A, cadence_lab::landscape::Residue::B);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Residue {
    /// Hydrophobic.
    A,
    /// Hydrophilic.
    B,
}

/// Stillinger's 2D off-lattice AB model of a protein with `n` residues.
///
/// ```text
/// E = sum_{i=1..n-2} (1 - cos theta_i) / 4  +  sum_{j >= i+2} 4 (r_ij^-12 - C_ij r_ij^-6)
/// C = 1 (AA), 1/2 (BB), -1/2 (AB)
/// ```
///
/// Bonds have unit length; the coordinates are the `n - 2` bend angles `theta_i` between
/// successive bonds (0 = straight). Starting points grow the chain bead by bead with
/// uniform angles in `[-pi, pi)`, redrawing an angle whose bead would come closer than 1
/// to an earlier bead (a self-avoiding random walk). Success is an energy within 1% of
/// the best known.
///
/// ```
/// use cadence_lab::landscape::{AbModel, Landscape};
///
/// let m = AbModel::parse("ABBABBABABBAB")?;
/// assert_eq!(m.dim(), 11);
/// assert_eq!(m.best_known(), -3.2941);
/// let mut g = vec![0.0; 11];
/// let straight = m.energy_and_gradient(&vec![0.0; 11], &mut g);
/// assert!(straight < 0.0 && straight > -1.0);
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # References
/// Stillinger, Head-Gordon & Hirshfeld 1993, "Toy model for protein folding", Phys. Rev. E
/// 48, 1469; best-known energies of the Fibonacci sequences from the later literature
/// (13-mer -3.2941, 21-mer -6.1980).
#[derive(Debug, Clone, PartialEq)]
pub struct AbModel {
    residues: Vec<Residue>,
    best_known: f64,
}

/// Random starts keep non-bonded beads at least this far apart ...
const INIT_MIN_DISTANCE: f64 = 1.0;
/// ... redrawing each bend angle at most this many times.
const INIT_TRIES: usize = 1_000;

/// The best-known energies of the Fibonacci sequences.
const KNOWN: [(&str, f64); 2] = [
    ("ABBABBABABBAB", -3.2941),
    ("BABABBABABBABBABABBAB", -6.1980),
];

impl AbModel {
    /// Parses a sequence of `A` and `B` (at least 3 residues). The best known energy is
    /// filled in for the 13- and 21-mer Fibonacci sequences and is `NaN` otherwise.
    ///
    /// # Errors
    /// When the sequence has another letter or fewer than 3 residues.
    ///
    /// ```
    /// use cadence_lab::landscape::{AbModel, Landscape};
    ///
    /// assert!(AbModel::parse("ABX").is_err());
    /// assert!(AbModel::parse("AB").is_err());
    /// assert!(AbModel::parse("AAB")?.best_known().is_nan());
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn parse(sequence: &str) -> Result<Self> {
        let residues = sequence
            .trim()
            .chars()
            .map(|c| match c.to_ascii_uppercase() {
                'A' => Ok(Residue::A),
                'B' => Ok(Residue::B),
                other => bail!("sequence {sequence:?}: residue {other:?} is neither A nor B"),
            })
            .collect::<Result<Vec<_>>>()?;
        if residues.len() < 3 {
            bail!(
                "sequence {sequence:?}: needs at least 3 residues, has {}",
                residues.len()
            );
        }
        let canonical: String = sequence.trim().to_ascii_uppercase();
        let best_known = KNOWN
            .iter()
            .find(|(s, _)| *s == canonical)
            .map_or(f64::NAN, |(_, e)| *e);
        Ok(AbModel {
            residues,
            best_known,
        })
    }

    /// The sequence as a string of `A` and `B`.
    ///
    /// ```
    /// # use cadence_lab::landscape::AbModel;
    /// assert_eq!(AbModel::parse("abb")?.sequence(), "ABB");
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn sequence(&self) -> String {
        self.residues
            .iter()
            .map(|r| match r {
                Residue::A => 'A',
                Residue::B => 'B',
            })
            .collect()
    }

    /// The residue positions for the given bend angles (the first bond along +x).
    ///
    /// ```
    /// use cadence_lab::landscape::AbModel;
    ///
    /// let p = AbModel::parse("AAA")?.positions(&[std::f64::consts::FRAC_PI_2]);
    /// assert!((p[2].0 - 1.0).abs() < 1e-12 && (p[2].1 - 1.0).abs() < 1e-12);
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn positions(&self, angles: &[f64]) -> Vec<(f64, f64)> {
        let n = self.residues.len();
        let mut p = Vec::with_capacity(n);
        p.push((0.0, 0.0));
        p.push((1.0, 0.0));
        let mut phi = 0.0;
        for b in 1..n - 1 {
            phi += angles[b - 1];
            let (x, y) = p[b];
            p.push((x + phi.cos(), y + phi.sin()));
        }
        p
    }

    fn coupling(&self, i: usize, j: usize) -> f64 {
        match (self.residues[i], self.residues[j]) {
            (Residue::A, Residue::A) => 1.0,
            (Residue::B, Residue::B) => 0.5,
            _ => -0.5,
        }
    }
}

impl Landscape for AbModel {
    fn dim(&self) -> usize {
        self.residues.len() - 2
    }

    fn energy_and_gradient(&self, angles: &[f64], grad: &mut [f64]) -> f64 {
        let n = self.residues.len();
        let p = self.positions(angles);
        let mut e = 0.0;
        for (theta, g) in angles.iter().zip(grad.iter_mut()) {
            e += 0.25 * (1.0 - theta.cos());
            *g = 0.25 * theta.sin();
        }
        // Cartesian gradient of the non-bonded energy.
        let mut gp = vec![(0.0, 0.0); n];
        for i in 0..n {
            for j in i + 2..n {
                let (dx, dy) = (p[j].0 - p[i].0, p[j].1 - p[i].1);
                let inv2 = 1.0 / (dx * dx + dy * dy);
                let inv6 = inv2 * inv2 * inv2;
                let c = self.coupling(i, j);
                e += 4.0 * (inv6 * inv6 - c * inv6);
                // dV/dr / r
                let f = 4.0 * (-12.0 * inv6 * inv6 + 6.0 * c * inv6) * inv2;
                gp[j].0 += f * dx;
                gp[j].1 += f * dy;
                gp[i].0 -= f * dx;
                gp[i].1 -= f * dy;
            }
        }
        // theta_b rotates residues b+1.. about residue b:
        // dE/dtheta_b += sum_{j > b} (p_j - p_b) x g_j.
        let (mut torque, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for b in (1..n - 1).rev() {
            let j = b + 1;
            torque += p[j].0 * gp[j].1 - p[j].1 * gp[j].0;
            sx += gp[j].0;
            sy += gp[j].1;
            grad[b - 1] += torque - (p[b].0 * sy - p[b].1 * sx);
        }
        e
    }

    fn init(&self, rng: &mut StdRng) -> Vec<f64> {
        // Grow the chain bead by bead; redraw a bend angle while its new bead would sit
        // closer than 1 to an earlier one (a dead end keeps its last draw).
        let n = self.residues.len();
        let mut angles = Vec::with_capacity(n - 2);
        let mut p = vec![(0.0, 0.0), (1.0, 0.0)];
        let mut phi = 0.0;
        for b in 1..n - 1 {
            let mut next = (0.0, 0.0);
            let mut theta = 0.0;
            for _ in 0..INIT_TRIES {
                theta = rng.random_range(-PI..PI);
                let (x, y) = p[b];
                next = (x + (phi + theta).cos(), y + (phi + theta).sin());
                let clear = p[..b].iter().all(|q| {
                    (q.0 - next.0).powi(2) + (q.1 - next.1).powi(2) >= INIT_MIN_DISTANCE.powi(2)
                });
                if clear {
                    break;
                }
            }
            phi += theta;
            angles.push(theta);
            p.push(next);
        }
        angles
    }

    fn best_known(&self) -> f64 {
        self.best_known
    }

    fn success(&self, energy: f64) -> bool {
        energy <= 0.99 * self.best_known
    }
}

/// The outcome of one descent.
///
/// ```
/// let d = cadence_lab::landscape::Descent { seed: 1, best_energy: -1.0, final_energy: -0.5, trace: vec![] };
/// assert!(d.best_energy <= d.final_energy);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descent {
    /// The seed of the starting point.
    pub seed: u64,
    /// The lowest energy of any iterate (every iterate's energy comes with its gradient).
    pub best_energy: f64,
    /// The energy after the last step.
    pub final_energy: f64,
    /// `(step, best energy so far)` at about 100 evenly spaced steps.
    pub trace: Vec<(u64, f64)>,
}

/// Gradient descent `x <- x - lr(t) * clip(grad)` for `steps` gradient evaluations from
/// the seeded starting point; the gradient is rescaled to norm `clip` when it is longer.
///
/// ```
/// use cadence_lab::landscape::{descend, Rastrigin};
///
/// let d = descend(&Rastrigin::new(2), &cadence::Cosine::new(0.002, 0.0, 500)?, 3, 500, 100.0);
/// assert!(d.best_energy <= d.final_energy + 1e-12);
/// assert!(d.final_energy < 50.0);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn descend<L: Landscape + ?Sized, S: Schedule + ?Sized>(
    landscape: &L,
    schedule: &S,
    seed: u64,
    steps: u64,
    clip: f64,
) -> Descent {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = landscape.init(&mut rng);
    let mut g = vec![0.0; x.len()];
    let mut best = f64::INFINITY;
    let every = (steps / 100).max(1);
    let mut trace = Vec::with_capacity(102);
    for t in 0..steps {
        let e = landscape.energy_and_gradient(&x, &mut g);
        if e < best {
            best = e;
        }
        if t % every == 0 {
            trace.push((t, best));
        }
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        let scale = if norm > clip { clip / norm } else { 1.0 };
        let lr = schedule.value(t);
        for (xi, gi) in x.iter_mut().zip(&g) {
            *xi -= lr * scale * gi;
        }
    }
    let final_energy = landscape.energy_and_gradient(&x, &mut g);
    best = best.min(final_energy);
    trace.push((steps, best));
    Descent {
        seed,
        best_energy: best,
        final_energy,
        trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the gradient at a random point; returns false (no check) for a start with
    /// overlapping beads, where the energy is huge and central differences are noise.
    fn check_gradient<L: Landscape>(l: &L, seed: u64, max_energy: f64) -> bool {
        let mut rng = StdRng::seed_from_u64(seed);
        let x: Vec<f64> = l.init(&mut rng);
        let mut g = vec![0.0; x.len()];
        let e = l.energy_and_gradient(&x, &mut g);
        if e.abs() > max_energy {
            return false;
        }
        let mut scratch = vec![0.0; x.len()];
        for k in 0..x.len() {
            let h = 1e-5;
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[k] += h;
            xm[k] -= h;
            let fd = (l.energy_and_gradient(&xp, &mut scratch)
                - l.energy_and_gradient(&xm, &mut scratch))
                / (2.0 * h);
            let tol = 1e-5 * (1.0 + g[k].abs());
            assert!((fd - g[k]).abs() < tol, "coordinate {k}: {fd} vs {}", g[k]);
        }
        true
    }

    #[test]
    fn ab_gradient_matches_finite_differences() {
        for sequence in ["ABBABBABABBAB", "BABABBABABBABBABABBAB"] {
            let m = AbModel::parse(sequence).unwrap();
            let checked = (0..200)
                .filter(|&seed| check_gradient(&m, seed, 10.0))
                .count();
            assert!(
                checked >= 5,
                "{sequence}: only {checked} starts without overlaps"
            );
        }
        assert!(check_gradient(&Rastrigin::new(10), 0, 1e3));
    }

    #[test]
    fn ab_energy_by_hand_for_a_trimer() {
        // AAB bent by 90 degrees: one bend term 1/4 and one AB pair at distance sqrt(2).
        let m = AbModel::parse("AAB").unwrap();
        let mut g = [0.0];
        let e = m.energy_and_gradient(&[PI / 2.0], &mut g);
        let r2: f64 = 2.0;
        let lj = 4.0 * (r2.powi(-6) + 0.5 * r2.powi(-3));
        assert!((e - (0.25 + lj)).abs() < 1e-12);
        // Unit bonds.
        let p = m.positions(&[0.3]);
        let d = ((p[2].0 - p[1].0).powi(2) + (p[2].1 - p[1].1).powi(2)).sqrt();
        assert!((d - 1.0).abs() < 1e-12);
    }

    #[test]
    fn success_thresholds() {
        let m = AbModel::parse("ABBABBABABBAB").unwrap();
        assert!(m.success(-3.27) && !m.success(-3.25));
        assert!(Rastrigin::new(3).success(0.1));
    }
}
