//! Report renderers: snapshots with the timestamp redacted, and the JSON Schema in docs/.

use preflight::report::{render, Format, Style};
use preflight::result::*;

fn row(id: &str, target: &str, addr: Option<&str>, status: Status, msg: &str) -> CheckResult {
    let cat = preflight::catalogue::builtin().unwrap();
    let req = cat.get(id).unwrap();
    CheckResult {
        id: id.into(),
        category: id.split('.').next().unwrap().into(),
        title: req.title.clone(),
        target: target.into(),
        address: addr.map(String::from),
        status,
        message: msg.into(),
        remediation: req.remediation.replace("{region}", "cn-hangzhou"),
        source: req.source.clone(),
        duration_ms: 3,
        details: serde_json::Map::new(),
    }
}

pub fn sample() -> Report {
    let mut fail = row("tcp.registry", "registry-cn-hangzhou-vpc.ack.aliyuncs.com", Some("100.103.9.188:443"), Status::Fail,
        "TCP 100.103.9.188:443: connection timed out after 3000 ms (packets silently dropped: firewall DROP or broken route)");
    fail.details.insert("phase".into(), "tcp".into());
    fail.details.insert("error".into(), "timeout".into());
    let results = vec![
        row("dns.registry", "registry-cn-hangzhou-vpc.ack.aliyuncs.com", None, Status::Pass, "resolves to 100.103.9.188, all documented route addresses"),
        fail,
        row("tcp.apiserver", "(not given)", None, Status::Skip, "--apiserver not given"),
        row("tools.socat", "socat", None, Status::Warn, "missing socat (searched /usr/bin); edgeadm will try to install it online: yum install socat / apt-get install socat"),
        row("port.local", "tcp/10250", None, Status::Pass, "tcp/10250 is free"),
    ];
    Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo { name: "ack-edge-preflight".into(), version: "0.1.0".into() },
        started_at: "2026-11-21T10:00:00Z".into(),
        duration_ms: 3012,
        host: HostInfo { hostname: "dc-node-01".into(), os: "Debian GNU/Linux 12 (bookworm)".into(), kernel: "6.1.0".into(), addresses: vec!["10.0.0.10/24".into()], nameservers: vec!["100.100.2.136".into()] },
        target: TargetInfo { region: "cn-hangzhou".into(), cni: "flannel".into(), apiserver: None },
        summary: Summary::of(&results, false),
        results,
    }
}

const PLAIN: Style = Style { color: false, strict: false };

#[test]
fn json_shape() {
    let v: serde_json::Value = serde_json::from_str(&render(&sample(), Format::Json, PLAIN)).unwrap();
    insta::assert_json_snapshot!("report_json", v, {".started_at" => "[timestamp]", ".duration_ms" => "[ms]"});
    assert_eq!(v["summary"]["verdict"], "fail");
    assert_eq!(v["results"][1]["address"], "100.103.9.188:443");
}

#[test]
fn json_schema_accepts_real_output_and_rejects_a_broken_one() {
    let schema: serde_json::Value = serde_json::from_str(include_str!("../docs/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let v: serde_json::Value = serde_json::from_str(&render(&sample(), Format::Json, PLAIN)).unwrap();
    let errs: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errs.is_empty(), "{errs:#?}");
    let mut broken = v.clone();
    broken["results"][0]["status"] = "ok".into();
    assert!(!validator.is_valid(&broken));
    let mut broken = v;
    broken["schema_version"] = 2.into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn table_markdown_junit() {
    insta::assert_snapshot!("report_table", render(&sample(), Format::Table, PLAIN));
    insta::assert_snapshot!("report_markdown", render(&sample(), Format::Markdown, PLAIN));
    let junit = render(&sample(), Format::Junit, PLAIN);
    insta::assert_snapshot!("report_junit", junit);
    assert!(render(&sample(), Format::Junit, Style { color: false, strict: true }).contains("failures=\"2\""));
}

#[test]
fn strict_turns_warn_into_fail() {
    let mut r = sample();
    r.results.retain(|x| x.status != Status::Fail);
    assert_eq!(Summary::of(&r.results, false).verdict, "warn");
    assert!(Summary::of(&r.results, true).failed());
}

#[test]
fn atomic_output() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("r.json");
    preflight::report::write_atomic(&p, "one").unwrap();
    preflight::report::write_atomic(&p, "two").unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1, "no temp file left behind");
    assert!(preflight::report::write_atomic(&d.path().join("no/such/dir/r.json"), "x").is_err());
}
