//! `--format markdown`: for pasting into a support ticket.

use super::{fixes, grouped};
use crate::result::Report;

fn esc(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(report: &Report) -> String {
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
    out.push_str("| | |\n|---|---|\n");
    for (k, v) in [
        ("Tool", format!("{} {}", report.tool.name, report.tool.version)),
        ("Started", report.started_at.clone()),
        ("Duration", format!("{} ms", report.duration_ms)),
        ("OS / kernel", format!("{} / {}", h.os, h.kernel)),
        ("Addresses", h.addresses.join(", ")),
        ("Nameservers", h.nameservers.join(", ")),
        ("CNI", report.target.cni.clone()),
        ("API server", report.target.apiserver.clone().unwrap_or_else(|| "(not given)".into())),
    ] {
        out.push_str(&format!("| {k} | {} |\n", esc(&v)));
    }
    for (cat, rows) in grouped(&report.results) {
        out.push_str(&format!("\n## {cat}\n\n| Status | Requirement | Target | Address | Evidence |\n|---|---|---|---|---|\n"));
        for r in rows {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                r.status.label(),
                r.id,
                esc(&r.target),
                esc(r.address.as_deref().unwrap_or("")),
                esc(&r.message)
            ));
        }
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
