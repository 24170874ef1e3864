//! cadence's `Schedule::value` against PyTorch's `scheduler.step()` for schedules set up
//! alike, measured alternately on the same machine so that the host's drift cancels in
//! the ratio; see README.md.

use cadence::{
    Amplitude, AmplitudeClock, Anneal, Constant, Cosine, CosineRestarts, Cyclical, DecayLength,
    DecayMode, Exponential, Expr, InverseSqrt, InverseTime, Linear, MultiStep, Noise, NoiseKind,
    OneCycle, Overrun, Phases, PiecewiseConstant, PiecewiseInterpolate, Polynomial, Schedule,
    ScheduleExt, ScheduleSpec, Step, SwaAnneal, Tanh, Warmup, WarmupMode, WarmupStableDecay,
};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// The horizon of the schedules, in steps (as in the crate's benches).
const HORIZON: u64 = 1_000_000;

/// Rounds per case; the medians and minima are reported.
const ROUNDS: usize = 11;

#[path = "../../../crates/cadence/benches/clock.rs"]
mod clock;
use clock::thread_cpu_ns as cpu_ns;
#[path = "../../../crates/cadence/benches/steps.rs"]
mod steps;
use steps::Steps;

/// Mean CPU ns of `value` over `n` steps of the benches' walk over `[0, 2 * HORIZON)`,
/// through the benches' own loop (`Steps::cycle`: `value` inlined, input and output
/// through `black_box`).
#[inline(never)]
fn cadence_ns<S: Schedule>(schedule: &S, steps: &Steps, n: usize) -> f64 {
    let mut next = steps.cycle(|t| schedule.value(t));
    let start = cpu_ns();
    for _ in 0..n {
        next();
    }
    (cpu_ns() - start) as f64 / n as f64
}

/// A case's timing loop, monomorphised for its schedule type.
type Timing = Box<dyn Fn(&Steps, usize) -> f64>;

fn timed<S: Schedule + 'static>(schedule: S) -> Timing {
    Box::new(move |steps, n| cadence_ns(&schedule, steps, n))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn minimum(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The cases: the bench case's name, the Python side's case set up alike (a PyTorch
/// scheduler, timm's or transformers' where PyTorch has none, or the `LambdaLR` a user
/// would write for a family no library has), and the cadence schedule.
fn cases() -> Vec<(&'static str, &'static str, Timing)> {
    let milestones: Vec<u64> = (1..=8).map(|k| k * HORIZON / 5).collect();
    let pairs: Vec<(u64, f64)> = milestones.iter().map(|&m| (m, 0.5)).collect();
    let depth4 = {
        let join = ScheduleSpec::from(Linear::new(1.0, 0.3, HORIZON / 2).unwrap())
            .then(HORIZON / 2, Linear::new(0.3, 0.0, HORIZON / 2).unwrap())
            .unwrap();
        let warm = ScheduleSpec::from(
            Warmup::new(Anneal::Cosine, 1_000, 0.0, WarmupMode::Prefix, join).unwrap(),
        );
        ScheduleSpec::from(warm.floor(1e-3).unwrap())
    };
    let knots: Vec<(f64, f64)> = (0..16)
        .map(|i| (f64::from(i) * 1e5, 1.0 / f64::from(i + 1)))
        .collect();
    let one_cycle = || {
        OneCycle::new(0.1, HORIZON)
            .and_then(|s| s.with_phases(Phases::Three { pct_final: 0.6 }))
            .unwrap()
    };
    let timm_noise = NoiseKind::Normal {
        std: 1.0,
        clip: 0.67,
    };
    vec![
        ("constant", "constant", timed(Constant::new(0.1).unwrap())),
        (
            "linear",
            "linear",
            timed(Linear::new(1.0, 0.0, HORIZON).unwrap()),
        ),
        (
            "polynomial",
            "polynomial",
            timed(
                Polynomial::new(1.0, 0.0, 2.0, HORIZON)
                    .unwrap()
                    .with_begin(1_000),
            ),
        ),
        (
            "exponential",
            "exponential",
            timed(
                Exponential::new(1.0, 0.5, HORIZON / 10)
                    .unwrap()
                    .with_end(1e-3)
                    .unwrap(),
            ),
        ),
        ("step", "step", timed(Step::new(1.0, 0.5, 1e5).unwrap())),
        (
            "multi_step_8",
            "multi_step_8",
            timed(MultiStep::new(1.0, 0.5, milestones).unwrap()),
        ),
        (
            "cosine",
            "cosine",
            timed(Cosine::new(1.0, 0.0, HORIZON).unwrap()),
        ),
        (
            "expr",
            "expr",
            timed(Expr::parse("0.1 * 0.5 ** (step // 1000)").unwrap()),
        ),
        (
            // cadence's case also has a peak decay and a warmup in every cycle.
            "cosine_restarts",
            "cosine_restarts",
            timed(
                CosineRestarts::new(0.1, 1e-5, 1_000.0)
                    .and_then(|s| s.with_period_mult(2.0))
                    .and_then(|s| s.with_peak_decay(0.9))
                    .and_then(|s| s.with_warmup(0.0, 100.0))
                    .unwrap(),
            ),
        ),
        (
            // The same without peak decay and warmup, as PyTorch's.
            "cosine_restarts_plain",
            "cosine_restarts",
            timed(
                CosineRestarts::new(0.1, 1e-5, 1_000.0)
                    .and_then(|s| s.with_period_mult(2.0))
                    .unwrap(),
            ),
        ),
        (
            "cosine_restarts_equal",
            "cosine_restarts_equal",
            timed(CosineRestarts::new(0.1, 1e-5, 10_000.0).unwrap()),
        ),
        (
            "cyclical",
            "cyclical",
            timed(
                Cyclical::new(1e-4, 1e-2, 2_000, 2_000)
                    .and_then(|s| {
                        s.with_amplitude(Amplitude::Geometric {
                            gamma: 0.5,
                            clock: AmplitudeClock::Cycle,
                        })
                    })
                    .unwrap(),
            ),
        ),
        ("one_cycle", "one_cycle", timed(one_cycle())),
        (
            "swa_anneal",
            "swa_anneal",
            timed(SwaAnneal::new(0.5, 0.05, HORIZON, Anneal::Cosine).unwrap()),
        ),
        ("depth4_composite", "depth4_composite", timed(depth4)),
        (
            "noise(cosine)",
            "noise(cosine)",
            timed(
                Noise::new(
                    Cosine::new(1.0, 0.0, HORIZON).unwrap(),
                    42,
                    NoiseKind::Normal {
                        std: 1.0,
                        clip: 0.67,
                    },
                )
                .unwrap(),
            ),
        ),
        (
            "inverse_sqrt",
            "inverse_sqrt",
            timed(InverseSqrt::new(1.0, 4_000.0).unwrap()),
        ),
        (
            "warmup_stable_decay",
            "warmup_stable_decay",
            timed(
                WarmupStableDecay::new(1e-3, 0.0, 10_000, HORIZON, DecayLength::Fraction(0.2))
                    .unwrap(),
            ),
        ),
        (
            "exponential_staircase",
            "step",
            timed(
                Exponential::new(1.0, 0.5, HORIZON / 10)
                    .unwrap()
                    .with_mode(DecayMode::Staircase),
            ),
        ),
        (
            "piecewise_constant_8",
            "multi_step_8",
            timed(PiecewiseConstant::new(1.0, pairs).unwrap()),
        ),
        (
            "inverse_time",
            "inverse_time",
            timed(InverseTime::new(1.0, 0.5, 1_000).unwrap()),
        ),
        (
            "cosine_continue_k",
            "k_decay_cosine",
            timed(
                Cosine::new(1.0, 0.0, HORIZON)
                    .unwrap()
                    .with_k_decay(2.0)
                    .unwrap()
                    .with_overrun(Overrun::Continue),
            ),
        ),
        ("tanh", "tanh", timed(Tanh::new(1.0, 0.0, HORIZON).unwrap())),
        (
            "expr_decay",
            "expr_decay",
            timed(Expr::parse("lambda epoch: 0.95 ** (epoch / 1000)").unwrap()),
        ),
        (
            "expr_warmup",
            "expr_warmup",
            timed(Expr::parse("lambda step: min(1.0, (step + 1) / 1000)").unwrap()),
        ),
        (
            "expr_linear_if",
            "expr_linear_if",
            timed(Expr::parse("lambda e: 1 - e / 1000000 if e < 1000000 else 0.0").unwrap()),
        ),
        (
            "piecewise_interpolate_16",
            "knots_cosine_16",
            timed(PiecewiseInterpolate::new(knots, Anneal::Cosine.into()).unwrap()),
        ),
        (
            // timm has no one-cycle: its noise over its cosine.
            "noise(one_cycle)",
            "noise(cosine)",
            timed(Noise::new(one_cycle(), 42, timm_noise).unwrap()),
        ),
        (
            "noise(constant)",
            "noise(constant)",
            timed(Noise::new(0.1, 42, timm_noise).unwrap()),
        ),
    ]
}

fn main() {
    let python = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "python3".to_owned());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/torch_steps.py");
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {python}: {e}"));
    let mut to_torch = child.stdin.take().expect("piped stdin");
    let mut from_torch = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut ask = |case: &str, n: usize| -> f64 {
        writeln!(to_torch, "{case} {n}").expect("write to the Python side");
        let mut line = String::new();
        from_torch
            .read_line(&mut line)
            .expect("read from the Python side");
        line.trim()
            .parse()
            .unwrap_or_else(|_| panic!("the Python side answered {line:?} for {case}"))
    };
    let steps = Steps::walk(2 * HORIZON);
    println!(
        "{:24} {:>10} {:>22} {:>11} {:>7} {:>7}",
        "case", "cadence ns", "Python counterpart", "its step ns", "ratio", "of min"
    );
    let (mut worst, mut worst_min) = (f64::INFINITY, f64::INFINITY);
    for (name, counterpart, timing) in cases() {
        let (mut ours, mut theirs, mut ratios) = (vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            let a = timing(&steps, 1_000_000);
            let b = ask(counterpart, 20_000);
            ours.push(a);
            theirs.push(b);
            ratios.push(b / a);
        }
        // The median of the rounds' ratios, and the ratio of each side's fastest round
        // (interference only ever adds time).
        let ratio = median(&ratios);
        let ratio_of_min = minimum(&theirs) / minimum(&ours);
        worst = worst.min(ratio);
        worst_min = worst_min.min(ratio_of_min);
        println!(
            "{name:24} {:>10.1} {counterpart:>22} {:>11.0} {ratio:>7.0} {ratio_of_min:>7.0}",
            median(&ours),
            median(&theirs),
        );
    }
    println!("smallest ratio: {worst:.0}x (median of rounds), {worst_min:.0}x (of minima)");
    drop(to_torch);
    let _ = child.wait();
}
