//! `--format prometheus`: the node_exporter textfile-collector format (Prometheus text exposition
//! 0.0.4), so a timer that runs `check --output /var/lib/node_exporter/textfile_collector/….prom`
//! keeps the line under watch after the join. Every row is a state set over the four statuses.
//! Rows that share id, target and address (one series) are merged, the worst status winning.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::result::{Report, Status, Verdict};

pub(crate) const PREFIX: &str = "ack_edge_preflight";
const STATUSES: [Status; 4] = [Status::Pass, Status::Warn, Status::Fail, Status::Skip];

/// A label value: backslash, double quote and line feed escaped; other control characters dropped.
pub(crate) fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn severity(s: Status) -> u8 {
    match s {
        Status::Pass => 0,
        Status::Skip => 1,
        Status::Warn => 2,
        Status::Fail => 3,
    }
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {PREFIX}_{name} {help}");
    let _ = writeln!(out, "# TYPE {PREFIX}_{name} gauge");
}

pub(crate) fn render(r: &Report) -> String {
    // one series per (id, target, address): worst status, summed duration
    let mut series: BTreeMap<(&str, &str, &str), (Status, u64)> = BTreeMap::new();
    for row in &r.results {
        let key = (
            row.id.as_str(),
            row.target.as_str(),
            row.address.as_deref().unwrap_or(""),
        );
        let e = series.entry(key).or_insert((row.status, 0));
        if severity(row.status) > severity(e.0) {
            e.0 = row.status;
        }
        e.1 += row.duration_ms;
    }
    let mut out = String::new();
    family(&mut out, "check_status", "Status of one check (requirement id, target, address): 1 for the status it has, 0 for the others.");
    for ((id, target, address), (status, _)) in &series {
        for s in STATUSES {
            let _ = writeln!(
                out,
                "{PREFIX}_check_status{{id=\"{}\",target=\"{}\",address=\"{}\",status=\"{}\"}} {}",
                label(id),
                label(target),
                label(address),
                s.as_str(),
                u8::from(*status == s)
            );
        }
    }
    family(
        &mut out,
        "check_duration_seconds",
        "How long the check took in the last run.",
    );
    for ((id, target, address), (_, ms)) in &series {
        let _ = writeln!(
            out,
            "{PREFIX}_check_duration_seconds{{id=\"{}\",target=\"{}\",address=\"{}\"}} {:.3}",
            label(id),
            label(target),
            label(address),
            *ms as f64 / 1000.0
        );
    }
    family(&mut out, "checks", "Rows of the last run per status.");
    for s in STATUSES {
        let n = r.results.iter().filter(|x| x.status == s).count();
        let _ = writeln!(out, "{PREFIX}_checks{{status=\"{}\"}} {n}", s.as_str());
    }
    family(
        &mut out,
        "verdict",
        "Verdict of the last run (waivers applied): 1 for the verdict, 0 for the others.",
    );
    for v in [Verdict::Pass, Verdict::Warn, Verdict::Fail] {
        let _ = writeln!(
            out,
            "{PREFIX}_verdict{{verdict=\"{}\"}} {}",
            v.as_str(),
            u8::from(r.summary.verdict == v)
        );
    }
    family(
        &mut out,
        "complete",
        "1 when every requirement of the catalogue was tested in the last run.",
    );
    let _ = writeln!(out, "{PREFIX}_complete {}", u8::from(r.summary.complete));
    family(
        &mut out,
        "last_run_timestamp_seconds",
        "When the last run started, in seconds since the Unix epoch.",
    );
    let started = crate::clock::epoch_of(&r.started_at).unwrap_or(0);
    let _ = writeln!(out, "{PREFIX}_last_run_timestamp_seconds {started}");
    family(
        &mut out,
        "run_duration_seconds",
        "How long the last run took.",
    );
    let _ = writeln!(
        out,
        "{PREFIX}_run_duration_seconds {:.3}",
        r.duration_ms as f64 / 1000.0
    );
    family(
        &mut out,
        "info",
        "The tool and the run: version, region, container network plugin, hostname.",
    );
    let _ = writeln!(
        out,
        "{PREFIX}_info{{version=\"{}\",region=\"{}\",cni=\"{}\",hostname=\"{}\"}} 1",
        label(&r.tool.version),
        label(&r.options.region),
        label(&r.target.cni),
        label(&r.host.hostname)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd\x1b[2Je"), "a\\\"b\\\\c\\nd[2Je");
    }
}
