//! Every text output, read by the real consumer that reads it: Markdown through a GFM renderer
//! (cmark-gfm), JUnit through an XSD validator (xmllint with tests/fixtures/junit-jenkins.xsd).
//! Both tools are Debian packages that `.ci/run` installs; a missing tool fails the test loudly.

use std::io::Write;
use std::process::{Command, Stdio};

use preflight::report::{render, Format, Style};
use preflight::result::*;

fn tool(name: &str, package: &str) -> Command {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(found, "{name} is not installed: apt-get install {package} (.ci/run does)");
    Command::new(name)
}

fn pipe(mut c: Command, input: &str) -> (bool, String, String) {
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
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
    waived.waived = Some(Waived { by: "tcp.registry".into(), reason: "ticket <42>".into() });
    let results = vec![
        row("tls.registry", "registry", Status::Fail, "subject CN=a|b <script>alert(1)</script> `x` & y\nsecond line \x1b[2J"),
        row("tools.socat", "socat", Status::Warn, "missing socat"),
        row("tcp.registry", "registry", Status::Pass, "connected"),
        row("tcp.registry", "registry", Status::Pass, "connected again (same id, target and address)"),
        waived,
        row("udp.vxlan", "(no --peer)", Status::Skip, "no --peer given"),
    ];
    Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo { name: "ack-edge-preflight".into(), version: "0.2.0".into() },
        started_at: "2026-11-21T10:00:00Z".into(),
        duration_ms: 1234,
        host: HostInfo { hostname: "dc|node<1>".into(), ..Default::default() },
        target: TargetInfo { region: "cn-hangzhou".into(), cni: "flannel".into(), apiserver: None },
        options: RunOptions::default(),
        summary: Summary::of(&results, false),
        waivers: vec![],
        results,
    }
}

const PLAIN: Style = Style { color: false, strict: false };

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
                    .map(|p| p.split_once('>').map(|x| x.1).unwrap_or("").to_string())
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
            assert_eq!(r.len(), width, "{what}: row {i} has {} cells, header {width}:\n{r:?}\n{md}", r.len());
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
    for want in ["CN=a|b", "&lt;script&gt;alert(1)&lt;/script&gt;", "`x` &amp; y", "second line", "dc|node&lt;1&gt;", "ticket &lt;42&gt;"] {
        assert!(html.contains(want), "{want:?} lost in:\n{html}");
    }
    assert!(!html.contains('\x1b'), "an escape sequence reached the Markdown");
}

#[test]
fn markdown_listings_render_one_row_per_line() {
    let bin = env!("CARGO_BIN_EXE_ack-edge-preflight");
    for args in [
        vec!["requirements", "--format", "markdown"],
        vec!["regions", "--format", "markdown"],
        vec!["plan", "--region", "cn-hangzhou", "--format", "markdown", "--peer", "192.0.2.20", "--apiserver", "192.0.2.10"],
    ] {
        let o = Command::new(bin).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let md = String::from_utf8(o.stdout).unwrap();
        let html = gfm_tables_keep_their_columns(&md, &args.join(" "));
        let rows: usize = tables(&html).iter().map(|t| t.len() - 1).sum();
        let md_rows = md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| Id ") && !l.starts_with("| Region ") && !l.starts_with("| Requirement ")).count();
        assert_eq!(rows, md_rows, "{args:?}: a Markdown row did not become exactly one table row");
    }
    // summarize, over a report whose texts carry pipes
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("a.json");
    std::fs::write(&f, render(&hostile(), Format::Json, PLAIN)).unwrap();
    let o = Command::new(bin).args(["summarize", "--format", "markdown"]).arg(&f).output().unwrap();
    let md = String::from_utf8(o.stdout).unwrap();
    let html = gfm_tables_keep_their_columns(&md, "summarize --format markdown");
    assert!(html.contains("CN=a|b"), "{html}");
}

#[track_caller]
fn valid_junit(xml: &str) {
    let xsd = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/junit-jenkins.xsd");
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
    assert!(x.contains("<skipped message=\"WARN: missing socat\"/>"), "{x}");
    assert!(x.contains("WAIVED (ticket &lt;42&gt;)"), "{x}");
    assert!(x.contains("tests=\"6\" failures=\"1\" errors=\"0\" skipped=\"3\""), "{x}");
    assert!(x.contains("<property name=\"hostname\" value=\"dc|node&lt;1&gt;\"/>"), "{x}");
    assert!(x.contains("classname=\"ack-edge-preflight.dc|node&lt;1&gt;.tls\""), "{x}");
    // names are unique per testsuite
    let names: Vec<&str> = x.split("name=\"").skip(1).map(|s| s.split('"').next().unwrap()).filter(|n| n.contains(' ')).collect();
    let mut uniq = names.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), names.len(), "{names:?}");
    assert!(!x.contains('\x1b'));
    // strict: WARN is a failure
    let s = render(&r, Format::Junit, Style { color: false, strict: true });
    valid_junit(&s);
    assert!(s.contains("failures=\"2\""), "{s}");
    // the validator can fail: a testsuite without its counts is rejected
    let (ok, _, _) = pipe(
        {
            let mut c = tool("xmllint", "libxml2-utils");
            c.args(["--noout", "--schema", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/junit-jenkins.xsd"), "-"]);
            c
        },
        "<testsuites><testsuite name=\"x\"/></testsuites>",
    );
    assert!(!ok, "the XSD accepted a testsuite without tests/failures/errors/skipped/time/timestamp");
}
