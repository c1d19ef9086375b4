//! ICMP echo through surge-ping: unprivileged datagram sockets where `net.ipv4.ping_group_range`
//! allows, raw sockets with root / CAP_NET_RAW; otherwise the reason why not. Evidence only.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use surge_ping::{Client, Config, IcmpPacket, PingIdentifier, PingSequence, SurgeError};

/// Raw ICMP sockets also receive errors about our echoes (destination unreachable, fragmentation
/// needed); only an echo reply (type 0) is a reply.
fn is_echo_reply(p: &IcmpPacket) -> bool {
    match p {
        IcmpPacket::V4(v4) => v4.get_icmp_type().0 == 0,
        IcmpPacket::V6(v6) => v6.get_icmpv6_type().0 == 129,
    }
}

use crate::net::Pinger;
use crate::probe::icmp::IcmpOutcome;
use crate::probe::udp::MtuOutcome;

pub struct SurgePinger {
    client: Result<Client, String>,
    seq: std::sync::atomic::AtomicU16,
}

#[allow(clippy::new_without_default)] // needs a running tokio runtime, so no Default
impl SurgePinger {
    /// Open the ICMP socket (must run inside the tokio runtime).
    pub fn new() -> SurgePinger {
        let client = Client::new(&Config::default()).map_err(|e| {
            format!(
                "ICMP not permitted for this user ({e}): unprivileged ICMP needs net.ipv4.ping_group_range to include the group, raw ICMP needs root or CAP_NET_RAW"
            )
        });
        if let Ok(c) = &client {
            // Don't Fragment on every echo (harmless for small ones; needed for path MTU)
            let fd = c.get_socket().get_native_sock();
            let v: libc::c_int = libc::IP_PMTUDISC_DO;
            // SAFETY: a valid socket fd, a pointer to a live c_int and its size.
            unsafe {
                libc::setsockopt(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, &v as *const _ as *const libc::c_void, std::mem::size_of::<libc::c_int>() as libc::socklen_t);
            }
        }
        SurgePinger { client, seq: std::sync::atomic::AtomicU16::new(1) }
    }

    /// One echo of `size` IP bytes: Some(true) reply, Some(false) no reply / too big, None not permitted.
    async fn echo_size(&self, client: &Client, ip: IpAddr, size: u32, wait: Duration) -> Result<bool, String> {
        let ident = PingIdentifier((std::process::id() as u16) ^ ((crate::probe::echo::nonce()[0] as u16) << 8));
        let mut pinger = client.pinger(ip, ident).await;
        pinger.timeout(wait);
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let payload = vec![0x5au8; size.saturating_sub(28) as usize]; // IPv4 20 + ICMP 8
        match pinger.ping(PingSequence(seq), &payload).await {
            Ok((p, _)) => Ok(is_echo_reply(&p)),
            Err(SurgeError::Timeout { .. }) => Ok(false),
            Err(SurgeError::IOError(e)) if e.raw_os_error() == Some(libc::EMSGSIZE) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
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
        let ident = PingIdentifier((std::process::id() as u16) ^ (crate::probe::echo::nonce()[0] as u16) << 8);
        let mut pinger = client.pinger(ip, ident).await;
        pinger.timeout(timeout);
        match pinger.ping(PingSequence(0), &[0u8; 16]).await {
            Ok((p, rtt)) if is_echo_reply(&p) => IcmpOutcome::Reply(rtt),
            Ok((IcmpPacket::V4(p), _)) => IcmpOutcome::Error(format!("ICMP type {} code {} instead of an echo reply", p.get_icmp_type().0, p.get_icmp_code().0)),
            Ok(_) => IcmpOutcome::NoReply,
            Err(SurgeError::Timeout { .. }) => IcmpOutcome::NoReply,
            Err(e) => IcmpOutcome::Error(e.to_string()),
        }
    }

    async fn path_mtu(&self, ip: IpAddr, iface_mtu: Option<u32>, timeout: Duration) -> Result<MtuOutcome, String> {
        let client = self.client.as_ref().map_err(|e| e.clone())?;
        if ip.is_ipv6() {
            return Err("IPv6 path MTU is not measured".into());
        }
        let start = std::time::Instant::now();
        let left = || timeout.saturating_sub(start.elapsed());
        let step = (timeout / 6).clamp(Duration::from_millis(100), Duration::from_millis(500));
        if !self.echo_size(client, ip, 576, step.max(Duration::from_millis(300)).min(left())).await? {
            return Err(format!("no ICMP echo reply from {ip} (ICMP filtered?), so the path MTU is not measured"));
        }
        let top = iface_mtu.unwrap_or(1500);
        if self.echo_size(client, ip, top, step.min(left())).await? {
            return Ok(MtuOutcome { path_mtu: top, iface_mtu, iface: None, method: format!("{top}-byte ICMP echo with DF answered") });
        }
        // once ICMP "fragmentation needed" arrives, oversized sends fail at once (EMSGSIZE)
        let (mut lo, mut hi) = (576u32, top - 1);
        while lo < hi && left() > Duration::from_millis(50) {
            let mid = (lo + hi).div_ceil(2);
            if self.echo_size(client, ip, mid, step.min(left())).await? {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(MtuOutcome { path_mtu: lo, iface_mtu, iface: None, method: "binary search with ICMP echo and DF".into() })
    }
}
