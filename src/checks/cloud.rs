//! What several checks of the cloud endpoints share: the region's names and documented addresses,
//! and the port the control plane is reached on.

use std::net::{IpAddr, Ipv4Addr};

use crate::checks::Addr;
use crate::options::{Host, Options};

/// The registry's documented /32 route addresses: probed even when DNS fails.
pub(crate) fn registry_addresses(opts: &Options) -> Vec<IpAddr> {
    opts.region
        .registry_routes
        .iter()
        .map(|n| IpAddr::V4(n.addr()))
        .collect()
}

/// Every other A record of the registry name (the documented ones are probed as fixed addresses,
/// so rows are not doubled).
pub(crate) fn registry_resolved(opts: &Options) -> Addr {
    Addr::Resolved {
        name: opts.region.registry.clone(),
        except: registry_addresses(opts),
    }
}

/// The control plane's port: 443 from Kubernetes 1.26, 80 before.
pub(crate) fn control_plane_port(opts: &Options) -> u16 {
    if opts.is_modern() {
        443
    } else {
        80
    }
}

/// A given host as an address to probe.
pub(crate) fn host_addr(host: &Host) -> Addr {
    match host {
        Host::Ip(ip) => Addr::Fixed(*ip),
        Host::Name(n) => Addr::resolved(n),
    }
}

/// A representative host address of a range, for route lookups (the first usable address).
pub(crate) fn representative(net: &ipnet::Ipv4Net) -> Ipv4Addr {
    if net.prefix_len() >= 31 {
        net.network()
    } else {
        Ipv4Addr::from(u32::from(net.network()) + 1)
    }
}

/// The NTP servers to query, as hosts (none with `--self-hosted-ntp`).
pub(crate) fn ntp_hosts(opts: &Options) -> Vec<(String, Host)> {
    if opts.self_hosted_ntp {
        return vec![];
    }
    opts.ntp_servers
        .iter()
        .map(|s| {
            let host = match s.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) => Host::Name(s.clone()),
            };
            (s.clone(), host)
        })
        .collect()
}

/// The reason the API server rows cannot run without `--apiserver`.
/// The rows of a check that needs `--apiserver`, not run without it (and said why).
pub(crate) fn without_apiserver(ids: &[crate::ids::ReqId]) -> Vec<crate::checks::Step> {
    crate::checks::skipped(ids, "(not given)", NO_APISERVER, "needs --apiserver")
}

pub(crate) const NO_APISERVER: &str = "--apiserver not given: pass the API server internal endpoint from the cluster's Basic Information tab, e.g. --apiserver 192.168.0.10";
