//! `host.hostname`: the host name is a valid Kubernetes node name.

use async_trait::async_trait;

use super::{HostCheck, HostFiles, HostPlan};
use crate::ids::ReqId;
use crate::probe::node;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct Hostname;

#[async_trait]
impl HostCheck for Hostname {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostHostname
    }
    fn target(&self) -> &'static str {
        "node name"
    }
    fn reads(&self) -> &'static str {
        "read /proc/sys/kernel/hostname (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, _: &HostPlan) -> Finding {
        node::hostname(&HostFiles(ctx.net.host))
    }
}
