//! ICMP errors the kernel queued for a socket with `IP_RECVERR` (`MSG_ERRQUEUE`, `SO_EE_OFFENDER`):
//! read by the UDP probes and by the TTL sweeps.

/// The ICMP error the kernel queued for this socket (`IP_RECVERR`): its type, code and sender.
pub(crate) fn queued_icmp(sock: &impl std::os::fd::AsRawFd) -> Option<(u8, u8, std::net::IpAddr)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrIn};
    let mut data = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let mut space = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in);
    let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
    let msg = recvmsg::<SockaddrIn>(sock.as_raw_fd(), &mut iov, Some(&mut space), flags).ok()?;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::Ipv4RecvErr(ee, Some(from)) = c {
            // SO_EE_ORIGIN_ICMP: an ICMP error from a router or the peer
            if ee.ee_origin == 2 {
                let ip = std::net::Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr));
                return Some((ee.ee_type, ee.ee_code, std::net::IpAddr::V4(ip)));
            }
        }
    }
    None
}

/// The ICMP error queued for this socket and the destination of the datagram that provoked it
/// (a reply the responder sent): (type, code, sender, original destination).
pub(crate) fn queued_icmp_for(
    sock: &impl std::os::fd::AsRawFd,
) -> Option<(u8, u8, std::net::IpAddr, std::net::SocketAddr)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrIn};
    let mut data = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let mut space = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in);
    let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
    let msg = recvmsg::<SockaddrIn>(sock.as_raw_fd(), &mut iov, Some(&mut space), flags).ok()?;
    let to = msg.address.map(|a| std::net::SocketAddr::V4(a.into()))?;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::Ipv4RecvErr(ee, Some(from)) = c {
            if ee.ee_origin == 2 {
                let ip = std::net::Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr));
                return Some((ee.ee_type, ee.ee_code, std::net::IpAddr::V4(ip), to));
            }
        }
    }
    None
}

/// An ICMP error (type, code) in words: destination unreachable by its code, time exceeded.
pub(crate) fn icmp_words(kind: u8, code: u8) -> String {
    match kind {
        3 => unreachable_words(code),
        11 => "ICMP time exceeded (a routing loop, or the TTL ran out)".into(),
        k => format!("ICMP type {k} code {code}"),
    }
}

/// ICMP destination-unreachable codes in words.
pub(crate) fn unreachable_words(code: u8) -> String {
    match code {
        0 => "ICMP network unreachable".into(),
        1 => "ICMP host unreachable".into(),
        3 => "ICMP port unreachable".into(),
        9 | 10 | 13 => "ICMP administratively prohibited".into(),
        c => format!("ICMP destination unreachable (code {c})"),
    }
}
