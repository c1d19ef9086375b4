//! TCP connects with tokio.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::net::Connector;
use crate::probe::tcp::TcpFailure;

pub struct TokioConnector;

#[async_trait]
impl Connector for TokioConnector {
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> Result<SocketAddr, TcpFailure> {
        let sock = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
            .map_err(|e| TcpFailure::Other(format!("socket: {e}")))?;
        match tokio::time::timeout(timeout, sock.connect(addr)).await {
            Err(_) => Err(TcpFailure::TimedOut(timeout.as_millis() as u64)),
            Ok(Err(e)) => Err(TcpFailure::from_io(&e)),
            Ok(Ok(stream)) => stream.local_addr().map_err(|e| TcpFailure::Other(e.to_string())),
        }
    }
}
