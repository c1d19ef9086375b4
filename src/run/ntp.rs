//! SNTP steps: one query per server address, and the offset computed from their rows.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::step::{Step, StepKind};
use super::{bounded, ms, Ctx};
use crate::cause::Phase;
use crate::constants::NTP_GRACE;
use crate::constants::NTP_PORT;
use crate::ids::ReqId;
use crate::probe::loss;
use crate::probe::ntp::{self, NtpEvidence, NtpFailure, NtpSample};
use crate::result::CheckResult;

/// One SNTP client request to each address.
pub(crate) struct NtpQuery;

#[async_trait]
impl StepKind for NtpQuery {
    fn name(&self) -> &'static str {
        "ntp"
    }
    fn packets(&self, s: &Step, _: &str) -> Vec<String> {
        vec![
            format!(
                "SNTP client request (UDP {NTP_PORT}, 48 bytes) to {}, and a second one when the first gets no answer by the path's retransmission timer (three round trips measured toward it, 200 ms at least, half the timeout at most)",
                s.addr_text()
            ),
            crate::probe::trace::plan_words("SNTP requests", &format!("{}:{NTP_PORT}", s.addr_text()), "no answer comes"),
        ]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let t = ctx.cfg.timeout;
        ctx.fan_out(s, |ip| async move {
            let sa = SocketAddr::new(ip, NTP_PORT);
            let start = Instant::now();
            // a lossy but working line: a second request when the first has no answer by the
            // path's retransmission timer (ntpdate and chronyd retransmit too)
            let once = |wait: Duration| async move {
                let sent = Instant::now();
                let out = bounded(wait + NTP_GRACE, ctx.net.ntp.query(sa, wait), move || {
                    Err(NtpFailure::Timeout(ms(wait)))
                })
                .await;
                if out.is_ok() {
                    ctx.paths.record(ip, sent.elapsed());
                }
                out
            };
            let retry = ctx.paths.retry_timer(ip, 1, t, Instant::now());
            let attempts = super::with_second_attempt(t, retry, once, |o| {
                matches!(o, Err(NtpFailure::Timeout(_)))
            });
            // swept while the requests still wait, once the path's timer has passed
            let (out, tries) = ctx
                .with_early_sweep(
                    sa,
                    super::Flow::Udp(sntp_request()),
                    ctx.paths.sweep_timer(ip, t, start),
                    attempts,
                    |(o, _)| matches!(o, Err(NtpFailure::Timeout(_))),
                )
                .await;
            let requests = tries.counted.max(1);
            let out = out.map_err(|e| match e {
                NtpFailure::Timeout(_) => NtpFailure::Timeout(ms(t)),
                e @ (NtpFailure::KissOfDeath(_)
                | NtpFailure::Unsynchronised
                | NtpFailure::Malformed(_)
                | NtpFailure::Refused
                | NtpFailure::Other(_)) => e,
            });
            let answered = out.is_ok();
            let mut f = ntp::evaluate_server(sa, &out).evidence(&ntp::NtpRun {
                requests: Some(requests),
                ..ntp::NtpRun::default()
            });
            if matches!(out, Err(NtpFailure::Timeout(_))) {
                if let Some(l) = ctx.locate(sa, super::Flow::Udp(sntp_request())).await {
                    f = l.annotate(f);
                }
            }
            let f = loss::account_tries(
                f,
                Phase::Ntp,
                &format!("SNTP requests to {sa}"),
                tries,
                answered,
            );
            vec![ctx.result(s, Some(sa.to_string()), f, start.elapsed())]
        })
        .await
    }
}

/// The clock offset against the best `ntp.server` answer; sends nothing.
pub(crate) struct NtpOffset;

#[async_trait]
impl StepKind for NtpOffset {
    fn name(&self) -> &'static str {
        "ntp_offset"
    }
    fn packets(&self, _: &Step, _: &str) -> Vec<String> {
        vec![format!(
            "computed from the {} replies (sends nothing)",
            crate::ids::ReqId::NtpServer
        )]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let samples: Vec<NtpSample> = ctx
            .earlier_rows(ReqId::NtpServer)
            .iter()
            .filter_map(NtpEvidence::of_row)
            .collect();
        let f = ntp::evaluate_offset(&samples, ctx.cfg.ntp_warn_offset, ctx.cfg.ntp_fail_offset);
        vec![ctx.result(s, None, f, Duration::ZERO)]
    }
}

/// An SNTP client request (mode 3, version 4): what the sweep sends at rising TTLs.
fn sntp_request() -> Vec<u8> {
    let mut req = vec![0u8; 48];
    req[0] = 0x23;
    req
}
