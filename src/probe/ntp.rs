//! SNTP: per-server replies and the clock offset. Phase: ntp.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::cause::{Cause, ErrorClass, Phase, Plain};
use crate::result::Finding;

#[derive(Debug, Clone, PartialEq)]
pub struct NtpSample {
    pub server: SocketAddr,
    /// Local clock offset in seconds (positive: the local clock is behind).
    pub offset_s: f64,
    pub rtt_s: f64,
    pub stratum: u8,
    pub reference: String,
}

/// The evidence of an answered `ntp.server` row (`details`), which `ntp.offset` reads back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NtpEvidence {
    pub stratum: u8,
    pub offset_s: f64,
    pub rtt_ms: f64,
}

impl crate::evidence::Evidence for NtpEvidence {}

evidence! {
    /// What an `ntp.server` row tried and an `ntp.offset` row judged.
    pub(crate) struct NtpRun {
        /// SNTP requests sent to this server (a second one when the first went unanswered).
        requests: u32,
        /// The offset judged (the best reply's), in seconds.
        offset_s: f64,
        /// The server of that reply.
        server: String,
    }
}

impl NtpEvidence {
    /// The sample an `ntp.server` row recorded, if it has one.
    pub(crate) fn of_row(row: &crate::result::CheckResult) -> Option<NtpSample> {
        let server: SocketAddr = row.address.as_deref()?.parse().ok()?;
        let e: NtpEvidence = row.details.read()?;
        Some(NtpSample {
            server,
            offset_s: e.offset_s,
            rtt_s: e.rtt_ms / 1000.0,
            stratum: e.stratum,
            reference: String::new(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtpFailure {
    #[error("no reply within {0} ms (UDP 123 dropped on the way, or no server)")]
    Timeout(u64),
    #[error("kiss-o'-death from the server ({0}): it refuses to serve this client")]
    KissOfDeath(String),
    #[error("the server says its own clock is not synchronised")]
    Unsynchronised,
    #[error("malformed reply: {0}")]
    Malformed(String),
    #[error("ICMP port unreachable (nothing listens on UDP 123, or a firewall rejects)")]
    Refused,
    #[error("{0}")]
    Other(String),
}

impl Cause for NtpFailure {
    fn phase(&self) -> Phase {
        Phase::Ntp
    }
    fn class(&self) -> ErrorClass {
        match self {
            NtpFailure::Timeout(_) => ErrorClass::Timeout,
            NtpFailure::KissOfDeath(_) => ErrorClass::KissOfDeath,
            NtpFailure::Unsynchronised => ErrorClass::Unsynchronised,
            NtpFailure::Malformed(_) => ErrorClass::Malformed,
            NtpFailure::Refused => ErrorClass::Refused,
            NtpFailure::Other(_) => ErrorClass::Error,
        }
    }
}

pub(crate) fn evaluate_server(
    addr: SocketAddr,
    outcome: &Result<NtpSample, NtpFailure>,
) -> Finding {
    match outcome {
        Ok(s) => {
            let evidence = NtpEvidence {
                stratum: s.stratum,
                offset_s: s.offset_s,
                rtt_ms: (s.rtt_s * 1000.0 * 10.0).round() / 10.0,
            };
            Finding::pass(format!(
                "SNTP reply from {addr}: stratum {}, ref {}, offset {:+.3} s, round trip {:.1} ms",
                s.stratum,
                s.reference,
                s.offset_s,
                s.rtt_s * 1000.0
            ))
            .evidence(&evidence)
        }
        Err(e) => Finding::fail_by(e, format!("NTP {addr}: {e}")),
    }
}

const SKEW: Plain = Plain(Phase::Ntp, ErrorClass::ClockSkew);

/// Judge the clock offset against the best (lowest round trip) reply.
pub(crate) fn evaluate_offset(samples: &[NtpSample], warn_s: f64, fail_s: f64) -> Finding {
    let Some(best) = samples.iter().min_by(|a, b| a.rtt_s.total_cmp(&b.rtt_s)) else {
        return Finding::skip_by(
            &Plain(Phase::Ntp, ErrorClass::NoSample),
            format!(
                "no NTP server replied, so the offset cannot be measured (see {})",
                crate::ids::ReqId::NtpServer
            ),
        )
        .caused_by(crate::evidence::CausedBy::any(crate::ids::ReqId::NtpServer));
    };
    let off = best.offset_s.abs();
    let text = format!(
        "local clock is off by {:+.3} s against {} (best of {} replies)",
        best.offset_s,
        best.server,
        samples.len()
    );
    let f = if off >= fail_s {
        Finding::fail_by(
            &SKEW,
            format!("{text}; limit {fail_s} s: TLS certificates and tokens will be rejected"),
        )
    } else if off >= warn_s {
        Finding::warn_by(&SKEW, format!("{text}; above {warn_s} s"))
    } else {
        Finding::pass(text)
    };
    f.evidence(&NtpRun {
        offset_s: Some(best.offset_s),
        server: Some(best.server.to_string()),
        ..NtpRun::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    fn s(off: f64, rtt: f64) -> NtpSample {
        NtpSample {
            server: "198.18.0.123:123".parse().unwrap(),
            offset_s: off,
            rtt_s: rtt,
            stratum: 2,
            reference: "x".into(),
        }
    }

    #[test]
    fn offset_thresholds() {
        assert_eq!(
            evaluate_offset(&[s(0.1, 0.01)], 0.5, 5.0).status,
            Status::Pass
        );
        assert_eq!(
            evaluate_offset(&[s(-0.7, 0.01)], 0.5, 5.0).status,
            Status::Warn
        );
        assert_eq!(
            evaluate_offset(&[s(5.0, 0.01)], 0.5, 5.0).status,
            Status::Fail
        );
        assert_eq!(evaluate_offset(&[], 0.5, 5.0).status, Status::Skip);
        // the best reply is the one with the lowest round trip
        assert_eq!(
            evaluate_offset(&[s(9.0, 0.5), s(0.1, 0.01)], 0.5, 5.0).status,
            Status::Pass
        );
    }

    #[test]
    fn server_outcomes() {
        let a: SocketAddr = "198.18.0.123:123".parse().unwrap();
        assert_eq!(evaluate_server(a, &Ok(s(0.0, 0.001))).status, Status::Pass);
        for e in [
            NtpFailure::Timeout(3000),
            NtpFailure::KissOfDeath("RATE".into()),
            NtpFailure::Unsynchronised,
            NtpFailure::Malformed("short".into()),
        ] {
            let f = evaluate_server(a, &Err(e.clone()));
            assert_eq!(f.status, Status::Fail);
            assert_eq!(f.details.to_json()["error"], e.class().as_str());
        }
    }
}
