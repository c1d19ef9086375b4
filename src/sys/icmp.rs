//! ICMP echo through surge-ping: unprivileged datagram sockets where `net.ipv4.ping_group_range`
//! allows, raw sockets with root / CAP_NET_RAW; otherwise the reason why not. Evidence only, and the
//! ICMP side of the path-MTU search (one echo of a given size with DF).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use surge_ping::{Client, Config, IcmpPacket, PingIdentifier, PingSequence, SurgeError};

use super::{errno, sockopt};
use crate::net::Pinger;
use crate::probe::icmp::IcmpOutcome;
use crate::probe::mtu::{DfPath, DfReply, MtuError};

/// Raw ICMP sockets also receive errors about our echoes (destination unreachable, fragmentation
/// needed); only an echo reply (type 0) is a reply.
fn is_echo_reply(p: &IcmpPacket) -> bool {
    match p {
        IcmpPacket::V4(v4) => v4.get_icmp_type().0 == 0,
        IcmpPacket::V6(v6) => v6.get_icmpv6_type().0 == 129,
    }
}

pub(crate) struct SurgePinger {
    client: Result<Client, String>,
    /// Whether Don't Fragment could be set on the ICMP socket (needed for path MTU).
    df: Result<(), String>,
    seq: Arc<AtomicU16>,
}

fn ident() -> PingIdentifier {
    PingIdentifier(
        u16::try_from(std::process::id() & 0xffff).unwrap_or(0)
            ^ (u16::from(crate::probe::echo::nonce()[0]) << 8),
    )
}

#[allow(clippy::new_without_default)] // needs a running tokio runtime, so no Default
impl SurgePinger {
    /// Open the ICMP socket (must run inside the tokio runtime).
    pub(crate) fn new() -> SurgePinger {
        let client = Client::new(&Config::default()).map_err(|e| {
            let why = errno::words(&e);
            format!("ICMP not permitted for this user ({why}): unprivileged ICMP needs net.ipv4.ping_group_range to include the group, raw ICMP needs root or CAP_NET_RAW")
        });
        let df = match &client {
            // Don't Fragment on every echo (harmless for small ones; needed for path MTU)
            Ok(c) => sockopt::set_pmtudisc_do(&c.get_socket().get_native_sock())
                .map_err(|e| errno::words(&e)),
            Err(e) => Err(e.clone()),
        };
        SurgePinger {
            client,
            df,
            seq: Arc::new(AtomicU16::new(1)),
        }
    }
}

/// ICMP echo of a given size with DF toward one address.
struct IcmpDf {
    client: Client,
    ip: IpAddr,
    seq: Arc<AtomicU16>,
}

#[async_trait]
impl DfPath for IcmpDf {
    async fn probe(&mut self, size: u32, wait: Duration) -> Result<DfReply, MtuError> {
        let mut pinger = self.client.pinger(self.ip, ident()).await;
        pinger.timeout(wait);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let payload = vec![0x5au8; size.saturating_sub(28) as usize]; // IPv4 20 + ICMP 8
        match pinger.ping(PingSequence(seq), &payload).await {
            Ok((p, _)) if is_echo_reply(&p) => Ok(DfReply::Echoed),
            Ok(_) | Err(SurgeError::Timeout { .. }) => Ok(DfReply::Silent),
            Err(SurgeError::IOError(e)) if errno::is_too_big(&e) => Ok(DfReply::TooBig),
            Err(SurgeError::IOError(e)) => Err(MtuError::Io(errno::words(&e))),
            Err(e) => Err(MtuError::Io(e.to_string())),
        }
    }
    fn learned_mtu(&self) -> Option<u32> {
        None // an unconnected raw socket cannot ask IP_MTU; EMSGSIZE (TooBig) tells instead
    }
}

#[async_trait]
impl Pinger for SurgePinger {
    async fn ping(&self, ip: IpAddr, timeout: Duration) -> IcmpOutcome {
        let client = match &self.client {
            Ok(c) => c,
            Err(e) => return IcmpOutcome::NotPermitted(e.clone()),
        };
        if ip.is_ipv6() {
            return IcmpOutcome::NotPermitted("ICMPv6 is not probed".into());
        }
        let mut pinger = client.pinger(ip, ident()).await;
        pinger.timeout(timeout);
        match pinger.ping(PingSequence(0), &[0u8; 16]).await {
            Ok((p, rtt)) if is_echo_reply(&p) => IcmpOutcome::Reply(rtt),
            Ok((IcmpPacket::V4(p), _)) => IcmpOutcome::Error(format!(
                "ICMP type {} code {} instead of an echo reply",
                p.get_icmp_type().0,
                p.get_icmp_code().0
            )),
            Ok(_) => IcmpOutcome::NoReply,
            Err(SurgeError::Timeout { .. }) => IcmpOutcome::NoReply,
            Err(SurgeError::IOError(e)) => IcmpOutcome::Error(errno::words(&e)),
            Err(e) => IcmpOutcome::Error(e.to_string()),
        }
    }

    fn df_path(&self, ip: IpAddr) -> Result<Box<dyn DfPath>, MtuError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| MtuError::NotPermitted(e.clone()))?;
        if ip.is_ipv6() {
            return Err(MtuError::Ipv6);
        }
        self.df.clone().map_err(MtuError::DfUnavailable)?;
        Ok(Box::new(IcmpDf {
            client: client.clone(),
            ip,
            seq: self.seq.clone(),
        }))
    }
}
