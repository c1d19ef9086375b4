//! `http.cluster-info`: the discovery request edgeadm makes, anonymously over the line, judged by
//! `probe::discovery`.

use std::net::SocketAddr;

use async_trait::async_trait;
use tokio::time::Instant;

use super::step::{Step, StepKind};
use super::Ctx;
use crate::probe::discovery::{self, BootstrapToken, CLUSTER_INFO_PATH};
use crate::probe::pull::{HttpRequest, MAX_BODY};
use crate::probe::tls::Trust;
use crate::result::CheckResult;

pub(crate) struct Discover {
    /// The host the node joins (`--apiserver`), to compare with the kubeconfig's `server`.
    pub(crate) apiserver: String,
    pub(crate) token: Option<BootstrapToken>,
    pub(crate) pin: Option<String>,
    /// The pins of the `--cluster-ca` certificates: the CA cluster-info publishes must be one.
    pub(crate) given: Vec<String>,
}

#[async_trait]
impl StepKind for Discover {
    fn name(&self) -> &'static str {
        "discovery"
    }
    fn packets(&self, s: &Step, _: &str) -> Vec<String> {
        vec![format!(
            "HTTPS GET {CLUSTER_INFO_PATH} to {}:{} without credentials (as edgeadm's discovery; the certificate is judged by the CA the answer carries)",
            s.addr_text(),
            s.port.unwrap_or_default()
        )]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let port = s.port.unwrap_or_default();
        ctx.fan_out(s, |ip| async move {
            let sa = SocketAddr::new(ip, port);
            let start = Instant::now();
            let req = HttpRequest {
                method: "GET",
                path: CLUSTER_INFO_PATH.into(),
                headers: vec![("accept".into(), "application/json".into())],
                read: MAX_BODY,
            };
            let answer = ctx
                .net
                .tls
                .request(
                    sa,
                    &self.apiserver,
                    Trust::EvidenceOnly,
                    req,
                    ctx.cfg.timeout,
                )
                .await;
            // the CA it publishes verifies tls.apiserver (as the kubelet trusts it after the join)
            let adopted = answer
                .as_ref()
                .ok()
                .and_then(discovery::answer_ca)
                .is_some_and(|der| ctx.net.tls.adopt_cluster_ca(der));
            ctx.discovered.send_replace(Some(adopted));
            // the kubeconfig's server, when it is another host: reached as the kubelet will
            let other = answer
                .as_ref()
                .ok()
                .and_then(discovery::answer_server)
                .and_then(|u| discovery::server_host_port(&u))
                .filter(|(h, _)| *h != self.apiserver.to_ascii_lowercase());
            let reach = match other {
                Some((host, port)) if adopted => Some(reach(ctx, &host, port).await),
                Some(_) | None => None,
            };
            let f = discovery::evaluate(
                &answer,
                &self.apiserver,
                self.token.as_ref(),
                self.pin.as_deref(),
                &self.given,
                reach.as_ref(),
            );
            vec![ctx.result(s, Some(sa.to_string()), f, start.elapsed())]
        })
        .await
    }
}

/// The kubeconfig's `server` (`host`:`port`), reached as the kubelet will after bootstrap: DNS
/// through the node's resolver, the route, a TLS handshake (its TCP connect first) verified against
/// the cluster CA discovery published; where a connect breaks, the sweep says.
async fn reach(ctx: &Ctx<'_, '_>, host: &str, port: u16) -> discovery::ServerReach {
    use crate::probe::tcp::TcpFailure;
    use crate::probe::tls::TlsFailure;
    use discovery::ServerReach::{Reached, Unreached};
    // within the run's deadline: the sweep after a failed connect needs its share too
    let left = ctx.end.saturating_duration_since(Instant::now());
    let t = ctx.cfg.timeout.min(left / 2);
    let ip: std::net::IpAddr = match host.parse() {
        Ok(ip) => ip,
        Err(_) => match ctx.resolve_now(host).await {
            Ok(a) if !a.is_empty() => std::net::IpAddr::V4(a[0]),
            Ok(_) => return Unreached(format!("{host} has no A record")),
            Err(e) => return Unreached(format!("{host} does not resolve: {e}")),
        },
    };
    if let Err(e) = ctx.net.routes.route_to(ip).await {
        return Unreached(format!("no route to {ip}: {e}"));
    }
    let sa = SocketAddr::new(ip, port);
    let name = host.parse::<std::net::IpAddr>().is_err().then_some(host);
    let probe = ctx.net.tls.probe(sa, name, Trust::Discovered, None, t);
    let out = super::bounded(t + crate::constants::STEP_GRACE, probe, || {
        crate::probe::tls::TlsOutcome {
            session: Err(TlsFailure::Timeout(super::ms(t))),
            http: None,
        }
    })
    .await;
    match out.session {
        Ok(s) => Reached {
            at: sa.to_string(),
            trust: s.trust_failure.map(|f| f.to_string()),
        },
        Err(e) => {
            let rejected = match &e {
                TlsFailure::Connect(TcpFailure::RejectedBy { from, what }) => {
                    Some((*from, what.clone()))
                }
                TlsFailure::Connect(_) | TlsFailure::Handshake(_) | TlsFailure::Timeout(_) => None,
            };
            let located = match &e {
                TlsFailure::Connect(
                    TcpFailure::TimedOut(_)
                    | TcpFailure::Unreachable(_)
                    | TcpFailure::RejectedBy { .. },
                ) => ctx.locate_after(sa, super::Flow::Tcp, rejected).await,
                TlsFailure::Connect(_) | TlsFailure::Handshake(_) | TlsFailure::Timeout(_) => None,
            };
            let at = located.map_or_else(String::new, |l| format!("; {}", l.words));
            Unreached(format!("{sa}: {e}{at}"))
        }
    }
}
