//! `host.swap`: swap is off (the kubelet refuses to start with swap by default).

use async_trait::async_trait;

use super::{HostCheck, HostFiles, HostPlan};
use crate::ids::ReqId;
use crate::probe::node;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct Swap;

#[async_trait]
impl HostCheck for Swap {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostSwap
    }
    fn target(&self) -> &'static str {
        "/proc/swaps"
    }
    fn reads(&self) -> &'static str {
        "read /proc/swaps (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, _: &HostPlan) -> Finding {
        node::swap(&HostFiles(ctx.net.host))
    }
}
