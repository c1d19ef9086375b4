//! The check registry: the requirement is the unit of the code.
//!
//! Every requirement of `checks/requirements.toml` is reported by exactly one [`Check`] listed once
//! in [`REGISTRY`] (a test holds the two together in both directions). A check says which rows it
//! reports, which checks it reads (and so runs after), and which [`Step`]s it plans from the
//! options. A step is data every step has — the rows it reports, its target, the address and port
//! it goes to — plus a [`StepKind`] that says what `plan` prints for it, what it needs from the host
//! snapshot and how it runs. The engine fans out over addresses, waits for DNS, enforces the one
//! deadline, writes overrun rows and orders dependencies from those common fields alone.
//!
//! How to add a check: `docs/architecture.md`, first section.

pub(crate) mod cidr;
pub(crate) mod cloud;
pub(crate) mod discovery;
pub(crate) mod dns;
pub mod host;
pub(crate) mod inbound;
pub(crate) mod join;
pub(crate) mod mtu;
pub(crate) mod ntp;
pub(crate) mod pkg;
pub(crate) mod port;
pub(crate) mod pull;
pub(crate) mod raven;
pub(crate) mod route;
pub(crate) mod tcp;
pub(crate) mod tls;
pub(crate) mod tools;
pub(crate) mod udp;

use std::net::IpAddr;

use crate::catalogue::Catalogue;
use crate::ids::ReqId;
use crate::options::{Cni, Options};
use crate::result::Untested;
pub(crate) use crate::run::step::{skipped, Addr, Needs, Step, StepKind};

/// One requirement (or a small family that shares one probe, such as a TLS handshake that reports
/// the `tls.*` and the `http.*` row).
pub trait Check: Sync {
    /// The rows this check reports.
    fn ids(&self) -> &'static [ReqId];
    /// The checks whose rows this one reads; the engine runs it after them.
    fn after(&self) -> &'static [ReqId] {
        &[]
    }
    /// Its steps for `check` with these options (before `--only` / `--skip`).
    fn plan(&self, opts: &Options, cat: &Catalogue) -> Vec<Step>;
    /// Its steps for `inbound` toward one node (most checks have none).
    fn plan_inbound(&self, _node: IpAddr, _cni: Cni) -> Vec<Step> {
        vec![]
    }
}

/// Every check, in plan order. A new check is one line here.
pub static REGISTRY: &[&dyn Check] = &[
    &dns::ControlPlane,
    &route::ControlPlane,
    &tcp::ControlPlane,
    &dns::Oss,
    &route::Oss,
    &tcp::Oss,
    &dns::Registry,
    &route::Registry,
    &tcp::Registry,
    &tls::Registry,
    &tls::Oss,
    &tls::ControlPlane,
    &pull::Pull,
    &dns::Apiserver,
    &route::Apiserver,
    &tcp::Apiserver,
    &mtu::Apiserver,
    &tls::Apiserver,
    &discovery::ClusterInfo,
    &dns::Ntp,
    &ntp::Server,
    &ntp::Offset,
    &dns::Endpoint,
    &route::Endpoint,
    &tcp::Endpoint,
    &udp::Vxlan,
    &mtu::Peers,
    &mtu::Cloud,
    &mtu::Storage,
    &raven::Proxy,
    &raven::Tunnel,
    &port::Local,
    &host::Host(&host::firewall::Firewall),
    &host::Host(&host::node_ip::NodeIp),
    &host::Host(&host::rp_filter::RpFilter),
    &host::Host(&host::resolver::Resolver),
    &host::Host(&host::proxy_env::ProxyEnv),
    &host::Host(&host::sysctl::Sysctl),
    &host::Host(&host::kernel_modules::KernelModules),
    &host::Host(&host::swap::Swap),
    &host::Host(&host::cgroup::Cgroup),
    &host::Host(&host::os::Os),
    &host::Host(&host::hostname::Hostname),
    &join::NodeNameUnique,
    &host::Host(&host::leftovers::Leftovers),
    &host::Host(&host::time_sync::TimeSync),
    &tools::Tools,
    &pkg::Sources,
    &cidr::Overlap,
    &inbound::Inbound,
];

/// Every step for these options, in registry order, filtered by `--only` / `--skip`.
pub fn plan(opts: &Options, cat: &Catalogue) -> Vec<Step> {
    select(
        REGISTRY
            .iter()
            .flat_map(|c| with_after(*c, c.plan(opts, cat)))
            .collect(),
        |id| opts.selected(id),
    )
}

/// The steps of `inbound --node IP`: each node's inbound ports, answered by its `responder`.
pub(crate) fn plan_inbound(nodes: &[IpAddr], cni: Cni) -> Vec<Step> {
    nodes
        .iter()
        .flat_map(|node| {
            REGISTRY
                .iter()
                .flat_map(move |c| with_after(*c, c.plan_inbound(*node, cni)))
        })
        .collect()
}

fn with_after(c: &dyn Check, steps: Vec<Step>) -> Vec<Step> {
    let after = c.after();
    steps
        .into_iter()
        .map(|mut s| {
            debug_assert!(
                s.rows.iter().all(|id| c.ids().contains(id)),
                "{:?} reports a row it does not own",
                s.id
            );
            s.after = after;
            s
        })
        .collect()
}

fn select(steps: Vec<Step>, selected: impl Fn(ReqId) -> bool) -> Vec<Step> {
    steps
        .into_iter()
        .filter_map(|mut s| {
            s.rows.retain(|id| selected(*id));
            (!s.rows.is_empty()).then_some(s)
        })
        .collect()
}

/// Every requirement id a step list reports rows for, in plan order.
pub fn emitted_ids(steps: &[Step]) -> Vec<ReqId> {
    let mut out: Vec<ReqId> = vec![];
    for id in steps.iter().flat_map(|s| s.rows.iter().copied()) {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// What these options leave untested, and why: planned SKIPs ("needs --apiserver") and requirements
/// deselected by `--only` / `--skip`.
pub fn untested(opts: &Options, cat: &Catalogue, planned: &[Step]) -> Vec<Untested> {
    let mut out: Vec<Untested> = vec![];
    for s in planned {
        if let Some(needs) = s.kind.untested() {
            if !out.iter().any(|u| u.id == s.id.as_str()) {
                out.push(Untested {
                    id: s.id.to_string(),
                    reason: needs.to_string(),
                });
            }
        }
    }
    let mut all = opts.clone();
    all.only.clear();
    all.skip.clear();
    let emitted = emitted_ids(planned);
    for id in emitted_ids(&plan(&all, cat)) {
        if emitted.contains(&id) || out.iter().any(|u| u.id == id.as_str()) {
            continue;
        }
        let by_skip = opts.skip.iter().any(|s| id.selected_by(s));
        let reason = if by_skip {
            "deselected by --skip"
        } else {
            "not selected by --only"
        };
        out.push(Untested {
            id: id.to_string(),
            reason: reason.into(),
        });
    }
    out
}

/// Every name the steps need resolved, in plan order, without duplicates.
pub fn names(steps: &[Step]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for s in steps {
        if let Some(n) = s.kind.queries().or_else(|| s.resolves()) {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    out
}

/// What the steps need from the host snapshot, together.
pub fn needs(steps: &[Step]) -> Needs {
    steps
        .iter()
        .fold(Needs::NOTHING, |n, s| n.union(s.kind.needs()))
}

#[cfg(test)]
mod tests;
