//! Kernel route lookup (RTM_GETROUTE): interface, gateway, source; or why there is none. Phase: route.

use std::net::IpAddr;

use crate::cause::{Cause, ErrorClass, Phase, Plain};
use crate::result::Finding;

/// One next hop of a route: where a multipath (ECMP) route or a nexthop object sends traffic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NextHop {
    pub gateway: Option<IpAddr>,
    pub interface: Option<String>,
}

impl std::fmt::Display for NextHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = vec![];
        if let Some(g) = self.gateway {
            parts.push(format!("via {g}"));
        }
        if let Some(i) = &self.interface {
            parts.push(format!("dev {i}"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// The kernel's answer for one destination: the path it chose (interface, gateway, source) and,
/// when the matching route has several next hops (ECMP over two lines), every one of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteInfo {
    pub interface: Option<String>,
    pub gateway: Option<IpAddr>,
    pub source: Option<IpAddr>,
    pub table: Option<u32>,
    /// All next hops of the matching route when it is multipath; empty for a single-path route.
    pub nexthops: Vec<NextHop>,
    /// The nexthop object (`ip nexthop`) the matching route uses, if any.
    pub nexthop_id: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteFailure {
    #[error("no route (network unreachable)")]
    NoRoute,
    #[error("an 'unreachable' route matches")]
    Unreachable,
    #[error("a 'prohibit' route matches")]
    Prohibit,
    #[error("a 'blackhole' route matches (packets are discarded)")]
    Blackhole,
    #[error("route lookup could not run: {0}")]
    Unavailable(String),
    #[error("route lookup failed: {0}")]
    Other(String),
}

impl Cause for RouteFailure {
    fn phase(&self) -> Phase {
        Phase::Route
    }
    fn class(&self) -> ErrorClass {
        match self {
            RouteFailure::NoRoute => ErrorClass::NoRoute,
            RouteFailure::Unreachable => ErrorClass::Unreachable,
            RouteFailure::Prohibit => ErrorClass::Prohibit,
            RouteFailure::Blackhole => ErrorClass::Blackhole,
            RouteFailure::Unavailable(_) => ErrorClass::Unavailable,
            RouteFailure::Other(_) => ErrorClass::Error,
        }
    }
}

pub fn describe(dst: IpAddr, r: &RouteInfo) -> String {
    let mut s = format!("{dst}");
    if let Some(g) = r.gateway {
        s.push_str(&format!(" via {g}"));
    }
    if let Some(i) = &r.interface {
        s.push_str(&format!(" dev {i}"));
    }
    if let Some(src) = r.source {
        s.push_str(&format!(" src {src}"));
    }
    if r.nexthops.len() > 1 {
        let hops: Vec<String> = r
            .nexthops
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        s.push_str(&format!(
            " (multipath, {} next hops: {})",
            r.nexthops.len(),
            hops.join(", ")
        ));
    }
    if let Some(id) = r.nexthop_id {
        s.push_str(&format!(" (nexthop object {id})"));
    }
    s
}

pub fn evaluate(dst: IpAddr, outcome: &Result<RouteInfo, RouteFailure>) -> Finding {
    match outcome {
        Ok(r) => {
            let f =
                Finding::pass(format!("route: {}", describe(dst, r))).evidence(&RouteEvidence {
                    interface: r.interface.clone(),
                    gateway: r.gateway,
                    source: r.source,
                    nexthops: (r.nexthops.len() > 1)
                        .then(|| r.nexthops.iter().map(ToString::to_string).collect()),
                });
            if r.interface.as_deref() == Some("lo") {
                return Finding::fail_by(
                    &Plain(Phase::Route, ErrorClass::LocalAddress),
                    format!(
                        "route: {}: the address is local to this host, so traffic never leaves it",
                        describe(dst, r)
                    ),
                );
            }
            f
        }
        Err(e @ RouteFailure::Unavailable(why)) => {
            Finding::skip_by(e, format!("route lookup could not run: {why}"))
        }
        Err(e) => Finding::fail_by(e, format!("{dst}: {e}")),
    }
}

/// An interface address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddr {
    pub interface: String,
    pub net: ipnet::IpNet,
}

/// A route of the main (or any non-local) table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub dst: ipnet::IpNet,
    pub interface: Option<String>,
    pub gateway: Option<IpAddr>,
    /// unicast, blackhole, unreachable, prohibit, ...
    pub kind: String,
    pub table: u32,
    /// Every next hop of a multipath (ECMP) route; empty for a single-path route.
    pub nexthops: Vec<NextHop>,
    /// The nexthop object the route uses (`ip route ... nhid N`), if any.
    pub nexthop_id: Option<u32>,
}

impl RouteEntry {
    /// Directly connected: no gateway on the route, on any of its next hops, and no nexthop
    /// object (whose gateway the route dump does not show). A multipath route over two lines is
    /// never directly connected.
    pub(crate) fn is_connected(&self) -> bool {
        self.gateway.is_none()
            && self.nexthop_id.is_none()
            && self.nexthops.iter().all(|h| h.gateway.is_none())
    }

    /// `ip route` style: `100.0.0.0/8 via 10.0.0.1 dev eth0`, every next hop of a multipath route.
    pub fn describe(&self) -> String {
        let mut s = self.dst.to_string();
        let first = NextHop {
            gateway: self.gateway,
            interface: self.interface.clone(),
        };
        if !first.to_string().is_empty() {
            s.push_str(&format!(" {first}"));
        }
        for h in &self.nexthops {
            s.push_str(&format!(" nexthop {h}"));
        }
        if let Some(id) = self.nexthop_id {
            s.push_str(&format!(" nhid {id}"));
        }
        s
    }
}

evidence! {
    /// The evidence of a `route.*` row: the kernel's route toward the address.
    pub(crate) struct RouteEvidence {
        interface: String,
        gateway: IpAddr,
        source: IpAddr,
        /// The next hops of a multipath route.
        nexthops: Vec<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    #[test]
    fn findings() {
        let dst: IpAddr = "100.103.9.188".parse().unwrap();
        let ok = RouteInfo {
            interface: Some("eth0".into()),
            gateway: Some("10.0.0.1".parse().unwrap()),
            source: Some("10.0.0.10".parse().unwrap()),
            table: Some(254),
            ..Default::default()
        };
        let f = evaluate(dst, &Ok(ok));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(
            f.message,
            "route: 100.103.9.188 via 10.0.0.1 dev eth0 src 10.0.0.10"
        );
        for e in [
            RouteFailure::NoRoute,
            RouteFailure::Blackhole,
            RouteFailure::Prohibit,
            RouteFailure::Unreachable,
        ] {
            assert_eq!(evaluate(dst, &Err(e)).status, Status::Fail);
        }
        assert_eq!(
            evaluate(dst, &Err(RouteFailure::Unavailable("no netlink".into()))).status,
            Status::Skip
        );
        let lo = RouteInfo {
            interface: Some("lo".into()),
            ..Default::default()
        };
        assert_eq!(evaluate(dst, &Ok(lo)).status, Status::Fail);
    }

    #[test]
    fn multipath_evidence_names_every_next_hop() {
        let dst: IpAddr = "100.103.9.188".parse().unwrap();
        let hop = |g: &str, d: &str| NextHop {
            gateway: Some(g.parse().unwrap()),
            interface: Some(d.into()),
        };
        let ecmp = RouteInfo {
            interface: Some("eth1".into()),
            gateway: Some("10.0.1.1".parse().unwrap()),
            source: None,
            table: Some(254),
            nexthops: vec![hop("10.0.0.1", "eth0"), hop("10.0.1.1", "eth1")],
            nexthop_id: None,
        };
        let f = evaluate(dst, &Ok(ecmp));
        assert_eq!(f.status, Status::Pass);
        assert!(
            f.message
                .contains("multipath, 2 next hops: via 10.0.0.1 dev eth0, via 10.0.1.1 dev eth1"),
            "{}",
            f.message
        );
        assert_eq!(
            f.details.to_json()["nexthops"],
            serde_json::json!(["via 10.0.0.1 dev eth0", "via 10.0.1.1 dev eth1"])
        );
    }
}
