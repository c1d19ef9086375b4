//! `host.time-sync`: a time daemon runs and the kernel says the clock is synchronised.

use async_trait::async_trait;

use super::{HostCheck, HostPlan};
use crate::ids::ReqId;
use crate::probe::timesync;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct TimeSync;

#[async_trait]
impl HostCheck for TimeSync {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostTimeSync
    }
    fn target(&self) -> &'static str {
        "time daemon"
    }
    fn reads(&self) -> &'static str {
        "read /proc/*/comm and the kernel's clock state (ntp_adjtime with no change, as timedatectl does) (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, with: &HostPlan) -> Finding {
        let host = ctx.net.host;
        timesync::evaluate(
            &host.process_names().map_err(|e| e.to_string()),
            &host.clock_synchronised().map_err(|e| e.to_string()),
            with.self_hosted_ntp,
        )
    }
}
