use std::collections::BTreeSet;
use std::net::IpAddr;

use super::*;
use crate::ids::{Category, ReqId};
use crate::options::{parse_cidr, parse_endpoint, parse_host_port};
use crate::probe::port::SocketProto;
use crate::regions::RegionTable;

fn opts(region: &str) -> Options {
    let t = RegionTable::builtin().unwrap();
    Options::for_region(t.find(region, "t").unwrap().clone())
}
fn cat() -> &'static Catalogue {
    crate::catalogue::builtin().unwrap()
}
fn ids(p: &[Step]) -> Vec<ReqId> {
    p.iter().map(|p| p.id).collect()
}
fn of(p: &[Step], id: ReqId) -> Vec<&Step> {
    p.iter().filter(|s| s.id == id).collect()
}
fn ports(p: &[Step], id: ReqId) -> Vec<u16> {
    of(p, id).iter().filter_map(|s| s.port).collect()
}
/// Every option that plans something, so every check plans its steps.
fn everything() -> Options {
    let mut o = opts("cn-hangzhou");
    o.apiserver = Some(parse_host_port("api.example:6443", 6443, "--apiserver").unwrap());
    o.endpoints = vec![parse_endpoint("tcp://ga.example:443").unwrap()];
    o.vpc_cidr = Some(parse_cidr("192.168.0.0/16", "v").unwrap());
    o.pod_cidr = Some(parse_cidr("172.16.0.0/12", "p").unwrap());
    o.peers = vec!["192.168.0.20".parse().unwrap()];
    o.raven_gateways = vec!["192.168.0.30".parse().unwrap()];
    o
}

#[test]
fn the_registry_and_the_catalogue_match_in_both_directions() {
    let registered: Vec<ReqId> = REGISTRY
        .iter()
        .flat_map(|c| c.ids().iter().copied())
        .collect();
    let unique: BTreeSet<ReqId> = registered.iter().copied().collect();
    let catalogue: BTreeSet<ReqId> = cat()
        .requirements
        .iter()
        .map(|r| ReqId::parse(&r.id).unwrap())
        .collect();
    // mtu.path has two checks (toward the API server and toward peers); every other id one
    for id in &unique {
        let owners = registered.iter().filter(|r| *r == id).count();
        assert!(
            owners == 1 || *id == ReqId::MtuPath,
            "{id} is reported by {owners} checks"
        );
    }
    let missing: Vec<_> = catalogue.difference(&unique).collect();
    let unknown: Vec<_> = unique.difference(&catalogue).collect();
    assert!(
        missing.is_empty(),
        "in checks/requirements.toml but no check reports them: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "checks report ids the catalogue lacks: {unknown:?}"
    );
    assert_eq!(ReqId::ALL.len(), catalogue.len());
}

#[test]
fn every_catalogue_entry_is_planned_by_something() {
    let mut all = plan(&everything(), cat());
    all.extend(plan_inbound(&["10.0.0.10".parse().unwrap()], Cni::Flannel));
    let planned: BTreeSet<ReqId> = emitted_ids(&all).into_iter().collect();
    for id in ReqId::ALL {
        assert!(
            planned.contains(id),
            "{id} is in the catalogue but no step reports it"
        );
    }
}

#[test]
fn every_step_reports_only_rows_of_its_own_check_and_says_what_it_sends() {
    for c in REGISTRY {
        let mut steps = c.plan(&everything(), cat());
        steps.extend(c.plan_inbound("10.0.0.10".parse().unwrap(), Cni::Flannel));
        for s in steps {
            assert!(s.rows.iter().all(|id| c.ids().contains(id)), "{s:?}");
            assert!(!s.action("the resolver").is_empty(), "{s:?}");
        }
    }
}

#[test]
fn network_steps_have_an_address_and_local_steps_none() {
    for s in plan(&everything(), cat()) {
        let network = matches!(
            s.kind.name(),
            "route"
                | "tcp"
                | "tls"
                | "pull"
                | "discovery"
                | "ntp"
                | "udp_echo"
                | "udp_mtu"
                | "icmp_mtu"
        );
        assert_eq!(s.addr.is_some(), network, "{s:?}");
    }
}

#[test]
fn ntp_offset_runs_after_ntp_server() {
    let p = plan(&opts("cn-hangzhou"), cat());
    assert_eq!(of(&p, ReqId::NtpOffset)[0].after, [ReqId::NtpServer]);
    assert!(of(&p, ReqId::NtpServer).iter().all(|s| s.after.is_empty()));
}

#[test]
fn documented_registry_addresses_are_probed_without_dns() {
    let p = plan(&opts("cn-hangzhou"), cat());
    let fixed: Vec<String> = of(&p, ReqId::TcpRegistry)
        .iter()
        .filter_map(|s| s.fixed_address())
        .map(|i| i.to_string())
        .collect();
    assert_eq!(fixed, ["100.103.9.188", "100.103.7.181"]);
    // the resolved-address step excludes them so rows are not doubled
    assert!(of(&p, ReqId::TcpRegistry)
        .iter()
        .any(|s| matches!(&s.addr, Some(Addr::Resolved { except, .. }) if except.len() == 2)));
}

#[test]
fn ports_follow_the_kubernetes_version() {
    let mut o = opts("cn-hangzhou");
    let p = plan(&o, cat());
    assert_eq!(ports(&p, ReqId::TcpControlPlane), [443]);
    assert_eq!(ports(&p, ReqId::TcpOss), [443]);
    o.k8s_version = (1, 24);
    let p = plan(&o, cat());
    assert_eq!(ports(&p, ReqId::TcpControlPlane), [80]);
    assert_eq!(ports(&p, ReqId::TcpOss), [80, 443]);
    assert!(of(&p, ReqId::TlsControlPlane).is_empty());
}

#[test]
fn apiserver_skip_hint_and_name_resolution() {
    let mut o = opts("cn-hangzhou");
    let p = plan(&o, cat());
    let skip = of(&p, ReqId::TcpApiserver);
    assert!(
        skip[0].kind.untested() == Some("needs --apiserver")
            && skip[0].action("x").contains("--apiserver")
    );
    assert!(!ids(&p).contains(&ReqId::DnsApiserver));
    o.apiserver = Some(parse_host_port("192.168.0.10", 6443, "--apiserver").unwrap());
    let p = plan(&o, cat());
    assert!(!ids(&p).contains(&ReqId::DnsApiserver));
    assert_eq!(ports(&p, ReqId::TcpApiserver), [6443]);
    o.apiserver = Some(parse_host_port("api.example:7443", 6443, "--apiserver").unwrap());
    let p = plan(&o, cat());
    assert!(ids(&p).contains(&ReqId::DnsApiserver));
    assert_eq!(ports(&p, ReqId::TcpApiserver), [7443]);
}

#[test]
fn ntp_options() {
    let mut o = opts("cn-hangzhou");
    let p = plan(&o, cat());
    assert_eq!(of(&p, ReqId::NtpServer).len(), 2);
    assert_eq!(of(&p, ReqId::DnsNtp).len(), 2);
    o.ntp_servers = vec!["198.18.0.123".into()];
    let p = plan(&o, cat());
    assert_eq!(of(&p, ReqId::DnsNtp).len(), 0);
    assert_eq!(of(&p, ReqId::NtpServer).len(), 1);
    o.self_hosted_ntp = true;
    let p = plan(&o, cat());
    assert!(p
        .iter()
        .filter(|s| s.id.category() == Category::Ntp)
        .all(|s| s.kind.untested().is_some()));
}

#[test]
fn vxlan_port_only_with_flannel() {
    let mut o = opts("cn-hangzhou");
    let udp = |p: &[Step]| {
        p.iter()
            .any(|p| p.target == format!("{}/8472", SocketProto::Udp.as_str()))
    };
    assert!(udp(&plan(&o, cat())));
    o.cni = Cni::TerwayEdge;
    assert!(!udp(&plan(&o, cat())));
}

#[test]
fn oss_fallback_region_has_no_vip_routes() {
    let p = plan(&opts("cn-zhengzhou-jva"), cat());
    assert!(!p.iter().any(|p| p.target.starts_with("OSS VIP")));
    let p = plan(&opts("cn-hangzhou"), cat());
    let vip: Vec<&Step> = p
        .iter()
        .filter(|p| p.target.starts_with("OSS VIP"))
        .collect();
    assert_eq!(vip.len(), 4);
    assert!(vip
        .iter()
        .any(|s| s.fixed_address() == Some("100.118.28.1".parse().unwrap())));
}

#[test]
fn only_and_skip() {
    let mut o = opts("cn-hangzhou");
    o.only = vec!["tcp".into(), "dns.registry".into()];
    let p = plan(&o, cat());
    assert!(p
        .iter()
        .all(|p| p.id.category() == Category::Tcp || p.id == ReqId::DnsRegistry));
    o.only.clear();
    o.skip = vec!["tools".into()];
    assert!(!plan(&o, cat())
        .iter()
        .any(|p| p.id.category() == Category::Tools));
    let u = untested(&o, cat(), &plan(&o, cat()));
    assert!(u
        .iter()
        .any(|u| u.id == "tools.socat" && u.reason == "deselected by --skip"));
}

#[test]
fn cidr_rows_follow_options() {
    let mut o = opts("cn-hangzhou");
    // the cloud range, and edge-hub's dummy address
    assert_eq!(of(&plan(&o, cat()), ReqId::CidrOverlap).len(), 2);
    o.vpc_cidr = Some(parse_cidr("192.168.0.0/16", "v").unwrap());
    o.pod_cidr = Some(parse_cidr("172.16.0.0/12", "p").unwrap());
    assert_eq!(of(&plan(&o, cat()), ReqId::CidrOverlap).len(), 4);
    assert!(plan(&o, cat())
        .iter()
        .any(|s| s.target == "edge-hub 169.254.2.1"));
}

#[test]
fn tls_and_http_follow_selection() {
    let mut o = opts("cn-hangzhou");
    let p = plan(&o, cat());
    let tls = of(&p, ReqId::TlsRegistry);
    assert_eq!(tls.len(), 3);
    assert_eq!(tls[0].rows, [ReqId::TlsRegistry, ReqId::HttpRegistry]);
    assert!(
        tls[0].action("x").contains("(SNI registry-"),
        "{}",
        tls[0].action("x")
    );
    o.only = vec!["http.registry".into()];
    let p = plan(&o, cat());
    assert!(
        !p.is_empty() && p.iter().all(|s| s.rows == [ReqId::HttpRegistry]),
        "{p:?}"
    );
    o.only.clear();
    o.apiserver = Some(parse_host_port("192.168.0.10", 6443, "--apiserver").unwrap());
    let p = plan(&o, cat());
    let api = of(&p, ReqId::TlsApiserver);
    assert_eq!(api[0].port, Some(6443));
    assert!(!api[0].action("x").contains("SNI"));
}

#[test]
fn vxlan_needs_peers_and_flannel() {
    let mut o = opts("cn-hangzhou");
    let skipped = |p: &[Step]| {
        of(p, ReqId::UdpVxlan)
            .iter()
            .all(|s| s.kind.untested().is_some())
    };
    assert!(skipped(&plan(&o, cat())));
    o.peers = vec![
        "192.168.0.20".parse().unwrap(),
        "192.168.0.21".parse().unwrap(),
    ];
    let p = plan(&o, cat());
    assert_eq!(
        p.iter()
            .filter(|s| s.kind.name() == "udp_echo" && s.port == Some(8472))
            .count(),
        2
    );
    assert_eq!(p.iter().filter(|s| s.kind.name() == "udp_mtu").count(), 2);
    o.cni = Cni::TerwayEdge;
    assert!(skipped(&plan(&o, cat())));
    assert_eq!(
        plan_inbound(&["10.0.0.10".parse().unwrap()], Cni::TerwayEdge).len(),
        4
    );
    let rack: Vec<IpAddr> = vec!["10.0.0.10".parse().unwrap(), "10.0.0.11".parse().unwrap()];
    let p = plan_inbound(&rack, Cni::Flannel);
    assert_eq!(p.len(), 10);
    assert_eq!(p[5].target, "10.0.0.11 tcp/10250");
}

#[test]
fn the_echo_plan_says_the_size_that_is_sent() {
    let mut o = opts("cn-hangzhou");
    o.peers = vec!["192.168.0.20".parse().unwrap()];
    let p = plan(&o, cat());
    let text = of(&p, ReqId::UdpVxlan)[0].action("x");
    assert!(
        text.contains(&format!("({} bytes)", crate::probe::echo::ECHO_SIZE)),
        "{text}"
    );
}

#[test]
fn names_are_unique() {
    let n = names(&plan(&opts("cn-hangzhou"), cat()));
    assert_eq!(n.len(), 5, "{n:?}");
}

#[test]
fn snapshot_needs_come_from_the_steps() {
    let p = plan(&opts("cn-hangzhou"), cat());
    let n = needs(&p);
    assert!(
        n.tcp_sockets
            && n.udp_sockets
            && n.tools
            && n.sources
            && n.listings
            && n.locals
            && n.tls_roots
    );
    let mut o = opts("cn-hangzhou");
    o.only = vec!["tcp".into()];
    assert_eq!(needs(&plan(&o, cat())), Needs::NOTHING);
    o.only = vec!["tls.oss".into()];
    assert_eq!(
        needs(&plan(&o, cat())),
        Needs {
            tls_roots: true,
            ..Needs::NOTHING
        }
    );
}

#[test]
fn raven_rows_only_with_gateways_and_untested_only_when_asked_for() {
    let mut o = opts("cn-hangzhou");
    let p = plan(&o, cat());
    let rows = of(&p, ReqId::TcpRaven);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].kind.name(), "not_applicable");
    assert!(!untested(&o, cat(), &p).iter().any(|u| u.id == "tcp.raven"));
    o.only = vec!["tcp.raven".into()];
    let p = plan(&o, cat());
    assert_eq!(
        of(&p, ReqId::TcpRaven)[0].kind.untested(),
        Some("needs --raven-gateway")
    );
    o.only.clear();
    o.raven_gateways = vec!["192.168.0.30".parse().unwrap()];
    let p = plan(&o, cat());
    assert_eq!(
        ports(&p, ReqId::TcpRaven),
        [10280, 10281, 10282, 10283, 10284]
    );
    assert_eq!(ports(&p, ReqId::UdpRaven), [4500]);
}

#[test]
fn dependencies_are_planned_before_their_dependents() {
    let p = plan(&everything(), cat());
    for (i, s) in p.iter().enumerate() {
        for dep in s.after {
            let first = p.iter().position(|d| d.id == *dep);
            assert!(
                first.is_none_or(|k| k < i),
                "{:?} runs after {dep}, planned later",
                s.id
            );
        }
    }
    assert!(of(&p, ReqId::MtuPath)
        .iter()
        .all(|s| s.after.contains(&ReqId::TcpApiserver)));
}
