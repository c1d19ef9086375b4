//! Runners over the host snapshot (ports, tools, CIDRs) and the package sources.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::future::join_all;
use ipnet::IpNet;
use tokio::time::Instant;

use super::{bounded, ms, Ctx};
use crate::cause::{ErrorClass, Phase, Plain};
use crate::constants::MAX_SOURCE_HOSTS;
use crate::plan::Probe;
use crate::probe::cidr::{self, OverlapRule};
use crate::probe::dns::DnsFailure;
use crate::probe::pkg::{self, SourceFailure};
use crate::probe::port::{self, SocketProto};
use crate::probe::tcp::TcpFailure;
use crate::result::{CheckResult, Finding};

pub fn port_local(ctx: &Ctx<'_, '_>, p: &Probe, proto: SocketProto, number: u16) -> CheckResult {
    let unavailable = Plain(Phase::Port, ErrorClass::Unavailable);
    let f = match ctx.host.sockets.get(&proto) {
        None => Finding::skip_by(&unavailable, "the socket table was not read"),
        Some(Err(e)) => {
            Finding::skip_by(&unavailable, format!("cannot read the socket table: {e}"))
        }
        Some(Ok(entries)) => {
            let held: Vec<_> = port::holders(entries, proto, number)
                .into_iter()
                .map(|s| {
                    (
                        s.clone(),
                        if s.inode == 0 {
                            None
                        } else {
                            ctx.host.owners.get(&s.inode).cloned()
                        },
                    )
                })
                .collect();
            port::evaluate(proto, number, &held, ctx.host.privileged)
        }
    };
    ctx.result(p, None, f, Duration::ZERO)
}

pub fn tool(ctx: &Ctx<'_, '_>, p: &Probe) -> CheckResult {
    let f = ctx
        .host
        .tools
        .get(&p.id)
        .cloned()
        .unwrap_or_else(|| Finding::skip("not in the catalogue"));
    ctx.result(p, None, f, Duration::ZERO)
}

pub fn cidr(
    ctx: &Ctx<'_, '_>,
    p: &Probe,
    range: &IpNet,
    label: &str,
    rule: OverlapRule,
    also: &[(String, IpNet)],
) -> CheckResult {
    let unavailable = Plain(Phase::Cidr, ErrorClass::Unavailable);
    let f = match &ctx.host.locals {
        Some((Ok(a), Ok(r))) => cidr::evaluate(label, range, rule, a, r, also),
        Some((Err(e), _)) | Some((_, Err(e))) => Finding::skip_by(
            &unavailable,
            format!("cannot read local addresses/routes: {e}"),
        ),
        None => Finding::skip_by(&unavailable, "local addresses were not read"),
    };
    ctx.result(p, None, f, Duration::ZERO)
}

/// Resolve (unless an address) and connect to one source host within `t`.
async fn reach(
    ctx: &Ctx<'_, '_>,
    name: &str,
    port: u16,
    t: Duration,
) -> Result<SocketAddr, SourceFailure> {
    let s = Instant::now();
    let ip = match name.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match bounded(t, ctx.net.resolver.resolve_a(name), || {
            Err(DnsFailure::Timeout(ms(t)))
        })
        .await
        {
            Ok(v) => IpAddr::V4(*v.first().ok_or(SourceFailure::Dns(DnsFailure::NoRecords))?),
            Err(e) => return Err(SourceFailure::Dns(e)),
        },
    };
    let sa = SocketAddr::new(ip, port);
    let left = t
        .saturating_sub(s.elapsed())
        .max(Duration::from_millis(200));
    match bounded(left, ctx.net.connector.connect(sa, left), || {
        Err(TcpFailure::TimedOut(ms(left)))
    })
    .await
    {
        Ok(_) => Ok(sa),
        Err(TcpFailure::TimedOut(0)) => Err(SourceFailure::Tcp(sa, TcpFailure::TimedOut(ms(left)))),
        Err(e) => Err(SourceFailure::Tcp(sa, e)),
    }
}

pub async fn pkg_sources(ctx: &Ctx<'_, '_>, p: &Probe) -> Vec<CheckResult> {
    let sources: Vec<pkg::Source> = ctx
        .host
        .source_files
        .iter()
        .flat_map(|(path, text)| pkg::parse_file(path, text))
        .collect();
    let hosts = pkg::unique_hosts(&sources);
    // pkg.sources fails only when a tool is missing too
    let missing = ctx
        .host
        .tools
        .values()
        .any(|f| f.status != crate::result::Status::Pass);
    if hosts.is_empty() {
        return vec![ctx.result(p, None, pkg::evaluate_none(missing), Duration::ZERO)];
    }
    let t = ctx.cfg.timeout;
    let checked = join_all(hosts.into_iter().take(MAX_SOURCE_HOSTS).map(
        |(name, port, files)| async move {
            let s = Instant::now();
            let out = reach(ctx, &name, port, t).await;
            (name, port, files, out, s.elapsed())
        },
    ))
    .await;
    let none_reachable = checked.iter().all(|c| c.3.is_err());
    checked
        .into_iter()
        .map(|(name, port, files, out, took)| {
            let f = pkg::evaluate(&name, port, &files, &out, none_reachable, missing);
            ctx.row(&p.id, &name, Some(format!("{name}:{port}")), f, took)
        })
        .collect()
}
