//! The one audited place with `unsafe`: `IP_MTU_DISCOVER` has no safe API in socket2 0.6 or nix
//! 0.31, and neither has `ntp_adjtime` (read-only with `modes = 0`). Everything else (IP_MTU, geteuid, if_indextoname) goes through nix's safe wrappers.

#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};

/// Set Don't Fragment on every datagram of an IPv4 socket (`IP_PMTUDISC_DO`); the result is checked.
/// Takes `AsRawFd` because surge-ping exposes only the raw descriptor of its socket.
pub(crate) fn set_pmtudisc_do<S: AsRawFd>(sock: &S) -> std::io::Result<()> {
    let fd = sock.as_raw_fd();
    let v: libc::c_int = libc::IP_PMTUDISC_DO;
    // SAFETY: `fd` is a live socket owned by the caller for the duration of the call (an invalid fd
    // only makes setsockopt fail with EBADF, which is returned); the pointer and length describe `v`, a
    // c_int that outlives the call; setsockopt does not keep the pointer.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&raw const v).cast::<libc::c_void>(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The kernel's current path MTU estimate for a connected IPv4 socket (`IP_MTU`).
pub(crate) fn path_mtu<S: AsFd>(sock: &S) -> Option<u32> {
    nix::sys::socket::getsockopt(sock, nix::sys::socket::sockopt::IpMtu)
        .ok()
        .and_then(|v| u32::try_from(v).ok())
}

/// Whether this process runs with effective uid 0.
pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The name of an interface index, in this network namespace.
pub(crate) fn if_name(index: u32) -> Option<String> {
    nix::net::if_::if_indextoname(index)
        .ok()
        .and_then(|c| c.into_string().ok())
}

/// Whether the kernel's clock is synchronised, as `timedatectl` reports it: `ntp_adjtime` with
/// `modes = 0` (reads, never sets) returns `TIME_ERROR` while `STA_UNSYNC` is set.
pub(crate) fn clock_synchronised() -> std::io::Result<bool> {
    // SAFETY: `tx` is a zeroed `timex` owned by this frame; with `modes = 0` the call only writes
    // the kernel's current values into it and keeps no pointer.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    tx.modes = 0;
    // SAFETY: as above; `&mut tx` is valid for the call.
    let r = unsafe { libc::ntp_adjtime(&raw mut tx) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_on_a_udp_socket_and_its_mtu() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        set_pmtudisc_do(&s).unwrap();
        s.connect("127.0.0.1:9").unwrap();
        assert!(path_mtu(&s).is_some_and(|m| m >= 576));
        assert_eq!(if_name(1).as_deref(), Some("lo"));
    }
}
