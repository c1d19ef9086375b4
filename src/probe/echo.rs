//! The agent's own probe protocol (UDP 8472 echo, TCP banner) between `check`/`inbound` and
//! `responder`. Pure encode/decode, fuzzable: a reply is believed only when it carries our magic and
//! the nonce we sent, so a middlebox cannot fake it.
//!
//! A UDP probe is a real VXLAN frame (RFC 7348), so whatever drops or inspects VXLAN (a
//! VXLAN-aware firewall, a hypervisor filter, NSX) treats it as it would treat Flannel's traffic:
//!
//! ```text
//! VXLAN  flags 0x08 | 3 reserved | VNI (24 bits, Flannel's default 1) | 1 reserved      8 bytes
//! inner Ethernet  dst MAC | src MAC | EtherType 0x0800                                14 bytes
//! inner IPv4  (IHL 5, DF, TTL 64, UDP, header checksum) 169.254.84.72 -> .73          20 bytes
//! inner UDP   port 48472 -> 8472, length, checksum 0                                  8 bytes
//! AEPF        "AEPF" | version 1 | kind (1 request, 2 reply) | 2 zero | nonce 16 | size u32 BE
//! padding     0x5a up to the probed size
//! ```
//!
//! A reply may carry, right after the AEPF header (in what older versions pad), the source the
//! responder saw: `"OBSV" | family 4 or 6 | port u16 BE | address 4 or 16 bytes`. The agent compares
//! it with its own socket's address to see a NAT on the way. Older agents ignore it (it is
//! padding to them); a reply carries it only when the request was at least as large, so a reply is
//! never larger than its request.
//!
//! A request may carry, in the same place, the address the prober listens on for the *return*
//! datagram: `"BACK" | family | port u16 BE | address`: the node's own address and Flannel's UDP
//! 8472. The responder then also sends one datagram of kind 3 (return) with the request's nonce,
//! from its port, to that address, as a cloud node's VXLAN toward this node would travel; its reply
//! then ends with `"RTRN"` so the prober knows one was sent. It does so only toward the address
//! the request came from, or, when a NAT rewrote that, toward a private address (RFC 1918,
//! 100.64.0.0/10, IPv6 ULA): one small datagram per request, never larger than the request, and
//! never to an arbitrary public address. Older responders ignore the block (it is padding).
//!
//! The outer headers (IPv4 20 + UDP 8) plus the 8 + 14 above are `VXLAN_OVERHEAD`: a probe of
//! N bytes on the wire carries an inner packet of N − 50 bytes, exactly as Flannel's would.

use std::time::Duration;

use tokio::time::Instant;

use crate::constants::{VXLAN_PORT, VXLAN_VNI};

pub(crate) const MAGIC: &[u8; 4] = b"AEPF";
pub(crate) const VERSION: u8 = 1;
/// VXLAN header (8) + inner Ethernet (14) + inner IPv4 (20) + inner UDP (8).
pub(crate) const FRAMING: usize = 50;
const AEPF_LEN: usize = 28;
/// The smallest datagram of the protocol, and the size of every reply.
pub const HEADER: usize = FRAMING + AEPF_LEN;
pub const KIND_REQUEST: u8 = 1;
pub const KIND_REPLY: u8 = 2;
/// The responder's datagram to the address a request's BACK block names (the return path).
pub(crate) const KIND_RETURN: u8 = 3;
/// The magic of a request's return-address block.
pub(crate) const BACK_MAGIC: &[u8; 4] = b"BACK";
/// The marker that ends a reply whose responder sent the return datagram.
pub(crate) const RETURN_MARKER: &[u8; 4] = b"RTRN";
/// The magic of the observed-source block of a reply.
pub(crate) const OBSERVED_MAGIC: &[u8; 4] = b"OBSV";
/// The largest observed-source block (IPv6).
pub const OBSERVED_MAX: usize = 4 + 1 + 2 + 16;
/// The TCP banner prefix the responder writes on every accepted connection.
pub const TCP_BANNER: &str = "AEPF-TCP";

/// VXLAN flags: the I bit (a valid VNI follows).
const VXLAN_FLAG_I: u8 = 0x08;
/// Locally administered inner MACs and link-local inner addresses: never a real host's.
const MAC_PROBER: [u8; 6] = [0x02, 0xae, 0x70, 0x00, 0x00, 0x01];
const MAC_RESPONDER: [u8; 6] = [0x02, 0xae, 0x70, 0x00, 0x00, 0x02];
const IP_PROBER: [u8; 4] = [169, 254, 84, 72];
const IP_RESPONDER: [u8; 4] = [169, 254, 84, 73];
const INNER_SPORT: u16 = 48472;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoFrame {
    pub kind: u8,
    pub nonce: [u8; 16],
    /// For a request: the bytes sent; for a reply: the bytes the responder received.
    pub size: u32,
}

/// The RFC 1071 checksum of an IPv4 header.
fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // folded: sum fits 16 bits now
    !u16::try_from(sum).unwrap_or(u16::MAX)
}

/// Encode a packet as a VXLAN frame padded to `total` bytes (at least `HEADER`).
pub fn encode(p: &EchoFrame, total: usize) -> Vec<u8> {
    let total = total.max(HEADER);
    let reply = p.kind == KIND_REPLY;
    let (smac, dmac, sip, dip, sport, dport) = if reply {
        (
            MAC_RESPONDER,
            MAC_PROBER,
            IP_RESPONDER,
            IP_PROBER,
            VXLAN_PORT,
            INNER_SPORT,
        )
    } else {
        (
            MAC_PROBER,
            MAC_RESPONDER,
            IP_PROBER,
            IP_RESPONDER,
            INNER_SPORT,
            VXLAN_PORT,
        )
    };
    let mut b = Vec::with_capacity(total);
    // VXLAN
    b.extend_from_slice(&[VXLAN_FLAG_I, 0, 0, 0]);
    b.extend_from_slice(&VXLAN_VNI.to_be_bytes()[1..]);
    b.push(0);
    // inner Ethernet
    b.extend_from_slice(&dmac);
    b.extend_from_slice(&smac);
    b.extend_from_slice(&0x0800u16.to_be_bytes());
    // inner IPv4
    let ip_len = u16::try_from(total - 22).unwrap_or(u16::MAX);
    let ip_start = b.len();
    b.extend_from_slice(&[0x45, 0]);
    b.extend_from_slice(&ip_len.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]); // id 0, DF, TTL 64, UDP, checksum later
    b.extend_from_slice(&sip);
    b.extend_from_slice(&dip);
    let sum = ipv4_checksum(&b[ip_start..ip_start + 20]);
    b[ip_start + 10..ip_start + 12].copy_from_slice(&sum.to_be_bytes());
    // inner UDP
    b.extend_from_slice(&sport.to_be_bytes());
    b.extend_from_slice(&dport.to_be_bytes());
    b.extend_from_slice(&ip_len.saturating_sub(20).to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    // AEPF
    b.extend_from_slice(MAGIC);
    b.push(VERSION);
    b.push(p.kind);
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&p.nonce);
    b.extend_from_slice(&p.size.to_be_bytes());
    b.resize(total, 0x5a);
    b
}

/// Decode; None for anything that is not exactly our protocol inside a well-formed VXLAN frame.
pub fn decode(b: &[u8]) -> Option<EchoFrame> {
    if b.len() < HEADER || b[0] & VXLAN_FLAG_I == 0 || b[4..7] != VXLAN_VNI.to_be_bytes()[1..] {
        return None;
    }
    let eth = &b[8..22];
    if eth[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &b[22..42];
    let ip_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip[0] != 0x45
        || ip[9] != 17
        || ipv4_checksum(ip) != 0
        || ip_len < 28 + AEPF_LEN
        || 22 + ip_len > b.len()
    {
        return None;
    }
    let udp = &b[42..50];
    if usize::from(u16::from_be_bytes([udp[4], udp[5]])) != ip_len - 20 {
        return None;
    }
    let a = &b[FRAMING..HEADER];
    if &a[..4] != MAGIC || a[4] != VERSION || a[6] != 0 || a[7] != 0 {
        return None;
    }
    let kind = a[5];
    if !matches!(kind, KIND_REQUEST | KIND_REPLY | KIND_RETURN) {
        return None;
    }
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&a[8..24]);
    let size = u32::from_be_bytes([a[24], a[25], a[26], a[27]]);
    Some(EchoFrame { kind, nonce, size })
}

/// The responder's answer to a datagram: a small reply (no amplification), or None (ignore it).
pub fn answer(datagram: &[u8]) -> Option<Vec<u8>> {
    answer_from(datagram, None)
}

/// What the responder sends for one request: the reply to its source, and the return datagram to
/// the address its BACK block names, when it may send one there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub reply: Vec<u8>,
    pub back: Option<(std::net::SocketAddr, Vec<u8>)>,
}

/// An address the responder may send a return datagram to although the request came from
/// elsewhere (a NAT rewrote it): a private one, never an arbitrary public address.
fn private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// [`answer_from`] plus the return datagram a request's BACK block asks for.
pub(crate) fn answer_with_return(datagram: &[u8], from: std::net::SocketAddr) -> Option<Answer> {
    let p = decode(datagram)?;
    if p.kind != KIND_REQUEST {
        return None;
    }
    let back = back_of(datagram)
        .filter(|b| !b.ip().is_unspecified() && b.port() != 0)
        .filter(|b| b.ip() == from.ip() || private(b.ip()));
    let mut reply = answer_from(datagram, Some(from))?;
    let Some(to) = back else {
        return Some(Answer { reply, back: None });
    };
    // the marker rides at the end of the reply; the reply stays no larger than the request
    if reply.len() + RETURN_MARKER.len() > datagram.len() {
        return Some(Answer { reply, back: None });
    }
    reply.extend_from_slice(RETURN_MARKER);
    let ret = encode(
        &EchoFrame {
            kind: KIND_RETURN,
            nonce: p.nonce,
            size: u32::try_from(datagram.len()).unwrap_or(u32::MAX),
        },
        HEADER,
    );
    Some(Answer {
        reply,
        back: Some((to, ret)),
    })
}

/// An echo request that names the address the prober listens on for the return datagram.
pub(crate) fn encode_request(
    nonce: [u8; 16],
    total: usize,
    back: Option<std::net::SocketAddr>,
) -> Vec<u8> {
    let size = u32::try_from(total).unwrap_or(u32::MAX);
    let mut b = encode(
        &EchoFrame {
            kind: KIND_REQUEST,
            nonce,
            size,
        },
        total,
    );
    if let Some(addr) = back {
        let mut block = BACK_MAGIC.to_vec();
        block.extend_from_slice(&observed_block(addr)[4..]);
        if b.len() >= HEADER + block.len() {
            b[HEADER..HEADER + block.len()].copy_from_slice(&block);
        }
    }
    b
}

/// The return address a request names, if it carries a BACK block (pure; fuzzed with `decode`).
pub(crate) fn back_of(request: &[u8]) -> Option<std::net::SocketAddr> {
    decode(request).filter(|p| p.kind == KIND_REQUEST)?;
    address_block(request.get(HEADER..)?, BACK_MAGIC)
}

/// Whether a reply says its responder sent the return datagram.
pub(crate) fn promises_return(reply: &[u8]) -> bool {
    reply.len() >= HEADER + RETURN_MARKER.len() && reply.ends_with(RETURN_MARKER)
}

fn address_block(b: &[u8], magic: &[u8; 4]) -> Option<std::net::SocketAddr> {
    if b.get(..4)? != magic {
        return None;
    }
    let port = u16::from_be_bytes([*b.get(5)?, *b.get(6)?]);
    let ip = match b.get(4)? {
        4 => std::net::IpAddr::from(<[u8; 4]>::try_from(b.get(7..11)?).ok()?),
        6 => std::net::IpAddr::from(<[u8; 16]>::try_from(b.get(7..23)?).ok()?),
        _ => return None,
    };
    Some(std::net::SocketAddr::new(ip, port))
}

/// [`answer`], telling the prober the source address and port the responder saw (`from`) when the
/// request is large enough to carry it back (the reply is never larger than the request).
pub fn answer_from(datagram: &[u8], from: Option<std::net::SocketAddr>) -> Option<Vec<u8>> {
    let p = decode(datagram)?;
    if p.kind != KIND_REQUEST {
        return None;
    }
    // the observed source rides along only when the request is large enough to carry it back
    let block = from
        .map(observed_block)
        .filter(|b| datagram.len() >= HEADER + b.len());
    let extra = block.as_ref().map_or(0, Vec::len);
    let frame = EchoFrame {
        kind: KIND_REPLY,
        nonce: p.nonce,
        size: u32::try_from(datagram.len()).unwrap_or(u32::MAX),
    };
    let mut reply = encode(&frame, HEADER + extra);
    if let Some(b) = block {
        reply[HEADER..].copy_from_slice(&b);
    }
    Some(reply)
}

fn observed_block(from: std::net::SocketAddr) -> Vec<u8> {
    let mut b = OBSERVED_MAGIC.to_vec();
    match from.ip() {
        std::net::IpAddr::V4(v4) => {
            b.push(4);
            b.extend_from_slice(&from.port().to_be_bytes());
            b.extend_from_slice(&v4.octets());
        }
        std::net::IpAddr::V6(v6) => {
            b.push(6);
            b.extend_from_slice(&from.port().to_be_bytes());
            b.extend_from_slice(&v6.octets());
        }
    }
    b
}

/// The source a reply says the responder saw, if it carries one (pure; fuzzed with `decode`).
pub fn observed(reply: &[u8]) -> Option<std::net::SocketAddr> {
    decode(reply).filter(|p| p.kind == KIND_REPLY)?;
    address_block(reply.get(HEADER..)?, OBSERVED_MAGIC)
}

/// What the echoes to one peer saw.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoOutcome {
    pub sent: u32,
    pub received: u32,
    pub rtts_ms: Vec<f64>,
    /// An error seen while sending or receiving (e.g. ICMP port unreachable), if any.
    pub error: Option<DgramError>,
    /// The full-size Don't-Fragment frame sent after the small echoes answered, if one was.
    pub full: Option<FullSize>,
    /// The source address the responder saw, from its replies (a NAT on the way rewrites it).
    pub observed: Option<std::net::SocketAddr>,
    /// This side's own socket address toward the peer.
    pub local: Option<std::net::SocketAddr>,
    /// The return path: the peer's own datagram to this node's address and UDP 8472.
    pub returned: ReturnPath,
}

/// Whether the peer's datagram toward this node's own address came back (the direction a cloud
/// node's VXLAN and every connection the VPC opens travel).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReturnPath {
    /// Not tested: why (no reply came, an older responder, the port is taken here, ...).
    #[default]
    NotTested,
    Untested(String),
    /// The responder sent it and it arrived, at this address.
    Arrived(std::net::SocketAddr),
    /// The responder sent it toward this address, and nothing arrived.
    Lost(std::net::SocketAddr),
}

/// One VXLAN frame of the interface MTU with DF: what Flannel sends for a full-size pod packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullSize {
    pub size: u32,
    /// What happened to it, or why it could not be sent (DF unavailable, ...).
    pub reply: Result<crate::probe::mtu::DfReply, String>,
}

/// The bytes of a small echo request: a short inner packet, as Flannel's ARP and TCP ACKs are.
pub(crate) const ECHO_SIZE: u32 = 128;

/// A fresh random-enough nonce (time, pid and a counter through a hash; not a secret, only unguessable
/// for a middlebox that does not see the request).
pub fn nonce() -> [u8; 16] {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = [0u8; 16];
    for half in out.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        half.copy_from_slice(&h.finish().to_be_bytes());
    }
    out
}

/// Why a datagram could not be sent or received (mapped from the OS in `sys/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DgramError {
    /// ICMP port unreachable came back: nothing listens there.
    Refused,
    /// Larger than the path MTU the kernel knows (EMSGSIZE with Don't Fragment).
    TooBig,
    /// An ICMP error whose sender the kernel named (`IP_RECVERR`, `SO_EE_OFFENDER`), when it is
    /// not the peer itself: a router or firewall on the way. `what` is the error in words.
    IcmpFrom {
        what: String,
        from: std::net::IpAddr,
    },
    Other(String),
}

/// One UDP socket toward one peer, at the level of one datagram (the seam fakes replace).
#[async_trait::async_trait]
pub trait Datagrams: Send {
    async fn send_probe(&mut self, datagram: &[u8]) -> Result<(), DgramError>;
    async fn recv_probe(&mut self, buf: &mut [u8]) -> Result<usize, DgramError>;
}

/// The echo requests of one run: a reply counts only when it carries a nonce this run sent and that
/// has not been answered yet, so forged, replayed and all-zero nonces never count.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    outstanding: Vec<([u8; 16], Instant)>,
    pub sent: u32,
    pub received: u32,
    pub rtts_ms: Vec<f64>,
    /// Datagrams that were not a reply to an outstanding request.
    pub ignored: u32,
    /// The source the responder saw, from the first authenticated reply that says it.
    pub observed: Option<std::net::SocketAddr>,
    /// Every nonce this run sent (a return datagram may come after its reply).
    nonces: Vec<[u8; 16]>,
    /// A reply said its responder sent the return datagram.
    pub return_promised: bool,
    /// Authenticated return datagrams received.
    pub returns: u32,
}

impl Tally {
    pub(crate) fn on_send(&mut self, nonce: [u8; 16], at: Instant) {
        self.sent += 1;
        self.outstanding.push((nonce, at));
        self.nonces.push(nonce);
    }
    /// Count a datagram on the return socket; true when it is a return datagram of this run.
    pub(crate) fn on_return(&mut self, datagram: &[u8]) -> bool {
        let ours = decode(datagram)
            .filter(|p| p.kind == KIND_RETURN)
            .is_some_and(|p| self.nonces.contains(&p.nonce));
        if ours {
            self.returns += 1;
        } else {
            self.ignored += 1;
        }
        ours
    }
    /// Count a received datagram; true when it answered one of our requests.
    pub(crate) fn on_datagram(&mut self, datagram: &[u8], at: Instant) -> bool {
        let matched = decode(datagram)
            .filter(|p| p.kind == KIND_REPLY)
            .and_then(|p| self.outstanding.iter().position(|(n, _)| *n == p.nonce));
        if let Some(i) = matched {
            let (_, sent_at) = self.outstanding.swap_remove(i);
            self.received += 1;
            if self.observed.is_none() {
                self.observed = observed(datagram);
            }
            self.return_promised |= promises_return(datagram);
            self.rtts_ms
                .push(at.saturating_duration_since(sent_at).as_secs_f64() * 1000.0);
            true
        } else {
            self.ignored += 1;
            false
        }
    }
    pub(crate) fn all_answered(&self) -> bool {
        self.outstanding.is_empty()
    }
}

/// Send `tries` echo requests a few ms apart and count authenticated replies within `timeout`.
pub async fn echo<D: Datagrams + ?Sized>(d: &mut D, tries: u32, timeout: Duration) -> EchoOutcome {
    echo_with_return(d, None, tries, timeout).await
}

/// [`echo`], and when `back` is given (a socket listening on this node's address and UDP 8472, and
/// that address), the requests ask the responder for a return datagram there; after the replies
/// it is awaited a few round trips (with a floor), never past `timeout`.
pub(crate) async fn echo_with_return<D: Datagrams + ?Sized>(
    d: &mut D,
    mut back: Option<(&mut dyn Datagrams, std::net::SocketAddr)>,
    tries: u32,
    timeout: Duration,
) -> EchoOutcome {
    let back_addr = back.as_ref().map(|(_, a)| *a);
    let start = Instant::now();
    let end = start + timeout;
    let mut tally = Tally::default();
    let mut error = None;
    // a few ms apart: enough to see loss of single packets, without slowing the run
    let spacing = (timeout / (tries.max(1) * 4)).min(Duration::from_millis(5));
    let mut next_send = start;
    let mut buf = [0u8; 512];
    while Instant::now() < end {
        let sending = tally.sent < tries;
        if sending && Instant::now() >= next_send {
            let n = nonce();
            match d
                .send_probe(&encode_request(n, ECHO_SIZE as usize, back_addr))
                .await
            {
                Ok(()) => tally.on_send(n, Instant::now()),
                Err(e) => {
                    error = Some(e);
                    tally.sent += 1; // attempted: counts as lost
                }
            }
            next_send = Instant::now() + spacing;
            continue;
        }
        if !sending && tally.all_answered() {
            break;
        }
        let until = if sending { next_send.min(end) } else { end };
        match tokio::time::timeout_at(until, d.recv_probe(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(len)) => {
                tally.on_datagram(&buf[..len], Instant::now());
            }
            Ok(Err(e)) => {
                error = Some(e);
                if !sending {
                    break;
                }
            }
        }
    }
    let returned = match (&mut back, back_addr) {
        (Some((sock, _)), Some(addr)) if tally.return_promised => {
            // the return datagrams left the responder right after the replies: a few round trips
            let rtt = tally.rtts_ms.iter().copied().fold(0.0, f64::max);
            let grace =
                Duration::from_secs_f64((rtt * 4.0 / 1000.0).max(RETURN_FLOOR.as_secs_f64()));
            let until = (Instant::now() + grace).min(end.max(Instant::now()));
            while tally.returns == 0 {
                match tokio::time::timeout_at(until, sock.recv_probe(&mut buf)).await {
                    Ok(Ok(len)) => {
                        tally.on_return(&buf[..len]);
                    }
                    Ok(Err(_)) => {}
                    Err(_) => break,
                }
            }
            if tally.returns > 0 {
                ReturnPath::Arrived(addr)
            } else {
                ReturnPath::Lost(addr)
            }
        }
        (Some(_), Some(_)) if tally.received > 0 => ReturnPath::Untested(
            "the responder did not offer a return datagram (an older version)".into(),
        ),
        _ => ReturnPath::NotTested,
    };
    EchoOutcome {
        sent: tally.sent,
        received: tally.received,
        rtts_ms: tally.rtts_ms,
        error,
        full: None,
        observed: tally.observed,
        local: None,
        returned,
    }
}

/// The least time a return datagram is awaited after the replies (a loaded responder, a slow line).
pub(crate) const RETURN_FLOOR: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reply() {
        let p = EchoFrame {
            kind: KIND_REQUEST,
            nonce: [7; 16],
            size: 1400,
        };
        let b = encode(&p, 1400);
        assert_eq!(b.len(), 1400);
        assert_eq!(decode(&b), Some(p));
        let r = answer(&b).unwrap();
        assert_eq!(r.len(), HEADER);
        assert_eq!(
            decode(&r),
            Some(EchoFrame {
                kind: KIND_REPLY,
                nonce: [7; 16],
                size: 1400
            })
        );
        // a reply is never answered (no loops between two responders)
        assert_eq!(answer(&r), None);
    }

    #[test]
    fn garbage_is_ignored() {
        assert_eq!(answer(b""), None);
        assert_eq!(answer(&[0u8; 65507]), None);
        let good = encode(
            &EchoFrame {
                kind: KIND_REQUEST,
                nonce: [1; 16],
                size: 0,
            },
            128,
        );
        assert!(answer(&good).is_some());
        // any one header field wrong: the VXLAN I flag, the VNI, the EtherType, the inner IPv4
        // version, protocol and checksum, the inner UDP length, the magic, version and kind
        for (at, v) in [
            (0, 0x00),
            (6, 9),
            (20, 0x86),
            (22, 0x46),
            (31, 6),
            (33, 0),
            (47, 1),
            (50, b'X'),
            (54, 9),
            (55, 3),
        ] {
            let mut b = good.clone();
            b[at] = v;
            assert_eq!(answer(&b), None, "byte {at} set to {v:#x} still answered");
        }
        // the AEPF packet alone, without VXLAN framing, is not the protocol
        assert_eq!(answer(&good[FRAMING..]), None);
        assert_eq!(answer(&b"AEPF"[..]), None);
        // pseudo-random bytes never panic
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for len in 0..300 {
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x.to_le_bytes()[0]
                })
                .collect();
            let _ = answer(&v);
        }
    }

    #[test]
    fn probes_are_real_vxlan_frames() {
        let b = encode(
            &EchoFrame {
                kind: KIND_REQUEST,
                nonce: [3; 16],
                size: 1500,
            },
            1472,
        );
        assert_eq!(b.len(), 1472);
        assert_eq!(b[0], 0x08, "VXLAN I flag");
        assert_eq!(&b[4..7], &[0, 0, 1], "Flannel's default VNI 1");
        assert_eq!(&b[20..22], &[0x08, 0x00], "inner EtherType IPv4");
        assert_eq!(
            u16::from_be_bytes([b[24], b[25]]) as usize,
            1472 - 22,
            "inner IPv4 total length"
        );
        assert_eq!(ipv4_checksum(&b[22..42]), 0, "inner IPv4 header checksum");
        assert_eq!(
            u16::from_be_bytes([b[44], b[45]]),
            VXLAN_PORT,
            "inner UDP destination"
        );
        assert_eq!(&b[FRAMING..FRAMING + 4], MAGIC);
        // the reply swaps the inner endpoints and stays small
        let r = answer(&b).unwrap();
        assert_eq!(r.len(), HEADER);
        assert_eq!(&r[8..14], &MAC_PROBER);
        assert_eq!(&r[34..38], &IP_RESPONDER);
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
    }

    /// A fake peer: echoes each request after `rtt`, optionally injecting forged replies.
    struct FakePeer {
        rtt: Duration,
        answer: bool,
        forged: Vec<Vec<u8>>,
        queue: std::collections::VecDeque<(Instant, Vec<u8>)>,
    }

    #[async_trait::async_trait]
    impl Datagrams for FakePeer {
        async fn send_probe(&mut self, d: &[u8]) -> Result<(), DgramError> {
            if self.answer {
                if let Some(r) = answer(d) {
                    self.queue.push_back((Instant::now() + self.rtt, r));
                }
            }
            for f in self.forged.drain(..) {
                self.queue.push_back((Instant::now(), f));
            }
            Ok(())
        }
        async fn recv_probe(&mut self, buf: &mut [u8]) -> Result<usize, DgramError> {
            // cancel-safe like a real socket: a datagram leaves the queue only when delivered
            match self.queue.front().cloned() {
                Some((at, d)) => {
                    tokio::time::sleep_until(at).await;
                    self.queue.pop_front();
                    buf[..d.len()].copy_from_slice(&d);
                    Ok(d.len())
                }
                None => std::future::pending().await,
            }
        }
    }

    fn peer(answer: bool) -> FakePeer {
        FakePeer {
            rtt: Duration::from_millis(30),
            answer,
            forged: vec![],
            queue: Default::default(),
        }
    }

    /// Datagrams in flight toward the node's return socket.
    type InFlight =
        std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<(Instant, Vec<u8>)>>>;

    /// A fake responder that also sends the return datagram (through `to`, when the return path
    /// is open) the way `answer_with_return` decides, as seen from `from`.
    struct FakeReturning {
        inner: FakePeer,
        from: std::net::SocketAddr,
        open: bool,
        returns: InFlight,
    }

    #[async_trait::async_trait]
    impl Datagrams for FakeReturning {
        async fn send_probe(&mut self, d: &[u8]) -> Result<(), DgramError> {
            if let Some(a) = answer_with_return(d, self.from) {
                let at = Instant::now() + self.inner.rtt;
                self.inner.queue.push_back((at, a.reply));
                if let (Some((_, ret)), true) = (a.back, self.open) {
                    self.returns.lock().unwrap().push_back((at, ret));
                }
            }
            Ok(())
        }
        async fn recv_probe(&mut self, buf: &mut [u8]) -> Result<usize, DgramError> {
            self.inner.recv_probe(buf).await
        }
    }

    /// The node's end of the return path: what the fake responder sent there.
    struct ReturnEnd(InFlight);

    #[async_trait::async_trait]
    impl Datagrams for ReturnEnd {
        async fn send_probe(&mut self, _: &[u8]) -> Result<(), DgramError> {
            Ok(())
        }
        async fn recv_probe(&mut self, buf: &mut [u8]) -> Result<usize, DgramError> {
            let next = self.0.lock().unwrap().pop_front();
            match next {
                Some((at, d)) => {
                    tokio::time::sleep_until(at).await;
                    buf[..d.len()].copy_from_slice(&d);
                    Ok(d.len())
                }
                None => std::future::pending().await,
            }
        }
    }

    async fn with_return(seen: &str, open: bool) -> (EchoOutcome, Duration) {
        let returns = std::sync::Arc::default();
        let mut p = FakeReturning {
            inner: peer(false),
            from: seen.parse().unwrap(),
            open,
            returns: std::sync::Arc::clone(&returns),
        };
        let mut end = ReturnEnd(returns);
        let back: std::net::SocketAddr = "10.0.0.10:8472".parse().unwrap();
        let start = Instant::now();
        let o = echo_with_return(&mut p, Some((&mut end, back)), 3, Duration::from_secs(2)).await;
        (o, start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn the_return_datagram_is_awaited_briefly_and_told() {
        // no NAT, open path: it arrives, and the run does not wait out its timeout
        let (o, took) = with_return("10.0.0.10:40000", true).await;
        assert_eq!(
            o.returned,
            ReturnPath::Arrived("10.0.0.10:8472".parse().unwrap())
        );
        assert!(took < Duration::from_millis(200), "{took:?}");
        // a NAT (the responder saw 172.31.255.1) and no route back: it is lost, after a short wait
        let (o, took) = with_return("172.31.255.1:40000", false).await;
        assert_eq!(o.received, 3);
        assert_eq!(
            o.returned,
            ReturnPath::Lost("10.0.0.10:8472".parse().unwrap())
        );
        assert!(took < Duration::from_millis(300), "{took:?}");
    }

    #[test]
    fn the_responder_returns_only_to_the_source_or_a_private_address() {
        let req =
            |back: &str| encode_request([3; 16], ECHO_SIZE as usize, Some(back.parse().unwrap()));
        let from: std::net::SocketAddr = "172.31.255.1:40000".parse().unwrap();
        // a private address behind a NAT: yes, one datagram no larger than the request
        let a = answer_with_return(&req("10.0.0.10:8472"), from).unwrap();
        let (to, ret) = a.back.unwrap();
        assert_eq!(to, "10.0.0.10:8472".parse().unwrap());
        assert!(ret.len() <= ECHO_SIZE as usize && a.reply.len() <= ECHO_SIZE as usize);
        assert_eq!(decode(&ret).unwrap().kind, KIND_RETURN);
        assert!(promises_return(&a.reply));
        assert_eq!(observed(&a.reply), Some(from));
        // an arbitrary public address is never a target
        assert!(answer_with_return(&req("198.51.100.7:8472"), from)
            .unwrap()
            .back
            .is_none());
        // the source itself is, whatever its range
        let public: std::net::SocketAddr = "198.51.100.7:40000".parse().unwrap();
        assert!(answer_with_return(&req("198.51.100.7:8472"), public)
            .unwrap()
            .back
            .is_some());
        // a request without the block, or too small to carry the marker back: no return
        assert!(
            answer_with_return(&encode_request([3; 16], ECHO_SIZE as usize, None), from)
                .unwrap()
                .back
                .is_none()
        );
        assert!(answer_with_return(
            &encode_request([3; 16], HEADER, Some("10.0.0.10:8472".parse().unwrap())),
            from
        )
        .unwrap()
        .back
        .is_none());
        // a return datagram is not a reply, and a forged one (another nonce) does not count
        let mut t = Tally::default();
        t.on_send([3; 16], Instant::now());
        assert!(!t.on_datagram(&ret, Instant::now()));
        assert!(t.on_return(&ret));
        let mut forged = ret.clone();
        forged[FRAMING + 8] ^= 1;
        assert!(!t.on_return(&forged));
    }

    #[tokio::test(start_paused = true)]
    async fn all_echoed_ends_early_with_round_trips() {
        let start = Instant::now();
        let o = echo(&mut peer(true), 3, Duration::from_secs(3)).await;
        assert_eq!((o.sent, o.received), (3, 3));
        assert!(o.rtts_ms.iter().all(|r| (29.0..=31.0).contains(r)), "{o:?}");
        assert!(start.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_waits_the_whole_timeout_and_no_more() {
        let start = Instant::now();
        let o = echo(&mut peer(false), 3, Duration::from_secs(2)).await;
        assert_eq!((o.sent, o.received), (3, 0));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn forged_and_zero_nonces_never_count() {
        let mut p = peer(false);
        let zero = encode(
            &EchoFrame {
                kind: KIND_REPLY,
                nonce: [0; 16],
                size: 64,
            },
            HEADER,
        );
        let other = encode(
            &EchoFrame {
                kind: KIND_REPLY,
                nonce: [9; 16],
                size: 64,
            },
            HEADER,
        );
        p.forged = vec![zero.clone(), zero, other];
        let o = echo(&mut p, 3, Duration::from_secs(1)).await;
        assert_eq!(o.received, 0, "{o:?}");
    }

    #[test]
    fn a_reply_counts_once() {
        let mut t = Tally::default();
        let now = Instant::now();
        t.on_send([1; 16], now);
        t.on_send([2; 16], now);
        let r = encode(
            &EchoFrame {
                kind: KIND_REPLY,
                nonce: [1; 16],
                size: 64,
            },
            HEADER,
        );
        assert!(t.on_datagram(&r, now));
        assert!(!t.on_datagram(&r, now), "a replayed reply counted twice");
        assert!(!t.on_datagram(
            &encode(
                &EchoFrame {
                    kind: KIND_REPLY,
                    nonce: [0; 16],
                    size: 64
                },
                HEADER
            ),
            now
        ));
        // a request carrying our nonce is not a reply
        assert!(!t.on_datagram(
            &encode(
                &EchoFrame {
                    kind: KIND_REQUEST,
                    nonce: [2; 16],
                    size: 64
                },
                HEADER
            ),
            now
        ));
        assert_eq!((t.sent, t.received, t.ignored), (2, 1, 3));
    }

    #[test]
    fn replies_say_the_source_seen_and_never_grow_past_the_request() {
        let req = encode(
            &EchoFrame {
                kind: KIND_REQUEST,
                nonce: [7; 16],
                size: 128,
            },
            128,
        );
        let from: std::net::SocketAddr = "172.31.255.1:40001".parse().unwrap();
        let r = answer_from(&req, Some(from)).unwrap();
        assert!(r.len() <= req.len());
        assert_eq!(observed(&r), Some(from));
        assert_eq!(decode(&r).unwrap().nonce, [7; 16]);
        let v6: std::net::SocketAddr = "[2001:db8::1]:8472".parse().unwrap();
        assert_eq!(observed(&answer_from(&req, Some(v6)).unwrap()), Some(v6));
        // a minimal request gets a minimal reply, without the block
        let small = encode(
            &EchoFrame {
                kind: KIND_REQUEST,
                nonce: [1; 16],
                size: 78,
            },
            HEADER,
        );
        let r = answer_from(&small, Some(v6)).unwrap();
        assert_eq!(r.len(), HEADER);
        assert_eq!(observed(&r), None);
        // garbage after the header is not an observation
        let mut junk = answer(&req).unwrap();
        junk.extend_from_slice(b"OBSV\x09\x00\x01");
        assert_eq!(observed(&junk), None);
    }
}
