//! `--format json`: the report exactly as SPEC section 4 shapes it (schema_version 1).

use crate::result::Report;

pub(crate) fn render(report: &Report) -> String {
    let mut s =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}
