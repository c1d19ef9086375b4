//! Every OS error number the probes care about is mapped to a typed failure here, in the platform
//! layer, so `probe/` never sees an errno. Unknown errors keep the OS's words without "(os error N)".

use std::io;

use crate::probe::route::RouteFailure;
use crate::probe::tcp::TcpFailure;

/// The OS's description of an error, without Rust's " (os error N)" suffix.
pub(crate) fn words(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// Classify an OS error from `connect()`.
pub(crate) fn tcp_failure(e: &io::Error) -> TcpFailure {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => TcpFailure::Refused,
        Some(libc::ETIMEDOUT) => TcpFailure::TimedOut(0),
        Some(libc::ENETUNREACH) => TcpFailure::Unreachable("network unreachable (no route)".into()),
        Some(libc::EHOSTUNREACH) => TcpFailure::Unreachable(
            "no route to host (ICMP host unreachable or an unreachable route)".into(),
        ),
        Some(libc::EINVAL) => TcpFailure::Unreachable("invalid route (blackhole route?)".into()),
        Some(libc::EACCES | libc::EPERM) => TcpFailure::LocalBlocked(
            "operation not permitted (local firewall or prohibit route)".into(),
        ),
        Some(libc::ENETDOWN) => TcpFailure::Unreachable("network is down".into()),
        _ => TcpFailure::Other(words(e)),
    }
}

/// Map the errno of a failed RTM_GETROUTE.
pub(crate) fn route_failure(errno: i32) -> RouteFailure {
    match errno {
        libc::ENETUNREACH => RouteFailure::NoRoute,
        libc::EHOSTUNREACH => RouteFailure::Unreachable,
        libc::EACCES => RouteFailure::Prohibit,
        libc::EINVAL => RouteFailure::Blackhole,
        e => RouteFailure::Other(words(&io::Error::from_raw_os_error(e))),
    }
}

/// Whether a send or receive failed because the datagram is larger than the known path MTU.
pub(crate) fn is_too_big(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMSGSIZE)
}

/// Whether a UDP socket got ICMP port unreachable.
pub(crate) fn is_refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ECONNREFUSED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::Cause;

    #[test]
    fn tcp_errnos_have_their_class() {
        let c = |code| {
            tcp_failure(&io::Error::from_raw_os_error(code))
                .class()
                .as_str()
        };
        assert_eq!(c(libc::ECONNREFUSED), "refused");
        assert_eq!(c(libc::ETIMEDOUT), "timeout");
        assert_eq!(c(libc::ENETUNREACH), "unreachable");
        assert_eq!(c(libc::EHOSTUNREACH), "unreachable");
        assert_eq!(c(libc::EINVAL), "unreachable");
        assert_eq!(c(libc::EPERM), "local-firewall");
        assert_eq!(c(libc::EIO), "error");
        assert!(!tcp_failure(&io::Error::from_raw_os_error(libc::EIO))
            .to_string()
            .contains("os error"));
    }

    #[test]
    fn route_errnos() {
        assert_eq!(route_failure(libc::ENETUNREACH), RouteFailure::NoRoute);
        assert_eq!(route_failure(libc::EHOSTUNREACH), RouteFailure::Unreachable);
        assert_eq!(route_failure(libc::EACCES), RouteFailure::Prohibit);
        assert_eq!(route_failure(libc::EINVAL), RouteFailure::Blackhole);
        assert_eq!(
            words(&io::Error::from_raw_os_error(libc::EINVAL)),
            "Invalid argument"
        );
    }
}
