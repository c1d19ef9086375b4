//! The planner: which probes a region and options call for. Pure; `plan` prints its output.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde::Serialize;

use crate::catalogue::Catalogue;
use crate::constants::{NODE_TCP_PORTS, VXLAN_PORT};
use crate::options::{Cni, Host, Options};
use crate::probe::cidr::OverlapRule;
use crate::probe::dns::DnsExpect;
use crate::probe::port::SocketProto;
use crate::probe::tls::{HttpExpect, Trust};
use crate::regions::cloud_range;

/// Where a probe's address comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Addr {
    /// A documented or given address: probed whatever DNS says.
    Fixed(IpAddr),
    /// Every A record of `name`, except addresses already probed as `Fixed`.
    Resolved { name: String, except: Vec<IpAddr> },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeKind {
    Dns {
        name: String,
        #[serde(skip)]
        expect: DnsExpect,
    },
    Route {
        addr: Addr,
    },
    Tcp {
        addr: Addr,
        port: u16,
    },
    Ntp {
        addr: Addr,
    },
    NtpOffset,
    PortLocal {
        proto: SocketProto,
        port: u16,
    },
    Tool,
    PkgSources,
    Cidr {
        range: IpNet,
        label: String,
        #[serde(skip)]
        rule: OverlapRule,
        #[serde(skip)]
        also: Vec<(String, IpNet)>,
    },
    /// TCP + TLS handshake (+ one HTTP GET): the `tls.*` row, and the `http.*` row when `http` is set.
    Tls {
        addr: Addr,
        port: u16,
        name: Option<String>,
        trust: Trust,
        http: Option<(String, HttpExpect)>,
        emit_tls: bool,
    },
    /// Echo requests to a responder's UDP port (udp.vxlan, inbound.udp).
    UdpEcho {
        peer: IpAddr,
        port: u16,
    },
    /// Path MTU toward a responder with DF probes.
    Mtu {
        peer: IpAddr,
        port: u16,
    },
    /// Path MTU with ICMP echo and DF (the API server, where ICMP is allowed).
    IcmpMtu {
        addr: Addr,
    },
    /// TCP connect to a node's inbound port and read the responder's banner (inbound.tcp).
    InboundTcp {
        node: IpAddr,
        port: u16,
    },
    /// A read-only host check (files under the sysroot, listing commands, the kernel's routes).
    Host {
        check: HostCheck,
        #[serde(skip)]
        with: Box<HostPlan>,
    },
    /// Planned but not runnable with these options; reported as SKIP with the reason, and listed as
    /// untested with `needs` ("needs --apiserver").
    Skip {
        reason: String,
        needs: String,
    },
}

/// What the host checks need from the options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostPlan {
    /// The address the cloud is reached at (API server, else a documented registry address).
    pub line: Option<IpAddr>,
    /// The line endpoints a proxy must not take (proxy.env).
    pub endpoints: Vec<String>,
    pub flannel: bool,
    pub vpc_cidr: Option<IpNet>,
    pub pod_cidr: Option<IpNet>,
}

/// The host checks, one requirement id each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostCheck {
    Firewall,
    NodeIp,
    RpFilter,
    Resolver,
    Proxy,
    Sysctl,
    KernelModules,
    Swap,
    Cgroup,
    Hostname,
    Leftovers,
}

impl HostCheck {
    pub const ALL: [HostCheck; 11] = [
        HostCheck::Firewall,
        HostCheck::NodeIp,
        HostCheck::RpFilter,
        HostCheck::Resolver,
        HostCheck::Proxy,
        HostCheck::Sysctl,
        HostCheck::KernelModules,
        HostCheck::Swap,
        HostCheck::Cgroup,
        HostCheck::Hostname,
        HostCheck::Leftovers,
    ];
    pub fn id(self) -> &'static str {
        match self {
            HostCheck::Firewall => "host.firewall",
            HostCheck::NodeIp => "host.node-ip",
            HostCheck::RpFilter => "host.rp-filter",
            HostCheck::Resolver => "dns.resolver",
            HostCheck::Proxy => "proxy.env",
            HostCheck::Sysctl => "host.sysctl",
            HostCheck::KernelModules => "host.kernel-modules",
            HostCheck::Swap => "host.swap",
            HostCheck::Cgroup => "host.cgroup",
            HostCheck::Hostname => "host.hostname",
            HostCheck::Leftovers => "host.leftovers",
        }
    }
    /// What it reads (for `plan`): files, commands, kernel state; never a change.
    pub fn reads(self) -> &'static str {
        match self {
            HostCheck::Firewall => "run iptables-save, nft list ruleset and firewall-cmd --state (read-only listings; local)",
            HostCheck::NodeIp => "read /proc/sys/kernel/hostname and /etc/hosts, DNS A query for the hostname when /etc/hosts has none, netlink route lookups (local)",
            HostCheck::RpFilter => "read /proc/sys/net/ipv4/conf/{all,IFACE}/rp_filter and the routes (local)",
            HostCheck::Resolver => "read /etc/resolv.conf (and /run/systemd/resolve/resolv.conf) (local)",
            HostCheck::Proxy => "read /proc/self/environ, /etc/environment, /etc/systemd/system.conf{,.d} and the containerd/kubelet/docker drop-ins (local)",
            HostCheck::Sysctl => "read /proc/sys/net/ipv4/ip_forward, /proc/sys/net/bridge/bridge-nf-call-iptables and the sysctl.d files (local)",
            HostCheck::KernelModules => "read /proc/modules and /lib/modules/$(uname -r)/modules.{builtin,dep} (local)",
            HostCheck::Swap => "read /proc/swaps (local)",
            HostCheck::Cgroup => "read /sys/fs/cgroup/cgroup.controllers or /proc/cgroups (local)",
            HostCheck::Hostname => "read /proc/sys/kernel/hostname (local)",
            HostCheck::Leftovers => "look for /etc/kubernetes, /var/lib/kubelet and /etc/cni files, CNI links in /sys/class/net, kubelet mounts in /proc/mounts (local)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    pub id: String,
    pub target: String,
    #[serde(flatten)]
    pub kind: ProbeKind,
}

impl Probe {
    fn new(id: &str, target: impl Into<String>, kind: ProbeKind) -> Probe {
        Probe {
            id: id.to_string(),
            target: target.into(),
            kind,
        }
    }

    /// The requirement ids this probe reports rows for (a TLS probe may report its `http.*` row too).
    pub fn ids(&self) -> Vec<String> {
        match &self.kind {
            ProbeKind::Tls { http, emit_tls, .. } => {
                let mut v = vec![];
                if *emit_tls {
                    v.push(self.id.clone());
                }
                if let Some((h, _)) = http {
                    v.push(h.clone());
                }
                v
            }
            _ => vec![self.id.clone()],
        }
    }

    /// The address column of this probe's row for `ip` (with the port where the probe has one).
    pub fn address_for(&self, ip: IpAddr) -> String {
        let port = match &self.kind {
            ProbeKind::Tcp { port, .. } | ProbeKind::Tls { port, .. } => Some(*port),
            ProbeKind::UdpEcho { port, .. }
            | ProbeKind::Mtu { port, .. }
            | ProbeKind::InboundTcp { port, .. } => Some(*port),
            ProbeKind::Ntp { .. } => Some(crate::constants::NTP_PORT),
            _ => None,
        };
        match port {
            Some(port) => std::net::SocketAddr::new(ip, port).to_string(),
            None => ip.to_string(),
        }
    }

    /// The one address this probe targets without DNS, if it has exactly one.
    pub fn fixed_address(&self) -> Option<IpAddr> {
        match &self.kind {
            ProbeKind::Route {
                addr: Addr::Fixed(ip),
            }
            | ProbeKind::Tcp {
                addr: Addr::Fixed(ip),
                ..
            }
            | ProbeKind::Ntp {
                addr: Addr::Fixed(ip),
            }
            | ProbeKind::Tls {
                addr: Addr::Fixed(ip),
                ..
            }
            | ProbeKind::IcmpMtu {
                addr: Addr::Fixed(ip),
            } => Some(*ip),
            ProbeKind::UdpEcho { peer, .. } | ProbeKind::Mtu { peer, .. } => Some(*peer),
            ProbeKind::InboundTcp { node, .. } => Some(*node),
            _ => None,
        }
    }

    /// The name whose DNS answer this probe waits for, if any.
    pub fn resolves(&self) -> Option<&str> {
        match &self.kind {
            ProbeKind::Route {
                addr: Addr::Resolved { name, .. },
            }
            | ProbeKind::Tcp {
                addr: Addr::Resolved { name, .. },
                ..
            }
            | ProbeKind::Ntp {
                addr: Addr::Resolved { name, .. },
            }
            | ProbeKind::Tls {
                addr: Addr::Resolved { name, .. },
                ..
            }
            | ProbeKind::IcmpMtu {
                addr: Addr::Resolved { name, .. },
            } => Some(name),
            _ => None,
        }
    }

    /// This probe aimed at one address (for "what was pending" toward that address).
    pub fn pinned(&self, ip: IpAddr) -> Probe {
        let mut p = self.clone();
        match &mut p.kind {
            ProbeKind::Route { addr }
            | ProbeKind::Tcp { addr, .. }
            | ProbeKind::Ntp { addr }
            | ProbeKind::Tls { addr, .. }
            | ProbeKind::IcmpMtu { addr } => *addr = Addr::Fixed(ip),
            _ => {}
        }
        p
    }

    /// Every packet (or local read) this probe makes, one line each (for `plan`).
    pub fn actions(&self, dns_via: &str) -> Vec<String> {
        let mut v = vec![self.action(dns_via)];
        match &self.kind {
            ProbeKind::Tcp { addr: Addr::Fixed(ip), .. } => v.push(format!("ICMP echo to {ip} (evidence only, at most 300 ms; root or ping_group_range)")),
            ProbeKind::Tcp { addr: Addr::Resolved { name, .. }, .. } => {
                v.push(format!("ICMP echo to each A record of {name} (evidence only, at most 300 ms; root or ping_group_range)"))
            }
            ProbeKind::Mtu { peer, port } => {
                v.insert(0, format!("route lookup for {peer} (local: the interface MTU bounds the search)"));
                v.insert(1, format!("one 576-byte UDP echo request with DF to {peer}:{port} (is the responder there?)"));
            }
            ProbeKind::IcmpMtu { .. } => v.insert(0, "route lookup (local: the interface MTU bounds the search)".into()),
            ProbeKind::PkgSources => {
                v = vec![
                    "read /etc/yum.repos.d/*.repo, /etc/apt/sources.list, /etc/apt/sources.list.d/*.{list,sources} (local)".into(),
                    format!("DNS A query for each source host via {dns_via}"),
                    "TCP connect (SYN) to each source host's port (at most 16 hosts)".into(),
                ]
            }
            _ => {}
        }
        v
    }

    /// One line saying what would be sent (for `plan`).
    pub fn action(&self, dns_via: &str) -> String {
        let addr = |a: &Addr| match a {
            Addr::Fixed(ip) => ip.to_string(),
            Addr::Resolved { name, except } if except.is_empty() => {
                format!("each A record of {name}")
            }
            Addr::Resolved { name, .. } => format!("each other A record of {name}"),
        };
        match &self.kind {
            ProbeKind::Dns { name, .. } => format!("DNS A query for {name}. via {dns_via}"),
            ProbeKind::Route { addr: a } => format!(
                "netlink RTM_GETROUTE for {} (local, sends nothing)",
                addr(a)
            ),
            ProbeKind::Tcp { addr: a, port } => format!("TCP connect (SYN) to {}:{port}", addr(a)),
            ProbeKind::Ntp { addr: a } => {
                format!("SNTP client request (UDP 123, 48 bytes) to {}", addr(a))
            }
            ProbeKind::NtpOffset => "computed from the ntp.server replies (sends nothing)".into(),
            ProbeKind::PortLocal { proto, port } => {
                format!(
                    "read /proc/net/{}* for port {port} (local, sends nothing)",
                    proto.as_str()
                )
            }
            ProbeKind::Tool => "look for executables in PATH, /usr/sbin and /sbin (local)".into(),
            ProbeKind::Host { check, .. } => check.reads().into(),
            ProbeKind::PkgSources => {
                "read yum/apt source files, then DNS + TCP connect to each source host".into()
            }
            ProbeKind::Cidr { range, .. } => {
                format!("compare local addresses and routes with {range} (local)")
            }
            ProbeKind::Tls {
                addr: a,
                port,
                name,
                http,
                ..
            } => {
                let sni = name
                    .clone()
                    .map(|n| format!(" (SNI {n})"))
                    .unwrap_or_default();
                match http {
                    Some((_, e)) => format!(
                        "TLS handshake with {}:{port}{sni}, then HTTP GET {}",
                        addr(a),
                        e.path()
                    ),
                    None => format!("TLS handshake with {}:{port}{sni}", addr(a)),
                }
            }
            ProbeKind::UdpEcho { peer, port } => {
                format!("3 UDP echo requests (64 bytes) to the responder at {peer}:{port}")
            }
            ProbeKind::Mtu { peer, port } => {
                format!("UDP probes with Don't Fragment, up to the interface MTU, to {peer}:{port}")
            }
            ProbeKind::IcmpMtu { addr: a } => format!(
                "ICMP echo with Don't Fragment, up to the interface MTU, to {}",
                addr(a)
            ),
            ProbeKind::InboundTcp { node, port } => {
                format!("TCP connect to {node}:{port} and read the responder's banner")
            }
            ProbeKind::Skip { reason, .. } => format!("skipped: {reason}"),
        }
    }
}

fn host_addr(host: &Host) -> Addr {
    match host {
        Host::Ip(ip) => Addr::Fixed(*ip),
        Host::Name(n) => Addr::Resolved {
            name: n.clone(),
            except: vec![],
        },
    }
}

/// A representative host address of a range, for route lookups (the first usable address).
fn representative(net: &ipnet::Ipv4Net) -> Ipv4Addr {
    if net.prefix_len() >= 31 {
        net.network()
    } else {
        Ipv4Addr::from(u32::from(net.network()) + 1)
    }
}

/// Plan every probe for these options, filtered by `--only` / `--skip`.
pub fn plan(opts: &Options, cat: &Catalogue) -> Vec<Probe> {
    let r = &opts.region;
    let mut p: Vec<Probe> = vec![];
    let resolved = |name: &str| Addr::Resolved {
        name: name.to_string(),
        except: vec![],
    };

    // Control plane
    let cp = &r.control_plane;
    p.push(Probe::new(
        "dns.control-plane",
        cp,
        ProbeKind::Dns {
            name: cp.clone(),
            expect: DnsExpect::InRanges {
                ranges: vec![cloud_range()],
                fallback: false,
            },
        },
    ));
    p.push(Probe::new(
        "route.control-plane",
        cp,
        ProbeKind::Route { addr: resolved(cp) },
    ));
    let cp_port = if opts.is_modern() { 443 } else { 80 };
    p.push(Probe::new(
        "tcp.control-plane",
        cp,
        ProbeKind::Tcp {
            addr: resolved(cp),
            port: cp_port,
        },
    ));

    // OSS
    let (ranges, fallback) = r.oss_ranges();
    p.push(Probe::new(
        "dns.oss",
        &r.oss,
        ProbeKind::Dns {
            name: r.oss.clone(),
            expect: DnsExpect::InRanges {
                ranges: ranges.clone(),
                fallback,
            },
        },
    ));
    if !fallback {
        for net in &ranges {
            p.push(Probe::new(
                "route.oss",
                format!("OSS VIP {net}"),
                ProbeKind::Route {
                    addr: Addr::Fixed(IpAddr::V4(representative(net))),
                },
            ));
        }
    }
    p.push(Probe::new(
        "route.oss",
        &r.oss,
        ProbeKind::Route {
            addr: resolved(&r.oss),
        },
    ));
    let oss_ports: &[u16] = if opts.is_modern() { &[443] } else { &[80, 443] };
    for port in oss_ports {
        p.push(Probe::new(
            "tcp.oss",
            &r.oss,
            ProbeKind::Tcp {
                addr: resolved(&r.oss),
                port: *port,
            },
        ));
    }

    // Registry: documented /32s are probed even when DNS fails.
    let documented: Vec<Ipv4Addr> = r.registry_routes.iter().map(|n| n.addr()).collect();
    let except: Vec<IpAddr> = documented.iter().map(|a| IpAddr::V4(*a)).collect();
    p.push(Probe::new(
        "dns.registry",
        &r.registry,
        ProbeKind::Dns {
            name: r.registry.clone(),
            expect: DnsExpect::OneOf(documented.clone()),
        },
    ));
    for a in &documented {
        p.push(Probe::new(
            "route.registry",
            &r.registry,
            ProbeKind::Route {
                addr: Addr::Fixed(IpAddr::V4(*a)),
            },
        ));
    }
    p.push(Probe::new(
        "route.registry",
        &r.registry,
        ProbeKind::Route {
            addr: Addr::Resolved {
                name: r.registry.clone(),
                except: except.clone(),
            },
        },
    ));
    for a in &documented {
        p.push(Probe::new(
            "tcp.registry",
            &r.registry,
            ProbeKind::Tcp {
                addr: Addr::Fixed(IpAddr::V4(*a)),
                port: 443,
            },
        ));
    }
    p.push(Probe::new(
        "tcp.registry",
        &r.registry,
        ProbeKind::Tcp {
            addr: Addr::Resolved {
                name: r.registry.clone(),
                except,
            },
            port: 443,
        },
    ));

    // TLS and HTTP identity: the right service, with a certificate we trust
    let tls = |id: &str,
               http: Option<(&str, HttpExpect)>,
               addr: Addr,
               port: u16,
               name: &str,
               trust: Trust| Probe {
        id: id.to_string(),
        target: name.to_string(),
        kind: ProbeKind::Tls {
            addr,
            port,
            name: Some(name.to_string()),
            trust,
            http: http.map(|(i, e)| (i.to_string(), e)),
            emit_tls: true,
        },
    };
    for a in &documented {
        p.push(tls(
            "tls.registry",
            Some(("http.registry", HttpExpect::Registry)),
            Addr::Fixed(IpAddr::V4(*a)),
            443,
            &r.registry,
            Trust::System,
        ));
    }
    p.push(tls(
        "tls.registry",
        Some(("http.registry", HttpExpect::Registry)),
        Addr::Resolved {
            name: r.registry.clone(),
            except: documented.iter().map(|a| IpAddr::V4(*a)).collect(),
        },
        443,
        &r.registry,
        Trust::System,
    ));
    p.push(tls(
        "tls.oss",
        Some(("http.oss", HttpExpect::Oss)),
        resolved(&r.oss),
        443,
        &r.oss,
        Trust::System,
    ));
    if opts.is_modern() {
        p.push(tls(
            "tls.control-plane",
            None,
            resolved(cp),
            443,
            cp,
            Trust::System,
        ));
    }

    // API server
    match &opts.apiserver {
        Some(api) => {
            let target = api.host.to_string();
            if let Host::Name(n) = &api.host {
                p.push(Probe::new(
                    "dns.apiserver",
                    n,
                    ProbeKind::Dns {
                        name: n.clone(),
                        expect: DnsExpect::Any,
                    },
                ));
            }
            p.push(Probe::new(
                "route.apiserver",
                &target,
                ProbeKind::Route {
                    addr: host_addr(&api.host),
                },
            ));
            p.push(Probe::new(
                "tcp.apiserver",
                &target,
                ProbeKind::Tcp {
                    addr: host_addr(&api.host),
                    port: api.port,
                },
            ));
            let trust = if opts.cluster_roots.is_empty() {
                Trust::EvidenceOnly
            } else {
                Trust::ClusterCa
            };
            let name = match &api.host {
                Host::Name(n) => Some(n.clone()),
                Host::Ip(_) => None,
            };
            if opts.cni == Cni::Flannel {
                p.push(Probe::new(
                    "mtu.path",
                    &target,
                    ProbeKind::IcmpMtu {
                        addr: host_addr(&api.host),
                    },
                ));
            }
            p.push(Probe::new(
                "tls.apiserver",
                &target,
                ProbeKind::Tls {
                    addr: host_addr(&api.host),
                    port: api.port,
                    name,
                    trust,
                    http: None,
                    emit_tls: true,
                },
            ));
        }
        None => {
            for id in ["tcp.apiserver", "tls.apiserver"] {
                p.push(Probe::new(id, "(not given)", ProbeKind::Skip {
                    reason: "--apiserver not given: pass the API server internal endpoint from the cluster's Basic Information tab, e.g. --apiserver 192.168.0.10".into(),
                    needs: "needs --apiserver".into(),
                }));
            }
        }
    }

    // NTP
    if opts.self_hosted_ntp {
        for id in ["ntp.server", "ntp.offset"] {
            p.push(Probe::new(id, "(self-hosted)", ProbeKind::Skip {
                reason: "--self-hosted-ntp: the node keeps its own time (join with selfHostNtpServer=true)".into(),
                needs: "not applicable with --self-hosted-ntp".into(),
            }));
        }
    } else {
        for s in &opts.ntp_servers {
            let host = match s.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) => Host::Name(s.clone()),
            };
            if let Host::Name(n) = &host {
                p.push(Probe::new(
                    "dns.ntp",
                    n,
                    ProbeKind::Dns {
                        name: n.clone(),
                        expect: DnsExpect::Any,
                    },
                ));
            }
            p.push(Probe::new(
                "ntp.server",
                s,
                ProbeKind::Ntp {
                    addr: host_addr(&host),
                },
            ));
        }
        p.push(Probe::new(
            "ntp.offset",
            "local clock",
            ProbeKind::NtpOffset,
        ));
    }

    // Extra endpoints (--endpoint tcp://HOST:PORT)
    for e in &opts.endpoints {
        let target = e.to_string();
        if let Host::Name(n) = &e.host {
            p.push(Probe::new(
                "dns.endpoint",
                n,
                ProbeKind::Dns {
                    name: n.clone(),
                    expect: DnsExpect::Any,
                },
            ));
        }
        p.push(Probe::new(
            "route.endpoint",
            &target,
            ProbeKind::Route {
                addr: host_addr(&e.host),
            },
        ));
        p.push(Probe::new(
            "tcp.endpoint",
            &target,
            ProbeKind::Tcp {
                addr: host_addr(&e.host),
                port: e.port,
            },
        ));
    }

    // Flannel VXLAN and path MTU toward peers running `responder`
    if opts.cni != Cni::Flannel {
        for id in ["udp.vxlan", "mtu.path"] {
            p.push(Probe::new(
                id,
                "(terway-edge)",
                ProbeKind::Skip {
                    reason: format!("the CNI is not Flannel: no VXLAN on UDP {VXLAN_PORT}"),
                    needs: "not applicable to terway-edge".into(),
                },
            ));
        }
    } else if opts.peers.is_empty() {
        for id in ["udp.vxlan", "mtu.path"] {
            p.push(Probe::new(id, "(no --peer)", ProbeKind::Skip {
                reason: "no --peer given: run `ack-edge-preflight responder` on a cloud node or VPC host and pass --peer IP".into(),
                needs: "needs --peer".into(),
            }));
        }
    } else {
        for peer in &opts.peers {
            p.push(Probe::new(
                "udp.vxlan",
                peer.to_string(),
                ProbeKind::UdpEcho {
                    peer: *peer,
                    port: VXLAN_PORT,
                },
            ));
            p.push(Probe::new(
                "mtu.path",
                peer.to_string(),
                ProbeKind::Mtu {
                    peer: *peer,
                    port: VXLAN_PORT,
                },
            ));
        }
    }

    // Local ports: the inbound ones, and those the node's own components bind
    for port in NODE_TCP_PORTS
        .into_iter()
        .chain(crate::constants::NODE_LOCAL_TCP_PORTS)
    {
        p.push(Probe::new(
            "port.local",
            format!("tcp/{port}"),
            ProbeKind::PortLocal {
                proto: SocketProto::Tcp,
                port,
            },
        ));
    }
    if opts.cni == Cni::Flannel {
        p.push(Probe::new(
            "port.local",
            format!("udp/{VXLAN_PORT}"),
            ProbeKind::PortLocal {
                proto: SocketProto::Udp,
                port: VXLAN_PORT,
            },
        ));
    }

    // Host prerequisites (read-only)
    let line = match opts.apiserver.as_ref().map(|a| &a.host) {
        Some(Host::Ip(ip)) => Some(*ip),
        _ => documented.first().map(|a| IpAddr::V4(*a)),
    };
    let mut endpoints: Vec<String> = vec![cp.clone(), r.oss.clone(), r.registry.clone()];
    endpoints.extend(documented.iter().map(|a| a.to_string()));
    if let Some(api) = &opts.apiserver {
        endpoints.push(match &api.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(n) => n.clone(),
        });
    }
    for check in HostCheck::ALL {
        let target = match check {
            HostCheck::Firewall => "netfilter INPUT / FORWARD",
            HostCheck::NodeIp => "kubelet and Flannel address",
            HostCheck::RpFilter => "reverse-path filter",
            HostCheck::Resolver => "/etc/resolv.conf",
            HostCheck::Proxy => "HTTP(S)_PROXY / NO_PROXY",
            HostCheck::Sysctl => "net.ipv4.ip_forward",
            HostCheck::KernelModules => "vxlan, br_netfilter, overlay",
            HostCheck::Swap => "/proc/swaps",
            HostCheck::Cgroup => "cgroup controllers",
            HostCheck::Hostname => "node name",
            HostCheck::Leftovers => "earlier install",
        };
        let with = HostPlan {
            line,
            endpoints: if check == HostCheck::Proxy {
                endpoints.clone()
            } else {
                vec![]
            },
            flannel: opts.cni == Cni::Flannel,
            vpc_cidr: opts.vpc_cidr,
            pod_cidr: opts.pod_cidr,
        };
        p.push(Probe::new(
            check.id(),
            target,
            ProbeKind::Host {
                check,
                with: Box::new(with),
            },
        ));
    }

    // Tools and package sources
    for t in cat.tools() {
        p.push(Probe::new(
            &t.id,
            t.id.trim_start_matches("tools."),
            ProbeKind::Tool,
        ));
    }
    p.push(Probe::new(
        "pkg.sources",
        "yum/apt sources",
        ProbeKind::PkgSources,
    ));

    // CIDR overlap
    let cloud = IpNet::V4(cloud_range());
    p.push(Probe::new(
        "cidr.overlap",
        format!("cloud services {cloud}"),
        ProbeKind::Cidr {
            range: cloud,
            label: "cloud-service range".into(),
            rule: OverlapRule::Remote,
            also: vec![],
        },
    ));
    if let Some(vpc) = opts.vpc_cidr {
        p.push(Probe::new(
            "cidr.overlap",
            format!("VPC {vpc}"),
            ProbeKind::Cidr {
                range: vpc,
                label: "VPC CIDR".into(),
                rule: OverlapRule::Remote,
                also: vec![("cloud-service range".into(), cloud)],
            },
        ));
    }
    if let Some(pod) = opts.pod_cidr {
        let mut also = vec![("cloud-service range".to_string(), cloud)];
        if let Some(vpc) = opts.vpc_cidr {
            also.push(("VPC CIDR".into(), vpc));
        }
        p.push(Probe::new(
            "cidr.overlap",
            format!("containers {pod}"),
            ProbeKind::Cidr {
                range: pod,
                label: "container CIDR".into(),
                rule: OverlapRule::Container,
                also,
            },
        ));
    }

    for probe in p.iter_mut() {
        if let ProbeKind::Tls { http, emit_tls, .. } = &mut probe.kind {
            *emit_tls = opts.selected(&probe.id);
            if http.as_ref().is_some_and(|(id, _)| !opts.selected(id)) {
                *http = None;
            }
        }
    }
    p.retain(|probe| match &probe.kind {
        ProbeKind::Tls { http, emit_tls, .. } => *emit_tls || http.is_some(),
        _ => opts.selected(&probe.id),
    });
    p
}

/// Every requirement id a probe list emits rows for (a TLS probe may emit its `http.*` row too).
pub fn emitted_ids(probes: &[Probe]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for id in probes.iter().flat_map(Probe::ids) {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// What these options leave untested, and why: planned SKIPs ("needs --apiserver") and requirements
/// deselected by `--only` / `--skip`.
pub fn untested(
    opts: &Options,
    cat: &Catalogue,
    planned: &[Probe],
) -> Vec<crate::result::Untested> {
    let mut out: Vec<crate::result::Untested> = vec![];
    for p in planned {
        if let ProbeKind::Skip { needs, .. } = &p.kind {
            if !out.iter().any(|u| u.id == p.id) {
                out.push(crate::result::Untested {
                    id: p.id.clone(),
                    reason: needs.clone(),
                });
            }
        }
    }
    let mut all = opts.clone();
    all.only.clear();
    all.skip.clear();
    let emitted = emitted_ids(planned);
    for id in emitted_ids(&plan(&all, cat)) {
        if emitted.contains(&id) || out.iter().any(|u| u.id == id) {
            continue;
        }
        let by_skip = opts
            .skip
            .iter()
            .any(|s| *s == id || id.split('.').next() == Some(s.as_str()));
        let reason = if by_skip {
            "deselected by --skip"
        } else {
            "not selected by --only"
        };
        out.push(crate::result::Untested {
            id,
            reason: reason.into(),
        });
    }
    out
}

/// The probes of `inbound --node IP`: the node's inbound ports, answered by its `responder`.
pub fn plan_inbound(nodes: &[IpAddr], cni: Cni) -> Vec<Probe> {
    let mut p: Vec<Probe> = vec![];
    for &node in nodes {
        p.extend(NODE_TCP_PORTS.iter().map(|port| {
            Probe::new(
                "inbound.tcp",
                format!("{node} tcp/{port}"),
                ProbeKind::InboundTcp { node, port: *port },
            )
        }));
        if cni == Cni::Flannel {
            p.push(Probe::new(
                "inbound.udp",
                format!("{node} udp/{VXLAN_PORT}"),
                ProbeKind::UdpEcho {
                    peer: node,
                    port: VXLAN_PORT,
                },
            ));
        }
    }
    p
}

/// Every name the probes need resolved, in plan order, without duplicates.
pub fn names(probes: &[Probe]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for p in probes {
        let n = match &p.kind {
            ProbeKind::Dns { name, .. } => Some(name.as_str()),
            _ => p.resolves(),
        };
        if let Some(n) = n {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{parse_cidr, parse_host_port};
    use crate::regions::RegionTable;

    fn opts(region: &str) -> Options {
        let t = RegionTable::builtin().unwrap();
        Options::for_region(t.find(region, "t").unwrap().clone())
    }
    fn cat() -> &'static Catalogue {
        crate::catalogue::builtin().unwrap()
    }
    fn ids(p: &[Probe]) -> Vec<&str> {
        p.iter().map(|p| p.id.as_str()).collect()
    }
    fn tcp_ports(p: &[Probe], id: &str) -> Vec<u16> {
        p.iter()
            .filter(|p| p.id == id)
            .filter_map(|p| match p.kind {
                ProbeKind::Tcp { port, .. } => Some(port),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_planned_id_is_in_the_catalogue() {
        let mut o = opts("cn-hangzhou");
        o.apiserver = Some(parse_host_port("api.example:6443", 6443, "--apiserver").unwrap());
        o.endpoints = vec![crate::options::parse_endpoint("tcp://ga.example:443").unwrap()];
        o.vpc_cidr = Some(parse_cidr("192.168.0.0/16", "v").unwrap());
        o.pod_cidr = Some(parse_cidr("172.16.0.0/12", "p").unwrap());
        o.peers = vec!["192.168.0.20".parse().unwrap()];
        let mut all = plan(&o, cat());
        all.extend(plan_inbound(&["10.0.0.10".parse().unwrap()], Cni::Flannel));
        for p in all {
            assert!(
                cat().get(&p.id).is_some(),
                "{} is not in checks/requirements.toml",
                p.id
            );
            if let ProbeKind::Tls {
                http: Some((h, _)), ..
            } = &p.kind
            {
                assert!(cat().get(h).is_some(), "{h}");
            }
        }
    }

    #[test]
    fn documented_registry_addresses_are_probed_without_dns() {
        let p = plan(&opts("cn-hangzhou"), cat());
        let fixed: Vec<String> = p
            .iter()
            .filter(|p| p.id == "tcp.registry")
            .filter_map(|p| match &p.kind {
                ProbeKind::Tcp {
                    addr: Addr::Fixed(ip),
                    port: 443,
                } => Some(ip.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(fixed, ["100.103.9.188", "100.103.7.181"]);
        // the resolved-address probe excludes them so rows are not doubled
        assert!(p.iter().any(|p| matches!(&p.kind, ProbeKind::Tcp { addr: Addr::Resolved { except, .. }, .. } if except.len() == 2)));
    }

    #[test]
    fn ports_follow_the_kubernetes_version() {
        let mut o = opts("cn-hangzhou");
        let p = plan(&o, cat());
        assert_eq!(tcp_ports(&p, "tcp.control-plane"), [443]);
        assert_eq!(tcp_ports(&p, "tcp.oss"), [443]);
        o.k8s_version = (1, 24);
        let p = plan(&o, cat());
        assert_eq!(tcp_ports(&p, "tcp.control-plane"), [80]);
        assert_eq!(tcp_ports(&p, "tcp.oss"), [80, 443]);
    }

    #[test]
    fn apiserver_skip_hint_and_name_resolution() {
        let mut o = opts("cn-hangzhou");
        let p = plan(&o, cat());
        assert!(p.iter().any(|p| p.id == "tcp.apiserver" && matches!(&p.kind, ProbeKind::Skip { reason, .. } if reason.contains("--apiserver"))));
        assert!(!ids(&p).contains(&"dns.apiserver"));
        o.apiserver = Some(parse_host_port("192.168.0.10", 6443, "--apiserver").unwrap());
        let p = plan(&o, cat());
        assert!(!ids(&p).contains(&"dns.apiserver"));
        assert_eq!(tcp_ports(&p, "tcp.apiserver"), [6443]);
        o.apiserver = Some(parse_host_port("api.example:7443", 6443, "--apiserver").unwrap());
        let p = plan(&o, cat());
        assert!(ids(&p).contains(&"dns.apiserver"));
        assert_eq!(tcp_ports(&p, "tcp.apiserver"), [7443]);
    }

    #[test]
    fn ntp_options() {
        let mut o = opts("cn-hangzhou");
        let p = plan(&o, cat());
        assert_eq!(p.iter().filter(|p| p.id == "ntp.server").count(), 2);
        assert_eq!(p.iter().filter(|p| p.id == "dns.ntp").count(), 2);
        o.ntp_servers = vec!["198.18.0.123".into()];
        let p = plan(&o, cat());
        assert_eq!(p.iter().filter(|p| p.id == "dns.ntp").count(), 0);
        assert_eq!(p.iter().filter(|p| p.id == "ntp.server").count(), 1);
        o.self_hosted_ntp = true;
        let p = plan(&o, cat());
        assert!(p
            .iter()
            .filter(|p| p.id.starts_with("ntp."))
            .all(|p| matches!(p.kind, ProbeKind::Skip { .. })));
    }

    #[test]
    fn vxlan_port_only_with_flannel() {
        let mut o = opts("cn-hangzhou");
        let udp = |p: &[Probe]| p.iter().any(|p| p.target == "udp/8472");
        assert!(udp(&plan(&o, cat())));
        o.cni = Cni::TerwayEdge;
        assert!(!udp(&plan(&o, cat())));
    }

    #[test]
    fn oss_fallback_region_has_no_vip_routes() {
        let p = plan(&opts("cn-zhengzhou-jva"), cat());
        assert!(!p.iter().any(|p| p.target.starts_with("OSS VIP")));
        let p = plan(&opts("cn-hangzhou"), cat());
        let vip: Vec<&str> = p
            .iter()
            .filter(|p| p.target.starts_with("OSS VIP"))
            .map(|p| p.target.as_str())
            .collect();
        assert_eq!(vip.len(), 4);
        assert!(p.iter().any(|p| p.kind
            == ProbeKind::Route {
                addr: Addr::Fixed("100.118.28.1".parse().unwrap())
            }));
    }

    #[test]
    fn only_and_skip() {
        let mut o = opts("cn-hangzhou");
        o.only = vec!["tcp".into(), "dns.registry".into()];
        let p = plan(&o, cat());
        assert!(p
            .iter()
            .all(|p| p.id.starts_with("tcp.") || p.id == "dns.registry"));
        o.only.clear();
        o.skip = vec!["tools".into()];
        assert!(!plan(&o, cat()).iter().any(|p| p.id.starts_with("tools.")));
    }

    #[test]
    fn cidr_rows_follow_options() {
        let mut o = opts("cn-hangzhou");
        assert_eq!(
            plan(&o, cat())
                .iter()
                .filter(|p| p.id == "cidr.overlap")
                .count(),
            1
        );
        o.vpc_cidr = Some(parse_cidr("192.168.0.0/16", "v").unwrap());
        o.pod_cidr = Some(parse_cidr("172.16.0.0/12", "p").unwrap());
        assert_eq!(
            plan(&o, cat())
                .iter()
                .filter(|p| p.id == "cidr.overlap")
                .count(),
            3
        );
    }

    #[test]
    fn tls_and_http_follow_selection() {
        let mut o = opts("cn-hangzhou");
        let p = plan(&o, cat());
        let tls: Vec<&Probe> = p.iter().filter(|p| p.id == "tls.registry").collect();
        assert_eq!(tls.len(), 3);
        assert!(
            matches!(&tls[0].kind, ProbeKind::Tls { port: 443, http: Some(_), emit_tls: true, name: Some(n), .. } if n.starts_with("registry-"))
        );
        o.only = vec!["http.registry".into()];
        let p = plan(&o, cat());
        assert!(
            p.iter().all(|p| matches!(
                &p.kind,
                ProbeKind::Tls {
                    emit_tls: false,
                    http: Some(_),
                    ..
                }
            )),
            "{p:?}"
        );
        o.only.clear();
        o.apiserver = Some(parse_host_port("192.168.0.10", 6443, "--apiserver").unwrap());
        let p = plan(&o, cat());
        assert!(p.iter().any(|p| matches!(
            &p.kind,
            ProbeKind::Tls {
                trust: Trust::EvidenceOnly,
                name: None,
                port: 6443,
                ..
            }
        )));
    }

    #[test]
    fn vxlan_needs_peers_and_flannel() {
        let mut o = opts("cn-hangzhou");
        let skipped = |p: &[Probe]| {
            p.iter()
                .filter(|p| p.id == "udp.vxlan")
                .all(|p| matches!(p.kind, ProbeKind::Skip { .. }))
        };
        assert!(skipped(&plan(&o, cat())));
        o.peers = vec![
            "192.168.0.20".parse().unwrap(),
            "192.168.0.21".parse().unwrap(),
        ];
        let p = plan(&o, cat());
        assert_eq!(
            p.iter()
                .filter(|p| matches!(p.kind, ProbeKind::UdpEcho { port: 8472, .. }))
                .count(),
            2
        );
        assert_eq!(
            p.iter()
                .filter(|p| matches!(p.kind, ProbeKind::Mtu { .. }))
                .count(),
            2
        );
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
    fn names_are_unique() {
        let n = names(&plan(&opts("cn-hangzhou"), cat()));
        assert_eq!(n.len(), 5, "{n:?}");
    }
}
