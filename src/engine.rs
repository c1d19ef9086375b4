//! The probe engine, orchestration only: read the host snapshot once, start one shared DNS future per
//! name, run every planned probe concurrently under one deadline (`timeout_at`), and collect the rows
//! in plan order. What each probe does is in `run/`; what its outcome means is in `probe/`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures::future::{join_all, BoxFuture, FutureExt};
use tokio::time::Instant;

use crate::catalogue::Catalogue;
use crate::net::{
    Connector, HostFacts, Listing, NtpClient, Pinger, Resolver, Routes, TlsProber, ToolLookup,
    UdpProber,
};
use crate::plan::{names, Probe, ProbeKind};
use crate::probe::dns::DnsFailure;
use crate::probe::{ntp, pkg, tools};
use crate::result::CheckResult;
use crate::run::{bounded, ms, Ctx, DnsFuture, DnsOutcome, HostSnapshot};

pub use crate::constants::{MAX_ADDRESSES_PER_NAME, MAX_PROBES_IN_FLIGHT, MAX_SOURCE_HOSTS};

/// Everything the engine talks to.
pub struct Net<'a> {
    pub resolver: &'a dyn Resolver,
    pub connector: &'a dyn Connector,
    pub ntp: &'a dyn NtpClient,
    pub routes: &'a dyn Routes,
    pub host: &'a dyn HostFacts,
    pub tls: &'a dyn TlsProber,
    pub udp: &'a dyn UdpProber,
    /// ICMP echo for evidence on TCP rows and path MTU; None disables it.
    pub icmp: Option<&'a dyn Pinger>,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub region: String,
    /// Per-probe timeout (TCP connect, NTP reply, DNS answer).
    pub timeout: Duration,
    pub ntp_warn_offset: f64,
    pub ntp_fail_offset: f64,
}

impl EngineConfig {
    /// The whole run's deadline: one DNS answer plus one probe, plus a little slack.
    pub fn deadline(&self) -> Duration {
        self.timeout * 2 + Duration::from_millis(500)
    }

    /// The deadline of a run of `probes` probes: one more timeout for every further batch of
    /// [`MAX_PROBES_IN_FLIGHT`] (only a large `inbound` sweep has more than one batch).
    pub fn deadline_for(&self, probes: usize) -> Duration {
        let batches = probes.div_ceil(MAX_PROBES_IN_FLIGHT).max(1) as u32;
        self.deadline() + self.timeout * (batches - 1)
    }
}

/// Read what the host-side checks need, once, before any probe starts.
async fn snapshot(probes: &[Probe], net: &Net<'_>, cat: &Catalogue, t: Duration) -> HostSnapshot {
    let mut s = HostSnapshot {
        privileged: net.host.privileged(),
        ..Default::default()
    };
    for p in probes {
        if let ProbeKind::PortLocal { proto, .. } = p.kind {
            s.sockets
                .entry(proto)
                .or_insert_with(|| net.host.sockets(proto));
        }
    }
    if !s.sockets.is_empty() {
        s.owners = net.host.socket_owners();
    }
    let wants = |f: fn(&ProbeKind) -> bool| probes.iter().any(|p| f(&p.kind));
    if wants(|k| matches!(k, ProbeKind::Tool | ProbeKind::PkgSources)) {
        let mut looked: HashMap<&str, ToolLookup> = HashMap::new();
        for req in cat.tools() {
            for n in tools::names(req) {
                looked
                    .entry(n.as_str())
                    .or_insert_with(|| net.host.find_tool(n));
            }
        }
        let dirs = net.host.tool_dirs();
        let lookup = |n: &str| looked.get(n).cloned().unwrap_or(ToolLookup::Missing);
        s.tools = cat
            .tools()
            .map(|req| (req.id.clone(), tools::evaluate(req, &lookup, &dirs)))
            .collect();
    }
    if wants(|k| matches!(k, ProbeKind::PkgSources)) {
        for (path, is_dir) in pkg::SOURCE_PATHS {
            let files = if *is_dir {
                net.host.list_dir(path)
            } else {
                vec![path.to_string()]
            };
            s.source_files.extend(
                files
                    .into_iter()
                    .filter_map(|f| net.host.read_file(&f).map(|t| (f, t))),
            );
        }
    }
    if wants(|k| {
        matches!(
            k,
            ProbeKind::Host {
                check: crate::plan::HostCheck::Firewall,
                ..
            }
        )
    }) {
        // the three listings run side by side: the start waits for the slowest, not their sum
        let host = net.host;
        s.listings = std::thread::scope(|scope| {
            let runs: Vec<_> = [
                Listing::IptablesSave,
                Listing::NftRuleset,
                Listing::FirewalldState,
            ]
            .into_iter()
            .map(|l| (l, scope.spawn(move || host.listing(l))))
            .collect();
            runs.into_iter()
                .map(|(l, h)| {
                    (
                        l,
                        h.join()
                            .unwrap_or_else(|_| Err("the listing thread failed".into())),
                    )
                })
                .collect()
        });
    }
    if wants(|k| matches!(k, ProbeKind::Cidr { .. } | ProbeKind::Host { .. })) {
        let unread = || format!("no netlink answer within {} ms", ms(t));
        s.locals = Some((
            bounded(t, net.routes.addresses(), || Err(unread())).await,
            bounded(t, net.routes.routes(), || Err(unread())).await,
        ));
    }
    s
}

/// One shared DNS future per name.
fn dns_futures<'a>(
    probes: &[Probe],
    resolver: &'a dyn Resolver,
    t: Duration,
) -> HashMap<String, DnsFuture<'a>> {
    names(probes)
        .into_iter()
        .map(|name| {
            let n = name.clone();
            let fut: BoxFuture<'a, DnsOutcome> = async move {
                let s = Instant::now();
                let out = bounded(t, resolver.resolve_a(&n), || {
                    Err(DnsFailure::Timeout(ms(t)))
                })
                .await;
                (out, ms(s.elapsed()))
            }
            .boxed();
            (name, fut.shared())
        })
        .collect()
}

/// Run every probe concurrently under one deadline. Results come back in plan order.
pub async fn run(
    probes: &[Probe],
    net: &Net<'_>,
    cfg: &EngineConfig,
    cat: &Catalogue,
) -> Vec<CheckResult> {
    run_until(probes, net, cfg, cat, cfg.deadline_for(probes.len())).await
}

/// [`run`], counting finished probes in `done` (for a progress line).
pub async fn run_counting(
    probes: &[Probe],
    net: &Net<'_>,
    cfg: &EngineConfig,
    cat: &Catalogue,
    done: &AtomicUsize,
) -> Vec<CheckResult> {
    run_inner(
        probes,
        net,
        cfg,
        cat,
        cfg.deadline_for(probes.len()),
        Some(done),
    )
    .await
}

/// [`run`] with an explicit deadline (tests drive overruns with a deadline shorter than a probe).
pub async fn run_until(
    probes: &[Probe],
    net: &Net<'_>,
    cfg: &EngineConfig,
    cat: &Catalogue,
    deadline: Duration,
) -> Vec<CheckResult> {
    run_inner(probes, net, cfg, cat, deadline, None).await
}

async fn run_inner(
    probes: &[Probe],
    net: &Net<'_>,
    cfg: &EngineConfig,
    cat: &Catalogue,
    deadline: Duration,
    done: Option<&AtomicUsize>,
) -> Vec<CheckResult> {
    let host = snapshot(probes, net, cat, cfg.timeout).await;
    let end = Instant::now() + deadline;
    let dns_ids = probes
        .iter()
        .filter_map(|p| match &p.kind {
            ProbeKind::Dns { name, .. } => Some((name.clone(), p.id.clone())),
            _ => None,
        })
        .collect();
    let ctx = Ctx {
        net,
        cfg,
        cat,
        dns: dns_futures(probes, net.resolver, cfg.timeout),
        dns_ids,
        samples: Mutex::new(vec![]),
        host,
        end,
        deadline,
    };
    let ctx = &ctx;
    // a bounded number of probes in flight (sockets, file descriptors)
    let slots = tokio::sync::Semaphore::new(MAX_PROBES_IN_FLIGHT);
    let slots = &slots;
    let mut rows: Vec<Vec<CheckResult>> = join_all(probes.iter().map(|p| async move {
        let probe = async {
            let _slot = slots.acquire().await;
            ctx.run_probe(p).await
        };
        let rows = match tokio::time::timeout_at(end, probe).await {
            Ok(r) => r,
            Err(_) => ctx.overrun(
                p,
                p.fixed_address().map(|ip| p.address_for(ip)),
                &ctx.pending(p),
            ),
        };
        if let Some(d) = done {
            d.fetch_add(1, Ordering::Relaxed);
        }
        rows
    }))
    .await;
    let samples = ctx.samples.lock().map(|v| v.clone()).unwrap_or_default();
    for (i, p) in probes.iter().enumerate() {
        if matches!(p.kind, ProbeKind::NtpOffset) {
            let f = ntp::evaluate_offset(&samples, cfg.ntp_warn_offset, cfg.ntp_fail_offset);
            rows[i] = vec![ctx.result(p, None, f, Duration::ZERO)];
        }
    }
    rows.into_iter().flatten().collect()
}
