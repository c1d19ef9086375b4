//! ICMP echo through surge-ping: unprivileged datagram sockets where `net.ipv4.ping_group_range`
//! allows, raw sockets with root / CAP_NET_RAW; otherwise the reason why not. Evidence only.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use surge_ping::{Client, Config, PingIdentifier, PingSequence, SurgeError};

use crate::net::Pinger;
use crate::probe::icmp::IcmpOutcome;

pub struct SurgePinger {
    client: Result<Client, String>,
}

impl SurgePinger {
    /// Open the ICMP socket (must run inside the tokio runtime).
    pub fn new() -> SurgePinger {
        let client = Client::new(&Config::default()).map_err(|e| {
            format!(
                "ICMP not permitted for this user ({e}): unprivileged ICMP needs net.ipv4.ping_group_range to include the group, raw ICMP needs root or CAP_NET_RAW"
            )
        });
        SurgePinger { client }
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
            Ok((_, rtt)) => IcmpOutcome::Reply(rtt),
            Err(SurgeError::Timeout { .. }) => IcmpOutcome::NoReply,
            Err(e) => IcmpOutcome::Error(e.to_string()),
        }
    }
}
