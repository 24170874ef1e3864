{
case!(filter, "cosine", |c| c::Cosine::new(1.0, 0.0, 1_000_000).unwrap());
case!(filter, "cosine_continue_k", |c| c::Cosine::new(1.0, 0.0, 1_000_000).unwrap().with_k_decay(2.0).unwrap().with_overrun(c::Overrun::Continue));
case!(filter, "exponential", |c| c::Exponential::new(1.0, 0.5, 100_000).unwrap().with_end(1e-3).unwrap());
case!(filter, "step", |c| c::Step::new(1.0, 0.5, 1e5).unwrap());
case!(filter, "tanh", |c| c::Tanh::new(1.0, 0.0, 1_000_000).unwrap());
case!(filter, "piecewise_interpolate_16", |c| c::PiecewiseInterpolate::new((0..16).map(|i| (f64::from(i) * 1e5, 1.0 / f64::from(i + 1))).collect(), c::Anneal::Cosine.into()).unwrap());
case!(filter, "one_cycle", |c| c::OneCycle::new(0.1, 1_000_000).and_then(|s| s.with_phases(c::Phases::Three { pct_final: 0.6 })).unwrap());
case!(filter, "cosine_restarts", |c| c::CosineRestarts::new(0.1, 1e-5, 1_000.0).and_then(|s| s.with_period_mult(2.0)).and_then(|s| s.with_peak_decay(0.9)).and_then(|s| s.with_warmup(0.0, 100.0)).unwrap());
case!(filter, "cosine_restarts_m1", |c| c::CosineRestarts::new(0.1, 1e-5, 10_000.0).unwrap());
case!(filter, "cosine_restarts_m1_03", |c| c::CosineRestarts::new(0.1, 1e-5, 1_000.0).and_then(|s| s.with_period_mult(1.03)).unwrap());
case!(filter, "cosine_restarts_m3_nowarm", |c| c::CosineRestarts::new(0.1, 1e-5, 1_000.0).and_then(|s| s.with_period_mult(3.0)).unwrap());
case!(filter, "cyclical", |c| c::Cyclical::new(1e-4, 1e-2, 2_000, 2_000).and_then(|s| s.with_amplitude(c::Amplitude::Geometric { gamma: 0.5, clock: c::AmplitudeClock::Cycle })).unwrap());
case!(filter, "swa_anneal", |c| c::SwaAnneal::new(0.5, 0.05, 1_000_000, c::Anneal::Cosine).unwrap());
case!(filter, "noise(one_cycle)", |c| c::Noise::new(c::OneCycle::new(0.1, 1_000_000).and_then(|s| s.with_phases(c::Phases::Three { pct_final: 0.6 })).unwrap(), 42, c::NoiseKind::Normal { std: 1.0, clip: 0.67 }).unwrap());
case!(filter, "noise_wide(one_cycle)", |c| c::Noise::new(c::OneCycle::new(0.1, 1_000_000).unwrap(), 42, c::NoiseKind::Normal { std: 0.5, clip: 1.0 }).unwrap());
case!(filter, "expr", |c| c::Expr::parse("0.1 * 0.5 ** (step // 1000)").unwrap());
case!(filter, "depth4_spec", |c| {
    let join = c::ScheduleSpec::from(c::Linear::new(1.0, 0.3, 500_000).unwrap()).then(500_000, c::Linear::new(0.3, 0.0, 500_000).unwrap()).unwrap();
    let warm = c::ScheduleSpec::from(c::Warmup::new(c::Anneal::Cosine, 1_000, 0.0, c::WarmupMode::Prefix, join).unwrap());
    c::ScheduleSpec::from(warm.floor(1e-3).unwrap())
});
case!(filter, "constant", |c| c::Constant::new(0.1).unwrap());
}
