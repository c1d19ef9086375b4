//! Routes and addresses through the kernel's rtnetlink (RTM_GETROUTE / RTM_GETADDR), not /proc parsing.

// Foreign enums: netlink-packet-route's attribute and message enums are #[non_exhaustive] with dozens of
// variants; this layer reads the few it needs and ignores the rest by design.
#![allow(clippy::wildcard_enum_match_arm)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteNextHop, RouteType,
};
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::net::{LocalAddr, OsError, RouteEntry, Routes};
use crate::probe::route::{NextHop, RouteFailure, RouteInfo};

pub(crate) struct NetlinkRoutes {
    handle: Result<Handle, String>,
}

#[allow(clippy::new_without_default)] // needs a running tokio runtime, so no Default
impl NetlinkRoutes {
    /// Open a netlink socket (must run inside the tokio runtime).
    pub(crate) fn new() -> NetlinkRoutes {
        let handle = match rtnetlink::new_connection() {
            Ok((conn, handle, _)) => {
                tokio::spawn(conn);
                Ok(handle)
            }
            Err(e) => Err(format!("cannot open a netlink socket: {e}")),
        };
        NetlinkRoutes { handle }
    }

    /// Policy routing rules, one line each in `ip rule` order (for the support bundle).
    pub(crate) async fn rules_text(&self) -> Result<Vec<String>, OsError> {
        let op = "netlink rule dump";
        use rtnetlink::packet_route::rule::RuleAttribute;
        let handle = self.handle.as_ref().map_err(|e| OsError::new(op, e))?;
        let mut out = vec![];
        for v in [rtnetlink::IpVersion::V4, rtnetlink::IpVersion::V6] {
            let msgs: Vec<_> = handle
                .rule()
                .get(v)
                .execute()
                .try_collect()
                .await
                .map_err(|e| OsError::new(op, e))?;
            for m in msgs {
                let mut prio = 0;
                let (mut from, mut to, mut table) =
                    ("all".to_string(), String::new(), u32::from(m.header.table));
                let mut extra = vec![];
                for a in &m.attributes {
                    match a {
                        RuleAttribute::Priority(p) => prio = *p,
                        RuleAttribute::Source(ip) => from = format!("{ip}/{}", m.header.src_len),
                        RuleAttribute::Destination(ip) => {
                            to = format!(" to {ip}/{}", m.header.dst_len);
                        }
                        RuleAttribute::Table(t) => table = *t,
                        RuleAttribute::Iifname(i) => extra.push(format!("iif {i}")),
                        RuleAttribute::Oifname(o) => extra.push(format!("oif {o}")),
                        RuleAttribute::FwMark(f) => extra.push(format!("fwmark {f:#x}")),
                        _ => {}
                    }
                }
                let table = match table {
                    255 => "local".to_string(),
                    254 => "main".to_string(),
                    253 => "default".to_string(),
                    t => t.to_string(),
                };
                let extra = if extra.is_empty() {
                    String::new()
                } else {
                    format!(" {}", extra.join(" "))
                };
                out.push((
                    prio,
                    format!(
                        "{prio}:\tfrom {from}{to}{extra} lookup {table} ({:?})",
                        m.header.action
                    ),
                ));
            }
        }
        out.sort_by_key(|(p, _)| *p);
        Ok(out.into_iter().map(|(_, l)| l).collect())
    }

    /// The neighbour (ARP / NDP) table, one line each (for the support bundle).
    pub(crate) async fn neighbours_text(&self) -> Result<Vec<String>, OsError> {
        let op = "netlink neighbour dump";
        use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute};
        let handle = self.handle.as_ref().map_err(|e| OsError::new(op, e))?;
        let msgs: Vec<_> = handle
            .neighbours()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| OsError::new(op, e))?;
        let mut out = vec![];
        for m in msgs {
            let mut dst = String::from("?");
            let mut lladdr = String::new();
            for a in &m.attributes {
                match a {
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                        dst = v4.to_string();
                    }
                    NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                        dst = v6.to_string();
                    }
                    NeighbourAttribute::LinkLayerAddress(b) => {
                        lladdr = format!(
                            " lladdr {}",
                            b.iter()
                                .map(|x| format!("{x:02x}"))
                                .collect::<Vec<_>>()
                                .join(":")
                        );
                    }
                    _ => {}
                }
            }
            let dev = ifname(m.header.ifindex).unwrap_or_else(|| format!("if{}", m.header.ifindex));
            out.push(format!("{dst} dev {dev}{lladdr} {:?}", m.header.state));
        }
        Ok(out)
    }
}

pub(crate) use super::sockopt::if_name as ifname;

fn addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn kind_name(k: RouteType) -> String {
    match k {
        RouteType::Unicast => "unicast".into(),
        RouteType::Local => "local".into(),
        RouteType::Broadcast => "broadcast".into(),
        RouteType::BlackHole => "blackhole".into(),
        RouteType::Unreachable => "unreachable".into(),
        RouteType::Prohibit => "prohibit".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn iface(index: u32) -> Option<String> {
    (index != 0).then(|| ifname(index).unwrap_or_else(|| format!("if{index}")))
}

/// The next hops of a multipath route (RTA_MULTIPATH), each with its gateway and interface.
fn nexthops_of(m: &RouteMessage) -> Vec<NextHop> {
    let hops: &[RouteNextHop] = m
        .attributes
        .iter()
        .find_map(|a| {
            if let RouteAttribute::MultiPath(h) = a {
                Some(h.as_slice())
            } else {
                None
            }
        })
        .unwrap_or(&[]);
    hops.iter()
        .map(|h| NextHop {
            gateway: h.attributes.iter().find_map(|a| match a {
                RouteAttribute::Gateway(g) => addr(g),
                RouteAttribute::Via(v) => via_addr(v),
                _ => None,
            }),
            interface: iface(h.interface_index),
        })
        .collect()
}

fn via_addr(v: &rtnetlink::packet_route::route::RouteVia) -> Option<IpAddr> {
    use rtnetlink::packet_route::route::RouteVia;
    match v {
        RouteVia::Inet(a) => Some(IpAddr::V4(*a)),
        RouteVia::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

fn nexthop_id_of(m: &RouteMessage) -> Option<u32> {
    m.attributes.iter().find_map(|a| {
        if let RouteAttribute::NhId(id) = a {
            Some(*id)
        } else {
            None
        }
    })
}

fn table_of(m: &RouteMessage) -> u32 {
    m.attributes
        .iter()
        .find_map(|a| {
            if let RouteAttribute::Table(t) = a {
                Some(*t)
            } else {
                None
            }
        })
        .unwrap_or(u32::from(m.header.table))
}

#[async_trait]
impl Routes for NetlinkRoutes {
    async fn route_to(&self, dst: IpAddr) -> Result<RouteInfo, RouteFailure> {
        let handle = self
            .handle
            .as_ref()
            .map_err(|e| RouteFailure::Unavailable(e.clone()))?;
        let lookup = |fib_match: bool| {
            let mut msg = match dst {
                IpAddr::V4(v4) => RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(v4, 32)
                    .build(),
                IpAddr::V6(v6) => RouteMessageBuilder::<Ipv6Addr>::new()
                    .destination_prefix(v6, 128)
                    .build(),
            };
            if fib_match {
                // the matching FIB entry itself, with every next hop of a multipath route
                msg.header.flags.insert(RouteFlags::FibMatch);
            }
            handle.route().get(msg).execute()
        };
        let mut stream = lookup(false);
        match stream.try_next().await {
            Ok(Some(m)) => {
                let mut info = RouteInfo {
                    table: Some(table_of(&m)),
                    ..Default::default()
                };
                for a in &m.attributes {
                    match a {
                        RouteAttribute::Oif(i) => info.interface = iface(*i),
                        RouteAttribute::Gateway(g) => info.gateway = addr(g),
                        RouteAttribute::Via(v) => info.gateway = via_addr(v),
                        RouteAttribute::PrefSource(s) => info.source = addr(s),
                        _ => {}
                    }
                }
                if let Ok(Some(fib)) = lookup(true).try_next().await {
                    info.nexthops = nexthops_of(&fib);
                    info.nexthop_id = nexthop_id_of(&fib);
                }
                match m.header.kind {
                    RouteType::BlackHole => Err(RouteFailure::Blackhole),
                    RouteType::Unreachable => Err(RouteFailure::Unreachable),
                    RouteType::Prohibit => Err(RouteFailure::Prohibit),
                    _ => Ok(info),
                }
            }
            Ok(None) => Err(RouteFailure::NoRoute),
            Err(rtnetlink::Error::NetlinkError(em)) => {
                Err(super::errno::route_failure(-em.raw_code()))
            }
            Err(e) => Err(RouteFailure::Other(e.to_string())),
        }
    }

    async fn addresses(&self) -> Result<Vec<LocalAddr>, OsError> {
        let op = "netlink address dump";
        let handle = self.handle.as_ref().map_err(|e| OsError::new(op, e))?;
        let msgs: Vec<_> = handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| OsError::new(op, e))?;
        let mut out = vec![];
        for m in msgs {
            let ip = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let ip = ip.or_else(|| {
                m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            });
            let Some(ip) = ip else { continue };
            let Ok(net) = IpNet::new(ip, m.header.prefix_len) else {
                continue;
            };
            let interface =
                ifname(m.header.index).unwrap_or_else(|| format!("if{}", m.header.index));
            out.push(LocalAddr { interface, net });
        }
        Ok(out)
    }

    fn iface_mtu(&self, name: &str) -> Option<u32> {
        if name.contains('/') || name.contains("..") {
            return None;
        }
        std::fs::read_to_string(format!("/sys/class/net/{name}/mtu"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    async fn routes(&self) -> Result<Vec<RouteEntry>, OsError> {
        let op = "netlink route dump";
        let handle = self.handle.as_ref().map_err(|e| OsError::new(op, e))?;
        let mut out = vec![];
        for msg in [
            RouteMessageBuilder::<Ipv4Addr>::new().build(),
            RouteMessageBuilder::<Ipv6Addr>::new().build(),
        ] {
            let msgs: Vec<RouteMessage> = handle
                .route()
                .get(msg)
                .execute()
                .try_collect()
                .await
                .map_err(|e| OsError::new(op, e))?;
            for m in msgs {
                let table = table_of(&m);
                if table == 255 {
                    continue; // the local table: the host's own addresses
                }
                let dst_ip = m.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Destination(d) => addr(d),
                    _ => None,
                });
                let dst_ip = dst_ip.unwrap_or(match m.header.address_family {
                    rtnetlink::packet_route::AddressFamily::Inet6 => {
                        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                    }
                    _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                });
                let Ok(dst) = IpNet::new(dst_ip, m.header.destination_prefix_length) else {
                    continue;
                };
                let mut e = RouteEntry {
                    dst,
                    interface: None,
                    gateway: None,
                    kind: kind_name(m.header.kind),
                    table,
                    nexthops: nexthops_of(&m),
                    nexthop_id: nexthop_id_of(&m),
                };
                for a in &m.attributes {
                    match a {
                        RouteAttribute::Oif(i) => e.interface = ifname(*i),
                        RouteAttribute::Gateway(g) => e.gateway = addr(g),
                        RouteAttribute::Via(v) => e.gateway = via_addr(v),
                        _ => {}
                    }
                }
                out.push(e);
            }
        }
        Ok(out)
    }
}
