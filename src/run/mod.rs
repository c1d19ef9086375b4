//! The step kinds: how each kind of planned [`Step`] runs. Each talks to the world only through
//! the traits of [`Net`](crate::engine::Net) and turns outcomes into rows with the pure verdicts of
//! `probe/`. The shared helpers — "bounded by the timeout", "one DNS lookup with a timeout" and
//! "fan out over the resolved addresses" — are written once here.

pub(crate) mod discovery;
pub(crate) mod ip;
pub(crate) mod local;
pub(crate) mod ntp;
pub(crate) mod pull;
pub(crate) mod rto;
pub(crate) mod step;
pub(crate) mod tls;
pub(crate) mod udp;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures::future::{join_all, BoxFuture, Shared};
use tokio::time::Instant;

use crate::catalogue::Catalogue;
use crate::cause::{ErrorClass, Phase, Plain};
use crate::constants::DEADLINE_SLACK;
use crate::constants::MAX_ADDRESSES_PER_NAME;
use crate::ids::ReqId;
use crate::net::Net;
use crate::net::{LocalAddr, OsError, RouteEntry};
use crate::probe::dns::DnsFailure;
use crate::probe::port::{ProcInfo, SocketEntry, SocketProto};
use crate::result::{CheckResult, Finding};
use step::{Addr, Step};

/// A name's DNS answer and how long it took (ms), shared by every step that needs it.
/// A name's answer, how long it took (ms), and the queries sent and answered for it.
pub(crate) type DnsOutcome = (
    Result<Vec<Ipv4Addr>, DnsFailure>,
    u64,
    crate::probe::loss::Exchange,
);
pub(crate) type DnsFuture<'a> = Shared<BoxFuture<'a, DnsOutcome>>;

/// Local addresses and routes, each read or the reason why not.
pub(crate) type Locals = (
    Result<Vec<LocalAddr>, OsError>,
    Result<Vec<RouteEntry>, OsError>,
);

/// Host state read once per run, before the steps start.
#[derive(Default)]
pub struct HostSnapshot {
    /// Socket tables per protocol (reading /proc/net/udp walks the whole hash table).
    pub sockets: HashMap<SocketProto, Result<Vec<SocketEntry>, OsError>>,
    /// Socket inode → owning process, from one walk of /proc/*/fd.
    pub owners: HashMap<u64, ProcInfo>,
    pub privileged: bool,
    /// Every tool group's verdict, from one lookup of each name (tools.* rows and pkg.sources read it).
    pub tools: HashMap<ReqId, Finding>,
    /// Source files of yum/apt: (path, text).
    pub source_files: Vec<(String, String)>,
    /// Local addresses and routes, for the CIDR and host checks.
    pub locals: Option<Locals>,
    /// The read-only listings the host checks use (iptables-save, nft, firewalld).
    pub listings: HashMap<crate::net::Listing, Result<String, OsError>>,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub region: String,
    /// `--line-peer`: the cloud end of the line (the VBR), for the side of each hop.
    pub line_peer: Option<std::net::IpAddr>,
    /// The cloud range and the VPC CIDR: hops there are on the cloud side.
    pub cloud_nets: Vec<ipnet::IpNet>,
    /// The run is `inbound` on a VPC host: its sweeps go from the cloud toward the node.
    pub from_cloud: bool,
    /// Per-probe timeout (TCP connect, NTP reply, DNS answer).
    pub timeout: Duration,
    pub ntp_warn_offset: f64,
    pub ntp_fail_offset: f64,
    /// Most probes in flight at once ([`crate::constants::in_flight_for`] the open-file limit).
    pub in_flight: usize,
}

impl EngineConfig {
    /// The whole run's deadline: one DNS answer plus one probe, plus a little slack.
    pub fn deadline(&self) -> Duration {
        // one DNS answer, one probe, and where a failed probe breaks (a TTL sweep of at most one
        // timeout, only on failure)
        self.timeout * 3 + DEADLINE_SLACK
    }

    /// The deadline of a run of `probes` probes: one more timeout for every further batch of
    /// `in_flight` (only an `inbound` sweep larger than the open-file limit allows has more than one
    /// batch).
    pub(crate) fn deadline_for(&self, probes: usize) -> Duration {
        let batches =
            u32::try_from(probes.div_ceil(self.in_flight.max(1)).max(1)).unwrap_or(u32::MAX);
        self.deadline() + self.timeout * (batches - 1)
    }
}

/// A row for requirement `id` with the catalogue texts of its id (`{region}` filled in).
pub(crate) fn row_of(
    cat: &Catalogue,
    region: &str,
    id: ReqId,
    target: &str,
    address: Option<String>,
    f: Finding,
    took: Duration,
) -> CheckResult {
    let req = cat.get(id);
    CheckResult {
        id: id.to_string(),
        category: id.category().to_string(),
        title: req.map(|r| r.title.clone()).unwrap_or_default(),
        target: target.to_string(),
        address,
        status: f.status,
        message: f.message,
        remediation: f.fix.unwrap_or_else(|| {
            req.map(|r| r.remediation.replace("{region}", region))
                .unwrap_or_default()
        }),
        source: req.map(|r| r.source.clone()).unwrap_or_default(),
        duration_ms: ms(took),
        details: f.details,
        waived: None,
    }
}

/// What every step can see.
pub struct Ctx<'a, 'n> {
    pub net: &'a Net<'n>,
    pub cfg: &'a EngineConfig,
    pub cat: &'a Catalogue,
    pub dns: HashMap<String, DnsFuture<'a>>,
    /// name → the `dns.*` row that resolves it (for `caused_by`).
    pub dns_ids: HashMap<String, ReqId>,
    pub host: HostSnapshot,
    /// The rows of the steps that others depend on, set once they have all finished.
    pub earlier: std::sync::Mutex<Vec<CheckResult>>,
    /// Sweeps already made, by flow (protocol, destination): paths traced once per run.
    pub(crate) traces: std::sync::Mutex<HashMap<(bool, SocketAddr), TraceCell>>,
    /// The run's deadline: a step (or one address of it) still running then becomes a SKIP row
    /// saying what was pending.
    pub end: Instant,
    /// The run's deadline as configured, for the overrun message.
    pub deadline: Duration,
    /// Round trips measured so far, by address: the retransmission timers follow them.
    pub paths: rto::PathTimes,
    /// Route errors (network or host unreachable) routers sent toward an address, by address:
    /// evidence for every flow to it, whatever its port.
    pub(crate) rejections: std::sync::Mutex<HashMap<IpAddr, crate::probe::trace::InHand>>,
    /// Set by `http.cluster-info` when it has finished: whether the TLS prober adopted the cluster
    /// CA it published (`Trust::Discovered`), for `tls.apiserver` to verify against.
    pub discovered: tokio::sync::watch::Sender<Option<bool>>,
}

pub(crate) use crate::clock::ms;

/// `fut`, or `on_timeout()` when it does not finish within `t`.
pub(crate) async fn bounded<T>(
    t: Duration,
    fut: impl Future<Output = T>,
    on_timeout: impl FnOnce() -> T,
) -> T {
    tokio::time::timeout(t, fut)
        .await
        .unwrap_or_else(|_| on_timeout())
}

pub(crate) use crate::probe::loss::Tries;

/// One attempt that gets the whole `t`, and a second one started when `retry` fires (the path's
/// retransmission timer, [`rto`]) if the first has not finished by then (a lossy but working line:
/// as resolvers and TLS clients retry); the first definite outcome wins, a transient one (a
/// timeout) waits for the other. A late answer is delay, not loss — the first attempt answering
/// after the second was sent counts once (the second is redundant, not lost; the answer is
/// `slow`), and when the second answers first, the first gets twice the second's round trip more
/// before it counts as lost.
pub(crate) async fn with_second_attempt<T, F, Fut>(
    t: Duration,
    retry: impl Future<Output = ()>,
    attempt: F,
    transient: impl Fn(&T) -> bool,
) -> (T, Tries)
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = T>,
{
    use futures::future::{select, Either};
    let attempt = &attempt;
    let started = Instant::now();
    let fired = std::sync::Mutex::new(None::<Duration>);
    let fired = &fired;
    let first = Box::pin(attempt(t));
    let second = Box::pin(async move {
        retry.await;
        let at = started.elapsed();
        if let Ok(mut f) = fired.lock() {
            *f = Some(at);
        }
        attempt(t.saturating_sub(at)).await
    });
    let sent_at = || fired.lock().ok().and_then(|f| *f);
    let settled = select(first, second).await;
    let outcome = match settled {
        Either::Left((out, other)) => {
            let second_sent = sent_at();
            let retry_at = second_sent.unwrap_or_default();
            match second_sent {
                Some(_) if transient(&out) => {
                    let o2 = other.await;
                    let counted = 2;
                    let tries = Tries {
                        counted,
                        retry_at,
                        slow: None,
                    };
                    if transient(&o2) {
                        (out, tries)
                    } else {
                        (o2, tries)
                    }
                }
                // answered late: the second was redundant, the answer slow
                Some(_) => (
                    out,
                    Tries {
                        counted: 1,
                        retry_at,
                        slow: Some(started.elapsed()),
                    },
                ),
                None => (
                    out,
                    Tries {
                        counted: 1,
                        ..Tries::default()
                    },
                ),
            }
        }
        Either::Right((out, first)) => {
            let retry_at = sent_at().unwrap_or_default();
            if transient(&out) {
                let o1 = first.await;
                return (
                    o1,
                    Tries {
                        counted: 2,
                        retry_at,
                        slow: None,
                    },
                );
            }
            // the second answered while the first is out: give the first two of the second's
            // round trips (the path's delay) before calling it lost
            let rtt = started.elapsed().saturating_sub(retry_at);
            let grace = (rtt * 2).min(t.saturating_sub(started.elapsed()));
            match tokio::time::timeout(grace, first).await {
                Ok(o1) if !transient(&o1) => (
                    out,
                    Tries {
                        counted: 1,
                        retry_at,
                        slow: Some(started.elapsed()),
                    },
                ),
                Ok(_) | Err(_) => (
                    out,
                    Tries {
                        counted: 2,
                        retry_at,
                        slow: None,
                    },
                ),
            }
        }
    };
    outcome
}

evidence! {
    /// A row the run's deadline cut short.
    pub(crate) struct Overrun {
        /// What was still pending.
        pending: String,
    }
}

/// One flow's sweep, made once: concurrent rows of the same flow wait for the first.
pub(crate) type TraceCell = std::sync::Arc<tokio::sync::OnceCell<Option<Swept>>>;

/// One flow's sweep and the sides of its hops, before any row's evidence in hand is applied.
#[derive(Debug, Clone)]
pub(crate) struct Swept {
    trace: crate::probe::trace::Trace,
    sides: crate::probe::trace::Sides,
}

/// Where a failed flow breaks: the words for the row, whose side, the hop list.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub words: String,
    pub whose: crate::evidence::Whose,
    pub hops: Vec<crate::evidence::HopRecord>,
}

/// The flow a sweep repeats: the failed probe's own protocol and destination port.
pub(crate) enum Flow {
    Tcp,
    /// UDP with this payload (a VXLAN frame to 8472, a query to 53 or 123).
    Udp(Vec<u8>),
}

impl Located {
    /// The row, with where it breaks said in its message and `details`.
    pub(crate) fn annotate(&self, mut f: Finding) -> Finding {
        f.message = format!("{}; {}", f.message, self.words);
        self.annotate_details(f)
    }
    /// Only `details.where` and `details.hops` (the message already says where).
    pub(crate) fn annotate_details(&self, mut f: Finding) -> Finding {
        f.details.whose = Some(self.whose);
        f.details.hops = Some(self.hops.clone());
        f
    }
}

impl<'a, 'n> Ctx<'a, 'n> {
    /// A context for sweeps alone (`watch`: where an outage breaks), with no steps, ending at `end`.
    pub(crate) fn for_sweeps(
        net: &'a Net<'n>,
        cfg: &'a EngineConfig,
        cat: &'a Catalogue,
        end: Instant,
    ) -> Ctx<'a, 'n> {
        Ctx {
            net,
            cfg,
            cat,
            dns: HashMap::new(),
            dns_ids: HashMap::new(),
            host: HostSnapshot::default(),
            earlier: std::sync::Mutex::new(vec![]),
            traces: std::sync::Mutex::default(),
            end,
            deadline: cfg.timeout * 2,
            paths: rto::PathTimes::default(),
            discovered: tokio::sync::watch::Sender::new(None),
            rejections: std::sync::Mutex::default(),
        }
    }
}

impl Ctx<'_, '_> {
    /// Trace where a failed flow toward `dst` breaks (once per flow and run), bounded by one
    /// timeout and the run's deadline; None when the platform cannot send TTL probes.
    pub(crate) async fn locate(&self, dst: SocketAddr, flow: Flow) -> Option<Located> {
        self.locate_after(dst, flow, None).await
    }

    /// `locate`, with a router's ICMP error the failed probe itself got (its sender and what it
    /// said): the evidence in hand, which the sweep's silence does not overrule.
    pub(crate) async fn locate_after(
        &self,
        dst: SocketAddr,
        flow: Flow,
        rejected: Option<(IpAddr, String)>,
    ) -> Option<Located> {
        use crate::probe::trace;
        if let Some((from, what)) = &rejected {
            self.note_rejection(dst.ip(), *from, what);
        }
        let Swept { trace: t, sides } = self.swept(dst, flow).await?;
        // this flow's own error, else a route's error another flow to the same address got
        let in_hand = rejected
            .map(|(from, what)| trace::InHand {
                from,
                what,
                own: true,
            })
            .or_else(|| self.route_rejection(dst.ip()));
        let t = trace::with_evidence_in_hand(t, in_hand, sides.gateway);
        let (words, whose) = trace::words(&t, &sides);
        Some(Located {
            words,
            whose,
            hops: trace::hop_records(&t, &sides),
        })
    }

    /// The flow's sweep, made once per run (concurrent rows of the flow wait for the first).
    async fn swept(&self, dst: SocketAddr, flow: Flow) -> Option<Swept> {
        let key = (matches!(flow, Flow::Tcp), dst);
        let cell = std::sync::Arc::clone(self.traces.lock().ok()?.entry(key).or_default());
        cell.get_or_init(|| self.sweep(dst, flow)).await.clone()
    }

    /// `probe`, with the sweep of its flow started while it still waits: once `trigger` fires
    /// without an answer (a few of the path's round trips, or a fraction of the timeout), so a
    /// failed probe's row has where it breaks about when its timeout ends, not a sweep later.
    /// An answer that comes cancels a sweep under way; a probe that answers before `trigger`
    /// costs nothing. `failed`: the outcomes a sweep is for.
    pub(crate) async fn with_early_sweep<T>(
        &self,
        dst: SocketAddr,
        flow: Flow,
        trigger: impl Future<Output = ()>,
        probe: impl Future<Output = T>,
        failed: impl Fn(&T) -> bool,
    ) -> T {
        use futures::future::{select, Either};
        let started = std::sync::atomic::AtomicBool::new(false);
        let started = &started;
        let early = Box::pin(async move {
            trigger.await;
            started.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = self.swept(dst, flow).await;
        });
        let first = select(Box::pin(probe), early).await;
        let out = match first {
            Either::Left((out, early)) => {
                // a sweep under way is finished for the row (its result is the flow's); one that
                // has not started is left to `locate`, and an answer cancels it
                if failed(&out) && started.load(std::sync::atomic::Ordering::Relaxed) {
                    early.await;
                }
                out
            }
            Either::Right(((), probe)) => probe.await,
        };
        out
    }

    /// Remember a router's route error (network or host unreachable) toward `dst`: it holds for
    /// every port of that address.
    fn note_rejection(&self, dst: IpAddr, from: IpAddr, what: &str) {
        let seen = crate::probe::trace::InHand {
            from,
            what: what.to_string(),
            own: false,
        };
        if seen.is_route() {
            if let Ok(mut m) = self.rejections.lock() {
                m.entry(dst).or_insert(seen);
            }
        }
    }

    /// A route error another flow toward `dst` got, if any.
    fn route_rejection(&self, dst: IpAddr) -> Option<crate::probe::trace::InHand> {
        self.rejections.lock().ok()?.get(&dst).cloned()
    }

    async fn sweep(&self, dst: SocketAddr, flow: Flow) -> Option<Swept> {
        use crate::probe::trace;
        let mut probe = match flow {
            Flow::Tcp => self.net.connector.ttl_path(dst),
            Flow::Udp(payload) => self.net.udp.ttl_path(dst, payload).await,
        }
        .ok()?;
        let left = self.end.saturating_duration_since(Instant::now());
        let budget = self
            .cfg
            .timeout
            .min(left.saturating_sub(Duration::from_millis(50)));
        if budget.is_zero() {
            return None;
        }
        // a hop answers within a few ms on a datacenter path; a quarter of the timeout, at most
        // 250 ms, for a slow router
        let wait = (self.cfg.timeout / 4).min(Duration::from_millis(250));
        let t = trace::sweep(probe.as_mut(), trace::MAX_HOPS, wait, budget).await;
        let mut sides = trace::Sides {
            line_peer: self.cfg.line_peer,
            cloud_nets: self.cfg.cloud_nets.clone(),
            from_cloud: self.cfg.from_cloud,
            ..trace::Sides::default()
        };
        if let Ok(addrs) = self.net.routes.addresses().await {
            sides.local_nets = addrs.iter().map(|a| a.net.trunc()).collect();
        }
        if let Ok(r) = self.net.routes.route_to(dst.ip()).await {
            sides.gateway = r.gateway;
        }
        if let trace::End::Rejected { from, what, .. } = &t.end {
            self.note_rejection(dst.ip(), *from, what);
        }
        Some(Swept { trace: t, sides })
    }

    /// A row for step `s` with the catalogue texts of its id.
    pub fn result(
        &self,
        s: &Step,
        address: Option<String>,
        f: Finding,
        took: Duration,
    ) -> CheckResult {
        self.row(s.id, &s.target, address, f, took)
    }

    /// A row for requirement `id` (also the `http.*` row of a TLS handshake).
    pub fn row(
        &self,
        id: ReqId,
        target: &str,
        address: Option<String>,
        f: Finding,
        took: Duration,
    ) -> CheckResult {
        row_of(self.cat, &self.cfg.region, id, target, address, f, took)
    }

    /// The rows of step `s` (every id it promised) when the deadline came first, saying what was
    /// still pending.
    pub(crate) fn overrun(
        &self,
        s: &Step,
        address: Option<String>,
        pending: &str,
    ) -> Vec<CheckResult> {
        let f = Finding::skip_by(
            &Plain(Phase::Deadline, ErrorClass::Deadline),
            format!(
                "did not finish before the run deadline ({} ms): {pending} was still pending",
                ms(self.deadline)
            ),
        )
        .evidence(&Overrun {
            pending: Some(pending.to_string()),
        });
        s.rows
            .iter()
            .map(|id| self.row(*id, &s.target, address.clone(), f.clone(), self.deadline))
            .collect()
    }

    /// What step `s` was still waiting for when the deadline came (the DNS answer it needs, or its
    /// own packets).
    pub fn pending(&self, s: &Step) -> String {
        if let Some(name) = s.resolves() {
            if self.dns.get(name).is_some_and(|f| f.peek().is_none()) {
                return format!(
                    "the DNS answer for {name} (nothing was sent to its addresses yet)"
                );
            }
        }
        s.action("the configured resolver")
    }

    /// The shared answer for a planned name.
    pub async fn lookup(&self, name: &str) -> DnsOutcome {
        match self.dns.get(name) {
            Some(f) => f.clone().await,
            None => (
                Err(DnsFailure::Other(format!(
                    "{name} was not planned for resolution"
                ))),
                0,
                crate::probe::loss::Exchange {
                    sent: 0,
                    answered: 0,
                },
            ),
        }
    }

    /// Why the agent does not go to `ip` when a peer's answer (a realm, a redirect) names it
    /// (`pull::not_followed` against this node's addresses), if it does not.
    pub(crate) async fn not_followed(&self, ip: IpAddr) -> Option<String> {
        let own: Vec<IpAddr> = match self.net.routes.addresses().await {
            Ok(a) => a.iter().map(|a| a.net.addr()).collect(),
            Err(_) => vec![],
        };
        crate::probe::pull::not_followed(ip, &own)
    }

    /// One lookup of a name that was not planned (package-source hosts, the node's own host name),
    /// bounded by the per-probe timeout.
    pub(crate) async fn resolve_now(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsFailure> {
        let t = self.cfg.timeout;
        bounded(t, self.net.resolver.resolve_a(name), || {
            Err(DnsFailure::Timeout(ms(t)))
        })
        .await
    }

    /// The rows of `id` among the steps this one runs after (the engine records them before the
    /// dependent step starts).
    pub(crate) fn earlier_rows(&self, id: ReqId) -> Vec<CheckResult> {
        self.earlier
            .lock()
            .map(|v| v.iter().filter(|r| r.id == id.as_str()).cloned().collect())
            .unwrap_or_default()
    }

    /// Record the rows of a finished step that another step reads.
    pub(crate) fn finished(&self, rows: Vec<CheckResult>) {
        if let Ok(mut v) = self.earlier.lock() {
            for r in rows {
                if !v.contains(&r) {
                    v.push(r);
                }
            }
        }
    }

    /// The addresses a step targets, or a SKIP finding (linked to the dns row) when its name did
    /// not resolve or resolved to nothing.
    pub async fn addresses(&self, addr: &Addr) -> Result<Vec<IpAddr>, Finding> {
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
                let f = Finding::skip_by(
                    &failure,
                    format!("not probed: {name} did not resolve: {failure}"),
                );
                Err(match self.dns_ids.get(name) {
                    Some(id) => {
                        f.caused_by(crate::evidence::CausedBy::new(*id, name.clone(), None))
                    }
                    None => f,
                })
            }
        }
    }

    /// Run `each` for every address of the step concurrently, each under the run's deadline; one
    /// SKIP row per id of the step when its name did not resolve.
    pub(crate) async fn fan_out<'s, F, Fut>(&'s self, s: &'s Step, each: F) -> Vec<CheckResult>
    where
        F: Fn(IpAddr) -> Fut,
        Fut: Future<Output = Vec<CheckResult>> + 's,
    {
        let start = Instant::now();
        let Some(addr) = &s.addr else {
            let f = Finding::skip("internal: a network step without an address");
            return s
                .rows
                .iter()
                .map(|id| self.row(*id, &s.target, None, f.clone(), Duration::ZERO))
                .collect();
        };
        match self.addresses(addr).await {
            Err(f) => s
                .rows
                .iter()
                .map(|id| self.row(*id, &s.target, None, f.clone(), start.elapsed()))
                .collect(),
            // each address under the run's deadline on its own: one slow address does not take the
            // rows of the others with it
            Ok(ips) => join_all(ips.into_iter().map(|ip| {
                let fut = each(ip);
                async move {
                    match tokio::time::timeout_at(self.end, fut).await {
                        Ok(rows) => rows,
                        Err(_) => self.overrun(
                            s,
                            Some(s.address_for(ip)),
                            &s.pinned(ip).action("the configured resolver"),
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
}

#[cfg(test)]
mod second_attempt_tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Attempt `n` (0, 1) answers after `delays[n]`, or never (a timeout at its wait).
    async fn run(t: Duration, delays: [Option<u64>; 2]) -> (bool, u32, Duration) {
        let (ok, tries, took) = run_with(t, tokio::time::sleep(t / 2), delays).await;
        (ok, tries.counted, took)
    }

    async fn run_with(
        t: Duration,
        retry: impl Future<Output = ()>,
        delays: [Option<u64>; 2],
    ) -> (bool, Tries, Duration) {
        let n = AtomicU32::new(0);
        let start = Instant::now();
        let attempt = |wait: Duration| {
            let k = n.fetch_add(1, Ordering::SeqCst) as usize;
            async move {
                match delays[k] {
                    Some(ms) if Duration::from_millis(ms) <= wait => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        true
                    }
                    Some(_) | None => {
                        tokio::time::sleep(wait).await;
                        false
                    }
                }
            }
        };
        let (ok, tries) = with_second_attempt(t, retry, attempt, |ok: &bool| !ok).await;
        (ok, tries, start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_answer_is_delay_not_loss() {
        let t = Duration::from_secs(2);
        // a long line: the first answers after the second was sent
        assert_eq!(run(t, [Some(1_300), Some(1_300)]).await.1, 1);
        // the first answers in time: no second at all
        assert_eq!(run(t, [Some(240), None]).await.1, 1);
        // the second answers first, the first a little after it: delay
        let (ok, n, _) = run(t, [Some(1_500), Some(300)]).await;
        assert!(ok);
        assert_eq!(n, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_first_attempt_is_loss() {
        let t = Duration::from_secs(2);
        let (ok, n, took) = run(t, [None, Some(50)]).await;
        assert!(ok);
        assert_eq!(
            n, 2,
            "the first got no answer within twice the second's round trip"
        );
        assert!(took < Duration::from_millis(1_200), "{took:?}");
        let (ok, n, took) = run(t, [None, None]).await;
        assert!(!ok);
        assert_eq!(n, 2);
        assert!(took <= t, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_timer_follows_the_path_and_a_late_answer_says_how_slow() {
        let t = Duration::from_secs(2);
        let ip: IpAddr = [100, 103, 9, 188].into();
        let paths = rto::PathTimes::default();
        // a short path (10 ms): a lost first attempt is retried at the floor, not at 1 s
        paths.record(ip, Duration::from_millis(10));
        let (ok, tries, took) = run_with(
            t,
            paths.retry_timer(ip, 1, t, Instant::now()),
            [None, Some(10)],
        )
        .await;
        assert!(ok);
        assert_eq!(tries.counted, 2);
        assert_eq!(tries.retry_at, rto::RTO_FLOOR);
        assert!(took < Duration::from_millis(300), "{took:?}");
        // a long line (240 ms) and an exchange of 3 round trips answered at 720 ms: no second
        // attempt goes out before half the timeout, nothing is slow or lost
        let long = rto::PathTimes::default();
        long.record(ip, Duration::from_millis(240));
        let (ok, tries, _) = run_with(
            t,
            long.retry_timer(ip, 3, t, Instant::now()),
            [Some(720), Some(720)],
        )
        .await;
        assert!(ok);
        assert_eq!(
            tries,
            Tries {
                counted: 1,
                ..Tries::default()
            }
        );
        // answered after the second went out: slow, counted once
        let (ok, tries, _) = run_with(
            t,
            tokio::time::sleep(Duration::from_millis(200)),
            [Some(700), Some(700)],
        )
        .await;
        assert!(ok);
        assert_eq!(tries.counted, 1);
        assert_eq!(tries.slow, Some(Duration::from_millis(700)));
        assert_eq!(tries.retry_at, Duration::from_millis(200));
    }
}
