//! `dns.resolver`: the node's resolver configuration works for the kubelet and CoreDNS.

use async_trait::async_trait;

use super::{HostCheck, HostFiles, HostPlan};
use crate::ids::ReqId;
use crate::probe::node;
use crate::result::Finding;
use crate::run::Ctx;

pub struct Resolver;

#[async_trait]
impl HostCheck for Resolver {
    fn id(&self) -> &'static ReqId {
        &ReqId::DnsResolver
    }
    fn target(&self) -> &'static str {
        "/etc/resolv.conf"
    }
    fn reads(&self) -> &'static str {
        "read /etc/resolv.conf (and /run/systemd/resolve/resolv.conf) (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, with: &HostPlan) -> Finding {
        node::resolver(
            &HostFiles(ctx.net.host),
            with.pod_cidr.as_ref(),
            with.vpc_cidr.as_ref(),
        )
    }
}
