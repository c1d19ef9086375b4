//! `watch`: the line over time. Every interval the cheap probes of `check` are repeated toward
//! the same targets — DNS of every endpoint name, a TCP connect to each endpoint address, SNTP to
//! each server, the VXLAN echo to each peer, a small and a full-size Don't-Fragment echo toward
//! each endpoint address, and every 12th round a TLS handshake — and each sample goes to the JSON
//! Lines time series as it comes. Per path only bounded statistics are kept ([`stats`]): memory
//! does not grow with the duration. A TCP path's run of lost samples is swept once, right after
//! its first (while the path is still out), with the same hop sweep `check` uses, so an outage
//! names where the path broke.
//!
//! The loop is generic over [`Net`] (the same seams as the engine) and runs on tokio's clock, so
//! tests drive it with fakes on a paused clock.

pub mod page;
pub mod stats;
pub mod summary;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::constants::{MAX_ADDRESSES_PER_NAME, MIN_IPV4_MTU, NTP_PORT};
use crate::ids::ReqId;
use crate::net::Net;
use crate::run::step::{Addr, Step};
use crate::run::EngineConfig;
use stats::PathStats;

/// A TLS handshake toward each TLS endpoint every this many rounds (the first round included): a
/// minute at the default interval — certificates change rarely, handshakes cost more than a
/// connect.
pub const TLS_EVERY_ROUNDS: u64 = 12;

/// Paths watched at most (names whose answers flip among many addresses add paths).
pub const MAX_PATHS: usize = 256;

/// What a watched path probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Dns,
    Tcp,
    Tls,
    Ntp,
    Echo,
    Mtu,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dns => "dns",
            Kind::Tcp => "tcp",
            Kind::Tls => "tls",
            Kind::Ntp => "ntp",
            Kind::Echo => "echo",
            Kind::Mtu => "mtu",
        }
    }
}

/// One planned target of `check` that `watch` repeats.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: ReqId,
    pub kind: Kind,
    /// The row's target (the endpoint's name, the peer).
    pub label: String,
    pub addr: Addr,
    pub port: u16,
    /// A TLS target's SNI name and trust.
    pub tls: Option<(Option<String>, crate::probe::tls::Trust)>,
}

/// The targets `watch` repeats, from `check`'s plan (so `--only`/`--skip` and every target option
/// mean the same): each name a `dns.*` step asks, each `tcp.*` endpoint, each NTP server, each
/// VXLAN peer. A full-size DF echo path is added per TCP endpoint address when ICMP is available.
pub fn targets(steps: &[Step]) -> Vec<Target> {
    let mut out = vec![];
    for s in steps {
        let kind = match (s.kind.name(), s.id) {
            ("tcp", _) => Kind::Tcp,
            ("tls", _) => Kind::Tls,
            ("ntp", _) => Kind::Ntp,
            ("udp_echo", ReqId::UdpVxlan) => Kind::Echo,
            _ => match s.kind.queries() {
                Some(name) => {
                    out.push(Target {
                        id: s.id,
                        kind: Kind::Dns,
                        label: s.target.clone(),
                        addr: Addr::resolved(name),
                        port: 53,
                        tls: None,
                    });
                    continue;
                }
                None => continue,
            },
        };
        let Some(addr) = s.addr.clone() else { continue };
        let port = s.port.unwrap_or(match kind {
            Kind::Ntp => NTP_PORT,
            Kind::Dns | Kind::Tcp | Kind::Tls | Kind::Echo | Kind::Mtu => 443,
        });
        let tls = s
            .kind
            .handshake()
            .map(|(name, trust)| (name.map(ToString::to_string), trust));
        if kind == Kind::Tcp {
            out.push(Target {
                id: ReqId::MtuPath,
                kind: Kind::Mtu,
                label: s.target.clone(),
                addr: addr.clone(),
                port,
                tls: None,
            });
        }
        out.push(Target {
            id: s.id,
            kind,
            label: s.target.clone(),
            addr,
            port,
            tls,
        });
    }
    out
}

/// How a watch runs.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub interval: Duration,
    /// None: until interrupted.
    pub duration: Option<Duration>,
    /// The engine's configuration: timeout, sides of the line for the sweeps, NTP thresholds.
    pub engine: EngineConfig,
    /// Wall clock at the start (epoch ms), for the samples' times.
    pub started_epoch_ms: i64,
}

impl WatchConfig {
    /// How long one probe of a round waits: the timeout, never more than the interval.
    pub fn wait(&self) -> Duration {
        self.engine.timeout.min(self.interval)
    }
}

/// One sample, as one line of the time series (documented in docs/watch.md).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Wall-clock time the probe was sent (RFC 3339, ms).
    pub t: String,
    /// ms since the watch began.
    pub t_ms: u64,
    pub kind: Kind,
    /// The requirement the probe serves (`tcp.registry`, `dns.oss`, …).
    pub id: String,
    /// The path's name: kind, target and address.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// DNS: the A records, sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Vec<String>>,
    /// NTP: the local clock's offset (positive: behind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_ms: Option<f64>,
    /// MTU: the full-size probe's IP size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
}

/// One watched path and what is kept of it.
#[derive(Debug, Clone)]
pub struct Path {
    pub id: ReqId,
    pub kind: Kind,
    pub target: String,
    pub address: Option<String>,
    pub stats: PathStats,
}

impl Path {
    pub fn name(&self) -> String {
        path_name(self.kind, &self.target, self.address.as_deref())
    }
}

/// A path's name: kind, target and address.
fn path_name(kind: Kind, target: &str, address: Option<&str>) -> String {
    match address {
        Some(a) => format!("{} {target} {a}", kind.as_str()),
        None => format!("{} {target}", kind.as_str()),
    }
}

/// What a watch recorded.
#[derive(Debug, Clone)]
pub struct Recording {
    /// By name, in a stable order.
    pub paths: BTreeMap<String, Path>,
    pub rounds: u64,
    pub elapsed: Duration,
    pub interval: Duration,
    /// Samples that did not fit [`MAX_PATHS`].
    pub dropped_paths: u64,
    /// Wall clock at the start (epoch ms), for the times said in rows.
    pub started_epoch_ms: i64,
    /// Packets sent, for the rate said in the summary.
    pub packets: u64,
    /// Samples the `--samples` file did not take (a full disk, …), and the first error.
    pub unwritten: u64,
    pub write_error: Option<String>,
}

/// Where samples go (the JSON Lines file, a test's buffer, nowhere).
pub type SampleSink<'w> = Option<&'w mut dyn Write>;

/// What a round's probe of one path observed.
#[derive(Clone)]
struct Observed {
    ok: Result<f64, String>,
    /// A full-size DF echo that did not pass: whether as a black hole (silent, no ICMP
    /// fragmentation-needed) or as a smaller path MTU the kernel was told of.
    black_hole: Option<bool>,
    answer: Option<Vec<String>>,
    offset_ms: Option<f64>,
    size: Option<u32>,
    packets: u64,
}

impl Observed {
    fn lost(e: impl Into<String>, packets: u64) -> Observed {
        Observed {
            ok: Err(e.into()),
            black_hole: None,
            answer: None,
            offset_ms: None,
            size: None,
            packets,
        }
    }
    fn answered(rtt_ms: f64, packets: u64) -> Observed {
        Observed {
            ok: Ok(rtt_ms),
            black_hole: None,
            answer: None,
            offset_ms: None,
            size: None,
            packets,
        }
    }
}

fn ms_since(t0: Instant, at: Instant) -> u64 {
    crate::clock::ms(at.saturating_duration_since(t0))
}

fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Run the watch until `stop` resolves or the duration ends. `live` is called after every round
/// with the paths (the terminal's live lines).
pub async fn watch(
    net: &Net<'_>,
    cat: &crate::catalogue::Catalogue,
    targets: &[Target],
    cfg: &WatchConfig,
    mut sink: SampleSink<'_>,
    stop: impl std::future::Future<Output = ()>,
    mut live: impl FnMut(&Recording),
) -> Recording {
    let t0 = Instant::now();
    let started_epoch_ms = cfg.started_epoch_ms;
    let mut rec = Recording {
        paths: BTreeMap::new(),
        rounds: 0,
        elapsed: Duration::ZERO,
        interval: cfg.interval,
        dropped_paths: 0,
        started_epoch_ms,
        packets: 0,
        unwritten: 0,
        write_error: None,
    };
    let end = cfg.duration.map(|d| t0 + d);
    tokio::pin!(stop);
    // the last answer of each name, for the addresses of the round (kept when DNS fails)
    let mut answers: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    let mut next = t0;
    loop {
        if end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
        let with_tls = rec.rounds.is_multiple_of(TLS_EVERY_ROUNDS);
        let round = round(net, targets, cfg, &mut answers, with_tls);
        let samples = tokio::select! {
            s = round => s,
            () = &mut stop => break,
        };
        rec.rounds += 1;
        // paths whose first sample of a run of lost ones came this round: swept now, while out
        let mut first_losses = vec![];
        for (target, address, at, obs) in samples {
            rec.packets += obs.packets;
            let path_name = path_name(target.kind, &target.label, address.as_deref());
            if !rec.paths.contains_key(&path_name) && rec.paths.len() >= MAX_PATHS {
                rec.dropped_paths += 1;
                continue;
            }
            let slot = crate::clock::ms(cfg.interval);
            let path = rec.paths.entry(path_name.clone()).or_insert_with(|| Path {
                id: target.id,
                kind: target.kind,
                target: target.label.clone(),
                address: address.clone(),
                stats: PathStats::new(slot),
            });
            let t_ms = ms_since(t0, at);
            let sample = Sample {
                t: crate::clock::rfc3339_ms(
                    started_epoch_ms.saturating_add(i64::try_from(t_ms).unwrap_or(i64::MAX)),
                ),
                t_ms,
                kind: target.kind,
                id: target.id.to_string(),
                path: path_name.clone(),
                address: address.clone(),
                ok: obs.ok.is_ok(),
                rtt_ms: obs.ok.as_ref().ok().copied(),
                error: obs.ok.as_ref().err().cloned(),
                answer: obs.answer.clone(),
                offset_ms: obs.offset_ms,
                size: obs.size,
            };
            if let Some(w) = sink.as_mut() {
                let written = serde_json::to_string(&sample)
                    .map_err(|e| e.to_string())
                    .and_then(|line| writeln!(w, "{line}").map_err(|e| e.to_string()));
                if let Err(e) = written {
                    rec.unwritten += 1;
                    rec.write_error.get_or_insert(e);
                }
            }
            match &obs.ok {
                Ok(rtt) => {
                    path.stats.answered(t_ms, *rtt);
                    if matches!(target.kind, Kind::Tcp | Kind::Ntp | Kind::Echo) {
                        path.stats.follow_level(t_ms, *rtt);
                    }
                }
                Err(e) => {
                    path.stats.lost(t_ms, e);
                    if target.kind == Kind::Tcp && path.stats.losing() == 1 {
                        first_losses.push(path_name.clone());
                    }
                }
            }
            if let Some(a) = &obs.answer {
                path.stats.observe(t_ms, a.join(", "));
            }
            if let Some(off) = obs.offset_ms {
                path.stats
                    .values
                    .get_or_insert_with(|| stats::Series::new(slot))
                    .add(t_ms, Some(off));
            }
            if obs.black_hole == Some(true) {
                path.stats.black_hole = true;
            }
            if target.kind == Kind::Mtu {
                let state = match &obs.ok {
                    Ok(_) => format!("{} bytes pass", obs.size.unwrap_or(0)),
                    Err(e) => e.clone(),
                };
                path.stats.observe(t_ms, state);
            }
        }
        if let Some(w) = sink.as_mut() {
            if let Err(e) = w.flush() {
                rec.write_error.get_or_insert(e.to_string());
            }
        }
        // where the path breaks, by the hop sweep `check` uses: once per run of lost samples,
        // right after its first (while the path is still out), all paths at once
        let sweeps: Vec<(String, SocketAddr)> = first_losses
            .into_iter()
            .filter_map(|name| {
                let dst = rec.paths.get(&name)?.address.as_deref()?.parse().ok()?;
                Some((name, dst))
            })
            .collect();
        let located = tokio::select! {
            l = futures::future::join_all(
                sweeps.iter().map(|(_, dst)| locate(net, cat, &cfg.engine, *dst)),
            ) => l,
            () = &mut stop => break,
        };
        for ((name, _), words) in sweeps.into_iter().zip(located) {
            if let (Some(words), Some(p)) = (words, rec.paths.get_mut(&name)) {
                p.stats.broke_at(words);
            }
        }
        rec.elapsed = t0.elapsed();
        live(&rec);
        next += cfg.interval;
        let now = Instant::now();
        if next < now {
            // a round that took longer than the interval: the next one starts now
            next = now;
        }
        let wake = end.map_or(next, |e| next.min(e));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = &mut stop => break,
        }
    }
    rec.elapsed = t0.elapsed();
    rec
}

/// Where a TCP flow toward `dst` breaks now, in words (None: no sweep possible here).
async fn locate(
    net: &Net<'_>,
    cat: &crate::catalogue::Catalogue,
    cfg: &EngineConfig,
    dst: SocketAddr,
) -> Option<String> {
    let ctx = crate::run::Ctx::for_sweeps(net, cfg, cat, Instant::now() + cfg.timeout * 2);
    ctx.locate(dst, crate::run::Flow::Tcp)
        .await
        .map(|l| l.words)
}

type RoundSample<'t> = (&'t Target, Option<String>, Instant, Observed);

/// One round: every name resolved, then every address probed, all at once.
async fn round<'t>(
    net: &Net<'_>,
    targets: &'t [Target],
    cfg: &WatchConfig,
    answers: &mut BTreeMap<String, Vec<IpAddr>>,
    with_tls: bool,
) -> Vec<RoundSample<'t>> {
    let wait = cfg.wait();
    let mut out: Vec<RoundSample<'t>> = vec![];
    // names first: every name any target needs, once
    let mut names: Vec<&str> = vec![];
    for t in targets {
        if let Addr::Resolved { name, .. } = &t.addr {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    // the addresses known from earlier rounds are probed while the names are asked again (a
    // resolver that stops answering does not delay them); a name answered for the first time has
    // its addresses probed after its answer
    let known = answers.clone();
    let lookups = futures::future::join_all(names.iter().map(|name| async move {
        let at = Instant::now();
        let r = tokio::time::timeout(wait, net.resolver.resolve_a(name)).await;
        (*name, at, elapsed_ms(at), r)
    }));
    let this_round = |t: &Target| with_tls || t.kind != Kind::Tls;
    let early = probe_all(net, targets, &known, this_round, wait);
    let (lookups, early) = futures::future::join(lookups, early).await;
    out.extend(early);
    for (name, at, took, r) in lookups {
        let obs = match r {
            Ok(Ok(mut ips)) => {
                ips.sort_unstable();
                ips.truncate(MAX_ADDRESSES_PER_NAME);
                answers.insert(
                    name.to_string(),
                    ips.iter().map(|i| IpAddr::V4(*i)).collect(),
                );
                Observed {
                    answer: Some(ips.iter().map(ToString::to_string).collect()),
                    ..Observed::answered(took, 1)
                }
            }
            Ok(Err(e)) => Observed::lost(e.to_string(), 1),
            Err(_) => Observed::lost(format!("no answer within {} ms", crate::clock::ms(wait)), 1),
        };
        for t in targets.iter().filter(|t| t.kind == Kind::Dns) {
            if matches!(&t.addr, Addr::Resolved { name: n, .. } if n == name) {
                out.push((t, None, at, obs.clone()));
            }
        }
    }
    let first_answers: BTreeMap<String, Vec<IpAddr>> = answers
        .iter()
        .filter(|(n, _)| !known.contains_key(*n))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let late = probe_all(
        net,
        targets,
        &first_answers,
        |t| matches!(t.addr, Addr::Resolved { .. }) && this_round(t),
        wait,
    )
    .await;
    out.extend(late);
    out
}

/// Probe every address of every target but DNS that `keep` selects: fixed addresses, and the
/// addresses `answers` holds for resolved names.
async fn probe_all<'t>(
    net: &Net<'_>,
    targets: &'t [Target],
    answers: &BTreeMap<String, Vec<IpAddr>>,
    keep: impl Fn(&Target) -> bool,
    wait: Duration,
) -> Vec<RoundSample<'t>> {
    let mut probes = vec![];
    for t in targets.iter().filter(|t| t.kind != Kind::Dns && keep(t)) {
        let ips: Vec<IpAddr> = match &t.addr {
            Addr::Fixed(ip) => vec![*ip],
            Addr::Resolved { name, except } => answers
                .get(name)
                .map(|v| v.iter().filter(|i| !except.contains(i)).copied().collect())
                .unwrap_or_default(),
        };
        for ip in ips {
            probes.push((t, SocketAddr::new(ip, t.port)));
        }
    }
    let results = futures::future::join_all(probes.iter().map(|(t, sa)| async move {
        let at = Instant::now();
        let obs = probe(net, t, *sa, wait).await?;
        let address = if t.kind == Kind::Mtu {
            sa.ip().to_string()
        } else {
            sa.to_string()
        };
        Some((*t, Some(address), at, obs))
    }))
    .await;
    results.into_iter().flatten().collect()
}

/// One probe of a TCP, NTP, echo or MTU path; None: nothing to record (a DF pair whose small
/// probe got no answer, or no ICMP here).
async fn probe(net: &Net<'_>, t: &Target, sa: SocketAddr, wait: Duration) -> Option<Observed> {
    let start = Instant::now();
    Some(match t.kind {
        Kind::Tls => {
            let (name, trust) = t.tls.clone()?;
            let o = net.tls.probe(sa, name.as_deref(), trust, None, wait).await;
            match o.session {
                Ok(s) => {
                    let cert = s.cert.as_ref().map_or("no certificate".to_string(), |c| {
                        format!("issuer {}, valid to {}", c.issuer, c.not_after)
                    });
                    match s.trust_failure {
                        Some(f) if trust != crate::probe::tls::Trust::EvidenceOnly => {
                            Observed::lost(format!("{f} ({cert})"), 6)
                        }
                        _ => Observed {
                            answer: Some(vec![crate::text::clean(&cert, 300)]),
                            ..Observed::answered(elapsed_ms(start), 6)
                        },
                    }
                }
                Err(e) => Observed::lost(e.to_string(), 2),
            }
        }
        Kind::Tcp => match tokio::time::timeout(wait, net.connector.connect(sa, wait)).await {
            Ok(Ok(_)) => Observed::answered(elapsed_ms(start), 3),
            Ok(Err(e)) => Observed::lost(e.with_timeout(wait).to_string(), 1),
            Err(_) => Observed::lost(
                format!("connection timed out after {} ms", crate::clock::ms(wait)),
                1,
            ),
        },
        Kind::Ntp => match tokio::time::timeout(wait, net.ntp.query(sa, wait)).await {
            Ok(Ok(s)) => Observed {
                offset_ms: Some(s.offset_s * 1000.0),
                ..Observed::answered(s.rtt_s * 1000.0, 2)
            },
            Ok(Err(e)) => Observed::lost(e.to_string(), 1),
            Err(_) => Observed::lost(format!("no answer within {} ms", crate::clock::ms(wait)), 1),
        },
        Kind::Echo => {
            let mut sock = match net.udp.open(sa).await {
                Ok(s) => s,
                Err(e) => return Some(Observed::lost(e.to_string(), 0)),
            };
            let o = crate::probe::echo::echo(sock.as_mut(), 1, wait).await;
            match (o.rtts_ms.first(), &o.error) {
                (Some(rtt), _) => Observed::answered(*rtt, 2),
                (None, Some(e)) => Observed::lost(format!("{e:?}"), 1),
                (None, None) => {
                    Observed::lost(format!("no echo within {} ms", crate::clock::ms(wait)), 1)
                }
            }
        }
        Kind::Mtu => return df_pair(net, net.icmp?, sa.ip(), wait).await,
        Kind::Dns => return None,
    })
}

/// A small DF echo, then one of the route's MTU: the full-size probe counts only when the small
/// one answered (else the path is out, which its TCP row says). None: not measurable here.
async fn df_pair(
    net: &Net<'_>,
    pinger: &dyn crate::net::Pinger,
    ip: IpAddr,
    wait: Duration,
) -> Option<Observed> {
    use crate::probe::mtu::{DfReply, PathKind};
    let full = net
        .routes
        .route_to(ip)
        .await
        .ok()
        .and_then(|r| r.interface.as_deref().and_then(|i| net.routes.iface_mtu(i)))?;
    let mut path = pinger.df_path(ip).ok()?;
    let start = Instant::now();
    match path.probe(MIN_IPV4_MTU, wait).await {
        Ok(DfReply::Echoed) => {}
        _ => return None,
    }
    let size = Some(full);
    let (what, silent) = match path.probe(full, wait).await {
        Ok(DfReply::Echoed) => {
            return Some(Observed {
                size,
                ..Observed::answered(elapsed_ms(start), 4)
            })
        }
        Ok(DfReply::Silent) => (
            format!("{full}-byte DF echo lost while {MIN_IPV4_MTU}-byte ones pass"),
            true,
        ),
        Ok(DfReply::TooBig) => (
            format!("{full}-byte DF echo refused (the kernel learned a smaller path MTU)"),
            false,
        ),
        Err(_) => return None,
    };
    // the full size no longer passes: what does (the search `check` uses, a few probes more)
    let found = crate::probe::mtu::search(path.as_mut(), full, wait, wait * 2).await;
    // a black hole: the search says so, or the full size vanished and nothing says otherwise
    let black_hole = match &found {
        Ok(m) => match m.kind {
            PathKind::BlackHole => true,
            PathKind::IcmpReported | PathKind::Full | PathKind::Undecided => false,
            PathKind::CutShort { .. } => silent,
        },
        Err(_) => silent,
    };
    let now = match found {
        Ok(m) => match m.kind {
            PathKind::IcmpReported => format!(
                ": the path MTU is {} (ICMP fragmentation-needed reaches this host)",
                m.path_mtu
            ),
            PathKind::BlackHole => format!(
                ": the path MTU is {} and no ICMP fragmentation-needed arrives (a black hole)",
                m.path_mtu
            ),
            PathKind::Full => ": full size passes again".to_string(),
            PathKind::CutShort { upper } => {
                format!(": the path MTU is between {} and {upper}", m.path_mtu)
            }
            PathKind::Undecided => {
                ": larger echoes are lost with small ones too (loss, not a size)".to_string()
            }
        },
        Err(_) => String::new(),
    };
    Some(Observed {
        size,
        black_hole: Some(black_hole),
        ..Observed::lost(format!("{what}{now}"), 6)
    })
}

/// One line per path for the terminal while the watch runs.
pub fn live_lines(rec: &Recording) -> Vec<String> {
    let mut out = vec![format!(
        "watching {} paths: round {}, {}",
        rec.paths.len(),
        rec.rounds,
        summary::human(rec.elapsed)
    )];
    for (name, p) in &rec.paths {
        let st = &p.stats;
        let state = if st.outages.last().is_some_and(|o| o.end_ms.is_none()) {
            "OUT "
        } else if st.lost > 0 {
            "LOSS"
        } else {
            "ok  "
        };
        out.push(format!(
            "{state} {:<60} p50 {:>7} ms  loss {:>5.1} %  outages {}",
            crate::text::clean(name, 60),
            st.rtt
                .percentile(50.0)
                .map_or("-".into(), |v| format!("{v:.1}")),
            st.loss_pct(),
            st.outages.len()
        ));
    }
    out
}

/// What the watch cost, for standard error at the end.
pub fn cost_line(rec: &Recording) -> String {
    let secs = rec.elapsed.as_secs_f64().max(0.001);
    #[allow(clippy::cast_precision_loss)]
    let pps = rec.packets as f64 / secs;
    let mut s = format!(
        "watch: {} rounds in {}, {} paths, about {} packets sent ({pps:.1} a second)",
        rec.rounds,
        summary::human(rec.elapsed),
        rec.paths.len(),
        rec.packets
    );
    if rec.unwritten > 0 || rec.write_error.is_some() {
        s.push_str(&format!(
            "; writing the samples file failed: {} ({} samples refused outright, more may be lost in its buffer)",
            rec.write_error.as_deref().unwrap_or("unknown error"),
            rec.unwritten
        ));
    }
    if rec.dropped_paths > 0 {
        s.push_str(&format!(
            "; {} samples of paths beyond the first {MAX_PATHS} not kept",
            rec.dropped_paths
        ));
    }
    s
}

/// The samples file for the support bundle: its last [`crate::bundle::MAX_FILE`] bytes (from a
/// line start) when it is longer.
pub(crate) fn samples_entry(p: &std::path::Path) -> crate::bundle::Entry {
    let text = crate::sys::output::tail_text(p, crate::bundle::MAX_FILE - 4096)
        .unwrap_or_else(|why| format!("# not readable: {why}\n"));
    crate::bundle::text_entry(
        "watch/samples.jsonl",
        &format!("watch --samples {} (the last MiB at most)", p.display()),
        &text,
    )
}
