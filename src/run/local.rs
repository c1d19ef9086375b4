//! Steps over the host snapshot (ports, tools, CIDRs) and the package sources.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use ipnet::IpNet;
use tokio::time::Instant;

use super::step::{Needs, Step, StepKind};
use super::{bounded, ms, Ctx};
use crate::cause::{ErrorClass, Phase, Plain};
use crate::constants::MAX_SOURCE_HOSTS;
use crate::constants::MIN_CONNECT_BUDGET;
use crate::probe::cidr::{self, OverlapRule};
use crate::probe::dns::DnsFailure;
use crate::probe::pkg::{self, SourceFailure};
use crate::probe::port::{self, SocketProto};
use crate::probe::tcp::TcpFailure;
use crate::result::{CheckResult, Finding, Status};

/// Who holds a local port, from the socket table of the snapshot.
pub(crate) struct PortLocal {
    pub proto: SocketProto,
    pub port: u16,
}

#[async_trait]
impl StepKind for PortLocal {
    fn name(&self) -> &'static str {
        "port_local"
    }
    fn packets(&self, _: &Step, _: &str) -> Vec<String> {
        vec![format!(
            "read /proc/net/{}* for port {} (local, sends nothing)",
            self.proto.as_str(),
            self.port
        )]
    }
    fn needs(&self) -> Needs {
        match self.proto {
            SocketProto::Tcp => Needs {
                tcp_sockets: true,
                ..Needs::NOTHING
            },
            SocketProto::Udp => Needs {
                udp_sockets: true,
                ..Needs::NOTHING
            },
        }
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let unavailable = Plain(Phase::Port, ErrorClass::Unavailable);
        let f = match ctx.host.sockets.get(&self.proto) {
            None => Finding::skip_by(&unavailable, "the socket table was not read"),
            Some(Err(e)) => {
                Finding::skip_by(&unavailable, format!("cannot read the socket table: {e}"))
            }
            Some(Ok(entries)) => {
                let held: Vec<_> = port::holders(entries, self.proto, self.port)
                    .into_iter()
                    .map(|e| {
                        (
                            e.clone(),
                            if e.inode == 0 {
                                None
                            } else {
                                ctx.host.owners.get(&e.inode).cloned()
                            },
                        )
                    })
                    .collect();
                port::evaluate(self.proto, self.port, &held, ctx.host.privileged)
            }
        };
        vec![ctx.result(s, None, f, Duration::ZERO)]
    }
}

/// One tool group's verdict, from the lookups of the snapshot.
pub(crate) struct ToolGroup;

#[async_trait]
impl StepKind for ToolGroup {
    fn name(&self) -> &'static str {
        "tool"
    }
    fn packets(&self, _: &Step, _: &str) -> Vec<String> {
        vec!["look for executables in PATH, /usr/sbin and /sbin (local)".into()]
    }
    fn needs(&self) -> Needs {
        Needs {
            tools: true,
            ..Needs::NOTHING
        }
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let f = ctx
            .host
            .tools
            .get(&s.id)
            .cloned()
            .unwrap_or_else(|| Finding::skip("not in the catalogue"));
        vec![ctx.result(s, None, f, Duration::ZERO)]
    }
}

/// Local addresses and routes against one range.
pub(crate) struct CidrCompare {
    pub range: IpNet,
    pub label: String,
    pub rule: OverlapRule,
    /// Other ranges this one must not overlap either.
    pub also: Vec<(String, IpNet)>,
}

#[async_trait]
impl StepKind for CidrCompare {
    fn name(&self) -> &'static str {
        "cidr"
    }
    fn packets(&self, _: &Step, _: &str) -> Vec<String> {
        let what = match self.rule {
            crate::probe::cidr::OverlapRule::Remote => "local addresses and routes",
            crate::probe::cidr::OverlapRule::Container => {
                "local addresses, routes and the nameservers of /etc/resolv.conf"
            }
        };
        vec![format!("compare {what} with {} (local)", self.range)]
    }
    fn needs(&self) -> Needs {
        Needs::LOCALS
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let unavailable = Plain(Phase::Cidr, ErrorClass::Unavailable);
        let f = match &ctx.host.locals {
            Some((Ok(a), Ok(r))) => {
                // the nameservers pods and the node use (/etc/resolv.conf, under --sysroot too)
                let nameservers: Vec<std::net::IpAddr> = ctx
                    .net
                    .host
                    .read_file("/etc/resolv.conf")
                    .map(|t| crate::sys::host::parse_nameservers(&t))
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|n| n.parse().ok())
                    .collect();
                cidr::evaluate(
                    &self.label,
                    &self.range,
                    self.rule,
                    a,
                    r,
                    &self.also,
                    &nameservers,
                )
            }
            Some((Err(e), _) | (_, Err(e))) => Finding::skip_by(
                &unavailable,
                format!("cannot read local addresses/routes: {e}"),
            ),
            None => Finding::skip_by(&unavailable, "local addresses were not read"),
        };
        vec![ctx.result(s, None, f, Duration::ZERO)]
    }
}

/// Local addresses and routes against an address an edge component claims on the node.
pub(crate) struct ClaimedCompare {
    pub claimed: crate::probe::cidr::EdgeAddress,
}

#[async_trait]
impl StepKind for ClaimedCompare {
    fn name(&self) -> &'static str {
        "cidr_claimed"
    }
    fn packets(&self, _: &Step, _: &str) -> Vec<String> {
        vec![format!(
            "compare local addresses and routes with {} ({}'s dummy interface) (local)",
            self.claimed.address, self.claimed.component
        )]
    }
    fn needs(&self) -> Needs {
        Needs::LOCALS
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let unavailable = Plain(Phase::Cidr, ErrorClass::Unavailable);
        let c = &self.claimed;
        let f = match &ctx.host.locals {
            Some((Ok(a), Ok(r))) => {
                cidr::evaluate_claimed(&c.component, c.address, &c.interfaces, a, r)
            }
            Some((Err(e), _) | (_, Err(e))) => Finding::skip_by(
                &unavailable,
                format!("cannot read local addresses/routes: {e}"),
            ),
            None => Finding::skip_by(&unavailable, "local addresses were not read"),
        };
        vec![ctx.result(s, None, f, Duration::ZERO)]
    }
}

/// The yum/apt source hosts: resolved and connected to, at most [`MAX_SOURCE_HOSTS`].
pub(crate) struct PkgSources;

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
        Err(_) => match ctx.resolve_now(name).await {
            Ok(v) => IpAddr::V4(*v.first().ok_or(SourceFailure::Dns(DnsFailure::NoRecords))?),
            Err(e) => return Err(SourceFailure::Dns(e)),
        },
    };
    let sa = SocketAddr::new(ip, port);
    let left = t.saturating_sub(s.elapsed()).max(MIN_CONNECT_BUDGET);
    bounded(left, ctx.net.connector.connect(sa, left), || {
        Err(TcpFailure::TimedOut(ms(left)))
    })
    .await
    .map(|_| sa)
    .map_err(|e| SourceFailure::Tcp(sa, e.with_timeout(left)))
}

#[async_trait]
impl StepKind for PkgSources {
    fn name(&self) -> &'static str {
        "pkg_sources"
    }
    fn packets(&self, _: &Step, via: &str) -> Vec<String> {
        vec![
            "read /etc/yum.repos.d/*.repo, /etc/apt/sources.list, /etc/apt/sources.list.d/*.{list,sources} (local)".into(),
            format!("DNS A query for each source host via {via}"),
            format!("TCP connect (SYN) to each source host's port (at most {MAX_SOURCE_HOSTS} hosts)"),
        ]
    }
    fn needs(&self) -> Needs {
        Needs {
            tools: true,
            sources: true,
            ..Needs::NOTHING
        }
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let sources: Vec<pkg::Source> = ctx
            .host
            .source_files
            .iter()
            .flat_map(|(path, text)| pkg::parse_file(path, text))
            .collect();
        let hosts = pkg::unique_hosts(&sources);
        // pkg.sources fails only when a tool is missing too
        let missing = ctx.host.tools.values().any(|f| f.status != Status::Pass);
        if hosts.is_empty() {
            return vec![ctx.result(s, None, pkg::evaluate_none(missing), Duration::ZERO)];
        }
        let t = ctx.cfg.timeout;
        let checked = join_all(hosts.into_iter().take(MAX_SOURCE_HOSTS).map(
            |(name, port, files)| async move {
                let start = Instant::now();
                let out = reach(ctx, &name, port, t).await;
                (name, port, files, out, start.elapsed())
            },
        ))
        .await;
        let none_reachable = checked.iter().all(|c| c.3.is_err());
        checked
            .into_iter()
            .map(|(name, port, files, out, took)| {
                let f = pkg::evaluate(&name, port, &files, &out, none_reachable, missing);
                ctx.row(s.id, &name, Some(format!("{name}:{port}")), f, took)
            })
            .collect()
    }
}
