//! Report renderers: snapshots with the timestamp redacted, and the JSON Schema in docs/.

use preflight::cause::{ErrorClass, Phase};
use preflight::evidence::CausedBy;
use preflight::report::{render, Format, Style};
use preflight::result::*;

fn row(id: &str, target: &str, addr: Option<&str>, status: Status, msg: &str) -> CheckResult {
    let cat = preflight::catalogue::builtin().unwrap();
    let req = cat.get_str(id).unwrap();
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
        details: Default::default(),
        waived: None,
    }
}

pub fn sample() -> Report {
    let mut fail = row("tcp.registry", "registry-cn-hangzhou-vpc.ack.aliyuncs.com", Some("100.103.9.188:443"), Status::Fail,
        "TCP 100.103.9.188:443: connection timed out after 3000 ms (packets silently dropped: firewall DROP or broken route)");
    fail.details.phase = Some(Phase::Tcp);
    fail.details.error = Some(ErrorClass::Timeout);
    let results = vec![
        row(
            "dns.registry",
            "registry-cn-hangzhou-vpc.ack.aliyuncs.com",
            None,
            Status::Pass,
            "resolves to 100.103.9.188, all documented route addresses",
        ),
        fail,
        row(
            "tcp.apiserver",
            "(not given)",
            None,
            Status::Skip,
            "--apiserver not given",
        ),
        {
            let mut w = row("tools.socat", "socat", None, Status::Warn, "missing socat (searched /usr/bin); edgeadm will try to install it online: yum install socat / apt-get install socat");
            w.details.phase = Some(Phase::Tools);
            w.details.error = Some(ErrorClass::Missing);
            w
        },
        row(
            "port.local",
            "tcp/10250",
            None,
            Status::Pass,
            "tcp/10250 is free",
        ),
    ];
    Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "ack-edge-preflight".into(),
            version: "0.1.0".into(),
        },
        started_at: "2026-11-21T10:00:00Z".into(),
        duration_ms: 3012,
        host: HostInfo {
            hostname: "dc-node-01".into(),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            kernel: "6.1.0".into(),
            addresses: vec!["10.0.0.10/24".into()],
            nameservers: vec!["100.100.2.136".into()],
            machine_id: "0123456789abcdef0123456789abcdef".into(),
            primary_address: Some("10.0.0.10".into()),
        },
        target: TargetInfo {
            region: "cn-hangzhou".into(),
            cni: "flannel".into(),
            apiserver: None,
        },
        options: RunOptions {
            region: "cn-hangzhou".into(),
            cni: "flannel".into(),
            k8s_version: "1.26".into(),
            timeout_ms: 3000,
            ..Default::default()
        },
        summary: Summary::of(&results, false).with_untested(vec![Untested {
            id: "tcp.apiserver".into(),
            reason: "needs --apiserver".into(),
        }]),
        waivers: vec![],
        results,
    }
}

const PLAIN: Style = Style::PLAIN;

#[test]
fn json_shape() {
    let v: serde_json::Value =
        serde_json::from_str(&render(&sample(), Format::Json, PLAIN)).unwrap();
    insta::assert_json_snapshot!("report_json", v, {".started_at" => "[timestamp]", ".duration_ms" => "[ms]"});
    assert_eq!(v["summary"]["verdict"], "fail");
    assert_eq!(v["results"][1]["address"], "100.103.9.188:443");
}

#[test]
fn json_schema_accepts_real_output_and_rejects_a_broken_one() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../docs/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&render(&sample(), Format::Json, PLAIN)).unwrap();
    let errs: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errs.is_empty(), "{errs:#?}");
    let mut broken = v.clone();
    broken["results"][0]["status"] = "ok".into();
    assert!(!validator.is_valid(&broken));
    let mut broken = v;
    broken["schema_version"] = 99.into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn table_markdown_junit() {
    insta::assert_snapshot!("report_table", render(&sample(), Format::Table, PLAIN));
    insta::assert_snapshot!(
        "report_markdown",
        render(&sample(), Format::Markdown, PLAIN)
    );
    let junit = render(&sample(), Format::Junit, PLAIN);
    insta::assert_snapshot!("report_junit", junit);
    assert!(render(
        &sample(),
        Format::Junit,
        Style {
            strict: true,
            ..Style::PLAIN
        }
    )
    .contains("failures=\"2\""));
}

/// The sample with a TLS and an HTTP row that the failed TCP connect explains.
fn with_consequences() -> Report {
    let mut r = sample();
    for id in ["tls.registry", "http.registry"] {
        let mut x = row(
            id,
            "registry-cn-hangzhou-vpc.ack.aliyuncs.com",
            Some("100.103.9.188:443"),
            Status::Skip,
            "not probed: TCP connect failed (connection timed out after 3000 ms)",
        );
        x.details.phase = Some(Phase::Tcp);
        x.details.error = Some(ErrorClass::Timeout);
        x.details.caused_by = Some(CausedBy {
            id: "tcp.registry".into(),
            target: Some("registry-cn-hangzhou-vpc.ack.aliyuncs.com".into()),
            address: Some("100.103.9.188:443".into()),
        });
        r.results.push(x);
    }
    r.summary = Summary::of(&r.results, false);
    r
}

#[test]
fn table_fits_80_and_200_columns() {
    let r = with_consequences();
    for (width, name) in [(80, "report_table_80"), (200, "report_table_200")] {
        let t = render(&r, Format::Table, Style { width, ..PLAIN });
        for l in t.lines() {
            assert!(l.chars().count() <= width, "line wider than {width}: {l:?}");
        }
        // ids and addresses are never split across lines
        for whole in ["tcp.registry", "100.103.9.188:443", "tools.socat"] {
            assert!(t.contains(whole), "{whole} split at {width}:\n{t}");
        }
        // the cause leads, its consequences are folded under it and not repeated as SKIPs
        assert!(
            t.contains("→ 2 dependent checks not run: tls.registry,"),
            "{t}"
        );
        assert!(!t.contains("SKIP"), "{t}");
        insta::assert_snapshot!(name, t);
    }
    // every row with --all; ASCII only for a serial console
    let all = render(
        &r,
        Format::Table,
        Style {
            width: 80,
            all: true,
            ascii: true,
            ..PLAIN
        },
    );
    assert!(all.is_ascii(), "{all}");
    assert!(
        all.contains("| SKIP") && all.contains("tls.registry"),
        "{all}"
    );
    insta::assert_snapshot!("report_table_all_ascii", all);
    // colour: statuses and the verdict, and nothing but SGR sequences
    let c = render(
        &r,
        Format::Table,
        Style {
            width: 80,
            color: true,
            ..PLAIN
        },
    );
    assert!(c.contains("\x1b[1;31mVerdict: FAIL"), "{c:?}");
    assert!(!render(&r, Format::Table, Style { width: 80, ..PLAIN }).contains('\x1b'));
}

#[test]
fn strict_turns_warn_into_fail() {
    let mut r = sample();
    r.results.retain(|x| x.status != Status::Fail);
    assert_eq!(Summary::of(&r.results, false).verdict, Verdict::Warn);
    assert!(Summary::of(&r.results, true).failed());
}

#[test]
fn schema_enums_are_the_rust_enums() {
    use preflight::cause::{ErrorClass, Phase};
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../docs/report.schema.json")).unwrap();
    let details = &schema["properties"]["results"]["items"]["properties"]["details"]["properties"];
    let list = |v: &serde_json::Value| {
        v["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(&details["phase"]),
        Phase::ALL
            .iter()
            .map(|p| p.as_str().to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        list(&details["error"]),
        ErrorClass::ALL
            .iter()
            .map(|p| p.as_str().to_string())
            .collect::<Vec<_>>()
    );
    let cats = list(&schema["properties"]["results"]["items"]["properties"]["category"]);
    assert_eq!(
        cats,
        preflight::ids::Category::ALL
            .iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
    );
}

#[test]
fn schema_demands_a_cause_on_fail_and_warn_rows() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../docs/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&render(&sample(), Format::Json, PLAIN)).unwrap();
    assert!(validator.is_valid(&v));
    let mut no_cause = v.clone();
    no_cause["results"][1]["details"] = serde_json::json!({});
    assert!(
        !validator.is_valid(&no_cause),
        "a FAIL row without phase/error must be invalid"
    );
    let mut open_phase = v.clone();
    open_phase["results"][1]["details"]["phase"] = "udp-ish".into();
    assert!(!validator.is_valid(&open_phase));
    let mut lone = v;
    lone["results"][0]["details"] = serde_json::json!({"error": "timeout"});
    assert!(!validator.is_valid(&lone), "error without phase");
}

#[test]
fn rows_that_say_the_same_thing_are_one_row() {
    let mut r = sample();
    let mut second = r.results[1].clone();
    second.address = Some("100.103.7.181:443".into());
    second.message = second.message.replace("100.103.9.188", "100.103.7.181");
    r.results.push(second);
    r.summary = Summary::of(&r.results, false);
    let t = render(&r, Format::Table, Style { width: 80, ..PLAIN });
    assert_eq!(t.matches("│ FAIL").count(), 1, "{t}");
    assert!(
        t.contains("100.103.9.188:443")
            && t.contains("100.103.7.181:443")
            && t.contains("2 addresses alike"),
        "{t}"
    );
    // with --all every row is there
    let all = render(
        &r,
        Format::Table,
        Style {
            width: 80,
            all: true,
            ..PLAIN
        },
    );
    assert_eq!(all.matches("│ FAIL").count(), 2, "{all}");
}

/// Failed flows whose sweeps stop at the same hop are one path row, led by the path and its fixes
/// for each explanation that fits, not one row "caused by" another.
#[test]
fn flows_that_stop_at_the_same_hop_are_one_path() {
    let mut r = sample();
    let hops = serde_json::json!({
        "hops": [{"ttl": 1, "address": "10.0.0.1", "rtt_ms": 0.3, "side": "datacenter"}],
        "where": "either"
    });
    let mut dns = row(
        "dns.registry",
        "registry-cn-hangzhou-vpc.ack.aliyuncs.com",
        None,
        Status::Fail,
        "does not resolve via 100.100.2.136: timed out after 1000 ms",
    );
    dns.details = serde_json::from_value(serde_json::json!({
        "phase": "dns", "error": "timeout",
        "hops": hops["hops"], "where": "either"
    }))
    .unwrap();
    let mut tcp = r.results[1].clone();
    let mut d = serde_json::to_value(&tcp.details).unwrap();
    d["hops"] = hops["hops"].clone();
    d["where"] = hops["where"].clone();
    tcp.details = serde_json::from_value(d).unwrap();
    r.results[1] = tcp;
    r.results.insert(0, dns);
    r.summary = Summary::of(&r.results, false);
    let t = render(
        &r,
        Format::Table,
        Style {
            width: 400,
            ..PLAIN
        },
    );
    assert!(
        t.contains("2 failed flows stop at 10.0.0.1 (hop 1, datacenter side), the last hop that answers them"),
        "{t}"
    );
    assert!(
        t.contains("path 10.0.0.1 (hop 1, datacenter side)"),
        "the path has its own fix:\n{t}"
    );
    assert!(t.contains("route to the datacenter CIDR"), "{t}");
    assert!(
        !t.contains("allow UDP and TCP 53"),
        "a broken path's rows do not send the operator to a port:\n{t}"
    );
    // with --all every row is there, as it was
    let all = render(
        &r,
        Format::Table,
        Style {
            width: 100,
            all: true,
            ..PLAIN
        },
    );
    assert!(
        all.contains("dns.registry") && all.contains("tcp.registry"),
        "{all}"
    );
}
