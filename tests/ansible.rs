//! The Ansible role (packaging/ansible) for real: three node namespaces of the lab each run sshd
//! (Debian's openssh-server) with a key made for this test; a controller namespace runs
//! ansible-playbook (ansible-core from the tools virtualenv `.ci/run` makes) against them; one node
//! cannot reach one registry address. Asserts the play's outcome, the summary (which host, which
//! requirement), that nothing is left on the hosts, idempotence with a kept binary, and check mode.
//!
//! Needs root (namespaces) and ansible-playbook (AEP_ANSIBLE_BIN, else the CI tools venv). Without
//! them the test says so loudly and passes, except under CI=true, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

const NODES: [(&str, &str); 3] = [
    ("f1", "10.0.11.10"),
    ("f2", "10.0.12.10"),
    ("f3", "10.0.13.10"),
];
const FAULTY: &str = "10.0.13.10";

fn lab_sh() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab.sh")
}

struct Lab {
    id: String,
}

impl Lab {
    fn sh(&self, args: &[&str]) -> String {
        let o = Command::new("timeout")
            .args(["120", "bash"])
            .arg(lab_sh())
            .args(args)
            .env("LAB_ID", &self.id)
            .output()
            .expect("lab.sh");
        assert!(
            o.status.success(),
            "lab.sh {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(lab_sh())
            .arg("down")
            .env("LAB_ID", &self.id)
            .output();
    }
}

fn ansible_bin() -> PathBuf {
    PathBuf::from(
        std::env::var("AEP_ANSIBLE_BIN")
            .unwrap_or_else(|_| "/opt/ack-edge-preflight-ci/venv/bin".into()),
    )
}

/// What cannot be had here, if anything.
fn missing() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("not root (network namespaces)".into());
    }
    if !ansible_bin().join("ansible-playbook").is_file() {
        return Some(format!(
            "no ansible-playbook in {} (pip install ansible-core; .ci/run does)",
            ansible_bin().display()
        ));
    }
    if !Path::new("/usr/sbin/sshd").is_file() {
        return Some("no /usr/sbin/sshd (apt-get install openssh-server; .ci/run does)".into());
    }
    None
}

struct Play {
    code: i32,
    out: String,
}

impl Play {
    /// `changed=` of a host in the PLAY RECAP.
    fn changed(&self, host: &str) -> Option<u32> {
        let line = self
            .out
            .lines()
            .rev()
            .find(|l| l.starts_with(&format!("{host} ")) && l.contains("changed="))?;
        line.split("changed=")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

fn play(lab: &Lab, dir: &Path, extra: &[&str]) -> Play {
    let bin = env!("CARGO_BIN_EXE_ack-edge-preflight");
    let playbook =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packaging/ansible/preflight.yml");
    let vars = serde_json::json!({
        "aep_become": false,
        "aep_region": "cn-hangzhou",
        "aep_binary": bin,
        "aep_apiserver": "192.168.0.10",
        "aep_timeout": "1s",
        "aep_extra_args": ["--only", "dns,route,tcp,tls,http", "--ca-file", format!("{}/pki/ca.pem", lab.sh(&["dir"]))],
    });
    let o = Command::new("ip")
        .args(["netns", "exec", &format!("{}-ctl", lab.id)])
        .arg(ansible_bin().join("ansible-playbook"))
        .arg("-i")
        .arg(dir.join("inventory.ini"))
        .arg(&playbook)
        .arg("-e")
        .arg(vars.to_string())
        .args(extra)
        .env("ANSIBLE_HOME", dir.join("ansible-home"))
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env(
            "ANSIBLE_SSH_ARGS",
            "-o UserKnownHostsFile=/dev/null -o ControlMaster=no",
        )
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .env(
            "PATH",
            format!(
                "{}:{}",
                ansible_bin().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("ansible-playbook");
    Play {
        code: o.status.code().unwrap_or(-1),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

/// The run's temporary directories the role makes on the hosts (the namespaces share /tmp).
fn leftovers() -> Vec<String> {
    std::fs::read_dir(std::env::temp_dir())
        .map(|rd| {
            rd.filter_map(std::result::Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("ack-edge-preflight."))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn ansible_role_runs_the_fleet_and_fails_with_the_summary() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if let Some(why) = missing() {
        assert!(!ci, "CI=true: the Ansible lab test cannot run: {why}");
        eprintln!("\n!!!!!!!! ANSIBLE LAB NOT RUN: {why} !!!!!!!!\n");
        return;
    }
    let lab = Lab {
        id: format!("aepa{}", std::process::id()),
    };
    lab.sh(&["up"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("id_ed25519");
    let k = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(&key)
        .status()
        .unwrap();
    assert!(k.success(), "ssh-keygen");
    lab.sh(&["fleet", "3", &format!("{}.pub", key.display())]);
    lab.sh(&["fault", "fleet-registry-drop"]);
    let mut inv = String::from("[edge_nodes]\n");
    for (name, addr) in NODES {
        inv.push_str(&format!(
            "{name} ansible_host={addr} aep_install_path={}/keep/{name}/ack-edge-preflight\n",
            d.display()
        ));
    }
    inv.push_str(&format!(
        "\n[edge_nodes:vars]\nansible_user=root\nansible_ssh_private_key_file={}\nansible_python_interpreter=/usr/bin/python3\n",
        key.display()
    ));
    std::fs::write(d.join("inventory.ini"), inv).unwrap();
    let before = leftovers();

    // 1. the play fails with the summary: one host, one requirement
    let reports = d.join("reports");
    let p = play(
        &lab,
        d,
        &["-e", &format!("aep_report_dir={}", reports.display())],
    );
    assert_ne!(
        p.code, 0,
        "the play passed although {FAULTY} cannot reach the registry:\n{}",
        p.out
    );
    let want = "ack-edge-preflight: 1 of 3 hosts failed: ";
    let msg = p
        .out
        .lines()
        .find(|l| l.contains(want))
        .unwrap_or_else(|| panic!("no failure summary in the play:\n{}", p.out));
    assert!(msg.contains(&format!("({FAULTY}) [tcp.registry]")), "{msg}");
    for (name, _) in NODES {
        assert_eq!(
            p.changed(name),
            Some(0),
            "{name} reported changes:\n{}",
            p.out
        );
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(reports.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let errs = common::schema_errors(&report);
        assert!(
            errs.is_empty(),
            "{name}'s report breaks the schema: {errs:?}"
        );
    }
    assert_eq!(
        leftovers(),
        before,
        "the role left temporary directories on the hosts"
    );
    assert!(
        !d.join("keep").exists(),
        "the binary was installed although aep_keep_binary is false"
    );
    // the summary the role printed, as JSON: the failing host by address, the requirement, the error
    let o = Command::new(env!("CARGO_BIN_EXE_ack-edge-preflight"))
        .args(["summarize", "--format", "json"])
        .arg(&reports)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        s["hosts"], 3,
        "three namespaces share one hostname and machine id, but not an address: {s}"
    );
    let failing = s["failing_hosts"].as_array().unwrap();
    assert_eq!(failing.len(), 1, "{s}");
    assert!(
        failing[0]
            .as_str()
            .unwrap()
            .ends_with(&format!("({FAULTY})")),
        "{s}"
    );
    let req = &s["requirements"][0];
    assert_eq!(req["id"], "tcp.registry", "{s}");
    assert_eq!(req["groups"][0]["error"], "timeout", "{s}");
    assert_eq!(req["groups"][0]["addresses"][0], "100.103.9.188:443", "{s}");

    // 2. keep the binary: installed once (changed), then idempotent; the play passes with fail_on=never
    for (name, _) in NODES {
        std::fs::create_dir_all(d.join(format!("keep/{name}"))).unwrap(); // as /usr/local/bin exists
    }
    let keep = ["-e", "aep_keep_binary=true", "-e", "aep_fail_on=never"];
    let mut args = keep.to_vec();
    let rep = format!("aep_report_dir={}", reports.display());
    args.extend(["-e", &rep]);
    let p = play(&lab, d, &args);
    assert_eq!(p.code, 0, "{}", p.out);
    for (name, _) in NODES {
        assert_eq!(
            p.changed(name),
            Some(1),
            "{name}: the first kept install is a change:\n{}",
            p.out
        );
        assert!(d.join(format!("keep/{name}/ack-edge-preflight")).is_file());
    }
    let p = play(&lab, d, &args);
    assert_eq!(p.code, 0, "{}", p.out);
    for (name, _) in NODES {
        assert_eq!(
            p.changed(name),
            Some(0),
            "{name}: a second run must change nothing:\n{}",
            p.out
        );
    }

    // 3. check mode: nothing copied, run or fetched; the play passes and changes nothing
    std::fs::remove_dir_all(d.join("keep")).unwrap();
    let dry = d.join("dry-reports");
    let p = play(
        &lab,
        d,
        &[
            "--check",
            "-e",
            &format!("aep_report_dir={}", dry.display()),
        ],
    );
    assert_eq!(p.code, 0, "{}", p.out);
    assert!(p.out.contains("check mode: would copy"), "{}", p.out);
    for (name, _) in NODES {
        assert_eq!(p.changed(name), Some(0), "{name} in check mode:\n{}", p.out);
    }
    assert!(
        !dry.exists() && !d.join("keep").exists(),
        "check mode wrote something"
    );
    assert_eq!(leftovers(), before);
}
