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
        match tokio::time::timeout(timeout, sock.connect(addr)).await {
            Err(_) => Err(TcpFailure::TimedOut(crate::clock::ms(timeout))),
            Ok(Err(e)) => Err(super::errno::tcp_failure(&e)),
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
