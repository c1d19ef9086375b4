//! CIDR overlap: local interface addresses and routes against the cloud range, the VPC and the pod CIDR.

use ipnet::IpNet;

use crate::cause::{ErrorClass, Phase, Plain};
use crate::probe::route::{LocalAddr, RouteEntry};
use crate::result::Finding;

evidence! {
    /// The evidence of a `cidr.*` row that found an overlap.
    pub(crate) struct CidrEvidence {
        /// Each overlap in words: `address 100.64.0.5/10 on n0`, `route …`, `VPC CIDR …`.
        overlaps: Vec<String>,
        /// The node's own networks among them (an address's network, a route's destination):
        /// traffic toward an address inside one of these stays on this network.
        local_nets: Vec<IpNet>,
    }
}

/// Which local routes count as an overlap for a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverlapRule {
    /// 100.0.0.0/8 and the VPC: reached through a gateway over the line; only addresses and
    /// directly connected routes (no gateway) overlap.
    Remote,
    /// The container CIDR: nothing on this network may use it yet; any non-default route overlaps.
    Container,
}

pub(crate) fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Judge one range. `also` are the other ranges of the plan it must not overlap either (pod vs VPC);
/// `nameservers` are those of /etc/resolv.conf (a container or Service CIDR may not hold one).
pub(crate) fn evaluate(
    label: &str,
    range: &IpNet,
    rule: OverlapRule,
    addrs: &[LocalAddr],
    routes: &[RouteEntry],
    also: &[(String, IpNet)],
    nameservers: &[std::net::IpAddr],
) -> Finding {
    let mut hits: Vec<String> = vec![];
    if rule == OverlapRule::Container {
        for ns in nameservers.iter().filter(|ns| range.contains(*ns)) {
            hits.push(format!("nameserver {ns} of /etc/resolv.conf"));
        }
    }
    let mut local_nets: Vec<IpNet> = vec![];
    // interfaces whose own address already overlaps: their connected route only repeats it
    let mut addr_ifaces: Vec<&str> = vec![];
    for a in addrs {
        if a.interface == "lo" || a.net.addr().is_loopback() {
            continue;
        }
        if overlaps(&a.net.trunc(), range) || range.contains(&a.net.addr()) {
            hits.push(format!("address {} on {}", a.net, a.interface));
            local_nets.push(a.net.trunc());
            addr_ifaces.push(&a.interface);
        }
    }
    for r in routes {
        if r.dst.prefix_len() == 0 || r.kind != "unicast" || r.interface.as_deref() == Some("lo") {
            continue;
        }
        let counts = match rule {
            OverlapRule::Remote => r.is_connected(),
            OverlapRule::Container => true,
        };
        if !counts || !overlaps(&r.dst, range) {
            continue;
        }
        // keep evidence short: an interface's connected route repeats the address already named
        let repeats = r.is_connected()
            && r.interface
                .as_deref()
                .is_some_and(|i| addr_ifaces.contains(&i));
        if !repeats {
            hits.push(format!("route {}", r.describe()));
            local_nets.push(r.dst.trunc());
        }
    }
    for (other_label, other) in also {
        if overlaps(other, range) {
            hits.push(format!("{other_label} {other}"));
        }
    }
    if hits.is_empty() {
        Finding::pass(format!("nothing on this host overlaps {label} {range}"))
    } else {
        let f = Finding::fail_by(
            &Plain(Phase::Cidr, ErrorClass::Overlap),
            format!("{label} {range} overlaps {}", hits.join("; ")),
        )
        .evidence(&CidrEvidence {
            overlaps: Some(hits),
            local_nets: Some(local_nets),
        });
        match rule {
            OverlapRule::Remote => f,
            // the node connection script's own check ("Troubleshoot edge node issues")
            OverlapRule::Container => f.fix(format!(
                "The node connection script stops with \"Node route overlaps with service cidr\" when a node route or a nameserver lies in the cluster's pod or Service CIDR: change the node's route or nameserver named here, or use a cluster whose {label} does not overlap them."
            )),
        }
    }
}

/// An address an edge component puts on the node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EdgeAddress {
    pub address: std::net::IpAddr,
    pub component: String,
    /// The component's own interfaces: the address there is the component's.
    pub interfaces: Vec<String>,
    pub source: String,
}

/// Judge an address an edge component claims on the node (`address` on one of `own`): another
/// interface that has it, or a route more specific than the link-local /16 that covers it
/// (something else on this network uses it), collides. The zeroconf route 169.254.0.0/16 that
/// CentOS adds does not: the component's local address wins over it.
pub(crate) fn evaluate_claimed(
    component: &str,
    address: std::net::IpAddr,
    own: &[String],
    addrs: &[LocalAddr],
    routes: &[RouteEntry],
) -> Finding {
    let mut hits: Vec<String> = vec![];
    let mut local_nets: Vec<IpNet> = vec![];
    let mut already = None;
    for a in addrs {
        if a.net.addr() == address {
            if own.contains(&a.interface) {
                already = Some(a.interface.clone());
            } else {
                hits.push(format!("address {} on {}", a.net, a.interface));
                local_nets.push(a.net.trunc());
            }
        }
    }
    for r in routes {
        let own_route = r.interface.as_ref().is_some_and(|i| own.contains(i));
        if r.kind != "unicast" || r.dst.prefix_len() <= 16 || own_route || !r.dst.contains(&address)
        {
            continue;
        }
        hits.push(format!("route {}", r.describe()));
        local_nets.push(r.dst.trunc());
    }
    let what = format!("{address} ({component}'s dummy interface)");
    if !hits.is_empty() {
        return Finding::fail_by(
            &Plain(Phase::Cidr, ErrorClass::Overlap),
            format!("{what} is already taken on this host: {}", hits.join("; ")),
        )
        .evidence(&CidrEvidence {
            overlaps: Some(hits),
            local_nets: Some(local_nets),
        })
        .fix(format!(
            "Free {address} on this node (remove the address or route named), or give {component} another dummy address before joining; {component} puts {address} on its own dummy interface and the kubelet reaches the API server through it."
        ));
    }
    match already {
        Some(i) => Finding::pass(format!(
            "{what} is on {i} already: {component} of an earlier install (see {})",
            crate::ids::ReqId::HostLeftovers
        )),
        None => Finding::pass(format!("nothing on this host uses {what}")),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_nameserver_inside_the_service_cidr_is_an_overlap_with_the_scripts_fix() {
        let svc: IpNet = "10.96.0.0/12".parse().unwrap();
        let ns: Vec<std::net::IpAddr> = vec![
            "10.96.0.10".parse().unwrap(),
            "100.100.2.136".parse().unwrap(),
        ];
        let f = evaluate(
            "Service CIDR",
            &svc,
            OverlapRule::Container,
            &[],
            &[],
            &[],
            &ns,
        );
        assert_eq!(f.status, crate::result::Status::Fail);
        assert!(
            f.message
                .contains("nameserver 10.96.0.10 of /etc/resolv.conf"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("100.100.2.136"), "{}", f.message);
        assert!(f
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("Node route overlaps with service cidr"));
        // the VPC DNS inside the cloud range is where it belongs: no overlap for a remote range
        let cloud: IpNet = "100.0.0.0/8".parse().unwrap();
        let f = evaluate(
            "cloud-service range",
            &cloud,
            OverlapRule::Remote,
            &[],
            &[],
            &[],
            &ns,
        );
        assert_eq!(f.status, crate::result::Status::Pass, "{}", f.message);
    }

    use super::*;
    use crate::result::Status;

    fn a(i: &str, n: &str) -> LocalAddr {
        LocalAddr {
            interface: i.into(),
            net: n.parse().unwrap(),
        }
    }
    fn r(dst: &str, gw: Option<&str>, dev: &str) -> RouteEntry {
        RouteEntry {
            dst: dst.parse().unwrap(),
            interface: Some(dev.into()),
            gateway: gw.map(|g| g.parse().unwrap()),
            kind: "unicast".into(),
            table: 254,
            nexthops: vec![],
            nexthop_id: None,
        }
    }

    #[test]
    fn ecmp_over_two_lines_is_not_connected() {
        use crate::probe::route::NextHop;
        let cloud: IpNet = "100.0.0.0/8".parse().unwrap();
        let hop = |g: &str, d: &str| NextHop {
            gateway: Some(g.parse().unwrap()),
            interface: Some(d.into()),
        };
        let ecmp = RouteEntry {
            interface: None,
            gateway: None,
            nexthops: vec![hop("10.0.0.1", "eth0"), hop("10.0.1.1", "eth1")],
            ..r("100.0.0.0/8", None, "x")
        };
        assert!(!ecmp.is_connected());
        assert_eq!(
            ecmp.describe(),
            "100.0.0.0/8 nexthop via 10.0.0.1 dev eth0 nexthop via 10.0.1.1 dev eth1"
        );
        let f = evaluate(
            "cloud services",
            &cloud,
            OverlapRule::Remote,
            &[],
            std::slice::from_ref(&ecmp),
            &[],
            &[],
        );
        assert_eq!(f.status, Status::Pass, "{}", f.message);
        let nh = RouteEntry {
            nexthop_id: Some(7),
            interface: None,
            ..r("100.0.0.0/8", None, "x")
        };
        assert_eq!(
            evaluate(
                "cloud services",
                &cloud,
                OverlapRule::Remote,
                &[],
                &[nh],
                &[],
                &[]
            )
            .status,
            Status::Pass
        );
        // the container CIDR: any route overlaps, and the evidence names every next hop
        let pod: IpNet = "100.64.0.0/10".parse().unwrap();
        let f = evaluate(
            "container CIDR",
            &pod,
            OverlapRule::Container,
            &[],
            &[ecmp],
            &[],
            &[],
        );
        assert!(
            f.message.contains("nexthop via 10.0.1.1 dev eth1"),
            "{}",
            f.message
        );
    }

    #[test]
    fn dedup_compares_interface_names_exactly() {
        let cloud: IpNet = "100.0.0.0/8".parse().unwrap();
        // eth1's address overlaps; eth10's connected route is a different interface and must show
        let addrs = [a("eth1", "100.64.0.5/24")];
        let routes = [
            r("100.64.0.0/24", None, "eth1"),
            r("100.65.0.0/24", None, "eth10"),
        ];
        let f = evaluate(
            "cloud services",
            &cloud,
            OverlapRule::Remote,
            &addrs,
            &routes,
            &[],
            &[],
        );
        assert_eq!(
            f.details.to_json()["overlaps"].as_array().unwrap().len(),
            2,
            "{}",
            f.message
        );
        assert!(
            f.message.contains("route 100.65.0.0/24 dev eth10"),
            "{}",
            f.message
        );
    }

    #[test]
    fn cloud_range() {
        let cloud: IpNet = "100.0.0.0/8".parse().unwrap();
        let addrs = [a("lo", "127.0.0.1/8"), a("eth0", "10.0.0.10/24")];
        let routes = [
            r("0.0.0.0/0", Some("10.0.0.1"), "eth0"),
            r("100.0.0.0/8", Some("10.0.0.1"), "eth0"),
            r("10.0.0.0/24", None, "eth0"),
        ];
        assert_eq!(
            evaluate(
                "cloud services",
                &cloud,
                OverlapRule::Remote,
                &addrs,
                &routes,
                &[],
                &[]
            )
            .status,
            Status::Pass
        );
        let addrs = [a("eth1", "100.64.0.5/10")];
        let f = evaluate(
            "cloud services",
            &cloud,
            OverlapRule::Remote,
            &addrs,
            &[],
            &[],
            &[],
        );
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("address 100.64.0.5/10 on eth1"),
            "{}",
            f.message
        );
        let f = evaluate(
            "cloud services",
            &cloud,
            OverlapRule::Remote,
            &[],
            &[r("100.100.0.0/16", None, "docker0")],
            &[],
            &[],
        );
        assert_eq!(f.status, Status::Fail);
    }

    #[test]
    fn pod_cidr() {
        let pod: IpNet = "172.16.0.0/12".parse().unwrap();
        let addrs = [a("docker0", "172.17.0.1/16")];
        let f = evaluate(
            "container CIDR",
            &pod,
            OverlapRule::Container,
            &addrs,
            &[],
            &[],
            &[],
        );
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("docker0"));
        let f = evaluate(
            "container CIDR",
            &pod,
            OverlapRule::Container,
            &[],
            &[r("172.20.0.0/16", Some("10.0.0.1"), "eth0")],
            &[],
            &[],
        );
        assert_eq!(f.status, Status::Fail);
        let vpc: IpNet = "172.16.0.0/16".parse().unwrap();
        let f = evaluate(
            "container CIDR",
            &pod,
            OverlapRule::Container,
            &[],
            &[],
            &[("VPC CIDR".into(), vpc)],
            &[],
        );
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("VPC CIDR 172.16.0.0/16"));
        let f = evaluate(
            "container CIDR",
            &"10.244.0.0/16".parse().unwrap(),
            OverlapRule::Container,
            &[a("eth0", "10.0.0.10/24")],
            &[],
            &[],
            &[],
        );
        assert_eq!(f.status, Status::Pass);
    }

    #[test]
    fn edge_hub_address_collisions() {
        let ip: std::net::IpAddr = "169.254.2.1".parse().unwrap();
        let own = vec!["edge-hub-dummy0".to_string()];
        let zeroconf = r("169.254.0.0/16", None, "eth0");
        assert_eq!(
            evaluate_claimed(
                "edge-hub",
                ip,
                &own,
                &[a("eth0", "10.0.0.10/24")],
                std::slice::from_ref(&zeroconf)
            )
            .status,
            Status::Pass
        );
        let f = evaluate_claimed("edge-hub", ip, &own, &[a("dummy0", "169.254.2.1/32")], &[]);
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("address 169.254.2.1/32 on dummy0"),
            "{}",
            f.message
        );
        let f = evaluate_claimed(
            "edge-hub",
            ip,
            &own,
            &[],
            &[r("169.254.2.0/24", Some("10.0.0.1"), "eth0")],
        );
        assert_eq!(f.status, Status::Fail, "{}", f.message);
        let f = evaluate_claimed(
            "edge-hub",
            ip,
            &own,
            &[a("edge-hub-dummy0", "169.254.2.1/32")],
            &[],
        );
        assert_eq!(f.status, Status::Pass);
        assert!(f.message.contains("earlier install"));
    }
}
