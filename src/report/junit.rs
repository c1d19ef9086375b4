//! `--format junit`: one testcase per result, for CI systems.

use crate::result::{Report, Status};

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r') || *c >= ' ')
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(report: &Report, strict: bool) -> String {
    let s = &report.summary;
    let failures = s.fail + if strict { s.warn } else { 0 };
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ack-edge-preflight\" tests=\"{}\" failures=\"{failures}\" skipped=\"{}\" time=\"{:.3}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{}\" timestamp=\"{}\" hostname=\"{}\">\n",
        report.results.len(),
        s.skip,
        report.duration_ms as f64 / 1000.0,
        xml(&format!("preflight {}", report.target.region)),
        report.results.len(),
        s.skip,
        xml(&report.started_at),
        xml(&report.host.hostname),
    );
    for r in &report.results {
        let name = match &r.address {
            Some(a) => format!("{} {} {}", r.id, r.target, a),
            None => format!("{} {}", r.id, r.target),
        };
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">\n",
            xml(&r.category),
            xml(&name),
            r.duration_ms as f64 / 1000.0
        ));
        match r.status {
            Status::Fail => out.push_str(&format!(
                "      <failure message=\"{}\" type=\"fail\">{}</failure>\n",
                xml(&r.message),
                xml(&r.remediation)
            )),
            Status::Warn if strict => out.push_str(&format!(
                "      <failure message=\"{}\" type=\"warn\">{}</failure>\n",
                xml(&r.message),
                xml(&r.remediation)
            )),
            Status::Skip => out.push_str(&format!("      <skipped message=\"{}\"/>\n", xml(&r.message))),
            _ => out.push_str(&format!("      <system-out>{}</system-out>\n", xml(&r.message))),
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
