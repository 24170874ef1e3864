//! Plots as data ([`Figure`]) and their rendering to self-contained SVG with plotters.
//!
//! A figure keeps its numbers, so `results.json` carries every plotted point and the
//! HTML report inlines the rendered SVG (text as SVG `<text>`, no fonts or files needed).
//!
//! ```
//! use cadence_lab::plot::{Figure, Scale, Series, render_svg};
//!
//! let mut fig = Figure::new("loss", "step", "loss").with_y_scale(Scale::Log);
//! fig.series.push(Series::line("constant", (1..50).map(|t| (t as f64, 1.0 / t as f64)).collect()));
//! let svg = render_svg(&fig)?;
//! assert!(svg.contains("<svg") && svg.contains("constant"));
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// An axis scale.
///
/// ```
/// assert_ne!(cadence_lab::plot::Scale::Log, cadence_lab::plot::Scale::Linear);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Linear.
    Linear,
    /// Base-10 logarithmic; non-positive values are dropped.
    Log,
}

/// How a series is drawn.
///
/// ```
/// assert_ne!(cadence_lab::plot::Style::Solid, cadence_lab::plot::Style::Dashed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// A solid line.
    Solid,
    /// A dashed line (reference curves: exact predictions, floors).
    Dashed,
    /// Points only.
    Points,
}

/// One named series of `(x, y)` points.
///
/// ```
/// use cadence_lab::plot::{Series, Style};
///
/// let s = Series::line("a", vec![(0.0, 1.0)]).with_style(Style::Dashed);
/// assert_eq!(s.style, Style::Dashed);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// How to draw it.
    pub style: Style,
    /// Palette index; series sharing a colour share an index.
    pub color: usize,
}

impl Series {
    /// A solid line with an automatic colour (the position in the figure).
    ///
    /// ```
    /// # use cadence_lab::plot::Series;
    /// assert_eq!(Series::line("a", vec![]).points.len(), 0);
    /// ```
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            style: Style::Solid,
            color: usize::MAX,
        }
    }

    /// Sets the style.
    ///
    /// ```
    /// # use cadence_lab::plot::{Series, Style};
    /// assert_eq!(Series::line("a", vec![]).with_style(Style::Points).style, Style::Points);
    /// ```
    pub fn with_style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// Sets the palette index.
    ///
    /// ```
    /// # use cadence_lab::plot::Series;
    /// assert_eq!(Series::line("a", vec![]).with_color(3).color, 3);
    /// ```
    pub fn with_color(mut self, color: usize) -> Self {
        self.color = color;
        self
    }
}

/// A line chart as data.
///
/// ```
/// use cadence_lab::plot::{Figure, Scale};
///
/// let f = Figure::new("t", "x", "y").with_x_scale(Scale::Log).with_caption("c");
/// assert_eq!((f.x_scale, f.caption.as_str()), (Scale::Log, "c"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Title above the plot.
    pub title: String,
    /// A sentence under the plot saying what to look at.
    pub caption: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// The x scale.
    pub x_scale: Scale,
    /// The y scale.
    pub y_scale: Scale,
    /// The series.
    pub series: Vec<Series>,
}

impl Figure {
    /// An empty figure with linear axes.
    ///
    /// ```
    /// assert!(cadence_lab::plot::Figure::new("t", "x", "y").series.is_empty());
    /// ```
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Figure {
            title: title.into(),
            caption: String::new(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            series: Vec::new(),
        }
    }

    /// Sets the x scale.
    ///
    /// ```
    /// # use cadence_lab::plot::{Figure, Scale};
    /// assert_eq!(Figure::new("t", "x", "y").with_x_scale(Scale::Log).x_scale, Scale::Log);
    /// ```
    pub fn with_x_scale(mut self, scale: Scale) -> Self {
        self.x_scale = scale;
        self
    }

    /// Sets the y scale.
    ///
    /// ```
    /// # use cadence_lab::plot::{Figure, Scale};
    /// assert_eq!(Figure::new("t", "x", "y").with_y_scale(Scale::Log).y_scale, Scale::Log);
    /// ```
    pub fn with_y_scale(mut self, scale: Scale) -> Self {
        self.y_scale = scale;
        self
    }

    /// Sets the caption.
    ///
    /// ```
    /// # use cadence_lab::plot::Figure;
    /// assert_eq!(Figure::new("t", "x", "y").with_caption("look").caption, "look");
    /// ```
    pub fn with_caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = caption.into();
        self
    }
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x55, 0x55, 0x55),
];

fn transform(scale: Scale, v: f64) -> Option<f64> {
    match scale {
        Scale::Linear => v.is_finite().then_some(v),
        Scale::Log => (v > 0.0 && v.is_finite()).then(|| v.log10()),
    }
}

fn tick_label(scale: Scale, v: f64) -> String {
    match scale {
        Scale::Linear => crate::report::fmt_num(v),
        Scale::Log => {
            if (v - v.round()).abs() < 1e-9 {
                format!("1e{}", v.round() as i64)
            } else {
                crate::report::fmt_num(10f64.powf(v))
            }
        }
    }
}

/// Renders a figure to an SVG document (640 x 400).
///
/// Log axes plot `log10` of the values (non-positive points are dropped) and label the
/// ticks with the original values.
///
/// # Errors
/// When the figure has no finite point to plot or plotters fails.
///
/// ```
/// use cadence_lab::plot::{Figure, render_svg};
///
/// assert!(render_svg(&Figure::new("empty", "x", "y")).is_err());
/// ```
pub fn render_svg(fig: &Figure) -> Result<String> {
    register_font();
    // (palette index, series, its points in plot coordinates)
    type Prepared<'a> = (usize, &'a Series, Vec<(f64, f64)>);
    let series: Vec<Prepared<'_>> = fig
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let pts = s
                .points
                .iter()
                .filter_map(|&(x, y)| {
                    Some((transform(fig.x_scale, x)?, transform(fig.y_scale, y)?))
                })
                .collect();
            let color = if s.color == usize::MAX { i } else { s.color };
            (color, s, pts)
        })
        .collect();
    let all = series.iter().flat_map(|(_, _, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !(x0.is_finite() && y0.is_finite()) {
        return Err(anyhow!("figure '{}' has no finite point", fig.title));
    }
    let pad = |lo: f64, hi: f64| {
        let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
        (lo - 0.03 * span, hi + 0.03 * span)
    };
    let (x0, x1) = pad(x0, x1);
    let (y0, y1) = pad(y0, y1);

    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (640, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&fig.title, (FONT, 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| anyhow!("{e}"))?;
        let (xs, ys) = (fig.x_scale, fig.y_scale);
        chart
            .configure_mesh()
            .x_desc(&fig.x_label)
            .y_desc(&fig.y_label)
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&|v| tick_label(xs, *v))
            .y_label_formatter(&|v| tick_label(ys, *v))
            .light_line_style(RGBColor(0xee, 0xee, 0xee))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (color, s, pts) in &series {
            let c = PALETTE[color % PALETTE.len()];
            let style = c.stroke_width(2);
            let anno = match s.style {
                Style::Solid => chart.draw_series(LineSeries::new(pts.iter().copied(), style)),
                Style::Dashed => {
                    chart.draw_series(DashedLineSeries::new(pts.iter().copied(), 6, 4, style))
                }
                Style::Points => {
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                }
            }
            .map_err(|e| anyhow!("{e}"))?;
            if !s.name.is_empty() {
                anno.label(s.name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            }
        }
        if series.iter().any(|(_, s, _)| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(0xbb, 0xbb, 0xbb))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(out)
}

/// The font family every plot asks for; [`register_font`] binds it to the embedded font.
pub const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans (regular and bold) as [`FONT`] with plotters, once per
/// process. Plotting then needs no system fonts or fontconfig.
///
/// # Examples
///
/// ```
/// cadence_lab::plot::register_font();
/// cadence_lab::plot::register_font(); // idempotent
/// ```
pub fn register_font() {
    use plotters::style::FontStyle;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped by the `dejavu` crate.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_drop_non_positive_points_and_label_decades() {
        let mut fig = Figure::new("t", "x", "y").with_y_scale(Scale::Log);
        fig.series.push(
            Series::line("s", vec![(0.0, 0.0), (1.0, 1e-3), (2.0, 1.0)]).with_style(Style::Dashed),
        );
        fig.series
            .push(Series::line("p", vec![(1.5, 0.1)]).with_style(Style::Points));
        let svg = render_svg(&fig).unwrap();
        assert!(svg.contains("1e-2") || svg.contains("1e-1"), "{svg}");
        assert_eq!(tick_label(Scale::Log, -3.0), "1e-3");
        assert_eq!(tick_label(Scale::Log, 0.5), "3.162");
    }
}
