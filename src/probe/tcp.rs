//! TCP connect: tell refused (RST), timed out (filtered) and unreachable apart. Phase: tcp.

use std::net::SocketAddr;

use crate::cause::{Cause, ErrorClass, Phase};
use crate::result::Finding;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcpFailure {
    #[error(
        "connection refused (RST: the address answers but nothing listens, or a firewall rejects)"
    )]
    Refused,
    #[error("connection timed out after {0} ms (packets silently dropped: firewall DROP or broken route)")]
    TimedOut(u64),
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// A router's ICMP error to the connect itself, with its sender (`IP_RECVERR`): the evidence
    /// in hand, which a later sweep's silence (a router rate-limiting its errors) cannot overrule.
    #[error("{what} from {from}: a router on the way rejects it")]
    RejectedBy {
        from: std::net::IpAddr,
        what: String,
    },
    #[error("blocked on this host: {0}")]
    LocalBlocked(String),
    #[error("{0}")]
    Other(String),
}

/// A TCP connection that was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connected {
    /// The local address the kernel chose.
    pub local: SocketAddr,
    /// The maximum segment size after the handshake (`TCP_MAXSEG`): the smaller of ours and the
    /// peer's announced MSS, lowered by a firewall that clamps it; `None` where it cannot be read.
    pub mss: Option<u32>,
}

/// The evidence of a `tcp.*` row (`details`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TcpEvidence {
    /// The local address of the connection.
    pub local: String,
    /// How long the handshake took.
    pub rtt_ms: u64,
    /// The negotiated MSS, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss: Option<u32>,
}

impl crate::evidence::Evidence for TcpEvidence {}

impl TcpFailure {
    /// The kernel's `ETIMEDOUT` does not say after how long (`TimedOut(0)`): the caller's timeout `t`.
    #[must_use]
    pub(crate) fn with_timeout(self, t: std::time::Duration) -> TcpFailure {
        match self {
            TcpFailure::TimedOut(0) => {
                TcpFailure::TimedOut(u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
            }
            e @ (TcpFailure::TimedOut(_)
            | TcpFailure::Refused
            | TcpFailure::Unreachable(_)
            | TcpFailure::RejectedBy { .. }
            | TcpFailure::LocalBlocked(_)
            | TcpFailure::Other(_)) => e,
        }
    }
}

impl Cause for TcpFailure {
    fn phase(&self) -> Phase {
        Phase::Tcp
    }
    fn class(&self) -> ErrorClass {
        match self {
            TcpFailure::Refused => ErrorClass::Refused,
            TcpFailure::TimedOut(_) => ErrorClass::Timeout,
            TcpFailure::Unreachable(_) | TcpFailure::RejectedBy { .. } => ErrorClass::Unreachable,
            TcpFailure::LocalBlocked(_) => ErrorClass::LocalFirewall,
            TcpFailure::Other(_) => ErrorClass::Error,
        }
    }
}

pub fn evaluate(
    addr: SocketAddr,
    outcome: &Result<Connected, TcpFailure>,
    elapsed_ms: u64,
) -> Finding {
    match outcome {
        Ok(c) => {
            let mss = c.mss.map(|m| format!(", MSS {m}")).unwrap_or_default();
            Finding::pass(format!(
                "connected to {addr} in {elapsed_ms} ms (from {}{mss})",
                c.local
            ))
            .evidence(&TcpEvidence {
                local: c.local.to_string(),
                rtt_ms: elapsed_ms,
                mss: c.mss,
            })
        }
        Err(e) => {
            let f = Finding::fail_by(e, format!("TCP {addr}: {e}"));
            match failure_fix(addr, e) {
                Some(fix) => f.fix(fix),
                None => f,
            }
        }
    }
}

/// The fix for a failed connect, from how it failed: refused (something answered) or silent.
pub(crate) fn failure_fix(addr: SocketAddr, e: &TcpFailure) -> Option<String> {
    let (ip, port) = (addr.ip(), addr.port());
    Some(match e {
        TcpFailure::Refused => format!(
            "{ip} answered TCP {port} with a reset, so packets get there and back: either a firewall on the way rejects TCP {port} (look for a REJECT rule toward {ip}, on this host first: iptables -S / nft list ruleset) or the address answering is not the service (check the route and any NAT for {ip})."
        ),
        TcpFailure::TimedOut(_) => format!(
            "TCP {port} to {ip} is silently dropped: allow it from this node on the datacenter firewall (and in the VPC security group for the API server), and check the path over the dedicated line (the {}.* row; core switch, VBR, CEN routes back to the datacenter CIDR).",
            crate::ids::Category::Route
        ),
        TcpFailure::Unreachable(_) => format!(
            "A router on the way says {ip} is unreachable: add or fix the route toward {ip} over the dedicated line on the node and on every hop."
        ),
        TcpFailure::RejectedBy { from, what } => format!(
            "The router {from} answers TCP {port} toward {ip} with {what}: add or fix its route toward {ip} (an unreachable or missing route there), or the firewall rule that rejects it."
        ),
        TcpFailure::LocalBlocked(_) => format!(
            "This host itself blocks TCP {port} to {ip}: check its firewall (iptables -S OUTPUT / nft list ruleset) and any security module (SELinux, AppArmor)."
        ),
        TcpFailure::Other(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    #[test]
    fn findings() {
        let a: SocketAddr = "100.103.9.188:443".parse().unwrap();
        let c = Connected {
            local: "10.0.0.10:5555".parse().unwrap(),
            mss: Some(1460),
        };
        let ok = evaluate(a, &Ok(c), 3);
        assert_eq!(ok.status, Status::Pass);
        assert!(ok.message.contains("MSS 1460"), "{}", ok.message);
        assert_eq!(ok.details.to_json()["mss"], 1460);
        let back: TcpEvidence = ok.details.read().unwrap();
        assert_eq!(back.mss, Some(1460));
        let f = evaluate(a, &Err(TcpFailure::TimedOut(3000)), 3000);
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("timed out after 3000 ms"));
        assert_eq!(f.details.to_json()["error"], "timeout");
        assert!(
            f.fix
                .as_deref()
                .unwrap()
                .starts_with("TCP 443 to 100.103.9.188 is silently dropped"),
            "{f:?}"
        );
        let f = evaluate(a, &Err(TcpFailure::Refused), 1);
        assert!(f.message.contains("refused"));
        assert!(
            f.fix
                .as_deref()
                .unwrap()
                .contains("answered TCP 443 with a reset"),
            "{f:?}"
        );
    }
}
