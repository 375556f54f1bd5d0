//! The report as a document model: a list of blocks (headings, paragraphs,
//! key figures, tables, charts) that the HTML and the PDF renderers both
//! walk, so the two outputs carry the same content.

use super::charts::Chart;

/// Background of a table row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    /// Target met.
    Good,
    /// Target missed.
    Bad,
    /// At risk, partial.
    Warn,
    /// No value (not available).
    Muted,
    /// A total line, in bold.
    Total,
}

impl Tone {
    /// CSS class of the row.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Plain => "",
            Tone::Good => "good",
            Tone::Bad => "bad",
            Tone::Warn => "warn",
            Tone::Muted => "muted",
            Tone::Total => "total",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<String>,
    pub tone: Tone,
}

impl Row {
    pub fn new(cells: Vec<String>) -> Self {
        Self { cells, tone: Tone::Plain }
    }

    pub fn tone(mut self, tone: Tone) -> Self {
        self.tone = tone;
        self
    }
}

/// A table: headers, relative column widths, rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    /// Relative widths, one per column.
    pub widths: Vec<f64>,
    /// Columns aligned right (numbers).
    pub numeric: Vec<bool>,
    pub rows: Vec<Row>,
    /// Font size in the PDF (points).
    pub font_size: f64,
}

impl Table {
    pub fn new(headers: &[&str], widths: &[f64]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            widths: widths.to_vec(),
            numeric: vec![false; headers.len()],
            rows: Vec::new(),
            font_size: 8.0,
        }
    }

    /// Marks columns as numeric (aligned right).
    pub fn numeric(mut self, columns: &[usize]) -> Self {
        for c in columns {
            if let Some(n) = self.numeric.get_mut(*c) {
                *n = true;
            }
        }
        self
    }

    pub fn font_size(mut self, size: f64) -> Self {
        self.font_size = size;
        self
    }
}

/// A key figure: a value and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub value: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Title page: title, subtitle lines.
    Cover {
        title: String,
        lines: Vec<String>,
    },
    /// Heading, level 1 (chapter, new PDF page) or 2.
    Heading {
        level: u8,
        text: String,
    },
    Para(String),
    /// Small print (sources, legends, reasons).
    Note(String),
    Figures(Vec<Figure>),
    Table(Table),
    Chart(Chart),
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Window title and PDF title.
    pub title: String,
    /// Running footer of every PDF page.
    pub footer: String,
    /// Creation time written in the PDF (from the data's as-of, never the clock), `YYYYMMDDHHMMSS`.
    pub created: String,
    pub blocks: Vec<Block>,
}
