//! `--format markdown`: for pasting into a support ticket.

use super::listing::{markdown_table, md_cell as esc};
use super::{fixes, grouped};
use crate::result::Report;

pub(crate) fn render(report: &Report) -> String {
    let s = &report.summary;
    let h = &report.host;
    let mut out = format!(
        "# ACK Edge preflight: {} ({})\n\n**Verdict: {}** — {} pass, {} warn, {} fail, {} skip\n\n",
        esc(&h.hostname),
        esc(&report.target.region),
        s.verdict_line(),
        s.pass,
        s.warn,
        s.fail,
        s.skip
    );
    let mut facts = vec![];
    for (k, v) in [
        (
            "Tool",
            format!("{} {}", report.tool.name, report.tool.version),
        ),
        ("Started", report.started_at.clone()),
        ("Duration", format!("{} ms", report.duration_ms)),
        ("OS / kernel", format!("{} / {}", h.os, h.kernel)),
        ("Addresses", h.addresses.join(", ")),
        ("Nameservers", h.nameservers.join(", ")),
        ("CNI", report.target.cni.clone()),
        (
            "API server",
            report
                .target
                .apiserver
                .clone()
                .unwrap_or_else(|| "(not given)".into()),
        ),
    ] {
        facts.push(vec![k.to_string(), v]);
    }
    out.push_str(&markdown_table(&["", ""], &facts));
    if !report.summary.untested.is_empty() {
        out.push_str("\n## Not tested\n\n");
        let rows: Vec<Vec<String>> = report
            .summary
            .untested
            .iter()
            .map(|u| vec![u.id.clone(), u.reason.clone()])
            .collect();
        out.push_str(&markdown_table(&["Requirement", "Why"], &rows));
    }
    for (cat, rows) in grouped(&report.results) {
        out.push_str(&format!("\n## {cat}\n\n"));
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let status = match &r.waived {
                    Some(w) => format!("{} (waived: {})", r.status.label(), w.reason),
                    None => r.status.label().to_string(),
                };
                vec![
                    status,
                    r.id.clone(),
                    r.target.clone(),
                    r.address.clone().unwrap_or_default(),
                    r.message.clone(),
                ]
            })
            .collect();
        out.push_str(&markdown_table(
            &["Status", "Requirement", "Target", "Address", "Evidence"],
            &rows,
        ));
    }
    let fx = fixes(&report.results, true);
    if !fx.is_empty() {
        out.push_str("\n## How to fix\n\n");
        for (id, status, text) in fx {
            out.push_str(&format!("- **{}** `{id}`: {}\n", status.label(), esc(text)));
        }
    }
    out
}
