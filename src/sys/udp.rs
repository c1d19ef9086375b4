//! UDP sockets toward a peer running `responder`: the one-datagram seam ([`Datagrams`]) and the DF
//! socket options. The echo tally and the path-MTU search live in `probe/`.

use std::net::SocketAddr;

use async_trait::async_trait;
use tokio::net::UdpSocket;

use super::errno;
use super::errqueue::{queued_icmp_quoting, unreachable_words, Quoting};
use super::sockopt;
use crate::net::UdpProber;
use crate::probe::echo::{Datagrams, DgramError};
use crate::probe::udp::DfSocket;

pub(crate) struct TokioUdp;

/// A connected UDP socket.
pub(crate) struct PeerSocket(UdpSocket, Sent);

/// The starts of the last datagrams a socket sent: an ICMP error must quote one of them.
#[derive(Default)]
pub(crate) struct Sent(std::collections::VecDeque<Vec<u8>>);

impl Sent {
    /// How many datagrams are remembered (a probe's attempts, a size search's last steps).
    const KEEP: usize = 8;
    fn push(&mut self, d: &[u8]) {
        if self.0.len() == Self::KEEP {
            self.0.pop_front();
        }
        self.0.push_back(d[..d.len().min(256)].to_vec());
    }
    fn slices(&self) -> Vec<&[u8]> {
        self.0.iter().map(Vec::as_slice).collect()
    }
}

fn dgram_error(e: &std::io::Error) -> DgramError {
    dgram_error_from(e, None, None)
}

fn dgram_error_from(
    e: &std::io::Error,
    icmp: Option<(u8, u8, std::net::IpAddr)>,
    peer: Option<std::net::IpAddr>,
) -> DgramError {
    if let (Some((3, code, from)), Some(peer)) = (icmp, peer) {
        if from != peer && code != 4 {
            return DgramError::IcmpFrom {
                what: unreachable_words(code),
                from,
            };
        }
    }
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
        self.1.push(datagram);
        self.0
            .send(datagram)
            .await
            .map(|_| ())
            .map_err(|e| dgram_error(&e))
    }
    async fn recv_probe(&mut self, buf: &mut [u8]) -> Result<usize, DgramError> {
        loop {
            match self.0.recv(buf).await {
                Ok(n) => return Ok(n),
                Err(e) => {
                    let peer = self.0.peer_addr().ok().map(|p| p.ip());
                    match queued_icmp_quoting(&self.0, &self.1.slices()) {
                        // the error the kernel raised came from errors quoting other datagrams
                        // (forged): not an answer, keep waiting (the caller's timeout bounds it)
                        Quoting::Others => {}
                        q @ (Quoting::Ours(..) | Quoting::Empty) => {
                            return Err(dgram_error_from(&e, q.ours(), peer))
                        }
                    }
                }
            }
        }
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
        if peer.is_ipv4() {
            // ICMP errors are queued with their sender (SO_EE_OFFENDER), so a row can name the
            // router or firewall that rejected the probe; without it the row says less, no worse
            let _ = nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::Ipv4RecvErr, &true);
        }
        s.connect(peer).await.map_err(|e| {
            crate::net::OsError::new("UDP connect", format!("to {peer}: {}", errno::words(&e)))
        })?;
        Ok(Box::new(PeerSocket(s, Sent::default())))
    }
    async fn ttl_path(
        &self,
        peer: SocketAddr,
        payload: Vec<u8>,
    ) -> Result<Box<dyn crate::probe::trace::HopProbe>, crate::net::OsError> {
        Ok(Box::new(super::trace::UdpTtl::open(peer, payload).await?))
    }
    async fn listen(
        &self,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> Result<Box<dyn Datagrams>, crate::net::OsError> {
        use socket2::{Domain, Protocol, Socket, Type};
        let os = |op: &'static str, e: &std::io::Error| {
            crate::net::OsError::new(op, format!("{local}: {}", errno::words(e)))
        };
        let s = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| os("UDP socket", &e))?;
        // one socket per peer on the same address: each connected to its peer, so the kernel
        // hands each return datagram to the socket of the echo it answers. A daemon that holds
        // the port without SO_REUSEADDR (flanneld) still makes the bind fail: then it is untested.
        s.set_reuse_address(true)
            .map_err(|e| os("SO_REUSEADDR", &e))?;
        s.set_nonblocking(true).map_err(|e| os("O_NONBLOCK", &e))?;
        s.bind(&local.into()).map_err(|e| os("UDP bind", &e))?;
        s.connect(&peer.into()).map_err(|e| os("UDP connect", &e))?;
        let s = UdpSocket::from_std(s.into()).map_err(|e| os("UDP socket", &e))?;
        Ok(Box::new(Listener(s)))
    }
}

/// An unconnected UDP socket bound to the node's address and 8472: the return datagram's end.
pub(crate) struct Listener(UdpSocket);

#[async_trait]
impl Datagrams for Listener {
    async fn send_probe(&mut self, _: &[u8]) -> Result<(), DgramError> {
        Err(DgramError::Other(
            "the return-path socket only receives".into(),
        ))
    }
    async fn recv_probe(&mut self, buf: &mut [u8]) -> Result<usize, DgramError> {
        self.0.recv(buf).await.map_err(|e| dgram_error(&e))
    }
}
