//! DNS, route and TCP runners (and the TCP side of `inbound`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use super::{bounded, ms, Ctx};
use crate::plan::{Addr, Probe};
use crate::probe::dns::DnsExpect;
use crate::probe::tcp::TcpFailure;
use crate::probe::{dns, icmp, inbound, route, tcp};
use crate::result::CheckResult;

pub async fn dns(ctx: &Ctx<'_, '_>, p: &Probe, name: &str, expect: &DnsExpect) -> Vec<CheckResult> {
    let (out, took) = ctx.lookup(name).await;
    let server = ctx.net.resolver.servers().join(", ");
    let f = dns::evaluate(
        &out,
        expect,
        if server.is_empty() {
            "the system resolver"
        } else {
            &server
        },
        took,
    );
    vec![ctx.result(p, None, f, Duration::from_millis(took))]
}

pub async fn route(ctx: &Ctx<'_, '_>, p: &Probe, addr: &Addr) -> Vec<CheckResult> {
    ctx.fan_out(p, addr, |ip| async move {
        let s = Instant::now();
        let out = ctx.net.routes.route_to(ip).await;
        vec![ctx.result(
            p,
            Some(ip.to_string()),
            route::evaluate(ip, &out),
            s.elapsed(),
        )]
    })
    .await
}

/// The ICMP echo is evidence: it gets a short budget of its own and never delays the TCP verdict
/// beyond it (cloud VIPs often drop ICMP).
pub fn icmp_budget(t: Duration) -> Duration {
    (t / 10).clamp(Duration::from_millis(50), Duration::from_millis(300))
}

pub async fn tcp(ctx: &Ctx<'_, '_>, p: &Probe, addr: &Addr, port: u16) -> Vec<CheckResult> {
    let t = ctx.cfg.timeout;
    ctx.fan_out(p, addr, |ip| async move {
        let sa = SocketAddr::new(ip, port);
        let s = Instant::now();
        let connect = async {
            let out = bounded(t, ctx.net.connector.connect(sa, t), || {
                Err(TcpFailure::TimedOut(ms(t)))
            })
            .await;
            let took = s.elapsed();
            (
                out.map_err(|e| {
                    if e == TcpFailure::TimedOut(0) {
                        TcpFailure::TimedOut(ms(t))
                    } else {
                        e
                    }
                }),
                took,
            )
        };
        let ping = async {
            match ctx.net.icmp {
                Some(pinger) => {
                    let b = icmp_budget(t);
                    Some(bounded(b, pinger.ping(ip, b), || icmp::IcmpOutcome::NoReply).await)
                }
                None => None,
            }
        };
        let ((out, took), pinged) = futures::join!(connect, ping);
        let mut f = tcp::evaluate(sa, &out, ms(took));
        if let Some(o) = &pinged {
            f = icmp::annotate(f, o);
        }
        vec![ctx.result(p, Some(sa.to_string()), f, took)]
    })
    .await
}

pub async fn inbound_tcp(
    ctx: &Ctx<'_, '_>,
    p: &Probe,
    node: IpAddr,
    port: u16,
) -> Vec<CheckResult> {
    let t = ctx.cfg.timeout;
    let sa = SocketAddr::new(node, port);
    let s = Instant::now();
    let out = bounded(
        t + Duration::from_millis(200),
        ctx.net.connector.read_banner(sa, t),
        || Err(TcpFailure::TimedOut(ms(t))),
    )
    .await;
    vec![ctx.result(
        p,
        Some(sa.to_string()),
        inbound::evaluate(sa, &out),
        s.elapsed(),
    )]
}
