//! The steps every `value` benchmark evaluates at, shared through `#[path]` by the benches
//! and the repository's measuring tools (`tools/ab-bench`, `tools/torch-ratio`).
//!
//! 2^16 steps walking `[0, span)` in strides of 7919 (a prime), so that short cycles are
//! hit at random and long ones in order. They are computed before the measurement: the
//! loop's own cost is then one increment and one load (a `%` per step had cost about 9
//! cycles, most of what `constant` measured). 2^16 positions are more than a branch
//! predictor's history can learn, so random branches stay random.

use std::hint::black_box;

/// How many steps the walk holds (a power of two, for the index mask).
const COUNT: usize = 1 << 16;

/// The walk over `[0, span)`.
pub struct Steps(Box<[u64]>);

impl Steps {
    /// The `COUNT` steps `7919 k mod span`, `k = 1, 2, ...`.
    pub fn walk(span: u64) -> Steps {
        let mut t = 0u64;
        let steps = (0..COUNT)
            .map(|_| {
                t = (t + 7919) % span;
                t
            })
            .collect();
        Steps(steps)
    }

    /// A closure for criterion's `iter` that evaluates `value` at the next step of the
    /// walk on every call, its input and output through `black_box`.
    pub fn cycle<'a>(&'a self, value: impl Fn(u64) -> f64 + 'a) -> impl FnMut() -> f64 + 'a {
        let mut i = 0usize;
        move || {
            i = (i + 1) & (COUNT - 1);
            black_box(value(black_box(self.0[i])))
        }
    }
}
