//! `host.kernel-modules`: the kernel modules the node needs are loaded or loadable.

use async_trait::async_trait;

use super::{HostCheck, HostFiles, HostPlan};
use crate::ids::ReqId;
use crate::probe::node;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct KernelModules;

#[async_trait]
impl HostCheck for KernelModules {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostKernelModules
    }
    fn target(&self) -> &'static str {
        "vxlan, br_netfilter, overlay"
    }
    fn reads(&self) -> &'static str {
        "read /proc/modules and /lib/modules/$(uname -r)/modules.{builtin,dep} (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, with: &HostPlan) -> Finding {
        node::kernel_modules(&HostFiles(ctx.net.host), with.flannel)
    }
}
