//! A planned step: what every step has (its rows, target, address and port, the checks it runs
//! after) and its [`StepKind`] — what `plan` prints for it, what it needs from the host snapshot
//! and how it runs. The checks of `checks::REGISTRY` build them; the engine runs them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Serialize, Serializer};

use super::Ctx;
use crate::ids::ReqId;
use crate::result::CheckResult;

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
    pub(crate) const NOTHING: Needs = Needs {
        tcp_sockets: false,
        udp_sockets: false,
        tools: false,
        sources: false,
        listings: false,
        locals: false,
        tls_roots: false,
    };
    pub(crate) const LOCALS: Needs = Needs {
        locals: true,
        ..Needs::NOTHING
    };

    #[must_use]
    pub(crate) fn union(self, o: Needs) -> Needs {
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
    /// A TLS handshake step: the SNI name it sends and what it verifies against (`watch` repeats
    /// it now and then).
    fn handshake(&self) -> Option<(Option<&str>, crate::probe::tls::Trust)> {
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
    pub(crate) fn also(mut self, also: ReqId) -> Step {
        self.rows.push(also);
        self
    }

    /// Whether it reports rows of `id`.
    pub fn reports(&self, id: ReqId) -> bool {
        self.rows.contains(&id)
    }

    /// The address column of its row for `ip` (with the port where it has one).
    pub(crate) fn address_for(&self, ip: IpAddr) -> String {
        match self.port {
            Some(port) => SocketAddr::new(ip, port).to_string(),
            None => ip.to_string(),
        }
    }

    /// The one address it targets without DNS, if it has exactly one.
    pub(crate) fn fixed_address(&self) -> Option<IpAddr> {
        match &self.addr {
            Some(Addr::Fixed(ip)) => Some(*ip),
            Some(Addr::Resolved { .. }) | None => None,
        }
    }

    /// The name whose DNS answer it waits for, if any.
    pub fn resolves(&self) -> Option<&str> {
        match &self.addr {
            Some(Addr::Resolved { name, .. }) => Some(name),
            Some(Addr::Fixed(_)) | None => None,
        }
    }

    /// The same step aimed at one address (for "what was pending" toward that address).
    #[must_use]
    pub(crate) fn pinned(&self, ip: IpAddr) -> Step {
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
    pub(crate) fn action(&self, dns_via: &str) -> String {
        self.kind.summary(self, dns_via)
    }

    /// Where its packets go, as `plan` says it (`198.18.0.1`, `each A record of NAME`).
    pub(crate) fn addr_text(&self) -> String {
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
pub(crate) struct Skipped {
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
pub(crate) fn skipped(ids: &[ReqId], target: &str, reason: &str, needs: &str) -> Vec<Step> {
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
