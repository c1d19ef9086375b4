//! Where a path breaks: TTL-limited probes of the failed row's own protocol and destination port
//! (a TCP SYN to 443, a UDP datagram to 8472 / 53 / 123), one fixed flow per sweep (Paris-style:
//! the same 5-tuple at every TTL, so ECMP cannot scramble the hops), collecting ICMP time-exceeded.
//! The algorithm is generic over one probe ([`HopProbe`]), so it is tested with fake paths on a
//! paused clock; `sys/trace.rs` holds the sockets. Each hop is then labelled with the side of the
//! line it is on, from what the node knows ([`Sides`]).

use crate::evidence::{HopRecord, HopSide, Whose};
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

/// What came back for one TTL-limited probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HopReply {
    /// ICMP time exceeded from this router.
    TimeExceeded(IpAddr),
    /// The destination answered (a SYN-ACK or RST, an ICMP port unreachable from the destination).
    Reached,
    /// A router rejected it (ICMP destination unreachable / prohibited from `from`).
    Rejected { from: IpAddr, what: String },
    /// Nothing within the wait.
    Silent,
}

/// One probe of a fixed flow with a chosen TTL (the seam fakes replace).
#[async_trait::async_trait]
pub trait HopProbe: Send {
    /// Send one probe with this TTL and wait at most `wait` for what it provokes.
    async fn probe(&mut self, ttl: u8, wait: Duration) -> Result<HopReply, String>;
}

/// One hop of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hop {
    pub ttl: u8,
    /// The router that answered; None: no answer at this TTL.
    pub from: Option<IpAddr>,
    pub rtt_ms: Option<f64>,
}

/// How a sweep ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// The destination answered at this TTL: the path works now (the failure was elsewhere or
    /// intermittent).
    Reached(u8),
    /// A router said no.
    Rejected { from: IpAddr, what: String, ttl: u8 },
    /// Silence from this TTL on.
    LostAfter(u8),
    /// The failed probe itself got a router's ICMP error (the evidence in hand), and the sweep
    /// did not see that router reject (it rate-limits its errors): the router is named from the
    /// probe's error; `ttl` when the sweep saw it answer at that hop, or it is the node's gateway.
    RejectedBefore {
        from: IpAddr,
        what: String,
        ttl: Option<u8>,
        /// The error came to this flow's own probe; false: to a probe of another port of the same
        /// address (a route's error — network or host unreachable — holds for every port).
        own: bool,
    },
    /// The sweep could not run (no permission, a socket error): said, never guessed.
    Error(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trace {
    pub hops: Vec<Hop>,
    pub end: End,
}

#[cfg(test)]
impl Trace {
    /// The last hop that answered.
    pub(crate) fn last_answer(&self) -> Option<&Hop> {
        self.hops.iter().rev().find(|h| h.from.is_some())
    }
}

/// At most this many hops per sweep: a datacenter to a cloud region is a handful of routers.
pub(crate) const MAX_HOPS: u8 = 8;
/// Silent TTLs in a row that end a sweep (one alone may be a router that rate-limits ICMP).
pub(crate) const SILENT_END: u8 = 2;

/// Sweep TTL 1, 2, … until the destination answers, a router rejects, `SILENT_END` TTLs in a row
/// are silent, `max_hops` is reached, or `budget` is spent. Each probe waits `wait`.
pub(crate) async fn sweep<P: HopProbe + ?Sized>(
    p: &mut P,
    max_hops: u8,
    wait: Duration,
    budget: Duration,
) -> Trace {
    let end_at = Instant::now() + budget;
    let mut hops = vec![];
    let mut silent = 0u8;
    for ttl in 1..=max_hops {
        let left = end_at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let start = Instant::now();
        let reply = match p.probe(ttl, wait.min(left)).await {
            Ok(r) => r,
            Err(e) => {
                return Trace {
                    hops,
                    end: End::Error(e),
                }
            }
        };
        let rtt = Some(start.elapsed().as_secs_f64() * 1000.0);
        match reply {
            HopReply::TimeExceeded(from) => {
                silent = 0;
                hops.push(Hop {
                    ttl,
                    from: Some(from),
                    rtt_ms: rtt,
                });
            }
            HopReply::Reached => {
                return Trace {
                    hops,
                    end: End::Reached(ttl),
                }
            }
            HopReply::Rejected { from, what } => {
                hops.push(Hop {
                    ttl,
                    from: Some(from),
                    rtt_ms: rtt,
                });
                return Trace {
                    hops,
                    end: End::Rejected { from, what, ttl },
                };
            }
            HopReply::Silent => {
                silent += 1;
                hops.push(Hop {
                    ttl,
                    from: None,
                    rtt_ms: None,
                });
                if silent >= SILENT_END {
                    break;
                }
            }
        }
    }
    // trailing silent hops say nothing more than "lost after the last answer"
    while hops.last().is_some_and(|h| h.from.is_none()) {
        hops.pop();
    }
    let after = hops.last().map_or(0, |h| h.ttl);
    Trace {
        hops,
        end: End::LostAfter(after),
    }
}

/// Which side of the line a hop is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Side {
    /// The node's own networks and gateway: the datacenter's network team.
    Datacenter(&'static str),
    /// The cloud end of the line (`--line-peer`, the VBR address shown in the console).
    Line,
    /// The cloud range (100.0.0.0/8) or the VPC CIDR: the cloud side.
    Cloud,
    Unknown,
}

/// What the node knows about the sides of its path.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sides {
    /// The node's own networks (address/prefix of its interfaces).
    pub local_nets: Vec<ipnet::IpNet>,
    /// The gateway of the route toward the destination.
    pub gateway: Option<IpAddr>,
    /// `--line-peer`: the cloud side of the line (the VBR).
    pub line_peer: Option<IpAddr>,
    /// The cloud range and the VPC CIDR.
    pub cloud_nets: Vec<ipnet::IpNet>,
    /// The sweep runs on a VPC host toward a node (`inbound`): its own networks and gateway are
    /// the cloud side, and hops past the line peer the datacenter's.
    pub from_cloud: bool,
}

impl Sides {
    pub(crate) fn of(&self, ip: IpAddr, seen_line_peer_before: bool) -> Side {
        if self.from_cloud {
            return self.of_from_cloud(ip, seen_line_peer_before);
        }
        if Some(ip) == self.line_peer {
            Side::Line
        } else if Some(ip) == self.gateway {
            Side::Datacenter("the node's gateway")
        } else if self.cloud_nets.iter().any(|n| n.contains(&ip)) || seen_line_peer_before {
            Side::Cloud
        } else if self.local_nets.iter().any(|n| n.contains(&ip)) {
            Side::Datacenter("in the node's network")
        } else if self.line_peer.is_some() {
            // before the line peer on the way: the datacenter's routers
            Side::Datacenter("a datacenter router")
        } else {
            Side::Unknown
        }
    }
}

impl Sides {
    /// A hop's side on the way from a VPC host to a node: the cloud until the line peer, the
    /// datacenter after it.
    fn of_from_cloud(&self, ip: IpAddr, past_line: bool) -> Side {
        let here = Some(ip) == self.gateway
            || self.local_nets.iter().any(|n| n.contains(&ip))
            || self.cloud_nets.iter().any(|n| n.contains(&ip));
        if Some(ip) == self.line_peer {
            Side::Line
        } else if past_line {
            Side::Datacenter("a datacenter router")
        } else if here || self.line_peer.is_some() {
            Side::Cloud
        } else {
            Side::Unknown
        }
    }
}

/// The hops labelled: (hop, side), in order (a hop after the line peer is on the cloud side).
pub(crate) fn label(t: &Trace, sides: &Sides) -> Vec<(Hop, Option<Side>)> {
    let mut past_line = false;
    t.hops
        .iter()
        .map(|h| {
            let side = h.from.map(|ip| {
                let s = sides.of(ip, past_line);
                past_line |= s == Side::Line;
                s
            });
            (h.clone(), side)
        })
        .collect()
}

fn hop_words(ip: IpAddr, ttl: u8, side: Option<&Side>) -> String {
    match side {
        Some(Side::Line) => format!("{ip} (hop {ttl}, the line's cloud end: VBR)"),
        Some(Side::Datacenter(role)) => format!("{ip} (hop {ttl}, {role})"),
        Some(Side::Cloud) => format!("{ip} (hop {ttl}, cloud side)"),
        Some(Side::Unknown) | None => format!("{ip} (hop {ttl})"),
    }
}

/// Where it breaks, in words for the failing row, and whose side that is.
pub(crate) fn words(t: &Trace, sides: &Sides) -> (String, Whose) {
    let labelled = label(t, sides);
    let side_of = |ip: IpAddr| {
        labelled
            .iter()
            .find(|(h, _)| h.from == Some(ip))
            .and_then(|(_, s)| s.clone())
    };
    let last = labelled.iter().rev().find(|(h, _)| h.from.is_some());
    match &t.end {
        End::Error(e) => (format!("where it breaks could not be traced: {e}"), Whose::Unknown),
        End::Reached(ttl) => (
            format!("a TTL-limited probe of the same flow reached the destination at hop {ttl}: the path works now (intermittent loss, or the failure is beyond the connection)"),
            Whose::None,
        ),
        End::Rejected { from, what, ttl } => {
            let side = side_of(*from);
            let whose = whose(side.as_ref());
            // the gateway is hop 1 whatever TTL its (rate-limited) error answered
            let ttl = if sides.gateway == Some(*from) { 1 } else { *ttl };
            (
                format!("{what}, from {}: {}", hop_words(*from, ttl, side.as_ref()), whose_words(whose)),
                whose,
            )
        }
        End::RejectedBefore { from, what, ttl, own } => {
            let side = side_of(*from).or_else(|| (sides.gateway == Some(*from)).then(|| sides.of(*from, false)));
            let whose = whose(side.as_ref());
            let at = match ttl {
                Some(ttl) => hop_words(*from, *ttl, side.as_ref()),
                None => format!("{from}"),
            };
            let to = if *own {
                "to the connect itself (the TTL-limited probes after it got no such answer: routers rate-limit their ICMP errors)"
            } else {
                "to a probe of another port of the same address (a route's error holds for every port; this flow's own probes got no answer: routers rate-limit their ICMP errors)"
            };
            (
                format!("{what}, from {at}, {to}: {}", whose_words(whose)),
                whose,
            )
        }
        End::LostAfter(_) => match last {
            None => (
                format!("no router on the way answered a TTL-limited probe: lost before the first hop ({}), or every router hides itself", if sides.from_cloud { "this host's own firewall, security group or link" } else { "the node's own firewall or link" }),
                Whose::Unknown,
            ),
            Some((h, side)) => {
                let ip = h.from.unwrap_or(IpAddr::from([0, 0, 0, 0]));
                let at = hop_words(ip, h.ttl, side.as_ref());
                if sides.from_cloud {
                    silent_after_from_cloud(&at, side.as_ref())
                } else {
                    silent_after(&at, side.as_ref())
                }
            }
        },
    }
}

/// A hop of a report's `details.hops`, in words: `10.0.0.1 (hop 1, datacenter side)`.
pub(crate) fn hop_record_words(h: &HopRecord) -> String {
    let ip = h.address.map_or_else(
        || "a hop that did not answer".to_string(),
        |a| a.to_string(),
    );
    match h.side {
        Some(HopSide::Datacenter) => format!("{ip} (hop {}, datacenter side)", h.ttl),
        Some(HopSide::Line) => format!("{ip} (hop {}, the line's cloud end: VBR)", h.ttl),
        Some(HopSide::Cloud) => format!("{ip} (hop {}, cloud side)", h.ttl),
        Some(HopSide::Unknown) | None => format!("{ip} (hop {})", h.ttl),
    }
}

/// Several flows that stop at the same hop, in words: what that hop is for them and where each
/// explanation that fits would be; and the fix for each. `passing`: ids of flows that pass
/// through that hop (then these are filters on their ports, not a broken path).
pub(crate) fn path_words(
    hop: &HopRecord,
    whose: Whose,
    n: usize,
    passing: &[&str],
) -> (String, String) {
    let at = hop_record_words(hop);
    let (what, fix) = match whose {
        Whose::Either => (
            format!("{n} failed flows stop at {at}, the last hop that answers them: the traffic is lost after it, or the answers from beyond it are lost on the way back"),
            format!("Past {at}: check the datacenter's route and firewall toward these destinations, and the line. On the way back: give the cloud side a route to the datacenter CIDR (the VBR's route table, CEN / ECR, the VPC route table). Run `ack-edge-preflight inbound` from a VPC host to see the way back."),
        ),
        Whose::Cloud => (
            format!("{n} failed flows stop at {at}: beyond it both the way on and the way back are on the cloud side"),
            "On the cloud side: the routes and security groups toward the VPC, and the VBR / CEN / ECR / VPC routes back to the datacenter CIDR.".to_string(),
        ),
        Whose::Datacenter => (
            format!("{n} failed flows are rejected at {at}, inside the datacenter"),
            format!("Fix the route or the firewall rule of {at} that rejects these flows."),
        ),
        Whose::Unknown | Whose::None => (
            format!("{n} failed flows stop at {at}"),
            format!("Follow the path past {at}: its next hop's route and firewall, and the way back."),
        ),
    };
    if passing.is_empty() {
        return (what, fix);
    }
    (
        format!("{what}; other flows through it pass ({}): filters on the failed flows' ports, not a broken path", passing.join(", ")),
        format!("Other flows pass {at}: look for a firewall rule on these flows' ports past it (or on the way back), not for a missing route."),
    )
}

/// The sweep's end, with the evidence the failed probe already had: a router's ICMP error to the
/// probe itself (`rejected`: its sender and what it said) wins over the sweep's silence (a router
/// that rate-limits its errors answers the probe and not the sweep). A sweep that saw a rejection
/// or reached the destination keeps its own end.
/// A router's ICMP error already in hand when a sweep starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InHand {
    pub from: IpAddr,
    pub what: String,
    /// To this flow's own probe (else to another port of the same address).
    pub own: bool,
}

impl InHand {
    /// A route's error (network or host unreachable): it holds for every port of the address.
    pub(crate) fn is_route(&self) -> bool {
        self.what.contains("network unreachable") || self.what.contains("host unreachable")
    }
}

pub(crate) fn with_evidence_in_hand(
    mut t: Trace,
    rejected: Option<InHand>,
    gateway: Option<IpAddr>,
) -> Trace {
    let Some(InHand { from, what, own }) = rejected else {
        return t;
    };
    match t.end {
        End::Rejected { .. } | End::Reached(_) | End::RejectedBefore { .. } => t,
        End::LostAfter(_) | End::Error(_) => {
            let ttl = t
                .hops
                .iter()
                .find(|h| h.from == Some(from))
                .map(|h| h.ttl)
                .or_else(|| (gateway == Some(from)).then_some(1));
            t.end = End::RejectedBefore {
                from,
                what,
                ttl,
                own,
            };
            t
        }
    }
}

/// Silence after the last hop that answered (`at`, in words): lost past it, or its answers lost on
/// the way back. Said as both, with where each would be; only a cloud-side hop puts both on the
/// cloud side.
fn silent_after(at: &str, side: Option<&Side>) -> (String, Whose) {
    let both = format!("no answer from beyond {at}: the traffic is lost after it, or the answers from beyond it are lost on the way back");
    match side {
        Some(Side::Line | Side::Cloud) => (
            format!("{both} — both on the cloud side (the routes and security groups toward the VPC, or the VBR / CEN / ECR / VPC routes back to the datacenter CIDR)"),
            Whose::Cloud,
        ),
        Some(Side::Datacenter(_)) => (
            format!("{both}: past this hop, a route or firewall of the datacenter or the line; on the way back, the cloud side (VBR, CEN / ECR or the VPC route table) without a route to the datacenter CIDR (`inbound --node` from a VPC host, against `responder` here, sees the way back)"),
            Whose::Either,
        ),
        Some(Side::Unknown) | None => (both, Whose::Unknown),
    }
}

/// [`silent_after`] on the way from a VPC host to a node (`inbound`): the forward path is the
/// cloud side's until the line, the way back the datacenter's.
fn silent_after_from_cloud(at: &str, side: Option<&Side>) -> (String, Whose) {
    let both = format!("no answer from beyond {at}: the traffic is lost after it, or the answers from beyond it are lost on the way back");
    match side {
        Some(Side::Line | Side::Datacenter(_)) => (
            format!("{both} — both on the datacenter side (its firewall or route toward the node, or its route back to the VPC CIDR)"),
            Whose::Datacenter,
        ),
        Some(Side::Cloud) => (
            format!("{both}: past this hop, the cloud side's route toward the datacenter CIDR (the VPC route table, CEN / ECR, the VBR) or a security group; on the way back, the datacenter without a route to the VPC CIDR, or its firewall"),
            Whose::Either,
        ),
        Some(Side::Unknown) | None => (both, Whose::Unknown),
    }
}

fn whose(side: Option<&Side>) -> Whose {
    match side {
        Some(Side::Datacenter(_)) => Whose::Datacenter,
        Some(Side::Line | Side::Cloud) => Whose::Cloud,
        Some(Side::Unknown) | None => Whose::Unknown,
    }
}

fn whose_words(whose: Whose) -> &'static str {
    match whose {
        Whose::Datacenter => "rejected inside the datacenter",
        Whose::Cloud => "rejected on the cloud side",
        Whose::Either | Whose::Unknown | Whose::None => "rejected on the way",
    }
}

/// An ICMP error as a raw IPv4 socket receives it: who sent it, and the flow it quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IcmpError {
    pub from: IpAddr,
    pub kind: u8,
    pub code: u8,
    pub proto: u8,
    /// The quoted packet's source and destination.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// The quoted TCP sequence number, when the router quoted it (the 8 bytes RFC 792 asks for).
    pub seq: Option<u32>,
}

/// Parse an IPv4 packet carrying ICMP time exceeded (11) or destination unreachable (3) and the
/// start of the packet it quotes (its IP header and the first 8 bytes: the ports). Pure, for any
/// bytes: None unless every length adds up.
pub(crate) fn parse_icmp_error(p: &[u8]) -> Option<IcmpError> {
    let ihl = usize::from(*p.first()? & 0x0f) * 4;
    if *p.first()? >> 4 != 4 || ihl < 20 || *p.get(9)? != 1 {
        return None;
    }
    let from = IpAddr::from(<[u8; 4]>::try_from(p.get(12..16)?).ok()?);
    let icmp = p.get(ihl..)?;
    let (kind, code) = (*icmp.first()?, *icmp.get(1)?);
    if kind != 11 && kind != 3 {
        return None;
    }
    let inner = icmp.get(8..)?;
    let ihl2 = usize::from(*inner.first()? & 0x0f) * 4;
    if *inner.first()? >> 4 != 4 || ihl2 < 20 {
        return None;
    }
    let proto = *inner.get(9)?;
    let src = IpAddr::from(<[u8; 4]>::try_from(inner.get(12..16)?).ok()?);
    let dst = IpAddr::from(<[u8; 4]>::try_from(inner.get(16..20)?).ok()?);
    let ports = inner.get(ihl2..ihl2 + 4)?;
    Some(IcmpError {
        from,
        kind,
        code,
        proto,
        src,
        dst,
        sport: u16::from_be_bytes([ports[0], ports[1]]),
        dport: u16::from_be_bytes([ports[2], ports[3]]),
        seq: inner
            .get(ihl2 + 4..ihl2 + 8)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes),
    })
}

/// What `plan` says of the sweep a step sends when its probe fails.
pub(crate) fn plan_words(what: &str, to: &str, when: &str) -> String {
    format!(
        "when {when}: TTL-limited {what} to {to} (TTL 1 to {MAX_HOPS}, one fixed flow, ICMP time exceeded read from the error queue), to name the hop where it breaks"
    )
}

/// The hop list for `details.hops`.
pub(crate) fn hop_records(t: &Trace, sides: &Sides) -> Vec<HopRecord> {
    label(t, sides)
        .into_iter()
        .map(|(h, side)| HopRecord {
            ttl: h.ttl,
            address: h.from,
            rtt_ms: h.rtt_ms.map(|r| (r * 100.0).round() / 100.0),
            side: side.map(|s| match s {
                Side::Datacenter(_) => HopSide::Datacenter,
                Side::Line => HopSide::Line,
                Side::Cloud => HopSide::Cloud,
                Side::Unknown => HopSide::Unknown,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake path: routers at TTL 1..; a destination at `dest_ttl`; silent from `silent_from`;
    /// `rate_limited` TTLs never answer; two next hops chosen by the flow (ECMP).
    struct FakePath {
        routers: Vec<IpAddr>,
        alt: Option<(u8, IpAddr)>,
        flow_takes_alt: bool,
        silent_from: Option<u8>,
        rate_limited: Vec<u8>,
        reject_at: Option<u8>,
        rtt: Duration,
        sent: Vec<u8>,
    }

    #[async_trait::async_trait]
    impl HopProbe for FakePath {
        async fn probe(&mut self, ttl: u8, wait: Duration) -> Result<HopReply, String> {
            self.sent.push(ttl);
            if self.silent_from.is_some_and(|s| ttl >= s) || self.rate_limited.contains(&ttl) {
                tokio::time::sleep(wait).await;
                return Ok(HopReply::Silent);
            }
            tokio::time::sleep(self.rtt * u32::from(ttl)).await;
            if self.reject_at == Some(ttl) {
                return Ok(HopReply::Rejected {
                    from: self.routers[usize::from(ttl) - 1],
                    what: "ICMP network unreachable".into(),
                });
            }
            match self.routers.get(usize::from(ttl) - 1) {
                Some(r) => match self.alt {
                    Some((at, alt)) if at == ttl && self.flow_takes_alt => {
                        Ok(HopReply::TimeExceeded(alt))
                    }
                    _ => Ok(HopReply::TimeExceeded(*r)),
                },
                None => Ok(HopReply::Reached),
            }
        }
    }

    fn path(routers: &[&str]) -> FakePath {
        FakePath {
            routers: routers.iter().map(|r| r.parse().unwrap()).collect(),
            alt: None,
            flow_takes_alt: false,
            silent_from: None,
            rate_limited: vec![],
            reject_at: None,
            rtt: Duration::from_millis(1),
            sent: vec![],
        }
    }

    fn sides() -> Sides {
        Sides {
            local_nets: vec!["10.0.0.0/24".parse().unwrap()],
            gateway: Some("10.0.0.1".parse().unwrap()),
            line_peer: Some("172.31.255.2".parse().unwrap()),
            cloud_nets: vec![
                "100.0.0.0/8".parse().unwrap(),
                "192.168.0.0/16".parse().unwrap(),
            ],
            from_cloud: false,
        }
    }

    /// A VPC host (10.255.0.2/30, gateway the VBR 10.255.0.1) sweeping toward a node.
    fn from_cloud() -> Sides {
        Sides {
            local_nets: vec!["10.255.0.0/30".parse().unwrap()],
            gateway: Some("10.255.0.1".parse().unwrap()),
            line_peer: Some("10.255.0.1".parse().unwrap()),
            cloud_nets: vec!["100.0.0.0/8".parse().unwrap()],
            from_cloud: true,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn from_the_cloud_the_sides_are_reversed() {
        // VBR, then the core: silence after the core is the datacenter's, both ways
        let mut p = path(&["10.255.0.1", "172.31.255.1"]);
        p.silent_from = Some(3);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        let (w, whose) = words(&t, &from_cloud());
        assert_eq!(whose, Whose::Datacenter, "{w}");
        assert!(
            w.starts_with("no answer from beyond 172.31.255.1 (hop 2, a datacenter router)"),
            "{w}"
        );
        assert!(w.contains("both on the datacenter side"), "{w}");
        let hops = hop_records(&t, &from_cloud());
        assert_eq!(hops[0].side, Some(HopSide::Line));
        assert_eq!(hops[1].side, Some(HopSide::Datacenter));
        // a cloud router before the line, then silence: either direction, each named
        let mut p = path(&["100.64.0.1", "10.255.0.1"]);
        p.silent_from = Some(2);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        let (w, whose) = words(&t, &from_cloud());
        assert_eq!(whose, Whose::Either, "{w}");
        assert!(
            w.contains("the datacenter without a route to the VPC CIDR"),
            "{w}"
        );
        // the VBR rejects (no route to the datacenter CIDR): the cloud side, never "beyond the line"
        let mut p = path(&["10.255.0.1"]);
        p.reject_at = Some(1);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        let (w, whose) = words(&t, &from_cloud());
        assert_eq!(whose, Whose::Cloud);
        assert!(w.ends_with("rejected on the cloud side"), "{w}");
        // nothing answers: this host's own firewall or security group, not the node's
        let mut p = path(&[]);
        p.silent_from = Some(1);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        let (w, _) = words(&t, &from_cloud());
        assert!(
            w.contains("this host's own firewall, security group or link"),
            "{w}"
        );
    }

    const WAIT: Duration = Duration::from_millis(200);
    const BUDGET: Duration = Duration::from_secs(2);

    #[test]
    fn a_raw_icmp_error_names_its_sender_and_the_flow_it_quotes() {
        // IPv4 from 10.0.0.1, ICMP time exceeded, quoting a TCP SYN 10.0.0.10:40001 -> 100.118.28.10:443
        let mut p = vec![
            0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 10,
        ];
        p.extend_from_slice(&[11, 0, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[
            0x45, 0, 0, 60, 0, 0, 0x40, 0, 1, 6, 0, 0, 10, 0, 0, 10, 100, 118, 28, 10,
        ]);
        p.extend_from_slice(&[0x9c, 0x41, 0x01, 0xbb, 0, 0, 0, 1]);
        let e = parse_icmp_error(&p).unwrap();
        assert_eq!(e.from, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!((e.kind, e.proto, e.sport, e.dport), (11, 6, 40001, 443));
        assert_eq!(e.dst, "100.118.28.10".parse::<IpAddr>().unwrap());
        assert_eq!(e.src, "10.0.0.10".parse::<IpAddr>().unwrap());
        assert_eq!(e.seq, Some(1));
        // every truncation, and an echo reply, is None, never a panic
        for n in 0..p.len() - 4 {
            assert!(parse_icmp_error(&p[..n]).is_none(), "{n}");
        }
        let mut echo = p.clone();
        echo[20] = 0;
        assert!(parse_icmp_error(&echo).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn silence_after_the_core_names_both_directions() {
        let mut p = path(&["10.0.0.1", "172.31.255.2", "10.255.0.2"]);
        p.silent_from = Some(2);
        let start = Instant::now();
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        assert_eq!(t.end, End::LostAfter(1));
        assert_eq!(p.sent, vec![1, 2, 3], "two silent TTLs end it");
        assert!(
            start.elapsed() <= Duration::from_millis(450),
            "{:?}",
            start.elapsed()
        );
        let (w, whose) = words(&t, &sides());
        assert_eq!(whose, Whose::Either, "silence does not say which direction");
        assert!(
            w.starts_with("no answer from beyond 10.0.0.1 (hop 1, the node's gateway): the traffic is lost after it, or the answers from beyond it are lost on the way back"),
            "{w}"
        );
        assert!(w.contains("without a route to the datacenter CIDR"), "{w}");
        assert!(!w.contains("inside the datacenter"), "{w}");
    }

    #[tokio::test(start_paused = true)]
    async fn silence_after_the_vbr_is_on_the_cloud_side() {
        let mut p = path(&["10.0.0.1", "172.31.255.2", "10.255.0.2"]);
        p.silent_from = Some(3);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        let (w, whose) = words(&t, &sides());
        assert_eq!(whose, Whose::Cloud);
        assert!(
            w.starts_with("no answer from beyond 172.31.255.2 (hop 2, the line's cloud end: VBR)"),
            "{w}"
        );
        assert!(w.contains("both on the cloud side"), "{w}");
        let hops = hop_records(&t, &sides());
        assert_eq!(hops[0].side, Some(HopSide::Datacenter));
        assert_eq!(hops[1].side, Some(HopSide::Line));
        assert_eq!(hops.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limited_router_is_a_gap_not_the_end() {
        let mut p = path(&["10.0.0.1", "10.0.5.1", "172.31.255.2"]);
        p.rate_limited = vec![2];
        p.silent_from = Some(4);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        assert_eq!(t.end, End::LostAfter(3));
        assert_eq!(t.hops[1].from, None);
        assert_eq!(
            t.last_answer().unwrap().from,
            Some("172.31.255.2".parse().unwrap())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_flow_sees_one_of_two_ecmp_next_hops_at_every_ttl() {
        for takes_alt in [false, true] {
            let mut p = path(&["10.0.0.1", "172.31.255.2", "10.255.0.2"]);
            p.alt = Some((2, "172.31.254.2".parse().unwrap()));
            p.flow_takes_alt = takes_alt;
            p.silent_from = Some(3);
            let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
            let want: IpAddr = if takes_alt {
                "172.31.254.2"
            } else {
                "172.31.255.2"
            }
            .parse()
            .unwrap();
            assert_eq!(t.last_answer().unwrap().from, Some(want));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejecting_router_is_named_and_the_destination_ends_a_sweep() {
        let mut p = path(&["10.0.0.1", "172.31.255.2"]);
        p.reject_at = Some(1);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        let (w, whose) = words(&t, &sides());
        assert_eq!(whose, Whose::Datacenter);
        assert!(w.starts_with("ICMP network unreachable, from 10.0.0.1 (hop 1, the node's gateway): rejected inside the datacenter"), "{w}");
        let mut p = path(&["10.0.0.1", "172.31.255.2"]);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        assert_eq!(t.end, End::Reached(3));
    }

    #[tokio::test(start_paused = true)]
    async fn the_probes_own_icmp_error_wins_over_a_rate_limited_silence() {
        // the core rejected the connect, then rate-limited: the sweep hears nothing at all
        let mut p = path(&[]);
        p.silent_from = Some(1);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        let gw: IpAddr = "10.0.0.1".parse().unwrap();
        let (silent, _) = words(&t, &sides());
        assert!(
            silent.starts_with("no router on the way answered"),
            "{silent}"
        );
        let own = |what: &str| {
            Some(InHand {
                from: gw,
                what: what.into(),
                own: true,
            })
        };
        let other = with_evidence_in_hand(
            t.clone(),
            Some(InHand {
                own: false,
                ..own("ICMP network unreachable").unwrap()
            }),
            Some(gw),
        );
        let (w, _) = words(&other, &sides());
        assert!(
            w.contains("to a probe of another port of the same address"),
            "{w}"
        );
        let t = with_evidence_in_hand(t, own("ICMP network unreachable"), Some(gw));
        let (w, whose) = words(&t, &sides());
        assert_eq!(whose, Whose::Datacenter, "{w}");
        assert!(
            w.starts_with("ICMP network unreachable, from 10.0.0.1 (hop 1, the node's gateway), to the connect itself"),
            "{w}"
        );
        assert!(w.ends_with("rejected inside the datacenter"), "{w}");
        // a sweep that saw the rejection or reached the destination keeps its own end
        let mut p = path(&["10.0.0.1", "172.31.255.2"]);
        let reached = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        let kept = with_evidence_in_hand(reached.clone(), own("x"), Some(gw));
        assert_eq!(kept, reached);
        // nothing in hand: the silence stands
        let mut p = path(&["10.0.0.1"]);
        p.silent_from = Some(2);
        let t = sweep(&mut p, MAX_HOPS, WAIT, BUDGET).await;
        assert_eq!(with_evidence_in_hand(t.clone(), None, Some(gw)), t);
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_bounds_a_silent_path() {
        let mut p = path(&[]);
        p.silent_from = Some(1);
        let start = Instant::now();
        let t = sweep(&mut p, MAX_HOPS, WAIT, Duration::from_millis(300)).await;
        assert!(start.elapsed() <= Duration::from_millis(300));
        assert_eq!(t.end, End::LostAfter(0));
        assert!(words(&t, &sides())
            .0
            .starts_with("no router on the way answered"));
    }
}
