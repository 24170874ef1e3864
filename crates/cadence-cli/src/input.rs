//! Reading schedules from the command line and from TOML, JSON or text spec files.

use std::path::Path;

use anyhow::{Context, Result, bail};
use cadence::text::{self, ParseError};
use cadence::{Schedule, ScheduleSpec};

/// The most steps the commands that keep every value (plot, compare, explain) accept.
///
/// # Examples
///
/// ```
/// let lr = cadence::text::parse("constant(value=1)")?;
/// assert!(cadence_cli::input::sample(&lr, cadence_cli::input::MAX_SAMPLED_STEPS + 1).is_err());
/// # Ok::<(), anyhow::Error>(())
/// ```
pub const MAX_SAMPLED_STEPS: u64 = 50_000_000;

/// A schedule and the name to show for it.
///
/// # Examples
///
/// ```
/// let loaded = cadence_cli::input::from_text("constant(value=0.5)")?;
/// assert_eq!(loaded.spec.name(), "constant");
/// # Ok::<(), anyhow::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The schedule.
    pub spec: ScheduleSpec,
    /// How to name it in output: its canonical text, or the file it came from.
    pub label: String,
}

/// Parses a schedule written in the text spec language.
///
/// # Errors
/// The [`ParseError`] (position, message, suggestion) with the text as context.
///
/// # Examples
///
/// ```
/// let loaded = cadence_cli::input::from_text("linear(1, 0, 10)")?;
/// assert_eq!(loaded.label, "linear(init=1.0, end=0.0, steps=10)");
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn from_text(src: &str) -> Result<Loaded> {
    let spec = text::parse(src)
        .map_err(SpecError::from)
        .with_context(|| "invalid schedule spec")?;
    Ok(Loaded {
        label: text::to_text(&spec),
        spec,
    })
}

/// Reads a schedule from a file: `.json` and `.toml` hold the serde tree of
/// [`ScheduleSpec`]; any other file is read as the text spec language.
///
/// # Errors
/// A file that cannot be read or that holds no valid schedule; the message names the file
/// and, for a misspelt name, suggests the nearest valid one.
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join("cadence-doc-input.toml");
/// std::fs::write(&path, "type = \"linear\"\ninit = 1.0\nend = 0.0\nsteps = 10\n")?;
/// let loaded = cadence_cli::input::from_file(&path)?;
/// assert_eq!(loaded.spec.name(), "linear");
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn from_file(path: &Path) -> Result<Loaded> {
    let src = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read spec file {}", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let spec = match ext.as_deref() {
        Some("json") => {
            let tree: serde_json::Value = serde_json::from_str(&src)
                .with_context(|| format!("{} is not valid JSON", path.display()))?;
            from_tree(tree, &src, |s| {
                serde_json::from_str(s).map_err(|e| e.to_string())
            })
        }
        Some("toml") => {
            let tree: serde_json::Value = toml::from_str(&src)
                .with_context(|| format!("{} is not valid TOML", path.display()))?;
            from_tree(tree, &src, |s| toml::from_str(s).map_err(|e| e.to_string()))
        }
        _ => text::parse(&src).map_err(|e| SpecError::from(e).into()),
    }
    .with_context(|| format!("invalid schedule in {}", path.display()))?;
    Ok(Loaded {
        spec,
        label: path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into(),
        ),
    })
}

/// Deserialises a JSON or TOML file; on failure the file's own message (with its
/// position) is kept, and the same tree is read through the text language to suggest a
/// name for a misspelt schedule or field.
fn from_tree(
    tree: serde_json::Value,
    src: &str,
    direct: impl Fn(&str) -> Result<ScheduleSpec, String>,
) -> Result<ScheduleSpec> {
    match direct(src) {
        Ok(spec) => Ok(spec),
        Err(message) => {
            let suggestion = text::parse(&text::tree_to_text(&tree))
                .err()
                .and_then(|e| e.suggestion().map(str::to_string));
            match suggestion {
                Some(s) => bail!("{}; did you mean `{s}`?", message.trim_end()),
                None => bail!("{}", message.trim_end()),
            }
        }
    }
}

/// A [`ParseError`] together with its source excerpt, for terminals.
///
/// # Examples
///
/// ```
/// use cadence_cli::input::SpecError;
///
/// let err = SpecError::from(cadence::text::parse("linear(1, 0, 0)").unwrap_err());
/// assert!(err.to_string().ends_with("    linear(1, 0, 0)\n                 ^"));
/// ```
#[derive(Debug)]
pub struct SpecError(pub ParseError);

impl From<ParseError> for SpecError {
    fn from(e: ParseError) -> Self {
        SpecError(e)
    }
}

impl std::fmt::Display for SpecError {
    /// The one-line message, then the offending line with a caret under the column.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n{}", self.0, indent(&self.0.excerpt()))
    }
}

impl std::error::Error for SpecError {}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The values at steps `0..steps`.
///
/// # Errors
/// More than [`MAX_SAMPLED_STEPS`] steps.
///
/// # Examples
///
/// ```
/// let lr = cadence::text::parse("linear(1, 0, 4)")?;
/// assert_eq!(cadence_cli::input::sample(&lr, 5)?, [1.0, 0.75, 0.5, 0.25, 0.0]);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn sample(spec: &ScheduleSpec, steps: u64) -> Result<Vec<f64>> {
    if steps > MAX_SAMPLED_STEPS {
        bail!("--steps {steps} is more than this command keeps in memory ({MAX_SAMPLED_STEPS})");
    }
    Ok((0..steps).map(|t| spec.value(t)).collect())
}

/// Parses a step count: `1000`, `10_000`, `10k`, `1.5M`, `2G`.
///
/// # Errors
/// Anything else, or a count that is not a whole number.
///
/// # Examples
///
/// ```
/// use cadence_cli::input::parse_steps;
///
/// assert_eq!(parse_steps("10k"), Ok(10_000));
/// assert_eq!(parse_steps("1.5M"), Ok(1_500_000));
/// assert!(parse_steps("ten").is_err());
/// ```
pub fn parse_steps(s: &str) -> Result<u64, String> {
    let clean: String = s.trim().chars().filter(|&c| c != '_').collect();
    let (digits, scale) = match clean.as_bytes().last() {
        Some(b'k') => (&clean[..clean.len() - 1], 1e3),
        Some(b'M') => (&clean[..clean.len() - 1], 1e6),
        Some(b'G') => (&clean[..clean.len() - 1], 1e9),
        _ => (clean.as_str(), 1.0),
    };
    if scale == 1.0
        && let Ok(n) = digits.parse::<u64>()
    {
        return Ok(n);
    }
    let bad = || format!("`{s}` is not a step count (write e.g. 1000, 10_000, 10k or 1.5M)");
    if !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let x: f64 = digits.parse().map_err(|_| bad())?;
    let n = x * scale;
    if n.fract() != 0.0 || !(0.0..1.8e19).contains(&n) {
        return Err(bad());
    }
    Ok(n as u64)
}
