//! The commands: turn parsed arguments into options, run, render, and pick the exit code.

use std::io::IsTerminal;
use std::time::Instant;

use crate::catalogue::{self, Catalogue};
use crate::checks as plan;
use crate::cli::{
    CheckArgs, Cli, Command, InboundArgs, ListArgs, ListFormat, PlanArgs, ReportArgs,
    ResponderArgs, SummarizeArgs, TargetArgs,
};
use crate::engine::{self, EngineConfig, Net};
use crate::error::{InputError, InternalError};
use crate::exit;
use crate::options::{self, Options};
use crate::regions::{RegionTable, BUILTIN_ORIGIN};
use crate::report::{self, listing, output, Style};
use crate::result::{
    Report, RunOptions, Status, Summary, TargetInfo, ToolInfo, Untested, SCHEMA_VERSION,
};
use crate::sys;

/// Why a command stopped without a report.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl AppError {
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Input(_) => exit::USAGE,
            AppError::Internal(_) => exit::INTERNAL,
        }
    }
}

/// A small text input file (at most 4 MiB), or one line naming the flag, the file and the reason.
fn read_input(path: &std::path::Path, flag: &str) -> Result<String, AppError> {
    let shown = path.display().to_string();
    let bad = |why: String| AppError::from(InputError::flag(flag, &shown, why));
    let md = std::fs::metadata(path).map_err(|e| bad(sys::errno::words(&e)))?;
    if !md.is_file() {
        return Err(bad("not a regular file".into()));
    }
    if md.len() > 4 << 20 {
        return Err(bad(format!("{} bytes; at most 4 MiB", md.len())));
    }
    let bytes = std::fs::read(path).map_err(|e| bad(sys::errno::words(&e)))?;
    String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))
}

fn cat() -> Result<&'static Catalogue, AppError> {
    catalogue::builtin().map_err(|e| InternalError::BuiltinData(e).into())
}

fn regions(file: Option<&std::path::Path>) -> Result<RegionTable, AppError> {
    match file {
        Some(p) => Ok(RegionTable::from_file(p)?),
        None => RegionTable::builtin().map_err(|e| InternalError::BuiltinData(e.0).into()),
    }
}

/// Validate every option; the first bad one is reported.
pub fn options(t: &TargetArgs, cat: &Catalogue) -> Result<Options, AppError> {
    let table = regions(t.regions_file.as_deref())?;
    let origin = match &t.regions_file {
        Some(p) => format!("--region, regions from {}", p.display()),
        None => format!("--region, {BUILTIN_ORIGIN}"),
    };
    let region = table.find(t.region.trim(), &origin)?.clone();
    let mut o = Options::for_region(region);
    o.cni = t.cni;
    o.k8s_version = options::parse_k8s_version(&t.k8s_version)?;
    o.apiserver = t
        .apiserver
        .as_deref()
        .map(|s| options::parse_host_port(s, 6443, "--apiserver"))
        .transpose()?;
    if !t.ntp_server.is_empty() {
        for s in &t.ntp_server {
            options::parse_host_port(s, 123, "--ntp-server")?;
            if s.contains(':') && s.parse::<std::net::IpAddr>().is_err() {
                return Err(InputError::flag(
                    "--ntp-server",
                    s,
                    "give a name or address without a port (NTP uses UDP 123)",
                )
                .into());
            }
        }
        o.ntp_servers = t
            .ntp_server
            .iter()
            .map(|s| s.trim().trim_end_matches('.').to_ascii_lowercase())
            .collect();
        o.ntp_servers.dedup();
    }
    o.self_hosted_ntp = t.self_hosted_ntp;
    o.dns_server = t
        .dns_server
        .as_deref()
        .map(options::parse_dns_server)
        .transpose()?;
    o.vpc_cidr = t
        .vpc_cidr
        .as_deref()
        .map(|s| options::parse_cidr(s, "--vpc-cidr"))
        .transpose()?;
    o.pod_cidr = t
        .pod_cidr
        .as_deref()
        .map(|s| options::parse_cidr(s, "--pod-cidr"))
        .transpose()?;
    o.endpoints = t
        .endpoint
        .iter()
        .map(|s| options::parse_endpoint(s))
        .collect::<Result<_, _>>()?;
    o.timeout = options::parse_duration(&t.timeout, "--timeout")?;
    o.ntp_warn_offset = options::parse_seconds(&t.ntp_warn_offset, "--ntp-warn-offset")?;
    o.ntp_fail_offset = options::parse_seconds(&t.ntp_fail_offset, "--ntp-fail-offset")?;
    if o.ntp_fail_offset <= o.ntp_warn_offset {
        return Err(InputError::flag(
            "--ntp-fail-offset",
            &t.ntp_fail_offset,
            format!(
                "must be larger than --ntp-warn-offset ({})",
                t.ntp_warn_offset
            ),
        )
        .into());
    }
    for (flag, list) in [("--only", &t.only), ("--skip", &t.skip)] {
        for sel in list {
            if !cat.knows(sel) {
                return Err(InputError::flag(
                    flag,
                    sel,
                    "not a requirement id or category (see `ack-edge-preflight requirements`)",
                )
                .into());
            }
        }
    }
    o.only = t.only.clone();
    o.skip = t.skip.clone();
    o.peers = vec![];
    for s in &t.peer {
        let ip = options::parse_host_ip(s, "--peer")?;
        if !o.peers.contains(&ip) {
            o.peers.push(ip);
        }
    }
    o.accept = t
        .accept
        .iter()
        .map(|a| crate::waiver::parse(a, cat))
        .collect::<Result<_, _>>()?;
    for f in &t.ca_file {
        o.extra_roots.extend(
            sys::tls::read_pem_certs(f)
                .map_err(|e| InputError::flag("--ca-file", &f.display().to_string(), e))?,
        );
    }
    if let Some(f) = &t.cluster_ca {
        o.cluster_roots = sys::tls::read_pem_certs(f)
            .map_err(|e| InputError::flag("--cluster-ca", &f.display().to_string(), e))?;
    }
    if let Some(root) = &t.sysroot {
        if !root.is_dir() {
            return Err(InputError::flag(
                "--sysroot",
                &root.display().to_string(),
                "not a directory",
            )
            .into());
        }
        o.sysroot = root.clone();
    }
    Ok(o)
}

fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| InternalError::Runtime(e.to_string()).into())
}

fn check(a: &CheckArgs) -> Result<i32, AppError> {
    let cat = cat()?;
    let opts = options(&a.target, cat)?;
    let probes = plan::plan(&opts, cat);
    if probes.is_empty() {
        return Err(InputError(format!(
            "nothing to check: --only {} --skip {} leaves no requirement (see `ack-edge-preflight requirements`)",
            if opts.only.is_empty() { "(all)".to_string() } else { opts.only.join(",") },
            if opts.skip.is_empty() { "(none)".to_string() } else { opts.skip.join(",") }
        ))
        .into());
    }
    let cfg = EngineConfig {
        region: opts.region.id.clone(),
        timeout: opts.timeout,
        ntp_warn_offset: opts.ntp_warn_offset,
        ntp_fail_offset: opts.ntp_fail_offset,
    };
    let target = TargetInfo {
        region: opts.region.id.clone(),
        cni: opts.cni.as_str().into(),
        apiserver: opts.apiserver.as_ref().map(|h| h.to_string()),
    };
    let env = RunEnv {
        dns_server: opts.dns_server,
        sysroot: opts.sysroot.clone(),
        extra_roots: opts.extra_roots.clone(),
        cluster_roots: opts.cluster_roots.clone(),
        toward: crate::constants::VPC_DNS_SERVERS[0]
            .parse()
            .expect("a constant address"),
        bundle: match &a.bundle {
            Some(p) => match output::prepare_for(Some(p), "--bundle")? {
                output::Destination::Replace(t) if Some(p) != a.report.output.as_ref() => Some(t),
                _ => {
                    return Err(InputError::flag(
                        "--bundle",
                        &p.display().to_string(),
                        "must be a regular file (new or to replace), not the --output file",
                    )
                    .into())
                }
            },
            None => None,
        },
    };
    let run = RunMeta {
        options: RunOptions {
            region: opts.region.id.clone(),
            cni: opts.cni.as_str().into(),
            k8s_version: format!("{}.{}", opts.k8s_version.0, opts.k8s_version.1),
            apiserver: opts.apiserver.as_ref().map(|h| h.to_string()),
            peers: opts.peers.iter().map(|p| p.to_string()).collect(),
            dns_server: opts.dns_server.map(|d| d.to_string()),
            only: opts.only.clone(),
            skip: opts.skip.clone(),
            accept: a.target.accept.clone(),
            timeout_ms: opts.timeout.as_millis() as u64,
            strict: a.report.strict,
        },
        untested: plan::untested(&opts, cat, &probes),
        waivers: opts.accept.clone(),
    };
    execute(&probes, &cfg, &env, target, run, &a.report, cat)
}

/// What the report says about how it was made, besides the results.
struct RunMeta {
    options: RunOptions,
    untested: Vec<Untested>,
    waivers: Vec<crate::waiver::Waiver>,
}

/// What the system implementations need besides the engine configuration.
struct RunEnv {
    dns_server: Option<std::net::SocketAddr>,
    sysroot: std::path::PathBuf,
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    cluster_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Where the cloud is, for the report's primary address (the route's source address).
    toward: std::net::IpAddr,
    /// `--bundle`: where the support bundle goes (checked before anything is sent).
    bundle: Option<std::path::PathBuf>,
}

/// The nodes of `inbound`: every `--node`, then the `--nodes-file` lines, without duplicates.
fn inbound_nodes(a: &InboundArgs) -> Result<Vec<std::net::IpAddr>, AppError> {
    let mut nodes = vec![];
    for n in &a.node {
        nodes.push(options::parse_host_ip(n, "--node")?);
    }
    if let Some(path) = &a.nodes_file {
        let shown = path.display().to_string();
        let text = read_input(path, "--nodes-file")?;
        for (i, line) in text.lines().enumerate() {
            let v = line.split('#').next().unwrap_or("").trim();
            if v.is_empty() {
                continue;
            }
            let origin = format!("{shown}:{}", i + 1);
            nodes.push(options::parse_host_ip(
                v,
                &format!("node address at {origin}"),
            )?);
        }
        if nodes.is_empty() {
            return Err(
                InputError::data(&shown, "no node addresses (one per line, # comments)").into(),
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    nodes.retain(|n| seen.insert(*n));
    if nodes.len() > crate::constants::MAX_INBOUND_NODES {
        return Err(InputError(format!(
            "{} nodes given; one run sweeps at most {} (split the list)",
            nodes.len(),
            crate::constants::MAX_INBOUND_NODES
        ))
        .into());
    }
    Ok(nodes)
}

fn inbound(a: &InboundArgs) -> Result<i32, AppError> {
    let cat = cat()?;
    let nodes = inbound_nodes(a)?;
    let timeout = options::parse_duration(&a.timeout, "--timeout")?;
    let probes = plan::plan_inbound(&nodes, a.cni);
    let cfg = EngineConfig {
        region: "-".into(),
        timeout,
        ntp_warn_offset: crate::constants::NTP_WARN_OFFSET_S,
        ntp_fail_offset: crate::constants::NTP_FAIL_OFFSET_S,
    };
    let region = match nodes.as_slice() {
        [one] => format!("inbound to {one}"),
        many => format!("inbound to {} nodes", many.len()),
    };
    let target = TargetInfo {
        region,
        cni: a.cni.as_str().into(),
        apiserver: None,
    };
    let env = RunEnv {
        dns_server: None,
        sysroot: "/".into(),
        extra_roots: vec![],
        cluster_roots: vec![],
        toward: nodes[0],
        bundle: None,
    };
    let run = RunMeta {
        options: RunOptions {
            region: "-".into(),
            cni: a.cni.as_str().into(),
            peers: nodes.iter().map(|n| n.to_string()).collect(),
            timeout_ms: timeout.as_millis() as u64,
            strict: a.report.strict,
            ..Default::default()
        },
        untested: vec![],
        waivers: vec![],
    };
    execute(&probes, &cfg, &env, target, run, &a.report, cat)
}

fn responder(a: &ResponderArgs) -> Result<i32, AppError> {
    let bind = options::parse_ip(&a.bind, "--bind")?;
    let duration = a
        .duration
        .as_deref()
        .map(|d| options::parse_duration_max(d, "--duration", 7.0 * 86400.0))
        .transpose()?;
    use sys::responder::Port;
    let ports = match (&a.ports, a.udp_only) {
        (Some(list), _) => {
            sys::responder::parse_ports(list).map_err(|e| InputError(format!("--ports: {e}")))?
        }
        (None, true) => vec![Port::Udp(sys::responder::UDP_PORT)],
        (None, false) => sys::responder::default_ports(),
    };
    let cfg = sys::responder::ResponderConfig {
        bind,
        ports,
        duration,
    };
    let rt = runtime()?;
    let mut partial = false;
    let stats = rt
        .block_on(sys::responder::run(cfg, |b| {
            for f in &b.failed {
                eprintln!("responder: cannot listen on {f}; that port cannot be tested");
            }
            partial = !b.failed.is_empty();
            eprintln!("responder: listening on {}", b.listening.join(", "));
        }))
        .map_err(InternalError::Listen)?;
    eprintln!(
        "responder: stopped; answered {} probes, ignored {} datagrams, accepted {} TCP connections ({} turned away at the {}-connection cap), {} socket errors",
        stats.answered,
        stats.ignored,
        stats.tcp_accepted,
        stats.tcp_refused_busy,
        sys::responder::MAX_CONNECTIONS,
        stats.errors
    );
    Ok(if partial { exit::FAILED } else { exit::OK })
}

/// Run probes, build the report, render it, pick the exit code.
fn execute(
    probes: &[plan::Step],
    cfg: &EngineConfig,
    opts: &RunEnv,
    target: TargetInfo,
    run: RunMeta,
    out: &ReportArgs,
    cat: &Catalogue,
) -> Result<i32, AppError> {
    // where the report goes and in which format, decided before anything is sent
    let format = match (out.format, &out.output) {
        (Some(f), _) => f,
        (None, Some(p)) => output::format_for(p)?,
        (None, None) => report::Format::Table,
    };
    let dest = output::prepare(out.output.as_deref())?;
    let started = std::time::SystemTime::now();
    let t0 = Instant::now();
    let progress = std::io::stderr().is_terminal();
    let rt = runtime()?;
    let (mut results, addresses, primary, net_entries) = rt.block_on(async {
        let resolver = sys::dns::HickoryResolver::new(opts.dns_server, cfg.timeout);
        let routes = sys::netlink::NetlinkRoutes::new();
        let host = sys::host::SystemHost::new(&opts.sysroot, std::env::var("PATH").ok().as_deref());
        let tls = sys::tls::RustlsProber::new(&opts.extra_roots, &opts.cluster_roots);
        if probes.iter().any(|p| p.kind.name() == "tls") {
            tls.preload(); // the host's roots, read before any probe starts
        }
        let pinger = sys::icmp::SurgePinger::new();
        let net = Net {
            resolver: &resolver,
            connector: &sys::tcp::TokioConnector,
            ntp: &sys::ntp::RsntpClient,
            routes: &routes,
            host: &host,
            tls: &tls,
            udp: &sys::udp::TokioUdp,
            icmp: Some(&pinger),
        };
        let done = std::sync::atomic::AtomicUsize::new(0);
        let run = engine::run_counting(probes, &net, cfg, cat, &done);
        let results = if progress {
            progress_line(run, &done, probes.len(), cfg.deadline_for(probes.len())).await
        } else {
            run.await
        };
        use crate::net::Routes;
        let primary = routes
            .route_to(opts.toward)
            .await
            .ok()
            .and_then(|r| r.source)
            .map(|a| a.to_string());
        let addresses: Vec<String> = routes
            .addresses()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.interface != "lo" && !a.net.addr().is_loopback())
            .map(|a| a.net.to_string())
            .collect();
        let net_entries = match &opts.bundle {
            Some(_) => bundle_net(&routes).await,
            None => vec![],
        };
        (results, addresses, primary, net_entries)
    });
    let waivers = crate::waiver::apply(&mut results, &run.waivers);
    let mut untested = run.untested;
    for r in results.iter().filter(|r| r.status == Status::Skip) {
        if !untested.iter().any(|u| u.id == r.id) {
            untested.push(Untested {
                id: r.id.clone(),
                reason: format!("not run: {}", crate::text::clean(&r.message, 100)),
            });
        }
    }
    let host = sys::host::SystemHost::new(&opts.sysroot, None);
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "ack-edge-preflight".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        started_at: crate::clock::rfc3339(started),
        duration_ms: t0.elapsed().as_millis() as u64,
        host: sys::host::host_info(&host, addresses, primary, opts.dns_server),
        target,
        options: run.options,
        summary: Summary::of(&results, out.strict).with_untested(untested),
        waivers,
        results,
    };
    drop(rt);
    crate::causes::link_causes(&mut report.results, &report.host.nameservers);
    let view = sys::term::stdout_view(out.output.is_some(), out.no_color);
    let style = Style {
        color: view.color,
        strict: out.strict,
        width: view.width,
        ascii: view.ascii,
        all: out.all,
    };
    let text = report::render(&report, format, style);
    output::write(&dest, &text)?;
    if let Some(path) = &opts.bundle {
        let mut entries = vec![
            crate::bundle::text_entry(
                "report/report.json",
                "report",
                &report::render(&report, report::Format::Json, Style::PLAIN),
            ),
            crate::bundle::text_entry(
                "report/report.md",
                "report",
                &report::render(&report, report::Format::Markdown, Style::PLAIN),
            ),
            crate::bundle::text_entry(
                "report/report.html",
                "report",
                &report::render(&report, report::Format::Html, Style::PLAIN),
            ),
        ];
        entries.extend(crate::bundle::host_files(&host, &opts.sysroot));
        entries.push(crate::bundle::listening(&host));
        entries.extend(net_entries);
        let entries = crate::bundle::finish(entries, env!("CARGO_PKG_VERSION"), &report.started_at);
        let mtime = started
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let dir = format!(
            "ack-edge-preflight-{}-{}",
            crate::text::clean(&report.host.hostname, 64).replace(['/', ' '], "_"),
            report.started_at.replace(':', "")
        );
        crate::bundle::write(path, &dir, &entries, mtime).map_err(|e| InternalError::Output {
            path: path.display().to_string(),
            reason: sys::errno::words(&e),
        })?;
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "support bundle written to {} ({} files, {} KiB)",
            path.display(),
            entries.len(),
            bytes.div_ceil(1024)
        );
    }
    if let Some(path) = &out.output {
        let s = &report.summary;
        eprintln!(
            "{}: {} pass, {} warn, {} fail, {} skip; report written to {}",
            s.verdict_short(),
            s.pass,
            s.warn,
            s.fail,
            s.skip,
            path.display()
        );
    }
    Ok(if report.summary.failed() {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// "23/49 done, 1.8 s left" on standard error (a terminal), redrawn every 100 ms while `run` runs,
/// and cleared before the report is written.
async fn progress_line<T>(
    run: impl std::future::Future<Output = T>,
    done: &std::sync::atomic::AtomicUsize,
    total: usize,
    deadline: std::time::Duration,
) -> T {
    use std::io::Write;
    let end = tokio::time::Instant::now() + deadline;
    let ticker = async {
        loop {
            let left = end
                .saturating_duration_since(tokio::time::Instant::now())
                .as_secs_f64();
            let n = done.load(std::sync::atomic::Ordering::Relaxed);
            let _ = write!(
                std::io::stderr(),
                "\r{n}/{total} done, {left:.1} s left\x1b[K"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::pin!(run);
    tokio::pin!(ticker);
    let out = match futures::future::select(run, ticker).await {
        futures::future::Either::Left((out, _)) => out,
        futures::future::Either::Right(((), _)) => unreachable!("the ticker never ends"),
    };
    let _ = write!(std::io::stderr(), "\r\x1b[K");
    out
}

/// Addresses, routes, rules and neighbours from netlink, for the support bundle.
async fn bundle_net(routes: &sys::netlink::NetlinkRoutes) -> Vec<crate::bundle::Entry> {
    use crate::net::Routes;
    let lines = |r: Result<Vec<String>, String>| match r {
        Ok(v) => v.join("\n") + "\n",
        Err(e) => format!("# not readable: {e}\n"),
    };
    let addrs = routes.addresses().await.map(|v| {
        v.into_iter()
            .map(|a| format!("{} {}", a.interface, a.net))
            .collect()
    });
    let table = routes
        .routes()
        .await
        .map(|v| v.iter().map(|r| r.describe()).collect());
    vec![
        crate::bundle::text_entry("net/addresses.txt", "netlink", &lines(addrs)),
        crate::bundle::text_entry(
            "net/routes.txt",
            "netlink (every table but local)",
            &lines(table),
        ),
        crate::bundle::text_entry(
            "net/rules.txt",
            "netlink",
            &lines(routes.rules_text().await),
        ),
        crate::bundle::text_entry(
            "net/neighbours.txt",
            "netlink",
            &lines(routes.neighbours_text().await),
        ),
    ]
}

/// Listings go to standard output; a closed pipe ends quietly, any other write error is exit 3.
fn print_out(text: &str) -> Result<(), AppError> {
    Ok(output::write(&output::Destination::Stdout, text)?)
}

fn plan_cmd(a: &PlanArgs) -> Result<i32, AppError> {
    let cat = cat()?;
    let opts = options(&a.target, cat)?;
    let probes = plan::plan(&opts, cat);
    let via = match opts.dns_server {
        Some(sa) if sa.port() == 53 => sa.ip().to_string(),
        Some(sa) => sa.to_string(),
        None => "the resolvers of /etc/resolv.conf".into(),
    };
    let text = match a.format {
        ListFormat::Json => {
            let untested = plan::untested(&opts, cat, &probes);
            let packets: Vec<serde_json::Value> =
                probes.iter().map(|p| serde_json::json!({"id": p.id, "target": p.target, "packets": p.packets(&via)})).collect();
            let v = serde_json::json!({"region": opts.region.id, "timeout_ms": opts.timeout.as_millis() as u64, "dns": via, "probes": probes, "packets": packets, "untested": untested});
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
        }
        ListFormat::Table | ListFormat::Markdown => {
            let api = opts
                .apiserver
                .as_ref()
                .map(|h| h.to_string())
                .unwrap_or_else(|| "(not given)".into());
            let heading = format!(
                "Plan for region {} (cni {}, Kubernetes {}.{}, API server {api}); per-probe timeout {} ms. Nothing is sent by `plan`.\n",
                opts.region.id,
                opts.cni.as_str(),
                opts.k8s_version.0,
                opts.k8s_version.1,
                opts.timeout.as_millis(),
            );
            listing::plan(a.format, &probes, &via, &heading)
        }
    };
    print_out(&text)?;
    Ok(exit::OK)
}

fn requirements(a: &ListArgs) -> Result<i32, AppError> {
    let cat = cat()?;
    let text = match a.format {
        ListFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&cat.requirements).unwrap_or_default()
        ),
        f => listing::requirements(f, cat),
    };
    print_out(&text)?;
    Ok(exit::OK)
}

fn regions_cmd(a: &ListArgs) -> Result<i32, AppError> {
    let table_data = regions(a.regions_file.as_deref())?;
    let text = match a.format {
        ListFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&table_data.regions).unwrap_or_default()
        ),
        f => listing::regions(f, &table_data.regions),
    };
    print_out(&text)?;
    Ok(exit::OK)
}

fn summarize_cmd(a: &SummarizeArgs) -> Result<i32, AppError> {
    let max_age = options::parse_duration_max(&a.max_age, "--max-age", 366.0 * 86400.0)?;
    let jobs = match a.jobs {
        Some(0) => return Err(InputError::flag("--jobs", "0", "must be at least 1").into()),
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let files = crate::summary::expand(&a.reports);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let age = crate::summary::AgeRule {
        now,
        max_age_s: max_age.as_secs() as i64,
    };
    let s = crate::summary::summarize_files(&files, jobs, age);
    if s.hosts == 0 {
        let why = s
            .unreadable
            .first()
            .map(|u| format!("{}: {}", u.file, u.reason))
            .unwrap_or_else(|| "no reports".into());
        let more = if s.unreadable.len() > 1 {
            format!(" (and {} more unreadable files)", s.unreadable.len() - 1)
        } else {
            String::new()
        };
        return Err(InputError(format!("nothing to summarize: {why}{more}")).into());
    }
    {
        let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
        let done = crate::report::fleet::write(a.format, &s, &mut out)
            .and_then(|_| std::io::Write::flush(&mut out));
        match done {
            Err(e) if !output::is_closed_pipe(&e) => {
                return Err(InternalError::Output {
                    path: "standard output".into(),
                    reason: sys::errno::words(&e),
                }
                .into())
            }
            _ => {}
        }
    }
    if a.format != crate::cli::SummaryFormat::Table && !s.unreadable.is_empty() {
        for u in &s.unreadable {
            eprintln!(
                "summarize: skipped {}: {}",
                u.file,
                crate::text::clean(&u.reason, 200)
            );
        }
    }
    Ok(if !s.failing_hosts.is_empty() || !s.unreadable.is_empty() {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// Run a parsed command line; the exit code is the contract of SPEC section 4.
pub fn run(cli: &Cli) -> Result<i32, AppError> {
    match &cli.command {
        Command::Check(a) => check(a),
        Command::Plan(a) => plan_cmd(a),
        Command::Requirements(a) => requirements(a),
        Command::Regions(a) => regions_cmd(a),
        Command::Responder(a) => responder(a),
        Command::Inbound(a) => inbound(a),
        Command::Summarize(a) => summarize_cmd(a),
    }
}

/// Man pages (one per command) and bash / zsh / fish completions from the clap definitions, so
/// they never drift from `--help`. Run by `packaging/build-release.sh`; hidden from `--help`.
pub fn generate_assets(out_dir: &std::path::Path) -> Result<i32, AppError> {
    use clap::CommandFactory;
    let io = |what: &str, e: std::io::Error| InternalError::Output {
        path: out_dir.join(what).display().to_string(),
        reason: e.to_string(),
    };
    let man = out_dir.join("man");
    let complete = out_dir.join("complete");
    for d in [&man, &complete] {
        std::fs::create_dir_all(d).map_err(|e| io("", e))?;
    }
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd.clone(), &man).map_err(|e| io("man", e))?;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        let mut c = cmd.clone();
        clap_complete::generate_to(shell, &mut c, "ack-edge-preflight", &complete)
            .map_err(|e| io("complete", e))?;
    }
    // clap_complete 4.6's bash script names the case labels of a hyphenated binary's subcommands
    // differently from the `cmd` it computes ("ack__subcmd__edge__subcmd__preflight__subcmd__check"
    // vs "ack__edge__preflight__subcmd__check"), so no flag of a subcommand completes; make them agree
    let bash = complete.join("ack-edge-preflight.bash");
    let text =
        std::fs::read_to_string(&bash).map_err(|e| io("complete/ack-edge-preflight.bash", e))?;
    std::fs::write(
        &bash,
        text.replace(
            "ack__subcmd__edge__subcmd__preflight",
            "ack__edge__preflight",
        ),
    )
    .map_err(|e| io("complete/ack-edge-preflight.bash", e))?;
    eprintln!(
        "generate-assets: wrote man pages to {} and completions to {}",
        man.display(),
        complete.display()
    );
    Ok(exit::OK)
}
