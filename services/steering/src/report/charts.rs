//! Charts of the report, drawn once as a list of shapes in a local box
//! (points, y downwards) and emitted as inline SVG for the HTML page and as
//! PDF drawing operators for the PDF: both outputs show the same figure.
//! Coordinates are rounded to a tenth when written, so the same data gives
//! the same bytes; missing or non-finite values are gaps, never NaN.

use std::fmt::Write as _;

use super::pdf::{Font, text_width};
use super::text::{fr_number, html_escape};

/// An RGB colour.
pub type Rgb = (u8, u8, u8);

/// Palette shared by the charts and the tables.
pub const BLUE: Rgb = (31, 119, 180);
pub const ORANGE: Rgb = (230, 126, 34);
pub const GREEN: Rgb = (46, 125, 50);
pub const RED: Rgb = (192, 57, 43);
pub const GREY: Rgb = (176, 190, 197);
pub const YELLOW: Rgb = (249, 168, 37);
pub const PURPLE: Rgb = (123, 82, 171);
pub const INK: Rgb = (33, 33, 33);
pub const AXIS: Rgb = (120, 120, 120);
pub const GRID: Rgb = (225, 225, 225);

/// How the series are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One line per series across the categories (a trend).
    Lines,
    /// Vertical bars grouped per category, one per series.
    Bars,
    /// One horizontal bar per category, the series stacked (counts).
    StackedBars,
}

/// A named series of values aligned on the chart's categories.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: Rgb,
    /// One per category; `None` is a gap (no data).
    pub values: Vec<Option<f64>>,
}

/// A chart and its data (also written as CSV).
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File-name friendly id (`opening_rate_by_month`).
    pub id: String,
    pub title: String,
    /// Unit of the values, shown on the axis ("%", "M€", "actions").
    pub unit: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub kind: Kind,
    /// Decimals of the value labels.
    pub decimals: usize,
    /// Shown under the chart (source, gaps).
    pub note: String,
}

/// Horizontal alignment of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// A drawing primitive, in points, y downwards from the top of the box.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Line { x1: f64, y1: f64, x2: f64, y2: f64, width: f64, color: Rgb },
    Rect { x: f64, y: f64, w: f64, h: f64, fill: Rgb },
    Polyline { points: Vec<(f64, f64)>, width: f64, color: Rgb },
    Text { x: f64, y: f64, size: f64, text: String, anchor: Anchor, bold: bool, color: Rgb },
}

/// A chart laid out in a `width` × `height` box.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    pub width: f64,
    pub height: f64,
    pub shapes: Vec<Shape>,
}

/// Width of the charts, in points (fits the A4 text width).
pub const WIDTH: f64 = 480.0;

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) giving about `target` intervals over `span`.
pub fn nice_step(span: f64, target: f64) -> f64 {
    if !span.is_finite() || span <= 0.0 {
        return 1.0;
    }
    let raw = span / target.max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 2.5 {
        2.5
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// The value axis: ticks from a multiple of the step below the minimum (or 0)
/// to one above the maximum (or 0).
fn value_axis(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi - lo <= 0.0 {
        hi = lo + 1.0;
    }
    let step = nice_step(hi - lo, 5.0);
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

fn tick_decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else if step >= 0.1 {
        1
    } else {
        2
    }
}

fn text(x: f64, y: f64, size: f64, s: &str, anchor: Anchor) -> Shape {
    Shape::Text { x, y, size, text: s.to_owned(), anchor, bold: false, color: INK }
}

/// `s` cut to fit `max` points at `size`, with an ellipsis when cut.
pub fn fit(s: &str, size: f64, max: f64) -> String {
    if text_width(Font::Regular, size, s) <= max {
        return s.to_owned();
    }
    let mut out: String = String::new();
    for c in s.chars() {
        let candidate = format!("{out}{c}…");
        if text_width(Font::Regular, size, &candidate) > max {
            break;
        }
        out.push(c);
    }
    format!("{}…", out.trim_end())
}

/// The legend along the top; returns the y below it.
fn legend(shapes: &mut Vec<Shape>, series: &[(String, Rgb)], x0: f64, width: f64) -> f64 {
    let (mut x, mut y) = (x0, 4.0);
    for (name, color) in series {
        let w = 14.0 + text_width(Font::Regular, 8.0, name) + 14.0;
        if x + w > x0 + width && x > x0 {
            x = x0;
            y += 13.0;
        }
        shapes.push(Shape::Rect { x, y: y + 1.0, w: 9.0, h: 9.0, fill: *color });
        shapes.push(text(x + 13.0, y + 9.0, 8.0, name, Anchor::Start));
        x += w;
    }
    y + 20.0
}

/// Lays the chart out.
pub fn draw(chart: &Chart) -> Drawing {
    match chart.kind {
        Kind::StackedBars => draw_stacked(chart),
        Kind::Lines | Kind::Bars => draw_xy(chart),
    }
}

fn draw_xy(chart: &Chart) -> Drawing {
    let height = 250.0;
    let mut shapes = Vec::new();
    let names: Vec<(String, Rgb)> = chart.series.iter().map(|s| (s.name.clone(), s.color)).collect();
    let top = legend(&mut shapes, &names, 50.0, WIDTH - 60.0);
    let (left, right, bottom) = (50.0, WIDTH - 10.0, height - 36.0);
    let all = chart.series.iter().flat_map(|s| s.values.iter().copied().filter_map(finite));
    let (lo, hi, step) = value_axis(all);
    let y_of = |v: f64| bottom - (v - lo) / (hi - lo) * (bottom - top);
    let decimals = tick_decimals(step);
    // Grid and tick labels; the tick count is bounded by the nice step (≤ 11).
    let ticks = ((hi - lo) / step).round() as i64;
    for i in 0..=ticks.clamp(0, 20) {
        let v = lo + step * i as f64;
        let y = y_of(v);
        shapes.push(Shape::Line { x1: left, y1: y, x2: right, y2: y, width: 0.5, color: GRID });
        shapes.push(text(left - 4.0, y + 3.0, 7.5, &fr_number(v, decimals), Anchor::End));
    }
    shapes.push(Shape::Line { x1: left, y1: top, x2: left, y2: bottom, width: 0.8, color: AXIS });
    shapes.push(Shape::Line { x1: left, y1: y_of(0.0), x2: right, y2: y_of(0.0), width: 0.8, color: AXIS });
    shapes.push(Shape::Text { x: 4.0, y: top - 6.0, size: 7.5, text: chart.unit.clone(), anchor: Anchor::Start, bold: true, color: AXIS });
    let n = chart.categories.len().max(1);
    let band = (right - left) / n as f64;
    let label_size = if n > 8 { 7.0 } else { 8.0 };
    for (i, c) in chart.categories.iter().enumerate() {
        let cx = left + band * (i as f64 + 0.5);
        shapes.push(text(cx, bottom + 12.0, label_size, &fit(c, label_size, band - 2.0), Anchor::Middle));
    }
    let has_data = chart.series.iter().any(|s| s.values.iter().any(|v| finite(*v).is_some()));
    if !has_data {
        shapes.push(text((left + right) / 2.0, (top + bottom) / 2.0, 10.0, "Aucune donnée disponible", Anchor::Middle));
    }
    match chart.kind {
        Kind::Lines => {
            for s in &chart.series {
                // A gap (no data) breaks the line.
                let mut run: Vec<(f64, f64)> = Vec::new();
                let mut runs = Vec::new();
                for (i, v) in s.values.iter().enumerate().take(n) {
                    match finite(*v) {
                        Some(v) => run.push((left + band * (i as f64 + 0.5), y_of(v))),
                        None => runs.push(std::mem::take(&mut run)),
                    }
                }
                runs.push(run);
                for r in runs.into_iter().filter(|r| !r.is_empty()) {
                    for (x, y) in &r {
                        shapes.push(Shape::Rect { x: x - 1.8, y: y - 1.8, w: 3.6, h: 3.6, fill: s.color });
                    }
                    if r.len() > 1 {
                        shapes.push(Shape::Polyline { points: r, width: 1.5, color: s.color });
                    }
                }
            }
        }
        Kind::Bars | Kind::StackedBars => {
            let k = chart.series.len().max(1) as f64;
            let bar = band * 0.8 / k;
            let labels = chart.series.len() * n <= 16;
            for (j, s) in chart.series.iter().enumerate() {
                for (i, v) in s.values.iter().enumerate().take(n) {
                    let Some(v) = finite(*v) else { continue };
                    let x = left + band * i as f64 + band * 0.1 + bar * j as f64;
                    let (y0, y1) = (y_of(0.0), y_of(v));
                    let (y, h) = if y1 < y0 { (y1, y0 - y1) } else { (y0, y1 - y0) };
                    shapes.push(Shape::Rect { x, y, w: (bar - 1.0).max(0.5), h: h.max(0.3), fill: s.color });
                    if labels {
                        let ly = if v >= 0.0 { y - 2.5 } else { y + h + 8.0 };
                        shapes.push(text(x + bar / 2.0, ly, 6.5, &fr_number(v, chart.decimals), Anchor::Middle));
                    }
                }
            }
        }
    }
    Drawing { width: WIDTH, height, shapes }
}

fn draw_stacked(chart: &Chart) -> Drawing {
    const LABEL: f64 = 170.0;
    const ROW: f64 = 24.0;
    let mut shapes = Vec::new();
    let names: Vec<(String, Rgb)> = chart.series.iter().map(|s| (s.name.clone(), s.color)).collect();
    let top = legend(&mut shapes, &names, LABEL, WIDTH - LABEL);
    let total = |i: usize| chart.series.iter().filter_map(|s| finite(s.values.get(i).copied().flatten())).map(|v| v.max(0.0)).sum::<f64>();
    let max = (0..chart.categories.len()).map(total).fold(0.0f64, f64::max).max(1.0);
    let span = WIDTH - LABEL - 40.0;
    for (i, c) in chart.categories.iter().enumerate() {
        let y = top + ROW * i as f64;
        shapes.push(text(0.0, y + 12.0, 8.0, &fit(c, 8.0, LABEL - 6.0), Anchor::Start));
        let mut x = LABEL;
        for s in &chart.series {
            let v = finite(s.values.get(i).copied().flatten()).unwrap_or(0.0).max(0.0);
            let w = span * v / max;
            if w > 0.0 {
                shapes.push(Shape::Rect { x, y, w, h: ROW - 6.0, fill: s.color });
            }
            x += w;
        }
        shapes.push(text(x + 4.0, y + 12.0, 8.0, &fr_number(total(i), chart.decimals), Anchor::Start));
    }
    let height = top + ROW * chart.categories.len() as f64 + 4.0;
    Drawing { width: WIDTH, height, shapes }
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A coordinate as written: one decimal, no "-0.0".
pub fn coord(v: f64) -> String {
    let v = if v.is_finite() { (v * 10.0).round() / 10.0 } else { 0.0 };
    let s = format!("{v:.1}");
    let s = if s == "-0.0" { "0.0".to_owned() } else { s };
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Inline SVG of a drawing (no script, no external resource).
pub fn svg(d: &Drawing, title: &str) -> String {
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" font-family=\"Helvetica, Arial, sans-serif\">\n",
        w = coord(d.width),
        h = coord(d.height),
        t = html_escape(title)
    );
    for s in &d.shapes {
        let _ = match s {
            Shape::Line { x1, y1, x2, y2, width, color } => writeln!(
                out,
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"/>",
                coord(*x1),
                coord(*y1),
                coord(*x2),
                coord(*y2),
                hex(*color),
                coord(*width)
            ),
            Shape::Rect { x, y, w, h, fill } => writeln!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
                coord(*x),
                coord(*y),
                coord(*w),
                coord(*h),
                hex(*fill)
            ),
            Shape::Polyline { points, width, color } => writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"/>",
                points.iter().map(|(x, y)| format!("{},{}", coord(*x), coord(*y))).collect::<Vec<_>>().join(" "),
                hex(*color),
                coord(*width)
            ),
            Shape::Text { x, y, size, text, anchor, bold, color } => writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"{}\"{}{} fill=\"{}\">{}</text>",
                coord(*x),
                coord(*y),
                coord(*size),
                match anchor {
                    Anchor::Start => "",
                    Anchor::Middle => " text-anchor=\"middle\"",
                    Anchor::End => " text-anchor=\"end\"",
                },
                if *bold { " font-weight=\"bold\"" } else { "" },
                hex(*color),
                html_escape(text)
            ),
        };
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: Kind, values: Vec<Option<f64>>) -> Chart {
        Chart {
            id: "t".into(),
            title: "Taux".into(),
            unit: "%".into(),
            categories: (1..=values.len()).map(|i| i.to_string()).collect(),
            series: vec![Series { name: "MG".into(), color: BLUE, values }],
            kind,
            decimals: 1,
            note: String::new(),
        }
    }

    fn numbers(svg: &str) -> Vec<String> {
        svg.split(['"', ' ', ','])
            .filter(|t| t.parse::<f64>().is_ok() || t.contains("NaN") || t.contains("inf"))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(7.0, 5.0), 2.0);
        assert_eq!(nice_step(0.0, 5.0), 1.0);
        assert_eq!(nice_step(f64::NAN, 5.0), 1.0);
        assert_eq!(value_axis([-3.0, 64.6].into_iter()), (-20.0, 80.0, 20.0));
    }

    #[test]
    fn points_scale_onto_the_plot_and_gaps_break_the_line() {
        let d = draw(&chart(Kind::Lines, vec![Some(0.0), Some(50.0), None, Some(100.0), Some(f64::NAN)]));
        let polylines: Vec<_> =
            d.shapes.iter().filter_map(|s| if let Shape::Polyline { points, .. } = s { Some(points) } else { None }).collect();
        // 0 and 50 are joined; 100 stands alone after the gap; NaN is a gap, not a point.
        assert_eq!(polylines.len(), 1);
        let (a, b) = (polylines[0][0], polylines[0][1]);
        assert!(a.1 > b.1, "a higher value is drawn higher (y grows downwards)");
        let bottom = d.height - 36.0;
        assert!((a.1 - bottom).abs() < 1e-9, "0 sits on the axis");
        let markers = d.shapes.iter().filter(|s| matches!(s, Shape::Rect { w, .. } if (*w - 3.6).abs() < 1e-9)).count();
        assert_eq!(markers, 3);
        let svg = svg(&d, "t");
        assert!(numbers(&svg).iter().all(|n| !n.contains("NaN") && !n.contains("inf")), "{svg}");
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn negative_bars_hang_below_zero_and_empty_charts_say_so() {
        let d = draw(&chart(Kind::Bars, vec![Some(-2.0), Some(4.0)]));
        let bars: Vec<_> =
            d.shapes.iter().filter_map(|s| if let Shape::Rect { y, h, .. } = s { Some((*y, *h)) } else { None }).skip(1).collect();
        // axis from -2 to 4 (step 1): zero line between the two bars
        assert_eq!(bars.len(), 2);
        assert!(bars[0].0 >= bars[1].0 + bars[1].1 - 1e-9, "the negative bar starts where the positive one ends");
        let empty = svg(&draw(&chart(Kind::Bars, vec![None, Some(f64::INFINITY)])), "t");
        assert!(empty.contains("Aucune donnée disponible"));
        assert!(!empty.contains("inf") && !empty.contains("NaN"));
    }

    #[test]
    fn stacked_bars_scale_to_the_largest_total() {
        let mut c = chart(Kind::StackedBars, vec![Some(10.0), Some(5.0)]);
        c.decimals = 0;
        c.series.push(Series { name: "en cours".into(), color: ORANGE, values: vec![Some(10.0), Some(0.0)] });
        let d = draw(&c);
        let widths: Vec<f64> =
            d.shapes.iter().filter_map(|s| if let Shape::Rect { w, h, .. } = s { (*h > 10.0).then_some(*w) } else { None }).collect();
        assert_eq!(widths.len(), 3);
        assert!((widths[0] + widths[1] - (WIDTH - 170.0 - 40.0)).abs() < 1e-9, "the largest total spans the bar area");
        assert!((widths[2] - widths[0] / 2.0).abs() < 1e-9);
        assert_eq!(svg(&d, "x"), svg(&draw(&c), "x"), "same data, same bytes");
    }

    #[test]
    fn coordinates_are_written_with_one_decimal() {
        assert_eq!(coord(1.26), "1.3");
        assert_eq!(coord(-0.01), "0");
        assert_eq!(coord(f64::NAN), "0");
        assert_eq!(coord(12.0), "12");
    }
}
