//! From the parsed command line to validated [`Options`]: every bad value is one line that names
//! it and where it came from (exit code 2). The only module besides `cli` and `app` that sees clap's
//! argument structs.

use crate::catalogue::Catalogue;
use crate::cli::{InboundArgs, TargetArgs};
use crate::error::{AppError, InputError, InternalError};
use crate::options::{self, Options};
use crate::regions::{RegionTable, BUILTIN_ORIGIN};
use crate::sys;

type Roots = Vec<rustls::pki_types::CertificateDer<'static>>;

/// A small text input file (at most 4 MiB), or one line naming the flag, the file and the reason.
pub(crate) fn read_input(path: &std::path::Path, flag: &str) -> Result<String, AppError> {
    let shown = path.display().to_string();
    let bad = |why: String| AppError::from(InputError::flag(flag, &shown, why));
    let mut bytes = vec![];
    sys::files::read_capped(path, 4 << 20, "at most 4 MiB", true, &mut bytes).map_err(|e| {
        use sys::files::ReadError;
        bad(match e {
            ReadError::Directory => "not a regular file".into(),
            e @ (ReadError::NotFile | ReadError::TooBig(..) | ReadError::Io(_)) => e.to_string(),
        })
    })?;
    String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))
}

/// A bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`); the error never repeats the secret.
fn token(
    s: &str,
    flag: &str,
    origin: &str,
) -> Result<crate::probe::discovery::BootstrapToken, AppError> {
    crate::probe::discovery::BootstrapToken::parse(s).ok_or_else(|| {
        InputError::flag(
            flag,
            origin,
            "not a bootstrap token: <6 lowercase letters or digits>.<16 lowercase letters or digits>",
        )
        .into()
    })
}

/// kubeadm's CA pin: `sha256:` and 64 hex digits.
fn ca_cert_hash(s: &str) -> Result<String, AppError> {
    let hex = s.trim().strip_prefix("sha256:").unwrap_or("");
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
    } else {
        Err(InputError::flag(
            "--discovery-token-ca-cert-hash",
            s,
            "expected sha256:<64 hex digits> (as the node connection script gives it)",
        )
        .into())
    }
}

/// The region table: `--regions-file` or the built-in one.
pub(crate) fn regions(file: Option<&std::path::Path>) -> Result<RegionTable, AppError> {
    match file {
        Some(p) => Ok(RegionTable::from_file(p)?),
        None => {
            RegionTable::builtin().map_err(|e| InternalError::BuiltinData(e.to_string()).into())
        }
    }
}

/// Validate every option; the first bad one is reported.
pub(crate) fn options(t: &TargetArgs, cat: &Catalogue) -> Result<Options, AppError> {
    let table = regions(t.regions_file.as_deref())?;
    let origin = match &t.regions_file {
        Some(p) => format!("--region, regions from {}", p.display()),
        None => format!("--region, {BUILTIN_ORIGIN}"),
    };
    let region = table.find(t.region.trim(), &origin)?.clone();
    let mut o = Options::for_region(region);
    o.cni = t.cni;
    o.k8s_version = options::parse_k8s_version(&t.k8s_version)?;
    o.apiserver = t
        .apiserver
        .as_deref()
        .map(|s| options::parse_host_port(s, crate::constants::APISERVER_PORT, "--apiserver"))
        .transpose()?;
    if !t.ntp_server.is_empty() {
        o.ntp_servers = ntp_servers(&t.ntp_server)?;
    }
    o.self_hosted_ntp = t.self_hosted_ntp;
    o.dns_server = t
        .dns_server
        .as_deref()
        .map(options::parse_dns_server)
        .transpose()?;
    o.vpc_cidr = t
        .vpc_cidr
        .as_deref()
        .map(|s| options::parse_cidr(s, "--vpc-cidr"))
        .transpose()?;
    o.pull_image = t
        .pull_image
        .as_deref()
        .map(options::parse_image)
        .transpose()?;
    o.line_peer = t
        .line_peer
        .as_deref()
        .map(|s| options::parse_host_ip(s, "--line-peer"))
        .transpose()?;
    o.pod_cidr = t
        .pod_cidr
        .as_deref()
        .map(|s| options::parse_cidr(s, "--pod-cidr"))
        .transpose()?;
    o.token = match (&t.token, &t.token_file) {
        (Some(s), _) => Some(token(s, "--token", "the value given")?),
        (None, Some(p)) => {
            let text = read_input(p, "--token-file")?;
            Some(token(
                text.trim(),
                "--token-file",
                &p.display().to_string(),
            )?)
        }
        (None, None) => None,
    };
    o.ca_cert_hash = t
        .discovery_token_ca_cert_hash
        .as_deref()
        .map(ca_cert_hash)
        .transpose()?;
    o.service_cidr = t
        .service_cidr
        .as_deref()
        .map(|s| options::parse_cidr(s, "--service-cidr"))
        .transpose()?;
    o.endpoints = t
        .endpoint
        .iter()
        .map(|s| options::parse_endpoint(s))
        .collect::<Result<_, _>>()?;
    o.timeout = options::parse_duration(&t.timeout, "--timeout")?;
    o.ntp_warn_offset = options::parse_seconds(&t.ntp_warn_offset, "--ntp-warn-offset")?;
    o.ntp_fail_offset = options::parse_seconds(&t.ntp_fail_offset, "--ntp-fail-offset")?;
    if o.ntp_fail_offset <= o.ntp_warn_offset {
        return Err(InputError::flag(
            "--ntp-fail-offset",
            &t.ntp_fail_offset,
            format!(
                "must be larger than --ntp-warn-offset ({})",
                t.ntp_warn_offset
            ),
        )
        .into());
    }
    selectors_known(t, cat)?;
    o.only = t.only.clone();
    o.skip = t.skip.clone();
    o.peers = vec![];
    for s in &t.peer {
        let ip = options::parse_host_ip(s, "--peer")?;
        if !o.peers.contains(&ip) {
            o.peers.push(ip);
        }
    }
    for s in &t.raven_gateway {
        let ip = options::parse_host_ip(s, "--raven-gateway")?;
        if !o.raven_gateways.contains(&ip) {
            o.raven_gateways.push(ip);
        }
    }
    o.accept = t
        .accept
        .iter()
        .map(|a| crate::waiver::parse(a, cat))
        .collect::<Result<_, _>>()?;
    (o.extra_roots, o.cluster_roots) = roots(t)?;
    if let Some(root) = &t.sysroot {
        if !root.is_dir() {
            return Err(InputError::flag(
                "--sysroot",
                &root.display().to_string(),
                "not a directory",
            )
            .into());
        }
        o.sysroot = root.clone();
    }
    Ok(o)
}

/// `--ntp-server` values: names or addresses without a port, lower-cased, each once.
fn ntp_servers(given: &[String]) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = vec![];
    for s in given {
        options::parse_host_port(s, crate::constants::NTP_PORT, "--ntp-server")?;
        if s.contains(':') && s.parse::<std::net::IpAddr>().is_err() {
            return Err(InputError::flag(
                "--ntp-server",
                s,
                "give a name or address without a port (NTP uses UDP 123)",
            )
            .into());
        }
        // repeated values are one server, wherever they repeat
        let norm = s.trim().trim_end_matches('.').to_ascii_lowercase();
        if !out.contains(&norm) {
            out.push(norm);
        }
    }
    Ok(out)
}

/// Every `--only` / `--skip` value names an id or a category.
fn selectors_known(t: &TargetArgs, cat: &Catalogue) -> Result<(), AppError> {
    for (flag, list) in [("--only", &t.only), ("--skip", &t.skip)] {
        for sel in list {
            if !cat.knows(sel) {
                return Err(InputError::flag(
                    flag,
                    sel,
                    "not a requirement id or category (see `ack-edge-preflight requirements`)",
                )
                .into());
            }
        }
    }
    Ok(())
}

/// The extra roots of `--ca-file` and the cluster's of `--cluster-ca`.
fn roots(t: &TargetArgs) -> Result<(Roots, Roots), AppError> {
    let mut extra: Roots = vec![];
    let mut cluster: Roots = vec![];
    for f in &t.ca_file {
        extra.extend(
            sys::tls::read_pem_certs(f)
                .map_err(|e| InputError::flag("--ca-file", &f.display().to_string(), e))?,
        );
    }
    if let Some(f) = &t.cluster_ca {
        cluster = sys::tls::read_pem_certs(f)
            .map_err(|e| InputError::flag("--cluster-ca", &f.display().to_string(), e))?;
    }
    Ok((extra, cluster))
}

/// The nodes of `inbound`: every `--node`, then the `--nodes-file` lines, without duplicates.
pub(crate) fn inbound_nodes(a: &InboundArgs) -> Result<Vec<std::net::IpAddr>, AppError> {
    let mut nodes = vec![];
    for n in &a.node {
        nodes.push(options::parse_host_ip(n, "--node")?);
    }
    if let Some(path) = &a.nodes_file {
        let shown = path.display().to_string();
        let text = read_input(path, "--nodes-file")?;
        for (i, line) in text.lines().enumerate() {
            let v = line.split('#').next().unwrap_or("").trim();
            if v.is_empty() {
                continue;
            }
            let origin = format!("{shown}:{}", i + 1);
            nodes.push(options::parse_host_ip(
                v,
                &format!("node address at {origin}"),
            )?);
        }
        if nodes.is_empty() {
            return Err(
                InputError::data(&shown, "no node addresses (one per line, # comments)").into(),
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    nodes.retain(|n| seen.insert(*n));
    if nodes.len() > crate::constants::MAX_INBOUND_NODES {
        return Err(InputError::Combination(format!(
            "{} nodes given; one run sweeps at most {} (split the list)",
            nodes.len(),
            crate::constants::MAX_INBOUND_NODES
        ))
        .into());
    }
    Ok(nodes)
}
