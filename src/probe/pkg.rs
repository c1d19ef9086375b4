//! Package sources: parse yum and apt source files (pure) into the hosts edgeadm would contact, and
//! judge whether they are reachable. Phases: dns, tcp (of the source host), pkg.

use std::net::SocketAddr;

use crate::cause::{Cause, ErrorClass, Phase, Plain};
use crate::probe::dns::DnsFailure;
use crate::probe::tcp::TcpFailure;
use crate::result::Finding;

/// Where yum and apt keep their sources: (directory or file, is a directory).
pub(crate) const SOURCE_PATHS: &[(&str, bool)] = &[
    ("/etc/yum.repos.d", true),
    ("/etc/apt/sources.list", false),
    ("/etc/apt/sources.list.d", true),
];

/// Parse one source file by its name: `.repo` (yum), `.list` or `sources.list` (apt one-line),
/// `.sources` (deb822); anything else has no sources.
pub(crate) fn parse_file(path: &str, text: &str) -> Vec<Source> {
    if path.ends_with(".repo") && path.starts_with("/etc/yum.repos.d/") {
        parse_yum_repo(path, text)
    } else if path.ends_with(".list") || path == "/etc/apt/sources.list" {
        parse_apt_list(path, text)
    } else if path.ends_with(".sources") {
        parse_deb822(path, text)
    } else {
        vec![]
    }
}

/// Why a source host could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceFailure {
    #[error("dns: {0}")]
    Dns(DnsFailure),
    #[error("tcp {0}: {1}")]
    Tcp(SocketAddr, TcpFailure),
}

impl Cause for SourceFailure {
    fn phase(&self) -> Phase {
        match self {
            SourceFailure::Dns(e) => e.phase(),
            SourceFailure::Tcp(_, e) => e.phase(),
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            SourceFailure::Dns(e) => e.class(),
            SourceFailure::Tcp(_, e) => e.class(),
        }
    }
}

/// No source file names a host.
pub(crate) fn evaluate_none(any_tool_missing: bool) -> Finding {
    let msg = "no yum or apt package source found (/etc/yum.repos.d, /etc/apt/sources.list{,.d})";
    let c = Plain(Phase::Pkg, ErrorClass::NoSources);
    if any_tool_missing {
        Finding::fail_by(
            &c,
            format!("{msg}, and a required tool is missing: edgeadm cannot install it"),
        )
    } else {
        Finding::warn_by(&c, format!("{msg}; edgeadm cannot install tools online"))
    }
}

/// One source host: reachable is PASS; unreachable is WARN, or FAIL when no source is reachable
/// and a required tool is missing (edgeadm could not install it).
pub fn evaluate(
    host: &str,
    port: u16,
    files: &[String],
    out: &Result<SocketAddr, SourceFailure>,
    none_reachable: bool,
    any_tool_missing: bool,
) -> Finding {
    match out {
        Ok(sa) => Finding::pass(format!(
            "{host}:{port} resolves and accepts TCP ({sa}); from {}",
            files.join(", ")
        )),
        Err(e) => {
            let text = format!("{host}:{port} unreachable: {e}; from {}", files.join(", "));
            if none_reachable && any_tool_missing {
                Finding::fail_by(
                    e,
                    format!("{text}; no source is reachable and a required tool is missing"),
                )
            } else {
                Finding::warn_by(e, text)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: String,
    pub url: String,
    pub host: String,
    pub port: u16,
}

/// host and port of an http(s)/ftp URL; None for file:, cdrom: and URLs with unexpanded variables.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let url = url.trim().trim_start_matches("mirror+");
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        "ftp" => 21,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.is_empty() || authority.contains('$') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, tail) = v6.split_once(']')?;
        (
            h.to_string(),
            tail.strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(default),
        )
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), default),
        }
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
    {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

fn push(out: &mut Vec<Source>, file: &str, url: &str) {
    if let Some((host, port)) = host_port(url) {
        out.push(Source {
            file: file.to_string(),
            url: url.to_string(),
            host,
            port,
        });
    }
}

/// A yum/dnf `.repo` file: baseurl (possibly several, continued on indented lines), mirrorlist, metalink
/// of enabled sections.
pub fn parse_yum_repo(file: &str, text: &str) -> Vec<Source> {
    let mut out = vec![];
    let mut section: Vec<String> = vec![];
    let mut enabled = true;
    let mut last_key = String::new();
    let flush = |urls: &mut Vec<String>, enabled: bool, out: &mut Vec<Source>| {
        if enabled {
            for u in urls.iter() {
                push(out, file, u);
            }
        }
        urls.clear();
    };
    for raw in text.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.starts_with(';') || trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with('[') {
            flush(&mut section, enabled, &mut out);
            enabled = true;
            last_key.clear();
            continue;
        }
        if line.starts_with(|c: char| c.is_whitespace()) && last_key == "baseurl" {
            section.extend(trimmed.split_whitespace().map(String::from));
            continue;
        }
        if let Some((k, v)) = trimmed.split_once('=') {
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim();
            match k.as_str() {
                "baseurl" | "mirrorlist" | "metalink" => section.extend(
                    v.split([' ', ','])
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                ),
                "enabled" => enabled = !matches!(v, "0" | "false" | "no"),
                _ => {}
            }
            last_key = k;
        }
    }
    flush(&mut section, enabled, &mut out);
    out
}

/// One-line apt sources (`deb [opts] URI suite ...`).
pub fn parse_apt_list(file: &str, text: &str) -> Vec<Source> {
    let mut out = vec![];
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("deb" | "deb-src") => {}
            _ => continue,
        }
        let mut uri = words.next();
        if uri.is_some_and(|u| u.starts_with('[')) {
            // options: [arch=amd64 signed-by=...]
            let mut u = uri;
            while let Some(w) = u {
                if w.ends_with(']') {
                    break;
                }
                u = words.next();
            }
            uri = words.next();
        }
        if let Some(u) = uri {
            push(&mut out, file, u);
        }
    }
    out
}

/// deb822 `.sources` files (`URIs:` of stanzas not `Enabled: no`).
pub fn parse_deb822(file: &str, text: &str) -> Vec<Source> {
    let mut out = vec![];
    for stanza in text.split("\n\n") {
        let mut uris = vec![];
        let mut enabled = true;
        for line in stanza.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "uris" => uris.extend(v.split_whitespace().map(String::from)),
                    "enabled" => enabled = !v.trim().eq_ignore_ascii_case("no"),
                    _ => {}
                }
            }
        }
        if enabled {
            for u in uris {
                push(&mut out, file, &u);
            }
        }
    }
    out
}

/// Unique (host, port) pairs in first-seen order.
pub(crate) fn unique_hosts(sources: &[Source]) -> Vec<(String, u16, Vec<String>)> {
    let mut out: Vec<(String, u16, Vec<String>)> = vec![];
    for s in sources {
        match out
            .iter_mut()
            .find(|(h, p, _)| *h == s.host && *p == s.port)
        {
            Some(e) => {
                if !e.2.contains(&s.file) {
                    e.2.push(s.file.clone());
                }
            }
            None => out.push((s.host.clone(), s.port, vec![s.file.clone()])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            host_port("http://mirrors.cloud.aliyuncs.com/centos/"),
            Some(("mirrors.cloud.aliyuncs.com".into(), 80))
        );
        assert_eq!(
            host_port("https://u:p@Mirror.Example:8443/x"),
            Some(("mirror.example".into(), 8443))
        );
        assert_eq!(
            host_port("mirror+http://m.example/list"),
            Some(("m.example".into(), 80))
        );
        assert_eq!(
            host_port("http://[fd00::1]/x"),
            Some(("fd00::1".into(), 80))
        );
        assert_eq!(host_port("file:///media/cdrom"), None);
        assert_eq!(host_port("http://$mirror/x"), None);
        assert_eq!(host_port("cdrom:[Debian]/"), None);
        assert_eq!(host_port("http://h:notaport/"), None);
    }

    #[test]
    fn yum_repo() {
        let t = "[base]\nname=CentOS\nbaseurl=http://mirrors.cloud.aliyuncs.com/centos/$releasever/os/\n        http://mirrors.aliyun.com/centos/$releasever/os/\ngpgcheck=1\n\n[off]\nbaseurl=http://disabled.example/\nenabled=0\n\n[epel]\nmetalink=https://mirrors.fedoraproject.org/metalink?repo=epel\n";
        let s = parse_yum_repo("/etc/yum.repos.d/x.repo", t);
        let hosts: Vec<&str> = s.iter().map(|s| s.host.as_str()).collect();
        assert_eq!(
            hosts,
            [
                "mirrors.cloud.aliyuncs.com",
                "mirrors.aliyun.com",
                "mirrors.fedoraproject.org"
            ]
        );
        assert_eq!(s[2].port, 443);
    }

    #[test]
    fn apt_lists() {
        let t = "# comment\ndeb http://deb.debian.org/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] https://mirror.lab.test/debian bookworm main # x\ndeb-src http://deb.debian.org/debian bookworm main\ndeb cdrom:[Debian]/ bookworm main\n";
        let s = parse_apt_list("/etc/apt/sources.list", t);
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].host, "mirror.lab.test");
        assert_eq!(s[1].port, 443);
        assert_eq!(unique_hosts(&s).len(), 2);
    }

    #[test]
    fn deb822() {
        let t = "Types: deb\nURIs: http://deb.debian.org/debian http://mirror.lab.test/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://off.example/\nEnabled: no\n";
        let s = parse_deb822("/etc/apt/sources.list.d/debian.sources", t);
        let hosts: Vec<&str> = s.iter().map(|s| s.host.as_str()).collect();
        assert_eq!(hosts, ["deb.debian.org", "mirror.lab.test"]);
    }

    #[test]
    fn hostile_input_never_panics() {
        for t in [
            "[",
            "baseurl",
            "baseurl=",
            "deb [",
            "deb [arch=x",
            "URIs:",
            "\u{0}\u{ffff}",
            "deb http://:80/",
        ] {
            let _ = parse_yum_repo("f", t);
            let _ = parse_apt_list("f", t);
            let _ = parse_deb822("f", t);
        }
    }
}
