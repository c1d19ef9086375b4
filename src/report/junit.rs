//! `--format junit`: one `<testsuite>` per host, one testcase per result row, for CI systems.
//! Mapping (documented in README): FAIL → `<failure>`; WARN → `<skipped message="WARN: …">`, which
//! Jenkins, GitLab and most JUnit UIs show yellow, not green (`--strict`: `<failure>`); SKIP →
//! `<skipped>`; a waived row → `<skipped message="WAIVED (…): …">`; PASS → a plain pass with the
//! evidence in `<system-out>`. Test names are unique per (id, target, address).

use std::collections::HashMap;

use crate::result::{CheckResult, Report, Status};

fn xml(s: &str) -> String {
    crate::text::clean(s, 4000)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn secs(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// What one row becomes inside its testcase.
fn outcome(r: &CheckResult, strict: bool) -> (String, &'static str) {
    if let Some(w) = &r.waived {
        let m = format!("WAIVED ({}): {}: {}", w.reason, r.status.label(), r.message);
        return (
            format!("      <skipped message=\"{}\"/>\n", xml(&m)),
            "skipped",
        );
    }
    match r.status {
        Status::Fail => (
            format!(
                "      <failure message=\"{}\" type=\"fail\">{}</failure>\n",
                xml(&r.message),
                xml(&r.remediation)
            ),
            "failure",
        ),
        Status::Warn if strict => (
            format!(
                "      <failure message=\"{}\" type=\"warn\">{}</failure>\n",
                xml(&r.message),
                xml(&r.remediation)
            ),
            "failure",
        ),
        Status::Warn => (
            format!(
                "      <skipped message=\"{}\"/>\n",
                xml(&format!("WARN: {}", r.message))
            ),
            "skipped",
        ),
        Status::Skip => (
            format!(
                "      <skipped message=\"{}\"/>\n",
                xml(&format!("SKIP: {}", r.message))
            ),
            "skipped",
        ),
        Status::Pass => (
            format!("      <system-out>{}</system-out>\n", xml(&r.message)),
            "pass",
        ),
    }
}

pub(crate) fn render(report: &Report, strict: bool) -> String {
    let host = if report.host.hostname.is_empty() {
        "unknown-host"
    } else {
        &report.host.hostname
    };
    let mut cases = String::new();
    let (mut failures, mut skipped) = (0, 0);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in &report.results {
        let mut name = match &r.address {
            Some(a) if *a != r.target => format!("{} {} {}", r.id, r.target, a),
            _ => format!("{} {}", r.id, r.target),
        };
        let n = seen.entry(name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            name = format!("{name} #{n}");
        }
        let (body, kind) = outcome(r, strict);
        match kind {
            "failure" => failures += 1,
            "skipped" => skipped += 1,
            _ => {}
        }
        cases.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\">\n{body}    </testcase>\n",
            xml(&format!("ack-edge-preflight.{host}.{}", r.category)),
            xml(&name),
            secs(r.duration_ms)
        ));
    }
    let tests = report.results.len();
    let time = secs(report.duration_ms);
    let props = [
        ("hostname", host.to_string()),
        ("region", report.target.region.clone()),
        ("cni", report.target.cni.clone()),
        ("tool_version", report.tool.version.clone()),
        ("verdict", report.summary.verdict_line()),
    ];
    let props: String = props
        .iter()
        .map(|(k, v)| format!("      <property name=\"{k}\" value=\"{}\"/>\n", xml(v)))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ack-edge-preflight\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">\n  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\" timestamp=\"{}\" hostname=\"{}\">\n    <properties>\n{props}    </properties>\n{cases}  </testsuite>\n</testsuites>\n",
        xml(&format!("ack-edge-preflight {host} {}", report.target.region)),
        xml(&report.started_at),
        xml(host),
    )
}
