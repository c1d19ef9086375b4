//! `host.leftovers`: no files, links or mounts of an earlier install are left.

use async_trait::async_trait;

use super::{HostCheck, HostFiles, HostPlan};
use crate::ids::ReqId;
use crate::probe::node;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct Leftovers;

#[async_trait]
impl HostCheck for Leftovers {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostLeftovers
    }
    fn target(&self) -> &'static str {
        "earlier install"
    }
    fn reads(&self) -> &'static str {
        "look for /etc/kubernetes, /var/lib/kubelet and /etc/cni files, CNI links in /sys/class/net, kubelet mounts in /proc/mounts (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, _: &HostPlan) -> Finding {
        node::leftovers(&HostFiles(ctx.net.host))
    }
}
