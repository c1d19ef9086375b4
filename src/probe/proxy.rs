//! `proxy.env`: would a proxy variable send the line's endpoints to a proxy? Read from the agent's
//! environment, `/etc/environment`, systemd's manager environment and the drop-ins of containerd,
//! kubelet and docker; judged with Go's rules (kubelet, containerd: `golang.org/x/net/http/httpproxy`)
//! and with curl/wget's as older distributions ship them (no CIDR entries in NO_PROXY). Pure.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::cause::{ErrorClass, Phase, Plain};
use crate::probe::node::Files;
use crate::result::Finding;

/// One set of variables a program sees, and where it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyEnv {
    pub consumer: String,
    pub vars: BTreeMap<String, String>,
}

const PROXY_KEYS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// systemd's `Environment=` / `DefaultEnvironment=` value: space-separated, optionally quoted.
pub(crate) fn systemd_words(v: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in v.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn keep(vars: &mut BTreeMap<String, String>, kv: &str) {
    if let Some((k, v)) = kv.split_once('=') {
        let k = k.trim().trim_start_matches("export ").trim();
        if PROXY_KEYS.contains(&k) {
            vars.insert(
                k.to_string(),
                v.trim().trim_matches('"').trim_matches('\'').to_string(),
            );
        }
    }
}

fn unit_env(files: &dyn Files, paths: &[String], key: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for p in paths {
        let Some(text) = files.read(p) else { continue };
        for line in text.lines() {
            if let Some(v) = line.trim().strip_prefix(key) {
                for w in systemd_words(v) {
                    keep(&mut vars, &w);
                }
            }
        }
    }
    vars
}

/// Every environment that matters for a join, with its proxy variables.
pub fn read_envs(files: &dyn Files) -> Vec<ProxyEnv> {
    let mut out = vec![];
    let mut own = BTreeMap::new();
    if let Some(e) = files.read("/proc/self/environ") {
        for kv in e.split('\0') {
            keep(&mut own, kv);
        }
    }
    out.push(ProxyEnv {
        consumer: "this shell (edgeadm run from it)".into(),
        vars: own,
    });
    let mut etc = BTreeMap::new();
    if let Some(t) = files.read("/etc/environment") {
        for line in t.lines().filter(|l| !l.trim_start().starts_with('#')) {
            keep(&mut etc, line);
        }
    }
    out.push(ProxyEnv {
        consumer: "/etc/environment (login sessions)".into(),
        vars: etc,
    });
    let mut manager_files = vec!["/etc/systemd/system.conf".to_string()];
    manager_files.extend(files.list("/etc/systemd/system.conf.d"));
    let manager = unit_env(files, &manager_files, "DefaultEnvironment=");
    for unit in ["containerd", "kubelet", "docker"] {
        let mut vars = manager.clone();
        let dropins: Vec<String> = files
            .list(&format!("/etc/systemd/system/{unit}.service.d"))
            .into_iter()
            .filter(|p| p.ends_with(".conf"))
            .collect();
        vars.extend(unit_env(files, &dropins, "Environment="));
        out.push(ProxyEnv {
            consumer: format!("{unit}.service"),
            vars,
        });
    }
    out
}

/// `http://user:secret@proxy:3128` → `http://***@proxy:3128`.
pub(crate) fn redact(url: &str) -> String {
    let shown = match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_string(),
        },
        None => match url.split_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_string(),
        },
    };
    crate::text::clean(&shown, 200)
}

/// The proxy an HTTPS request would use under Go's rules (HTTPS_PROXY, then https_proxy).
fn go_https_proxy(v: &BTreeMap<String, String>) -> Option<&String> {
    v.get("HTTPS_PROXY")
        .or_else(|| v.get("https_proxy"))
        .filter(|s| !s.is_empty())
}

fn no_proxy(v: &BTreeMap<String, String>) -> String {
    v.get("NO_PROXY")
        .or_else(|| v.get("no_proxy"))
        .cloned()
        .unwrap_or_default()
}

/// Go's `httpproxy` NO_PROXY matching for `host` (a name or an IP) on port 443.
pub(crate) fn go_bypasses(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return true;
    }
    let ip: Option<IpAddr> = host.parse().ok();
    for entry in no_proxy
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
    {
        if entry == "*" {
            return true;
        }
        if let Ok(net) = entry.parse::<IpNet>() {
            if ip.is_some_and(|ip| net.contains(&ip)) {
                return true;
            }
            continue;
        }
        if let Ok(e) = entry.parse::<IpAddr>() {
            if ip == Some(e) {
                return true;
            }
            continue;
        }
        let (mut name, eport) = match entry.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse::<u16>().ok()),
            _ => (entry.clone(), None),
        };
        if eport.is_some_and(|p| p != port) {
            continue;
        }
        if let Some(rest) = name.strip_prefix("*.") {
            name = format!(".{rest}");
        }
        let match_host = !name.starts_with('.');
        let suffix = if match_host {
            format!(".{name}")
        } else {
            name.clone()
        };
        if host.ends_with(&suffix) || (match_host && host == name) {
            return true;
        }
    }
    false
}

/// curl and wget before CIDR support (curl < 7.86, the curl of CentOS 7 and EL8): `*`, or the host
/// equal to an entry or ending in "." + entry (a leading dot is ignored); no CIDR entries.
pub(crate) fn curl_bypasses(no_proxy: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    for entry in no_proxy
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
    {
        if entry == "*" {
            return true;
        }
        let e = entry.trim_start_matches('.');
        if host == e || host.ends_with(&format!(".{e}")) {
            return true;
        }
    }
    false
}

/// Judge the environments against the line's endpoints (names and addresses, all HTTPS).
pub fn evaluate(envs: &[ProxyEnv], endpoints: &[String]) -> Finding {
    let cause = Plain(Phase::Host, ErrorClass::Proxied);
    let mut proxied = vec![];
    let mut disagree = vec![];
    let mut seen = vec![];
    for env in envs {
        let Some(proxy) = go_https_proxy(&env.vars) else {
            continue;
        };
        let np = no_proxy(&env.vars);
        seen.push(format!(
            "{}: HTTPS_PROXY={} NO_PROXY={:?}",
            env.consumer,
            redact(proxy),
            crate::text::clean(&np, 300)
        ));
        for ep in endpoints {
            let go = go_bypasses(&np, ep, 443);
            let curl = curl_bypasses(&np, ep);
            if !go {
                proxied.push(format!("{ep} via {} for {}", redact(proxy), env.consumer));
            } else if !curl {
                disagree.push(format!(
                    "{ep} for {} (Go bypasses the proxy, curl/wget without CIDR support do not)",
                    env.consumer
                ));
            }
        }
    }
    let f = if !proxied.is_empty() {
        Finding::fail_by(&cause, format!("line endpoints would go to a proxy: {}", proxied.join("; ")))
            .fix("Add the line's endpoints to NO_PROXY (and no_proxy) wherever a proxy is set: 100.0.0.0/8, the VPC CIDR, .aliyuncs.com and the API server address; for curl/wget on older distributions list the names and addresses too (they ignore CIDR entries). Restart containerd/kubelet after changing their drop-ins.")
    } else if !disagree.is_empty() {
        Finding::warn_by(&cause, format!("Go programs bypass the proxy but curl/wget would not: {}", disagree.join("; ")))
            .fix("Add the names (e.g. .aliyuncs.com) and the addresses themselves to NO_PROXY, not only CIDR ranges, so every client agrees.")
    } else if seen.is_empty() {
        Finding::pass(
            "no HTTPS proxy is set for this shell, login sessions, containerd, kubelet or docker",
        )
    } else {
        Finding::pass(format!("a proxy is set, and NO_PROXY exempts every line endpoint under Go's and curl's rules ({} environment(s))", seen.len()))
    };
    f.evidence(&ProxyEvidence {
        proxies: Some(seen),
    })
}

evidence! {
    /// The evidence of `host.proxy`.
    pub(crate) struct ProxyEvidence {
        /// Each environment's proxy settings, in words.
        proxies: Vec<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    #[test]
    fn go_and_curl_rules() {
        // Go: "foo.com" matches itself and subdomains; ".foo.com" only subdomains; CIDR for IPs
        assert!(go_bypasses("aliyuncs.com", "aliyuncs.com", 443));
        assert!(go_bypasses(
            "aliyuncs.com",
            "cs-anony-vpc.cn-hangzhou.aliyuncs.com",
            443
        ));
        assert!(go_bypasses(".aliyuncs.com", "oss.aliyuncs.com", 443));
        assert!(!go_bypasses(".aliyuncs.com", "aliyuncs.com", 443));
        assert!(go_bypasses("*.aliyuncs.com", "x.aliyuncs.com", 443));
        assert!(go_bypasses("100.0.0.0/8", "100.103.9.188", 443));
        assert!(!go_bypasses("100.0.0.0/8", "registry.aliyuncs.com", 443));
        assert!(go_bypasses("aliyuncs.com:443", "x.aliyuncs.com", 443));
        assert!(!go_bypasses("aliyuncs.com:80", "x.aliyuncs.com", 443));
        assert!(go_bypasses("*", "anything", 443));
        assert!(go_bypasses("", "localhost", 443));
        // curl without CIDR: ".foo.com" also matches foo.com; CIDR entries match nothing
        assert!(curl_bypasses(".aliyuncs.com", "aliyuncs.com"));
        assert!(!curl_bypasses("100.0.0.0/8", "100.103.9.188"));
        assert!(curl_bypasses("100.103.9.188", "100.103.9.188"));
        assert!(!curl_bypasses("cs.com", "xcs.com"));
    }

    #[test]
    fn redaction_and_systemd_words() {
        assert_eq!(
            redact("http://user:s3cret@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(redact("proxy:3128"), "proxy:3128");
        assert_eq!(
            systemd_words(r#""HTTPS_PROXY=http://p:3128" NO_PROXY=a,b 'X=y z'"#),
            ["HTTPS_PROXY=http://p:3128", "NO_PROXY=a,b", "X=y z"]
        );
    }

    fn fs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environments_and_verdicts() {
        let eps: Vec<String> = [
            "cs-anony-vpc.cn-hangzhou.aliyuncs.com",
            "100.103.9.188",
            "192.168.0.10",
        ]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
        let none = read_envs(&fs(&[("/proc/self/environ", "PATH=/bin\0HOME=/root\0")]));
        assert_eq!(evaluate(&none, &eps).status, Status::Pass);
        let shell = read_envs(&fs(&[(
            "/proc/self/environ",
            "https_proxy=http://u:pw@10.0.0.3:3128\0",
        )]));
        let f = evaluate(&shell, &eps);
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message
                .contains("100.103.9.188 via http://***@10.0.0.3:3128 for this shell"),
            "{}",
            f.message
        );
        assert!(
            !f.message.contains("pw"),
            "credentials must be redacted: {}",
            f.message
        );
        // containerd's drop-in with CIDR-only NO_PROXY: Go is fine for IPs, names still proxied
        let dropin = fs(&[
            ("/etc/systemd/system/containerd.service.d/http-proxy.conf", "[Service]\nEnvironment=\"HTTPS_PROXY=http://10.0.0.3:3128\" \"NO_PROXY=100.0.0.0/8,192.168.0.0/16\"\n"),
        ]);
        let f = evaluate(&read_envs(&dropin), &eps);
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("cs-anony-vpc.cn-hangzhou.aliyuncs.com via http://10.0.0.3:3128 for containerd.service"), "{}", f.message);
        assert!(!f.message.contains("100.103.9.188 via"), "{}", f.message);
        // names and CIDRs: Go bypasses everything, curl (no CIDR) would proxy the IPs
        let cidr = fs(&[("/etc/systemd/system.conf", "[Manager]\nDefaultEnvironment=HTTPS_PROXY=http://p:3128 NO_PROXY=.aliyuncs.com,100.0.0.0/8,192.168.0.0/16\n")]);
        let f = evaluate(&read_envs(&cidr), &eps);
        assert_eq!(f.status, Status::Warn, "{}", f.message);
        assert!(f.message.contains("kubelet.service"), "{}", f.message);
        let full = fs(&[(
            "/etc/environment",
            "HTTPS_PROXY=\"http://p:3128\"\nNO_PROXY=.aliyuncs.com,100.103.9.188,192.168.0.10\n",
        )]);
        assert_eq!(evaluate(&read_envs(&full), &eps).status, Status::Pass);
    }
}
