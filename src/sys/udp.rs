//! UDP sockets toward a peer running `responder`: the one-datagram seam ([`Datagrams`]) and the DF
//! socket options. The echo tally and the path-MTU search live in `probe/`.

use std::net::SocketAddr;

use async_trait::async_trait;
use tokio::net::UdpSocket;

use super::errno;
use super::sockopt;
use crate::net::UdpProber;
use crate::probe::echo::{Datagrams, DgramError};
use crate::probe::udp::DfSocket;

pub struct TokioUdp;

/// A connected UDP socket.
pub struct PeerSocket(UdpSocket);

fn dgram_error(e: &std::io::Error) -> DgramError {
    if errno::is_refused(e) {
        DgramError::Refused
    } else if errno::is_too_big(e) {
        DgramError::TooBig
    } else {
        DgramError::Other(errno::words(e))
    }
}

#[async_trait]
impl Datagrams for PeerSocket {
    async fn send_probe(&mut self, datagram: &[u8]) -> Result<(), DgramError> {
        self.0
            .send(datagram)
            .await
            .map(|_| ())
            .map_err(|e| dgram_error(&e))
    }
    async fn recv_probe(&mut self, buf: &mut [u8]) -> Result<usize, DgramError> {
        self.0.recv(buf).await.map_err(|e| dgram_error(&e))
    }
}

impl DfSocket for PeerSocket {
    fn set_df(&mut self) -> Result<(), String> {
        sockopt::set_pmtudisc_do(&self.0).map_err(|e| errno::words(&e))
    }
    fn learned_mtu(&self) -> Option<u32> {
        sockopt::path_mtu(&self.0)
    }
    fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.0.local_addr().ok()
    }
}

#[async_trait]
impl UdpProber for TokioUdp {
    async fn open(&self, peer: SocketAddr) -> Result<Box<dyn DfSocket>, crate::net::OsError> {
        let bind: SocketAddr = if peer.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let s = UdpSocket::bind(bind)
            .await
            .map_err(|e| crate::net::OsError::new("UDP socket", errno::words(&e)))?;
        s.connect(peer).await.map_err(|e| {
            crate::net::OsError::new("UDP connect", format!("to {peer}: {}", errno::words(&e)))
        })?;
        Ok(Box::new(PeerSocket(s)))
    }
}
