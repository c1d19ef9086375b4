//! The fuzz targets' inputs as regression tests: every seed of `fuzz/corpus/` and every input that
//! once broke a parser (`fuzz/regressions/`) goes through the same entry points the fuzzers call
//! (`preflight::fuzzing`), on every `cargo test`. The fuzzers themselves run in CI (`fuzz/run.sh`).

use std::path::Path;

fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = vec![];
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// Every input of `dir` through `entry`, none may panic; the corpus is in the repository.
fn replay(dir: &str, entry: fn(&[u8])) {
    let all = inputs(dir);
    assert!(all.len() >= 5, "the {dir} corpus is in the repository");
    for (name, data) in all {
        assert!(std::panic::catch_unwind(|| entry(&data)).is_ok(), "{name}");
    }
}

#[test]
fn network_inputs_parse_without_panic_and_stay_escaped() {
    replay("network", preflight::fuzzing::network);
}

#[test]
fn host_inputs_parse_without_panic_and_stay_escaped() {
    replay("host", preflight::fuzzing::host);
}

#[test]
fn escape_sequences_from_peers_and_files_never_reach_the_terminal_raw() {
    // a registry's refusal body, a Status message and an iptables comment carrying ESC [ 2 J
    for data in [
        &b"\x1b[2J\x1b]0;owned\x07 denied"[..],
        br#"{"kind":"Status","code":403,"message":"\u001b[2Jforbidden"}"#,
        b"*filter\n:INPUT DROP [0:0]\n-A INPUT -m comment --comment \"\x1b[2J\" -j DROP\nCOMMIT\n",
    ] {
        preflight::fuzzing::network(data);
        preflight::fuzzing::host(data);
    }
}
