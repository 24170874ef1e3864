//! Optimizer step time and memory throughput on 10M and 100M f32 parameters, at 1 and 2
//! threads.
//!
//! Compares cadence-candle's fused in-place SGD-momentum and AdamW with candle-nn's own
//! AdamW on the same tensors. Each optimizer runs inside a rayon pool of the given size
//! (`step/threads=1`, `step/threads=2`), so one run shows both side by side:
//! `cargo bench -p cadence-candle --bench step`. Filter with criterion's usual argument,
//! e.g. `-- 10M`. With `--features candle-optimisers`, candle-optimisers' AdamW (on candle
//! 0.10 tensors holding the same values) runs beside them too.
//!
//! Throughput counts the bytes an update must move at minimum, per f32 element: SGD with
//! momentum reads p, g, b and writes p, b (20 bytes); AdamW reads p, g, m, v and writes
//! p, m, v (28 bytes). candle-nn's AdamW is charged the same 28 bytes, so its GB/s is the
//! effective rate on the same work.

use cadence_candle::{AdamConfig, ParamGroup, ScheduledOptimizer, SgdConfig};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::Optimizer;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

/// The parameter counts benchmarked.
const SIZES: [(&str, usize); 2] = [("10M", 10_000_000), ("100M", 100_000_000)];

fn setup(n: usize) -> (Var, GradStore) {
    let dev = Device::Cpu;
    let p = Var::from_tensor(&Tensor::ones(n, DType::F32, &dev).unwrap()).unwrap();
    let g = (Tensor::ones(n, DType::F32, &dev).unwrap() * 1e-3).unwrap();
    // d/dp sum(p * g) = g
    let grads = (p.as_tensor() * &g)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    (p, grads)
}

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
            {
                let (p, grads) = setup(n);
                let mut opt = ScheduledOptimizer::with_groups(
                    vec![ParamGroup::new(vec![p])],
                    SgdConfig::new(1e-3).momentum(0.9),
                )
                .unwrap();
                group.throughput(Throughput::BytesDecimal(20 * n as u64));
                group.bench_function(BenchmarkId::new("cadence_sgd_momentum", label), |b| {
                    b.iter(|| pool.install(|| opt.apply(&grads).unwrap()))
                });
            }
            group.throughput(Throughput::BytesDecimal(28 * n as u64));
            {
                let (p, grads) = setup(n);
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
                let (p, grads) = setup(n);
                let mut opt =
                    candle_nn::AdamW::new(vec![p], candle_nn::ParamsAdamW::default()).unwrap();
                group.bench_function(BenchmarkId::new("candle_nn_adamw", label), |b| {
                    b.iter(|| pool.install(|| opt.step(&grads).unwrap()))
                });
            }
            #[cfg(feature = "candle-optimisers")]
            {
                use cadence_candle::interop::candle_optimisers::Decay;
                use cadence_candle::interop::candle_optimisers::adam::{Adam, ParamsAdam};
                use cadence_candle::interop::{candle_nn010, candle010};
                use candle_nn010::Optimizer as _;
                let ones =
                    candle010::Tensor::ones(n, candle010::DType::F32, &candle010::Device::Cpu)
                        .unwrap();
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
