//! The HTML page of a [`Doc`]: one self-contained file (inline CSS, charts
//! as inline SVG, no script).

use std::fmt::Write as _;

use super::charts;
use super::doc::{Block, Doc};
use super::text::html_escape;

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:60em;color:#212121;line-height:1.35}\
h1{color:#143c6e;border-bottom:2px solid #143c6e;padding-bottom:.2em;margin-top:2em}h2{color:#143c6e;margin-top:1.5em}\
.cover{border-top:6px solid #143c6e;padding:2em 0 3em}.cover h1{border:0;font-size:2em;margin:0 0 .5em}\
.note{color:#606060;font-size:.8em}\
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}td,th{border-bottom:1px solid #bbb;padding:3px 5px;font-size:12px;vertical-align:top;text-align:left}\
th{background:#e0e6ec}td.n,th.n{text-align:right}td.n{white-space:nowrap}\
tr.good{background:#dcf2dc}tr.bad{background:#f8d6d6}tr.warn{background:#fce8c8}tr.muted{background:#f0f0f0}tr.total{background:#e8ecf0;font-weight:bold}\
.figures{display:flex;flex-wrap:wrap;gap:8px;margin:.5em 0 1em}.figure{background:#ecf2f8;border-left:3px solid #143c6e;padding:6px 9px;width:30%}\
.figure b{display:block;font-size:1.4em;color:#143c6e}.figure span{font-size:.8em}figure{margin:1em 0}figcaption{font-weight:bold;font-size:.9em}";

/// The HTML page of the document.
pub fn render(doc: &Doc) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{STYLE}</style></head><body>\n",
        html_escape(&doc.title)
    );
    for b in &doc.blocks {
        match b {
            Block::Cover { title, lines } => {
                let _ = writeln!(out, "<section class=\"cover\"><h1>{}</h1>", html_escape(title));
                for l in lines {
                    let _ = writeln!(out, "<p>{}</p>", html_escape(l));
                }
                out.push_str("</section>\n");
            }
            Block::Heading { level, text } => {
                let tag = if *level <= 1 { "h1" } else { "h2" };
                let _ = writeln!(out, "<{tag}>{}</{tag}>", html_escape(text));
            }
            Block::Para(t) => {
                let _ = writeln!(out, "<p>{}</p>", html_escape(t));
            }
            Block::Note(t) => {
                let _ = writeln!(out, "<p class=\"note\">{}</p>", html_escape(t));
            }
            Block::Figures(f) => {
                out.push_str("<div class=\"figures\">");
                for f in f {
                    let _ =
                        write!(out, "<div class=\"figure\"><b>{}</b><span>{}</span></div>", html_escape(&f.value), html_escape(&f.label));
                }
                out.push_str("</div>\n");
            }
            Block::Table(t) => {
                out.push_str("<table><tr>");
                for (i, h) in t.headers.iter().enumerate() {
                    let numeric = t.numeric.get(i).copied().unwrap_or(false);
                    let _ = write!(out, "<th{}>{}</th>", if numeric { " class=\"n\"" } else { "" }, html_escape(h));
                }
                out.push_str("</tr>\n");
                for r in &t.rows {
                    let class = r.tone.class();
                    if class.is_empty() {
                        out.push_str("<tr>");
                    } else {
                        let _ = write!(out, "<tr class=\"{class}\">");
                    }
                    for (i, c) in r.cells.iter().enumerate() {
                        let numeric = t.numeric.get(i).copied().unwrap_or(false);
                        let _ = write!(out, "<td{}>{}</td>", if numeric { " class=\"n\"" } else { "" }, html_escape(c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Chart(c) => {
                let _ = writeln!(out, "<figure><figcaption>{}</figcaption>", html_escape(&c.title));
                out.push_str(&charts::svg(&charts::draw(c), &c.title));
                if !c.note.is_empty() {
                    let _ = writeln!(out, "<p class=\"note\">{}</p>", html_escape(&c.note));
                }
                out.push_str("</figure>\n");
            }
        }
    }
    let _ = writeln!(out, "<p class=\"note\">{}</p>\n</body></html>", html_escape(&doc.footer));
    out
}
