//! `cadence`: print, plot, compare and explain learning-rate schedules.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cadence::Schedule;
use cadence::ScheduleSpec;
use cadence_cli::analysis::{self, format_number};
use cadence_cli::input::{self, Loaded, parse_steps};
use cadence_cli::plot::{self, PlotOptions, Series};
use cadence_cli::terminal;
use clap::{Args, Parser, Subcommand, ValueEnum};

mod curve;
mod find_lr;
mod train;

const SPEC_HELP: &str = "\
SPEC is a schedule in the text spec language, for example
    'linear(init=1e-3, end=0, steps=10k)'
    'linear(1e-3, 0, 10k)'                          (positional: fields in declared order)
    'warmup(linear, 500, 0) >> cosine(init=3e-4, end=0, decay_steps=10k)'
`a(...) >> b` makes b the `schedule` child of the combinator a. Numbers: 3e-4, 10_000,
10k, 1.5M. Run `cadence list` for every schedule and its fields. Instead of SPEC,
--spec-file FILE reads a .toml or .json file (the serde form) or a text spec file.";

#[derive(Debug, Parser)]
#[command(
    name = "cadence",
    version,
    about = "Print, plot, compare and explain learning-rate schedules",
    after_help = "\
Examples:
  cadence values 'linear(1e-3, 0, 1k)' --steps 1k | head
  cadence plot 'linear(1e-3, 0, 10k)' --steps 10k -o lr.png
  cadence plot 'warmup(linear, 500, 0) >> cosine(3e-4, 0, 10k)' --steps 11k --terminal
  cadence compare 'linear(1e-3, 0, 10k)' 'constant(value=5e-4)' --steps 10k
  cadence explain --spec-file lr.toml --steps 10k
  cadence list"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a schedule's values, one per step (CSV or JSON).
    #[command(after_help = format!("{SPEC_HELP}\n\nExamples:
  cadence values 'linear(1e-3, 0, 100)' --steps 100
  cadence values --spec-file lr.toml --steps 10k --format json
  cadence values 'constant(value=0.1)' --steps 1M | head -3"))]
    Values {
        #[command(flatten)]
        spec: OneSpec,
        #[command(flatten)]
        steps: Steps,
        /// Output format: `csv` (`step,value` lines with a header) or `json`.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
    },
    /// Plot one or more schedules to a PNG or SVG file, or preview them in the terminal.
    #[command(after_help = format!("{SPEC_HELP}\n\nExamples:
  cadence plot 'linear(1e-3, 0, 10k)' --steps 10k -o lr.png
  cadence plot 'linear(1e-3, 0, 10k)' 'constant(value=5e-4)' --steps 10k -o lr.svg \\
      --label linear --label constant --log-y --title 'two schedules'
  cadence plot --spec-file a.toml --spec-file b.json --steps 20k --terminal"))]
    Plot(PlotArgs),
    /// Compare two schedules: where they differ most, their areas, half-lives, peaks and
    /// final values.
    #[command(after_help = format!("{SPEC_HELP}\n\nExamples:
  cadence compare 'linear(1e-3, 0, 10k)' 'linear(1e-3, 1e-5, 8k)' --steps 10k
  cadence compare --spec-file old.toml --spec-file new.toml --steps 100k"))]
    Compare {
        /// The two schedules (or fewer, with --spec-file).
        #[arg(value_name = "SPEC", num_args = 0..=2)]
        specs: Vec<String>,
        /// A spec file (.toml, .json or text), in place of a SPEC; give it twice for two.
        #[arg(long = "spec-file", value_name = "FILE")]
        spec_files: Vec<PathBuf>,
        #[command(flatten)]
        steps: Steps,
    },
    /// Describe a schedule in words: phases, warmup, peak, decay shape, final value,
    /// half-life and area.
    #[command(after_help = format!("{SPEC_HELP}\n\nExamples:
  cadence explain 'linear(1e-3, 0, 10k)' --steps 12k
  cadence explain --spec-file lr.json --steps 100k"))]
    Explain {
        #[command(flatten)]
        spec: OneSpec,
        #[command(flatten)]
        steps: Steps,
    },
    /// List every registered schedule and combinator with its fields in declared order.
    #[command(after_help = "Examples:\n  cadence list")]
    List,
    /// Reproduce other libraries' schedulers exactly (PyTorch, optax, transformers, timm).
    #[command(subcommand)]
    Compat(CompatCommand),
    /// Run the lab: experiments that test the article's claims and write a report.
    Lab(LabArgs),
    /// Loss-curve laws: fit logged runs, predict any schedule's loss, optimise a schedule.
    #[command(subcommand)]
    Curve(curve::CurveCommand),
    /// Train a model on the embedded digits data with a scheduled optimizer.
    Train(train::TrainArgs),
    /// Find the peak learning rate with a range test (loss against a sweeping lr).
    FindLr(find_lr::FindLrArgs),
    /// The largest Hessian eigenvalue of the training loss and the step sizes it implies.
    Curvature(find_lr::CurvatureArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Experiments: noise, half-life, gradient-flow, restarts, decay-speed, warmup, adam-cosine, loss-prediction (or `all`).
Each writes its section of OUT/index.html (plots inline), OUT/report.md and
OUT/results.json (every number). Finished runs are kept under OUT/runs/ and reused on a
rerun with the same settings, so an interrupted lab resumes where it stopped.

Examples:
  cadence lab all --out lab-report
  cadence lab noise,gradient-flow --quick --out /tmp/lab
  cadence lab fold --sequence ABBABBABABBAB --schedule 'cosine(0.02, 0, 20k)' --seeds 20 --steps 20k --json"
)]
struct LabArgs {
    /// `all`, one experiment, a comma-separated list, or `fold` (see --sequence).
    #[arg(value_name = "EXPERIMENT", default_value = "all")]
    experiment: String,
    /// Output directory for the report.
    #[arg(long, short, value_name = "DIR", default_value = "lab-report")]
    out: PathBuf,
    /// Small sizes (seconds instead of minutes); for tests and a first look.
    #[arg(long)]
    quick: bool,
    /// fold: the A/B sequence of the off-lattice AB protein model.
    #[arg(long, value_name = "SEQ", default_value = "ABBABBABABBAB")]
    sequence: String,
    /// fold: the step-size schedule (text spec).
    #[arg(
        long,
        value_name = "SPEC",
        default_value = "cosine(init=0.02, end=0, decay_steps=20k)"
    )]
    schedule: String,
    /// fold: how many seeds (random starting chains).
    #[arg(long, value_name = "K", default_value_t = 20)]
    seeds: u64,
    /// fold: gradient steps per seed.
    #[arg(long, value_name = "N", value_parser = parse_steps, default_value = "20000")]
    steps: u64,
    /// fold: print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum CompatCommand {
    /// Evaluate a scheduler config in the golden-case format and print the trajectory.
    ///
    /// Reads `source`, `config` (scheduler, optimizer, args, driver) and `steps`; recorded
    /// values in the file are ignored. Prints one JSON object
    /// `{"lr": [...], "momentum": [...] | null}` with `steps` values each.
    #[command(after_help = "Examples:
  cadence compat eval crates/cadence-compat/tests/golden/torch__OneCycleLR_01.json
  echo '{\"source\":\"torch\",\"steps\":5,\"config\":{\"scheduler\":\"StepLR\",
        \"optimizer\":{\"type\":\"SGD\",\"lr\":0.1},\"args\":{\"step_size\":2}}}' \\
    | cadence compat eval -")]
    Eval {
        /// The case file (JSON); `-` reads standard input.
        #[arg(value_name = "CASE.json")]
        case: PathBuf,
    },
    /// Run an optimizer case (golden-optim format: problem, optimizer, lr_per_step, steps)
    /// on its quadratic in f64 and print `{"x": [[...] per step], "x_eval": [...] | null}`.
    #[command(after_help = "Examples:
  cadence compat optim crates/cadence-candle/tests/data/golden-optim/torch__AdamW_default.json")]
    Optim {
        /// The case file (JSON); `-` reads standard input.
        #[arg(value_name = "CASE.json")]
        case: PathBuf,
    },
}

#[derive(Debug, Args)]
struct OneSpec {
    /// The schedule, in the text spec language (see below).
    #[arg(value_name = "SPEC", required_unless_present = "spec_file")]
    spec: Option<String>,
    /// Read the schedule from a file instead: .toml, .json or a text spec.
    #[arg(long = "spec-file", value_name = "FILE", conflicts_with = "spec")]
    spec_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct Steps {
    /// How many steps to sample, from step 0 (e.g. 1000, 10_000, 10k, 1.5M).
    #[arg(long, value_name = "N", value_parser = parse_steps)]
    steps: u64,
}

#[derive(Debug, Args)]
struct PlotArgs {
    /// The schedules to overlay.
    #[arg(value_name = "SPEC")]
    specs: Vec<String>,
    /// A spec file (.toml, .json or text) to plot as well; may be repeated.
    #[arg(long = "spec-file", value_name = "FILE")]
    spec_files: Vec<PathBuf>,
    #[command(flatten)]
    steps: Steps,
    /// The image to write: FILE.png or FILE.svg.
    #[arg(short, long, value_name = "FILE", required_unless_present = "terminal")]
    output: Option<PathBuf>,
    /// A logarithmic y axis (values <= 0 are left out).
    #[arg(long)]
    log_y: bool,
    /// Legend labels, one per schedule in order (SPECs first, then spec files).
    #[arg(long, value_name = "TEXT")]
    label: Vec<String>,
    /// The chart's title.
    #[arg(long, default_value = "learning-rate schedule")]
    title: String,
    /// The y-axis label.
    #[arg(long, default_value = "learning rate")]
    y_label: String,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1000)]
    width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 600)]
    height: u32,
    /// Draw a braille preview on standard output (alone, or as well as -o).
    #[arg(long)]
    terminal: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Json,
}

fn main() -> ExitCode {
    // Tiny models train fastest on one thread per run (candle reads this before each
    // matmul); set before any thread exists.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: the first statement of main, before any other thread is started.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = run(cli.command, &mut out).and_then(|()| out.flush().map_err(Into::into));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain, outermost first; a spec error ends with its excerpt.
            let mut message = format!("error: {e}");
            for cause in e.chain().skip(1) {
                message.push_str(&format!(": {cause}"));
            }
            let _ = writeln!(io::stderr(), "{message}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(command: Command, out: &mut impl Write) -> Result<()> {
    match command {
        Command::Values {
            spec,
            steps,
            format,
        } => values(&load_one(&spec)?.spec, steps.steps, format, out),
        Command::Plot(args) => plot_command(args, out),
        Command::Compare {
            specs,
            spec_files,
            steps,
        } => {
            let loaded = load_all(&specs, &spec_files)?;
            let [a, b] = <[Loaded; 2]>::try_from(loaded).map_err(|l| {
                anyhow::anyhow!(
                    "compare needs exactly two schedules (SPECs and --spec-files), got {}",
                    l.len()
                )
            })?;
            compare(&a, &b, steps.steps, out)
        }
        Command::Explain { spec, steps } => {
            let loaded = load_one(&spec)?;
            let values = input::sample(&loaded.spec, steps.steps)?;
            writeln!(out, "schedule:  {}", cadence::text::to_text(&loaded.spec))?;
            write!(out, "{}", analysis::explain(&values))?;
            Ok(())
        }
        Command::Compat(CompatCommand::Eval { case }) => {
            let case = read_json(&case)?;
            let trajectory = cadence_compat::eval_case(&case)?;
            serde_json::to_writer(&mut *out, &trajectory)?;
            writeln!(out)?;
            Ok(())
        }
        Command::Lab(args) => lab(args, out),
        Command::Curve(command) => curve::run(command, out),
        Command::Train(args) => train::run(args, out),
        Command::FindLr(args) => find_lr::run(args, out),
        Command::Curvature(args) => find_lr::curvature(args, out),
        Command::Compat(CompatCommand::Optim { case }) => {
            let case = read_json(&case)?;
            let trajectory = cadence_candle::golden::run_case(&case)?;
            serde_json::to_writer(&mut *out, &trajectory)?;
            writeln!(out)?;
            Ok(())
        }
        Command::List => {
            for name in ScheduleSpec::NAMES {
                let fields = cadence::text::fields(name).unwrap_or_default();
                writeln!(out, "{name}({})", fields.join(", "))?;
            }
            Ok(())
        }
    }
}

fn lab(args: LabArgs, out: &mut impl Write) -> Result<()> {
    if args.experiment == "fold" {
        let model = cadence_lab::landscape::AbModel::parse(&args.sequence)
            .with_context(|| format!("--sequence {}", args.sequence))?;
        let schedule = input::from_text(&args.schedule).context("--schedule")?.spec;
        let options = cadence_lab::fold::FoldOptions {
            seeds: args.seeds,
            steps: args.steps,
            ..Default::default()
        };
        let result = cadence_lab::fold::fold(&model, &schedule, &options);
        if args.json {
            serde_json::to_writer(&mut *out, &result)?;
            writeln!(out)?;
        } else {
            writeln!(out, "sequence     {}", result.sequence)?;
            writeln!(out, "best energy  {}", format_number(result.best_energy))?;
            if let Some(best) = result.best_known {
                writeln!(out, "best known   {}", format_number(best))?;
            }
            for s in &result.per_seed {
                writeln!(
                    out,
                    "seed {:>3}: best {}, final {}",
                    s.seed,
                    format_number(s.best_energy),
                    format_number(s.final_energy)
                )?;
            }
        }
        return Ok(());
    }
    let size = if args.quick {
        cadence_lab::Size::Quick
    } else {
        cadence_lab::Size::Full
    };
    let filter = (args.experiment != "all").then_some(args.experiment.as_str());
    let reports = cadence_lab::run_all(&args.out, size, filter)?;
    for r in &reports {
        writeln!(
            out,
            "{:<14} {:<14} {:>7.1} s  ({} runs, {} reused)  {}",
            r.name,
            r.verdict.outcome.label(),
            r.wall_time_s,
            r.runs_executed,
            r.runs_reused,
            r.verdict.explanation
        )?;
    }
    writeln!(out, "report: {}", args.out.join("index.html").display())?;
    Ok(())
}

/// Reads a JSON document from a file, or from standard input for `-`.
fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let text = if path.as_os_str() == "-" {
        io::read_to_string(io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn load_one(spec: &OneSpec) -> Result<Loaded> {
    match (&spec.spec, &spec.spec_file) {
        (Some(text), None) => input::from_text(text),
        (None, Some(path)) => input::from_file(path),
        _ => bail!("give either a SPEC or --spec-file FILE"),
    }
}

fn load_all(specs: &[String], files: &[PathBuf]) -> Result<Vec<Loaded>> {
    let from_text = specs
        .iter()
        .enumerate()
        .map(|(i, s)| input::from_text(s).with_context(|| format!("in schedule #{}", i + 1)));
    let from_files = files.iter().map(|p| input::from_file(p));
    from_text.chain(from_files).collect()
}

fn values(spec: &ScheduleSpec, steps: u64, format: Format, out: &mut impl Write) -> Result<()> {
    match format {
        Format::Csv => {
            writeln!(out, "step,value")?;
            for t in 0..steps {
                writeln!(out, "{t},{:?}", spec.value(t))?;
            }
        }
        Format::Json => {
            write!(out, "{{\"spec\":")?;
            serde_json::to_writer(&mut *out, &cadence::text::to_text(spec))?;
            write!(out, ",\"values\":[")?;
            for t in 0..steps {
                if t > 0 {
                    write!(out, ",")?;
                }
                serde_json::to_writer(&mut *out, &spec.value(t))?;
            }
            writeln!(out, "]}}")?;
        }
    }
    Ok(())
}

fn plot_command(args: PlotArgs, out: &mut impl Write) -> Result<()> {
    let loaded = load_all(&args.specs, &args.spec_files)?;
    if loaded.is_empty() {
        bail!("plot needs at least one SPEC or --spec-file");
    }
    if args.label.len() > loaded.len() {
        bail!(
            "{} labels for {} schedules: give at most one --label per schedule",
            args.label.len(),
            loaded.len()
        );
    }
    let series = loaded
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(Series {
                label: args
                    .label
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| shorten(&l.label, 60)),
                values: input::sample(&l.spec, args.steps.steps)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(path) = &args.output {
        let options = PlotOptions {
            title: args.title.clone(),
            x_label: "step".into(),
            y_label: args.y_label.clone(),
            log_y: args.log_y,
            width: args.width,
            height: args.height,
            ..PlotOptions::default()
        };
        plot::render(path, &series, &options)?;
    }
    if args.terminal {
        let colour = io::stdout().is_terminal();
        write!(out, "{}", terminal::braille(&series, 64, 16, colour))?;
    }
    Ok(())
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

fn compare(a: &Loaded, b: &Loaded, steps: u64, out: &mut impl Write) -> Result<()> {
    let (va, vb) = (
        input::sample(&a.spec, steps)?,
        input::sample(&b.spec, steps)?,
    );
    let (Some(sa), Some(sb)) = (analysis::summary(&va), analysis::summary(&vb)) else {
        bail!("--steps must be at least 1");
    };
    let d = analysis::difference(&va, &vb);
    let num = format_number;
    writeln!(out, "A: {}", cadence::text::to_text(&a.spec))?;
    writeln!(out, "B: {}", cadence::text::to_text(&b.spec))?;
    writeln!(out, "over steps 0..{} ({steps} sampled)\n", steps - 1)?;
    let half = |h: Option<u64>| h.map_or("not reached".to_string(), |h| format!("{h} steps"));
    let rows = [
        (
            "peak",
            format!("{} at {}", num(sa.peak), sa.peak_step),
            format!("{} at {}", num(sb.peak), sb.peak_step),
        ),
        ("final", num(sa.final_value), num(sb.final_value)),
        (
            "minimum",
            format!("{} at {}", num(sa.min), sa.min_step),
            format!("{} at {}", num(sb.min), sb.min_step),
        ),
        ("area S1", num(sa.area), num(sb.area)),
        ("half-life", half(sa.half_life), half(sb.half_life)),
    ];
    let width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(1);
    writeln!(out, "{:<12}{:<width$}   B", "", "A")?;
    for (name, x, y) in rows {
        writeln!(out, "{name:<12}{x:<width$}   {y}")?;
    }
    writeln!(out)?;
    match d.first_step {
        None => writeln!(out, "identical at every sampled step")?,
        Some(first) => {
            writeln!(out, "first difference:  step {first}")?;
            writeln!(
                out,
                "max |A - B|:       {} at step {} (A = {}, B = {})",
                num(d.max_abs),
                d.max_abs_step,
                num(va[d.max_abs_step as usize]),
                num(vb[d.max_abs_step as usize])
            )?;
            writeln!(
                out,
                "max relative:      {}% at step {} (|A - B| / max(|A|, |B|))",
                num(100.0 * d.max_rel),
                d.max_rel_step
            )?;
        }
    }
    if sa.area != 0.0 {
        writeln!(out, "area ratio B / A:  {}", num(sb.area / sa.area))?;
    }
    Ok(())
}
