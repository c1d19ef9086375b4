//! `host.rp-filter`: strict reverse-path filtering does not drop the line's replies.

use async_trait::async_trait;

use super::{default_route, line_interface, HostCheck, HostFiles, HostPlan};
use crate::ids::ReqId;
use crate::probe::node;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct RpFilter;

#[async_trait]
impl HostCheck for RpFilter {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostRpFilter
    }
    fn target(&self) -> &'static str {
        "reverse-path filter"
    }
    fn reads(&self) -> &'static str {
        "read /proc/sys/net/ipv4/conf/{all,IFACE}/rp_filter and the routes (local)"
    }
    fn timed(&self) -> bool {
        true
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, with: &HostPlan) -> Finding {
        let line = line_interface(ctx, with).await;
        node::rp_filter_check(
            &HostFiles(ctx.net.host),
            line.as_deref(),
            default_route(ctx).as_deref(),
        )
    }
}
