//! A preview of sampled schedules in the terminal, drawn with braille characters.
//!
//! Each character cell holds 2 × 4 dots, so a 64 × 16 cell chart has 128 × 64 dots.

use crate::analysis::format_number;
use crate::plot::{Series, format_step};

/// ANSI colours for the series, in order, when colour is on.
const COLOURS: [&str; 6] = ["34", "33", "32", "31", "35", "36"];

/// Draws `series` as a braille chart `width` × `height` characters (plus axis labels and a
/// legend); with `colour`, each series gets an ANSI colour (cells shared by several
/// series take the colour of the last one drawn). Without colour, the series share one
/// look and the legend only names them.
///
/// # Examples
///
/// ```
/// use cadence_cli::plot::Series;
///
/// let s = Series { label: "linear".into(), values: (0..100).map(|t| 1.0 - t as f64 / 100.0).collect() };
/// let chart = cadence_cli::terminal::braille(&[s], 40, 8, false);
/// assert_eq!(chart.lines().count(), 8 + 2 + 1);
/// assert!(chart.contains('⠁') || chart.contains('⠉') || chart.contains('⠈'));
/// assert!(chart.contains("linear"));
/// ```
pub fn braille(series: &[Series], width: usize, height: usize, colour: bool) -> String {
    let (width, height) = (width.max(8), height.max(2));
    let (dots_x, dots_y) = (2 * width, 4 * height);
    let finite = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if !lo.is_finite() {
        return "nothing to plot: no finite value\n".into();
    }
    let lo = lo.min(0.0);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let steps = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let row_of = |v: f64| {
        let r = ((hi - v) / span * (dots_y - 1) as f64).round();
        r.clamp(0.0, (dots_y - 1) as f64) as usize
    };
    // cells[row][col] = (dot bits, index of the series that drew last)
    let mut cells = vec![vec![(0u8, usize::MAX); width]; height];
    for (k, s) in series.iter().enumerate() {
        let n = s.values.len();
        if n == 0 {
            continue;
        }
        let mut previous: Option<usize> = None;
        for x in 0..dots_x {
            // The steps this dot column covers, drawn as the span of their values.
            let first = x * n / dots_x;
            let last = ((x + 1) * n / dots_x).max(first + 1).min(n);
            let column = s.values[first..last]
                .iter()
                .copied()
                .filter(|v| v.is_finite());
            let (cmin, cmax) = column.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
            if !cmin.is_finite() {
                previous = None;
                continue;
            }
            let (mut top, mut bottom) = (row_of(cmax), row_of(cmin));
            if let Some(p) = previous {
                top = top.min(p);
                bottom = bottom.max(p);
            }
            for y in top..=bottom {
                set_dot(&mut cells, x, y, k);
            }
            previous = Some(row_of(s.values[last - 1]));
        }
    }
    let mid_row = height / 2;
    let labels: Vec<String> = (0..height)
        .map(|r| {
            if r == 0 {
                format_number(hi)
            } else if r == height - 1 {
                format_number(lo)
            } else if r == mid_row {
                // The value at the middle of this row of dots.
                format_number(hi - span * (4.0 * r as f64 + 1.5) / (dots_y - 1) as f64)
            } else {
                String::new()
            }
        })
        .collect();
    let label_width = labels.iter().map(String::len).max().unwrap_or(1);
    let mut out = String::new();
    for (label, row) in labels.iter().zip(&cells) {
        out.push_str(&format!("{label:>label_width$} ┤"));
        for &(bits, k) in row {
            let c = char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' ');
            if colour && bits != 0 && k != usize::MAX {
                out.push_str(&format!("\x1b[{}m{c}\x1b[0m", COLOURS[k % COLOURS.len()]));
            } else {
                out.push(c);
            }
        }
        out.push('\n');
    }
    let end = format_step(steps.saturating_sub(1) as f64);
    out.push_str(&format!("{:label_width$} └{}\n", "", "─".repeat(width)));
    out.push_str(&format!(
        "{:label_width$}  0{:>w$}\n",
        "",
        end,
        w = width.saturating_sub(1)
    ));
    let legend: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(k, s)| {
            if colour {
                format!("\x1b[{}m━━\x1b[0m {}", COLOURS[k % COLOURS.len()], s.label)
            } else {
                format!("━━ {}", s.label)
            }
        })
        .collect();
    out.push_str(&format!("{:label_width$}  {}\n", "", legend.join("   ")));
    out
}

/// Sets the braille dot at dot column `x`, dot row `y`.
fn set_dot(cells: &mut [Vec<(u8, usize)>], x: usize, y: usize, series: usize) {
    // Braille dot bits: column 0 rows 0-3 = 0x01 0x02 0x04 0x40; column 1 = 0x08 0x10 0x20 0x80.
    const BITS: [[u8; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
    let cell = &mut cells[y / 4][x / 2];
    cell.0 |= BITS[x % 2][y % 4];
    cell.1 = series;
}
