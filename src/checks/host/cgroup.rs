//! `host.cgroup`: the cgroup controllers the kubelet needs are there.

use async_trait::async_trait;

use super::{HostCheck, HostFiles, HostPlan};
use crate::ids::ReqId;
use crate::probe::node;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct Cgroup;

#[async_trait]
impl HostCheck for Cgroup {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostCgroup
    }
    fn target(&self) -> &'static str {
        "cgroup controllers"
    }
    fn reads(&self) -> &'static str {
        "read /sys/fs/cgroup/cgroup.controllers or /proc/cgroups (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, _: &HostPlan) -> Finding {
        node::cgroup(&HostFiles(ctx.net.host))
    }
}
