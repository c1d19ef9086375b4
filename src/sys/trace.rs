//! The sockets of a TTL sweep (`probe::trace`): one fixed flow per sweep, unprivileged.
//! UDP: one connected socket (one 5-tuple), `IP_TTL` set before each datagram, ICMP time exceeded
//! read from the error queue (`IP_RECVERR`, `SO_EE_OFFENDER`). TCP: one SYN per TTL from the same
//! source port (`SO_REUSEADDR`), the kernel reports ICMP errors in SYN_SENT to the error queue of an
//! `IP_RECVERR` socket (Linux ≥ 4.x). Where the kernel does not (CentOS 7's 3.10), a raw ICMP
//! socket (root or CAP_NET_RAW) reads the routers' errors instead, matched to the flow by the TCP
//! header they quote; without either, the row says the sweep could not be traced.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use async_trait::async_trait;
use nix::sys::socket::{setsockopt, sockopt};
use tokio::net::{TcpSocket, UdpSocket};

use super::errno;
use super::errqueue::{queued_icmp, unreachable_words};
use crate::net::OsError;
use crate::probe::trace::{HopProbe, HopReply};

/// An ICMP error from the queue, as a hop's reply toward `dst`.
fn classify(icmp: Option<(u8, u8, IpAddr)>, dst: IpAddr) -> HopReply {
    match icmp {
        Some((11, _, from)) => HopReply::TimeExceeded(from),
        Some((3, _, from)) if from == dst => HopReply::Reached,
        Some((3, code, from)) => HopReply::Rejected {
            from,
            what: unreachable_words(code),
        },
        _ => HopReply::Silent,
    }
}

/// UDP datagrams of one flow toward `dst`.
pub(crate) struct UdpTtl {
    sock: UdpSocket,
    dst: SocketAddr,
    payload: Vec<u8>,
}

impl UdpTtl {
    pub(crate) async fn open(dst: SocketAddr, payload: Vec<u8>) -> Result<UdpTtl, OsError> {
        let sock = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))
            .await
            .map_err(|e| OsError::new("UDP socket", errno::words(&e)))?;
        setsockopt(&sock, sockopt::Ipv4RecvErr, &true)
            .map_err(|e| OsError::new("IP_RECVERR", e))?;
        sock.connect(dst)
            .await
            .map_err(|e| OsError::new("UDP connect", format!("to {dst}: {}", errno::words(&e))))?;
        Ok(UdpTtl { sock, dst, payload })
    }
}

#[async_trait]
impl HopProbe for UdpTtl {
    async fn probe(&mut self, ttl: u8, wait: Duration) -> Result<HopReply, String> {
        // a late answer of an earlier TTL must not count for this one
        while queued_icmp(&self.sock).is_some() {}
        setsockopt(&self.sock, sockopt::Ipv4Ttl, &i32::from(ttl))
            .map_err(|e| format!("IP_TTL: {e}"))?;
        if let Err(e) = self.sock.send(&self.payload).await {
            let icmp = queued_icmp(&self.sock);
            return match classify(icmp, self.dst.ip()) {
                HopReply::Silent => Err(format!("send: {}", errno::words(&e))),
                r @ (HopReply::TimeExceeded(_) | HopReply::Reached | HopReply::Rejected { .. }) => {
                    Ok(r)
                }
            };
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(wait, self.sock.recv(&mut buf)).await {
            Err(_) => Ok(HopReply::Silent),
            // the service itself answered: the destination is reached
            Ok(Ok(_)) => Ok(HopReply::Reached),
            Ok(Err(_)) => Ok(classify(queued_icmp(&self.sock), self.dst.ip())),
        }
    }
}

/// TCP SYNs of one flow (one source port) toward `dst`.
pub(crate) struct TcpTtl {
    dst: SocketAddr,
    port: u16,
    /// The raw ICMP listener, where this process may open one (root or CAP_NET_RAW).
    raw: Option<socket2::Socket>,
    /// Skip the error queue and read the raw listener only (the path of kernels without SYN_SENT
    /// error reporting; `ACK_EDGE_PREFLIGHT_TRACE=raw` chooses it, for the lab's test of it).
    raw_only: bool,
}

impl TcpTtl {
    pub(crate) fn new(dst: SocketAddr) -> TcpTtl {
        let raw = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            Some(socket2::Protocol::ICMPV4),
        )
        .ok()
        .filter(|s| s.set_nonblocking(true).is_ok());
        let raw_only = std::env::var("ACK_EDGE_PREFLIGHT_TRACE").is_ok_and(|v| v == "raw");
        TcpTtl {
            dst,
            port: 0,
            raw,
            raw_only,
        }
    }

    /// Discard what the raw listener holds (answers to earlier TTLs, other traffic).
    fn drain_raw(&self) {
        use std::io::Read;
        let Some(raw) = &self.raw else { return };
        let mut buf = [0u8; 1500];
        while (&mut &*raw).read(&mut buf).is_ok_and(|n| n > 0) {}
    }

    /// The first ICMP error on the raw listener that quotes this flow's SYN.
    fn raw_answer(&self) -> Option<(u8, u8, IpAddr)> {
        use std::io::Read;
        let raw = self.raw.as_ref()?;
        let mut buf = [0u8; 1500];
        while let Ok(n) = (&mut &*raw).read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Some(e) = crate::probe::trace::parse_icmp_error(&buf[..n]) {
                let ours = e.proto == 6
                    && e.dst == self.dst.ip()
                    && e.dport == self.dst.port()
                    && e.sport == self.port;
                if ours {
                    return Some((e.kind, e.code, e.from));
                }
            }
        }
        None
    }
}

#[async_trait]
impl HopProbe for TcpTtl {
    async fn probe(&mut self, ttl: u8, wait: Duration) -> Result<HopReply, String> {
        let sock = TcpSocket::new_v4().map_err(|e| format!("TCP socket: {}", errno::words(&e)))?;
        sock.set_reuseaddr(true)
            .map_err(|e| format!("SO_REUSEADDR: {}", errno::words(&e)))?;
        sock.bind(SocketAddr::from(([0, 0, 0, 0], self.port)))
            .map_err(|e| format!("bind: {}", errno::words(&e)))?;
        if self.port == 0 {
            self.port = sock.local_addr().map_or(0, |a| a.port());
        }
        setsockopt(&sock, sockopt::Ipv4Ttl, &i32::from(ttl)).map_err(|e| format!("IP_TTL: {e}"))?;
        setsockopt(&sock, sockopt::Ipv4RecvErr, &true).map_err(|e| format!("IP_RECVERR: {e}"))?;
        // the error queue outlives the connect future, which owns (and closes) the socket
        let keep = nix::unistd::dup(&sock).map_err(|e| format!("dup: {e}"))?;
        self.drain_raw();
        let out = tokio::time::timeout(wait, sock.connect(self.dst)).await;
        // a router's error read by the raw listener: where the kernel queues none for SYN_SENT
        // (it then keeps retransmitting until the wait ends), or when asked to use it alone
        let raw = || match self.raw_answer() {
            Some(icmp) => Ok(classify(Some(icmp), self.dst.ip())),
            None => Ok(HopReply::Silent),
        };
        match out {
            Ok(Ok(_)) => Ok(HopReply::Reached),
            Ok(Err(e)) if errno::is_refused(&e) => Ok(HopReply::Reached),
            _ if self.raw_only => raw(),
            Err(_) => raw(),
            Ok(Err(e)) => match classify(queued_icmp(&FdRef(keep.as_raw_fd())), self.dst.ip()) {
                HopReply::Silent if self.raw.is_some() => raw(),
                HopReply::Silent => Err(format!(
                    "connect at TTL {ttl}: {} (the kernel queued no ICMP error for it)",
                    errno::words(&e)
                )),
                r @ (HopReply::TimeExceeded(_) | HopReply::Reached | HopReply::Rejected { .. }) => {
                    Ok(r)
                }
            },
        }
    }
}

/// A borrowed descriptor for `queued_icmp`.
struct FdRef(std::os::fd::RawFd);
impl AsRawFd for FdRef {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0
    }
}
