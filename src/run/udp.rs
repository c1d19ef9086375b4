//! UDP echo (udp.vxlan, inbound.udp) and path-MTU runners (UDP toward a responder, ICMP toward the
//! API server). The algorithms are `probe::echo::echo` and `probe::mtu::search`.

use crate::probe::tcp::TcpEvidence;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;

use super::step::{Step, StepKind};
use super::{bounded, Ctx};
use crate::constants::STEP_GRACE;
use crate::constants::{ECHO_TRIES, MIN_IPV4_MTU, VXLAN_PORT};
use crate::probe::echo::{self, DgramError, ReturnPath};
use crate::probe::mtu::{self, DfPath, DfReply, Egress, MtuError};
use crate::probe::udp::{self, DfSocket, EchoOutcome, FullSize, UdpDf};
use crate::result::CheckResult;

/// Echo requests to a responder's UDP port (`udp.vxlan`, `inbound.udp`).
pub(crate) struct UdpEcho;

#[async_trait]
impl StepKind for UdpEcho {
    fn name(&self) -> &'static str {
        "udp_echo"
    }
    fn packets(&self, s: &Step, _: &str) -> Vec<String> {
        vec![
            format!(
                "{ECHO_TRIES} UDP echo requests ({} bytes) to the responder at {}:{}, each naming this node's address and UDP {VXLAN_PORT} for one return datagram",
                echo::ECHO_SIZE,
                s.addr_text(),
                s.port.unwrap_or_default()
            ),
            crate::probe::trace::plan_words(
                "VXLAN frames",
                &format!("{}:{}", s.addr_text(), s.port.unwrap_or_default()),
                "no echo comes back",
            ),
        ]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let port = s.port.unwrap_or_default();
        ctx.fan_out(s, |ip| async move { vec![echo(ctx, s, ip, port).await] })
            .await
    }
}

async fn echo(ctx: &Ctx<'_, '_>, p: &Step, peer: IpAddr, port: u16) -> CheckResult {
    let t = ctx.cfg.timeout;
    let sa = SocketAddr::new(peer, port);
    let s = Instant::now();
    let lost = |e: DgramError| EchoOutcome {
        sent: ECHO_TRIES,
        received: 0,
        rtts_ms: vec![],
        error: Some(e),
        full: None,
        observed: None,
        local: None,
        returned: crate::probe::echo::ReturnPath::NotTested,
    };
    let out = match ctx.net.udp.open(sa).await {
        Err(e) => lost(DgramError::Other(e.to_string())),
        Ok(mut sock) => {
            // the return path: listen on this node's own address and Flannel's port, where a
            // cloud node's VXLAN would arrive; the responder sends one datagram there
            let local = sock.local_addr();
            let back_addr = local.map(|l| SocketAddr::new(l.ip(), VXLAN_PORT));
            let listener: Result<Box<dyn echo::Datagrams>, String> = match back_addr {
                Some(a) => ctx.net.udp.listen(a, sa).await.map_err(|e| e.to_string()),
                None => Err("this socket has no local address".into()),
            };
            let (mut listener, why) = match listener {
                Ok(l) => (Some(l), None),
                Err(e) => (None, Some(e)),
            };
            let back = listener
                .as_mut()
                .map(|l| -> &mut dyn echo::Datagrams { l.as_mut() })
                .zip(back_addr);
            let exchange = bounded(
                t + STEP_GRACE,
                echo::echo_with_return(sock.as_mut(), back, ECHO_TRIES, t),
                || lost(DgramError::Other("timed out".into())),
            );
            // swept while the echoes still wait, once the path's timer has passed
            let frame = echo::encode_request(echo::nonce(), echo::ECHO_SIZE as usize, None);
            let mut out = ctx
                .with_early_sweep(
                    sa,
                    super::Flow::Udp(frame),
                    ctx.paths.sweep_timer(peer, t, s),
                    exchange,
                    |o| o.received == 0,
                )
                .await;
            if let (Some(why), true) = (why, out.received > 0) {
                out.returned = ReturnPath::Untested(format!("cannot listen for it: {why}"));
            }
            out.local = local;
            if out.received > 0 && peer.is_ipv4() {
                out.full = Some(full_size(ctx, sock.as_mut(), peer).await);
            }
            out
        }
    };
    for rtt in &out.rtts_ms {
        ctx.paths
            .record(peer, Duration::from_secs_f64(rtt.max(0.0) / 1000.0));
    }
    let mut f = udp::evaluate_echo(sa, &out);
    if out.received == 0 {
        // a VXLAN frame like the echo's, at rising TTLs: which hop drops it, whose side
        let frame = echo::encode_request(echo::nonce(), echo::ECHO_SIZE as usize, None);
        if let Some(l) = ctx.locate(sa, super::Flow::Udp(frame)).await {
            f = l.annotate(f);
        }
    }
    ctx.result(p, Some(sa.to_string()), f, s.elapsed())
}

/// One VXLAN frame of the interface MTU with Don't Fragment (two tries: one loss is not a verdict),
/// after the small echoes answered: Flannel's full-size frames are what a smaller path or a
/// VXLAN-aware filter with a size limit loses.
async fn full_size(ctx: &Ctx<'_, '_>, sock: &mut dyn DfSocket, peer: IpAddr) -> FullSize {
    let eg = egress(ctx, peer).await;
    let size = eg.iface_mtu.or_else(|| sock.route_mtu()).unwrap_or(1500);
    if let Err(e) = sock.set_df() {
        return FullSize {
            size,
            reply: Err(format!("Don't Fragment cannot be set: {e}")),
        };
    }
    let wait = mtu::first_wait(ctx.cfg.timeout);
    let mut path = UdpDf(sock);
    let mut reply = Ok(DfReply::Silent);
    for _ in 0..2 {
        reply = path.probe(size, wait).await.map_err(|e| e.to_string());
        if reply != Ok(DfReply::Silent) {
            break;
        }
    }
    FullSize { size, reply }
}

/// The interface and its MTU toward `ip`, from the kernel's route.
async fn egress(ctx: &Ctx<'_, '_>, ip: IpAddr) -> Egress {
    let iface = ctx
        .net
        .routes
        .route_to(ip)
        .await
        .ok()
        .and_then(|r| r.interface);
    let iface_mtu = iface.as_deref().and_then(|i| ctx.net.routes.iface_mtu(i));
    Egress { iface, iface_mtu }
}

/// Path MTU toward a responder with DF probes.
pub(crate) struct UdpMtu;

#[async_trait]
impl StepKind for UdpMtu {
    fn name(&self) -> &'static str {
        "udp_mtu"
    }
    fn packets(&self, s: &Step, via: &str) -> Vec<String> {
        let (peer, port) = (s.addr_text(), s.port.unwrap_or_default());
        vec![
            format!("route lookup for {peer} (local: the interface MTU bounds the search)"),
            format!("one {MIN_IPV4_MTU}-byte UDP echo request with DF to {peer}:{port} (is the responder there?)"),
            self.summary(s, via),
        ]
    }
    fn summary(&self, s: &Step, _: &str) -> String {
        format!(
            "UDP probes with Don't Fragment, up to the interface MTU, to {}:{}",
            s.addr_text(),
            s.port.unwrap_or_default()
        )
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let port = s.port.unwrap_or_default();
        ctx.fan_out(s, |ip| async move { vec![mtu(ctx, s, ip, port).await] })
            .await
    }
}

async fn mtu(ctx: &Ctx<'_, '_>, p: &Step, peer: IpAddr, port: u16) -> CheckResult {
    let t = ctx.cfg.timeout;
    let sa = SocketAddr::new(peer, port);
    let s = Instant::now();
    // the VXLAN echo to the same responder (run before) got nothing back: nothing to search with
    let echo = ctx
        .earlier_rows(crate::ids::ReqId::UdpVxlan)
        .into_iter()
        .find(|r| r.address.as_deref() == Some(sa.to_string().as_str()));
    if let Some(e) = echo.filter(|e| e.status == crate::result::Status::Fail) {
        if e.details
            .read::<crate::probe::udp::EchoEvidence>()
            .and_then(|x| x.received)
            == Some(0)
        {
            let f = crate::result::Finding::skip_by(
                &crate::cause::Plain(crate::cause::Phase::Mtu, crate::cause::ErrorClass::NoEcho),
                format!(
                    "path MTU toward {sa} not measured: the VXLAN echo to it got no answer (see the {} row)",
                    crate::ids::ReqId::UdpVxlan
                ),
            )
            .caused_by(crate::evidence::CausedBy::new(
                crate::ids::ReqId::UdpVxlan,
                e.target.clone(),
                e.address.clone(),
            ));
            return ctx.result(p, Some(sa.to_string()), f, s.elapsed());
        }
    }
    // a few of the echo's round trips for the first answer, where it measured one
    let first = ctx.paths.get(peer).map_or_else(
        || mtu::first_wait(t),
        |p| {
            (p.srtt * crate::constants::ICMP_RTT_FACTOR)
                .max(crate::constants::ICMP_FLOOR)
                .min(mtu::first_wait(t))
        },
    );
    let eg = egress(ctx, peer).await;
    let out = async {
        if !peer.is_ipv4() {
            return Err(MtuError::Ipv6);
        }
        let mut sock = ctx
            .net
            .udp
            .open(sa)
            .await
            .map_err(|e| MtuError::Io(e.to_string()))?;
        sock.set_df().map_err(MtuError::DfUnavailable)?;
        let top = eg.iface_mtu.or_else(|| sock.route_mtu()).unwrap_or(1500);
        mtu::search(&mut UdpDf(sock.as_mut()), top, first, t).await
    };
    let out = bounded(t + STEP_GRACE, out, || {
        Err(MtuError::Io(format!(
            "did not finish within {} ms",
            t.as_millis()
        )))
    })
    .await;
    ctx.result(
        p,
        Some(sa.to_string()),
        mtu::evaluate(
            &sa.to_string(),
            "UDP DF probes to the responder",
            &eg,
            &out,
            line_mss(ctx),
        ),
        s.elapsed(),
    )
}

/// The TCP rows over the line whose MSS tells whether a firewall clamps it (the path-MTU steps run
/// after them).
pub(crate) const LINE_TCP: &[crate::ids::ReqId] = &[
    crate::ids::ReqId::TcpApiserver,
    crate::ids::ReqId::TcpRegistry,
    crate::ids::ReqId::TcpOss,
    crate::ids::ReqId::TcpControlPlane,
];

/// The largest MSS the node's TCP connections over the line settled on (the `tcp.*` rows the
/// path-MTU steps run after); None when none connected or none could read it.
fn line_mss(ctx: &Ctx<'_, '_>) -> Option<u32> {
    LINE_TCP
        .iter()
        .flat_map(|id| ctx.earlier_rows(*id))
        .filter(|r| r.status == crate::result::Status::Pass)
        .filter_map(|r| r.details.read::<TcpEvidence>()?.mss)
        .max()
}

/// How long the ICMP search waits for its first answer: a few TCP round trips to the same
/// address when a `tcp.*` row over the line connected to it (the search runs after it), else the echo budget.
fn first_echo_wait(ctx: &Ctx<'_, '_>, ip: IpAddr, t: Duration) -> Duration {
    use crate::constants::{ICMP_FLOOR, ICMP_RTT_FACTOR};
    let budget = super::ip::icmp_budget(t);
    let to_ip: Vec<CheckResult> = LINE_TCP
        .iter()
        .flat_map(|id| ctx.earlier_rows(*id))
        .filter(|r| r.address.as_deref().and_then(crate::rootcause::address_ip) == Some(ip))
        .collect();
    let rtt = to_ip
        .iter()
        .filter(|r| r.status == crate::result::Status::Pass)
        .find_map(|r| Some(r.details.read::<TcpEvidence>()?.rtt_ms))
        .map(Duration::from_millis)
        // else a round trip the run measured toward it (the storage host's connect)
        .or_else(|| ctx.paths.get(ip).map(|p| p.srtt));
    // every TCP connect to it got no answer: the search asks for 100 ms (a line's round trip)
    // rather than the whole echo budget, so a blackholed line costs no extra wait; a slower
    // answer is "not measured", never a wrong verdict
    let silent = !to_ip.is_empty()
        && to_ip
            .iter()
            .all(|r| r.status == crate::result::Status::Fail);
    match rtt {
        // a line slower than the budget: two of its round trips, or every echo would be "filtered"
        Some(r) => (r * ICMP_RTT_FACTOR).max(ICMP_FLOOR).min(budget.max(r * 2)),
        None if silent => (ICMP_FLOOR * 5).min(budget),
        None => budget,
    }
}

/// Path MTU with ICMP echo and DF (the API server, where ICMP is allowed).
pub(crate) struct IcmpMtu;

#[async_trait]
impl StepKind for IcmpMtu {
    fn name(&self) -> &'static str {
        "icmp_mtu"
    }
    fn packets(&self, s: &Step, via: &str) -> Vec<String> {
        vec![
            "route lookup (local: the interface MTU bounds the search)".into(),
            self.summary(s, via),
        ]
    }
    fn summary(&self, s: &Step, _: &str) -> String {
        format!(
            "ICMP echo with Don't Fragment, up to the interface MTU, to {}",
            s.addr_text()
        )
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        icmp_mtu(ctx, s).await
    }
}

async fn icmp_mtu(ctx: &Ctx<'_, '_>, p: &Step) -> Vec<CheckResult> {
    ctx.fan_out(p, |ip| async move {
        let (f, took) = icmp_mtu_at(ctx, ip).await;
        vec![ctx.result(p, Some(ip.to_string()), f, took)]
    })
    .await
}

/// The ICMP path-MTU search toward one address: the finding and how long it took.
async fn icmp_mtu_at(ctx: &Ctx<'_, '_>, ip: IpAddr) -> (crate::result::Finding, Duration) {
    let t = ctx.cfg.timeout;
    let s = Instant::now();
    let eg = egress(ctx, ip).await;
    // the echo beside a TCP connect that got through already asked: no reply there (after four
    // of the connect's round trips) is the same answer the search's first probe would wait for
    let asked = LINE_TCP
        .iter()
        .flat_map(|id| ctx.earlier_rows(*id))
        .filter(|r| r.address.as_deref().and_then(crate::rootcause::address_ip) == Some(ip))
        .filter(|r| r.status == crate::result::Status::Pass)
        .collect::<Vec<_>>();
    let unanswered = !asked.is_empty()
        && asked
            .iter()
            .all(|r| crate::probe::icmp::unanswered(&r.details));
    let out = async {
        if unanswered {
            return Err(MtuError::NoAnswer(
                "the echo beside the TCP connect got no reply".into(),
            ));
        }
        let pinger = ctx
            .net
            .icmp
            .ok_or_else(|| MtuError::NotPermitted("ICMP probes are disabled".into()))?;
        let mut path = pinger.df_path(ip)?;
        // ICMP toward cloud VIPs is often filtered: "does it answer at all" gets the same short
        // budget as the evidence echo on tcp rows, so a filtered path does not hold the run
        mtu::search(
            path.as_mut(),
            eg.iface_mtu.unwrap_or(1500),
            first_echo_wait(ctx, ip, t),
            t,
        )
        .await
    };
    let out = bounded(t + STEP_GRACE, out, || {
        Err(MtuError::Io(format!(
            "did not finish within {} ms",
            t.as_millis()
        )))
    })
    .await;
    let out = out.map_err(|e| match e {
        MtuError::NoAnswer(why) if unanswered => MtuError::NoAnswer(format!(
            "no ICMP echo reply from {ip} ({why}): ICMP filtered?"
        )),
        MtuError::NoAnswer(_) => {
            MtuError::NoAnswer(format!("no ICMP echo reply from {ip}: ICMP filtered?"))
        }
        e @ (MtuError::DfUnavailable(_)
        | MtuError::NotPermitted(_)
        | MtuError::Ipv6
        | MtuError::Io(_)) => e,
    });
    let f = mtu::evaluate(
        &ip.to_string(),
        "ICMP echo with DF",
        &eg,
        &out,
        line_mss(ctx),
    );
    (f, s.elapsed())
}

/// Path MTU with ICMP echo and DF toward the storage host `pull.blob` was redirected to.
pub(crate) struct StorageMtu;

#[async_trait]
impl StepKind for StorageMtu {
    fn name(&self) -> &'static str {
        "storage_mtu"
    }
    fn packets(&self, _: &Step, _: &str) -> Vec<String> {
        vec![
            "DNS query for the storage host the blob request was redirected to (known after the pull is followed)".into(),
            "TCP connect to its port 443 (a round trip for the search's first wait, where ICMP is filtered)".into(),
            "ICMP echo with Don't Fragment, up to the interface MTU, to its first address".into(),
        ]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        use crate::probe::pull::PullEvidence;
        let start = Instant::now();
        let blob = ctx.earlier_rows(crate::ids::ReqId::PullBlob);
        let host = blob
            .iter()
            .find_map(|r| r.details.read::<PullEvidence>()?.storage_host);
        let Some(host) = host else {
            let why = if blob.is_empty() {
                format!(
                    "the pull was not followed ({} did not run)",
                    crate::ids::ReqId::PullBlob
                )
            } else {
                "no blob request was redirected to a storage host (the registry serves blobs itself, or the pull stopped before the blob)".to_string()
            };
            let f = crate::result::Finding::skip(format!(
                "path MTU toward the storage host not measured: {why}"
            ));
            return vec![ctx.result(s, None, f, start.elapsed())];
        };
        let ip = match host.parse::<IpAddr>() {
            Ok(ip) => Ok(ip),
            Err(_) => match ctx.resolve_now(&host).await {
                Ok(a) if !a.is_empty() => Ok(IpAddr::V4(a[0])),
                Ok(_) => Err("it does not resolve (no A record)".to_string()),
                Err(e) => Err(format!("it does not resolve ({e})")),
            },
        };
        // a host `parse_url` accepted: letters, digits, dots and dashes only
        let shown = host;
        // never toward where the pull is not followed (loopback, link-local, this node's own)
        let ip = match ip {
            Ok(ip) => match ctx.not_followed(ip).await {
                Some(why) => Err(format!("not followed: {why}")),
                None => Ok(ip),
            },
            Err(e) => Err(e),
        };
        match ip {
            Ok(ip) => {
                // a round trip toward it, so a filtered echo costs a few of them, not the budget
                let t = ctx.cfg.timeout;
                let sent = Instant::now();
                let sa = SocketAddr::new(ip, 443);
                if let Ok(Ok(_)) = tokio::time::timeout(t, ctx.net.connector.connect(sa, t)).await {
                    ctx.paths.record(ip, sent.elapsed());
                }
                let (f, took) = icmp_mtu_at(ctx, ip).await;
                vec![ctx.row(s.id, &shown, Some(ip.to_string()), f, took)]
            }
            Err(why) => {
                let f = crate::result::Finding::skip(format!(
                    "path MTU toward the storage host {shown} not measured: {why}"
                ));
                vec![ctx.row(s.id, &shown, None, f, start.elapsed())]
            }
        }
    }
}
