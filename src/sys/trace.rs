//! The sockets of a TTL sweep (`probe::trace`): one fixed flow per sweep, unprivileged.
//! UDP: one connected socket (one 5-tuple), `IP_TTL` set before each datagram, ICMP time exceeded
//! read from the error queue (`IP_RECVERR`, `SO_EE_OFFENDER`). TCP: one SYN per TTL from the same
//! source port (`SO_REUSEADDR`), the kernel reports ICMP errors in SYN_SENT to the error queue of an
//! `IP_RECVERR` socket (Linux ≥ 4.x). Where the kernel does not (CentOS 7's 3.10), a raw ICMP
//! socket (root or CAP_NET_RAW) reads the routers' errors instead, matched to the flow by the TCP
//! header they quote; without either, the row says the sweep could not be traced.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use nix::sys::socket::{setsockopt, sockopt};
use tokio::net::{TcpSocket, UdpSocket};

use super::errno;
use super::errqueue::{
    drain_queued, queued_icmp_quoting, queued_icmp_tcp, unreachable_words, Quoting,
};
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
        drain_queued(&self.sock);
        setsockopt(&self.sock, sockopt::Ipv4Ttl, &i32::from(ttl))
            .map_err(|e| format!("IP_TTL: {e}"))?;
        if let Err(e) = self.sock.send(&self.payload).await {
            let icmp = queued_icmp_quoting(&self.sock, &[&self.payload]).ours();
            return match classify(icmp, self.dst.ip()) {
                HopReply::Silent => Err(format!("send: {}", errno::words(&e))),
                r @ (HopReply::TimeExceeded(_) | HopReply::Reached | HopReply::Rejected { .. }) => {
                    Ok(r)
                }
            };
        }
        let mut buf = [0u8; 512];
        let sock = &self.sock;
        let payload: &[u8] = &self.payload;
        let answer = async {
            loop {
                match sock.recv(&mut buf).await {
                    // the service itself answered: the destination is reached
                    Ok(_) => return HopReply::Reached,
                    Err(_) => match queued_icmp_quoting(sock, &[payload]) {
                        // errors quoting other datagrams (forged): keep waiting
                        Quoting::Others => {}
                        q @ (Quoting::Ours(..) | Quoting::Empty) => {
                            return classify(q.ours(), self.dst.ip())
                        }
                    },
                }
            }
        };
        Ok(tokio::time::timeout(wait, answer)
            .await
            .unwrap_or(HopReply::Silent))
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
    /// The source address the kernel picks toward `dst` (a connected UDP socket's, no packet
    /// sent): an error on the raw listener must quote it.
    src: Option<IpAddr>,
}

/// Set once the kernel has queued a router's ICMP error for a SYN (Linux ≥ 4.x does, after
/// comparing the quoted sequence with the SYN's): from then on a connect that times out had no
/// valid error, and the raw listener is not asked (it cannot compare the sequence).
static KERNEL_REPORTS_SYN_ERRORS: AtomicBool = AtomicBool::new(false);

/// The most packets the raw listener reads in one call: a flood of ICMP cannot keep the sweep
/// reading past its wait.
const MAX_RAW_READ: usize = 4096;

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
        let src = std::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))
            .and_then(|u| u.connect(dst).and_then(|()| u.local_addr()))
            .ok()
            .map(|a| a.ip());
        TcpTtl {
            dst,
            port: 0,
            raw,
            raw_only,
            src,
        }
    }

    /// Discard what the raw listener holds (answers to earlier TTLs, other traffic).
    fn drain_raw(&self) {
        use std::io::Read;
        let Some(raw) = &self.raw else { return };
        let mut buf = [0u8; 1500];
        for _ in 0..MAX_RAW_READ {
            if !(&mut &*raw).read(&mut buf).is_ok_and(|n| n > 0) {
                return;
            }
        }
    }

    /// The first ICMP error on the raw listener that quotes this flow's SYN: protocol, both
    /// addresses and both ports (the SYN's sequence number is the kernel's and not known here,
    /// so it cannot be compared, only 0 refused; the error queue's path has the kernel compare
    /// it). At most
    /// [`MAX_RAW_READ`] packets read.
    fn raw_answer(&self) -> Option<(u8, u8, IpAddr)> {
        use std::io::Read;
        let raw = self.raw.as_ref()?;
        let mut buf = [0u8; 1500];
        for _ in 0..MAX_RAW_READ {
            let n = (&mut &*raw).read(&mut buf).ok().filter(|&n| n > 0)?;
            if let Some(e) = crate::probe::trace::parse_icmp_error(&buf[..n]) {
                if quotes_flow(&e, self.src, self.port, self.dst) {
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
            // a kernel that has reported a router's error for a SYN (it checks the quoted
            // sequence) reports every valid one: silence is silence, not a question for the raw
            // listener, where a forger who guessed the flow but not the sequence would be heard
            Err(_) if KERNEL_REPORTS_SYN_ERRORS.load(Ordering::Relaxed) => Ok(HopReply::Silent),
            Err(_) => raw(),
            Ok(Err(e)) => {
                match classify(queued_icmp_tcp(&FdRef(keep.as_raw_fd())), self.dst.ip()) {
                    HopReply::Silent if self.raw.is_some() => raw(),
                    HopReply::Silent => Err(format!(
                        "connect at TTL {ttl}: {} (the kernel queued no ICMP error for it)",
                        errno::words(&e)
                    )),
                    r @ (HopReply::TimeExceeded(_)
                    | HopReply::Reached
                    | HopReply::Rejected { .. }) => {
                        KERNEL_REPORTS_SYN_ERRORS.store(true, Ordering::Relaxed);
                        Ok(r)
                    }
                }
            }
        }
    }
}

/// Whether an ICMP error read on the raw listener quotes the TCP flow `src:port → dst`.
fn quotes_flow(
    e: &crate::probe::trace::IcmpError,
    src: Option<IpAddr>,
    port: u16,
    dst: SocketAddr,
) -> bool {
    e.proto == 6
        && src.is_none_or(|s| e.src == s)
        && e.dst == dst.ip()
        && e.dport == dst.port()
        && e.sport == port
        // sequence 0: what the kernel compares against before a SYN's own is chosen (see
        // `queued_icmp_tcp`); a real SYN's is 0 once in 2^32
        && e.seq != Some(0)
}

/// A borrowed descriptor for `queued_icmp_tcp`.
struct FdRef(std::os::fd::RawFd);
impl AsRawFd for FdRef {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::trace::parse_icmp_error;

    /// An ICMP time exceeded from `from`, quoting a TCP SYN `src:sport -> dst:dport` (proto 6).
    fn forged(
        from: [u8; 4],
        src: [u8; 4],
        sport: u16,
        dst: [u8; 4],
        dport: u16,
        proto: u8,
    ) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0];
        p.extend_from_slice(&from);
        p.extend_from_slice(&[10, 0, 0, 10, 11, 0, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[0x45, 0, 0, 60, 0, 0, 0x40, 0, 1, proto, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1]);
        p
    }

    #[test]
    fn a_raw_error_counts_only_when_it_quotes_the_flow_exactly() {
        let dst: SocketAddr = "100.118.28.10:443".parse().unwrap();
        let src = Some("10.0.0.10".parse().unwrap());
        let ours = |p: &[u8]| quotes_flow(&parse_icmp_error(p).unwrap(), src, 40001, dst);
        let (me, far) = ([10, 0, 0, 10], [100, 118, 28, 10]);
        assert!(ours(&forged([10, 0, 0, 1], me, 40001, far, 443, 6)));
        // a forger that guessed the port but not the node's source address, or the port but not
        // the destination's, or a UDP flow of the same ports, or another source port
        assert!(!ours(&forged(
            [10, 0, 0, 66],
            [10, 0, 0, 99],
            40001,
            far,
            443,
            6
        )));
        assert!(!ours(&forged([10, 0, 0, 66], me, 40001, far, 444, 6)));
        assert!(!ours(&forged(
            [10, 0, 0, 66],
            me,
            40001,
            [100, 118, 28, 11],
            443,
            6
        )));
        assert!(!ours(&forged([10, 0, 0, 66], me, 40001, far, 443, 17)));
        assert!(!ours(&forged([10, 0, 0, 66], me, 40002, far, 443, 6)));
        let mut zero = forged([10, 0, 0, 66], me, 40001, far, 443, 6);
        let n = zero.len();
        zero[n - 4..].copy_from_slice(&[0, 0, 0, 0]);
        assert!(!ours(&zero), "sequence 0");
    }
}
