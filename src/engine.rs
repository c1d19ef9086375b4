//! The probe engine: runs a plan concurrently under one deadline and returns results as values.
//! Probes that need a name wait on that name's (shared) DNS answer; everything else starts at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::{join_all, BoxFuture, FutureExt, Shared};

use crate::catalogue::Catalogue;
use crate::net::{Connector, HostFacts, LocalAddr, NtpClient, Pinger, Resolver, RouteEntry, Routes, TlsProber, UdpProber};
use crate::plan::{names, Addr, Probe, ProbeKind};
use crate::probe::dns::DnsFailure;
use crate::probe::ntp::NtpSample;
use crate::probe::{cidr, dns, echo, icmp, ntp, pkg, port, route, tcp, tls, tools, udp};
use crate::result::{CheckResult, Finding, Status};

/// Everything the engine talks to.
pub struct Net<'a> {
    pub resolver: &'a dyn Resolver,
    pub connector: &'a dyn Connector,
    pub ntp: &'a dyn NtpClient,
    pub routes: &'a dyn Routes,
    pub host: &'a dyn HostFacts,
    pub tls: &'a dyn TlsProber,
    pub udp: &'a dyn UdpProber,
    /// ICMP echo for evidence on TCP rows; None disables it.
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
}

/// Most addresses per resolved name that are probed (a hostile DNS answer cannot fan out further).
pub const MAX_ADDRESSES_PER_NAME: usize = 8;
/// Most package-source hosts probed.
pub const MAX_SOURCE_HOSTS: usize = 16;

type DnsOutcome = (Result<Vec<Ipv4Addr>, DnsFailure>, u64);
/// Local addresses and routes, read once for the CIDR checks.
type Locals = (Result<Vec<LocalAddr>, String>, Result<Vec<RouteEntry>, String>);

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

struct Ctx<'a, 'n> {
    net: &'a Net<'n>,
    cfg: &'a EngineConfig,
    cat: &'a Catalogue,
    dns: HashMap<String, Shared<BoxFuture<'a, DnsOutcome>>>,
    samples: Mutex<Vec<NtpSample>>,
    /// Socket tables, read once per protocol (reading /proc/net/udp walks the whole hash table).
    sockets: HashMap<port::SocketProto, Result<Vec<port::SocketEntry>, String>>,
    /// Tool findings, looked up once (pkg.sources needs to know whether any tool is missing).
    tool_findings: HashMap<String, Finding>,
    any_tool_missing: bool,
    locals: Option<Locals>,
}

impl Ctx<'_, '_> {
    fn result(&self, p: &Probe, address: Option<String>, f: Finding, took: Duration) -> CheckResult {
        let mut r = CheckResult {
            id: String::new(),
            category: String::new(),
            title: String::new(),
            target: p.target.clone(),
            address,
            status: f.status,
            message: f.message,
            remediation: String::new(),
            source: String::new(),
            duration_ms: ms(took),
            details: f.details,
        };
        self.retitle(&mut r, &p.id);
        r
    }

    /// Give a row the id and catalogue texts of `id` (also the `http.*` row of a TLS probe).
    fn retitle(&self, r: &mut CheckResult, id: &str) {
        r.id = id.to_string();
        r.category = id.split('.').next().unwrap_or("").to_string();
        match self.cat.get(id) {
            Some(req) => {
                r.title = req.title.clone();
                r.source = req.source.clone();
                r.remediation = req.remediation.replace("{region}", &self.cfg.region);
            }
            None => r.title = id.to_string(),
        }
    }

    async fn lookup(&self, name: &str) -> DnsOutcome {
        match self.dns.get(name) {
            Some(f) => f.clone().await,
            None => (Err(DnsFailure::Other(format!("{name} was not planned for resolution"))), 0),
        }
    }

    /// The addresses a probe targets, or a SKIP finding when its name did not resolve.
    async fn addresses(&self, addr: &Addr) -> Result<Vec<IpAddr>, Finding> {
        match addr {
            Addr::Fixed(ip) => Ok(vec![*ip]),
            Addr::Resolved { name, except } => match self.lookup(name).await.0 {
                Ok(v) => Ok(v
                    .into_iter()
                    .map(IpAddr::V4)
                    .filter(|a| !except.contains(a))
                    .take(MAX_ADDRESSES_PER_NAME)
                    .collect()),
                Err(e) => Err(Finding::skip(format!("not probed: {name} did not resolve: {e}")).with("phase", "dns")),
            },
        }
    }

    async fn run_probe(&self, p: &Probe) -> Vec<CheckResult> {
        let start = Instant::now();
        let t = self.cfg.timeout;
        match &p.kind {
            ProbeKind::Dns { name, expect } => {
                let (out, took) = self.lookup(name).await;
                let server = self.net.resolver.servers().join(", ");
                let f = dns::evaluate(&out, expect, if server.is_empty() { "the system resolver" } else { &server });
                let mut r = self.result(p, None, f, Duration::from_millis(took));
                r.duration_ms = took;
                vec![r]
            }
            ProbeKind::Route { addr } => match self.addresses(addr).await {
                Err(f) => vec![self.result(p, None, f, start.elapsed())],
                Ok(ips) => {
                    join_all(ips.into_iter().map(|ip| async move {
                        let s = Instant::now();
                        let out = self.net.routes.route_to(ip).await;
                        self.result(p, Some(ip.to_string()), route::evaluate(ip, &out), s.elapsed())
                    }))
                    .await
                }
            },
            ProbeKind::Tcp { addr, port } => match self.addresses(addr).await {
                Err(f) => vec![self.result(p, None, f, start.elapsed())],
                Ok(ips) => {
                    join_all(ips.into_iter().map(|ip| async move {
                        let sa = SocketAddr::new(ip, *port);
                        let s = Instant::now();
                        let connect = async {
                            let r = match tokio::time::timeout(t, self.net.connector.connect(sa, t)).await {
                                Ok(r) => r,
                                Err(_) => Err(tcp::TcpFailure::TimedOut(ms(t))),
                            };
                            (r, s.elapsed())
                        };
                        let ping = async {
                            match self.net.icmp {
                                Some(p) => Some(
                                    tokio::time::timeout(t, p.ping(ip, t))
                                        .await
                                        .unwrap_or(icmp::IcmpOutcome::NoReply),
                                ),
                                None => None,
                            }
                        };
                        let ((out, took), pinged) = futures::join!(connect, ping);
                        let out = out.map_err(|e| match e {
                            tcp::TcpFailure::TimedOut(0) => tcp::TcpFailure::TimedOut(ms(t)),
                            e => e,
                        });
                        let mut f = tcp::evaluate(sa, &out, ms(took));
                        if let Some(o) = &pinged {
                            f = icmp::annotate(f, o);
                        }
                        self.result(p, Some(sa.to_string()), f, took)
                    }))
                    .await
                }
            },
            ProbeKind::Ntp { addr } => match self.addresses(addr).await {
                Err(f) => vec![self.result(p, None, f, start.elapsed())],
                Ok(ips) => {
                    join_all(ips.into_iter().map(|ip| async move {
                        let sa = SocketAddr::new(ip, 123);
                        let s = Instant::now();
                        let out = match tokio::time::timeout(t + Duration::from_millis(100), self.net.ntp.query(sa, t)).await {
                            Ok(r) => r,
                            Err(_) => Err(ntp::NtpFailure::Timeout(ms(t))),
                        };
                        if let Ok(sample) = &out {
                            if let Ok(mut v) = self.samples.lock() {
                                v.push(sample.clone());
                            }
                        }
                        self.result(p, Some(sa.to_string()), ntp::evaluate_server(sa, &out), s.elapsed())
                    }))
                    .await
                }
            },
            // computed after every ntp.server probe has finished
            ProbeKind::NtpOffset => vec![],
            ProbeKind::PortLocal { proto, port: number } => {
                let f = match self.sockets.get(proto) {
                    None => Finding::skip("the socket table was not read"),
                    Some(Err(e)) => Finding::skip(format!("cannot read the socket table: {e}")),
                    Some(Ok(entries)) => {
                        let held: Vec<(port::SocketEntry, Option<port::ProcInfo>)> = port::holders(entries, *proto, *number)
                            .into_iter()
                            .map(|s| (s.clone(), if s.inode == 0 { None } else { self.net.host.socket_owner(s.inode) }))
                            .collect();
                        port::evaluate(*proto, *number, &held, is_root())
                    }
                };
                vec![self.result(p, None, f, start.elapsed())]
            }
            ProbeKind::Tool => {
                let f = self.tool_findings.get(&p.id).cloned().unwrap_or_else(|| Finding::skip("not in the catalogue"));
                vec![self.result(p, None, f, start.elapsed())]
            }
            ProbeKind::PkgSources => self.pkg_sources(p).await,
            ProbeKind::Cidr { range, label, rule, also } => {
                let f = match &self.locals {
                    Some((Ok(a), Ok(r))) => cidr::evaluate(label, range, *rule, a, r, also),
                    Some((Err(e), _)) | Some((_, Err(e))) => Finding::skip(format!("cannot read local addresses/routes: {e}")),
                    None => Finding::skip("local addresses were not read"),
                };
                vec![self.result(p, None, f, start.elapsed())]
            }
            ProbeKind::Tls { addr, port, name, trust, http, emit_tls } => match self.addresses(addr).await {
                Err(f) => {
                    let mut out = vec![];
                    if *emit_tls {
                        out.push(self.result(p, None, f.clone(), start.elapsed()));
                    }
                    if let Some((hid, _)) = http {
                        let mut r = self.result(p, None, f, start.elapsed());
                        self.retitle(&mut r, hid);
                        out.push(r);
                    }
                    out
                }
                Ok(ips) => join_all(ips.into_iter().map(|ip| async move {
                    let sa = SocketAddr::new(ip, *port);
                    let s = Instant::now();
                    let expect = http.as_ref().map(|(_, e)| *e);
                    let out = match tokio::time::timeout(t + Duration::from_millis(200), self.net.tls.probe(sa, name.as_deref(), *trust, expect, t)).await {
                        Ok(o) => o,
                        Err(_) => tls::TlsOutcome { session: Err(tls::TlsFailure::Timeout(ms(t))), http: None },
                    };
                    let took = s.elapsed();
                    let shown = name.clone().unwrap_or_else(|| ip.to_string());
                    let mut rows = vec![];
                    if *emit_tls {
                        rows.push(self.result(p, Some(sa.to_string()), tls::evaluate_tls(&shown, *trust, &out.session), took));
                    }
                    if let Some((hid, e)) = http {
                        let mut r = self.result(p, Some(sa.to_string()), tls::evaluate_http(*e, &out.session, &out.http), took);
                        self.retitle(&mut r, hid);
                        rows.push(r);
                    }
                    rows
                }))
                .await
                .into_iter()
                .flatten()
                .collect(),
            },
            ProbeKind::UdpEcho { peer, port } => {
                let sa = SocketAddr::new(*peer, *port);
                let out = match tokio::time::timeout(t + Duration::from_millis(200), self.net.udp.echo(sa, 3, t)).await {
                    Ok(o) => o,
                    Err(_) => udp::EchoOutcome { sent: 3, received: 0, rtts_ms: vec![], error: Some("timed out".into()) },
                };
                vec![self.result(p, Some(sa.to_string()), udp::evaluate_echo(sa, &out), start.elapsed())]
            }
            ProbeKind::Mtu { peer, port } => {
                let sa = SocketAddr::new(*peer, *port);
                let iface = self.net.routes.route_to(*peer).await.ok().and_then(|r| r.interface);
                let iface_mtu = iface.as_deref().and_then(|i| self.net.routes.iface_mtu(i));
                let out = match tokio::time::timeout(t + Duration::from_millis(200), self.net.udp.path_mtu(sa, iface_mtu, t)).await {
                    Ok(o) => o,
                    Err(_) => Err(format!("did not finish within {} ms", ms(t))),
                };
                let out = out.map(|mut m| {
                    m.iface = iface.clone();
                    m
                });
                vec![self.result(p, Some(sa.to_string()), udp::evaluate_mtu(sa, &out), start.elapsed())]
            }
            ProbeKind::IcmpMtu { addr } => match self.addresses(addr).await {
                Err(f) => vec![self.result(p, None, f, start.elapsed())],
                Ok(ips) => {
                    join_all(ips.into_iter().map(|ip| async move {
                        let s = Instant::now();
                        let iface = self.net.routes.route_to(ip).await.ok().and_then(|r| r.interface);
                        let iface_mtu = iface.as_deref().and_then(|i| self.net.routes.iface_mtu(i));
                        let out = match self.net.icmp {
                            None => Err("ICMP probes are disabled".to_string()),
                            Some(pinger) => match tokio::time::timeout(t + Duration::from_millis(200), pinger.path_mtu(ip, iface_mtu, t)).await {
                                Ok(o) => o,
                                Err(_) => Err(format!("did not finish within {} ms", ms(t))),
                            },
                        };
                        let out = out.map(|mut m| {
                            m.iface = iface.clone();
                            m
                        });
                        let sa = SocketAddr::new(ip, 0);
                        let mut f = udp::evaluate_mtu(sa, &out);
                        f.message = f.message.replace(&format!("{sa}"), &ip.to_string());
                        self.result(p, Some(ip.to_string()), f, s.elapsed())
                    }))
                    .await
                }
            },
            ProbeKind::InboundTcp { node, port } => {
                let sa = SocketAddr::new(*node, *port);
                let f = match tokio::time::timeout(t + Duration::from_millis(200), self.net.connector.read_banner(sa, t)).await {
                    Err(_) => Finding::fail(format!("TCP {sa}: {}", tcp::TcpFailure::TimedOut(ms(t)))).with("phase", "tcp").with("error", "timeout"),
                    Ok(Err(e)) => Finding::fail(format!("TCP {sa}: {e}")).with("phase", "tcp").with("error", e.class()),
                    Ok(Ok(b)) if b.starts_with(echo::TCP_BANNER) => Finding::pass(format!("{sa} reachable from here; the node's responder answered")),
                    Ok(Ok(b)) if b.is_empty() => Finding::warn(format!("{sa} accepts TCP but sent no responder banner: another service (or a middlebox) answers")),
                    Ok(Ok(b)) => Finding::warn(format!("{sa} accepts TCP but another service answers: {:?}", b.chars().take(60).collect::<String>())),
                };
                vec![self.result(p, Some(sa.to_string()), f, start.elapsed())]
            }
            ProbeKind::Skip { reason } => vec![self.result(p, None, Finding::skip(reason.clone()), Duration::ZERO)],
        }
    }

    async fn pkg_sources(&self, p: &Probe) -> Vec<CheckResult> {
        let start = Instant::now();
        let host = self.net.host;
        let mut sources = vec![];
        for f in host.list_dir("/etc/yum.repos.d") {
            if f.ends_with(".repo") {
                if let Some(t) = host.read_file(&f) {
                    sources.extend(pkg::parse_yum_repo(&f, &t));
                }
            }
        }
        if let Some(t) = host.read_file("/etc/apt/sources.list") {
            sources.extend(pkg::parse_apt_list("/etc/apt/sources.list", &t));
        }
        for f in host.list_dir("/etc/apt/sources.list.d") {
            if let Some(t) = host.read_file(&f) {
                if f.ends_with(".list") {
                    sources.extend(pkg::parse_apt_list(&f, &t));
                } else if f.ends_with(".sources") {
                    sources.extend(pkg::parse_deb822(&f, &t));
                }
            }
        }
        let hosts = pkg::unique_hosts(&sources);
        if hosts.is_empty() {
            let msg = "no yum or apt package source found (/etc/yum.repos.d, /etc/apt/sources.list{,.d})";
            let f = if self.any_tool_missing {
                Finding::fail(format!("{msg}, and a required tool is missing: edgeadm cannot install it"))
            } else {
                Finding::warn(format!("{msg}; edgeadm cannot install tools online"))
            };
            return vec![self.result(p, None, f, start.elapsed())];
        }
        let t = self.cfg.timeout;
        let checked = join_all(hosts.into_iter().take(MAX_SOURCE_HOSTS).map(|(name, port, files)| async move {
            let s = Instant::now();
            let ips: Result<Vec<IpAddr>, String> = match name.parse::<IpAddr>() {
                Ok(ip) => Ok(vec![ip]),
                Err(_) => match tokio::time::timeout(t, self.net.resolver.resolve_a(&name)).await {
                    Ok(Ok(v)) if !v.is_empty() => Ok(v.into_iter().map(IpAddr::V4).collect()),
                    Ok(Ok(_)) => Err(format!("dns: {}", DnsFailure::NoRecords)),
                    Ok(Err(e)) => Err(format!("dns: {e}")),
                    Err(_) => Err(format!("dns: {}", DnsFailure::Timeout(ms(t)))),
                },
            };
            let remaining = t.saturating_sub(s.elapsed()).max(Duration::from_millis(200));
            let outcome = match ips {
                Err(e) => Err(e),
                Ok(ips) => {
                    let sa = SocketAddr::new(ips[0], port);
                    match tokio::time::timeout(remaining, self.net.connector.connect(sa, remaining)).await {
                        Ok(Ok(_)) => Ok(sa),
                        Ok(Err(e)) => Err(format!("tcp {sa}: {e}")),
                        Err(_) => Err(format!("tcp {sa}: {}", tcp::TcpFailure::TimedOut(ms(remaining)))),
                    }
                }
            };
            (name, port, files, outcome, s.elapsed())
        }))
        .await;
        let none_reachable = checked.iter().all(|c| c.3.is_err());
        checked
            .into_iter()
            .map(|(name, port, files, outcome, took)| {
                let f = match outcome {
                    Ok(sa) => Finding::pass(format!("{name}:{port} resolves and accepts TCP ({sa}); from {}", files.join(", "))),
                    Err(e) => {
                        let text = format!("{name}:{port} unreachable: {e}; from {}", files.join(", "));
                        if none_reachable && self.any_tool_missing {
                            Finding::fail(format!("{text}; no source is reachable and a required tool is missing"))
                        } else {
                            Finding::warn(text)
                        }
                    }
                };
                let mut r = self.result(p, Some(format!("{name}:{port}")), f, took);
                r.target = name;
                r
            })
            .collect()
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Run every probe concurrently under one deadline. Results come back in plan order.
pub async fn run(probes: &[Probe], net: &Net<'_>, cfg: &EngineConfig, cat: &Catalogue) -> Vec<CheckResult> {
    let deadline = cfg.deadline();
    let mut dns_futs: HashMap<String, Shared<BoxFuture<'_, DnsOutcome>>> = HashMap::new();
    for name in names(probes) {
        let resolver = net.resolver;
        let t = cfg.timeout;
        let n = name.clone();
        let fut: BoxFuture<'_, DnsOutcome> = async move {
            let s = Instant::now();
            let out = match tokio::time::timeout(t, resolver.resolve_a(&n)).await {
                Ok(r) => r,
                Err(_) => Err(DnsFailure::Timeout(ms(t))),
            };
            (out, ms(s.elapsed()))
        }
        .boxed();
        dns_futs.insert(name, fut.shared());
    }
    let tool_findings: HashMap<String, Finding> = probes
        .iter()
        .filter(|p| matches!(p.kind, ProbeKind::Tool))
        .filter_map(|p| cat.get(&p.id))
        .map(|req| (req.id.clone(), tools::evaluate(req, net.host)))
        .collect();
    let any_tool_missing = tool_findings.values().any(|f| f.status != Status::Pass);
    let locals = if probes.iter().any(|p| matches!(p.kind, ProbeKind::Cidr { .. })) {
        Some((net.routes.addresses().await, net.routes.routes().await))
    } else {
        None
    };
    let mut sockets = HashMap::new();
    for p in probes {
        if let ProbeKind::PortLocal { proto, .. } = p.kind {
            sockets.entry(proto).or_insert_with(|| net.host.sockets(proto));
        }
    }
    let ctx = Ctx { net, cfg, cat, dns: dns_futs, samples: Mutex::new(vec![]), sockets, tool_findings, any_tool_missing, locals };
    let ctx = &ctx;
    let mut rows: Vec<Vec<CheckResult>> = join_all(probes.iter().map(|p| async move {
        match tokio::time::timeout(deadline, ctx.run_probe(p)).await {
            Ok(r) => r,
            Err(_) => vec![ctx.result(
                p,
                None,
                Finding::skip(format!("did not finish before the run deadline ({} ms)", ms(deadline))),
                deadline,
            )],
        }
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
