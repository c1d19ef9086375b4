//! TCP connect: tell refused (RST), timed out (filtered) and unreachable apart. Phase: tcp.

use std::net::SocketAddr;

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

impl TcpFailure {
    /// The short class name, for details and filtering.
    pub fn class(&self) -> &'static str {
        match self {
            TcpFailure::Refused => "refused",
            TcpFailure::TimedOut(_) => "timeout",
            TcpFailure::Unreachable(_) => "unreachable",
            TcpFailure::LocalBlocked(_) => "local-firewall",
            TcpFailure::Other(_) => "error",
        }
    }

    /// Classify an OS error from `connect()`.
    pub fn from_io(e: &std::io::Error) -> TcpFailure {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => TcpFailure::Refused,
            Some(libc::ETIMEDOUT) => TcpFailure::TimedOut(0),
            Some(libc::ENETUNREACH) => TcpFailure::Unreachable("network unreachable (no route)".into()),
            Some(libc::EHOSTUNREACH) => {
                TcpFailure::Unreachable("no route to host (ICMP host unreachable or an unreachable route)".into())
            }
            Some(libc::EINVAL) => TcpFailure::Unreachable("invalid route (blackhole route?)".into()),
            Some(libc::EACCES) | Some(libc::EPERM) => {
                TcpFailure::LocalBlocked("operation not permitted (local firewall or prohibit route)".into())
            }
            Some(libc::ENETDOWN) => TcpFailure::Unreachable("network is down".into()),
            _ => TcpFailure::Other(e.to_string()),
        }
    }
}

pub fn evaluate(addr: SocketAddr, outcome: &Result<SocketAddr, TcpFailure>, elapsed_ms: u64) -> Finding {
    match outcome {
        Ok(local) => Finding::pass(format!("connected to {addr} in {elapsed_ms} ms (from {local})"))
            .with("local", local.to_string())
            .with("rtt_ms", elapsed_ms),
        Err(e) => Finding::fail(format!("TCP {addr}: {e}")).with("phase", "tcp").with("error", e.class()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;
    use std::io;

    #[test]
    fn each_os_error_has_its_class() {
        let c = |code| TcpFailure::from_io(&io::Error::from_raw_os_error(code)).class();
        assert_eq!(c(libc::ECONNREFUSED), "refused");
        assert_eq!(c(libc::ETIMEDOUT), "timeout");
        assert_eq!(c(libc::ENETUNREACH), "unreachable");
        assert_eq!(c(libc::EHOSTUNREACH), "unreachable");
        assert_eq!(c(libc::EINVAL), "unreachable");
        assert_eq!(c(libc::EPERM), "local-firewall");
        assert_eq!(c(libc::EIO), "error");
    }

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
