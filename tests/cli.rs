//! The binary's contract: help, catalogue, plan (sends nothing), bad input → exit 2 with one line.
//! Nothing here sends a packet: every `check` below fails validation before any probe runs.

use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ack-edge-preflight"))
}

fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .output()
        .expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn usage_error(args: &[&str], must_contain: &str) {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    assert!(
        err.contains(must_contain),
        "{args:?}: {err:?} lacks {must_contain:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty(), "{args:?} printed a report");
}

#[test]
fn help_snapshot() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    insta::assert_snapshot!("help", stdout(&o));
    let o = run(&["check", "--help"]);
    insta::assert_snapshot!("check_help", stdout(&o));
}

#[test]
fn requirements_snapshot() {
    let o = run(&["requirements", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    insta::assert_json_snapshot!("requirements", v);
    let o = run(&["requirements"]);
    assert!(stdout(&o).contains("tcp.registry"));
}

#[test]
fn regions_lists_all_26() {
    let o = run(&["regions", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 26);
    let o = run(&["regions"]);
    assert!(stdout(&o).contains("(none documented: 100.0.0.0/8)"));
}

#[test]
fn plan_lists_probes_and_sends_nothing() {
    let o = run(&[
        "plan",
        "--region",
        "cn-hangzhou",
        "--apiserver",
        "192.168.0.10",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let probes = v["probes"].as_array().unwrap();
    let tcp_registry: Vec<&serde_json::Value> = probes
        .iter()
        .filter(|p| p["id"] == "tcp.registry")
        .collect();
    assert_eq!(tcp_registry[0]["addr"]["fixed"], "100.103.9.188");
    assert!(probes
        .iter()
        .any(|p| p["id"] == "tcp.apiserver" && p["port"] == 6443));
    let o = run(&["plan", "--region", "cn-hangzhou"]);
    insta::assert_snapshot!("plan_table", stdout(&o));
}

#[test]
fn bad_input_exits_2_with_one_line() {
    // watch: every value is checked before anything is sent (each case below is refused, so
    // nothing here probes the host's network)
    usage_error(
        &["watch", "--region", "cn-hangzhou", "--interval", "500ms"],
        "invalid --interval '500ms'",
    );
    usage_error(
        &["watch", "--region", "cn-hangzhou", "--duration", "8d"],
        "invalid --duration '8d'",
    );
    usage_error(
        &[
            "watch",
            "--region",
            "cn-hangzhou",
            "--samples",
            "/nonexistent-dir/x.jsonl",
        ],
        "--samples '/nonexistent-dir/x.jsonl'",
    );
    usage_error(
        &["watch", "--region", "cn-hangzhou", "--page", "/"],
        "--page '/'",
    );
    usage_error(
        &[
            "summarize",
            "--baseline",
            "/nonexistent-dir",
            "/nonexistent-dir2",
        ],
        "nothing to summarize",
    );
}

#[test]
fn summarize_baseline_that_holds_nothing_is_a_usage_error() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    std::fs::create_dir(&base).unwrap();
    std::fs::write(base.join("empty.json"), "{}").unwrap();
    let now = d.path().join("now.json");
    std::fs::write(
        &now,
        serde_json::json!({
            "schema_version": 1,
            "tool": {"name": "ack-edge-preflight", "version": "0.1.0"},
            "started_at": "2026-11-21T10:00:00Z", "duration_ms": 800,
            "host": {"hostname": "n", "os": "x", "kernel": "y", "addresses": [], "nameservers": []},
            "target": {"region": "cn-hangzhou", "cni": "flannel", "apiserver": null},
            "summary": {"pass": 1, "warn": 0, "fail": 0, "skip": 0, "verdict": "pass"},
            "results": []
        })
        .to_string(),
    )
    .unwrap();
    usage_error(
        &[
            "summarize",
            "--baseline",
            base.to_str().unwrap(),
            now.to_str().unwrap(),
        ],
        "invalid --baseline",
    );
    usage_error(
        &["check", "--region", "cn-hangzou"],
        "unknown region 'cn-hangzou'",
    );
    usage_error(&["check", "--region", "cn-hangzou"], "nearest: cn-hangzhou");
    usage_error(
        &["plan", "--region", "cn-hangzhou", "--timeout", "3x"],
        "invalid --timeout '3x'",
    );
    usage_error(
        &["plan", "--region", "cn-hangzhou", "--timeout", "0"],
        "invalid --timeout '0'",
    );
    usage_error(
        &[
            "plan",
            "--region",
            "cn-hangzhou",
            "--apiserver",
            "192.168.0.10:70000",
        ],
        "port 70000 is out of range",
    );
    usage_error(
        &[
            "plan",
            "--region",
            "cn-hangzhou",
            "--pod-cidr",
            "172.16.0.0/33",
        ],
        "invalid --pod-cidr '172.16.0.0/33'",
    );
    usage_error(
        &[
            "plan",
            "--region",
            "cn-hangzhou",
            "--vpc-cidr",
            "192.168.1.0/16",
        ],
        "did you mean 192.168.0.0/16",
    );
    usage_error(
        &[
            "plan",
            "--region",
            "cn-hangzhou",
            "--dns-server",
            "dns.example",
        ],
        "invalid --dns-server 'dns.example'",
    );
    usage_error(
        &[
            "plan",
            "--region",
            "cn-hangzhou",
            "--endpoint",
            "198.18.0.1:443",
        ],
        "invalid --endpoint",
    );
    usage_error(
        &["plan", "--region", "cn-hangzhou", "--only", "tcp.nothing"],
        "invalid --only 'tcp.nothing'",
    );
    usage_error(
        &["plan", "--region", "cn-hangzhou", "--k8s-version", "banana"],
        "invalid --k8s-version 'banana'",
    );
    usage_error(
        &[
            "plan",
            "--region",
            "cn-hangzhou",
            "--ntp-fail-offset",
            "0.1s",
        ],
        "must be larger than --ntp-warn-offset",
    );
    usage_error(
        &["plan", "--region", "cn-hangzhou", "--cni", "calico"],
        "calico",
    );
    usage_error(&["check"], "--region");
    usage_error(&["frobnicate"], "frobnicate");
}

#[test]
fn regions_file_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope.toml");
    let m = missing.to_string_lossy().to_string();
    usage_error(
        &["plan", "--region", "x", "--regions-file", &m],
        &format!("--regions-file {m}"),
    );
    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, "[[region]]\nid = \"lab-1\"\n").unwrap();
    let b = bad.to_string_lossy().to_string();
    usage_error(&["regions", "--regions-file", &b], "missing field");
    let out = d.path().join("out.toml");
    std::fs::write(&out, "[[region]]\nid = \"lab-1\"\nname = \"L\"\ncontrol_plane = \"a.b\"\nregistry = \"c.d\"\noss = \"e.f\"\nregistry_routes = [\"10.1.1.1/32\"]\noss_vips = []\n").unwrap();
    let o = out.to_string_lossy().to_string();
    usage_error(
        &["plan", "--region", "lab-1", "--regions-file", &o],
        "outside 100.0.0.0/8",
    );
    // a valid override replaces the table
    std::fs::write(&out, "[[region]]\nid = \"lab-1\"\nname = \"L\"\ncontrol_plane = \"a.b\"\nregistry = \"c.d\"\noss = \"e.f\"\nregistry_routes = [\"100.1.1.1/32\"]\noss_vips = []\n").unwrap();
    let r = run(&["plan", "--region", "lab-1", "--regions-file", &o]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert!(stdout(&r).contains("100.1.1.1"));
    usage_error(
        &["plan", "--region", "cn-hangzhou", "--regions-file", &o],
        "unknown region 'cn-hangzhou'",
    );
}

#[test]
fn summarize_reports() {
    let d = tempfile::tempdir().unwrap();
    let report = |host: &str, status: &str| {
        serde_json::json!({
            "schema_version": 1,
            "tool": {"name": "ack-edge-preflight", "version": "0.1.0"},
            "started_at": "2026-11-21T10:00:00Z", "duration_ms": 800,
            "host": {"hostname": host, "os": "x", "kernel": "y", "addresses": [], "nameservers": []},
            "target": {"region": "cn-hangzhou", "cni": "flannel", "apiserver": null},
            "summary": {"pass": 0, "warn": 0, "fail": i32::from(status == "fail"), "skip": 0, "verdict": if status == "fail" {"fail"} else {"pass"}},
            "results": [{"id": "tcp.registry", "category": "tcp", "title": "t", "target": "r", "address": "100.103.9.188:443",
                         "status": status, "message": "m", "remediation": "", "source": "", "duration_ms": 1, "details": {}}]
        })
        .to_string()
    };
    let a = d.path().join("a.json");
    let b = d.path().join("b.json");
    std::fs::write(&a, report("dc-node-01", "fail")).unwrap();
    std::fs::write(&b, report("dc-node-02", "pass")).unwrap();
    let (a, b) = (
        a.to_string_lossy().to_string(),
        b.to_string_lossy().to_string(),
    );
    let o = run(&["summarize", "--format", "json", &a, &b]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["hosts"], 2);
    assert_eq!(v["requirements"][0]["failing_hosts"][0], "dc-node-01");
    let o = run(&["summarize", &b]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("1 pass"));
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "{\"schema_version\": 9}").unwrap();
    usage_error(
        &["summarize", &bad.to_string_lossy()],
        "schema_version 9 is not supported",
    );
    usage_error(&["summarize", "/nonexistent/r.json"], "/nonexistent/r.json");
    // one unreadable file among good ones: listed with the reason, the rest summarized, exit 1
    let o = run(&["summarize", &b, &bad.to_string_lossy(), &b]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("1 hosts from 3 files")
            && out.contains("1 duplicate reports counted once")
            && out.contains("1 files unreadable"),
        "{out}"
    );
    assert!(out.contains("schema_version 9 is not supported"), "{out}");
    // a directory stands for its *.json files; csv is one line per host
    let o = run(&[
        "summarize",
        "--format",
        "csv",
        "--max-age",
        "300d",
        &d.path().to_string_lossy(),
    ]);
    let out = stdout(&o);
    assert!(out.starts_with("host,file,hostname,machine_id,address,verdict,failing,warning,started_at,version,region\r\n"), "{out}");
    assert!(
        out.contains("dc-node-01,") && out.contains(",fail,tcp.registry,"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    usage_error(
        &["summarize", "--max-age", "forever", &b],
        "invalid --max-age 'forever'",
    );
    usage_error(
        &["summarize", "--hosts-per-requirement", "0", &b],
        "invalid --hosts-per-requirement '0'",
    );
}

#[test]
fn contract_errors_are_one_line_and_exit_2() {
    // nothing here reaches a probe: each fails validation (or has an empty plan) first
    usage_error(
        &[
            "check",
            "--region",
            "cn-hangzhou",
            "--accept",
            "tcp.regsitry",
        ],
        "nearest: tcp.registry",
    );
    usage_error(
        &[
            "check",
            "--region",
            "cn-hangzhou",
            "--only",
            "tcp",
            "--skip",
            "tcp",
        ],
        "nothing to check",
    );
    usage_error(
        &[
            "check",
            "--region",
            "cn-hangzhou",
            "--accept",
            "tcp.registry@",
        ],
        "--accept",
    );
    usage_error(
        &[
            "check",
            "--region",
            "cn-hangzhou",
            "--only",
            "tools",
            "--bundle",
            "/tmp",
        ],
        "invalid --bundle '/tmp': is a directory",
    );
    usage_error(
        &[
            "check",
            "--region",
            "cn-hangzhou",
            "--only",
            "tools",
            "--bundle",
            "/dev/null",
        ],
        "invalid --bundle '/dev/null': must be a regular file",
    );
    usage_error(
        &["inbound", "--nodes-file", "/nonexistent/rack.txt"],
        "invalid --nodes-file '/nonexistent/rack.txt'",
    );
    for bad in ["255.255.255.255", "224.0.0.1", "0.0.0.0"] {
        usage_error(
            &["check", "--region", "cn-hangzhou", "--peer", bad],
            &format!("invalid --peer '{bad}'"),
        );
    }
    usage_error(
        &[
            "check",
            "--region",
            "cn-hangzhou",
            "--endpoint",
            "tcp://0.0.0.0:443",
        ],
        "unspecified",
    );
    usage_error(
        &[
            "check",
            "--region",
            "cn-hangzhou",
            "--dns-server",
            "224.0.0.251",
        ],
        "multicast",
    );
    // the console's form of the API server endpoint is accepted (plan sends nothing)
    let o = run(&[
        "plan",
        "--region",
        "cn-hangzhou",
        "--apiserver",
        "https://192.168.0.10:6443",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("192.168.0.10"));
}

#[test]
fn a_failed_write_is_exit_3_and_a_closed_pipe_is_quiet() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let o = bin()
        .args(["plan", "--region", "cn-hangzhou"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("standard output"), "{}", stderr(&o));
    // a reader that goes away (| head -1): no error message, no failure
    let mut child = bin()
        .args(["requirements"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}
