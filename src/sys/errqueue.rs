//! ICMP errors the kernel queued for a socket with `IP_RECVERR` (`MSG_ERRQUEUE`, `SO_EE_OFFENDER`):
//! read by the UDP probes and by the TTL sweeps.

/// The most entries of an error queue read in one call: a flood of (forged) errors cannot keep
/// a probe reading.
pub(crate) const MAX_QUEUED_READ: usize = 64;

/// One ICMP error of the error queue: the sender, the original destination, and the start of the
/// payload of the datagram it quotes (the kernel passes what the router quoted beyond the UDP
/// header: nothing from a router that quotes 8 bytes, up to 548 from one that follows RFC 1812).
struct Queued {
    kind: u8,
    code: u8,
    from: std::net::IpAddr,
    to: Option<std::net::SocketAddr>,
    quoted: Vec<u8>,
}

/// The next entry of the socket's error queue that came from ICMP, if any (others are skipped).
fn next_error(sock: &impl std::os::fd::AsRawFd) -> Option<Queued> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrIn};
    for _ in 0..MAX_QUEUED_READ {
        let mut data = [0u8; 256];
        let mut iov = [std::io::IoSliceMut::new(&mut data)];
        let mut space = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in);
        let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
        let msg =
            recvmsg::<SockaddrIn>(sock.as_raw_fd(), &mut iov, Some(&mut space), flags).ok()?;
        let to = msg.address.map(|a| std::net::SocketAddr::V4(a.into()));
        let n = msg.bytes.min(256);
        let mut found = None;
        for c in msg.cmsgs().ok()? {
            // SO_EE_ORIGIN_ICMP: an ICMP error from a router or the peer
            if let ControlMessageOwned::Ipv4RecvErr(ee, Some(from)) = c {
                if ee.ee_origin == 2 {
                    let ip = std::net::Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr));
                    found = Some((ee.ee_type, ee.ee_code, std::net::IpAddr::V4(ip)));
                }
            }
        }
        if let Some((kind, code, from)) = found {
            return Some(Queued {
                kind,
                code,
                from,
                to,
                quoted: data[..n].to_vec(),
            });
        }
    }
    None
}

/// What a socket's error queue held, judged against the datagrams it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quoting {
    /// An ICMP error quoting one of them: (type, code, sender).
    Ours(u8, u8, std::net::IpAddr),
    /// Only errors that quote something else (forged: the ports guessed, not the payload).
    Others,
    /// No ICMP error at all.
    Empty,
}

impl Quoting {
    pub(crate) fn ours(self) -> Option<(u8, u8, std::net::IpAddr)> {
        match self {
            Quoting::Ours(t, c, f) => Some((t, c, f)),
            Quoting::Others | Quoting::Empty => None,
        }
    }
}

/// The first ICMP error queued for this socket that quotes a datagram it sent: the kernel matched
/// the 5-tuple; where the router quoted payload too, it must be the start of one of `sent` (a
/// forged error that guessed the ports but not the payload — a nonce, a DNS ID, an NTP timestamp
/// — is skipped). At most [`MAX_QUEUED_READ`] entries read.
pub(crate) fn queued_icmp_quoting(sock: &impl std::os::fd::AsRawFd, sent: &[&[u8]]) -> Quoting {
    let mut seen = Quoting::Empty;
    for _ in 0..MAX_QUEUED_READ {
        let Some(e) = next_error(sock) else {
            return seen;
        };
        if quotes_one_of(&e.quoted, sent) {
            return Quoting::Ours(e.kind, e.code, e.from);
        }
        seen = Quoting::Others;
    }
    seen
}

/// The first ICMP error queued for a TCP socket whose quoted TCP header does not carry sequence
/// number 0 (at most [`MAX_QUEUED_READ`] entries read). The kernel compares an error's quoted
/// sequence with the connection's, but between hashing a connecting socket and choosing its
/// initial sequence number it compares against 0: a flood of forged errors quoting 0 gets one in
/// (seen in the lab, 2 runs in 12; none with any other number). A real SYN's is 0 once in 2^32.
pub(crate) fn queued_icmp_tcp(
    sock: &impl std::os::fd::AsRawFd,
) -> Option<(u8, u8, std::net::IpAddr)> {
    for _ in 0..MAX_QUEUED_READ {
        let e = next_error(sock)?;
        if !quotes_sequence_zero(&e.quoted) {
            return Some((e.kind, e.code, e.from));
        }
    }
    None
}

/// Whether a quoted TCP header (ports, then the sequence number) carries sequence number 0.
pub(crate) fn quotes_sequence_zero(tcp: &[u8]) -> bool {
    tcp.get(4..8).is_some_and(|s| s == [0, 0, 0, 0])
}

/// Whether a quoted payload (maybe empty, maybe cut) is the start of one of the datagrams sent.
pub(crate) fn quotes_one_of(quoted: &[u8], sent: &[&[u8]]) -> bool {
    quoted.is_empty()
        || sent
            .iter()
            .any(|s| s.len() >= quoted.len() && s[..quoted.len()] == *quoted)
}

/// Empty the socket's error queue (answers to earlier probes), at most [`MAX_QUEUED_READ`] entries.
pub(crate) fn drain_queued(sock: &impl std::os::fd::AsRawFd) {
    for _ in 0..MAX_QUEUED_READ {
        if next_error(sock).is_none() {
            return;
        }
    }
}

/// The ICMP error queued for this socket and the destination of the datagram that provoked it
/// (a reply the responder sent): (type, code, sender, original destination).
pub(crate) fn queued_icmp_for(
    sock: &impl std::os::fd::AsRawFd,
) -> Option<(u8, u8, std::net::IpAddr, std::net::SocketAddr)> {
    let e = next_error(sock)?;
    Some((e.kind, e.code, e.from, e.to?))
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

#[cfg(test)]
mod tests {
    use super::{quotes_one_of, quotes_sequence_zero};

    #[test]
    fn a_quoted_sequence_number_zero_is_not_believed() {
        assert!(quotes_sequence_zero(&[0x9c, 0x41, 1, 0xbb, 0, 0, 0, 0]));
        assert!(!quotes_sequence_zero(&[0x9c, 0x41, 1, 0xbb, 0, 0, 0, 1]));
        assert!(
            !quotes_sequence_zero(&[0x9c, 0x41, 1, 0xbb]),
            "not quoted: the kernel's check stands"
        );
    }

    #[test]
    fn a_quoted_payload_must_be_the_start_of_a_datagram_sent() {
        let a: &[u8] = b"\x01nonce-aaaa-payload";
        let b: &[u8] = b"\x01nonce-bbbb-payload";
        assert!(
            quotes_one_of(b"", &[a]),
            "a router that quotes 8 bytes: the kernel's 5-tuple match"
        );
        assert!(quotes_one_of(b"\x01nonce-aa", &[a]), "cut");
        assert!(quotes_one_of(a, &[b, a]), "the second attempt");
        assert!(
            !quotes_one_of(b"\x01nonce-cccc", &[a, b]),
            "forged: the ports guessed, not the nonce"
        );
        assert!(
            !quotes_one_of(b"\x01nonce-aaaa-payload-and-more", &[a]),
            "longer than sent"
        );
        assert!(!quotes_one_of(b"x", &[]), "nothing sent");
    }
}
