//! Flannel VXLAN (UDP 8472) echo through a peer's responder, and the UDP side of the path-MTU
//! search. Phases: udp, mtu.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::cause::{ErrorClass, Phase, Plain};
use crate::probe::echo::{self, Datagrams, DgramError, EchoFrame};
use crate::probe::mtu::{DfPath, DfReply, MtuError};
use crate::result::{Finding, Status};

pub(crate) use crate::probe::echo::{EchoOutcome, FullSize};

evidence! {
    /// The evidence of a `udp.vxlan` row.
    pub(crate) struct EchoEvidence {
        /// Echo probes sent and echoed.
        sent: u32,
        received: u32,
        /// What the full-size DF frame did, in words.
        full_size: String,
        /// The peer's own datagram back to this node: `arrived`, `lost`, `untested: …`.
        return_path: String,
        /// The source the responder saw, and this socket's own (they differ behind a NAT).
        observed_source: String,
        local_source: String,
    }
}

impl EchoEvidence {
    fn return_path(words: String) -> EchoEvidence {
        EchoEvidence {
            return_path: Some(words),
            ..EchoEvidence::default()
        }
    }
}

fn error_words(e: &DgramError, port: u16) -> String {
    match e {
        DgramError::Refused => {
            format!("ICMP port unreachable: nothing listens on UDP {port} there")
        }
        DgramError::TooBig => "the datagram is larger than the known path MTU".into(),
        DgramError::IcmpFrom { what, from } => {
            format!("{what}, from {from} on the way (not the peer: a router or firewall there rejects UDP {port})")
        }
        DgramError::Other(s) => s.clone(),
    }
}

pub(crate) fn evaluate_echo(peer: SocketAddr, o: &EchoOutcome) -> Finding {
    let loss = o.sent.saturating_sub(o.received);
    let rtt = if o.rtts_ms.is_empty() {
        String::new()
    } else {
        let min = o.rtts_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = o.rtts_ms.iter().copied().fold(0.0, f64::max);
        format!(", round trip {min:.1}–{max:.1} ms")
    };
    let base = format!(
        "{}/{} probes echoed by the responder at {peer}{rtt}",
        o.received, o.sent
    );
    let f = if o.received == 0 {
        let (why, class) = match &o.error {
            Some(e @ DgramError::Refused) => (
                format!(" ({})", error_words(e, peer.port())),
                ErrorClass::Refused,
            ),
            Some(e @ DgramError::IcmpFrom { .. }) => (
                format!(" ({})", error_words(e, peer.port())),
                ErrorClass::Unreachable,
            ),
            Some(e) => (
                format!(" ({})", error_words(e, peer.port())),
                ErrorClass::NoEcho,
            ),
            None => (
                format!(
                    " (UDP {} dropped on the way, or no responder running)",
                    peer.port()
                ),
                ErrorClass::NoEcho,
            ),
        };
        Finding::fail_by(
            &Plain(Phase::Udp, class),
            format!("no echo from {peer}: 0/{} probes echoed{why}; Flannel VXLAN between the node and this peer will not work", o.sent),
        )
    } else if loss > 0 {
        Finding::warn_by(
            &Plain(Phase::Udp, ErrorClass::Loss),
            format!("{base}; {loss} lost"),
        )
    } else {
        Finding::pass(base.clone())
    };
    let mut f = f.evidence(&EchoEvidence {
        sent: Some(o.sent),
        received: Some(o.received),
        ..EchoEvidence::default()
    });
    if let (Some(full), true) = (&o.full, o.received > 0) {
        let size = full.size;
        let words = match &full.reply {
            Ok(DfReply::Echoed) => format!("a full-size {size}-byte VXLAN frame with DF came back too"),
            Ok(DfReply::TooBig) => format!("a full-size {size}-byte VXLAN frame cannot leave with DF: the kernel knows a smaller path MTU"),
            Ok(DfReply::Silent) => format!("a full-size {size}-byte VXLAN frame with DF got no echo"),
            Err(e) => format!("no full-size frame was sent: {e}"),
        };
        f = f.evidence(&EchoEvidence {
            full_size: Some(words.clone()),
            ..EchoEvidence::default()
        });
        let class = match &full.reply {
            Ok(DfReply::Silent) => Some(ErrorClass::PmtuBlackHole),
            Ok(DfReply::TooBig) => Some(ErrorClass::SmallerPathMtu),
            Ok(DfReply::Echoed) | Err(_) => None,
        };
        match class {
            Some(class) if f.status == Status::Pass => {
                let msg = format!(
                    "{base}, but {words}: Flannel sends frames of the interface MTU and those would be lost; set Flannel's MTU from the path MTU (see {} toward {})",
                    crate::ids::ReqId::MtuPath,
                    peer.ip()
                );
                f = f.recast(Status::Warn, &Plain(Phase::Mtu, class), msg);
            }
            Some(_) | None => f.message = format!("{}; {words}", f.message),
        }
    }
    return_path(nat(f, o), o)
}

/// The peer's own datagram toward this node's address and UDP 8472 (the direction of a cloud
/// node's VXLAN and of every connection the VPC opens): proven lost is FAIL, whatever the echo
/// says; arrived is said on the row; untested is said in `details.return_path`.
pub(crate) fn return_path(mut f: Finding, o: &EchoOutcome) -> Finding {
    use crate::probe::echo::ReturnPath;
    let nat = matches!((o.observed, o.local), (Some(seen), Some(local)) if seen != local && !local.ip().is_unspecified());
    match &o.returned {
        ReturnPath::NotTested => f,
        ReturnPath::Untested(why) => {
            f.evidence(&EchoEvidence::return_path(format!("untested: {why}")))
        }
        ReturnPath::Arrived(to) => {
            f.message = if nat {
                format!("{}; the peer's datagram to {to} did arrive, so a route back to the node exists despite the NAT", f.message)
            } else {
                format!("{}; the peer's datagram to {to} arrived (the return path a cloud node's VXLAN takes)", f.message)
            };
            f.evidence(&EchoEvidence::return_path("arrived".into()))
        }
        ReturnPath::Lost(to) if o.received < o.sent => {
            // the path lost echoes too: one lost return datagram proves nothing under that loss
            let lost = o.sent - o.received;
            let msg = format!(
                "{}; the peer's datagram to this node's own address {to} did not come back either, but the path lost {lost} of {} echoes too: under that loss one lost datagram does not prove the way back broken (run again, or `inbound` from a VPC host)",
                f.message, o.sent
            );
            let f = match f.status {
                Status::Fail | Status::Skip => {
                    f.message = msg;
                    f
                }
                Status::Pass | Status::Warn => {
                    f.recast(Status::Warn, &Plain(Phase::Udp, ErrorClass::Loss), msg)
                }
            };
            f.evidence(&EchoEvidence::return_path("lost (under loss)".into()))
        }
        ReturnPath::Lost(to) => {
            let why = if nat {
                format!(
                    "the NAT rewrites this node's source, and nothing the cloud sends to {} arrives (no route back over the line, or a firewall drops it)",
                    to.ip()
                )
            } else {
                format!(
                    "replies come back, but a datagram the cloud sends to {to} (as a cloud node's VXLAN does) does not arrive: a firewall drops UDP {} toward the node (its own INPUT chain, see {}, or the datacenter's), or the cloud has no route back",
                    to.port(),
                    crate::ids::ReqId::HostFirewall
                )
            };
            let msg = format!(
                "{}; but the peer's datagram to this node's own address {to} did not come back: {why}; VXLAN from cloud nodes, and connections the VPC opens to the node (API server → kubelet 10250, metrics 9100), will fail",
                f.message
            );
            let g = f.recast(
                Status::Fail,
                &Plain(Phase::Udp, ErrorClass::NoReturnPath),
                msg,
            );
            let fix = if nat {
                format!("Exempt the node's traffic to the VPC from source NAT (a no-NAT rule for {} toward the VPC CIDR) and route the node's network back over the line on the cloud side (the VBR / VPC route table).", to.ip())
            } else {
                format!("Allow UDP {} from the VPC CIDR to the node (the node's INPUT chain and the datacenter firewall), and make sure the VPC route table sends the node's network back over the line.", to.port())
            };
            g.fix(fix)
                .evidence(&EchoEvidence::return_path("lost".into()))
        }
    }
}

/// A source rewritten on the way (the responder saw another address than this socket's) is at
/// least WARN: the echo returned through the NAT's state, but nothing the other side opens
/// toward this node's own address will. It stays WARN, not FAIL: a NAT with a static mapping
/// can still work, and only the other direction (`inbound` from the VPC) proves it.
pub fn nat(mut f: Finding, o: &EchoOutcome) -> Finding {
    let (Some(seen), Some(local)) = (o.observed, o.local) else {
        return f;
    };
    f = f.evidence(&EchoEvidence {
        observed_source: Some(seen.to_string()),
        local_source: Some(local.to_string()),
        ..EchoEvidence::default()
    });
    // a wildcard local address says nothing; a port-only rewrite is still a NAT
    if seen == local || local.ip().is_unspecified() {
        return f;
    }
    let msg = format!(
        "{}; but the peer saw this node as {seen}, not {local}: a NAT rewrites the source on the way, so connections the VPC opens to the node (API server → kubelet 10250, metrics 9100), VXLAN from cloud nodes toward {} and Flannel's public-ip would go to the wrong address",
        f.message,
        local.ip()
    );
    let fix = format!(
        "Exempt the node's traffic to the VPC from source NAT on the datacenter firewall or core switch (a no-NAT rule for {} toward the VPC CIDR), and give the cloud side a route back to the node's network over the line.",
        local.ip()
    );
    if f.status == Status::Pass {
        f.recast(Status::Warn, &Plain(Phase::Udp, ErrorClass::SourceNat), msg)
            .fix(fix)
    } else {
        f.message = msg;
        f
    }
}

/// A UDP socket toward a responder that can carry Don't-Fragment probes.
pub trait DfSocket: Datagrams {
    /// Set Don't Fragment (IP_PMTUDISC_DO) on the socket.
    fn set_df(&mut self) -> Result<(), String>;
    /// The path MTU the kernel learned for the connected peer (IP_MTU), if known.
    fn learned_mtu(&self) -> Option<u32>;
    /// The route's MTU toward the peer before any probe (IP_MTU), if known.
    fn route_mtu(&self) -> Option<u32> {
        self.learned_mtu()
    }
    /// This socket's own address (the source the peer should see without a NAT).
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
}

/// UDP path-MTU probes: one echo request of the probed size, matched by its nonce.
pub(crate) struct UdpDf<'a>(pub &'a mut dyn DfSocket);

#[async_trait]
impl DfPath for UdpDf<'_> {
    async fn probe(&mut self, size: u32, wait: Duration) -> Result<DfReply, MtuError> {
        let n = echo::nonce();
        let payload = size.saturating_sub(28) as usize; // IPv4 20 + UDP 8
        match self
            .0
            .send_probe(&echo::encode(
                &EchoFrame {
                    kind: echo::KIND_REQUEST,
                    nonce: n,
                    size,
                },
                payload,
            ))
            .await
        {
            Ok(()) => {}
            Err(DgramError::TooBig) => return Ok(DfReply::TooBig),
            Err(DgramError::Refused | DgramError::IcmpFrom { .. }) => return Ok(DfReply::Silent),
            Err(DgramError::Other(e)) => return Err(MtuError::Io(e)),
        }
        let end = Instant::now() + wait;
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout_at(end, self.0.recv_probe(&mut buf)).await {
                Err(_) => return Ok(DfReply::Silent),
                Ok(Err(DgramError::TooBig)) => return Ok(DfReply::TooBig),
                Ok(Err(_)) => return Ok(DfReply::Silent),
                Ok(Ok(len)) => {
                    if echo::decode(&buf[..len])
                        .is_some_and(|p| p.kind == echo::KIND_REPLY && p.nonce == n)
                    {
                        return Ok(DfReply::Echoed);
                    }
                }
            }
        }
    }
    fn learned_mtu(&self) -> Option<u32> {
        self.0.learned_mtu()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    #[test]
    fn echo() {
        let p: SocketAddr = "192.168.0.20:8472".parse().unwrap();
        let o = |r: u32| EchoOutcome {
            sent: 3,
            received: r,
            rtts_ms: vec![0.5; r as usize],
            error: None,
            full: None,
            observed: None,
            local: None,
            returned: crate::probe::echo::ReturnPath::NotTested,
        };
        assert_eq!(evaluate_echo(p, &o(3)).status, Status::Pass);
        assert_eq!(evaluate_echo(p, &o(1)).status, Status::Warn);
        let f = evaluate_echo(p, &o(0));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.details.to_json()["phase"], "udp");
        assert_eq!(f.details.to_json()["error"], "no-echo");
        let refused = EchoOutcome {
            error: Some(DgramError::Refused),
            ..o(0)
        };
        let f = evaluate_echo(p, &refused);
        assert_eq!(f.details.to_json()["error"], "refused");
        assert!(
            f.message.contains("nothing listens on UDP 8472"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_lost_return_datagram_fails_only_on_a_clean_path() {
        let p: SocketAddr = "192.168.0.20:8472".parse().unwrap();
        let back: SocketAddr = "10.0.0.10:8472".parse().unwrap();
        let o = |r: u32| EchoOutcome {
            sent: 3,
            received: r,
            rtts_ms: vec![0.5; r as usize],
            error: None,
            full: None,
            observed: None,
            local: None,
            returned: crate::probe::echo::ReturnPath::Lost(back),
        };
        let clean = evaluate_echo(p, &o(3));
        assert_eq!(clean.status, Status::Fail);
        assert_eq!(clean.details.error, Some(ErrorClass::NoReturnPath));
        // the path lost echoes too: one lost datagram proves nothing
        let lossy = evaluate_echo(p, &o(1));
        assert_eq!(lossy.status, Status::Warn, "{}", lossy.message);
        assert_eq!(lossy.details.error, Some(ErrorClass::Loss));
        assert!(
            lossy.message.contains("does not prove the way back broken"),
            "{}",
            lossy.message
        );
    }

    #[test]
    fn full_size_frame() {
        let p: SocketAddr = "192.168.0.20:8472".parse().unwrap();
        let o = |reply| EchoOutcome {
            sent: 3,
            received: 3,
            rtts_ms: vec![0.5; 3],
            error: None,
            full: Some(FullSize { size: 1500, reply }),
            observed: None,
            local: None,
            returned: crate::probe::echo::ReturnPath::NotTested,
        };
        let f = evaluate_echo(p, &o(Ok(DfReply::Echoed)));
        assert_eq!(f.status, Status::Pass);
        assert!(
            f.message
                .contains("full-size 1500-byte VXLAN frame with DF came back"),
            "{}",
            f.message
        );
        let f = evaluate_echo(p, &o(Ok(DfReply::Silent)));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(f.details.to_json()["error"], "pmtu-black-hole");
        assert_eq!(f.details.to_json()["received"], 3);
        assert!(
            f.message.contains("see mtu.path toward 192.168.0.20"),
            "{}",
            f.message
        );
        assert_eq!(
            evaluate_echo(p, &o(Ok(DfReply::TooBig))).details.to_json()["error"],
            "smaller-path-mtu"
        );
        let f = evaluate_echo(p, &o(Err("Don't Fragment cannot be set".into())));
        assert_eq!(f.status, Status::Pass);
        assert!(
            f.message.contains("no full-size frame was sent"),
            "{}",
            f.message
        );
    }

    #[test]
    fn source_nat_is_named_from_both_addresses() {
        let p: SocketAddr = "192.168.0.20:8472".parse().unwrap();
        let o = |seen: &str| EchoOutcome {
            sent: 3,
            received: 3,
            rtts_ms: vec![0.5; 3],
            error: None,
            full: None,
            observed: Some(seen.parse().unwrap()),
            local: Some("10.0.0.10:40001".parse().unwrap()),
            returned: crate::probe::echo::ReturnPath::NotTested,
        };
        let f = evaluate_echo(p, &o("10.0.0.10:40001"));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.details.to_json()["observed_source"], "10.0.0.10:40001");
        let f = evaluate_echo(p, &o("172.31.255.1:40001"));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(f.details.to_json()["error"], "source-nat");
        assert!(
            f.message
                .contains("saw this node as 172.31.255.1:40001, not 10.0.0.10:40001"),
            "{}",
            f.message
        );
        assert!(f.message.contains("kubelet 10250") && f.fix.unwrap().contains("no-NAT"));
    }
}
