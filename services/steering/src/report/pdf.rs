//! A small PDF 1.4 writer, enough for the report: A4 pages, the standard
//! Type 1 fonts Helvetica and Helvetica-Bold in WinAnsiEncoding (so French
//! accents need no embedded font), text, lines, rectangles and polylines,
//! and an exact cross-reference table. Written here rather than taken from
//! a crate: the report needs a few operators, a deployed job has no
//! browser or external program, and the output must be byte-stable (no
//! clock, no random id, no compression).
//!
//! [`render`] lays a [`Doc`] out on pages: wrapped paragraphs, tables that
//! break across pages with their header repeated, charts, page numbers.

use std::fmt::Write as _;

use super::charts::{self, Anchor, Rgb, Shape};
use super::doc::{Block, Doc, Table, Tone};

/// A4 portrait, in points.
pub const PAGE_W: f64 = 595.28;
pub const PAGE_H: f64 = 841.89;
const MARGIN: f64 = 50.0;
const TEXT_W: f64 = PAGE_W - 2.0 * MARGIN;
const TOP: f64 = PAGE_H - MARGIN;
/// Lowest y of the body (the footer is below).
const BOTTOM: f64 = MARGIN + 10.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
        }
    }
}

// Advance widths (thousandths of the size) of the printable ASCII glyphs
// 32..=126, from the Adobe font metrics of the 14 standard fonts.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278,
    278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722,
    667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556,
    556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333,
    333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722,
    667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611,
    611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// The WinAnsiEncoding byte of `c`; characters outside it become a close
/// ASCII form or `?`.
pub fn winansi(c: char) -> Vec<u8> {
    let code = c as u32;
    let single = match c {
        ' '..='~' => Some(code as u8),
        '\u{a0}'..='\u{ff}' => Some(code as u8),
        '€' => Some(0x80),
        '‚' => Some(0x82),
        '„' => Some(0x84),
        '…' => Some(0x85),
        '‰' => Some(0x89),
        'Š' => Some(0x8a),
        '‹' => Some(0x8b),
        'Œ' => Some(0x8c),
        '‘' => Some(0x91),
        '’' => Some(0x92),
        '“' => Some(0x93),
        '”' => Some(0x94),
        '•' => Some(0x95),
        '–' => Some(0x96),
        '—' => Some(0x97),
        '™' => Some(0x99),
        'š' => Some(0x9a),
        '›' => Some(0x9b),
        'œ' => Some(0x9c),
        'Ÿ' => Some(0x9f),
        // Narrow and other spaces print as a space.
        '\u{2009}' | '\u{202f}' | '\u{2007}' | '\t' => Some(b' '),
        '\n' | '\r' => Some(b' '),
        _ => None,
    };
    match single {
        Some(b) => vec![b],
        None => match c {
            '≥' => b">=".to_vec(),
            '≤' => b"<=".to_vec(),
            '→' => b"->".to_vec(),
            '−' | '‑' => b"-".to_vec(),
            '²' => vec![0xb2],
            _ => b"?".to_vec(),
        },
    }
}

/// `s` in WinAnsiEncoding.
pub fn encode(s: &str) -> Vec<u8> {
    s.chars().flat_map(winansi).collect()
}

/// Width of one WinAnsi byte, in thousandths of the size.
fn byte_width(font: Font, b: u8) -> u16 {
    let table = match font {
        Font::Regular => &HELVETICA,
        Font::Bold => &HELVETICA_BOLD,
    };
    let ascii = |c: u8| table.get(usize::from(c.saturating_sub(32))).copied().unwrap_or(556);
    match b {
        32..=126 => ascii(b),
        // Accented letters take the width of their base letter.
        0xc0..=0xc5 => ascii(b'A'),
        0xc7 => ascii(b'C'),
        0xc8..=0xcb => ascii(b'E'),
        0xcc..=0xcf => ascii(b'I'),
        0xd2..=0xd6 | 0xd8 => ascii(b'O'),
        0xd9..=0xdc => ascii(b'U'),
        0xe0..=0xe5 => ascii(b'a'),
        0xe7 => ascii(b'c'),
        0xe8..=0xeb => ascii(b'e'),
        0xec..=0xef => ascii(b'i'),
        0xf1 => ascii(b'n'),
        0xf2..=0xf6 | 0xf8 => ascii(b'o'),
        0xf9..=0xfc => ascii(b'u'),
        0xa0 => ascii(b' '),
        0x85 | 0x97 | 0x89 => 1000,
        0x8c => 1000,
        0x9c => 944,
        0x91 | 0x92 => 278,
        0xb0 => 400,
        0xb2 => 333,
        _ => 556,
    }
}

/// Width of `s` at `size` points.
pub fn text_width(font: Font, size: f64, s: &str) -> f64 {
    encode(s).iter().map(|b| f64::from(byte_width(font, *b))).sum::<f64>() * size / 1000.0
}

/// A number as written in a content stream: at most two decimals, no exponent.
fn num(v: f64) -> String {
    let v = if v.is_finite() { (v * 100.0).round() / 100.0 } else { 0.0 };
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.').to_owned();
    if s == "-0" || s.is_empty() { "0".into() } else { s }
}

/// A PDF literal string of WinAnsi text: `(`, `)` and `\` escaped, bytes
/// outside printable ASCII as octal escapes (the file stays ASCII).
pub fn literal(s: &str) -> String {
    let mut out = String::from("(");
    for b in encode(s) {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            32..=126 => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push(')');
    out
}

/// A text string of the document information (PDFDocEncoding lacks some
/// characters WinAnsi has): UTF-16BE with its byte-order mark, in hex.
fn utf16_hex(s: &str) -> String {
    let mut out = String::from("<FEFF");
    for u in s.encode_utf16() {
        let _ = write!(out, "{u:04X}");
    }
    out.push('>');
    out
}

fn color(c: Rgb) -> String {
    format!("{} {} {}", num(f64::from(c.0) / 255.0), num(f64::from(c.1) / 255.0), num(f64::from(c.2) / 255.0))
}

/// The content stream of one page (PDF coordinates: y upwards).
#[derive(Debug, Default, Clone)]
pub struct Page {
    ops: String,
}

impl Page {
    pub fn text(&mut self, x: f64, y: f64, size: f64, font: Font, c: Rgb, s: &str) {
        let _ =
            writeln!(self.ops, "BT /{} {} Tf {} rg {} {} Td {} Tj ET", font.resource(), num(size), color(c), num(x), num(y), literal(s));
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, width: f64, c: Rgb) {
        let _ = writeln!(self.ops, "{} w {} RG {} {} m {} {} l S", num(width), color(c), num(x1), num(y1), num(x2), num(y2));
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: Rgb) {
        let _ = writeln!(self.ops, "{} rg {} {} {} {} re f", color(fill), num(x), num(y), num(w), num(h));
    }

    pub fn polyline(&mut self, points: &[(f64, f64)], width: f64, c: Rgb) {
        let Some(((x0, y0), rest)) = points.split_first() else { return };
        let _ = write!(self.ops, "{} w {} RG 1 j {} {} m", num(width), color(c), num(*x0), num(*y0));
        for (x, y) in rest {
            let _ = write!(self.ops, " {} {} l", num(*x), num(*y));
        }
        self.ops.push_str(" S\n");
    }
}

/// Assembles pages into a PDF file. `created` is `YYYYMMDDHHMMSS` (UTC).
pub fn assemble(pages: &[Page], title: &str, created: &str) -> Vec<u8> {
    let n = pages.len();
    // Objects: 1 catalog, 2 page tree, 3-4 fonts, 5 info, then a page and its content per page.
    let mut objects: Vec<String> = Vec::with_capacity(5 + 2 * n);
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids = (0..n).map(|i| format!("{} 0 R", 6 + 2 * i)).collect::<Vec<_>>().join(" ");
    objects.push(format!("<< /Type /Pages /Kids [{kids}] /Count {n} >>"));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into());
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>".into());
    objects.push(format!("<< /Title {} /Producer (filieris-steering) /CreationDate (D:{created}Z) >>", utf16_hex(title)));
    for (i, p) in pages.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
            num(PAGE_W),
            num(PAGE_H),
            7 + 2 * i
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{}endstream", p.ops.len(), p.ops));
    }
    let mut out = String::from("%PDF-1.4\n%\u{e2}\u{e3}\u{cf}\u{d3}\n");
    // The binary marker above is 4 two-byte UTF-8 chars; offsets are byte offsets of `out`.
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        let _ = write!(out, "{} 0 obj\n{body}\nendobj\n", i + 1);
    }
    let xref = out.len();
    let _ = write!(out, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        let _ = writeln!(out, "{o:010} 00000 n ");
    }
    let _ = write!(out, "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
    out.into_bytes()
}

/// Splits `s` into lines of at most `width` points; a word longer than a
/// line is cut.
pub fn wrap(s: &str, font: Font, size: f64, width: f64) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in s.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if text_width(font, size, &candidate) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: cut it where it overflows.
            for c in word.chars() {
                let next = format!("{line}{c}");
                if text_width(font, size, &next) > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = next;
                }
            }
        }
        lines.push(line);
    }
    lines
}

const INK: Rgb = charts::INK;
const MUTED: Rgb = (96, 96, 96);
const RULE: Rgb = (170, 170, 170);
const HEAD_BG: Rgb = (224, 230, 236);
const TITLE: Rgb = (20, 60, 110);

fn tone_bg(t: Tone) -> Option<Rgb> {
    match t {
        Tone::Plain => None,
        Tone::Good => Some((220, 242, 220)),
        Tone::Bad => Some((248, 214, 214)),
        Tone::Warn => Some((252, 232, 200)),
        Tone::Muted => Some((240, 240, 240)),
        Tone::Total => Some((232, 236, 240)),
    }
}

/// Lays the document out page by page.
struct Layout {
    pages: Vec<Page>,
    y: f64,
}

impl Layout {
    fn page(&mut self) -> &mut Page {
        if self.pages.is_empty() {
            self.pages.push(Page::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = TOP;
    }

    /// Starts a new page unless `h` points fit above the bottom margin.
    fn ensure(&mut self, h: f64) {
        if self.y - h < BOTTOM {
            self.new_page();
        }
    }

    fn lines(&mut self, s: &str, font: Font, size: f64, c: Rgb, indent: f64) {
        let leading = size * 1.3;
        for line in wrap(s, font, size, TEXT_W - indent) {
            self.ensure(leading);
            self.y -= leading;
            let y = self.y + size * 0.25;
            self.page().text(MARGIN + indent, y, size, font, c, &line);
        }
    }

    fn cover(&mut self, title: &str, lines: &[String]) {
        self.y = TOP - 180.0;
        let bar = self.y + 40.0;
        self.page().rect(MARGIN, bar, TEXT_W, 6.0, TITLE);
        for l in wrap(title, Font::Bold, 24.0, TEXT_W) {
            self.y -= 30.0;
            let y = self.y;
            self.page().text(MARGIN, y, 24.0, Font::Bold, TITLE, &l);
        }
        self.y -= 20.0;
        for l in lines {
            self.lines(l, Font::Regular, 12.0, INK, 0.0);
            self.y -= 4.0;
        }
        self.new_page();
    }

    fn heading(&mut self, level: u8, text: &str) {
        if level == 1 {
            if self.y < TOP - 1.0 {
                self.new_page();
            }
            self.lines(text, Font::Bold, 16.0, TITLE, 0.0);
            let y = self.y - 4.0;
            self.page().line(MARGIN, y, MARGIN + TEXT_W, y, 1.0, TITLE);
            self.y -= 14.0;
        } else {
            // Keep a heading with at least a few lines of what follows.
            self.ensure(60.0);
            self.y -= 6.0;
            self.lines(text, Font::Bold, 12.0, TITLE, 0.0);
            self.y -= 4.0;
        }
    }

    fn figures(&mut self, figures: &[super::doc::Figure]) {
        let per_row = 3usize;
        let gap = 8.0;
        let w = (TEXT_W - gap * (per_row as f64 - 1.0)) / per_row as f64;
        for chunk in figures.chunks(per_row) {
            let label_lines: Vec<Vec<String>> = chunk.iter().map(|f| wrap(&f.label, Font::Regular, 7.5, w - 12.0)).collect();
            let h = 34.0 + 9.5 * label_lines.iter().map(Vec::len).max().unwrap_or(1) as f64;
            self.ensure(h + gap);
            let top = self.y;
            for (i, (f, label)) in chunk.iter().zip(&label_lines).enumerate() {
                let x = MARGIN + (w + gap) * i as f64;
                let page = self.page();
                page.rect(x, top - h, w, h, (236, 242, 248));
                page.rect(x, top - h, 3.0, h, TITLE);
                let value = charts::fit(&f.value, 15.0, w - 14.0);
                page.text(x + 9.0, top - 22.0, 15.0, Font::Bold, TITLE, &value);
                for (k, l) in label.iter().enumerate() {
                    page.text(x + 9.0, top - 36.0 - 9.5 * k as f64, 7.5, Font::Regular, INK, l);
                }
            }
            self.y = top - h - gap;
        }
        self.y -= 4.0;
    }

    fn table(&mut self, t: &Table) {
        let total: f64 = t.widths.iter().sum::<f64>().max(1.0);
        let widths: Vec<f64> = t.widths.iter().map(|w| w / total * TEXT_W).collect();
        let size = t.font_size;
        let leading = size * 1.22;
        let pad = 2.5;
        let cells = |cells: &[String], font: Font| -> Vec<Vec<String>> {
            widths
                .iter()
                .enumerate()
                .map(|(i, w)| wrap(cells.get(i).map(String::as_str).unwrap_or(""), font, size, w - 2.0 * pad))
                .collect()
        };
        let header = cells(&t.headers, Font::Bold);
        let height = |c: &[Vec<String>]| c.iter().map(Vec::len).max().unwrap_or(1).max(1) as f64 * leading + 2.0 * pad;
        let header_h = height(&header);
        let draw = |page: &mut Page, y: f64, c: &[Vec<String>], h: f64, font: Font, bg: Option<Rgb>, numeric: &[bool]| {
            if let Some(bg) = bg {
                page.rect(MARGIN, y - h, TEXT_W, h, bg);
            }
            let mut x = MARGIN;
            for (i, w) in widths.iter().enumerate() {
                for (k, line) in c.get(i).into_iter().flatten().enumerate() {
                    let ty = y - pad - leading * (k as f64 + 1.0) + size * 0.25;
                    let tx = if numeric.get(i).copied().unwrap_or(false) { x + w - pad - text_width(font, size, line) } else { x + pad };
                    page.text(tx, ty, size, font, INK, line);
                }
                x += w;
            }
            page.line(MARGIN, y - h, MARGIN + TEXT_W, y - h, 0.4, RULE);
        };
        let rows: Vec<(Vec<Vec<String>>, Font)> = t
            .rows
            .iter()
            .map(|row| {
                let font = if row.tone == Tone::Total { Font::Bold } else { Font::Regular };
                (cells(&row.cells, font), font)
            })
            .collect();
        let whole = header_h + rows.iter().map(|(c, _)| height(c)).sum::<f64>();
        // A short table is kept on one page; a long one starts where it is and breaks.
        if whole <= (TOP - BOTTOM) * 0.4 {
            self.ensure(whole);
        } else {
            self.ensure(header_h + leading * 2.0 + 2.0 * pad);
        }
        let y = self.y;
        draw(self.page(), y, &header, header_h, Font::Bold, Some(HEAD_BG), &t.numeric);
        self.y -= header_h;
        for (row, (c, font)) in t.rows.iter().zip(rows) {
            let h = height(&c);
            if self.y - h < BOTTOM {
                // The table goes on on the next page, under its header again.
                self.new_page();
                let y = self.y;
                draw(self.page(), y, &header, header_h, Font::Bold, Some(HEAD_BG), &t.numeric);
                self.y -= header_h;
            }
            let y = self.y;
            draw(self.page(), y, &c, h, font, tone_bg(row.tone), &t.numeric);
            self.y -= h;
        }
        self.y -= 10.0;
    }

    fn chart(&mut self, chart: &charts::Chart) {
        let d = charts::draw(chart);
        let scale = (TEXT_W / d.width).min(1.0);
        self.ensure(d.height * scale + 24.0);
        self.lines(&chart.title, Font::Bold, 9.5, INK, 0.0);
        self.y -= 4.0;
        let (x0, top) = (MARGIN + (TEXT_W - d.width * scale) / 2.0, self.y);
        let at = |x: f64, y: f64| (x0 + x * scale, top - y * scale);
        let page = self.page();
        for s in &d.shapes {
            match s {
                Shape::Line { x1, y1, x2, y2, width, color } => {
                    let (a, b) = (at(*x1, *y1), at(*x2, *y2));
                    page.line(a.0, a.1, b.0, b.1, *width, *color);
                }
                Shape::Rect { x, y, w, h, fill } => {
                    let (a, _) = (at(*x, *y + *h), ());
                    page.rect(a.0, a.1, w * scale, h * scale, *fill);
                }
                Shape::Polyline { points, width, color } => {
                    let pts: Vec<(f64, f64)> = points.iter().map(|(x, y)| at(*x, *y)).collect();
                    page.polyline(&pts, *width, *color);
                }
                Shape::Text { x, y, size, text, anchor, bold, color } => {
                    let font = if *bold { Font::Bold } else { Font::Regular };
                    let size = size * scale;
                    let w = text_width(font, size, text);
                    let (px, py) = at(*x, *y);
                    let px = match anchor {
                        Anchor::Start => px,
                        Anchor::Middle => px - w / 2.0,
                        Anchor::End => px - w,
                    };
                    page.text(px, py, size, font, *color, text);
                }
            }
        }
        self.y = top - d.height * scale - 4.0;
        if !chart.note.is_empty() {
            self.lines(&chart.note, Font::Regular, 7.5, MUTED, 0.0);
        }
        self.y -= 10.0;
    }
}

/// The PDF of the document.
pub fn render(doc: &Doc) -> Vec<u8> {
    let mut l = Layout { pages: vec![Page::default()], y: TOP };
    for b in &doc.blocks {
        match b {
            Block::Cover { title, lines } => l.cover(title, lines),
            Block::Heading { level, text } => l.heading(*level, text),
            Block::Para(t) => {
                l.lines(t, Font::Regular, 9.5, INK, 0.0);
                l.y -= 5.0;
            }
            Block::Note(t) => {
                l.lines(t, Font::Regular, 7.5, MUTED, 0.0);
                l.y -= 5.0;
            }
            Block::Figures(f) => l.figures(f),
            Block::Table(t) => l.table(t),
            Block::Chart(c) => l.chart(c),
        }
    }
    // A cover page followed by nothing leaves an empty last page: drop it.
    if l.pages.len() > 1 && l.pages.last().is_some_and(|p| p.ops.is_empty()) {
        l.pages.pop();
    }
    let n = l.pages.len();
    for (i, p) in l.pages.iter_mut().enumerate() {
        p.line(MARGIN, MARGIN - 6.0, MARGIN + TEXT_W, MARGIN - 6.0, 0.4, RULE);
        p.text(MARGIN, MARGIN - 18.0, 7.5, Font::Regular, MUTED, &doc.footer);
        let number = format!("{} / {n}", i + 1);
        p.text(MARGIN + TEXT_W - text_width(Font::Regular, 7.5, &number), MARGIN - 18.0, 7.5, Font::Regular, MUTED, &number);
    }
    assemble(&l.pages, &doc.title, &doc.created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::doc::{Figure, Row};

    /// Checks the cross-reference table against the objects' real offsets;
    /// returns the number of objects.
    fn check_xref(pdf: &[u8]) -> usize {
        let text = String::from_utf8_lossy(pdf);
        let start: usize =
            text.rsplit("startxref\n").next().and_then(|t| t.lines().next()).and_then(|n| n.parse().ok()).expect("startxref");
        assert!(pdf[start..].starts_with(b"xref\n"), "startxref points at the xref table");
        let table = std::str::from_utf8(&pdf[start..]).expect("ascii xref");
        let mut lines = table.lines().skip(1);
        let count: usize = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|n| n.parse().ok()).expect("count");
        assert_eq!(lines.next(), Some("0000000000 65535 f "));
        for i in 1..count {
            let entry = lines.next().expect("entry");
            assert_eq!(entry.len(), 19, "20 bytes with the newline: {entry:?}");
            let offset: usize = entry[..10].parse().expect("offset");
            let header = format!("{i} 0 obj\n");
            assert!(pdf[offset..].starts_with(header.as_bytes()), "object {i} at {offset}");
        }
        assert!(text.ends_with("%%EOF\n"));
        count - 1
    }

    fn page_count(pdf: &[u8]) -> usize {
        let text = String::from_utf8_lossy(pdf);
        text.split("/Type /Pages /Kids [")
            .nth(1)
            .and_then(|t| t.split("/Count ").nth(1))
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("count")
    }

    #[test]
    fn strings_are_escaped_and_accents_are_winansi() {
        assert_eq!(literal("a(b)c\\"), "(a\\(b\\)c\\\\)");
        // é = 0xE9, à = 0xE0, € = 0x80, œ = 0x9C, Œ = 0x8C, ’ = 0x92
        assert_eq!(literal("Été à 5 €"), "(\\311t\\351 \\340 5 \\200)");
        assert_eq!(encode("œuvre Œ ’"), vec![0x9c, b'u', b'v', b'r', b'e', b' ', 0x8c, b' ', 0x92]);
        assert_eq!(encode("≥ 漢"), b">= ?".to_vec());
        assert_eq!(text_width(Font::Regular, 10.0, "é"), text_width(Font::Regular, 10.0, "e"));
        assert_eq!(text_width(Font::Bold, 1000.0, "W"), 944.0);
    }

    #[test]
    fn the_file_has_exact_offsets_and_one_page_object_per_page() {
        let mut a = Page::default();
        a.text(50.0, 700.0, 12.0, Font::Bold, INK, "Rapport d'exécution (2022)");
        a.polyline(&[(1.0, 2.0), (3.0, 4.0)], 1.0, INK);
        let b = Page::default();
        let pdf = assemble(&[a, b], "COG — 2022", "20221231000000");
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert_eq!(check_xref(&pdf), 5 + 2 * 2);
        assert_eq!(page_count(&pdf), 2);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("(Rapport d'ex\\351cution \\(2022\\))"));
        assert!(text.contains("/CreationDate (D:20221231000000Z)"));
        // Each stream's /Length is its exact size.
        for part in text.split("/Length ").skip(1) {
            let (len, rest) = part.split_once(" >>\nstream\n").expect("stream");
            let len: usize = len.parse().expect("length");
            assert!(rest[len..].starts_with("endstream"), "stream length {len}");
        }
    }

    #[test]
    fn long_tables_break_across_pages_with_their_header_and_numbers() {
        let mut t = Table::new(&["Clé", "Libellé très long de l'indicateur"], &[1.0, 3.0]);
        for i in 0..120 {
            t.rows.push(Row::new(vec![format!("K{i}"), "mot ".repeat(i % 30 + 1)]));
        }
        let doc = Doc {
            title: "t".into(),
            footer: "pied".into(),
            created: "20221231000000".into(),
            blocks: vec![
                Block::Cover { title: "Titre".into(), lines: vec!["ligne".into()] },
                Block::Heading { level: 1, text: "Chapitre".into() },
                Block::Figures(vec![Figure { value: "12".into(), label: "indicateurs".into() }]),
                Block::Table(t),
            ],
        };
        let pdf = render(&doc);
        let pages = page_count(&pdf);
        assert!(pages >= 4, "{pages}");
        assert_eq!(check_xref(&pdf), 5 + 2 * pages);
        let text = String::from_utf8_lossy(&pdf);
        assert_eq!(text.matches("(Cl\\351) Tj").count(), pages - 1, "the header on every page of the table");
        assert!(text.contains(&format!("({pages} / {pages}) Tj")));
        assert_eq!(render(&doc), pdf, "same document, same bytes");
    }

    #[test]
    fn wrapping_keeps_lines_within_the_width() {
        let lines =
            wrap("Taux d'ouverture en nombre de patients en médecine générale COG22.FINRES.12345678901234567890", Font::Regular, 8.0, 60.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| text_width(Font::Regular, 8.0, l) <= 60.0), "{lines:?}");
        assert_eq!(wrap("", Font::Regular, 8.0, 60.0), vec![String::new()]);
    }
}
