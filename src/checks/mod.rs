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
pub(crate) mod dns;
pub mod host;
pub(crate) mod inbound;
pub(crate) mod mtu;
pub(crate) mod ntp;
pub(crate) mod pkg;
pub(crate) mod port;
pub(crate) mod raven;
pub(crate) mod route;
pub(crate) mod tcp;
pub(crate) mod tls;
pub(crate) mod tools;
pub(crate) mod udp;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Serialize, Serializer};

use crate::catalogue::Catalogue;
use crate::ids::ReqId;
use crate::options::{Cni, Options};
use crate::result::{CheckResult, Untested};
use crate::run::Ctx;

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
    &dns::Apiserver,
    &route::Apiserver,
    &tcp::Apiserver,
    &mtu::Apiserver,
    &tls::Apiserver,
    &dns::Ntp,
    &ntp::Server,
    &ntp::Offset,
    &dns::Endpoint,
    &route::Endpoint,
    &tcp::Endpoint,
    &udp::Vxlan,
    &mtu::Peers,
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
    &host::Host(&host::hostname::Hostname),
    &host::Host(&host::leftovers::Leftovers),
    &host::Host(&host::time_sync::TimeSync),
    &tools::Tools,
    &pkg::Sources,
    &cidr::Overlap,
    &inbound::Inbound,
];

/// Where a step's packets go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Addr {
    /// A documented or given address: probed whatever DNS says.
    Fixed(IpAddr),
    /// Every A record of `name`, except addresses already probed as `Fixed`.
    Resolved { name: String, except: Vec<IpAddr> },
}

impl Addr {
    /// Every A record of `name`.
    pub fn resolved(name: &str) -> Addr {
        Addr::Resolved {
            name: name.to_string(),
            except: vec![],
        }
    }

    /// How `plan` names it.
    pub fn describe(&self) -> String {
        match self {
            Addr::Fixed(ip) => ip.to_string(),
            Addr::Resolved { name, except } if except.is_empty() => {
                format!("each A record of {name}")
            }
            Addr::Resolved { name, .. } => format!("each other A record of {name}"),
        }
    }
}

/// What a step reads from the host snapshot, which the engine takes once before any step starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct Needs {
    pub tcp_sockets: bool,
    pub udp_sockets: bool,
    /// Every tool group's lookup.
    pub tools: bool,
    /// The yum/apt source files.
    pub sources: bool,
    /// The firewall listings (iptables-save, nft, firewalld).
    pub listings: bool,
    /// Local addresses and routes.
    pub locals: bool,
    /// The host's trusted roots, read before any handshake starts.
    pub tls_roots: bool,
}

impl Needs {
    pub const NOTHING: Needs = Needs {
        tcp_sockets: false,
        udp_sockets: false,
        tools: false,
        sources: false,
        listings: false,
        locals: false,
        tls_roots: false,
    };
    pub const LOCALS: Needs = Needs {
        locals: true,
        ..Needs::NOTHING
    };

    #[must_use]
    pub fn union(self, o: Needs) -> Needs {
        Needs {
            tcp_sockets: self.tcp_sockets || o.tcp_sockets,
            udp_sockets: self.udp_sockets || o.udp_sockets,
            tools: self.tools || o.tools,
            sources: self.sources || o.sources,
            listings: self.listings || o.listings,
            locals: self.locals || o.locals,
            tls_roots: self.tls_roots || o.tls_roots,
        }
    }
}

/// How one kind of step runs, and what `plan` says of it.
#[async_trait]
pub trait StepKind: Send + Sync {
    /// The kind's name in `plan --format json`.
    fn name(&self) -> &'static str;
    /// Every packet (or local read) the step makes, one line each; the first says it in one line.
    fn packets(&self, step: &Step, dns_via: &str) -> Vec<String>;
    /// What it sends, in one line (for "still pending" when the deadline comes first).
    fn summary(&self, step: &Step, dns_via: &str) -> String {
        self.packets(step, dns_via)
            .into_iter()
            .next()
            .unwrap_or_default()
    }
    /// What it reads from the host snapshot.
    fn needs(&self) -> Needs {
        Needs::NOTHING
    }
    /// The name it queries itself (a `dns.*` row); the engine starts one shared lookup per name.
    fn queries(&self) -> Option<&str> {
        None
    }
    /// When the step cannot run with these options: what it needs ("needs --apiserver").
    fn untested(&self) -> Option<&str> {
        None
    }
    /// Run it: one or more rows for each id of `step.rows`.
    async fn run(&self, ctx: &Ctx<'_, '_>, step: &Step) -> Vec<CheckResult>;
}

/// One planned step: what every step has, and its kind.
#[derive(Clone)]
pub struct Step {
    /// The requirement it serves (its first row).
    pub id: ReqId,
    /// The rows it reports: `id`, and for a TLS handshake the `http.*` row too.
    pub rows: Vec<ReqId>,
    pub target: String,
    /// Where its packets go; `None` for local reads.
    pub addr: Option<Addr>,
    pub port: Option<u16>,
    /// The checks it reads (filled from [`Check::after`] by [`plan`]).
    pub after: &'static [ReqId],
    pub kind: Arc<dyn StepKind>,
}

impl Step {
    /// A local step (no address) of one row.
    pub fn new(id: ReqId, target: impl Into<String>, kind: impl StepKind + 'static) -> Step {
        Step {
            id,
            rows: vec![id],
            target: target.into(),
            addr: None,
            port: None,
            after: &[],
            kind: Arc::new(kind),
        }
    }

    /// The same step aimed at `addr`.
    #[must_use]
    pub fn to(mut self, addr: Addr) -> Step {
        self.addr = Some(addr);
        self
    }

    /// The same step on `port`.
    #[must_use]
    pub fn port(mut self, port: u16) -> Step {
        self.port = Some(port);
        self
    }

    /// The same step reporting `also` as a second row.
    #[must_use]
    pub fn also(mut self, also: ReqId) -> Step {
        self.rows.push(also);
        self
    }

    /// Whether it reports rows of `id`.
    pub fn reports(&self, id: ReqId) -> bool {
        self.rows.contains(&id)
    }

    /// The address column of its row for `ip` (with the port where it has one).
    pub fn address_for(&self, ip: IpAddr) -> String {
        match self.port {
            Some(port) => SocketAddr::new(ip, port).to_string(),
            None => ip.to_string(),
        }
    }

    /// The one address it targets without DNS, if it has exactly one.
    pub fn fixed_address(&self) -> Option<IpAddr> {
        match &self.addr {
            Some(Addr::Fixed(ip)) => Some(*ip),
            _ => None,
        }
    }

    /// The name whose DNS answer it waits for, if any.
    pub fn resolves(&self) -> Option<&str> {
        match &self.addr {
            Some(Addr::Resolved { name, .. }) => Some(name),
            _ => None,
        }
    }

    /// The same step aimed at one address (for "what was pending" toward that address).
    #[must_use]
    pub fn pinned(&self, ip: IpAddr) -> Step {
        let mut s = self.clone();
        if s.addr.is_some() {
            s.addr = Some(Addr::Fixed(ip));
        }
        s
    }

    /// Every packet it makes, one line each (for `plan`).
    pub fn packets(&self, dns_via: &str) -> Vec<String> {
        self.kind.packets(self, dns_via)
    }

    /// One line saying what it sends.
    pub fn action(&self, dns_via: &str) -> String {
        self.kind.summary(self, dns_via)
    }

    /// Where its packets go, as `plan` says it (`198.18.0.1`, `each A record of NAME`).
    pub fn addr_text(&self) -> String {
        self.addr.as_ref().map(Addr::describe).unwrap_or_default()
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("id", &self.id)
            .field("rows", &self.rows)
            .field("target", &self.target)
            .field("kind", &self.kind.name())
            .field("addr", &self.addr)
            .field("port", &self.port)
            .finish()
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            id: ReqId,
            target: &'a str,
            kind: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            addr: Option<&'a Addr>,
            #[serde(skip_serializing_if = "Option::is_none")]
            port: Option<u16>,
            rows: &'a [ReqId],
        }
        Shown {
            id: self.id,
            target: &self.target,
            kind: self.kind.name(),
            addr: self.addr.as_ref(),
            port: self.port,
            rows: &self.rows,
        }
        .serialize(s)
    }
}

/// Planned but not runnable with these options; reported as SKIP with the reason, and listed as
/// untested with what it needs ("needs --apiserver").
pub struct Skipped {
    pub reason: String,
    pub needs: String,
}

#[async_trait]
impl StepKind for Skipped {
    fn name(&self) -> &'static str {
        "skip"
    }
    fn packets(&self, _: &Step, _: &str) -> Vec<String> {
        vec![format!("skipped: {}", self.reason)]
    }
    fn untested(&self) -> Option<&str> {
        Some(&self.needs)
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, step: &Step) -> Vec<CheckResult> {
        let f = crate::result::Finding::skip(self.reason.clone());
        step.rows
            .iter()
            .map(|id| {
                ctx.row(
                    *id,
                    &step.target,
                    None,
                    f.clone(),
                    std::time::Duration::ZERO,
                )
            })
            .collect()
    }
}

/// One SKIP step per id, all for the same reason.
pub fn skipped(ids: &[ReqId], target: &str, reason: &str, needs: &str) -> Vec<Step> {
    ids.iter()
        .map(|id| {
            Step::new(
                *id,
                target,
                Skipped {
                    reason: reason.into(),
                    needs: needs.into(),
                },
            )
        })
        .collect()
}

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
pub fn plan_inbound(nodes: &[IpAddr], cni: Cni) -> Vec<Step> {
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
