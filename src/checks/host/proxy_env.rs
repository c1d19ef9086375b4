//! `proxy.env`: no HTTP(S) proxy of the node's services takes the line endpoints.

use async_trait::async_trait;

use super::{HostCheck, HostFiles, HostPlan};
use crate::ids::ReqId;
use crate::probe::proxy;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct ProxyEnv;

#[async_trait]
impl HostCheck for ProxyEnv {
    fn id(&self) -> &'static ReqId {
        &ReqId::ProxyEnv
    }
    fn target(&self) -> &'static str {
        "HTTP(S)_PROXY / NO_PROXY"
    }
    fn reads(&self) -> &'static str {
        "read /proc/self/environ, /etc/environment, /etc/systemd/system.conf{,.d} and the containerd/kubelet/docker drop-ins (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, with: &HostPlan) -> Finding {
        proxy::evaluate(&proxy::read_envs(&HostFiles(ctx.net.host)), &with.endpoints)
    }
}
