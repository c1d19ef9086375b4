//! `host.sysctl`: IP forwarding and bridge netfilter are on, now and after a reboot.

use async_trait::async_trait;

use super::{HostCheck, HostFiles, HostPlan};
use crate::ids::ReqId;
use crate::probe::node;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct Sysctl;

#[async_trait]
impl HostCheck for Sysctl {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostSysctl
    }
    fn target(&self) -> &'static str {
        "net.ipv4.ip_forward"
    }
    fn reads(&self) -> &'static str {
        "read /proc/sys/net/ipv4/ip_forward, /proc/sys/net/bridge/bridge-nf-call-iptables and the sysctl.d files (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, _: &HostPlan) -> Finding {
        node::sysctl(&HostFiles(ctx.net.host))
    }
}
