//! Every text output, read by the real consumer that reads it: Markdown through a GFM renderer
//! (cmark-gfm), JUnit through an XSD validator (xmllint with tests/fixtures/junit-jenkins.xsd).
//! Both tools are Debian packages that `.ci/run` installs; a missing tool fails the test loudly.

use std::io::Write;
use std::process::{Command, Stdio};

use preflight::report::{render, Format, Style};
use preflight::result::*;

fn tool(name: &str, package: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is not installed: apt-get install {package} (.ci/run does)"
    );
    Command::new(name)
}

fn pipe(mut c: Command, input: &str) -> (bool, String, String) {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A report whose texts try to break every format.
fn hostile() -> Report {
    let row = |id: &str, target: &str, status: Status, msg: &str| CheckResult {
        id: id.into(),
        category: id.split('.').next().unwrap().into(),
        title: id.into(),
        target: target.into(),
        address: Some("100.103.9.188:443".into()),
        status,
        message: msg.into(),
        remediation: "fix | it <b>now</b> & `then`".into(),
        source: "s".into(),
        duration_ms: 7,
        details: Default::default(),
        waived: None,
    };
    let mut waived = row("tcp.registry", "registry", Status::Fail, "timed out");
    waived.waived = Some(Waived {
        by: "tcp.registry".into(),
        reason: "ticket <42>".into(),
    });
    let results = vec![
        row(
            "tls.registry",
            "registry",
            Status::Fail,
            "subject CN=a|b <script>alert(1)</script> `x` & y\nsecond line \x1b[2J",
        ),
        row("tools.socat", "socat", Status::Warn, "missing socat"),
        row("tcp.registry", "registry", Status::Pass, "connected"),
        row(
            "tcp.registry",
            "registry",
            Status::Pass,
            "connected again (same id, target and address)",
        ),
        waived,
        row("udp.vxlan", "(no --peer)", Status::Skip, "no --peer given"),
    ];
    Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "ack-edge-preflight".into(),
            version: "0.2.0".into(),
        },
        started_at: "2026-11-21T10:00:00Z".into(),
        duration_ms: 1234,
        host: HostInfo {
            hostname: "dc|node<1>".into(),
            ..Default::default()
        },
        target: TargetInfo {
            region: "cn-hangzhou".into(),
            cni: "flannel".into(),
            apiserver: None,
        },
        options: RunOptions::default(),
        summary: Summary::of(&results, false),
        waivers: vec![],
        results,
    }
}

const PLAIN: Style = Style::PLAIN;

/// Each `<table>` of GFM HTML: rows of cells (text with tags stripped).
fn tables(html: &str) -> Vec<Vec<Vec<String>>> {
    let mut out = vec![];
    for t in html.split("<table>").skip(1) {
        let t = t.split("</table>").next().unwrap();
        let rows = t
            .split("<tr>")
            .skip(1)
            .map(|r| {
                r.split(['<'])
                    .filter(|p| p.starts_with("td") || p.starts_with("th"))
                    .map(|p| p.split_once('>').map_or("", |x| x.1).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        out.push(rows);
    }
    out
}

#[track_caller]
fn gfm_tables_keep_their_columns(md: &str, what: &str) -> String {
    let (ok, html, err) = pipe(
        {
            let mut c = tool("cmark-gfm", "cmark-gfm");
            c.args(["-e", "table"]);
            c
        },
        md,
    );
    assert!(ok, "cmark-gfm failed on {what}: {err}");
    let ts = tables(&html);
    assert!(!ts.is_empty(), "{what}: no table rendered:\n{md}");
    for t in &ts {
        let width = t[0].len();
        for (i, r) in t.iter().enumerate() {
            assert_eq!(
                r.len(),
                width,
                "{what}: row {i} has {} cells, header {width}:\n{r:?}\n{md}",
                r.len()
            );
        }
    }
    assert!(!html.contains("<script>"), "{what}: raw HTML survived");
    html
}

#[test]
fn markdown_report_renders_with_every_value_intact() {
    let md = render(&hostile(), Format::Markdown, PLAIN);
    let html = gfm_tables_keep_their_columns(&md, "check --format markdown");
    // values survive (escaped for HTML, but present)
    for want in [
        "CN=a|b",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "`x` &amp; y",
        "second line",
        "dc|node&lt;1&gt;",
        "ticket &lt;42&gt;",
    ] {
        assert!(html.contains(want), "{want:?} lost in:\n{html}");
    }
    assert!(
        !html.contains('\x1b'),
        "an escape sequence reached the Markdown"
    );
}

#[test]
fn markdown_listings_render_one_row_per_line() {
    let bin = env!("CARGO_BIN_EXE_ack-edge-preflight");
    for args in [
        vec!["requirements", "--format", "markdown"],
        vec!["regions", "--format", "markdown"],
        vec![
            "plan",
            "--region",
            "cn-hangzhou",
            "--format",
            "markdown",
            "--peer",
            "192.0.2.20",
            "--apiserver",
            "192.0.2.10",
        ],
    ] {
        let o = Command::new(bin).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let md = String::from_utf8(o.stdout).unwrap();
        let html = gfm_tables_keep_their_columns(&md, &args.join(" "));
        let rows: usize = tables(&html).iter().map(|t| t.len() - 1).sum();
        let md_rows = md
            .lines()
            .filter(|l| {
                l.starts_with("| ")
                    && !l.starts_with("| Id ")
                    && !l.starts_with("| Region ")
                    && !l.starts_with("| Requirement ")
            })
            .count();
        assert_eq!(
            rows, md_rows,
            "{args:?}: a Markdown row did not become exactly one table row"
        );
    }
    // summarize, over a report whose texts carry pipes
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("a.json");
    std::fs::write(&f, render(&hostile(), Format::Json, PLAIN)).unwrap();
    let o = Command::new(bin)
        .args(["summarize", "--format", "markdown"])
        .arg(&f)
        .output()
        .unwrap();
    let md = String::from_utf8(o.stdout).unwrap();
    let html = gfm_tables_keep_their_columns(&md, "summarize --format markdown");
    assert!(html.contains("CN=a|b"), "{html}");
}

#[track_caller]
fn valid_junit(xml: &str) {
    let xsd = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/junit-jenkins.xsd"
    );
    let (ok, _, err) = pipe(
        {
            let mut c = tool("xmllint", "libxml2-utils");
            c.args(["--noout", "--schema", xsd, "-"]);
            c
        },
        xml,
    );
    assert!(ok, "JUnit output fails the XSD: {err}\n{xml}");
}

#[test]
fn junit_validates_and_warn_is_not_green() {
    let r = hostile();
    let x = render(&r, Format::Junit, PLAIN);
    valid_junit(&x);
    assert!(
        x.contains("<skipped message=\"WARN: missing socat\"/>"),
        "{x}"
    );
    assert!(x.contains("WAIVED (ticket &lt;42&gt;)"), "{x}");
    assert!(
        x.contains("tests=\"6\" failures=\"1\" errors=\"0\" skipped=\"3\""),
        "{x}"
    );
    assert!(
        x.contains("<property name=\"hostname\" value=\"dc|node&lt;1&gt;\"/>"),
        "{x}"
    );
    assert!(
        x.contains("classname=\"ack-edge-preflight.dc|node&lt;1&gt;.tls\""),
        "{x}"
    );
    // names are unique per testsuite
    let names: Vec<&str> = x
        .split("name=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .filter(|n| n.contains(' '))
        .collect();
    let mut uniq = names.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq.len(), names.len(), "{names:?}");
    assert!(!x.contains('\x1b'));
    // strict: WARN is a failure
    let s = render(
        &r,
        Format::Junit,
        Style {
            strict: true,
            ..Style::PLAIN
        },
    );
    valid_junit(&s);
    assert!(s.contains("failures=\"2\""), "{s}");
    // the validator can fail: a testsuite without its counts is rejected
    let (ok, _, _) = pipe(
        {
            let mut c = tool("xmllint", "libxml2-utils");
            c.args([
                "--noout",
                "--schema",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/junit-jenkins.xsd"
                ),
                "-",
            ]);
            c
        },
        "<testsuites><testsuite name=\"x\"/></testsuites>",
    );
    assert!(
        !ok,
        "the XSD accepted a testsuite without tests/failures/errors/skipped/time/timestamp"
    );
}

/// The Python of the tools virtualenv that `.ci/run` makes (prometheus-client, html5lib):
/// `AEP_PYTHON`, else the CI tools directory's venv.
pub fn venv_python(module: &str, package: &str) -> Command {
    let py = std::env::var("AEP_PYTHON")
        .unwrap_or_else(|_| "/opt/ack-edge-preflight-ci/venv/bin/python".into());
    let ok = Command::new(&py)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{py} cannot import {module}: pip install {package} into the tools venv (.ci/run does), or set AEP_PYTHON");
    Command::new(py)
}

/// Parse Prometheus text with the reference Python parser; print every sample as JSON lines and
/// fail on a duplicate series (which node_exporter's textfile collector rejects).
const PROM_PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
seen = set()
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        if key in seen:
            sys.exit("duplicate series %r" % (key,))
        seen.add(key)
        print(json.dumps({"family": fam.name, "type": fam.type, "name": s.name, "labels": s.labels, "value": s.value}))
"#;

fn prom_samples(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut c = venv_python("prometheus_client", "prometheus-client");
    c.args(["-c", PROM_PARSE]);
    let (ok, out, err) = pipe(c, text);
    if !ok {
        return Err(err);
    }
    Ok(out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect())
}

#[test]
fn prometheus_text_parses_with_the_reference_parser() {
    let text = render(&hostile(), Format::Prometheus, PLAIN);
    let samples = prom_samples(&text)
        .unwrap_or_else(|e| panic!("prometheus_client rejected the output: {e}\n{text}"));
    let find = |name: &str, labels: &[(&str, &str)]| -> Vec<f64> {
        samples
            .iter()
            .filter(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .map(|s| s["value"].as_f64().unwrap())
            .collect()
    };
    // one state set per row: the TLS row fails, its value survives escaping
    assert_eq!(
        find(
            "ack_edge_preflight_check_status",
            &[("id", "tls.registry"), ("status", "fail")]
        ),
        [1.0]
    );
    assert_eq!(
        find(
            "ack_edge_preflight_check_status",
            &[("id", "tls.registry"), ("status", "pass")]
        ),
        [0.0]
    );
    // two rows with the same id, target and address are one series (else the collector rejects the file)
    assert_eq!(
        find(
            "ack_edge_preflight_check_status",
            &[
                ("id", "tcp.registry"),
                ("address", "100.103.9.188:443"),
                ("status", "fail")
            ]
        ),
        [1.0]
    );
    assert_eq!(
        find("ack_edge_preflight_verdict", &[("verdict", "fail")]),
        [1.0]
    );
    assert_eq!(
        find("ack_edge_preflight_last_run_timestamp_seconds", &[]),
        [1_795_255_200.0]
    );
    assert_eq!(
        find("ack_edge_preflight_run_duration_seconds", &[]),
        [1.234]
    );
    assert_eq!(
        find("ack_edge_preflight_info", &[("hostname", "dc|node<1>")]),
        [1.0]
    );
    assert!(
        samples.iter().all(|s| s["type"] == "gauge"),
        "every family is a gauge"
    );
    // the parser can fail: a broken line is rejected
    assert!(prom_samples("ack_edge_preflight_check_status{id=\"x} 1\n").is_err());
    assert!(
        prom_samples("a 1\na 1\n").is_err(),
        "a duplicate series went unnoticed"
    );
}

/// Parse HTML with html5lib in strict mode (any parse error fails) and describe what a reader gets.
const HTML_CHECK: &str = r#"
import json, sys
import html5lib
doc = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(sys.stdin.read())
ext = [e.tag for e in doc.iter() if e.tag in ("img", "iframe", "link", "object", "embed") or (e.tag == "script" and e.get("src"))]
rows = [" ".join("".join(td.itertext()) for td in tr.findall("td")) for tr in doc.iter("tr") if tr.get("class")]
print(json.dumps({"external": ext, "scripts": len(list(doc.iter("script"))), "rows": rows,
                  "title": doc.find("head/title").text, "radios": [i.get("id") for i in doc.iter("input")]}))
"#;

#[test]
fn html_is_valid_self_contained_and_renders_in_chromium() {
    let r = hostile();
    let html = render(&r, Format::Html, PLAIN);
    let mut c = venv_python("html5lib", "html5lib");
    c.args(["-c", HTML_CHECK]);
    let (ok, out, err) = pipe(c, &html);
    assert!(ok, "html5lib (strict) rejected the report: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["external"],
        serde_json::json!([]),
        "external resources: {v}"
    );
    assert_eq!(v["scripts"], 1, "only our inline sorting script: {v}");
    let rows: Vec<String> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert_eq!(rows.len(), r.results.len());
    assert!(rows[0].starts_with("FAIL"), "problems first: {rows:?}");
    // hostile text arrives as text, not markup
    assert!(
        rows.iter().any(|r| r.contains("<script>alert(1)</script>")),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.contains("Fix: fix | it <b>now</b>")),
        "{rows:?}"
    );
    assert!(!html.contains('\x1b'));
    assert!(v["title"].as_str().unwrap().contains("dc|node<1>"));
    // filters work without JavaScript: radio inputs the CSS keys on
    for id in [
        "f-all",
        "f-problems",
        "f-fail",
        "f-warn",
        "f-skip",
        "f-pass",
    ] {
        assert!(v["radios"].to_string().contains(id), "{v}");
        assert!(
            id == "f-all" || id == "f-problems" || html.contains(&format!("#{id}:checked")),
            "{id} has no CSS rule"
        );
    }
    // the parser can fail
    let mut c = venv_python("html5lib", "html5lib");
    c.args(["-c", HTML_CHECK]);
    assert!(
        !pipe(c, "<p><div></p>").0,
        "strict html5lib accepted broken markup"
    );

    // headless Chromium: a screenshot, a PDF, and the DOM after the inline script ran
    let d = tempfile::tempdir().unwrap();
    let page = d.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());
    let chromium = |args: &[&str]| {
        let mut c = tool("chromium", "chromium");
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!(
            "--user-data-dir={}",
            d.path().join("profile").display()
        ))
        .args(args)
        .arg(&url);
        c.output().expect("chromium")
    };
    let png = d.path().join("shot.png");
    let o = chromium(&[
        "--window-size=1200,900",
        &format!("--screenshot={}", png.display()),
    ]);
    let shot = std::fs::read(&png)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&o.stderr)));
    assert!(
        shot.starts_with(b"\x89PNG") && shot.len() > 10_000,
        "screenshot of {} bytes",
        shot.len()
    );
    let pdf = d.path().join("print.pdf");
    let o = chromium(&[
        "--no-pdf-header-footer",
        &format!("--print-to-pdf={}", pdf.display()),
    ]);
    let printed = std::fs::read(&pdf)
        .unwrap_or_else(|_| panic!("no PDF: {}", String::from_utf8_lossy(&o.stderr)));
    assert!(
        printed.starts_with(b"%PDF") && printed.len() > 5_000,
        "PDF of {} bytes",
        printed.len()
    );
    let o = chromium(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(
        dom.contains("title=\"sort\""),
        "the inline script did not run in Chromium: {}",
        &dom[..dom.len().min(500)]
    );
    assert_eq!(dom.matches("<tr class=").count(), r.results.len());
}

/// `summarize --format csv` read back by Python's csv module (RFC 4180 quoting, one line per host).
#[test]
fn summary_csv_reads_back_with_a_csv_parser() {
    let bin = env!("CARGO_BIN_EXE_ack-edge-preflight");
    let d = tempfile::tempdir().unwrap();
    let mut r = hostile();
    r.host.hostname = "dc,node \"1\"".into();
    std::fs::write(d.path().join("a.json"), render(&r, Format::Json, PLAIN)).unwrap();
    let o = Command::new(bin)
        .args(["summarize", "--format", "csv", "--max-age", "366d"])
        .arg(d.path())
        .output()
        .unwrap();
    let mut c = venv_python("csv", "(the standard library)");
    c.args([
        "-c",
        "import csv, json, sys; print(json.dumps(list(csv.DictReader(sys.stdin))))",
    ]);
    let (ok, out, err) = pipe(c, &String::from_utf8_lossy(&o.stdout));
    assert!(ok, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["hostname"], "dc,node \"1\"");
    assert_eq!(rows[0]["verdict"], "fail");
    assert_eq!(rows[0]["failing"], "tls.registry");
}

/// `summarize --baseline`: what changed since last night, in Markdown through cmark-gfm, CSV through
/// Python's csv module, and JSON; exit 1 for a regression, 0 when nothing newly fails.
#[test]
fn summarize_baseline_says_what_changed_to_each_consumer() {
    use preflight::result::{Status, Verdict};
    let bin = env!("CARGO_BIN_EXE_ack-edge-preflight");
    let d = tempfile::tempdir().unwrap();
    let (base, now) = (d.path().join("base"), d.path().join("now"));
    std::fs::create_dir_all(&base).unwrap();
    std::fs::create_dir_all(&now).unwrap();
    let failing = hostile();
    let mut healthy = hostile();
    for r in &mut healthy.results {
        r.status = Status::Pass;
    }
    healthy.summary.verdict = Verdict::Pass;
    std::fs::write(base.join("n.json"), render(&healthy, Format::Json, PLAIN)).unwrap();
    std::fs::write(now.join("n.json"), render(&failing, Format::Json, PLAIN)).unwrap();
    let run = |fmt: &str, from: &std::path::Path, to: &std::path::Path| {
        let o = Command::new(bin)
            .args([
                "summarize",
                "--max-age",
                "366d",
                "--format",
                fmt,
                "--baseline",
            ])
            .arg(from)
            .arg(to)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8(o.stdout).unwrap())
    };
    let (code, md) = run("markdown", &base, &now);
    assert_eq!(code, Some(1), "a regression is exit 1:\n{md}");
    let html = gfm_tables_keep_their_columns(&md, "summarize --baseline --format markdown");
    assert!(html.contains("New failures (1)"), "{html}");
    assert!(html.contains("dc|node&lt;1&gt;"), "{html}");
    let (_, json) = run("json", &base, &now);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["new_failures"]["count"], 1, "{v}");
    assert_eq!(v["fixed"]["count"], 0, "{v}");
    let (_, csv) = run("csv", &base, &now);
    let mut c = venv_python("csv", "(the standard library)");
    c.args([
        "-c",
        "import csv, json, sys; print(json.dumps(list(csv.DictReader(sys.stdin))))",
    ]);
    let (ok, out, err) = pipe(c, &csv);
    assert!(ok, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["change"], "new-failures", "{rows}");
    assert_eq!(rows[0]["host"], "dc|node<1>", "{rows}");
    // the other way round: the failure was fixed, nothing newly fails
    let (code, json) = run("json", &now, &base);
    assert_eq!(code, Some(0), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["fixed"]["count"], 1, "{v}");
}
