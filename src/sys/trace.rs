//! The sockets of a TTL sweep (`probe::trace`): one fixed flow per sweep, unprivileged.
//! UDP: one connected socket (one 5-tuple), `IP_TTL` set before each datagram, ICMP time exceeded
//! read from the error queue (`IP_RECVERR`, `SO_EE_OFFENDER`). TCP: one SYN per TTL from the same
//! source port (`SO_REUSEADDR`), the kernel reports ICMP errors in SYN_SENT to the error queue of an
//! `IP_RECVERR` socket (Linux ≥ 4.x; where it does not, the hop's address is missing and said).

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
pub struct UdpTtl {
    sock: UdpSocket,
    dst: SocketAddr,
    payload: Vec<u8>,
}

impl UdpTtl {
    pub async fn open(dst: SocketAddr, payload: Vec<u8>) -> Result<UdpTtl, OsError> {
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
                r => Ok(r),
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
pub struct TcpTtl {
    dst: SocketAddr,
    port: u16,
}

impl TcpTtl {
    pub fn new(dst: SocketAddr) -> TcpTtl {
        TcpTtl { dst, port: 0 }
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
        match tokio::time::timeout(wait, sock.connect(self.dst)).await {
            Err(_) => Ok(HopReply::Silent),
            Ok(Ok(_)) => Ok(HopReply::Reached),
            Ok(Err(e)) if errno::is_refused(&e) => Ok(HopReply::Reached),
            Ok(Err(e)) => match classify(queued_icmp(&FdRef(keep.as_raw_fd())), self.dst.ip()) {
                HopReply::Silent => Err(format!(
                    "connect at TTL {ttl}: {} (the kernel queued no ICMP error for it)",
                    errno::words(&e)
                )),
                r => Ok(r),
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
