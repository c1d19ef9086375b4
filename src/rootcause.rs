//! Root causes across rows: after the run, rows that another row explains get
//! `details.caused_by` = {id, target[, address]} of that row, so the views (and automation) can lead
//! with the cause and fold its consequences under it. The runners already link a SKIP to the DNS
//! row of its name and a TLS/HTTP SKIP to its TCP row; this pass adds what only the whole report
//! shows:
//!
//! - a row that failed for want of a route (`no-route`, `unreachable`, `blackhole`) toward an
//!   address whose `route.*` row failed → that route row;
//! - a row toward an address inside a local network that `cidr.overlap` reported (or a DNS row
//!   whose resolver is inside it) → the `cidr.overlap` row.
//!
//! Pure over the rows; never overrides a link a runner made.

use crate::ids::{Category, ReqId};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::cause::ErrorClass;
use crate::evidence::{CausedBy, HopRecord, Whose};
use crate::probe::cidr::CidrEvidence;
use crate::probe::discovery::{DiscoveryEvidence, TokenVerdict};
use crate::probe::ntp::NtpRun;
use crate::probe::route::RouteEvidence;
use crate::probe::tls::TlsEvidence;
use crate::result::{CheckResult, Status};

/// The IP of a row address: `1.2.3.4`, `1.2.3.4:443`, `[::1]:443`.
pub(crate) fn address_ip(a: &str) -> Option<IpAddr> {
    a.parse::<IpAddr>()
        .ok()
        .or_else(|| a.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

/// The node's own networks a `cidr.overlap` row found inside a cloud range (its addresses'
/// networks and its routes).
fn overlapping_nets(row: &CheckResult) -> Vec<IpNet> {
    row.details
        .read::<CidrEvidence>()
        .and_then(|e| e.local_nets)
        .unwrap_or_default()
}

fn link(row: &CheckResult) -> CausedBy {
    CausedBy {
        id: row.id.clone(),
        target: Some(row.target.clone()),
        address: row.address.clone(),
    }
}

/// Add `caused_by` where the report shows the cause. `nameservers` are the resolvers the run used.
pub(crate) fn link_causes(results: &mut [CheckResult], nameservers: &[String]) {
    let overlap: Vec<(usize, Vec<IpNet>)> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.id == ReqId::CidrOverlap.as_str() && r.status == Status::Fail)
        .map(|(i, r)| (i, overlapping_nets(r)))
        .filter(|(_, n)| !n.is_empty())
        .collect();
    let routes: Vec<(usize, IpAddr)> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.category == Category::Route.as_str() && r.status == Status::Fail)
        .filter_map(|(i, r)| Some((i, address_ip(r.address.as_deref()?)?)))
        .collect();
    let resolvers: Vec<IpAddr> = nameservers.iter().filter_map(|n| address_ip(n)).collect();
    let mut links: Vec<(usize, CausedBy)> = vec![];
    for (i, r) in results.iter().enumerate() {
        if r.status == Status::Pass
            || r.details.caused_by.is_some()
            || r.category == Category::Cidr.as_str()
        {
            continue;
        }
        let ip = r.address.as_deref().and_then(address_ip);
        let in_overlap = |ip: IpAddr| {
            overlap
                .iter()
                .find(|(_, nets)| nets.iter().any(|n| n.contains(&ip)))
                .map(|(k, _)| *k)
        };
        let by_overlap = match ip {
            Some(ip) => in_overlap(ip),
            None if r.category == Category::Dns.as_str() => {
                resolvers.iter().find_map(|ip| in_overlap(*ip))
            }
            None => None,
        };
        if let Some(k) = by_overlap {
            links.push((i, link(&results[k])));
            continue;
        }
        let routing = matches!(
            r.details.error,
            Some(ErrorClass::NoRoute | ErrorClass::Unreachable | ErrorClass::Blackhole)
        );
        if routing && r.category != Category::Route.as_str() {
            if let Some((k, _)) = routes.iter().find(|(_, a)| Some(*a) == ip) {
                links.push((i, link(&results[*k])));
            }
        }
    }
    links.extend(clock_links(results));
    for (i, v) in links {
        results[i].details.caused_by.get_or_insert(v);
    }
}

/// The hop where a failed row's TTL sweep stopped (its last answering hop) and whose side it is.
fn stop_hop(r: &CheckResult) -> Option<(HopRecord, Whose)> {
    let whose = r.details.whose?;
    match whose {
        Whose::Datacenter | Whose::Cloud | Whose::Either => {}
        Whose::Unknown | Whose::None => return None,
    }
    let last = r
        .details
        .hops
        .as_ref()?
        .iter()
        .rev()
        .find(|h| h.address.is_some())?;
    Some((last.clone(), whose))
}

/// Failed rows whose sweeps stopped at the same hop on the same side: one path, not one row
/// causing the others (a DNS timeout does not explain a TCP connect to a fixed address). The views
/// fold them under the path; no `caused_by` is made between them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PathStop {
    /// The last hop that answered (or rejected), and whose side the break is on.
    pub(crate) hop: HopRecord,
    pub(crate) whose: Whose,
    /// The failed rows that stop there, in report order.
    pub(crate) rows: Vec<usize>,
    /// Rows that passed toward addresses the node routes through that same hop (its gateway):
    /// when there are any, the hop forwards other flows, and the stopped rows are filters on
    /// their ports, not a broken path.
    pub(crate) passing: Vec<usize>,
}

/// The paths that two or more of `among` (failed rows) stop on.
pub(crate) fn path_stops(results: &[CheckResult], among: &[usize]) -> Vec<PathStop> {
    let mut stops: Vec<PathStop> = vec![];
    for &i in among {
        let r = &results[i];
        if r.status != Status::Fail {
            continue;
        }
        let Some((hop, whose)) = stop_hop(r) else {
            continue;
        };
        match stops
            .iter_mut()
            .find(|s| s.hop.address == hop.address && s.whose == whose)
        {
            Some(s) => s.rows.push(i),
            None => stops.push(PathStop {
                hop,
                whose,
                rows: vec![i],
                passing: vec![],
            }),
        }
    }
    stops.retain(|s| s.rows.len() > 1);
    for s in &mut stops {
        s.passing = passing_through(results, s.hop.address);
    }
    stops
}

/// Rows that passed toward an address whose `route.*` row routes it through `hop` (its gateway).
fn passing_through(results: &[CheckResult], hop: Option<IpAddr>) -> Vec<usize> {
    let Some(hop) = hop else { return vec![] };
    let via_hop: Vec<IpAddr> = results
        .iter()
        .filter(|r| r.category == Category::Route.as_str() && r.status == Status::Pass)
        .filter(|r| {
            r.details
                .read::<RouteEvidence>()
                .is_some_and(|e| e.gateway == Some(hop))
        })
        .filter_map(|r| address_ip(r.address.as_deref()?))
        .collect();
    let flows = [Category::Tcp, Category::Tls, Category::Udp, Category::Http];
    results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == Status::Pass)
        .filter(|(_, r)| flows.iter().any(|c| r.category == c.as_str()))
        .filter(|(_, r)| {
            r.address
                .as_deref()
                .and_then(address_ip)
                .is_some_and(|ip| via_hop.contains(&ip))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Certificates judged expired or not yet valid because the local clock is wrong: linked to
/// `ntp.offset` when it failed, or when the time NTP gives (local + offset) lies inside the
/// certificate's window although the local time does not.
fn clock_links(results: &[CheckResult]) -> Vec<(usize, CausedBy)> {
    let Some(ntp) = results
        .iter()
        .find(|r| r.id == ReqId::NtpOffset.as_str() && r.status != Status::Skip)
    else {
        return vec![];
    };
    let offset = ntp.details.read::<NtpRun>().and_then(|n| n.offset_s);
    let clock_error = |r: &CheckResult| {
        matches!(
            r.details.error,
            Some(ErrorClass::Expired | ErrorClass::NotYetValid)
        )
    };
    let ntp_says_valid = |r: &CheckResult| {
        let Some(t) = r.details.read::<TlsEvidence>() else {
            return false;
        };
        match (t.local_time_s, t.not_before_s, t.not_after_s, offset) {
            (Some(now), Some(nb), Some(na), Some(off)) => {
                (nb as f64..=na as f64).contains(&(now as f64 + off))
            }
            _ => false,
        }
    };
    // a token the cluster no longer signs (the join's TOKEN_EXPIRED): the documents' first advice
    // is the clock, so a failed clock is named as its cause
    let token_expired = |r: &CheckResult| {
        r.details.read::<DiscoveryEvidence>().and_then(|d| d.token) == Some(TokenVerdict::Unsigned)
    };
    results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status != Status::Pass && r.details.caused_by.is_none())
        .filter(|(_, r)| {
            (clock_error(r) && (ntp.status == Status::Fail || ntp_says_valid(r)))
                || (token_expired(r) && ntp.status == Status::Fail)
        })
        .map(|(i, _)| (i, link(ntp)))
        .collect()
}

/// Index of the row a row's `caused_by` names (the first that matches id, target and address).
pub(crate) fn cause_of(results: &[CheckResult], i: usize) -> Option<usize> {
    let c = results[i].details.caused_by.as_ref()?;
    let id = c.id.as_str();
    let target = c.target.as_deref();
    let address = c.address.as_deref();
    results.iter().enumerate().position(|(k, r)| {
        k != i
            && r.id == id
            && target.is_none_or(|t| r.target == t)
            && address.is_none_or(|a| r.address.as_deref() == Some(a))
    })
}

/// The root each row leads to (itself when nothing explains it); cycles end at the row itself.
pub(crate) fn roots(results: &[CheckResult]) -> Vec<usize> {
    let direct: Vec<Option<usize>> = (0..results.len()).map(|i| cause_of(results, i)).collect();
    (0..results.len())
        .map(|i| {
            let mut at = i;
            for _ in 0..results.len() {
                match direct[at] {
                    Some(c) if c != i => at = c,
                    _ => break,
                }
            }
            at
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Merge JSON into a row's details, as a report read back would carry it.
    fn set(r: &mut CheckResult, v: Value) {
        let mut j = r.details.to_json();
        for (k, x) in v.as_object().unwrap() {
            j[k] = x.clone();
        }
        r.details = serde_json::from_value(j).unwrap();
    }

    fn row(
        id: &str,
        target: &str,
        address: Option<&str>,
        status: Status,
        error: Option<&str>,
    ) -> CheckResult {
        let details = match error {
            Some(e) => serde_json::from_value(json!({"phase": "tcp", "error": e})).unwrap(),
            None => crate::evidence::Details::default(),
        };
        CheckResult {
            id: id.into(),
            category: id.split('.').next().unwrap().into(),
            title: String::new(),
            target: target.into(),
            address: address.map(String::from),
            status,
            message: String::new(),
            remediation: String::new(),
            source: String::new(),
            duration_ms: 0,
            details,
            waived: None,
        }
    }

    #[test]
    fn a_missing_route_explains_the_tcp_row_and_its_skips() {
        let mut rs = vec![
            row(
                "route.registry",
                "reg",
                Some("100.103.9.188"),
                Status::Fail,
                Some("no-route"),
            ),
            row(
                "tcp.registry",
                "reg",
                Some("100.103.9.188:443"),
                Status::Fail,
                Some("unreachable"),
            ),
            row(
                "tls.registry",
                "reg",
                Some("100.103.9.188:443"),
                Status::Skip,
                Some("unreachable"),
            ),
            row(
                "tcp.registry",
                "reg",
                Some("100.103.7.181:443"),
                Status::Fail,
                Some("timeout"),
            ),
        ];
        set(
            &mut rs[2],
            json!({"caused_by": json!({"id": "tcp.registry", "target": "reg", "address": "100.103.9.188:443"})}),
        );
        link_causes(&mut rs, &[]);
        assert_eq!(
            rs[1].details.to_json()["caused_by"],
            json!({"id": "route.registry", "target": "reg", "address": "100.103.9.188"})
        );
        assert!(
            rs[3].details.caused_by.is_none(),
            "a timeout is not a routing failure"
        );
        assert_eq!(roots(&rs), [0, 0, 0, 3]);
    }

    #[test]
    fn an_overlap_explains_rows_toward_the_overlapped_range() {
        let mut ov = row(
            "cidr.overlap",
            "cloud services 100.0.0.0/8",
            None,
            Status::Fail,
            Some("overlap"),
        );
        set(
            &mut ov,
            json!({"overlaps": ["address 100.64.0.5/10 on n0"], "local_nets": ["100.64.0.0/10"]}),
        );
        let mut rs = vec![
            row("dns.registry", "reg", None, Status::Fail, Some("timeout")),
            row(
                "tcp.registry",
                "reg",
                Some("100.103.9.188:443"),
                Status::Fail,
                Some("timeout"),
            ),
            row(
                "tcp.apiserver",
                "api",
                Some("192.168.0.10:6443"),
                Status::Fail,
                Some("timeout"),
            ),
            row(
                "tcp.oss",
                "oss",
                Some("100.118.28.10:443"),
                Status::Pass,
                None,
            ),
            ov,
        ];
        link_causes(&mut rs, &["100.100.2.136".into()]);
        assert_eq!(
            rs[0].details.to_json()["caused_by"]["id"],
            "cidr.overlap",
            "the resolver is inside 100.64.0.0/10"
        );
        assert_eq!(rs[1].details.to_json()["caused_by"]["id"], "cidr.overlap");
        assert!(
            rs[2].details.caused_by.is_none(),
            "192.168.0.10 is outside the overlap"
        );
        assert!(rs[3].details.caused_by.is_none(), "a PASS has no cause");
        assert_eq!(roots(&rs), [4, 4, 2, 3, 4]);
    }

    #[test]
    fn cycles_end() {
        let mut rs = vec![
            row("a.x", "t", None, Status::Fail, None),
            row("b.x", "t", None, Status::Fail, None),
        ];
        set(&mut rs[0], json!({"caused_by": json!({"id": "b.x"})}));
        set(&mut rs[1], json!({"caused_by": json!({"id": "a.x"})}));
        let r = roots(&rs);
        assert!(r[0] < 2 && r[1] < 2);
    }

    #[test]
    fn a_wrong_clock_explains_expired_and_not_yet_valid_certificates() {
        let mut ntp = row(
            "ntp.offset",
            "local clock",
            None,
            Status::Fail,
            Some("clock-skew"),
        );
        set(&mut ntp, json!({"offset_s": json!(-31_536_000.0)}));
        let mut tls = row(
            "tls.registry",
            "reg",
            Some("100.103.9.188:443"),
            Status::Fail,
            Some("expired"),
        );
        set(&mut tls, json!({"local_time_s": json!(1_800_000_000)}));
        set(&mut tls, json!({"not_before_s": json!(1_700_000_000)}));
        set(&mut tls, json!({"not_after_s": json!(1_790_000_000)}));
        let other = row(
            "tls.oss",
            "oss",
            Some("100.118.28.10:443"),
            Status::Fail,
            Some("unknown-issuer"),
        );
        let mut rs = vec![ntp.clone(), tls.clone(), other];
        link_causes(&mut rs, &[]);
        assert_eq!(rs[1].details.to_json()["caused_by"]["id"], "ntp.offset");
        assert!(rs[2].details.caused_by.is_none());
        // only a warning offset, but NTP's time puts the certificate inside its window
        ntp.status = Status::Warn;
        let mut rs = vec![ntp.clone(), tls.clone()];
        link_causes(&mut rs, &[]);
        assert_eq!(rs[1].details.to_json()["caused_by"]["id"], "ntp.offset");
        // NTP agrees with the local clock: the certificate itself is expired
        set(&mut ntp, json!({"offset_s": json!(0.2)}));
        let mut rs = vec![ntp, tls];
        link_causes(&mut rs, &[]);
        assert!(rs[1].details.caused_by.is_none());
    }

    #[test]
    fn an_expired_token_is_linked_to_a_failed_clock_only() {
        let mut ntp = row(
            "ntp.offset",
            "local clock",
            None,
            Status::Fail,
            Some("clock-skew"),
        );
        set(&mut ntp, json!({"offset_s": -31_536_000.0}));
        let mut disc = row(
            "http.cluster-info",
            "192.168.0.10",
            Some("192.168.0.10:6443"),
            Status::Fail,
            Some("untrusted"),
        );
        set(&mut disc, json!({"token": "unsigned", "token_ids": []}));
        let mut rs = vec![ntp.clone(), disc.clone()];
        link_causes(&mut rs, &[]);
        assert_eq!(rs[1].details.caused_by.as_ref().unwrap().id, "ntp.offset");
        // a good clock: the token expired on the cluster's side, no link
        ntp.status = Status::Pass;
        let mut rs = vec![ntp, disc.clone()];
        link_causes(&mut rs, &[]);
        assert!(rs[1].details.caused_by.is_none());
        // a wrong secret is never the clock's
        let mut bad = disc;
        set(&mut bad, json!({"token": "bad-signature"}));
        let mut ntp = row(
            "ntp.offset",
            "local clock",
            None,
            Status::Fail,
            Some("clock-skew"),
        );
        set(&mut ntp, json!({"offset_s": 9e6}));
        let mut rs = vec![ntp, bad];
        link_causes(&mut rs, &[]);
        assert!(rs[1].details.caused_by.is_none());
    }

    #[test]
    fn rows_that_stop_at_the_same_hop_are_one_path_not_one_cause() {
        let mut rs = vec![
            row(
                "tcp.oss",
                "oss",
                Some("100.118.28.10:443"),
                Status::Fail,
                Some("timeout"),
            ),
            row(
                "udp.vxlan",
                "peer",
                Some("192.168.0.20:8472"),
                Status::Fail,
                Some("no-echo"),
            ),
            row(
                "tcp.apiserver",
                "api",
                Some("192.168.0.10:6443"),
                Status::Fail,
                Some("timeout"),
            ),
        ];
        let hops = |a: &str| json!([{"ttl": 1, "address": "10.0.0.1"}, {"ttl": 2, "address": a}]);
        for (r, (last, whose)) in rs.iter_mut().zip([
            ("172.31.255.2", "cloud"),
            ("172.31.255.2", "cloud"),
            ("172.31.255.2", "datacenter"),
        ]) {
            set(r, json!({"hops": hops(last)}));
            set(r, json!({"where": whose}));
        }
        link_causes(&mut rs, &[]);
        assert!(
            rs.iter().all(|r| r.details.caused_by.is_none()),
            "a shared hop is not a causal claim"
        );
        let stops = path_stops(&rs, &[0, 1, 2]);
        assert_eq!(stops.len(), 1, "another side is another path: {stops:?}");
        assert_eq!(stops[0].rows, [0, 1]);
        assert_eq!(stops[0].whose, Whose::Cloud);
        assert!(stops[0].passing.is_empty());
        // a flow through the same gateway passes: these are filters on the failed ports
        let mut rs2 = rs.clone();
        for r in &mut rs2 {
            set(
                r,
                json!({"hops": [{"ttl": 1, "address": "10.0.0.1"}], "where": "either"}),
            );
        }
        let mut route = row(
            "route.registry",
            "reg",
            Some("100.103.9.188"),
            Status::Pass,
            None,
        );
        set(
            &mut route,
            json!({"gateway": "10.0.0.1", "interface": "n0"}),
        );
        rs2.push(route);
        rs2.push(row(
            "tcp.registry",
            "reg",
            Some("100.103.9.188:443"),
            Status::Pass,
            None,
        ));
        let stops = path_stops(&rs2, &[0, 1, 2]);
        assert_eq!(stops[0].rows, [0, 1, 2]);
        assert_eq!(stops[0].passing, [4]);
    }
}
