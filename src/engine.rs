//! The engine, orchestration only: read the host snapshot the steps need once, start one shared DNS
//! future per name, run every planned step concurrently under one deadline (`timeout_at`) — the
//! steps that read other rows after the rest — and collect the rows in plan order. What each kind
//! of step does is in `run/`; what its outcome means is in `probe/`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::{join_all, BoxFuture, FutureExt, Shared};
use tokio::time::Instant;

use crate::catalogue::Catalogue;
use crate::checks::{self, Step};
use crate::ids::ReqId;
use crate::net::{HostFacts, Listing, OsError, Resolver, ToolLookup};
use crate::probe::dns::DnsFailure;
use crate::probe::port::SocketProto;
use crate::probe::{pkg, tools};
use crate::result::CheckResult;
use crate::run::{bounded, ms, Ctx, DnsFuture, DnsOutcome, HostSnapshot};

pub use crate::constants::MAX_ADDRESSES_PER_NAME;
pub use crate::net::Net;
pub use crate::run::EngineConfig;

/// Read what the host-side steps need, once, before any step starts.
async fn snapshot(steps: &[Step], net: &Net<'_>, cat: &Catalogue, t: Duration) -> HostSnapshot {
    let needs = checks::needs(steps);
    let mut s = HostSnapshot {
        privileged: net.host.privileged(),
        ..Default::default()
    };
    for (wanted, proto) in [
        (needs.tcp_sockets, SocketProto::Tcp),
        (needs.udp_sockets, SocketProto::Udp),
    ] {
        if wanted {
            s.sockets.insert(proto, net.host.sockets(proto));
        }
    }
    if !s.sockets.is_empty() {
        s.owners = net.host.socket_owners();
    }
    if needs.tools {
        s.tools = tool_verdicts(net, cat);
    }
    if needs.sources {
        for (path, is_dir) in pkg::SOURCE_PATHS {
            let files = if *is_dir {
                net.host.list_dir(path)
            } else {
                vec![(*path).to_string()]
            };
            s.source_files.extend(
                files
                    .into_iter()
                    .filter_map(|f| net.host.read_file(&f).map(|t| (f, t))),
            );
        }
    }
    if needs.listings {
        s.listings = listings(net.host);
    }
    if needs.locals {
        let unread = |op| OsError::new(op, format!("no answer within {} ms", ms(t)));
        s.locals = Some((
            bounded(t, net.routes.addresses(), || {
                Err(unread("netlink address dump"))
            })
            .await,
            bounded(t, net.routes.routes(), || Err(unread("netlink route dump"))).await,
        ));
    }
    s
}

/// Every tool group's verdict, from one lookup of each name.
fn tool_verdicts(net: &Net<'_>, cat: &Catalogue) -> HashMap<ReqId, crate::result::Finding> {
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
    cat.tools()
        .filter_map(|req| Some((ReqId::parse(&req.id)?, tools::evaluate(req, &lookup, &dirs))))
        .collect()
}

/// The three firewall listings, side by side: the start waits for the slowest, not their sum.
fn listings(host: &dyn HostFacts) -> HashMap<Listing, Result<String, OsError>> {
    std::thread::scope(|scope| {
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
                    h.join().unwrap_or_else(|_| {
                        Err(OsError::new(l.name(), "the listing thread failed"))
                    }),
                )
            })
            .collect()
    })
}

/// One shared DNS future per name.
fn dns_futures<'a>(
    steps: &[Step],
    resolver: &'a dyn Resolver,
    t: Duration,
) -> HashMap<String, DnsFuture<'a>> {
    checks::names(steps)
        .into_iter()
        .map(|name| {
            let n = name.clone();
            let fut: BoxFuture<'a, DnsOutcome> = async move {
                let s = Instant::now();
                let (out, x) = bounded(t, resolver.resolve_a_counted(&n), || {
                    (
                        Err(DnsFailure::Timeout(ms(t))),
                        crate::probe::loss::Exchange {
                            sent: 1,
                            answered: 0,
                        },
                    )
                })
                .await;
                (out, ms(s.elapsed()), x)
            }
            .boxed();
            (name, fut.shared())
        })
        .collect()
}

/// Run every step concurrently under one deadline. Results come back in plan order.
pub async fn run(
    steps: &[Step],
    net: &Net<'_>,
    cfg: &EngineConfig,
    cat: &Catalogue,
) -> Vec<CheckResult> {
    run_until(steps, net, cfg, cat, cfg.deadline_for(steps.len())).await
}

/// [`run`], counting finished steps in `done` (for a progress line).
pub(crate) async fn run_counting(
    steps: &[Step],
    net: &Net<'_>,
    cfg: &EngineConfig,
    cat: &Catalogue,
    done: &AtomicUsize,
) -> Vec<CheckResult> {
    run_inner(
        steps,
        net,
        cfg,
        cat,
        cfg.deadline_for(steps.len()),
        Some(done),
    )
    .await
}

/// [`run`] with an explicit deadline (tests drive overruns with a deadline shorter than a step).
pub async fn run_until(
    steps: &[Step],
    net: &Net<'_>,
    cfg: &EngineConfig,
    cat: &Catalogue,
    deadline: Duration,
) -> Vec<CheckResult> {
    run_inner(steps, net, cfg, cat, deadline, None).await
}

async fn run_inner(
    steps: &[Step],
    net: &Net<'_>,
    cfg: &EngineConfig,
    cat: &Catalogue,
    deadline: Duration,
    done: Option<&AtomicUsize>,
) -> Vec<CheckResult> {
    let host = snapshot(steps, net, cat, cfg.timeout).await;
    let end = Instant::now() + deadline;
    let dns_ids = steps
        .iter()
        .filter_map(|s| Some((s.kind.queries()?.to_string(), s.id)))
        .collect();
    let ctx = Ctx {
        net,
        cfg,
        cat,
        dns: dns_futures(steps, net.resolver, cfg.timeout),
        dns_ids,
        host,
        earlier: std::sync::Mutex::new(vec![]),
        traces: std::sync::Mutex::default(),
        end,
        deadline,
        paths: crate::run::rto::PathTimes::default(),
        discovered: tokio::sync::watch::Sender::new(None),
        rejections: std::sync::Mutex::default(),
    };
    let ctx = &ctx;
    // a bounded number of steps in flight (sockets, file descriptors)
    let slots = tokio::sync::Semaphore::new(cfg.in_flight.max(1));
    let slots = &slots;
    // every step as a shared future; a step with dependencies first awaits the steps it reads
    // (planned before it), then takes a slot: it never holds one while it waits
    let mut futs: Vec<Shared<BoxFuture<'_, Vec<CheckResult>>>> = Vec::with_capacity(steps.len());
    for s in steps {
        let deps: Vec<_> = steps
            .iter()
            .zip(&futs)
            // a step is read for any row it reports (the pull step reports pull.blob too)
            .filter(|(d, _)| d.rows.iter().any(|id| s.after.contains(id)))
            .map(|(_, f)| f.clone())
            .collect();
        let fut = async move {
            let step = async {
                for r in join_all(deps).await {
                    ctx.finished(r);
                }
                let _slot = slots.acquire().await;
                s.kind.run(ctx, s).await
            };
            let rows = match tokio::time::timeout_at(end, step).await {
                Ok(r) => r,
                Err(_) => ctx.overrun(
                    s,
                    s.fixed_address().map(|ip| s.address_for(ip)),
                    &ctx.pending(s),
                ),
            };
            if let Some(d) = done {
                d.fetch_add(1, Ordering::Relaxed);
            }
            rows
        }
        .boxed()
        .shared();
        futs.push(fut);
    }
    let rows = join_all(futs).await;
    rows.into_iter().flatten().collect()
}
