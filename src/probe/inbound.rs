//! `inbound`: from a VPC host, is the node's inbound port reachable, and does the node's responder
//! answer on it (not another service or a middlebox)? Phases: tcp, inbound.

use std::net::SocketAddr;

use crate::cause::{ErrorClass, Phase, Plain};
use crate::probe::echo::TCP_BANNER;
use crate::probe::tcp::TcpFailure;
use crate::result::Finding;

/// Judge a banner read: the responder's banner is PASS; a connection that answers otherwise is WARN.
pub(crate) fn evaluate(sa: SocketAddr, out: &Result<String, TcpFailure>) -> Finding {
    let other = Plain(Phase::Inbound, ErrorClass::WrongService);
    match out {
        Err(e) => {
            let hint = match e {
                TcpFailure::Refused => "; is `ack-edge-preflight responder` running on the node?",
                TcpFailure::TimedOut(_)
                | TcpFailure::Unreachable(_)
                | TcpFailure::RejectedBy { .. }
                | TcpFailure::LocalBlocked(_)
                | TcpFailure::Other(_) => "",
            };
            let f = Finding::fail_by(e, format!("TCP {sa}: {e}{hint}"));
            match e {
                TcpFailure::Refused => {
                    let tcp: Vec<String> = crate::constants::NODE_TCP_PORTS.iter().map(std::string::ToString::to_string).collect();
                    f.fix(format!(
                        "Start `ack-edge-preflight responder` on the node (it answers TCP {} and UDP {}) and run inbound again; if it runs and {sa} still refuses, a firewall on the way rejects the port.",
                        tcp.join(", "),
                        crate::constants::VXLAN_PORT
                    ))
                }
                TcpFailure::TimedOut(_)
                | TcpFailure::Unreachable(_)
                | TcpFailure::RejectedBy { .. }
                | TcpFailure::LocalBlocked(_)
                | TcpFailure::Other(_) => f,
            }
        }
        Ok(b) if b.starts_with(TCP_BANNER) => Finding::pass(format!("{sa} reachable from here; the node's responder answered")),
        Ok(b) if b.is_empty() => Finding::warn_by(&other, format!("{sa} accepts TCP but sent no responder banner: another service (or a middlebox) answers")),
        Ok(b) => Finding::warn_by(&other, format!("{sa} accepts TCP but another service answers: {:?}", b.chars().take(60).collect::<String>())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    #[test]
    fn banner_and_failures() {
        let sa: SocketAddr = "10.0.0.10:10250".parse().unwrap();
        assert_eq!(
            evaluate(sa, &Ok("AEPF-TCP 10250".into())).status,
            Status::Pass
        );
        let w = evaluate(sa, &Ok("SSH-2.0-OpenSSH\x1b[2J".into()));
        assert_eq!(
            (w.status, w.class()),
            (Status::Warn, Some(ErrorClass::WrongService))
        );
        assert!(!w.message.contains('\x1b'), "{}", w.message);
        let f = evaluate(sa, &Err(TcpFailure::Refused));
        assert_eq!(
            (f.status, f.class()),
            (Status::Fail, Some(ErrorClass::Refused))
        );
        assert!(f.message.contains("responder` running"), "{}", f.message);
        assert_eq!(
            evaluate(sa, &Err(TcpFailure::TimedOut(3000))).class(),
            Some(ErrorClass::Timeout)
        );
    }
}
