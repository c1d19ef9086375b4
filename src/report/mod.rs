//! Report renderers, one module per format (the atomic `--output` writer is `sys::output`).

pub(crate) mod fleet;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod listing;
pub(crate) mod markdown;
pub(crate) mod prometheus;
pub(crate) mod table;

use crate::ids::Category;
use crate::result::{CheckResult, Report, Status};

/// The report formats (`cli` gives clap their names; renderers never see clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Junit,
    /// node_exporter textfile-collector format (Prometheus text exposition)
    Prometheus,
    /// One self-contained HTML page (for a browser or a ticket)
    Html,
}

/// Render options that are not part of the report itself.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub strict: bool,
    /// Columns of the terminal (or of the file: 100).
    pub width: usize,
    /// ASCII borders and punctuation (the locale is not UTF-8, or TERM=dumb).
    pub ascii: bool,
    /// Every row (`--all`), not only the problems.
    pub all: bool,
}

impl Style {
    pub const PLAIN: Style = Style {
        color: false,
        strict: false,
        width: 100,
        ascii: false,
        all: false,
    };
}

pub fn render(report: &Report, format: Format, style: Style) -> String {
    match format {
        Format::Table => table::render(report, style),
        Format::Json => json::render(report),
        Format::Markdown => markdown::render(report),
        Format::Junit => junit::render(report, style.strict),
        Format::Prometheus => prometheus::render(report),
        Format::Html => html::render(report),
    }
}

/// Results grouped by category in catalogue order (stable within a category).
pub(crate) fn grouped(results: &[CheckResult]) -> Vec<(&str, Vec<&CheckResult>)> {
    let mut out: Vec<(&str, Vec<&CheckResult>)> = vec![];
    let rank = Category::rank;
    let mut cats: Vec<&str> = results.iter().map(|r| r.category.as_str()).collect();
    cats.sort_by_key(|c| rank(c));
    cats.dedup();
    for c in cats {
        out.push((c, results.iter().filter(|r| r.category == c).collect()));
    }
    out
}

/// One remediation per requirement id that failed (or warned), in report order.
pub fn fixes(results: &[CheckResult], include_warn: bool) -> Vec<(&str, Status, &str)> {
    let mut out: Vec<(&str, Status, &str)> = vec![];
    for r in results {
        let wanted = r.waived.is_none()
            && (r.status == Status::Fail || (include_warn && r.status == Status::Warn));
        if wanted && !out.iter().any(|(id, _, _)| *id == r.id) {
            out.push((&r.id, r.status, &r.remediation));
        }
    }
    out
}

/// The format an `--output` file asks for by its extension.
pub(crate) fn format_for(path: &std::path::Path) -> Result<Format, crate::error::InputError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "json" => Ok(Format::Json),
        "md" | "markdown" => Ok(Format::Markdown),
        "xml" => Ok(Format::Junit),
        "prom" => Ok(Format::Prometheus),
        "html" | "htm" => Ok(Format::Html),
        "txt" => Ok(Format::Table),
        _ => Err(crate::error::InputError::flag(
            "--output",
            &path.display().to_string(),
            "cannot tell the format from the extension: use .json, .md, .xml, .prom, .html or .txt, or give --format",
        )),
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn the_extension_names_the_format() {
        use std::path::Path;
        assert_eq!(format_for(Path::new("r.json")).unwrap(), Format::Json);
        assert_eq!(format_for(Path::new("r.MD")).unwrap(), Format::Markdown);
        assert_eq!(format_for(Path::new("r.xml")).unwrap(), Format::Junit);
        assert_eq!(
            format_for(Path::new("node.prom")).unwrap(),
            Format::Prometheus
        );
        let e = format_for(Path::new("r.pdf")).unwrap_err().to_string();
        assert!(e.contains("r.pdf") && e.contains(".json"), "{e}");
    }
}
