//! TCP connects with tokio.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::net::Connector;
use crate::probe::tcp::{Connected, TcpFailure};

pub(crate) struct TokioConnector;

#[async_trait]
impl Connector for TokioConnector {
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> Result<Connected, TcpFailure> {
        let stream = connect_stream(addr, timeout).await?;
        let local = stream
            .local_addr()
            .map_err(|e| TcpFailure::Other(e.to_string()))?;
        let mss = nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::TcpMaxSeg).ok();
        Ok(Connected { local, mss })
    }

    fn ttl_path(
        &self,
        addr: SocketAddr,
    ) -> Result<Box<dyn crate::probe::trace::HopProbe>, crate::net::OsError> {
        if !addr.is_ipv4() {
            return Err(crate::net::OsError::new("TTL probe", "IPv4 only"));
        }
        Ok(Box::new(super::trace::TcpTtl::new(addr)))
    }

    async fn read_banner(&self, addr: SocketAddr, timeout: Duration) -> Result<String, TcpFailure> {
        use tokio::io::AsyncReadExt;
        let start = std::time::Instant::now();
        let mut stream = connect_stream(addr, timeout).await?;
        let mut buf = [0u8; 128];
        let mut got = 0;
        let left = timeout.saturating_sub(start.elapsed());
        let _ = tokio::time::timeout(left, async {
            while got < buf.len() {
                match stream.read(&mut buf[got..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        got += n;
                        if buf[..got].contains(&b'\n') {
                            break;
                        }
                    }
                }
            }
        })
        .await;
        let text = String::from_utf8_lossy(&buf[..got]);
        Ok(text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .collect())
    }
}

/// A TCP connect that keeps a router's ICMP error to it with its sender (`IP_RECVERR`): a
/// rejected connect, and one that timed out although a router's error came (Linux keeps such an
/// error as soft when it arrives while the socket is busy, and the SYN is retransmitted until the
/// timeout), name that router.
async fn connect_stream(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<tokio::net::TcpStream, TcpFailure> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| TcpFailure::Other(format!("socket: {e}")))?;
    // a router's ICMP error to the connect itself is kept with its sender (IP_RECVERR; the
    // error queue outlives the connect future, which owns and closes the socket)
    let keep = addr
        .is_ipv4()
        .then(|| {
            nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::Ipv4RecvErr, &true)
                .ok()?;
            nix::unistd::dup(&sock).ok()
        })
        .flatten();
    match tokio::time::timeout(timeout, sock.connect(addr)).await {
        Err(_) => Err(rejected_by(
            TcpFailure::TimedOut(crate::clock::ms(timeout)),
            keep.as_ref(),
            addr,
        )),
        Ok(Err(e)) => Err(rejected_by(
            super::errno::tcp_failure(&e),
            keep.as_ref(),
            addr,
        )),
        Ok(Ok(stream)) => Ok(stream),
    }
}

/// An unreachable or timed-out connect whose error queue holds a router's ICMP destination
/// unreachable names that router.
fn rejected_by(f: TcpFailure, keep: Option<&std::os::fd::OwnedFd>, addr: SocketAddr) -> TcpFailure {
    let queued = keep.and_then(super::errqueue::queued_icmp_tcp);
    match (f, queued) {
        (TcpFailure::Unreachable(_) | TcpFailure::TimedOut(_), Some((3, code, from)))
            if from != addr.ip() =>
        {
            TcpFailure::RejectedBy {
                from,
                what: super::errqueue::unreachable_words(code),
            }
        }
        (f, _) => f,
    }
}
