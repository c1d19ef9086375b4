//! SNTP runner; the offset row is computed by the engine after every server has answered.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::{bounded, ms, Ctx};
use crate::constants::NTP_PORT;
use crate::plan::{Addr, Probe};
use crate::probe::ntp::{self, NtpFailure};
use crate::result::CheckResult;

pub async fn server(ctx: &Ctx<'_, '_>, p: &Probe, addr: &Addr) -> Vec<CheckResult> {
    let t = ctx.cfg.timeout;
    ctx.fan_out(p, addr, |ip| async move {
        let sa = SocketAddr::new(ip, NTP_PORT);
        let s = Instant::now();
        let out = bounded(
            t + Duration::from_millis(100),
            ctx.net.ntp.query(sa, t),
            || Err(NtpFailure::Timeout(ms(t))),
        )
        .await;
        if let (Ok(sample), Ok(mut v)) = (&out, ctx.samples.lock()) {
            v.push(sample.clone());
        }
        vec![ctx.result(
            p,
            Some(sa.to_string()),
            ntp::evaluate_server(sa, &out),
            s.elapsed(),
        )]
    })
    .await
}
