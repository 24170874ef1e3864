//! What an experiment hands back ([`ExperimentReport`]) and the writers of the report
//! files: a self-contained `index.html` with inline SVG plots, `report.md` with the plots
//! beside it in `plots/`, and `results.json` with every number.
//!
//! ```
//! use cadence_lab::report::{Cell, Outcome, Table, Verdict};
//!
//! let mut t = Table::new("demo", &["schedule", "loss"]);
//! t.push(vec![Cell::text("constant"), Cell::number(0.25)]);
//! assert_eq!(t.rows.len(), 1);
//! let v = Verdict::new(Outcome::Supported, "paired t test", "decay wins");
//! assert_eq!(v.outcome.label(), "supported");
//! ```

use crate::plot::{Figure, render_svg};
use crate::stats::{Estimate, TestResult};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// Whether the data support the article's claim.
///
/// ```
/// use cadence_lab::report::Outcome;
///
/// assert_eq!(Outcome::NotSupported.label(), "not supported");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The computed test supports the claim.
    Supported,
    /// The computed test contradicts the claim.
    NotSupported,
    /// The data cannot decide.
    Inconclusive,
}

impl Outcome {
    /// A lower-case label for reports.
    ///
    /// ```
    /// assert_eq!(cadence_lab::report::Outcome::Inconclusive.label(), "inconclusive");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Supported => "supported",
            Outcome::NotSupported => "not supported",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// A verdict: outcome, the tests it was computed from, and an explanation in words.
///
/// ```
/// use cadence_lab::report::{Outcome, Verdict};
/// use cadence_lab::stats::one_sample_t_test;
///
/// let v = Verdict::new(Outcome::Supported, "rule", "why")
///     .with_test("decay vs constant", one_sample_t_test(&[-1.0, -2.0, -1.5], 0.0));
/// assert_eq!(v.tests.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The outcome.
    pub outcome: Outcome,
    /// The decision rule applied to the tests, in words.
    pub rule: String,
    /// The explanation, including why when the data contradict the article.
    pub explanation: String,
    /// The named tests behind the outcome.
    pub tests: Vec<NamedTest>,
}

/// A test together with what it compared.
///
/// ```
/// use cadence_lab::report::NamedTest;
/// use cadence_lab::stats::fisher_exact;
///
/// let t = NamedTest { comparison: "a vs b".into(), result: fisher_exact(1, 2, 3, 4) };
/// assert!(t.result.p_value <= 1.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedTest {
    /// What was compared.
    pub comparison: String,
    /// The result.
    pub result: TestResult,
}

impl Verdict {
    /// A verdict without tests yet.
    ///
    /// ```
    /// # use cadence_lab::report::{Outcome, Verdict};
    /// assert!(Verdict::new(Outcome::Inconclusive, "r", "e").tests.is_empty());
    /// ```
    pub fn new(outcome: Outcome, rule: impl Into<String>, explanation: impl Into<String>) -> Self {
        Verdict {
            outcome,
            rule: rule.into(),
            explanation: explanation.into(),
            tests: Vec::new(),
        }
    }

    /// Adds a test.
    ///
    /// ```
    /// # use cadence_lab::report::{Outcome, Verdict};
    /// # use cadence_lab::stats::fisher_exact;
    /// let v = Verdict::new(Outcome::Inconclusive, "r", "e").with_test("x", fisher_exact(1, 1, 1, 1));
    /// assert_eq!(v.tests[0].comparison, "x");
    /// ```
    pub fn with_test(mut self, comparison: impl Into<String>, result: TestResult) -> Self {
        self.tests.push(NamedTest {
            comparison: comparison.into(),
            result,
        });
        self
    }
}

/// One cell of a results table.
///
/// ```
/// use cadence_lab::report::Cell;
/// use cadence_lab::stats::Estimate;
///
/// let c = Cell::estimate(Estimate::from_samples(&[1.0, 2.0, 3.0]));
/// assert!(c.to_string().contains('±'));
/// assert_eq!(Cell::number(0.5).to_string(), "0.5");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    /// Text.
    Text(String),
    /// A plain number.
    Number(f64),
    /// A mean with its 95% interval.
    Estimate(Estimate),
}

impl Cell {
    /// A text cell.
    ///
    /// ```
    /// assert_eq!(cadence_lab::report::Cell::text("a").to_string(), "a");
    /// ```
    pub fn text(s: impl Into<String>) -> Self {
        Cell::Text(s.into())
    }

    /// A number cell.
    ///
    /// ```
    /// assert_eq!(cadence_lab::report::Cell::number(2.0).to_string(), "2");
    /// ```
    pub fn number(x: f64) -> Self {
        Cell::Number(x)
    }

    /// A mean ± 95% interval cell.
    ///
    /// ```
    /// # use cadence_lab::{report::Cell, stats::Estimate};
    /// let c = Cell::estimate(Estimate::from_samples(&[1.0, 1.0]));
    /// assert_eq!(c.to_string(), "1 ± 0");
    /// ```
    pub fn estimate(e: Estimate) -> Self {
        Cell::Estimate(e)
    }
}

/// Formats a number with 4 significant digits, in scientific notation when far from 1.
///
/// ```
/// use cadence_lab::report::fmt_num;
///
/// assert_eq!(fmt_num(0.123456), "0.1235");
/// assert_eq!(fmt_num(1.5e-7), "1.500e-7");
/// assert_eq!(fmt_num(3.0), "3");
/// ```
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{x:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Text(s) => f.write_str(s),
            Cell::Number(x) => f.write_str(&fmt_num(*x)),
            Cell::Estimate(e) => write!(f, "{} ± {}", fmt_num(e.mean), fmt_num(e.half_width)),
        }
    }
}

/// A table of results.
///
/// ```
/// use cadence_lab::report::{Cell, Table};
///
/// let mut t = Table::new("losses", &["schedule", "final loss"]);
/// t.push(vec![Cell::text("cosine"), Cell::number(1e-3)]);
/// assert_eq!(t.columns.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// The caption.
    pub title: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table.
    ///
    /// ```
    /// assert!(cadence_lab::report::Table::new("t", &["a"]).rows.is_empty());
    /// ```
    pub fn new(title: impl Into<String>, columns: &[&str]) -> Self {
        Table {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    ///
    /// ```
    /// # use cadence_lab::report::{Cell, Table};
    /// let mut t = Table::new("t", &["a"]);
    /// t.push(vec![Cell::number(1.0)]);
    /// assert_eq!(t.rows[0][0], Cell::Number(1.0));
    /// ```
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }
}

/// How large an experiment runs.
///
/// ```
/// use cadence_lab::report::Size;
///
/// assert_eq!(Size::Quick.pick(5, 100), 5);
/// assert_eq!(Size::Full.pick(5, 100), 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// Small enough for the test suite (seconds).
    Quick,
    /// The size the report is meant for.
    Full,
}

impl Size {
    /// `quick` for [`Size::Quick`], `full` for [`Size::Full`].
    ///
    /// ```
    /// # use cadence_lab::report::Size;
    /// assert_eq!(Size::Quick.pick("a", "b"), "a");
    /// ```
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Size::Quick => quick,
            Size::Full => full,
        }
    }
}

/// Everything an experiment found; serialised into `results.json` as it is.
///
/// ```
/// use cadence_lab::report::{ExperimentReport, Outcome, Size, Verdict};
///
/// let r = ExperimentReport::new("demo", "A claim.", Size::Quick,
///     Verdict::new(Outcome::Inconclusive, "rule", "nothing measured"));
/// assert_eq!(r.name, "demo");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReport {
    /// The experiment's name (`noise`, `restarts`, ...).
    pub name: String,
    /// The claim, quoted from the article.
    pub claim: String,
    /// The size it ran at.
    pub size: Size,
    /// The setup in words: model, schedules, budgets, seeds.
    pub setup: Vec<String>,
    /// The seeds used.
    pub seeds: Vec<u64>,
    /// Plots, as data (rendered to SVG by the writers).
    pub figures: Vec<Figure>,
    /// Tables of results.
    pub tables: Vec<Table>,
    /// Further findings in words, each computed from the data.
    pub findings: Vec<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Wall time of this invocation in seconds (short when runs were read back).
    pub wall_time_s: f64,
    /// The summed single-thread time of all its runs, reused ones included: what a
    /// fresh run costs in CPU seconds.
    pub run_time_s: f64,
    /// Runs executed in this invocation.
    pub runs_executed: usize,
    /// Runs read back from the output directory instead of being run again.
    pub runs_reused: usize,
}

impl ExperimentReport {
    /// A report with no setup, plots or tables yet.
    ///
    /// ```
    /// # use cadence_lab::report::{ExperimentReport, Outcome, Size, Verdict};
    /// let r = ExperimentReport::new("x", "c", Size::Full, Verdict::new(Outcome::Supported, "r", "e"));
    /// assert!(r.figures.is_empty());
    /// ```
    pub fn new(name: &str, claim: &str, size: Size, verdict: Verdict) -> Self {
        ExperimentReport {
            name: name.into(),
            claim: claim.into(),
            size,
            setup: Vec::new(),
            seeds: Vec::new(),
            figures: Vec::new(),
            tables: Vec::new(),
            findings: Vec::new(),
            verdict,
            wall_time_s: 0.0,
            run_time_s: 0.0,
            runs_executed: 0,
            runs_reused: 0,
        }
    }

    /// Adds a batch of runs to the report's counts (executed, reused) and run time.
    ///
    /// ```
    /// # use cadence_lab::report::{ExperimentReport, Outcome, Size, Verdict};
    /// use cadence_lab::runner::Runs;
    /// let mut r = ExperimentReport::new("x", "c", Size::Full, Verdict::new(Outcome::Supported, "r", "e"));
    /// let runs = Runs { results: vec![1.0], executed: 1, reused: 2, run_seconds: 0.5 };
    /// r.count_runs(&runs);
    /// r.count_runs(&runs);
    /// assert_eq!((r.runs_executed, r.runs_reused, r.run_time_s), (2, 4, 1.0));
    /// ```
    pub fn count_runs<R>(&mut self, runs: &crate::runner::Runs<R>) {
        self.runs_executed += runs.executed;
        self.runs_reused += runs.reused;
        self.run_time_s += runs.run_seconds;
    }
}

/// Writes `index.html`, `report.md`, `plots/*.svg` and `results.json` into `out_dir`.
///
/// # Errors
/// When a file cannot be written or a plot cannot be rendered.
///
/// ```
/// use cadence_lab::report::{write_reports, ExperimentReport, Outcome, Size, Verdict};
///
/// let dir = std::env::temp_dir().join(format!("cadence-lab-doc-{}", std::process::id()));
/// let r = ExperimentReport::new("demo", "A claim.", Size::Quick,
///     Verdict::new(Outcome::Inconclusive, "rule", "nothing measured"));
/// write_reports(&dir, &[r])?;
/// assert!(dir.join("index.html").exists());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn write_reports(out_dir: &Path, reports: &[ExperimentReport]) -> Result<()> {
    std::fs::create_dir_all(out_dir.join("plots"))
        .with_context(|| format!("creating {}", out_dir.display()))?;
    let mut svgs = Vec::new();
    for r in reports {
        let mut mine = Vec::new();
        for (i, fig) in r.figures.iter().enumerate() {
            let svg = render_svg(fig).with_context(|| format!("plotting {}", fig.title))?;
            let file = format!("plots/{}-{}.svg", r.name, i + 1);
            crate::runner::write_atomic(&out_dir.join(&file), svg.as_bytes())?;
            mine.push((file, svg));
        }
        svgs.push(mine);
    }
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "generator": concat!("cadence-lab ", env!("CARGO_PKG_VERSION")),
        "experiments": reports,
    }))?;
    crate::runner::write_atomic(&out_dir.join("results.json"), json.as_bytes())?;
    crate::runner::write_atomic(
        &out_dir.join("report.md"),
        markdown(reports, &svgs).as_bytes(),
    )?;
    crate::runner::write_atomic(&out_dir.join("index.html"), html(reports, &svgs).as_bytes())?;
    Ok(())
}

fn p_text(t: &TestResult) -> String {
    let df =
        t.df.map(|d| format!(", df = {}", fmt_num(d)))
            .unwrap_or_default();
    format!(
        "{}: statistic = {}{df}, p = {}",
        t.test,
        fmt_num(t.statistic),
        fmt_num(t.p_value)
    )
}

fn markdown(reports: &[ExperimentReport], svgs: &[Vec<(String, String)>]) -> String {
    let mut s = String::from("# cadence lab report\n\n");
    s.push_str("| experiment | verdict | wall time | CPU time of its runs |\n|---|---|---|---|\n");
    for r in reports {
        let _ = writeln!(
            s,
            "| [{0}](#{0}) | **{1}** | {2:.1} s | {3:.1} s |",
            r.name,
            r.verdict.outcome.label(),
            r.wall_time_s,
            r.run_time_s
        );
    }
    for (r, figs) in reports.iter().zip(svgs) {
        let _ = write!(s, "\n## {}\n\n> {}\n\n", r.name, r.claim);
        let _ = writeln!(
            s,
            "**Verdict: {}.** {}\n\nRule: {}\n",
            r.verdict.outcome.label(),
            r.verdict.explanation,
            r.verdict.rule
        );
        for t in &r.verdict.tests {
            let _ = writeln!(s, "- {}: {}", t.comparison, p_text(&t.result));
        }
        s.push_str("\n### Setup\n\n");
        for line in &r.setup {
            let _ = writeln!(s, "- {line}");
        }
        let _ = writeln!(
            s,
            "- size: {:?}; seeds: {:?}; wall time {:.1} s ({} runs executed, {} reused; {:.1} CPU s in all runs)",
            r.size, r.seeds, r.wall_time_s, r.runs_executed, r.runs_reused, r.run_time_s
        );
        if !r.findings.is_empty() {
            s.push_str("\n### Findings\n\n");
            for f in &r.findings {
                let _ = writeln!(s, "- {f}");
            }
        }
        for t in &r.tables {
            let _ = write!(s, "\n**{}**\n\n|", t.title);
            for c in &t.columns {
                let _ = write!(s, " {c} |");
            }
            s.push_str("\n|");
            for _ in &t.columns {
                s.push_str("---|");
            }
            s.push('\n');
            for row in &t.rows {
                s.push('|');
                for c in row {
                    let _ = write!(s, " {c} |");
                }
                s.push('\n');
            }
        }
        for ((file, _), fig) in figs.iter().zip(&r.figures) {
            let _ = write!(s, "\n![{}]({})\n\n{}\n", fig.title, file, fig.caption);
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(reports: &[ExperimentReport], svgs: &[Vec<(String, String)>]) -> String {
    let mut s = String::from(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cadence lab report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em} h2{border-top:2px solid #ddd;padding-top:1em;margin-top:2em}
blockquote{border-left:4px solid #8aa;margin:0;padding:.3em 1em;background:#f6f8f8;font-style:italic}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em} th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f0f0f0} caption{font-weight:600;text-align:left;padding:.3em 0}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;font-weight:600;color:#fff}
.supported{background:#2a8a3e}.not_supported{background:#c0392b}.inconclusive{background:#b7950b}
.figs{display:flex;flex-wrap:wrap;gap:1em} figure{margin:0;flex:1 1 480px} figcaption{font-size:.88em;color:#555}
.tests{font-size:.9em;color:#333} .meta{color:#666;font-size:.9em}
</style></head><body>
<h1>cadence lab report</h1>
<p class="meta">Each experiment tests one claim of the article on learning-rate scheduling. Verdicts are computed from the measured data by the named test; numbers are means with 95% t confidence intervals over seeds.</p>
<table><tr><th>experiment</th><th>verdict</th><th>wall time</th><th>CPU time of its runs</th></tr>
"#,
    );
    let badge = |o: crate::report::Outcome| {
        let class = match o {
            Outcome::Supported => "supported",
            Outcome::NotSupported => "not_supported",
            Outcome::Inconclusive => "inconclusive",
        };
        format!(r#"<span class="badge {class}">{}</span>"#, o.label())
    };
    for r in reports {
        let _ = writeln!(
            s,
            r##"<tr><td><a href="#{0}">{0}</a></td><td>{1}</td><td>{2:.1} s</td><td>{3:.1} s</td></tr>"##,
            esc(&r.name),
            badge(r.verdict.outcome),
            r.wall_time_s,
            r.run_time_s
        );
    }
    s.push_str("</table>\n");
    for (r, figs) in reports.iter().zip(svgs) {
        let _ = writeln!(
            s,
            r#"<h2 id="{0}">{0}</h2><blockquote>{1}</blockquote>"#,
            esc(&r.name),
            esc(&r.claim)
        );
        let _ = writeln!(
            s,
            "<p>{} {}</p><p class=\"tests\">Rule: {}</p><ul class=\"tests\">",
            badge(r.verdict.outcome),
            esc(&r.verdict.explanation),
            esc(&r.verdict.rule)
        );
        for t in &r.verdict.tests {
            let _ = writeln!(
                s,
                "<li>{}: {}</li>",
                esc(&t.comparison),
                esc(&p_text(&t.result))
            );
        }
        s.push_str("</ul><h3>Setup</h3><ul>");
        for line in &r.setup {
            let _ = write!(s, "<li>{}</li>", esc(line));
        }
        let _ = writeln!(
            s,
            "<li class=\"meta\">size {:?}; seeds {:?}; wall time {:.1} s ({} runs executed, {} reused; {:.1} CPU s in all runs)</li></ul>",
            r.size, r.seeds, r.wall_time_s, r.runs_executed, r.runs_reused, r.run_time_s
        );
        s.push_str("<div class=\"figs\">");
        for ((_, svg), fig) in figs.iter().zip(&r.figures) {
            let _ = write!(
                s,
                "<figure>{}<figcaption><b>{}</b>. {}</figcaption></figure>",
                strip_xml_header(svg),
                esc(&fig.title),
                esc(&fig.caption)
            );
        }
        s.push_str("</div>");
        if !r.findings.is_empty() {
            s.push_str("<h3>Findings</h3><ul>");
            for f in &r.findings {
                let _ = write!(s, "<li>{}</li>", esc(f));
            }
            s.push_str("</ul>");
        }
        for t in &r.tables {
            let _ = write!(s, "<table><caption>{}</caption><tr>", esc(&t.title));
            for c in &t.columns {
                let _ = write!(s, "<th>{}</th>", esc(c));
            }
            s.push_str("</tr>");
            for row in &t.rows {
                s.push_str("<tr>");
                for c in row {
                    let _ = write!(s, "<td>{}</td>", esc(&c.to_string()));
                }
                s.push_str("</tr>");
            }
            s.push_str("</table>\n");
        }
    }
    s.push_str("</body></html>\n");
    s
}

fn strip_xml_header(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_inlines() {
        let mut r = ExperimentReport::new(
            "x<y",
            "a & b",
            Size::Quick,
            Verdict::new(Outcome::Supported, "r", "e"),
        );
        r.tables.push(Table::new("t", &["c"]));
        let h = html(&[r], &[vec![]]);
        assert!(h.contains("x&lt;y") && h.contains("a &amp; b"));
        assert!(!h.contains("src=\"http"));
    }

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(fmt_num(-0.5), "-0.5");
        assert_eq!(fmt_num(12345.6), "12346");
        assert_eq!(fmt_num(2.0e6), "2.000e6");
    }
}
