//! candle-optimisers' AdamW beside cadence-candle's on 10M and 100M f32 parameters, at 1
//! and 2 threads (feature `candle-optimisers`):
//! `cargo bench -p cadence-candle --features candle-optimisers --bench step_candle_optimisers`.
//!
//! GB/s charges both the same 28 bytes per element as `benches/step.rs` (AdamW reads p,
//! g, m, v and writes p, m, v). candle-optimisers runs on candle 0.10 tensors, cadence on
//! candle 0.11 tensors with the same values.

use cadence_candle::interop::candle_optimisers::Decay;
use cadence_candle::interop::candle_optimisers::adam::{Adam, ParamsAdam};
use cadence_candle::interop::{candle_nn010, candle010};
use cadence_candle::{AdamConfig, ParamGroup, ScheduledOptimizer};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn010::Optimizer as _;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

/// The parameter counts benchmarked (as in `benches/step.rs`).
const SIZES: [(&str, usize); 2] = [("10M", 10_000_000), ("100M", 100_000_000)];

fn bench(c: &mut Criterion) {
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut group = c.benchmark_group(format!("step/threads={threads}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        for (label, n) in SIZES {
            group.throughput(Throughput::BytesDecimal(28 * n as u64));
            {
                let p =
                    Var::from_tensor(&Tensor::ones(n, DType::F32, &Device::Cpu).unwrap()).unwrap();
                let g = (Tensor::ones(n, DType::F32, &Device::Cpu).unwrap() * 1e-3).unwrap();
                let grads = (p.as_tensor() * &g)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let mut opt = ScheduledOptimizer::with_groups(
                    vec![ParamGroup::new(vec![p])],
                    AdamConfig::adamw(1e-3),
                )
                .unwrap();
                group.bench_function(BenchmarkId::new("cadence_adamw", label), |b| {
                    b.iter(|| pool.install(|| opt.apply(&grads).unwrap()))
                });
            }
            {
                let dev = candle010::Device::Cpu;
                let ones = candle010::Tensor::ones(n, candle010::DType::F32, &dev).unwrap();
                let p = candle010::Var::from_tensor(&ones).unwrap();
                let g = (ones * 1e-3).unwrap();
                let grads = (p.as_tensor() * &g)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let params = ParamsAdam {
                    weight_decay: Some(Decay::DecoupledWeightDecay(0.01)),
                    ..ParamsAdam::default()
                };
                let mut opt = Adam::new(vec![p], params).unwrap();
                group.bench_function(BenchmarkId::new("candle_optimisers_adamw", label), |b| {
                    b.iter(|| pool.install(|| opt.step(&grads).unwrap()))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
