//! The execution report job: reads the steering API and the services it
//! reports on (finance budget execution, activity opening rates, missions
//! figures) with the job's signed identity, and writes the annual COG
//! execution report of a year, or the monthly dashboard of a month, as HTML,
//! PDF and CSV of every table and chart, with a manifest of SHA-256 sums.
//!
//! The files depend only on what the APIs return and on the as-of time (the
//! printed generation time is the as-of, never the clock), so running the
//! job again with the same `--as-of` writes the same bytes. The files are
//! written into a temporary directory that then replaces the output
//! directory, so a reader never sees half a report.
//!
//! Parts: [`data`] (what is read), [`compose`] (the French document and the
//! CSV files), [`doc`] (the document model), [`html`], [`pdf`] (own PDF 1.4
//! writer), [`charts`] (SVG and PDF from one drawing), [`text`] (formats).

pub mod charts;
pub mod compose;
pub mod data;
pub mod doc;
pub mod html;
pub mod pdf;
pub mod text;

use std::path::{Path, PathBuf};

use chrono::SecondsFormat;
use sha2::{Digest, Sha256};

pub use data::{FUNDS, Period, ReportClient, ReportData, ReportUrls};

/// The rendered files, in the order they are listed in the manifest
/// (`manifest.json` last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub files: Vec<(String, Vec<u8>)>,
}

impl Rendered {
    /// The content of the file whose name ends with `suffix`.
    pub fn file(&self, suffix: &str) -> Option<&[u8]> {
        self.files.iter().find(|(n, _)| n.ends_with(suffix)).map(|(_, b)| b.as_slice())
    }

    /// Same, as text (empty when absent or not UTF-8).
    pub fn text(&self, suffix: &str) -> &str {
        self.file(suffix).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
    }
}

#[derive(serde::Serialize)]
struct ManifestFile<'a> {
    name: &'a str,
    bytes: usize,
    sha256: String,
}

#[derive(serde::Serialize)]
struct Manifest<'a> {
    report: &'a str,
    period: String,
    as_of: String,
    regenerate: String,
    files: Vec<ManifestFile<'a>>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Renders the whole report: HTML, PDF, CSV files and the manifest.
pub fn render(data: &ReportData) -> Rendered {
    let prefix = data.period.prefix();
    let (doc, csvs) = compose::compose(data);
    let mut files =
        vec![(format!("{prefix}_report.html"), html::render(&doc).into_bytes()), (format!("{prefix}_report.pdf"), pdf::render(&doc))];
    for (name, body) in csvs {
        files.push((format!("{prefix}_{name}"), body.into_bytes()));
    }
    let as_of = data.as_of.to_rfc3339_opts(SecondsFormat::Micros, true);
    let (report, period, option) = match data.period {
        Period::Year(y) => ("annual", y.to_string(), format!("--year {y}")),
        Period::Month(y, m) => ("monthly", format!("{y}-{m:02}"), format!("--month {y}-{m:02}")),
    };
    let manifest = Manifest {
        report,
        period,
        regenerate: format!("filieris-steering report {option} --out DIR --as-of {as_of}"),
        as_of,
        files: files.iter().map(|(name, body)| ManifestFile { name, bytes: body.len(), sha256: sha256_hex(body) }).collect(),
    };
    let mut json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    json.push(b'\n');
    files.push(("manifest.json".into(), json));
    Rendered { files }
}

/// Replaces `dir` with a directory holding exactly the rendered files: they
/// are written into a temporary sibling directory first, which then takes
/// the place of `dir`. An existing `dir` is replaced only if it is empty or
/// holds a previous report (a `manifest.json`), never another directory.
pub fn write_files(dir: &Path, r: &Rendered) -> std::io::Result<Vec<PathBuf>> {
    use std::io::{Error, ErrorKind};
    let name =
        dir.file_name().and_then(|n| n.to_str()).ok_or_else(|| Error::new(ErrorKind::InvalidInput, "--out needs a directory name"))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    if dir.exists() {
        let ours = dir.join("manifest.json").is_file() || std::fs::read_dir(dir)?.next().is_none();
        if !ours {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("{} exists and holds no previous report (no manifest.json): choose an empty or new directory", dir.display()),
            ));
        }
    }
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir(&tmp)?;
    for (file, body) in &r.files {
        std::fs::write(tmp.join(file), body)?;
    }
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        std::fs::rename(dir, &old)?;
        std::fs::rename(&tmp, dir)?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(&tmp, dir)?;
    }
    Ok(r.files.iter().map(|(f, _)| dir.join(f)).collect())
}
