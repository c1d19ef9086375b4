//! `host.node-ip`: the address the kubelet and Flannel pick is the one on the line's interface.

use std::net::IpAddr;

use async_trait::async_trait;

use super::{default_route, route_of, HostCheck, HostFiles, HostPlan};
use crate::constants::valid_hostname;
use crate::ids::ReqId;
use crate::probe::node::Files;
use crate::probe::nodeip;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct NodeIp;

#[async_trait]
impl HostCheck for NodeIp {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostNodeIp
    }
    fn target(&self) -> &'static str {
        "kubelet and Flannel address"
    }
    fn reads(&self) -> &'static str {
        "read /proc/sys/kernel/hostname and /etc/hosts, DNS A query for the hostname when /etc/hosts has none, netlink route lookups (local)"
    }
    fn timed(&self) -> bool {
        true
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, with: &HostPlan) -> Finding {
        let files = HostFiles(ctx.net.host);
        let hostname = files
            .read("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let hosts = files
            .read("/etc/hosts")
            .map(|h| nodeip::hosts_lookup(&h, &hostname))
            .unwrap_or_default();
        let dns = if hosts.is_empty() && valid_hostname(&hostname) {
            Some(
                ctx.resolve_now(&hostname)
                    .await
                    .map(|v| v.into_iter().map(IpAddr::V4).collect())
                    .map_err(|e| e.to_string()),
            )
        } else {
            None
        };
        let default_iface = default_route(ctx);
        let addrs = match &ctx.host.locals {
            Some((Ok(a), _)) => a.clone(),
            _ => vec![],
        };
        let default_src = default_iface.as_ref().and_then(|i| {
            addrs
                .iter()
                .find(|a| &a.interface == i && a.net.addr().is_ipv4())
                .map(|a| a.net.addr())
        });
        let (line_iface, line_src) = match with.line {
            Some(ip) => route_of(ctx, ip).await,
            None => (None, None),
        };
        nodeip::evaluate(&nodeip::Facts {
            hostname,
            hosts,
            dns,
            default_iface,
            default_src,
            line_target: with.line,
            line_iface,
            line_src,
            addrs,
        })
    }
}
