//! Charts as inline SVG, generated on the server: no script, no fetched asset,
//! readable by assistive technology through `role="img"` and a title; every
//! chart is followed by (or sits beside) a table or figures with the same data.

use std::fmt::Write as _;

use crate::html::esc;

/// Horizontal bars: one row per (label, value, shown text). Negative values count as 0.
pub fn hbars(title: &str, rows: &[(String, f64, String)]) -> String {
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max);
    let row_h = 26;
    let label_w = 190;
    let bar_w = 380;
    let height = rows.len() as i32 * row_h + 8;
    let mut s = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\"><title>{t}</title>",
        t = esc(title),
        w = label_w + bar_w + 120
    );
    for (i, (label, value, shown)) in rows.iter().enumerate() {
        let y = i as i32 * row_h + 4;
        let len = if max > 0.0 && value.is_finite() { ((value.max(0.0) / max) * bar_w as f64).round() as i32 } else { 0 };
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" class=\"lbl\">{l}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{len}\" height=\"{bh}\" class=\"bar\"/>\
             <text x=\"{vx}\" y=\"{ty}\" class=\"val\">{v}</text>",
            lx = label_w - 8,
            ty = y + 15,
            l = esc(&shorten(label, 28)),
            bh = row_h - 8,
            vx = label_w + len + 6,
            v = esc(shown)
        );
    }
    s.push_str("</svg>");
    s
}

/// Stacked horizontal bars: one row per (label, parts); part `i` gets class `seg-i`.
pub fn stacked(title: &str, rows: &[(String, Vec<i64>)]) -> String {
    let max = rows.iter().map(|r| r.1.iter().map(|v| v.max(&0)).sum::<i64>()).max().unwrap_or(0);
    let (row_h, label_w, bar_w) = (26, 230, 420);
    let height = rows.len() as i32 * row_h + 8;
    let mut s = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\"><title>{t}</title>",
        t = esc(title),
        w = label_w + bar_w + 60
    );
    for (i, (label, parts)) in rows.iter().enumerate() {
        let y = i as i32 * row_h + 4;
        let _ =
            write!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"lbl\">{}</text>", label_w - 8, y + 15, esc(&shorten(label, 34)));
        let mut x = label_w;
        for (j, v) in parts.iter().enumerate() {
            let len = if max > 0 { ((*v).max(0) as f64 / max as f64 * bar_w as f64).round() as i32 } else { 0 };
            let _ = write!(s, "<rect x=\"{x}\" y=\"{y}\" width=\"{len}\" height=\"{}\" class=\"seg-{j}\"/>", row_h - 8);
            x += len;
        }
        let total: i64 = parts.iter().sum();
        let _ = write!(s, "<text x=\"{}\" y=\"{}\" class=\"val\">{total}</text>", x + 6, y + 15);
    }
    s.push_str("</svg>");
    s
}

/// A line over labelled points; `None` leaves a gap (not available).
pub fn line(title: &str, points: &[(String, Option<f64>)], width: i32, height: i32) -> String {
    let known: Vec<f64> = points.iter().filter_map(|p| p.1).filter(|v| v.is_finite()).collect();
    let (lo, hi) = match (known.iter().copied().reduce(f64::min), known.iter().copied().reduce(f64::max)) {
        (Some(lo), Some(hi)) if hi > lo => (lo, hi),
        (Some(v), Some(_)) => (v - 1.0, v + 1.0),
        _ => (0.0, 1.0),
    };
    let pad_x = 24;
    let top = if height >= 100 { 22 } else { 10 };
    let bottom = height - 18;
    let n = points.len().max(1) as i32;
    let step = if n > 1 { (width - 2 * pad_x) / (n - 1) } else { 0 };
    let x_of = |i: usize| if n > 1 { pad_x + i as i32 * step } else { width / 2 };
    let y_of = |v: f64| bottom - (((v - lo) / (hi - lo)) * (bottom - top) as f64).round() as i32;
    let mut s = format!(
        "<svg class=\"chart line\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\"><title>{t}</title>\
         <line x1=\"{pad_x}\" y1=\"{bottom}\" x2=\"{x2}\" y2=\"{bottom}\" class=\"axis\"/>",
        t = esc(title),
        x2 = width - pad_x
    );
    let mut path = String::new();
    for (i, (_, v)) in points.iter().enumerate() {
        match v.filter(|v| v.is_finite()) {
            Some(v) => {
                let cmd = if path.is_empty() || path.ends_with('|') { 'M' } else { 'L' };
                let _ = write!(path, "{cmd}{} {} ", x_of(i), y_of(v));
            }
            None => path.push('|'),
        }
    }
    let path = path.replace('|', "");
    if !path.is_empty() {
        let _ = write!(s, "<path d=\"{}\" class=\"trend\"/>", path.trim());
    }
    for (i, (label, v)) in points.iter().enumerate() {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            let _ = write!(s, "<circle cx=\"{}\" cy=\"{}\" r=\"3\" class=\"dot\"/>", x_of(i), y_of(v));
            // Large charts print each value above its point; sparklines stay bare.
            if height >= 100 {
                let shown = if v.fract() == 0.0 { crate::html::int(v as i64) } else { format!("{v:.2}").replace('.', ",") };
                let _ = write!(
                    s,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"val\">{}</text>",
                    x_of(i),
                    (y_of(v) - 7).max(10),
                    esc(&shown)
                );
            }
        }
        let _ = write!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"lbl\">{}</text>", x_of(i), height - 4, esc(label));
    }
    s.push_str("</svg>");
    s
}

/// A budget line's position: consumed (executed + committed) over the authorised credits.
pub fn budget_bar(label: &str, authorised: i64, consumed: i64) -> String {
    let w = 160;
    let filled = if authorised > 0 { ((consumed.max(0) as f64 / authorised as f64).min(1.0) * w as f64).round() as i32 } else { 0 };
    let over = if consumed > authorised { " over" } else { "" };
    format!(
        "<svg class=\"chart budget\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} 14\" width=\"{w}\" height=\"14\"><title>{t}</title>\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"14\" class=\"track\"/><rect x=\"0\" y=\"0\" width=\"{filled}\" height=\"14\" class=\"used{over}\"/></svg>",
        t = esc(label)
    )
}

/// Parses a French or English displayed number ("12,5 %", "1 234", "-3.2") for charts.
pub fn number(display: &str) -> Option<f64> {
    let cleaned: String = display
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '-' | '−'))
        .map(|c| match c {
            ',' => '.',
            '−' => '-',
            c => c,
        })
        .collect();
    if cleaned.is_empty() || !cleaned.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    cleaned.parse().ok()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { format!("{}…", s.chars().take(max - 1).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let svg = hbars("t", &[("<a>".into(), 10.0, "10".into()), ("b".into(), 5.0, "5".into()), ("c".into(), -1.0, "-1".into())]);
        assert!(svg.contains("width=\"380\""));
        assert!(svg.contains("width=\"190\" height"));
        assert!(svg.contains("&lt;a&gt;"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn lines_leave_gaps_and_never_print_nan() {
        let svg = line("t", &[("2022".into(), Some(1.0)), ("2023".into(), None), ("2024".into(), Some(3.0))], 200, 80);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("M24 "));
        assert!(!svg.contains("NaN"));
        let flat = line("t", &[("a".into(), Some(2.0))], 100, 50);
        assert!(!flat.contains("NaN"));
    }

    #[test]
    fn stacked_bars_share_one_scale() {
        let svg = stacked("t", &[("a".into(), vec![1, 1, 2]), ("b".into(), vec![2, 0, 0])]);
        assert!(svg.contains("width=\"210\" height=\"18\" class=\"seg-2\""));
        assert!(svg.contains("width=\"210\" height=\"18\" class=\"seg-0\""));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn numbers_from_displays() {
        assert_eq!(number("12,5 %"), Some(12.5));
        assert_eq!(number("−3.25"), Some(-3.25));
        assert_eq!(number("NC"), None);
    }

    #[test]
    fn budget_bar_is_capped_and_marks_overruns() {
        assert!(budget_bar("x", 100, 150).contains("width=\"160\" height=\"14\" class=\"used over\""));
        assert!(budget_bar("x", 0, 0).contains("width=\"0\""));
    }
}
