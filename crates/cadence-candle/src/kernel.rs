//! Element types, in-place chunked loops and PyTorch's `lerp`.

use rayon::prelude::*;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Elements per chunk. Chunks are the unit of parallel work and of every reduction, so
/// results (norms for trust ratios) do not depend on the number of threads.
pub(crate) const CHUNK: usize = 1 << 14;

/// Buffers shorter than this are updated on the calling thread.
pub(crate) const PARALLEL_MIN: usize = 1 << 17;

/// The floating-point element types the fused kernels update: `f32` and `f64`.
pub(crate) trait Float:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    const ZERO: Self;
    fn of(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn sqrt(self) -> Self;
    fn max(self, other: Self) -> Self;
}

impl Float for f32 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        f32::max(self, other)
    }
}

impl Float for f64 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        f64::max(self, other)
    }
}

/// The state one variable keeps: its own update count (PyTorch's per-parameter `step`)
/// and its named buffers, in the order the algorithm lists them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct State<T> {
    pub count: u64,
    pub bufs: Vec<Vec<T>>,
}

/// One algorithm's update for one step of one group, with every hyperparameter already
/// evaluated: applied to each variable's buffer in place.
pub(crate) trait Kernel: Sync {
    /// Updates `p` in place from gradient `g`, creating the state on the first call
    /// (`st.count == 0`) and incrementing `st.count`.
    fn update<T: Float>(&self, p: &mut [T], g: &[T], st: &mut State<T>);
}

/// PyTorch's `lerp(a, b, w)`: `a + w (b - a)` for `|w| < 0.5`, else `b - (b - a)(1 - w)`.
#[inline(always)]
pub(crate) fn lerp<T: Float>(a: T, b: T, w: T, small: bool) -> T {
    if small {
        a + w * (b - a)
    } else {
        b - (b - a) * (T::of(1.0) - w)
    }
}

/// Whether PyTorch takes the `a + w (b - a)` branch of `lerp` for weight `w`.
#[inline]
pub(crate) fn lerp_small(w: f64) -> bool {
    w.abs() < 0.5
}

/// One chunk of a parameter, of its gradient, and of each state buffer.
type Chunk<'a, T> = (&'a mut [T], Option<&'a [T]>, Vec<&'a mut [T]>);

/// Runs `f` over aligned chunks of a parameter, its gradient and its state buffers, in
/// parallel when the buffer is large and more than one rayon thread exists, and returns
/// the sum of the per-chunk results (summed in chunk order: deterministic).
///
/// Every buffer in `bufs` must have the parameter's length.
pub(crate) fn chunked<T, F>(p: &mut [T], g: Option<&[T]>, bufs: &mut [Vec<T>], f: F) -> [f64; 2]
where
    T: Float,
    F: Fn(&mut [T], Option<&[T]>, &mut [&mut [T]]) -> [f64; 2] + Sync,
{
    let n = p.len();
    debug_assert!(bufs.iter().all(|b| b.len() == n));
    debug_assert!(g.is_none_or(|g| g.len() == n));
    let mut buf_iters: Vec<_> = bufs.iter_mut().map(|b| b.chunks_mut(CHUNK)).collect();
    let mut g_iter = g.map(|g| g.chunks(CHUNK));
    let work: Vec<Chunk<'_, T>> = p
        .chunks_mut(CHUNK)
        .map(|pc| {
            let gc = g_iter.as_mut().and_then(|it| it.next());
            let bc = buf_iters.iter_mut().filter_map(|it| it.next()).collect();
            (pc, gc, bc)
        })
        .collect();
    let run = |(pc, gc, mut bc): Chunk<'_, T>| f(pc, gc, &mut bc);
    let parts: Vec<[f64; 2]> = if n >= PARALLEL_MIN && rayon::current_num_threads() > 1 {
        work.into_par_iter().map(run).collect()
    } else {
        work.into_iter().map(run).collect()
    };
    parts
        .iter()
        .fold([0.0, 0.0], |acc, x| [acc[0] + x[0], acc[1] + x[1]])
}

/// The trust ratio `coefficient * ||p|| / ||u||` from squared norms; 1 when either norm
/// is zero (LARS and LAMB's convention).
#[inline]
pub(crate) fn trust_ratio(coefficient: f64, p_sq: f64, u_sq: f64) -> f64 {
    if p_sq > 0.0 && u_sq > 0.0 {
        coefficient * p_sq.sqrt() / u_sq.sqrt()
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lerp_matches_both_branches() {
        assert_eq!(lerp(1.0_f64, 3.0, 0.25, lerp_small(0.25)), 1.5);
        assert_eq!(lerp(1.0_f64, 3.0, 0.75, lerp_small(0.75)), 2.5);
        assert_eq!(lerp(1.0_f64, 3.0, -0.5, lerp_small(-0.5)), 0.0);
    }

    #[test]
    fn chunked_sums_are_independent_of_threads() {
        let n = PARALLEL_MIN + 12_345;
        let mut p: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let g: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        let norm = |p: &mut [f64], g: Option<&[f64]>, _: &mut [&mut [f64]]| {
            let g = g.unwrap_or(&[]);
            [p.iter().map(|x| x * x).sum(), g.iter().map(|x| x * x).sum()]
        };
        let par = chunked(&mut p, Some(&g), &mut [], norm);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| chunked(&mut p, Some(&g), &mut [], norm));
        assert_eq!(par[0].to_bits(), one[0].to_bits());
        assert_eq!(par[1].to_bits(), one[1].to_bits());
        let direct: f64 = p.iter().map(|x| x * x).sum();
        assert!((par[0] - direct).abs() <= 1e-9 * direct);
    }

    #[test]
    fn chunked_updates_every_element_once() {
        let n = PARALLEL_MIN * 2 + 7;
        let mut p = vec![1.0_f32; n];
        let mut bufs = vec![vec![0.0_f32; n]];
        chunked(&mut p, None, &mut bufs, |p, _, b| {
            for (x, s) in p.iter_mut().zip(b[0].iter_mut()) {
                *x += 1.0;
                *s += 2.0;
            }
            [0.0, 0.0]
        });
        assert!(p.iter().all(|&x| x == 2.0));
        assert!(bufs[0].iter().all(|&x| x == 2.0));
    }
}
