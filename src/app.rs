//! The commands: one short function per command. `check` is the named steps of a run —
//! environment, plan, run, waivers, causes, render, bundle — each in the module it belongs to.

use std::io::IsTerminal;
use std::time::Instant;

use crate::args::{inbound_nodes, options, regions};
use crate::catalogue::{self, Catalogue};
use crate::checks::{self, Step};
use crate::cli::{
    CheckArgs, Cli, Command, InboundArgs, ListArgs, ListFormat, PlanArgs, ReportArgs,
    ResponderArgs, SummarizeArgs, TargetArgs, WatchArgs,
};
use crate::engine::{self, EngineConfig};
pub(crate) use crate::error::AppError;
use crate::error::{InputError, InternalError};
use crate::exit;
use crate::options::{self, Options};
use crate::report::{self, listing, Style};
use crate::result::{Report, RunOptions, Summary, TargetInfo, ToolInfo, Untested, SCHEMA_VERSION};
use crate::sys;
use crate::sys::output;
use crate::sys::system::{RunEnv, System};

fn cat() -> Result<&'static Catalogue, AppError> {
    catalogue::builtin().map_err(|e| InternalError::BuiltinData(e).into())
}

fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| InternalError::Runtime(e.to_string()).into())
}

/// What the report says about how it was made, besides the results.
struct RunMeta {
    target: TargetInfo,
    options: RunOptions,
    untested: Vec<Untested>,
    waivers: Vec<crate::waiver::Waiver>,
}

fn check(a: &CheckArgs) -> Result<i32, AppError> {
    let cat = cat()?;
    let opts = options(&a.target, cat)?;
    let steps = checks::plan(&opts, cat);
    if steps.is_empty() {
        return Err(nothing_selected(&opts).into());
    }
    let env = run_env(
        &opts,
        bundle_path(a.bundle.as_ref(), a.report.output.as_ref())?,
    )?;
    let meta = RunMeta {
        target: target_info(&opts),
        options: run_options(&opts, &a.target, &a.report),
        untested: checks::untested(&opts, cat, &steps),
        waivers: opts.accept.clone(),
    };
    execute(&steps, &engine_config(&opts), &env, meta, &a.report, cat)
}

/// What the report says of the target.
fn target_info(opts: &Options) -> TargetInfo {
    TargetInfo {
        region: opts.region.id.clone(),
        cni: opts.cni.as_str().into(),
        apiserver: opts.apiserver.as_ref().map(ToString::to_string),
    }
}

/// What the system implementations need, from the options.
fn run_env(opts: &Options, bundle: Option<std::path::PathBuf>) -> Result<RunEnv, AppError> {
    Ok(RunEnv {
        dns_server: opts.dns_server,
        sysroot: opts.sysroot.clone(),
        extra_roots: opts.extra_roots.clone(),
        cluster_roots: opts.cluster_roots.clone(),
        toward: crate::constants::VPC_DNS_SERVERS[0]
            .parse()
            .map_err(|_| InternalError::BuiltinData("VPC DNS address".into()))?,
        bundle,
    })
}

fn nothing_selected(opts: &Options) -> InputError {
    InputError::Combination(format!(
        "nothing to check: --only {} --skip {} leaves no requirement (see `ack-edge-preflight requirements`)",
        if opts.only.is_empty() { "(all)".to_string() } else { opts.only.join(",") },
        if opts.skip.is_empty() { "(none)".to_string() } else { opts.skip.join(",") }
    ))
}

fn engine_config(opts: &Options) -> EngineConfig {
    let mut cloud_nets = vec![ipnet::IpNet::V4(crate::regions::cloud_range())];
    cloud_nets.extend(opts.vpc_cidr);
    EngineConfig {
        region: opts.region.id.clone(),
        line_peer: opts.line_peer,
        cloud_nets,
        from_cloud: false,
        timeout: opts.timeout,
        ntp_warn_offset: opts.ntp_warn_offset,
        ntp_fail_offset: opts.ntp_fail_offset,
        in_flight: in_flight(),
    }
}

/// Probes in flight: as many as the open-file limit (raised to the hard limit for this process
/// at start) lets each hold its sockets.
fn in_flight() -> usize {
    let nofile = sys::limits::raise_open_files().unwrap_or(1024);
    crate::constants::in_flight_for(nofile)
}

/// `--bundle`: a regular file (new or to replace), never the `--output` file; checked before
/// anything is sent.
fn bundle_path(
    bundle: Option<&std::path::PathBuf>,
    output: Option<&std::path::PathBuf>,
) -> Result<Option<std::path::PathBuf>, AppError> {
    let Some(p) = bundle else { return Ok(None) };
    match output::prepare_for(Some(p), "--bundle")? {
        output::Destination::Replace(t) if Some(p) != output => Ok(Some(t)),
        output::Destination::Replace(_)
        | output::Destination::Stdout
        | output::Destination::Direct(_) => Err(InputError::flag(
            "--bundle",
            &p.display().to_string(),
            "must be a regular file (new or to replace), not the --output file",
        )
        .into()),
    }
}

fn run_options(opts: &Options, t: &TargetArgs, r: &ReportArgs) -> RunOptions {
    RunOptions {
        region: opts.region.id.clone(),
        cni: opts.cni.as_str().into(),
        k8s_version: format!("{}.{}", opts.k8s_version.0, opts.k8s_version.1),
        apiserver: opts.apiserver.as_ref().map(ToString::to_string),
        peers: opts.peers.iter().map(ToString::to_string).collect(),
        dns_server: opts.dns_server.map(|d| d.to_string()),
        only: opts.only.clone(),
        skip: opts.skip.clone(),
        accept: t.accept.clone(),
        timeout_ms: crate::run::ms(opts.timeout),
        strict: r.strict,
    }
}

fn inbound(a: &InboundArgs) -> Result<i32, AppError> {
    let cat = cat()?;
    let nodes = inbound_nodes(a)?;
    let timeout = options::parse_duration(&a.timeout, "--timeout")?;
    let steps = checks::plan_inbound(&nodes, a.cni);
    let cfg = EngineConfig {
        region: "-".into(),
        line_peer: a
            .line_peer
            .as_deref()
            .map(|s| options::parse_host_ip(s, "--line-peer"))
            .transpose()?,
        cloud_nets: vec![ipnet::IpNet::V4(crate::regions::cloud_range())],
        from_cloud: true,
        timeout,
        ntp_warn_offset: crate::constants::NTP_WARN_OFFSET_S,
        ntp_fail_offset: crate::constants::NTP_FAIL_OFFSET_S,
        in_flight: in_flight(),
    };
    let region = match nodes.as_slice() {
        [one] => format!("inbound to {one}"),
        many => format!("inbound to {} nodes", many.len()),
    };
    let env = RunEnv {
        dns_server: None,
        sysroot: "/".into(),
        extra_roots: vec![],
        cluster_roots: vec![],
        toward: nodes[0],
        bundle: None,
    };
    let meta = RunMeta {
        target: TargetInfo {
            region,
            cni: a.cni.as_str().into(),
            apiserver: None,
        },
        options: RunOptions {
            region: "-".into(),
            cni: a.cni.as_str().into(),
            peers: nodes.iter().map(ToString::to_string).collect(),
            timeout_ms: crate::run::ms(timeout),
            strict: a.report.strict,
            ..Default::default()
        },
        untested: vec![],
        waivers: vec![],
    };
    execute(&steps, &cfg, &env, meta, &a.report, cat)
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
            sys::responder::parse_ports(list).map_err(|e| InputError::flag("--ports", list, e))?
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
        "responder: stopped; answered {} probes, ignored {} datagrams, accepted {} TCP connections ({} turned away at the {}-connection cap), {} ICMP errors to its replies, {} socket errors",
        stats.answered,
        stats.ignored,
        stats.tcp_accepted,
        stats.tcp_refused_busy,
        sys::responder::MAX_CONNECTIONS,
        stats.reply_errors,
        stats.errors
    );
    Ok(if partial { exit::FAILED } else { exit::OK })
}

/// The rows of a run, and what the report says of the host, from the real system.
struct Ran {
    results: Vec<crate::result::CheckResult>,
    view: sys::system::HostView,
    bundle_net: Vec<crate::bundle::Entry>,
}

/// Environment and run: build the system, run the steps (with a progress line on a terminal), and
/// read the host's view for the report.
fn run_steps(
    steps: &[Step],
    cfg: &EngineConfig,
    env: &RunEnv,
    cat: &Catalogue,
) -> Result<Ran, AppError> {
    let progress = std::io::stderr().is_terminal();
    let rt = runtime()?;
    Ok(rt.block_on(async {
        let system = System::new(env, cfg.timeout);
        if checks::needs(steps).tls_roots {
            system.preload_roots();
        }
        let net = system.net();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let run = engine::run_counting(steps, &net, cfg, cat, &done);
        let results = if progress {
            sys::term::progress_line(run, &done, steps.len(), cfg.deadline_for(steps.len())).await
        } else {
            run.await
        };
        let view = system.host_view(env.toward).await;
        let bundle_net = if env.bundle.is_some() {
            system.bundle_net().await
        } else {
            vec![]
        };
        Ran {
            results,
            view,
            bundle_net,
        }
    }))
}

/// Run the steps, build the report (waivers, untested, causes), render it, write the bundle, pick
/// the exit code.
fn execute(
    steps: &[Step],
    cfg: &EngineConfig,
    env: &RunEnv,
    meta: RunMeta,
    out: &ReportArgs,
    cat: &Catalogue,
) -> Result<i32, AppError> {
    let (format, dest) = destination(out)?;
    let started = std::time::SystemTime::now();
    let t0 = Instant::now();
    let Ran {
        results,
        view,
        bundle_net,
    } = run_steps(steps, cfg, env, cat)?;
    let done = Done {
        results,
        view,
        bundle_net,
        started,
        took: t0.elapsed(),
    };
    let report = finish(done, meta, out, env, format, &dest, |_| String::new())?;
    Ok(exit_code(&report))
}

/// Where the report goes and in which format, decided before anything is sent.
fn destination(out: &ReportArgs) -> Result<(report::Format, output::Destination), AppError> {
    let format = match (out.format, &out.output) {
        (Some(f), _) => f,
        (None, Some(p)) => report::format_for(p)?,
        (None, None) => report::Format::Table,
    };
    Ok((format, output::prepare(out.output.as_deref())?))
}

/// A finished run: its rows, what the report says of the host, when it ran.
struct Done {
    results: Vec<crate::result::CheckResult>,
    view: sys::system::HostView,
    bundle_net: Vec<crate::bundle::Entry>,
    started: std::time::SystemTime,
    took: std::time::Duration,
}

fn exit_code(report: &Report) -> i32 {
    if report.summary.failed() {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// Build the report (waivers, untested, causes), render it, write the bundle. `extra` makes a page
/// with more than the report from it (watch's plots; empty: none): the HTML output and the
/// bundle's `watch/page.html` are that page.
fn finish(
    done: Done,
    meta: RunMeta,
    out: &ReportArgs,
    env: &RunEnv,
    format: report::Format,
    dest: &output::Destination,
    extra: impl FnOnce(&Report) -> String,
) -> Result<Report, AppError> {
    let Done {
        mut results,
        view,
        mut bundle_net,
        started,
        took,
    } = done;
    let waivers = crate::waiver::apply(&mut results, &meta.waivers);
    let untested = Untested::with_skips(meta.untested, &results);
    let host = sys::host::SystemHost::new(&env.sysroot, None);
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "ack-edge-preflight".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        started_at: crate::clock::rfc3339(started),
        duration_ms: crate::run::ms(took),
        host: sys::host::host_info(&host, view.addresses, view.primary, env.dns_server),
        target: meta.target,
        options: meta.options,
        summary: Summary::of(&results, out.strict).with_untested(untested),
        waivers,
        results,
    };
    crate::rootcause::link_causes(&mut report.results, &report.host.nameservers);
    // a page with more than the report (watch's plots) is what its HTML output and bundle carry
    let page = if format == report::Format::Html || env.bundle.is_some() {
        extra(&report)
    } else {
        String::new()
    };
    if format == report::Format::Html && !page.is_empty() {
        output::write(dest, &page)?;
    } else {
        output::write(dest, &report::render(&report, format, style(out)))?;
    }
    if let Some(path) = &env.bundle {
        if page.len() > crate::bundle::MAX_FILE {
            // cut, it would not open: say so instead
            bundle_net.push(crate::bundle::text_entry(
                "watch/page.txt",
                "watch: the page with a plot per path",
                &format!(
                    "The page is {} bytes, more than the bundle keeps of one file ({} bytes): write it with --page FILE.html and attach it beside the bundle.\n",
                    page.len(),
                    crate::bundle::MAX_FILE
                ),
            ));
        } else if !page.is_empty() {
            bundle_net.push(crate::bundle::text_entry(
                "watch/page.html",
                "watch: the report with a plot per path",
                &page,
            ));
        }
        crate::bundle::write_support(path, &report, &host, &env.sysroot, bundle_net, started)
            .map_err(|e| InternalError::Output {
                path: path.display().to_string(),
                reason: sys::errno::words(&e),
            })?;
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
    Ok(report)
}

/// `watch`: the targets of `check`'s plan, repeated every interval until the duration ends or a
/// signal comes; the report has one row per path.
fn watch_cmd(a: &WatchArgs) -> Result<i32, AppError> {
    use crate::watch;
    let cat = cat()?;
    let opts = options(&a.target, cat)?;
    let interval = options::parse_duration_max(&a.interval, "--interval", 3600.0)?;
    if interval < std::time::Duration::from_secs(1) {
        return Err(InputError::flag("--interval", &a.interval, "must be at least 1s").into());
    }
    let duration = a
        .duration
        .as_deref()
        .map(|d| options::parse_duration_max(d, "--duration", 7.0 * 86400.0))
        .transpose()?;
    let steps = checks::plan(&opts, cat);
    let targets = watch::targets(&steps);
    if targets.is_empty() {
        return Err(nothing_selected(&opts).into());
    }
    // every output checked before anything is sent
    let (format, dest) = destination(&a.report)?;
    let page = match output::prepare_for(a.page.as_deref(), "--page")? {
        output::Destination::Stdout => None,
        d @ (output::Destination::Replace(_) | output::Destination::Direct(_)) => Some(d),
    };
    let mut samples = match &a.samples {
        None => None,
        Some(p) => Some(output::append_to(p, "--samples")?),
    };
    let env = run_env(
        &opts,
        bundle_path(a.bundle.as_ref(), a.report.output.as_ref())?,
    )?;
    let started = std::time::SystemTime::now();
    let cfg = watch::WatchConfig {
        interval,
        duration,
        engine: engine_config(&opts),
        started_epoch_ms: crate::clock::epoch_ms(started),
    };
    let meta = RunMeta {
        target: target_info(&opts),
        options: run_options(&opts, &a.target, &a.report),
        // a watch repeats what can be repeated; what it leaves to `check` is not "untested"
        untested: vec![],
        waivers: opts.accept.clone(),
    };
    let live = std::io::stderr().is_terminal();
    let rt = runtime()?;
    let (rec, view, mut bundle_net) = rt.block_on(async {
        let system = System::new(&env, cfg.engine.timeout);
        let net = system.net();
        let sink: watch::SampleSink<'_> = samples.as_mut().map(|w| w as &mut dyn std::io::Write);
        let mut shown = 0usize;
        let rec = watch::watch(
            &net,
            cat,
            &targets,
            &cfg,
            sink,
            sys::term::interrupted(),
            |r| {
                if live {
                    shown = sys::term::live_lines(shown, &watch::live_lines(r));
                }
            },
        )
        .await;
        let view = system.host_view(env.toward).await;
        let bundle_net = if env.bundle.is_some() {
            system.bundle_net().await
        } else {
            vec![]
        };
        (rec, view, bundle_net)
    });
    drop(samples);
    if env.bundle.is_some() {
        if let Some(p) = &a.samples {
            bundle_net.push(watch::samples_entry(p));
        }
    }
    let results = watch::summary::rows(
        &rec,
        cat,
        &opts.region.id,
        opts.ntp_warn_offset,
        opts.ntp_fail_offset,
    );
    let done = Done {
        results,
        view,
        bundle_net,
        started,
        took: rec.elapsed,
    };
    let report = finish(done, meta, &a.report, &env, format, &dest, |r| {
        watch::page::render(&rec, r)
    })?;
    if let Some(d) = &page {
        output::write(d, &watch::page::render(&rec, &report))?;
    }
    eprintln!("{}", watch::cost_line(&rec));
    Ok(exit_code(&report))
}

/// How the report looks: the terminal's width, colour and character set, and the flags.
fn style(out: &ReportArgs) -> Style {
    let view = sys::term::stdout_view(out.output.is_some(), out.no_color);
    Style {
        color: view.color,
        strict: out.strict,
        width: view.width,
        ascii: view.ascii,
        all: out.all,
    }
}

/// Listings go to standard output; a closed pipe ends quietly, any other write error is exit 3.
fn print_out(text: &str) -> Result<(), AppError> {
    Ok(output::write(&output::Destination::Stdout, text)?)
}

fn plan_cmd(a: &PlanArgs) -> Result<i32, AppError> {
    let cat = cat()?;
    let opts = options(&a.target, cat)?;
    let probes = checks::plan(&opts, cat);
    let via = match opts.dns_server {
        Some(sa) if sa.port() == 53 => sa.ip().to_string(),
        Some(sa) => sa.to_string(),
        None => "the resolvers of /etc/resolv.conf".into(),
    };
    let text = match a.format {
        ListFormat::Json => {
            let untested = checks::untested(&opts, cat, &probes);
            let packets: Vec<serde_json::Value> =
                probes.iter().map(|p| serde_json::json!({"id": p.id, "target": p.target, "packets": p.packets(&via)})).collect();
            let v = serde_json::json!({"region": opts.region.id, "timeout_ms": crate::run::ms(opts.timeout), "dns": via, "probes": probes, "packets": packets, "untested": untested});
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
        }
        ListFormat::Table | ListFormat::Markdown => {
            let api = opts
                .apiserver
                .as_ref()
                .map_or_else(|| "(not given)".into(), std::string::ToString::to_string);
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
        f @ (ListFormat::Table | ListFormat::Markdown) => listing::requirements(f, cat),
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
        f @ (ListFormat::Table | ListFormat::Markdown) => listing::regions(f, &table_data.regions),
    };
    print_out(&text)?;
    Ok(exit::OK)
}

/// `summarize --baseline`: what changed since the baseline collection.
fn summarize_diff(
    a: &SummarizeArgs,
    now: &crate::fleet::FleetSummary,
    jobs: usize,
    age: crate::fleet::AgeRule,
) -> Result<i32, AppError> {
    // the baseline is old by design: its ages are not warned about
    let old = crate::fleet::AgeRule {
        max_age_s: i64::MAX,
        ..age
    };
    let base = crate::fleet::summarize_files(
        crate::fleet::expand(&a.baseline),
        jobs,
        old,
        a.hosts_per_requirement,
    );
    if base.hosts == 0 {
        let shown: Vec<String> = a.baseline.iter().map(|p| p.display().to_string()).collect();
        return Err(
            InputError::flag("--baseline", &shown.join(" "), "holds no readable report").into(),
        );
    }
    let d = crate::fleet_diff::diff(&base, now, a.hosts_per_requirement);
    let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    let done = crate::report::fleet::write_diff(a.format, &d, &mut out)
        .and_then(|()| std::io::Write::flush(&mut out));
    if let Err(e) = done {
        if !output::is_closed_pipe(&e) {
            return Err(InternalError::Output {
                path: "standard output".into(),
                reason: sys::errno::words(&e),
            }
            .into());
        }
    }
    Ok(if d.new_failures.count > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

fn summarize_cmd(a: &SummarizeArgs) -> Result<i32, AppError> {
    let max_age = options::parse_duration_max(&a.max_age, "--max-age", 366.0 * 86400.0)?;
    let jobs = match a.jobs {
        Some(0) => return Err(InputError::flag("--jobs", "0", "must be at least 1").into()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    };
    let files = crate::fleet::expand(&a.reports);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let age = crate::fleet::AgeRule {
        now,
        max_age_s: i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
    };
    if a.hosts_per_requirement == 0 {
        return Err(InputError::flag("--hosts-per-requirement", "0", "must be at least 1").into());
    }
    let s = crate::fleet::summarize_files(files, jobs, age, a.hosts_per_requirement);
    if s.hosts == 0 {
        let why = s.unreadable.first().map_or_else(
            || "no reports".into(),
            |u| format!("{}: {}", u.file, u.reason),
        );
        let more = if s.unreadable.len() > 1 {
            format!(" (and {} more unreadable files)", s.unreadable.len() - 1)
        } else {
            String::new()
        };
        return Err(InputError::Combination(format!("nothing to summarize: {why}{more}")).into());
    }
    if !a.baseline.is_empty() {
        return summarize_diff(a, &s, jobs, age);
    }
    {
        let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
        let done = crate::report::fleet::write(a.format, &s, &mut out)
            .and_then(|()| std::io::Write::flush(&mut out));
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
        Command::Watch(a) => watch_cmd(a),
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
        sys::files::create_dirs(d).map_err(|e| io("", e))?;
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
    sys::files::rewrite(&bash, |text| {
        text.replace(
            "ack__subcmd__edge__subcmd__preflight",
            "ack__edge__preflight",
        )
    })
    .map_err(|e| io("complete/ack-edge-preflight.bash", e))?;
    eprintln!(
        "generate-assets: wrote man pages to {} and completions to {}",
        man.display(),
        complete.display()
    );
    Ok(exit::OK)
}
