//! Validated options: everything the planner and engine need, parsed from the CLI.
//! Parsers are pure and name the flag and value in their one-line errors.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

use crate::error::InputError;
use crate::regions::Region;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cni {
    Flannel,
    TerwayEdge,
}

impl Cni {
    pub fn as_str(self) -> &'static str {
        match self {
            Cni::Flannel => "flannel",
            Cni::TerwayEdge => "terway-edge",
        }
    }
}

/// A host given by the user: an address or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(a) => write!(f, "{a}"),
            Host::Name(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: Host,
    pub port: u16,
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

fn parse_host(s: &str, flag: &str, whole: &str) -> Result<Host, InputError> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    if !crate::constants::valid_hostname(s) {
        return Err(InputError::flag(
            flag,
            whole,
            "not an IP address or host name",
        ));
    }
    Ok(Host::Name(s.trim_end_matches('.').to_ascii_lowercase()))
}

fn parse_port(s: &str, flag: &str, whole: &str) -> Result<u16, InputError> {
    match s.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(u16::try_from(p).unwrap_or(u16::MAX)),
        Ok(p) => Err(InputError::flag(
            flag,
            whole,
            format!("port {p} is out of range 1-65535"),
        )),
        Err(_) => Err(InputError::flag(
            flag,
            whole,
            format!("port '{s}' is not a number"),
        )),
    }
}

/// `HOST[:PORT]`, `IPv6`, `[IPv6]:PORT`.
pub fn parse_host_port(s: &str, default_port: u16, flag: &str) -> Result<HostPort, InputError> {
    let s = s.trim();
    // the console shows the API server as https://HOST:PORT; accept that form (and a trailing '/')
    let s = if flag == "--apiserver" {
        s.strip_prefix("https://")
            .unwrap_or(s)
            .trim_end_matches('/')
    } else {
        s
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (h, tail) = rest
            .split_once(']')
            .ok_or_else(|| InputError::flag(flag, s, "missing ']'"))?;
        let ip: IpAddr = h
            .parse()
            .map_err(|_| InputError::flag(flag, s, "not an IPv6 address"))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => parse_port(p, flag, s)?,
            None if tail.is_empty() => default_port,
            None => return Err(InputError::flag(flag, s, "expected [IPv6]:PORT")),
        };
        return Ok(HostPort {
            host: Host::Ip(ip),
            port,
        });
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(HostPort {
            host: Host::Ip(ip),
            port: default_port,
        });
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Ok(HostPort {
            host: parse_host(h, flag, s)?,
            port: parse_port(p, flag, s)?,
        }),
        None => Ok(HostPort {
            host: parse_host(s, flag, s)?,
            port: default_port,
        }),
    }
}

/// `tcp://HOST:PORT` for `--endpoint`.
pub fn parse_endpoint(s: &str) -> Result<HostPort, InputError> {
    let rest = s
        .strip_prefix("tcp://")
        .ok_or_else(|| InputError::flag("--endpoint", s, "expected tcp://HOST:PORT"))?;
    let hp = parse_host_port(rest, 0, "--endpoint")
        .map_err(|_| InputError::flag("--endpoint", s, "expected tcp://HOST:PORT"))?;
    if let Host::Ip(ip) = hp.host {
        unicast(ip, "--endpoint", s)?;
    }
    if hp.port == 0 {
        return Err(InputError::flag(
            "--endpoint",
            s,
            "a port is required (tcp://HOST:PORT)",
        ));
    }
    Ok(hp)
}

/// `3`, `2.5`, `3s`, `500ms`: a positive duration up to 10 minutes.
pub fn parse_duration(s: &str, flag: &str) -> Result<Duration, InputError> {
    parse_duration_max(s, flag, 600.0)
}

/// A positive duration with an optional unit (`ms`, `s`, `m`, `h`, `d`; seconds without one), at least
/// 10 ms and at most `max_secs`.
pub(crate) fn parse_duration_max(
    s: &str,
    flag: &str,
    max_secs: f64,
) -> Result<Duration, InputError> {
    let t = s.trim();
    // "ms" before "m" and "s"
    let (num, scale) = [
        ("ms", 0.001),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
        ("d", 86400.0),
    ]
    .iter()
    .find_map(|(unit, scale)| t.strip_suffix(unit).map(|n| (n, *scale)))
    .unwrap_or((t, 1.0));
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| InputError::flag(flag, s, "expected a duration like 3, 2.5s or 500ms"))?;
    let secs = v * scale;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(InputError::flag(flag, s, "must be greater than zero"));
    }
    if secs > max_secs {
        return Err(InputError::flag(
            flag,
            s,
            format!("must be at most {max_secs}s"),
        ));
    }
    if secs < 0.01 {
        return Err(InputError::flag(flag, s, "must be at least 10ms"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Seconds as a non-negative float (offset thresholds).
pub(crate) fn parse_seconds(s: &str, flag: &str) -> Result<f64, InputError> {
    let d = parse_duration(s, flag)?;
    Ok(d.as_secs_f64())
}

/// A CIDR such as 172.16.0.0/12 (host bits must be zero).
/// `--pull-image REPO:TAG`: lower-case path components of [a-z0-9._-] separated by '/', a tag of
/// [A-Za-z0-9._-] (at most 128), as the OCI Distribution Specification names them.
pub(crate) fn parse_image(s: &str) -> Result<(String, String), InputError> {
    let bad = |why: &str| InputError::flag("--pull-image", s, why);
    let (repo, tag) = s
        .rsplit_once(':')
        .ok_or_else(|| bad("must be REPO:TAG, e.g. acs/pause:3.9"))?;
    let comp_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    };
    if repo.is_empty() || repo.len() > 255 || !repo.split('/').all(comp_ok) {
        return Err(bad("the repository must be lower-case path components of a-z, 0-9, '.', '_', '-' separated by '/'"));
    }
    if tag.is_empty()
        || tag.len() > 128
        || !tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(bad(
            "the tag must be 1 to 128 of A-Z, a-z, 0-9, '.', '_', '-'",
        ));
    }
    Ok((repo.to_string(), tag.to_string()))
}

pub fn parse_cidr(s: &str, flag: &str) -> Result<IpNet, InputError> {
    let net: IpNet = s
        .trim()
        .parse()
        .map_err(|_| InputError::flag(flag, s, "expected a CIDR block like 172.16.0.0/12"))?;
    if net.trunc() != net {
        return Err(InputError::flag(
            flag,
            s,
            format!("host bits are set (did you mean {}?)", net.trunc()),
        ));
    }
    Ok(net)
}

/// `--dns-server IP[:PORT]` (port 53 by default; `[v6]:port` for IPv6 with a port).
pub(crate) fn parse_dns_server(s: &str) -> Result<std::net::SocketAddr, InputError> {
    let hp = parse_host_port(s, 53, "--dns-server")?;
    match hp.host {
        Host::Ip(ip) => Ok(std::net::SocketAddr::new(
            unicast(ip, "--dns-server", s)?,
            hp.port,
        )),
        Host::Name(_) => Err(InputError::flag(
            "--dns-server",
            s,
            "expected an IP address (a resolver cannot be found by name)",
        )),
    }
}

pub(crate) fn parse_ip(s: &str, flag: &str) -> Result<IpAddr, InputError> {
    s.trim()
        .parse()
        .map_err(|_| InputError::flag(flag, s, "expected an IP address"))
}

/// A single host's address: not unspecified (0.0.0.0, ::), broadcast or multicast.
pub(crate) fn unicast(ip: IpAddr, flag: &str, whole: &str) -> Result<IpAddr, InputError> {
    let why = match ip {
        _ if ip.is_unspecified() => Some("the unspecified address is not a host"),
        _ if ip.is_multicast() => Some("a multicast address is not a host"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address is not a host"),
        IpAddr::V4(_) | IpAddr::V6(_) => None,
    };
    match why {
        Some(w) => Err(InputError::flag(flag, whole, w)),
        None => Ok(ip),
    }
}

/// A peer or node address (`--peer`, `--node`).
pub(crate) fn parse_host_ip(s: &str, flag: &str) -> Result<IpAddr, InputError> {
    unicast(parse_ip(s, flag)?, flag, s)
}

/// Kubernetes version `1.26`, `v1.28.3`.
pub fn parse_k8s_version(s: &str) -> Result<(u32, u32), InputError> {
    let t = s.trim().trim_start_matches('v');
    let mut it = t.split('.');
    let major = it.next().and_then(|x| x.parse::<u32>().ok());
    let minor = it.next().and_then(|x| {
        x.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<u32>()
            .ok()
    });
    match (major, minor) {
        (Some(1), Some(m)) if m < 100 => Ok((1, m)),
        _ => Err(InputError::flag(
            "--k8s-version",
            s,
            "expected a Kubernetes version like 1.26 or v1.28.3",
        )),
    }
}

/// Everything `plan` and `check` need.
#[derive(Debug, Clone)]
pub struct Options {
    pub region: Region,
    pub cni: Cni,
    pub k8s_version: (u32, u32),
    pub apiserver: Option<HostPort>,
    pub peers: Vec<IpAddr>,
    /// Raven gateways (`--raven-gateway`); none: Raven is not in use.
    pub raven_gateways: Vec<IpAddr>,
    pub ntp_servers: Vec<String>,
    pub self_hosted_ntp: bool,
    pub dns_server: Option<std::net::SocketAddr>,
    pub vpc_cidr: Option<IpNet>,
    /// `--pull-image REPO:TAG`: the image the pull rows follow (default: checks/pull-image.toml).
    pub pull_image: Option<(String, String)>,
    /// `--token` / `--token-file`: the bootstrap token of the node connection script.
    pub token: Option<crate::probe::discovery::BootstrapToken>,
    /// `--discovery-token-ca-cert-hash sha256:<hex>`.
    pub ca_cert_hash: Option<String>,
    /// `--line-peer`: the cloud end of the line (VBR), for the side of each hop of a sweep.
    pub line_peer: Option<IpAddr>,
    pub pod_cidr: Option<IpNet>,
    /// `--service-cidr`: the cluster's Service CIDR.
    pub service_cidr: Option<IpNet>,
    pub endpoints: Vec<HostPort>,
    pub timeout: Duration,
    pub ntp_warn_offset: f64,
    pub ntp_fail_offset: f64,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    /// Root under which host files (/etc, tool directories) are read; "/" normally.
    pub sysroot: PathBuf,
    /// Extra trusted roots (`--ca-file`).
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The cluster CA (`--cluster-ca`), for the API server.
    pub cluster_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// `--accept` waivers.
    pub accept: Vec<crate::waiver::Waiver>,
}

pub(crate) use crate::constants::DEFAULT_NTP_SERVERS;

impl Options {
    /// Kubernetes >= 1.26 uses 443 for the control plane and OSS; earlier versions use 80 (and 443 for OSS).
    pub(crate) fn is_modern(&self) -> bool {
        self.k8s_version >= (1, 26)
    }

    /// Whether a requirement id is selected by `--only` / `--skip`.
    pub(crate) fn selected(&self, id: crate::ids::ReqId) -> bool {
        let matches = |sel: &String| id.selected_by(sel);
        (self.only.is_empty() || self.only.iter().any(matches)) && !self.skip.iter().any(matches)
    }

    /// A sensible default set of options for a region (used by tests and as the base of CLI parsing).
    pub fn for_region(region: Region) -> Options {
        Options {
            region,
            cni: Cni::Flannel,
            k8s_version: (1, 26),
            apiserver: None,
            peers: vec![],
            raven_gateways: vec![],
            ntp_servers: DEFAULT_NTP_SERVERS
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            self_hosted_ntp: false,
            dns_server: None,
            vpc_cidr: None,
            line_peer: None,
            pull_image: None,
            token: None,
            ca_cert_hash: None,
            pod_cidr: None,
            service_cidr: None,
            endpoints: vec![],
            timeout: Duration::from_millis(crate::constants::DEFAULT_TIMEOUT_MS),
            ntp_warn_offset: crate::constants::NTP_WARN_OFFSET_S,
            ntp_fail_offset: crate::constants::NTP_FAIL_OFFSET_S,
            only: vec![],
            skip: vec![],
            sysroot: PathBuf::from("/"),
            extra_roots: vec![],
            cluster_roots: vec![],
            accept: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        let hp = parse_host_port("192.168.0.10", 6443, "--apiserver").unwrap();
        assert_eq!(hp.to_string(), "192.168.0.10:6443");
        let hp = parse_host_port("api.internal:7443", 6443, "--apiserver").unwrap();
        assert_eq!(
            hp,
            HostPort {
                host: Host::Name("api.internal".into()),
                port: 7443
            }
        );
        let hp = parse_host_port("[fd00::1]:6443", 1, "--apiserver").unwrap();
        assert_eq!(hp.to_string(), "[fd00::1]:6443");
        let hp = parse_host_port("fd00::1", 6443, "--apiserver").unwrap();
        assert_eq!(hp.port, 6443);
    }

    #[test]
    fn bad_ports_and_hosts_name_the_flag_and_value() {
        let e = parse_host_port("10.0.0.1:99999", 6443, "--apiserver")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid --apiserver '10.0.0.1:99999': port 99999 is out of range 1-65535"
        );
        let e = parse_host_port("10.0.0.1:0", 6443, "--apiserver")
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of range"), "{e}");
        let e = parse_host_port("bad host!:1", 6443, "--apiserver")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'bad host!:1'"), "{e}");
        assert!(parse_endpoint("http://x:1").is_err());
        assert!(parse_endpoint("tcp://x")
            .unwrap_err()
            .to_string()
            .contains("port is required"));
        assert_eq!(parse_endpoint("tcp://198.18.5.5:443").unwrap().port, 443);
    }

    #[test]
    fn dns_servers() {
        assert_eq!(
            parse_dns_server("100.100.2.136").unwrap().to_string(),
            "100.100.2.136:53"
        );
        assert_eq!(parse_dns_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(
            parse_dns_server("[fd00::53]:5353").unwrap().to_string(),
            "[fd00::53]:5353"
        );
        assert!(parse_dns_server("dns.example")
            .unwrap_err()
            .to_string()
            .contains("expected an IP address"));
        assert!(parse_dns_server("10.0.0.1:0").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("3", "--timeout").unwrap(),
            Duration::from_secs(3)
        );
        assert_eq!(
            parse_duration("2.5s", "--timeout").unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(
            parse_duration("500ms", "--timeout").unwrap(),
            Duration::from_millis(500)
        );
        for bad in ["0", "-1", "abc", "3h", "", "NaN", "inf", "601", "1ms"] {
            let e = parse_duration(bad, "--timeout").unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid --timeout '{bad}'")), "{e}");
        }
    }

    #[test]
    fn cidrs() {
        assert_eq!(
            parse_cidr("172.16.0.0/12", "--pod-cidr")
                .unwrap()
                .to_string(),
            "172.16.0.0/12"
        );
        let e = parse_cidr("172.16.0.1/12", "--pod-cidr")
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean 172.16.0.0/12"), "{e}");
        let e = parse_cidr("10.0.0.0/33", "--vpc-cidr")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid --vpc-cidr '10.0.0.0/33'"), "{e}");
    }

    #[test]
    fn k8s_versions() {
        assert_eq!(parse_k8s_version("1.26").unwrap(), (1, 26));
        assert_eq!(parse_k8s_version("v1.24.6-aliyun.1").unwrap(), (1, 24));
        assert!(parse_k8s_version("2.0").is_err());
        assert!(parse_k8s_version("latest").is_err());
    }
}
