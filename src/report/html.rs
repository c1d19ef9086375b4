//! `--format html`: one self-contained file for a ticket or a browser — no external scripts, fonts,
//! images or network. Problems first (FAIL, WARN, SKIP, PASS), each row with its evidence, fix,
//! source and cause; host facts, options, waivers and untested requirements. Filtering by status
//! is pure CSS (radio buttons), so it works with JavaScript off; a few lines of inline script only
//! add sorting by column. Narrow screens get one card per row; print shows every row.

use std::fmt::Write;

use crate::result::{CheckResult, Report, Status};
use crate::rootcause::roots;

/// Text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in crate::text::clean(s, 8000).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --fail:#b00020; --warn:#8a5a00; --pass:#1b6e20; --skip:#6a1b9a; --line:#d0d0d0; --bg:#fff; --fg:#1a1a1a; --muted:#555; }
@media (prefers-color-scheme: dark) { :root { --fail:#ff6b6b; --warn:#ffc14d; --pass:#6fcf75; --skip:#d59cf5; --line:#444; --bg:#121212; --fg:#e8e8e8; --muted:#aaa; } }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; padding: 1rem; max-width: 1400px; background: var(--bg); color: var(--fg); }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
figure.plot { margin: .5rem 0 1rem; } figure.plot svg { max-width: 100%; height: auto; display: block; background: #fff; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
.verdict { display: inline-block; padding: .2rem .6rem; border-radius: .3rem; color: #fff; font-weight: 700; }
.verdict.fail { background: var(--fail); } .verdict.warn { background: var(--warn); } .verdict.pass { background: var(--pass); }
.st { font-weight: 700; white-space: nowrap; } .st.fail { color: var(--fail); } .st.warn { color: var(--warn); } .st.pass { color: var(--pass); } .st.skip { color: var(--skip); }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { position: sticky; top: 0; background: var(--bg); cursor: pointer; white-space: nowrap; }
td.id, td.addr, td.time { white-space: nowrap; }
td.target { max-width: 16rem; }
td.ev { overflow-wrap: anywhere; min-width: 16rem; }
.facts th { width: 12rem; cursor: auto; position: static; }
.fix { color: var(--muted); margin-top: .25rem; } .cause { color: var(--muted); font-style: italic; }
.src { color: var(--muted); font-size: .85em; }
.filters { margin: .5rem 0; } .filters label { margin-right: .8rem; cursor: pointer; }
#f-fail:checked ~ table tbody tr:not(.fail), #f-warn:checked ~ table tbody tr:not(.warn),
#f-skip:checked ~ table tbody tr:not(.skip), #f-pass:checked ~ table tbody tr:not(.pass),
#f-problems:checked ~ table tbody tr.pass, #f-problems:checked ~ table tbody tr.skip { display: none; }
@media (max-width: 700px) {
  table.rows thead { display: none; }
  table.rows tr { display: block; border-bottom: 2px solid var(--line); padding: .4rem 0; }
  table.rows td { display: block; border: 0; padding: .1rem 0; }
  td.id, td.addr { white-space: normal; }
}
@media print {
  .filters > input, .filters > label { display: none; }
  table tbody tr { display: table-row !important; }
  th { position: static; }
  body { max-width: none; font-size: 11px; }
}
"#;

/// Sorting by a column header; the report reads the same without it.
const JS: &str = r#"
document.querySelectorAll("table.rows th").forEach(function (th, i) {
  th.title = "sort";
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var dir = th.dataset.dir === "asc" ? -1 : 1;
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    rows.sort(function (a, b) {
      var x = a.cells[i].dataset.key || a.cells[i].textContent, y = b.cells[i].dataset.key || b.cells[i].textContent;
      return x.localeCompare(y, undefined, { numeric: true }) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"#;

fn rank(s: Status) -> u8 {
    match s {
        Status::Fail => 0,
        Status::Warn => 1,
        Status::Skip => 2,
        Status::Pass => 3,
    }
}

fn row(out: &mut String, results: &[CheckResult], i: usize, root: &[usize]) {
    let r = &results[i];
    let cls = r.status.as_str();
    let status = match &r.waived {
        Some(w) => format!(
            "{} <span class=\"src\">(waived: {})</span>",
            r.status.label(),
            esc(&w.reason)
        ),
        None => r.status.label().to_string(),
    };
    let cause = if root[i] == i {
        String::new()
    } else {
        let c = &results[root[i]];
        format!(
            "<div class=\"cause\">caused by {} {} {}</div>",
            esc(&c.id),
            c.status.label(),
            esc(c.address.as_deref().unwrap_or(&c.target))
        )
    };
    let fix = if matches!(r.status, Status::Fail | Status::Warn) && !r.remediation.is_empty() {
        format!(
            "<div class=\"fix\"><b>Fix:</b> {}</div>",
            esc(&r.remediation)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "<tr class=\"{cls}\"><td class=\"st {cls}\" data-key=\"{}\">{status}</td><td class=\"id mono\">{}</td><td class=\"target\">{}</td><td class=\"addr mono\">{}</td><td class=\"ev\">{}{cause}{fix}<div class=\"src\">{}</div></td><td class=\"time mono\" data-key=\"{:08}\">{} ms</td></tr>",
        rank(r.status),
        esc(&r.id),
        esc(&r.target),
        esc(r.address.as_deref().unwrap_or("")),
        esc(&r.message),
        esc(&r.source),
        r.duration_ms,
        r.duration_ms
    );
}

pub(crate) fn render(report: &Report) -> String {
    render_with(report, "")
}

/// The page with `section` (trusted markup: `watch`'s plots) before the rows.
pub(crate) fn render_with(report: &Report, section: &str) -> String {
    let s = &report.summary;
    let h = &report.host;
    let v = s.verdict.as_str();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>ACK Edge preflight: {} on {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        s.verdict.label(),
        esc(&h.hostname)
    );
    let _ = writeln!(
        out,
        "<h1>ACK Edge preflight: {} <span class=\"src\">({} · {})</span></h1>\n<p><span class=\"verdict {v}\">{}</span> {} pass, {} warn, {} fail, {} skip{} in {} ms, started {}</p>",
        esc(&h.hostname),
        esc(&report.target.region),
        esc(&report.target.cni),
        esc(&s.verdict_short()),
        s.pass,
        s.warn,
        s.fail,
        s.skip,
        if s.waived > 0 { format!(", {} waived", s.waived) } else { String::new() },
        report.duration_ms,
        esc(&report.started_at)
    );
    out.push_str(section);
    // the rows, problems first; filters are radio buttons styled by CSS
    let _ = writeln!(out, "<h2>Checks ({})</h2>", report.results.len());
    out.push_str("<div class=\"filters\">\n");
    let problems = s.fail + s.warn > 0;
    for (id, label, checked) in [
        ("all", "All", !problems),
        ("problems", "Problems", problems),
        ("fail", "FAIL", false),
        ("warn", "WARN", false),
        ("skip", "SKIP", false),
        ("pass", "PASS", false),
    ] {
        let _ = writeln!(out, "<input type=\"radio\" name=\"filter\" id=\"f-{id}\"{}><label for=\"f-{id}\">{label}</label>", if checked { " checked" } else { "" });
    }
    out.push_str("<table class=\"rows\">\n<thead><tr><th>Status</th><th>Requirement</th><th>Target</th><th>Address</th><th>Evidence, cause and fix</th><th>Time</th></tr></thead>\n<tbody>\n");
    let root = roots(&report.results);
    let mut order: Vec<usize> = (0..report.results.len()).collect();
    order.sort_by_key(|&i| rank(report.results[i].status));
    for i in order {
        row(&mut out, &report.results, i, &root);
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    facts_and_options(&mut out, report);
    lists(&mut out, report);
    let _ = write!(out, "<script>{JS}</script>\n</body>\n</html>\n");
    out
}

/// The host's facts and the options of the run, as two tables.
fn facts_and_options(out: &mut String, report: &Report) {
    let h = &report.host;
    out.push_str("<h2>Host</h2>\n<table class=\"facts\">\n");
    let o = &report.options;
    let facts: Vec<(&str, String)> = vec![
        ("Hostname", h.hostname.clone()),
        ("OS / kernel", format!("{} / {}", h.os, h.kernel)),
        ("Addresses", h.addresses.join(", ")),
        (
            "Primary address",
            h.primary_address.clone().unwrap_or_default(),
        ),
        ("Machine id", h.machine_id.clone()),
        ("Nameservers", h.nameservers.join(", ")),
        (
            "Tool",
            format!("{} {}", report.tool.name, report.tool.version),
        ),
    ];
    for (k, v) in facts {
        let _ = writeln!(
            out,
            "<tr><th>{k}</th><td class=\"mono\">{}</td></tr>",
            esc(&v)
        );
    }
    out.push_str("</table>\n<h2>Options</h2>\n<table class=\"facts\">\n");
    let opts: Vec<(&str, String)> = vec![
        ("Region", o.region.clone()),
        ("CNI", o.cni.clone()),
        ("Kubernetes", o.k8s_version.clone()),
        (
            "API server",
            o.apiserver.clone().unwrap_or_else(|| "(not given)".into()),
        ),
        ("Peers", o.peers.join(", ")),
        (
            "DNS server",
            o.dns_server
                .clone()
                .unwrap_or_else(|| "(resolv.conf)".into()),
        ),
        (
            "Only / skip",
            format!("{} / {}", o.only.join(","), o.skip.join(",")),
        ),
        ("Timeout", format!("{} ms", o.timeout_ms)),
        ("Strict", o.strict.to_string()),
    ];
    for (k, v) in opts {
        let _ = writeln!(
            out,
            "<tr><th>{k}</th><td class=\"mono\">{}</td></tr>",
            esc(&v)
        );
    }
    out.push_str("</table>\n");
}

/// Waivers and what was not tested.
fn lists(out: &mut String, report: &Report) {
    let s = &report.summary;
    if !report.waivers.is_empty() {
        out.push_str("<h2>Waivers</h2>\n<ul>\n");
        for w in &report.waivers {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {} ({} rows)</li>",
                esc(&w.accept),
                esc(&w.reason),
                w.matched
            );
        }
        out.push_str("</ul>\n");
    }
    if !s.untested.is_empty() {
        out.push_str("<h2>Not tested</h2>\n<ul>\n");
        for u in &s.untested {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(&u.id),
                esc(&u.reason)
            );
        }
        out.push_str("</ul>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            esc("<script>a&b\"c'</script>\x1b[2J"),
            "&lt;script&gt;a&amp;b&quot;c&#39;&lt;/script&gt;\\u{1b}[2J"
        );
    }
}
