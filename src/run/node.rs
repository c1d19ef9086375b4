//! The host-prerequisite checks (`host.*`, `dns.resolver`, `proxy.env`): pure evaluators in
//! `probe::{node, proxy, firewall, nodeip}` over the host's files, the listings read in the
//! snapshot, and the kernel's routes.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::{bounded, Ctx};
use crate::net::{HostFacts, Listing};
use crate::plan::{HostCheck, HostPlan, Probe};
use crate::probe::node::{self, Files};
use crate::probe::{firewall, nodeip, proxy};
use crate::result::CheckResult;

/// The host's files as the pure evaluators read them.
pub struct HostFiles<'a>(pub &'a dyn HostFacts);

impl Files for HostFiles<'_> {
    fn read(&self, path: &str) -> Option<String> {
        self.0.read_file(path)
    }
    fn list(&self, dir: &str) -> Vec<String> {
        self.0.list_dir(dir)
    }
}

/// The default route's interface and source, from the routes read in the snapshot.
fn default_route(ctx: &Ctx<'_, '_>) -> Option<String> {
    let routes = ctx.host.locals.as_ref()?.1.as_ref().ok()?;
    routes
        .iter()
        .find(|r| {
            r.dst.prefix_len() == 0
                && r.dst.addr().is_ipv4()
                && r.kind == "unicast"
                && r.table == 254
        })
        .and_then(|r| {
            r.interface
                .clone()
                .or_else(|| r.nexthops.first().and_then(|h| h.interface.clone()))
        })
}

async fn route_of(ctx: &Ctx<'_, '_>, ip: IpAddr) -> (Option<String>, Option<IpAddr>) {
    match bounded(ctx.cfg.timeout, ctx.net.routes.route_to(ip), || {
        Err(crate::probe::route::RouteFailure::Unavailable(
            "timed out".into(),
        ))
    })
    .await
    {
        Ok(r) => (r.interface, r.source),
        Err(_) => (None, None),
    }
}

pub async fn run(ctx: &Ctx<'_, '_>, p: &Probe, check: HostCheck, with: &HostPlan) -> CheckResult {
    let s = Instant::now();
    let files = HostFiles(ctx.net.host);
    let f = match check {
        HostCheck::Sysctl => node::sysctl(&files),
        HostCheck::KernelModules => node::kernel_modules(&files, with.flannel),
        HostCheck::Swap => node::swap(&files),
        HostCheck::Cgroup => node::cgroup(&files),
        HostCheck::Hostname => node::hostname(&files),
        HostCheck::Resolver => {
            node::resolver(&files, with.pod_cidr.as_ref(), with.vpc_cidr.as_ref())
        }
        HostCheck::Leftovers => node::leftovers(&files),
        HostCheck::Proxy => proxy::evaluate(&proxy::read_envs(&files), &with.endpoints),
        HostCheck::RpFilter => {
            let line = match with.line {
                Some(ip) => route_of(ctx, ip).await.0,
                None => None,
            };
            node::rp_filter_check(&files, line.as_deref(), default_route(ctx).as_deref())
        }
        HostCheck::Firewall => {
            let listing = |l: Listing| {
                ctx.host
                    .listings
                    .get(&l)
                    .cloned()
                    .unwrap_or_else(|| Err("not read".into()))
            };
            let mut notes = vec![];
            if let Ok(state) = listing(Listing::FirewalldState) {
                if state.trim() == "running" {
                    notes.push("firewalld is running: its zones decide what the rules above allow; open the ports with firewall-cmd --permanent --add-port".to_string());
                }
            }
            if let Ok(nft) = listing(Listing::NftRuleset) {
                let native: Vec<String> = nft
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("table "))
                    .map(|t| t.trim_end_matches('{').trim().to_string())
                    .filter(|t| {
                        ![
                            "ip filter",
                            "ip nat",
                            "ip mangle",
                            "ip raw",
                            "ip security",
                            "ip6 filter",
                            "ip6 nat",
                            "ip6 mangle",
                            "ip6 raw",
                            "ip6 security",
                        ]
                        .contains(&t.as_str())
                    })
                    .collect();
                if !native.is_empty() {
                    notes.push(format!(
                        "native nftables tables not evaluated rule by rule: {}",
                        crate::text::clean(&native.join(", "), 200)
                    ));
                }
            }
            let save = listing(Listing::IptablesSave);
            let src = with.vpc_cidr.map(|n| match n {
                ipnet::IpNet::V4(v4) => IpAddr::V4(v4.hosts().next().unwrap_or(v4.addr())),
                ipnet::IpNet::V6(v6) => IpAddr::V6(v6.addr()),
            });
            let iface = match with.line {
                Some(ip) => route_of(ctx, ip).await.0,
                None => None,
            };
            let mut ports: Vec<(&'static str, u16)> = crate::constants::NODE_TCP_PORTS
                .iter()
                .map(|p| ("tcp", *p))
                .collect();
            if with.flannel {
                ports.push(("udp", crate::constants::VXLAN_PORT));
            }
            firewall::evaluate(
                save.as_deref().map_err(|e| e.as_str()),
                &ports,
                src,
                iface.as_deref(),
                &notes,
            )
        }
        HostCheck::NodeIp => {
            let hostname = files
                .read("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default();
            let hosts = files
                .read("/etc/hosts")
                .map(|h| nodeip::hosts_lookup(&h, &hostname))
                .unwrap_or_default();
            let dns = if hosts.is_empty() && crate::constants::valid_hostname(&hostname) {
                let t = ctx.cfg.timeout;
                Some(
                    bounded(t, ctx.net.resolver.resolve_a(&hostname), || {
                        Err(crate::probe::dns::DnsFailure::Timeout(super::ms(t)))
                    })
                    .await
                    .map(|v| v.into_iter().map(IpAddr::V4).collect())
                    .map_err(|e| e.to_string()),
                )
            } else {
                None
            };
            let default_iface = default_route(ctx);
            let default_src = match &ctx.host.locals {
                Some((Ok(addrs), _)) => default_iface.as_ref().and_then(|i| {
                    addrs
                        .iter()
                        .find(|a| &a.interface == i && a.net.addr().is_ipv4())
                        .map(|a| a.net.addr())
                }),
                _ => None,
            };
            let (line_iface, line_src) = match with.line {
                Some(ip) => route_of(ctx, ip).await,
                None => (None, None),
            };
            let addrs = match &ctx.host.locals {
                Some((Ok(a), _)) => a.clone(),
                _ => vec![],
            };
            nodeip::evaluate(&nodeip::Facts {
                hostname,
                hosts,
                dns,
                default_iface,
                default_src,
                line_target: with.line,
                line_iface,
                line_src,
                addrs,
            })
        }
    };
    let took = if matches!(
        check,
        HostCheck::NodeIp | HostCheck::RpFilter | HostCheck::Firewall
    ) {
        s.elapsed()
    } else {
        Duration::ZERO
    };
    ctx.result(p, None, f, took)
}
