//! Benchmarks of `Schedule::value` for every family and for composites.

use cadence::{Linear, Schedule};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn families(c: &mut Criterion) {
    let mut g = c.benchmark_group("family");
    let linear = Linear::new(1.0, 0.0, 1_000_000).unwrap();
    g.bench_function("linear", |b| {
        let mut t = 0u64;
        b.iter(|| {
            t = t.wrapping_add(7919) % 2_000_000;
            black_box(linear.value(black_box(t)))
        })
    });
    g.finish();
}

criterion_group!(benches, families);
criterion_main!(benches);
