//! `check --bundle FILE.tar.gz`: the support bundle a ticket needs — the report (JSON, Markdown,
//! HTML) and the read-only evidence the run used, so nobody has to ask for the resolv.conf.
//!
//! What goes in is a fixed list (below); every text is redacted before it is written: credentials
//! in URLs, values of password / token / secret / key settings, and any private-key block (the
//! tool never opens key files, and a block found in another file is dropped). Each file is cut at
//! MAX_FILE, the whole at MAX_TOTAL. `manifest.json` lists every entry with its size, SHA-256,
//! where it came from and whether it was redacted or cut. The archive is written to a temporary
//! file in the destination directory (mode 0600), synced and renamed into place.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::net::HostFacts;

pub(crate) const MAX_FILE: usize = 1 << 20;
pub(crate) const MAX_TOTAL: usize = 16 << 20;

/// Files read from the host (through `--sysroot` like the checks), and directories whose regular
/// files are read.
pub(crate) const FILES: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/os-release",
    "/etc/nsswitch.conf",
    "/etc/environment",
    "/etc/chrony.conf",
    "/etc/chrony/chrony.conf",
    "/etc/ntp.conf",
    "/etc/systemd/timesyncd.conf",
    "/etc/apt/sources.list",
    "/etc/sysctl.conf",
    "/proc/version",
];
pub(crate) const DIRS: &[&str] = &[
    "/etc/apt/sources.list.d",
    "/etc/yum.repos.d",
    "/etc/sysctl.d",
    "/etc/modules-load.d",
    "/etc/systemd/resolved.conf.d",
];
/// Kernel settings the checks judge, rendered as `key = value`.
pub(crate) const SYSCTLS: &[&str] = &[
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
    "net.ipv4.conf.all.forwarding",
    "net.bridge.bridge-nf-call-iptables",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_mtu_probing",
    "vm.swappiness",
    "kernel.osrelease",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Path inside the archive.
    pub path: String,
    pub data: Vec<u8>,
    /// Where it came from: a host path, "netlink", "report".
    pub source: String,
    pub redacted: bool,
    pub truncated: bool,
}

#[derive(Serialize)]
struct ManifestEntry<'a> {
    path: &'a str,
    bytes: usize,
    sha256: String,
    source: &'a str,
    redacted: bool,
    truncated: bool,
}

const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "accesskey",
    "credential",
    "auth",
];

/// Redact one text: (redacted text, whether anything was changed).
pub(crate) fn redact(text: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut in_key = false;
    for line in text.split_inclusive('\n') {
        if line.contains("-----BEGIN") && line.contains("PRIVATE KEY") {
            in_key = true;
            changed = true;
            out.push_str("[private key removed by ack-edge-preflight]\n");
            continue;
        }
        if in_key {
            if line.contains("-----END") {
                in_key = false;
            }
            continue;
        }
        let (l, c) = redact_line(line);
        changed |= c;
        out.push_str(&l);
    }
    (out, changed)
}

fn redact_line(line: &str) -> (String, bool) {
    let mut l = line.to_string();
    let mut changed = false;
    // credentials in URLs: scheme://user:pass@host → scheme://***@host
    let mut from = 0;
    while let Some(p) = l[from..].find("://") {
        let start = from + p + 3;
        let end = l[start..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
            .map_or(l.len(), |e| start + e);
        if let Some(at) = l[start..end].rfind('@') {
            l.replace_range(start..start + at, "***");
            changed = true;
        }
        from = start.min(l.len());
    }
    // KEY=value / KEY: value / KEY value where KEY names a secret
    let lower = l.to_ascii_lowercase();
    let trimmed = lower.trim_start().trim_start_matches("export ");
    let key: String = trimmed
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
        .collect();
    if !key.is_empty() && SECRET_KEYS.iter().any(|s| key.contains(s)) {
        if let Some(sep) = l.find(['=', ':']) {
            let eol = if l.ends_with('\n') { "\n" } else { "" };
            l = format!("{}***{eol}", &l[..=sep]);
            changed = true;
        }
    }
    (l, changed)
}

/// Make an entry from a text: redacted and cut to MAX_FILE.
pub(crate) fn text_entry(path: &str, source: &str, text: &str) -> Entry {
    let (mut t, redacted) = redact(text);
    let truncated = t.len() > MAX_FILE;
    if truncated {
        let mut cut = MAX_FILE;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
        t.push_str("\n[cut by ack-edge-preflight at 1 MiB]\n");
    }
    Entry {
        path: path.into(),
        data: t.into_bytes(),
        source: source.into(),
        redacted,
        truncated,
    }
}

/// The host files of the bundle, read through `host` (so `--sysroot` applies), under `files/`.
pub(crate) fn host_files(host: &dyn HostFacts, sysroot: &Path) -> Vec<Entry> {
    let mut out = vec![];
    let mut paths: Vec<String> = FILES.iter().map(std::string::ToString::to_string).collect();
    for d in DIRS {
        paths.extend(host.list_dir(d));
    }
    // /etc/resolv.conf is often a link (systemd-resolved, NetworkManager): note where it points
    if let Some(target) = crate::sys::files::link_target(&sysroot.join("etc/resolv.conf")) {
        let abs = if target.is_absolute() {
            target
        } else {
            Path::new("/etc").join(target)
        };
        let shown = abs.display().to_string();
        out.push(text_entry(
            "files/etc/resolv.conf.link",
            "/etc/resolv.conf",
            &format!("/etc/resolv.conf -> {shown}\n"),
        ));
        paths.push(shown);
    }
    for p in paths {
        if let Some(text) = host.read_file(&p) {
            if !out.iter().any(|e: &Entry| e.path == format!("files{p}")) {
                out.push(text_entry(&format!("files{p}"), &p, &text));
            }
        }
    }
    let mut sysctl = String::new();
    for k in SYSCTLS {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        match host.read_file(&path) {
            Some(v) => sysctl.push_str(&format!("{k} = {}\n", v.trim())),
            None => sysctl.push_str(&format!("# {k}: not readable\n")),
        }
    }
    out.push(text_entry("host/sysctl.txt", "/proc/sys", &sysctl));
    out
}

/// Listening sockets with their owners (from /proc/net and /proc/*/fd, as `port.local` reads them).
pub(crate) fn listening(host: &dyn HostFacts) -> Entry {
    use crate::probe::port::SocketProto;
    let owners = host.socket_owners();
    let mut t = String::new();
    for proto in [SocketProto::Tcp, SocketProto::Udp] {
        match host.sockets(proto) {
            Ok(list) => {
                for s in list
                    .iter()
                    .filter(|s| s.state == 0x0A || (proto == SocketProto::Udp && s.state == 0x07))
                {
                    let who = owners
                        .get(&s.inode)
                        .map_or_else(|| "?".into(), |p| format!("{} (pid {})", p.name, p.pid));
                    t.push_str(&format!(
                        "{} {}:{} {who}\n",
                        proto.as_str(),
                        s.local_ip,
                        s.local_port
                    ));
                }
            }
            Err(e) => t.push_str(&format!("# {}: {e}\n", proto.as_str())),
        }
    }
    text_entry("net/listening.txt", "/proc/net/{tcp,udp}", &t)
}

fn sha256(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Entries within MAX_TOTAL (later ones are left out and listed), then the manifest.
pub(crate) fn finish(mut entries: Vec<Entry>, tool_version: &str, created_at: &str) -> Vec<Entry> {
    let mut total = 0;
    let mut left_out = vec![];
    entries.retain(|e| {
        if total + e.data.len() > MAX_TOTAL {
            left_out.push(e.path.clone());
            false
        } else {
            total += e.data.len();
            true
        }
    });
    let list: Vec<ManifestEntry> = entries
        .iter()
        .map(|e| ManifestEntry {
            path: &e.path,
            bytes: e.data.len(),
            sha256: sha256(&e.data),
            source: &e.source,
            redacted: e.redacted,
            truncated: e.truncated,
        })
        .collect();
    let manifest = serde_json::json!({
        "tool": {"name": "ack-edge-preflight", "version": tool_version},
        "created_at": created_at,
        "redaction": "credentials in URLs, values of password/token/secret/key settings, private-key blocks",
        "left_out_over_size_limit": left_out,
        "entries": list,
    });
    let data = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    entries.push(Entry {
        path: "manifest.json".into(),
        data,
        source: "ack-edge-preflight".into(),
        redacted: false,
        truncated: false,
    });
    entries
}

/// Write the entries as a gzip-compressed tar under `dir/`, atomically and mode 0600 (the way
/// `--output` replaces a file).
pub(crate) fn write(path: &Path, dir: &str, entries: &[Entry], mtime: u64) -> std::io::Result<()> {
    crate::sys::output::replace_atomically(path, Some(0o600), |file| {
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for e in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(e.data.len() as u64);
            h.set_mode(0o600);
            h.set_mtime(mtime);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            tar.append_data(&mut h, format!("{dir}/{}", e.path), e.data.as_slice())?;
        }
        tar.into_inner()?.finish()?.flush()
    })
}

/// Write the support bundle of a finished run to `path`: the report in three formats, the host's
/// files, its listening sockets and the netlink state read during the run. Says on standard error
/// what was written.
pub(crate) fn write_support(
    path: &Path,
    report: &crate::result::Report,
    host: &dyn HostFacts,
    sysroot: &Path,
    net_entries: Vec<Entry>,
    started: std::time::SystemTime,
) -> std::io::Result<()> {
    use crate::report::{render, Format, Style};
    let mut entries = vec![
        text_entry(
            "report/report.json",
            "report",
            &render(report, Format::Json, Style::PLAIN),
        ),
        text_entry(
            "report/report.md",
            "report",
            &render(report, Format::Markdown, Style::PLAIN),
        ),
        text_entry(
            "report/report.html",
            "report",
            &render(report, Format::Html, Style::PLAIN),
        ),
    ];
    entries.extend(host_files(host, sysroot));
    entries.push(listening(host));
    entries.extend(net_entries);
    let entries = finish(entries, env!("CARGO_PKG_VERSION"), &report.started_at);
    let mtime = started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = format!(
        "ack-edge-preflight-{}-{}",
        crate::text::clean(&report.host.hostname, 64).replace(['/', ' '], "_"),
        report.started_at.replace(':', "")
    );
    write(path, &dir, &entries, mtime)?;
    let bytes = crate::sys::files::size_of(path);
    eprintln!(
        "support bundle written to {} ({} files, {} KiB)",
        path.display(),
        entries.len(),
        bytes.div_ceil(1024)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secrets_and_keeps_the_rest() {
        let (t, changed) = redact(
            "HTTPS_PROXY=http://ops:s3cret@10.0.0.3:3128\nNO_PROXY=100.0.0.0/8\nexport API_TOKEN=abc123\npassword: hunter2\n\
             baseurl=https://user:pw@mirror.example/repo\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nnameserver 100.100.2.136\n",
        );
        assert!(changed);
        for gone in ["s3cret", "ops:", "abc123", "hunter2", "user:pw", "MIIE"] {
            assert!(!t.contains(gone), "{gone} survived:\n{t}");
        }
        for kept in [
            "http://***@10.0.0.3:3128",
            "NO_PROXY=100.0.0.0/8",
            "export API_TOKEN=***",
            "password:***",
            "nameserver 100.100.2.136",
            "[private key removed",
        ] {
            assert!(t.contains(kept), "{kept} missing:\n{t}");
        }
        assert_eq!(
            redact("nameserver 10.0.0.2\n"),
            ("nameserver 10.0.0.2\n".to_string(), false)
        );
    }

    #[test]
    fn big_files_are_cut_and_the_total_is_bounded() {
        let e = text_entry("files/x", "/x", &"a".repeat(MAX_FILE + 10));
        assert!(e.truncated && e.data.len() < MAX_FILE + 100);
        let many: Vec<Entry> = (0..20)
            .map(|i| text_entry(&format!("f{i}"), "/f", &"b".repeat(MAX_FILE - 100)))
            .collect();
        let out = finish(many, "0.0.0", "2026-11-22T00:00:00Z");
        let total: usize = out.iter().map(|e| e.data.len()).sum();
        assert!(total <= MAX_TOTAL + 64 * 1024, "{total}");
        let m: serde_json::Value = serde_json::from_slice(&out.last().unwrap().data).unwrap();
        assert!(!m["left_out_over_size_limit"].as_array().unwrap().is_empty());
    }
}
