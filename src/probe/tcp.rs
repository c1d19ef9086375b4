//! TCP connect: tell refused (RST), timed out (filtered) and unreachable apart. Phase: tcp.

use std::net::SocketAddr;

use crate::cause::{Cause, ErrorClass, Phase};
use crate::result::Finding;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcpFailure {
    #[error("connection refused (RST: the address answers but nothing listens, or a firewall rejects)")]
    Refused,
    #[error("connection timed out after {0} ms (packets silently dropped: firewall DROP or broken route)")]
    TimedOut(u64),
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("blocked on this host: {0}")]
    LocalBlocked(String),
    #[error("{0}")]
    Other(String),
}

impl Cause for TcpFailure {
    fn phase(&self) -> Phase {
        Phase::Tcp
    }
    fn class(&self) -> ErrorClass {
        match self {
            TcpFailure::Refused => ErrorClass::Refused,
            TcpFailure::TimedOut(_) => ErrorClass::Timeout,
            TcpFailure::Unreachable(_) => ErrorClass::Unreachable,
            TcpFailure::LocalBlocked(_) => ErrorClass::LocalFirewall,
            TcpFailure::Other(_) => ErrorClass::Error,
        }
    }
}

pub fn evaluate(addr: SocketAddr, outcome: &Result<SocketAddr, TcpFailure>, elapsed_ms: u64) -> Finding {
    match outcome {
        Ok(local) => Finding::pass(format!("connected to {addr} in {elapsed_ms} ms (from {local})"))
            .with("local", local.to_string())
            .with("rtt_ms", elapsed_ms),
        Err(e) => Finding::fail_by(e, format!("TCP {addr}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    #[test]
    fn findings() {
        let a: SocketAddr = "100.103.9.188:443".parse().unwrap();
        let ok = evaluate(a, &Ok("10.0.0.10:5555".parse().unwrap()), 3);
        assert_eq!(ok.status, Status::Pass);
        let f = evaluate(a, &Err(TcpFailure::TimedOut(3000)), 3000);
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("timed out after 3000 ms"));
        assert_eq!(f.details["error"], "timeout");
        let f = evaluate(a, &Err(TcpFailure::Refused), 1);
        assert!(f.message.contains("refused"));
    }
}
