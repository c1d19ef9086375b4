//! The read-only host checks (`host.*`, `dns.resolver`, `proxy.env`): one file each, every one a
//! [`HostCheck`] over the host's files, the listings of the snapshot and the kernel's routes, with
//! the pure evaluators in `probe::{node, proxy, firewall, nodeip}`.

pub mod cgroup;
pub mod firewall;
pub mod hostname;
pub mod kernel_modules;
pub mod leftovers;
pub(crate) mod node_ip;
pub(crate) mod os;
pub(crate) mod proxy_env;
pub mod resolver;
pub mod rp_filter;
pub mod swap;
pub mod sysctl;
pub(crate) mod time_sync;

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use ipnet::IpNet;
use tokio::time::Instant;

use crate::catalogue::Catalogue;
use crate::checks::{cloud, Check, Needs, Step, StepKind};
use crate::ids::ReqId;
use crate::net::HostFacts;
use crate::options::{Cni, Host as Named, Options};
use crate::probe::node::Files;
use crate::result::{CheckResult, Finding};
use crate::run::{bounded, Ctx};

/// What the host checks need from the options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostPlan {
    /// The address the cloud is reached at (API server, else a documented registry address).
    pub line: Option<IpAddr>,
    /// The line endpoints a proxy must not take (proxy.env).
    pub endpoints: Vec<String>,
    pub flannel: bool,
    pub vpc_cidr: Option<IpNet>,
    pub pod_cidr: Option<IpNet>,
    /// `--self-hosted-ntp`: the node keeps its own time.
    pub self_hosted_ntp: bool,
}

impl HostPlan {
    pub fn of(o: &Options) -> HostPlan {
        let documented = cloud::registry_addresses(o);
        let line = match o.apiserver.as_ref().map(|a| &a.host) {
            Some(Named::Ip(ip)) => Some(*ip),
            Some(Named::Name(_)) | None => documented.first().copied(),
        };
        let r = &o.region;
        let mut endpoints: Vec<String> =
            vec![r.control_plane.clone(), r.oss.clone(), r.registry.clone()];
        endpoints.extend(documented.iter().map(ToString::to_string));
        if let Some(api) = &o.apiserver {
            endpoints.push(api.host.to_string());
        }
        HostPlan {
            line,
            endpoints,
            flannel: o.cni == Cni::Flannel,
            vpc_cidr: o.vpc_cidr,
            pod_cidr: o.pod_cidr,
            self_hosted_ntp: o.self_hosted_ntp,
        }
    }
}

/// One read-only host check: its row, what `plan` says it reads, and its evaluation.
#[async_trait]
pub trait HostCheck: Sync {
    /// Its row (a constant: `&ReqId::HostSwap`).
    fn id(&self) -> &'static ReqId;
    /// The row's target column.
    fn target(&self) -> &'static str;
    /// What it reads (for `plan`): files, commands, kernel state; never a change.
    fn reads(&self) -> &'static str;
    /// What it needs from the snapshot beyond local addresses and routes.
    fn needs(&self) -> Needs {
        Needs::LOCALS
    }
    /// Whether its row reports how long it took (checks that ask the kernel or a resolver).
    fn timed(&self) -> bool {
        false
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, with: &HostPlan) -> Finding;
}

/// A [`HostCheck`] in the registry.
pub struct Host(pub &'static dyn HostCheck);

impl Check for Host {
    fn ids(&self) -> &'static [ReqId] {
        std::slice::from_ref(self.0.id())
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let with = HostPlan::of(o);
        vec![Step::new(
            *self.0.id(),
            self.0.target(),
            HostStep {
                check: self.0,
                with,
            },
        )]
    }
}

struct HostStep {
    check: &'static dyn HostCheck,
    with: HostPlan,
}

#[async_trait]
impl StepKind for HostStep {
    fn name(&self) -> &'static str {
        "host"
    }
    fn packets(&self, _: &Step, _: &str) -> Vec<String> {
        vec![self.check.reads().to_string()]
    }
    fn needs(&self) -> Needs {
        self.check.needs().union(Needs::LOCALS)
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, step: &Step) -> Vec<CheckResult> {
        let s = Instant::now();
        let f = self.check.evaluate(ctx, &self.with).await;
        let took = if self.check.timed() {
            s.elapsed()
        } else {
            Duration::ZERO
        };
        vec![ctx.result(step, None, f, took)]
    }
}

/// The host's files as the pure evaluators read them.
pub struct HostFiles<'a>(pub &'a dyn HostFacts);

impl Files for HostFiles<'_> {
    fn read(&self, path: &str) -> Option<String> {
        self.0.read_file(path)
    }
    fn list(&self, dir: &str) -> Vec<String> {
        self.0.list_dir(dir)
    }
}

/// The default route's interface, from the routes read in the snapshot.
fn default_route(ctx: &Ctx<'_, '_>) -> Option<String> {
    let routes = ctx.host.locals.as_ref()?.1.as_ref().ok()?;
    routes
        .iter()
        .find(|r| {
            r.dst.prefix_len() == 0
                && r.dst.addr().is_ipv4()
                && r.kind == "unicast"
                && r.table == 254
        })
        .and_then(|r| {
            r.interface
                .clone()
                .or_else(|| r.nexthops.first().and_then(|h| h.interface.clone()))
        })
}

/// The interface and source address the kernel uses toward `ip`.
async fn route_of(ctx: &Ctx<'_, '_>, ip: IpAddr) -> (Option<String>, Option<IpAddr>) {
    let timeout = || {
        Err(crate::probe::route::RouteFailure::Unavailable(
            "timed out".into(),
        ))
    };
    match bounded(ctx.cfg.timeout, ctx.net.routes.route_to(ip), timeout).await {
        Ok(r) => (r.interface, r.source),
        Err(_) => (None, None),
    }
}

/// The interface toward the line, if the line's address is known.
async fn line_interface(ctx: &Ctx<'_, '_>, with: &HostPlan) -> Option<String> {
    match with.line {
        Some(ip) => route_of(ctx, ip).await.0,
        None => None,
    }
}
