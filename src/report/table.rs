//! `--format table`: grouped by category, a summary line, and how to fix what failed.

use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};

use super::{fixes, grouped, Style};
use crate::result::{Report, Status};

fn color(s: Status) -> Color {
    match s {
        Status::Pass => Color::Green,
        Status::Warn => Color::Yellow,
        Status::Fail => Color::Red,
        Status::Skip => Color::DarkGrey,
    }
}

pub fn render(report: &Report, style: Style) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if style.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    if t.width().is_none() {
        t.set_width(160);
    }
    t.set_header(vec!["", "Status", "Requirement", "Target", "Address", "Evidence"]);
    for (cat, rows) in grouped(&report.results) {
        for (i, r) in rows.iter().enumerate() {
            let status = Cell::new(match r.waived {
                Some(_) => format!("{} (waived)", r.status.label()),
                None => r.status.label().to_string(),
            });
            let status = if style.color { status.fg(color(r.status)).add_attribute(Attribute::Bold) } else { status };
            t.add_row(vec![
                Cell::new(if i == 0 { cat } else { "" }),
                status,
                Cell::new(&r.id),
                Cell::new(&r.target),
                Cell::new(r.address.as_deref().unwrap_or("")),
                Cell::new(crate::text::clean(&r.message, 2000)),
            ]);
        }
    }
    let s = &report.summary;
    let mut out = format!(
        "ack-edge-preflight {} · region {} · cni {} · host {}\n{t}\n",
        report.tool.version, report.target.region, report.target.cni, report.host.hostname
    );
    out.push_str(&format!(
        "Verdict: {} — {} pass, {} warn, {} fail, {} skip in {} ms\n",
        s.verdict_line(),
        s.pass,
        s.warn,
        s.fail,
        s.skip,
        report.duration_ms
    ));
    for w in &report.waivers {
        match w.matched {
            0 => out.push_str(&format!("Waiver {} matched no row (unused)\n", w.accept)),
            n => out.push_str(&format!("Waived by {}: {n} row(s), {}\n", w.accept, w.reason)),
        }
    }
    let fx = fixes(&report.results, true);
    if !fx.is_empty() {
        out.push_str("\nHow to fix:\n");
        for (id, status, text) in fx {
            out.push_str(&format!("  {} {id}: {text}\n", status.label()));
        }
    }
    out
}
