//! `host.node-ip`: the address the kubelet will register and the interface Flannel will pick, against
//! the way the kernel actually reaches the cloud. On a server with an internet NIC and an Express
//! Connect NIC they differ, and the node joins with an address the VPC cannot reach. Pure.

use std::net::IpAddr;

use crate::cause::{ErrorClass, Phase, Plain};
use crate::probe::route::LocalAddr;
use crate::result::Finding;

/// The node's own hostname in /etc/hosts (IPv4 and IPv6), in file order.
pub fn hosts_lookup(hosts: &str, name: &str) -> Vec<IpAddr> {
    let name = name.to_ascii_lowercase();
    let mut out = vec![];
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut w = line.split_whitespace();
        let Some(ip) = w.next().and_then(|a| a.parse::<IpAddr>().ok()) else {
            continue;
        };
        if w.any(|n| n.to_ascii_lowercase() == name) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// What the node-ip check looked at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub hostname: String,
    /// The hostname's addresses from /etc/hosts.
    pub hosts: Vec<IpAddr>,
    /// The hostname's A records from the resolver (asked only when /etc/hosts has no entry).
    pub dns: Option<Result<Vec<IpAddr>, String>>,
    /// The default route's interface and the address the kernel uses on it.
    pub default_iface: Option<String>,
    pub default_src: Option<IpAddr>,
    /// What the cloud is reached through: the target, the interface and the source address.
    pub line_target: Option<IpAddr>,
    pub line_iface: Option<String>,
    pub line_src: Option<IpAddr>,
    pub addrs: Vec<LocalAddr>,
}

fn iface_of(addrs: &[LocalAddr], ip: IpAddr) -> Option<String> {
    addrs
        .iter()
        .find(|a| a.net.addr() == ip)
        .map(|a| a.interface.clone())
}

pub fn evaluate(f: &Facts) -> Finding {
    let cause = Plain(Phase::Host, ErrorClass::WrongNodeIp);
    let from_name: Vec<IpAddr> = if f.hosts.is_empty() {
        f.dns
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .cloned()
            .unwrap_or_default()
    } else {
        f.hosts.clone()
    };
    let how = if f.hosts.is_empty() {
        "DNS"
    } else {
        "/etc/hosts"
    };
    let name = crate::text::clean(&f.hostname, 100);
    // the kubelet: the hostname's first non-loopback IPv4 address, else the default route's source
    let named = from_name
        .iter()
        .copied()
        .find(|ip| ip.is_ipv4() && !ip.is_loopback());
    if named.is_none() && from_name.iter().any(std::net::IpAddr::is_loopback) {
        let lo: Vec<String> = from_name
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        return Finding::fail_by(&cause, format!("hostname {name:?} maps to loopback ({}) in {how}: the kubelet cannot register a reachable node address from it", lo.join(", ")))
            .fix(format!(
                "Map the hostname to the address on the line's interface in /etc/hosts ({} {name}), or join with the kubelet's --node-ip set to it.",
                f.line_src.map_or_else(|| "<line address>".into(), |s| s.to_string())
            ))
            .evidence(&NodeIpEvidence {
                hostname_addresses: Some(lo),
                ..NodeIpEvidence::default()
            });
    }
    let (kubelet_ip, kubelet_how) = match named {
        Some(ip) => (Some(ip), format!("hostname {name:?} in {how}")),
        None => (
            f.default_src,
            "the default route's source address".to_string(),
        ),
    };
    let Some(line_target) = f.line_target else {
        return Finding::skip_by(
            &Plain(Phase::Host, ErrorClass::Unavailable),
            format!(
                "no route toward the cloud to compare with (see the {}.* rows)",
                crate::ids::Category::Route
            ),
        );
    };
    let line_iface = f.line_iface.clone().unwrap_or_else(|| "?".into());
    let line_src = f.line_src;
    let src_shown = line_src.map_or_else(|| "?".into(), |s| s.to_string());
    let src_or_placeholder = line_src.map_or_else(|| "<line address>".into(), |s| s.to_string());
    let mut problems = vec![];
    let mut worst_fail = false;
    match kubelet_ip {
        None => problems.push("the kubelet finds no address: the hostname does not resolve and there is no default route".to_string()),
        Some(k) => {
            let k_iface = iface_of(&f.addrs, k);
            if k_iface.is_none() {
                worst_fail = true;
                problems.push(format!("the kubelet would register {k} (from {kubelet_how}), which is not an address of this host"));
            } else if Some(k) != line_src {
                worst_fail = true;
                problems.push(format!(
                    "the kubelet would register {k} on {} (from {kubelet_how}), but traffic to {line_target} leaves {line_iface} from {}: the cluster would reach the node at an address that is not on the line",
                    k_iface.unwrap_or_default(),
                    src_shown
                ));
            }
        }
    }
    match &f.default_iface {
        Some(d) if Some(d) != f.line_iface.as_ref() => {
            problems.push(format!("Flannel picks the default route's interface {d}, not {line_iface} toward the cloud: VXLAN would leave the wrong NIC"));
        }
        Some(_) => {}
        None => problems.push(format!("there is no default route, so Flannel cannot pick an interface by itself: it needs --iface={line_iface}")),
    }
    let evidence = format!(
        "kubelet address {} ({kubelet_how}); Flannel interface {}; toward {line_target}: {line_iface} src {}",
        kubelet_ip.map_or_else(|| "none".into(), |i| i.to_string()),
        f.default_iface.clone().unwrap_or_else(|| "none (no default route)".into()),
        src_shown
    );
    let fix = format!(
        "Join with the node address on the line: the kubelet's --node-ip={src_or_placeholder} and Flannel's --iface={line_iface} (edgeadm join passes them through), or map the hostname to {src_or_placeholder} in /etc/hosts."
    );
    let out = if problems.is_empty() {
        Finding::pass(evidence.clone())
    } else if worst_fail {
        Finding::fail_by(&cause, format!("{}; {evidence}", problems.join("; "))).fix(fix)
    } else {
        Finding::warn_by(&cause, format!("{}; {evidence}", problems.join("; "))).fix(fix)
    };
    out.evidence(&NodeIpEvidence {
        hostname_addresses: None,
        kubelet_address: Some(kubelet_ip.map(|i| i.to_string()).unwrap_or_default()),
        line_interface: Some(line_iface),
        flannel_interface: Some(f.default_iface.clone().unwrap_or_default()),
    })
}

evidence! {
    /// The evidence of `host.node-ip`.
    pub(crate) struct NodeIpEvidence {
        /// What the hostname resolves to when that is loopback.
        hostname_addresses: Vec<String>,
        /// The address the kubelet will register, the line's interface, and the interface Flannel
        /// picks (the default route's); "" when unknown.
        kubelet_address: String,
        line_interface: String,
        flannel_interface: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    fn la(i: &str, n: &str) -> LocalAddr {
        LocalAddr {
            interface: i.into(),
            net: n.parse().unwrap(),
        }
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn two_nics() -> Facts {
        Facts {
            hostname: "node-1".into(),
            default_iface: Some("eth0".into()),
            default_src: Some(ip("203.0.113.10")),
            line_target: Some(ip("192.168.0.10")),
            line_iface: Some("eth1".into()),
            line_src: Some(ip("10.0.0.10")),
            addrs: vec![
                la("eth0", "203.0.113.10/24"),
                la("eth1", "10.0.0.10/24"),
                la("lo", "127.0.0.1/8"),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn hosts_file() {
        let h = "127.0.0.1 localhost\n10.0.0.10 node-1.dc node-1 # line\n::1 localhost\n";
        assert_eq!(hosts_lookup(h, "NODE-1"), vec![ip("10.0.0.10")]);
        assert!(hosts_lookup(h, "other").is_empty());
    }

    #[test]
    fn single_nic_passes() {
        let f = Facts {
            hostname: "node-1".into(),
            hosts: vec![ip("10.0.0.10")],
            default_iface: Some("eth0".into()),
            default_src: Some(ip("10.0.0.10")),
            line_target: Some(ip("192.168.0.10")),
            line_iface: Some("eth0".into()),
            line_src: Some(ip("10.0.0.10")),
            addrs: vec![la("eth0", "10.0.0.10/24")],
            ..Default::default()
        };
        assert_eq!(
            evaluate(&f).status,
            Status::Pass,
            "{}",
            evaluate(&f).message
        );
    }

    #[test]
    fn internet_nic_with_the_default_route_fails_naming_both() {
        let f = evaluate(&two_nics());
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("203.0.113.10 on eth0") && f.message.contains("eth1 from 10.0.0.10"),
            "{}",
            f.message
        );
        assert!(
            f.fix.as_deref().unwrap().contains("--node-ip=10.0.0.10")
                && f.fix.as_deref().unwrap().contains("--iface=eth1")
        );
        // the hostname on the line's address: the kubelet is right, Flannel still picks eth0
        let mut fx = two_nics();
        fx.hosts = vec![ip("10.0.0.10")];
        let f = evaluate(&fx);
        assert_eq!(f.status, Status::Warn, "{}", f.message);
        assert!(
            f.message
                .contains("Flannel picks the default route's interface eth0"),
            "{}",
            f.message
        );
        // the hostname on the wrong NIC
        let mut fx = two_nics();
        fx.hosts = vec![ip("203.0.113.10")];
        assert_eq!(evaluate(&fx).status, Status::Fail);
    }

    #[test]
    fn loopback_hostname_fails() {
        let mut fx = two_nics();
        fx.hosts = vec![ip("127.0.1.1")];
        let f = evaluate(&fx);
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message
                .contains("maps to loopback (127.0.1.1) in /etc/hosts"),
            "{}",
            f.message
        );
    }
}
