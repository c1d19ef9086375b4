//! One runner per probe kind. Each takes one planned [`Probe`], talks to the world only through the
//! traits of [`Net`](crate::engine::Net), and turns outcomes into rows with the pure verdicts of
//! `probe/`. The shared helpers — "bounded by the timeout" and "fan out over the resolved addresses"
//! — are written once here.

mod host;
mod ip;
pub mod node;
mod ntp;
mod tls;
mod udp;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Duration;

use futures::future::{join_all, BoxFuture, Shared};
use tokio::time::Instant;

use crate::catalogue::Catalogue;
use crate::cause::{ErrorClass, Phase, Plain};
use crate::constants::MAX_ADDRESSES_PER_NAME;
use crate::engine::{EngineConfig, Net};
use crate::net::{LocalAddr, RouteEntry};
use crate::plan::{Addr, Probe, ProbeKind};
use crate::probe::dns::DnsFailure;
use crate::probe::ntp::NtpSample;
use crate::probe::port::{ProcInfo, SocketEntry, SocketProto};
use crate::result::{CheckResult, Finding};

/// A name's DNS answer and how long it took (ms), shared by every probe that needs it.
pub type DnsOutcome = (Result<Vec<Ipv4Addr>, DnsFailure>, u64);
pub type DnsFuture<'a> = Shared<BoxFuture<'a, DnsOutcome>>;

/// Local addresses and routes, each read or the reason why not.
pub type Locals = (
    Result<Vec<LocalAddr>, String>,
    Result<Vec<RouteEntry>, String>,
);

/// Host state read once per run, before the probes start (off the runtime thread).
#[derive(Default)]
pub struct HostSnapshot {
    /// Socket tables per protocol (reading /proc/net/udp walks the whole hash table).
    pub sockets: HashMap<SocketProto, Result<Vec<SocketEntry>, String>>,
    /// Socket inode → owning process, from one walk of /proc/*/fd.
    pub owners: HashMap<u64, ProcInfo>,
    pub privileged: bool,
    /// Every tool group's verdict, from one lookup of each name (tools.* rows and pkg.sources read it).
    pub tools: HashMap<String, Finding>,
    /// Source files of yum/apt: (path, text).
    pub source_files: Vec<(String, String)>,
    /// Local addresses and routes, for the CIDR and host checks.
    pub locals: Option<Locals>,
    /// The read-only listings the host checks use (iptables-save, nft, firewalld).
    pub listings: HashMap<crate::net::Listing, Result<String, String>>,
}

/// What every runner can see.
pub struct Ctx<'a, 'n> {
    pub net: &'a Net<'n>,
    pub cfg: &'a EngineConfig,
    pub cat: &'a Catalogue,
    pub dns: HashMap<String, DnsFuture<'a>>,
    /// name → the id of the dns row that resolves it (for `caused_by`).
    pub dns_ids: HashMap<String, String>,
    pub samples: Mutex<Vec<NtpSample>>,
    pub host: HostSnapshot,
    /// The run's deadline: a probe (or one address of it) still running then becomes a SKIP row
    /// saying what was pending.
    pub end: Instant,
    /// The run's deadline as configured, for the overrun message.
    pub deadline: Duration,
}

pub fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// `fut`, or `on_timeout()` when it does not finish within `t`.
pub async fn bounded<T>(
    t: Duration,
    fut: impl Future<Output = T>,
    on_timeout: impl FnOnce() -> T,
) -> T {
    tokio::time::timeout(t, fut)
        .await
        .unwrap_or_else(|_| on_timeout())
}

impl Ctx<'_, '_> {
    /// A row for probe `p` with the catalogue texts of `p.id`.
    pub fn result(
        &self,
        p: &Probe,
        address: Option<String>,
        f: Finding,
        took: Duration,
    ) -> CheckResult {
        self.row(&p.id, &p.target, address, f, took)
    }

    /// A row for requirement `id` (also the `http.*` row of a TLS probe).
    pub fn row(
        &self,
        id: &str,
        target: &str,
        address: Option<String>,
        f: Finding,
        took: Duration,
    ) -> CheckResult {
        let req = self.cat.get(id);
        CheckResult {
            id: id.to_string(),
            category: id.split('.').next().unwrap_or("").to_string(),
            title: req
                .map(|r| r.title.clone())
                .unwrap_or_else(|| id.to_string()),
            target: target.to_string(),
            address,
            status: f.status,
            message: f.message,
            remediation: f.fix.unwrap_or_else(|| {
                req.map(|r| r.remediation.replace("{region}", &self.cfg.region))
                    .unwrap_or_default()
            }),
            source: req.map(|r| r.source.clone()).unwrap_or_default(),
            duration_ms: ms(took),
            details: f.details,
            waived: None,
        }
    }

    /// The rows of probe `p` (every id it promised) when the deadline came first, saying what was
    /// still pending.
    pub fn overrun(&self, p: &Probe, address: Option<String>, pending: &str) -> Vec<CheckResult> {
        let f = Finding::skip_by(
            &Plain(Phase::Deadline, ErrorClass::Deadline),
            format!(
                "did not finish before the run deadline ({} ms): {pending} was still pending",
                ms(self.deadline)
            ),
        )
        .with("pending", pending.to_string());
        p.ids()
            .iter()
            .map(|id| self.row(id, &p.target, address.clone(), f.clone(), self.deadline))
            .collect()
    }

    /// What probe `p` was still waiting for when the deadline came (the DNS answer it needs, or its
    /// own packets).
    pub fn pending(&self, p: &Probe) -> String {
        if let Some(name) = p.resolves() {
            if self.dns.get(name).is_some_and(|f| f.peek().is_none()) {
                return format!(
                    "the DNS answer for {name} (nothing was sent to its addresses yet)"
                );
            }
        }
        p.action("the configured resolver")
    }

    pub async fn lookup(&self, name: &str) -> DnsOutcome {
        match self.dns.get(name) {
            Some(f) => f.clone().await,
            None => (
                Err(DnsFailure::Other(format!(
                    "{name} was not planned for resolution"
                ))),
                0,
            ),
        }
    }

    /// The row a dependent probe links to when `name` did not resolve.
    fn dns_row_of(&self, name: &str, probe_id: &str) -> String {
        self.dns_ids.get(name).cloned().unwrap_or_else(|| {
            format!(
                "dns.{}",
                probe_id.split_once('.').map(|x| x.1).unwrap_or(probe_id)
            )
        })
    }

    /// The addresses a probe targets, or a SKIP finding (linked to the dns row) when its name did not
    /// resolve or resolved to nothing.
    pub async fn addresses(&self, p: &Probe, addr: &Addr) -> Result<Vec<IpAddr>, Finding> {
        match addr {
            Addr::Fixed(ip) => Ok(vec![*ip]),
            Addr::Resolved { name, except } => {
                let failure = match self.lookup(name).await.0 {
                    Ok(v) if !v.is_empty() => {
                        return Ok(v
                            .into_iter()
                            .map(IpAddr::V4)
                            .filter(|a| !except.contains(a))
                            .take(MAX_ADDRESSES_PER_NAME)
                            .collect())
                    }
                    Ok(_) => DnsFailure::NoRecords,
                    Err(e) => e,
                };
                Err(Finding::skip_by(
                    &failure,
                    format!("not probed: {name} did not resolve: {failure}"),
                )
                .with(
                    "caused_by",
                    serde_json::json!({"id": self.dns_row_of(name, &p.id), "target": name}),
                ))
            }
        }
    }

    /// Run `each` for every address of `addr` concurrently, each under the run's deadline; one SKIP
    /// row per id of `p` when the name did not resolve.
    pub async fn fan_out<'s, F, Fut>(
        &'s self,
        p: &'s Probe,
        addr: &'s Addr,
        each: F,
    ) -> Vec<CheckResult>
    where
        F: Fn(IpAddr) -> Fut,
        Fut: Future<Output = Vec<CheckResult>> + 's,
    {
        let start = Instant::now();
        match self.addresses(p, addr).await {
            Err(f) => p
                .ids()
                .iter()
                .map(|id| self.row(id, &p.target, None, f.clone(), start.elapsed()))
                .collect(),
            // each address under the run's deadline on its own: one slow address does not take the
            // rows of the others with it
            Ok(ips) => join_all(ips.into_iter().map(|ip| {
                let fut = each(ip);
                async move {
                    match tokio::time::timeout_at(self.end, fut).await {
                        Ok(rows) => rows,
                        Err(_) => self.overrun(
                            p,
                            Some(p.address_for(ip)),
                            &p.pinned(ip).action("the configured resolver"),
                        ),
                    }
                }
            }))
            .await
            .into_iter()
            .flatten()
            .collect(),
        }
    }

    /// Run one planned probe.
    pub async fn run_probe(&self, p: &Probe) -> Vec<CheckResult> {
        match &p.kind {
            ProbeKind::Dns { name, expect } => ip::dns(self, p, name, expect).await,
            ProbeKind::Route { addr } => ip::route(self, p, addr).await,
            ProbeKind::Tcp { addr, port } => ip::tcp(self, p, addr, *port).await,
            ProbeKind::InboundTcp { node, port } => ip::inbound_tcp(self, p, *node, *port).await,
            ProbeKind::Ntp { addr } => ntp::server(self, p, addr).await,
            // computed after every ntp.server probe has finished
            ProbeKind::NtpOffset => vec![],
            ProbeKind::PortLocal { proto, port } => vec![host::port_local(self, p, *proto, *port)],
            ProbeKind::Tool => vec![host::tool(self, p)],
            ProbeKind::PkgSources => host::pkg_sources(self, p).await,
            ProbeKind::Cidr {
                range,
                label,
                rule,
                also,
            } => vec![host::cidr(self, p, range, label, *rule, also)],
            ProbeKind::Tls {
                addr,
                port,
                name,
                trust,
                http,
                emit_tls,
            } => {
                tls::run(
                    self,
                    p,
                    tls::TlsPlan {
                        addr,
                        port: *port,
                        name: name.as_deref(),
                        trust: *trust,
                        http: http.as_ref(),
                        emit_tls: *emit_tls,
                    },
                )
                .await
            }
            ProbeKind::UdpEcho { peer, port } => vec![udp::echo(self, p, *peer, *port).await],
            ProbeKind::Mtu { peer, port } => vec![udp::mtu(self, p, *peer, *port).await],
            ProbeKind::IcmpMtu { addr } => udp::icmp_mtu(self, p, addr).await,
            ProbeKind::Host { check, with } => vec![node::run(self, p, *check, with).await],
            ProbeKind::Skip { reason, .. } => {
                vec![self.result(p, None, Finding::skip(reason.clone()), Duration::ZERO)]
            }
        }
    }
}
