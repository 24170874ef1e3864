//! Plots of sampled schedules to PNG or SVG, with an embedded font.
//!
//! Text is drawn with DejaVu Sans, compiled into the binary and registered with plotters
//! on first use, so rendering needs no system fonts and no fontconfig. Output is
//! deterministic: the same series and options give byte-identical files.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::analysis::format_number;

/// The font family every text in a plot uses.
use cadence_lab::plot::FONT;

/// One named curve: `values[i]` is the value at step `i`.
///
/// # Examples
///
/// ```
/// let s = cadence_cli::plot::Series { label: "flat".into(), values: vec![0.1; 100] };
/// assert_eq!(s.values.len(), 100);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend entry (empty: none).
    pub label: String,
    /// The sampled values, one per step from step 0.
    pub values: Vec<f64>,
}

/// How a plot looks.
///
/// # Examples
///
/// ```
/// let options = cadence_cli::plot::PlotOptions { log_y: true, ..Default::default() };
/// assert_eq!(options.x_label, "step");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// The title above the chart.
    pub title: String,
    /// The x-axis label.
    pub x_label: String,
    /// The y-axis label.
    pub y_label: String,
    /// A logarithmic y axis (non-positive values are left out).
    pub log_y: bool,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// A linear y axis that spans the data only: not down to 0, and without headroom for
    /// the legend (for falling curves such as losses, whose upper right is empty).
    pub tight_y: bool,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            title: "learning-rate schedule".into(),
            x_label: "step".into(),
            y_label: "value".into(),
            log_y: false,
            width: 1000,
            height: 600,
            tight_y: false,
        }
    }
}

/// The image format, chosen by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A PNG bitmap.
    Png,
    /// An SVG vector image.
    Svg,
}

impl Format {
    /// The format for a path ending in `.png` or `.svg` (any case).
    ///
    /// # Errors
    /// Any other extension.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_cli::plot::Format;
    ///
    /// assert_eq!(Format::from_path("lr.SVG".as_ref())?, Format::Svg);
    /// assert!(Format::from_path("lr.jpg".as_ref()).is_err());
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => bail!(
                "cannot tell the image format of {}: use a .png or .svg file name",
                path.display()
            ),
        }
    }
}

/// Registers the embedded DejaVu Sans as the plots' font (shared with the lab's plots).
///
/// # Examples
///
/// ```
/// cadence_cli::plot::register_font();
/// ```
pub fn register_font() {
    cadence_lab::plot::register_font();
}

/// Writes a plot of `series` to `path` as PNG or SVG (by extension).
///
/// # Errors
/// An unknown extension, no series, no plottable value, or a file that cannot be written.
///
/// # Examples
///
/// ```
/// use cadence_cli::plot::{render, PlotOptions, Series};
///
/// let path = std::env::temp_dir().join("cadence-doc-render.svg");
/// let series = [Series { label: "linear".into(), values: vec![1.0, 0.5, 0.0] }];
/// render(&path, &series, &PlotOptions::default())?;
/// assert!(std::fs::read_to_string(&path)?.starts_with("<svg"));
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn render(path: &Path, series: &[Series], options: &PlotOptions) -> Result<()> {
    render_styled(path, series, &[], options)
}

/// How one series is drawn by [`render_styled`].
///
/// # Examples
///
/// ```
/// use cadence_cli::plot::{Line, Look};
/// let observed = Look { color: Some(2), line: Line::Points };
/// assert_eq!(Look::default().line, Line::Solid);
/// assert_ne!(observed, Look::default());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Look {
    /// Palette index (series sharing an index share a colour); `None`: the series' position.
    pub color: Option<usize>,
    /// Line or points.
    pub line: Line,
}

/// The stroke of a series.
///
/// # Examples
///
/// ```
/// assert_ne!(cadence_cli::plot::Line::Dashed, cadence_cli::plot::Line::Points);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Line {
    /// A solid line.
    #[default]
    Solid,
    /// A dashed line.
    Dashed,
    /// Dots at the finite values only (for observed data logged at some steps).
    Points,
}

/// As [`render`], with a [`Look`] per series (missing looks: solid, colour by position).
///
/// # Errors
/// As [`render`].
///
/// # Examples
///
/// ```
/// use cadence_cli::plot::{render_styled, Line, Look, PlotOptions, Series};
///
/// let path = std::env::temp_dir().join("cadence-doc-render-styled.svg");
/// let mut observed = vec![f64::NAN; 100];
/// observed[10] = 0.9;
/// observed[50] = 0.5;
/// let series = [
///     Series { label: "observed".into(), values: observed },
///     Series { label: "law".into(), values: (0..100).map(|t| 1.0 - t as f64 / 100.0).collect() },
/// ];
/// let looks = [Look { color: Some(0), line: Line::Points }, Look { color: Some(0), line: Line::Dashed }];
/// render_styled(&path, &series, &looks, &PlotOptions::default())?;
/// assert!(std::fs::read_to_string(&path)?.contains("<circle"));
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn render_styled(
    path: &Path,
    series: &[Series],
    looks: &[Look],
    options: &PlotOptions,
) -> Result<()> {
    let format = Format::from_path(path)?;
    let size = (options.width, options.height);
    match format {
        Format::Png => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw(&root, series, looks, options)?;
            root.present()
                .map_err(|e| anyhow!("{e}"))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Format::Svg => {
            let svg = svg_text(series, looks, options)?;
            std::fs::write(path, svg)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

/// The SVG text of a plot of `series`.
///
/// # Errors
/// No series, or no plottable value.
///
/// # Examples
///
/// ```
/// use cadence_cli::plot::{render_svg, PlotOptions, Series};
///
/// let series = [Series { label: "a".into(), values: vec![1.0, 0.5] }];
/// let svg = render_svg(&series, &PlotOptions::default())?;
/// assert!(svg.contains("learning-rate schedule"));
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn render_svg(series: &[Series], options: &PlotOptions) -> Result<String> {
    svg_text(series, &[], options)
}

fn svg_text(series: &[Series], looks: &[Look], options: &PlotOptions) -> Result<String> {
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (options.width, options.height)).into_drawing_area();
        draw(&root, series, looks, options)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(svg)
}

/// The palette (Tableau 10): distinct on screen and in greyscale print.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[Series],
    looks: &[Look],
    options: &PlotOptions,
) -> Result<()> {
    register_font();
    if series.is_empty() {
        bail!("nothing to plot: give at least one schedule");
    }
    let width = options.width.max(200) as usize;
    let lines: Vec<Vec<(f64, f64)>> = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let points = if looks.get(i).is_some_and(|l| l.line == Line::Points) {
                // Observed data: every logged value, no decimation.
                s.values
                    .iter()
                    .enumerate()
                    .map(|(t, &y)| (t as f64, y))
                    .collect()
            } else {
                decimate(&s.values, 2 * width)
            };
            points
                .into_iter()
                .filter(|&(_, y)| y.is_finite() && (!options.log_y || y > 0.0))
                .collect()
        })
        .collect();
    let ys = lines.iter().flatten().map(|&(_, y)| y);
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), y| {
        (l.min(y), h.max(y))
    });
    if !lo.is_finite() {
        bail!(if options.log_y {
            "nothing to plot on a log scale: no value is > 0"
        } else {
            "nothing to plot: no finite value"
        });
    }
    let steps = series.iter().map(|s| s.values.len()).max().unwrap_or(1);
    let x_max = (steps.saturating_sub(1)).max(1) as f64;
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    // Headroom above the curves for the legend box: a share per legend line.
    let labelled = series.iter().filter(|s| !s.label.is_empty()).count();
    let room = if options.tight_y {
        0.0
    } else {
        0.08 * (labelled + 1) as f64
    };
    if options.log_y {
        // Padding in proportion to the data's span in decades (at most a factor 1.25), so
        // curves that vary by a few percent (loss curves) fill the chart.
        let (lo, hi) = if lo == hi {
            (lo / 2.0, hi * 2.0)
        } else {
            let pad = (hi / lo).powf(0.05).min(1.25);
            (lo / pad, hi * pad)
        };
        let hi = hi * (hi / lo).powf(room);
        chart(
            root,
            &lines,
            series,
            looks,
            options,
            x_max,
            (lo..hi).log_scale(),
        )
    } else {
        let lo = if lo >= 0.0 && !options.tight_y {
            0.0
        } else {
            lo
        };
        let span = if hi > lo {
            hi - lo
        } else {
            hi.abs().max(1e-12)
        };
        let bottom = if lo == 0.0 { 0.0 } else { lo - 0.05 * span };
        chart(
            root,
            &lines,
            series,
            looks,
            options,
            x_max,
            bottom..hi + (0.05 + room) * span,
        )
    }
}

fn chart<DB, Y>(
    root: &DrawingArea<DB, Shift>,
    lines: &[Vec<(f64, f64)>],
    series: &[Series],
    looks: &[Look],
    options: &PlotOptions,
    x_max: f64,
    y: Y,
) -> Result<()>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    let mut chart = ChartBuilder::on(root)
        .caption(
            &options.title,
            (FONT, 24).into_font().style(FontStyle::Bold),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(&options.x_label)
        .y_desc(&options.y_label)
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 14))
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|x| axis_step(*x, x_max))
        .y_label_formatter(&|y| format_number(*y))
        .light_line_style(RGBColor(246, 246, 246))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(err)?;
    for (i, (points, s)) in lines.iter().zip(series).enumerate() {
        let look = looks.get(i).copied().unwrap_or_default();
        let color = PALETTE[look.color.unwrap_or(i) % PALETTE.len()];
        let pts = points.iter().copied();
        let drawn = match look.line {
            Line::Solid => chart.draw_series(LineSeries::new(pts, color.stroke_width(2))),
            Line::Dashed => {
                chart.draw_series(DashedLineSeries::new(pts, 8, 5, color.stroke_width(2)))
            }
            Line::Points => chart.draw_series(pts.map(|p| Circle::new(p, 1, color.filled()))),
        }
        .map_err(err)?;
        if s.label.is_empty() {
            continue;
        }
        let drawn = drawn.label(s.label.as_str());
        match look.line {
            Line::Points => {
                drawn.legend(move |(x, y)| Circle::new((x + 12, y), 3, color.filled()));
            }
            Line::Dashed => {
                drawn.legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 9, y)], color.stroke_width(3))
                });
            }
            Line::Solid => {
                drawn.legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3))
                });
            }
        }
    }
    draw_legend(&mut chart)
}

/// The series legend every chart here draws: upper right, on a translucent white box.
fn draw_legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>) -> Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .label_font((FONT, 15))
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(120, 120, 120))
        .margin(12)
        .draw()
        .map_err(|e| anyhow!("{e}"))
}

/// A step number for an axis: `0`, `2500`, `20k`, `1.5M`.
///
/// # Examples
///
/// ```
/// use cadence_cli::plot::format_step;
///
/// assert_eq!(format_step(2500.0), "2500");
/// assert_eq!(format_step(20_000.0), "20k");
/// assert_eq!(format_step(1_500_000.0), "1.5M");
/// ```
pub fn format_step(x: f64) -> String {
    let trim = |v: f64| {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let a = x.abs();
    if a >= 1e9 {
        format!("{}G", trim(x / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim(x / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(x / 1e3))
    } else {
        trim(x)
    }
}

/// A tick label on a step axis ending at `x_max`: in thousands throughout (`2k`, `10k`)
/// once the axis reaches 10 000, so that neighbouring ticks read alike.
fn axis_step(x: f64, x_max: f64) -> String {
    if x_max >= 1e4 && x.abs() >= 1e3 && x.abs() < 1e6 {
        let s = format!("{:.2}", x / 1e3);
        format!("{}k", s.trim_end_matches('0').trim_end_matches('.'))
    } else if x_max >= 1e4 {
        format_step(x)
    } else {
        format_number(x)
    }
}

/// At most about `2 * buckets` points that keep every bucket's minimum and maximum, so
/// spikes and drops survive any number of steps.
///
/// # Examples
///
/// ```
/// let values: Vec<f64> = (0..10_000).map(|t| if t == 5_000 { 9.0 } else { 1.0 }).collect();
/// let points = cadence_cli::plot::decimate(&values, 100);
/// assert!(points.len() <= 200);
/// assert!(points.contains(&(5_000.0, 9.0)));
/// ```
pub fn decimate(values: &[f64], buckets: usize) -> Vec<(f64, f64)> {
    let buckets = buckets.max(1);
    if values.len() <= 2 * buckets {
        return values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as f64, v))
            .collect();
    }
    let size = values.len().div_ceil(buckets);
    let mut points = Vec::with_capacity(2 * buckets + 1);
    for (b, chunk) in values.chunks(size).enumerate() {
        let base = b * size;
        let (mut lo, mut hi) = (0, 0);
        for (i, v) in chunk.iter().enumerate() {
            if *v < chunk[lo] {
                lo = i;
            }
            if *v > chunk[hi] {
                hi = i;
            }
        }
        let (first, second) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        points.push(((base + first) as f64, chunk[first]));
        if second != first {
            points.push(((base + second) as f64, chunk[second]));
        }
    }
    let last = values.len() - 1;
    if points.last().is_some_and(|p| p.0 as usize != last) {
        points.push((last as f64, values[last]));
    }
    points
}

/// One curve of an x-y plot: `(x, y)` points.
///
/// # Examples
///
/// ```
/// let c = cadence_cli::plot::XySeries { label: "loss".into(), points: vec![(1e-3, 2.0), (1e-2, 1.0)] };
/// assert_eq!(c.points.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct XySeries {
    /// The legend entry.
    pub label: String,
    /// The points, in any order of x.
    pub points: Vec<(f64, f64)>,
}

/// A vertical line at `x` with a legend entry (e.g. a suggested learning rate).
///
/// # Examples
///
/// ```
/// let m = cadence_cli::plot::Marker { label: "valley 3e-3".into(), x: 3e-3 };
/// assert!(m.x > 0.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// The legend entry.
    pub label: String,
    /// The x position.
    pub x: f64,
}

/// Writes a plot of `series` against a logarithmic x axis with vertical `markers` to
/// `path` (PNG or SVG by extension): the loss-versus-learning-rate plot of `cadence
/// find-lr`. Points with a non-positive x or a non-finite y are left out; the y axis is
/// linear (or logarithmic with `options.log_y`).
///
/// # Errors
/// An unknown extension, no plottable point, or a file that cannot be written.
///
/// # Examples
///
/// ```
/// use cadence_cli::plot::{Marker, PlotOptions, XySeries, render_log_x};
///
/// let path = std::env::temp_dir().join("cadence-doc-log-x.svg");
/// let series = [XySeries { label: "loss".into(), points: vec![(1e-4, 2.3), (1e-2, 0.4), (1.0, 5.0)] }];
/// let markers = [Marker { label: "minimum/10".into(), x: 1e-3 }];
/// render_log_x(&path, &series, &markers, &PlotOptions { x_label: "learning rate".into(), ..Default::default() })?;
/// assert!(std::fs::read_to_string(&path)?.contains("minimum/10"));
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn render_log_x(
    path: &Path,
    series: &[XySeries],
    markers: &[Marker],
    options: &PlotOptions,
) -> Result<()> {
    let size = (options.width, options.height);
    match Format::from_path(path)? {
        Format::Png => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw_log_x(&root, series, markers, options)?;
            root.present()
                .map_err(|e| anyhow!("{e}"))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                draw_log_x(&root, series, markers, options)?;
                root.present().map_err(|e| anyhow!("{e}"))?;
            }
            std::fs::write(path, svg)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

fn draw_log_x<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[XySeries],
    markers: &[Marker],
    options: &PlotOptions,
) -> Result<()> {
    register_font();
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    let lines: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .copied()
                .filter(|&(x, y)| x > 0.0 && y.is_finite() && (!options.log_y || y > 0.0))
                .collect()
        })
        .collect();
    let fold = |f: fn(&(f64, f64)) -> f64| {
        lines
            .iter()
            .flatten()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            })
    };
    let (x_lo, x_hi) = fold(|p| p.0);
    let (y_lo, y_hi) = fold(|p| p.1);
    if !x_lo.is_finite() || !y_lo.is_finite() {
        bail!("nothing to plot: no point with x > 0 and a finite y");
    }
    let (x_lo, x_hi) = if x_lo < x_hi {
        (x_lo, x_hi)
    } else {
        (x_lo / 2.0, x_hi * 2.0)
    };
    let room = 0.08 * (series.len() + markers.len() + 1) as f64;
    let span = (y_hi - y_lo).max(1e-12);
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(root)
        .caption(
            &options.title,
            (FONT, 24).into_font().style(FontStyle::Bold),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (x_lo..x_hi).log_scale(),
            (y_lo - 0.05 * span)..(y_hi + (0.05 + room) * span),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(&options.x_label)
        .y_desc(&options.y_label)
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 14))
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|x| format_number(*x))
        .y_label_formatter(&|y| format_number(*y))
        .light_line_style(RGBColor(246, 246, 246))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(err)?;
    for (i, (points, s)) in lines.iter().zip(series).enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3)));
    }
    for (i, m) in markers.iter().enumerate() {
        if !(m.x > 0.0 && m.x.is_finite()) {
            continue;
        }
        let color = PALETTE[(series.len() + i) % PALETTE.len()];
        let (lo, hi) = (y_lo - 0.05 * span, y_hi + 0.05 * span);
        chart
            .draw_series(LineSeries::new(
                [(m.x, lo), (m.x, hi)],
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(m.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3)));
    }
    draw_legend(&mut chart)
}
