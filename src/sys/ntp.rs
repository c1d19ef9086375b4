//! SNTP through rsntp.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use rsntp::{AsyncSntpClient, Config, ProtocolError, SynchronizationError};

use crate::net::NtpClient;
use crate::probe::ntp::{NtpFailure, NtpSample};

pub struct RsntpClient;

pub(crate) fn classify(e: &SynchronizationError, timeout: Duration) -> NtpFailure {
    match e {
        SynchronizationError::IOError(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            NtpFailure::Timeout(crate::clock::ms(timeout))
        }
        SynchronizationError::IOError(io) if super::errno::is_refused(io) => NtpFailure::Refused,
        SynchronizationError::IOError(io) => NtpFailure::Other(io.to_string()),
        SynchronizationError::ProtocolError(ProtocolError::KissODeath(code)) => {
            NtpFailure::KissOfDeath(code.to_string())
        }
        SynchronizationError::ProtocolError(ProtocolError::ServerNotSynchronized) => {
            NtpFailure::Unsynchronised
        }
        SynchronizationError::ProtocolError(p) => NtpFailure::Malformed(p.to_string()),
    }
}

#[async_trait]
impl NtpClient for RsntpClient {
    async fn query(&self, addr: SocketAddr, timeout: Duration) -> Result<NtpSample, NtpFailure> {
        let bind: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().unwrap_or(addr)
        } else {
            "[::]:0".parse().unwrap_or(addr)
        };
        let client =
            AsyncSntpClient::with_config(Config::default().bind_address(bind).timeout(timeout));
        let r = client
            .synchronize(addr)
            .await
            .map_err(|e| classify(&e, timeout))?;
        Ok(NtpSample {
            server: addr,
            offset_s: r.clock_offset().as_secs_f64(),
            rtt_s: r.round_trip_delay().as_secs_f64(),
            stratum: r.stratum(),
            reference: r.reference_identifier().to_string(),
        })
    }
}
