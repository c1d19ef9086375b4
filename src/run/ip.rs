//! DNS, route and TCP steps (and the TCP side of `inbound`).

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::step::{Addr, Step, StepKind};
use super::{bounded, ms, Ctx};
use crate::cause::Phase;
use crate::constants::STEP_GRACE;
use crate::probe::dns::DnsExpect;
use crate::probe::tcp::TcpFailure;
use crate::probe::{dns, icmp, inbound, loss, route, tcp};
use crate::result::CheckResult;

/// A DNS A query for one name, judged against what the answer must be.
pub(crate) struct DnsQuery {
    pub name: String,
    pub expect: DnsExpect,
}

#[async_trait]
impl StepKind for DnsQuery {
    fn name(&self) -> &'static str {
        "dns"
    }
    fn packets(&self, _: &Step, via: &str) -> Vec<String> {
        vec![format!("DNS A query for {}. via {via}", self.name)]
    }
    fn queries(&self) -> Option<&str> {
        Some(&self.name)
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        // the first server in use: where a timed-out query is swept (an A query for the same
        // name at rising TTLs), while the lookup still waits once the path's timer has passed
        let first = ctx.net.resolver.servers().first().and_then(|s| {
            s.parse::<SocketAddr>().ok().or_else(|| {
                s.parse::<std::net::IpAddr>()
                    .ok()
                    .map(|ip| SocketAddr::new(ip, 53))
            })
        });
        let (out, took, x) = match first {
            Some(sa) => {
                ctx.with_early_sweep(
                    sa,
                    super::Flow::Udp(dns::query_bytes(&self.name)),
                    ctx.paths
                        .sweep_timer(sa.ip(), ctx.cfg.timeout, Instant::now()),
                    ctx.lookup(&self.name),
                    |(o, _, _)| matches!(o, Err(dns::DnsFailure::Timeout(_))),
                )
                .await
            }
            None => ctx.lookup(&self.name).await,
        };
        let server = ctx.net.resolver.servers().join(", ");
        let via = if server.is_empty() {
            "the system resolver"
        } else {
            &server
        };
        let f = dns::evaluate(&out, &self.expect, via, took);
        let mut f = loss::account(f, Phase::Dns, &format!("DNS queries via {via}"), x);
        if matches!(out, Err(dns::DnsFailure::Timeout(_))) {
            if let Some(sa) = first {
                if let Some(l) = ctx
                    .locate(sa, super::Flow::Udp(dns::query_bytes(&self.name)))
                    .await
                {
                    f = l.annotate(f);
                }
            }
        }
        vec![ctx.result(s, None, f, Duration::from_millis(took))]
    }
}

/// The kernel's route to each address (netlink; sends nothing).
pub(crate) struct RouteLookup;

#[async_trait]
impl StepKind for RouteLookup {
    fn name(&self) -> &'static str {
        "route"
    }
    fn packets(&self, s: &Step, _: &str) -> Vec<String> {
        vec![format!(
            "netlink RTM_GETROUTE for {} (local, sends nothing)",
            s.addr_text()
        )]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        ctx.fan_out(s, |ip| async move {
            let start = Instant::now();
            let out = ctx.net.routes.route_to(ip).await;
            vec![ctx.result(
                s,
                Some(ip.to_string()),
                route::evaluate(ip, &out),
                start.elapsed(),
            )]
        })
        .await
    }
}

/// The ICMP echo is evidence: it gets a short budget of its own and never delays the TCP verdict
/// beyond it (cloud VIPs often drop ICMP).
pub(crate) fn icmp_budget(t: Duration) -> Duration {
    (t / 10).clamp(Duration::from_millis(50), Duration::from_millis(300))
}

/// Run the connect and its evidence echo side by side. Once the connect has succeeded in round
/// trip `r`, the echo gets `ICMP_RTT_FACTOR × r` more (at least `ICMP_FLOOR`, at most what is left
/// of `budget`, or of `2 × r` when that is longer: a long line); a failed connect leaves the echo
/// its whole budget (the evidence matters more then).
async fn echo_bounded_by_connect<C, P, E>(
    connect: C,
    ping: P,
    budget: Duration,
) -> ((Result<E, TcpFailure>, Duration), Option<icmp::IcmpOutcome>)
where
    C: std::future::Future<Output = (Result<E, TcpFailure>, Duration)>,
    P: std::future::Future<Output = Option<icmp::IcmpOutcome>>,
{
    use crate::constants::{ICMP_FLOOR, ICMP_RTT_FACTOR};
    use futures::future::{select, Either};
    let start = Instant::now();
    let (connect, ping) = (std::pin::pin!(connect), std::pin::pin!(ping));
    match select(connect, ping).await {
        Either::Left(((out, took), ping)) => {
            // on a line slower than the budget, the echo still gets two round trips of the
            // connect: its reply cannot come sooner, and "no reply" there would be a wrong word
            let cap = if out.is_ok() {
                budget.max(took * 2)
            } else {
                budget
            };
            let left = cap.saturating_sub(start.elapsed());
            let grace = if out.is_ok() {
                (took * ICMP_RTT_FACTOR).max(ICMP_FLOOR).min(left)
            } else {
                left
            };
            let pinged = tokio::time::timeout(grace, ping)
                .await
                .unwrap_or(Some(icmp::IcmpOutcome::NoReply));
            ((out, took), pinged)
        }
        Either::Right((pinged, connect)) => (connect.await, pinged),
    }
}

/// A TCP connect to each address, with an ICMP echo beside it as evidence.
pub(crate) struct TcpConnect;

#[async_trait]
impl StepKind for TcpConnect {
    fn name(&self) -> &'static str {
        "tcp"
    }
    fn packets(&self, s: &Step, _: &str) -> Vec<String> {
        let port = s.port.unwrap_or_default();
        let echo = match &s.addr {
            Some(Addr::Fixed(ip)) => ip.to_string(),
            Some(Addr::Resolved { name, .. }) => format!("each A record of {name}"),
            None => String::new(),
        };
        vec![
            format!("TCP connect (SYN) to {}:{port}", s.addr_text()),
            format!(
                "ICMP echo to {echo} (evidence only, at most 300 ms, or two round trips of the connect on a longer line; root or ping_group_range)"
            ),
            crate::probe::trace::plan_words(
                "SYNs",
                &format!("{}:{port}", s.addr_text()),
                "the connect times out or is rejected",
            ),
        ]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let t = ctx.cfg.timeout;
        let port = s.port.unwrap_or_default();
        ctx.fan_out(s, |ip| async move {
            let sa = SocketAddr::new(ip, port);
            let start = Instant::now();
            let slow = std::sync::Mutex::new(super::Tries::default());
            let connect = async {
                // a SYN lost twice costs 3 s of retransmission timers: a second connect beside the
                // first on the path's timer (`rto`) keeps a lossy but working line from being a FAIL
                let once = |wait: Duration| async move {
                    let sent = Instant::now();
                    let out = bounded(wait, ctx.net.connector.connect(sa, wait), move || {
                        Err(TcpFailure::TimedOut(ms(wait)))
                    })
                    .await;
                    if out.is_ok() {
                        ctx.paths.record(ip, sent.elapsed());
                    }
                    out
                };
                let retry = ctx.paths.retry_timer(ip, 1, t, Instant::now());
                let (out, attempts) = super::with_second_attempt(t, retry, once, |o| {
                    matches!(o, Err(TcpFailure::TimedOut(_)))
                })
                .await;
                if let Ok(mut s) = slow.lock() {
                    *s = attempts;
                }
                (out.map_err(|e| e.with_timeout(t)), start.elapsed())
            };
            let ping = async {
                match ctx.net.icmp {
                    Some(pinger) => {
                        // bounded by the timeout here; how long it may outlast the connect is
                        // decided beside it (`echo_bounded_by_connect`: the budget, or two round
                        // trips of a slow line)
                        let o = bounded(t, pinger.ping(ip, t), || icmp::IcmpOutcome::NoReply).await;
                        if let icmp::IcmpOutcome::Reply(rtt) = &o {
                            ctx.paths.record(ip, *rtt);
                        }
                        Some(o)
                    }
                    None => None,
                }
            };
            // the flow is swept while the connect still waits (once the path's timer has passed)
            let ((out, took), pinged) = ctx
                .with_early_sweep(
                    sa,
                    super::Flow::Tcp,
                    ctx.paths.sweep_timer(ip, t, start),
                    echo_bounded_by_connect(connect, ping, icmp_budget(t)),
                    |((o, _), _)| sweep_after(o).0,
                )
                .await;
            let tries = slow.lock().map(|s| *s).unwrap_or_default();
            let mut f = tcp::evaluate(sa, &out, ms(took));
            f = loss::account_tries(
                f,
                Phase::Tcp,
                &format!("TCP connects to {sa}"),
                tries,
                out.is_ok(),
            );
            if let Some(o) = &pinged {
                f = icmp::annotate(f, o);
            }
            // silently dropped or rejected on the way: which hop, whose side
            if let (true, rejected) = sweep_after(&out) {
                if let Some(l) = ctx.locate_after(sa, super::Flow::Tcp, rejected).await {
                    f = l.annotate(f);
                }
            }
            vec![ctx.result(s, Some(sa.to_string()), f, took)]
        })
        .await
    }
}

/// Whether a failed connect is swept (and the router's error it already got): a timeout
/// or a rejection on the way; not a refusal (the node answered) or a local failure.
fn sweep_after<T>(out: &Result<T, TcpFailure>) -> (bool, Option<(std::net::IpAddr, String)>) {
    match out {
        Err(TcpFailure::TimedOut(_) | TcpFailure::Unreachable(_)) => (true, None),
        Err(TcpFailure::RejectedBy { from, what }) => (true, Some((*from, what.clone()))),
        Err(TcpFailure::Refused | TcpFailure::LocalBlocked(_) | TcpFailure::Other(_)) | Ok(_) => {
            (false, None)
        }
    }
}

/// From the VPC side: a TCP connect to a node's inbound port and the responder's banner.
pub(crate) struct InboundConnect;

#[async_trait]
impl StepKind for InboundConnect {
    fn name(&self) -> &'static str {
        "inbound_tcp"
    }
    fn packets(&self, s: &Step, _: &str) -> Vec<String> {
        vec![format!(
            "TCP connect to {}:{} and read the responder's banner (a second connect when the first has no answer by the path's retransmission timer)",
            s.addr_text(),
            s.port.unwrap_or_default()
        ), crate::probe::trace::plan_words(
            "SYNs",
            &format!("{}:{}", s.addr_text(), s.port.unwrap_or_default()),
            "no attempt gets through (the way to the node, from this end)",
        )]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let t = ctx.cfg.timeout;
        let port = s.port.unwrap_or_default();
        ctx.fan_out(s, |ip| async move {
            let sa = SocketAddr::new(ip, port);
            let start = Instant::now();
            // as the node side: a SYN lost on a lossy line is retried, and the port FAILs only when
            // no attempt within the timeout got through
            let once = |wait: Duration| {
                bounded(
                    wait + STEP_GRACE,
                    ctx.net.connector.read_banner(sa, wait),
                    move || Err(TcpFailure::TimedOut(ms(wait))),
                )
            };
            // connect, then the responder's banner: two round trips
            let retry = ctx.paths.retry_timer(ip, 2, t, Instant::now());
            let attempts = super::with_second_attempt(t, retry, once, |o| {
                matches!(o, Err(TcpFailure::TimedOut(_)))
            });
            let (out, tries) = ctx
                .with_early_sweep(
                    sa,
                    super::Flow::Tcp,
                    ctx.paths.sweep_timer(ip, t, start),
                    attempts,
                    |(o, _)| sweep_after(o).0,
                )
                .await;
            let out = out.map_err(|e| e.with_timeout(t));
            let mut f = loss::account_tries(
                inbound::evaluate(sa, &out),
                Phase::Inbound,
                &format!("TCP connects to {sa}"),
                tries,
                out.is_ok(),
            );
            // the way back to the node, seen from this end: TTL-limited SYNs to the same port
            if let (true, rejected) = sweep_after(&out) {
                if let Some(l) = ctx.locate_after(sa, super::Flow::Tcp, rejected).await {
                    f = l.annotate(f);
                }
            }
            vec![ctx.result(s, Some(sa.to_string()), f, start.elapsed())]
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_filtered_echo_costs_a_few_connect_round_trips_not_its_budget() {
        let connect = async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            (Ok::<(), TcpFailure>(()), Duration::from_millis(2))
        };
        let silent = std::future::pending::<Option<icmp::IcmpOutcome>>();
        let start = Instant::now();
        let (_, pinged) =
            echo_bounded_by_connect(connect, silent, Duration::from_millis(300)).await;
        assert_eq!(pinged, Some(icmp::IcmpOutcome::NoReply));
        // 2 ms connect + the 20 ms floor (4 × 2 ms is below it)
        assert_eq!(start.elapsed(), Duration::from_millis(22));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_connect_leaves_the_echo_its_budget_and_a_reply_is_kept() {
        let refused = async { (Err::<(), _>(TcpFailure::Refused), Duration::from_millis(1)) };
        let late = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Some(icmp::IcmpOutcome::Reply(Duration::from_millis(150)))
        };
        let (_, pinged) = echo_bounded_by_connect(refused, late, Duration::from_millis(300)).await;
        assert_eq!(
            pinged,
            Some(icmp::IcmpOutcome::Reply(Duration::from_millis(150)))
        );
        let fast = async { (Ok::<(), TcpFailure>(()), Duration::from_millis(1)) };
        let echo = async { Some(icmp::IcmpOutcome::Reply(Duration::from_millis(1))) };
        let (_, pinged) = echo_bounded_by_connect(fast, echo, Duration::from_millis(300)).await;
        assert!(matches!(pinged, Some(icmp::IcmpOutcome::Reply(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn on_a_line_slower_than_the_budget_the_echo_gets_two_round_trips() {
        // a 240 ms line, a 200 ms budget: the connect takes one round trip, the echo as long
        let connect = |ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (Ok::<(), TcpFailure>(()), Duration::from_millis(ms))
        };
        let echo = |ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Some(icmp::IcmpOutcome::Reply(Duration::from_millis(ms)))
        };
        let budget = Duration::from_millis(200);
        let (_, pinged) = echo_bounded_by_connect(connect(240), echo(245), budget).await;
        assert_eq!(
            pinged,
            Some(icmp::IcmpOutcome::Reply(Duration::from_millis(245))),
            "a slow echo is not a filtered one"
        );
        // an echo that does not come within two round trips is still "no reply"
        let (_, pinged) = echo_bounded_by_connect(connect(240), echo(600), budget).await;
        assert_eq!(pinged, Some(icmp::IcmpOutcome::NoReply));
    }
}
