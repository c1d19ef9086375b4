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
            Err(_) => Err(TcpFailure::TimedOut(crate::clock::ms(timeout))),
            Ok(Err(e)) => Err(rejected_by(
                super::errno::tcp_failure(&e),
                keep.as_ref(),
                addr,
            )),
            Ok(Ok(stream)) => {
                let local = stream
                    .local_addr()
                    .map_err(|e| TcpFailure::Other(e.to_string()))?;
                let mss =
                    nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::TcpMaxSeg)
                        .ok();
                Ok(Connected { local, mss })
            }
        }
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
        let mut stream =
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
                Err(_) => return Err(TcpFailure::TimedOut(crate::clock::ms(timeout))),
                Ok(Err(e)) => return Err(super::errno::tcp_failure(&e)),
                Ok(Ok(s)) => s,
            };
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

/// An unreachable connect whose error queue holds a router's ICMP error names that router.
fn rejected_by(f: TcpFailure, keep: Option<&std::os::fd::OwnedFd>, addr: SocketAddr) -> TcpFailure {
    let queued = keep.and_then(super::errqueue::queued_icmp);
    match (f, queued) {
        (TcpFailure::Unreachable(_), Some((3, code, from))) if from != addr.ip() => {
            TcpFailure::RejectedBy {
                from,
                what: super::errqueue::unreachable_words(code),
            }
        }
        (f, _) => f,
    }
}
