//! `tcp.raven` and `udp.raven`: with Raven carrying cloud-edge traffic, the node reaches each
//! Raven gateway on the proxy-mode TCP ports and the tunnel-mode UDP port. Without
//! `--raven-gateway` Raven is not in use: the rows are SKIP "Raven not in use" and count as
//! untested only when they were asked for by id.

use async_trait::async_trait;

use crate::catalogue::Catalogue;
use crate::checks::{skipped, Addr, Check, Step, StepKind};
use crate::constants::{RAVEN_PROXY_PORTS, RAVEN_TUNNEL_PORT};
use crate::ids::ReqId;
use crate::options::Options;
use crate::result::{CheckResult, Finding};
use crate::run::ip::TcpConnect;
use crate::run::udp::UdpEcho;
use crate::run::Ctx;

const NOT_IN_USE: &str = "Raven not in use: no --raven-gateway given";

/// A requirement that does not apply with these options: SKIP with the reason, never untested.
pub(crate) struct NotInUse(pub &'static str);

#[async_trait]
impl StepKind for NotInUse {
    fn name(&self) -> &'static str {
        "not_applicable"
    }
    fn packets(&self, _: &Step, _: &str) -> Vec<String> {
        vec![format!("nothing: {}", self.0)]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let mut f = Finding::skip(self.0);
        f.details.applicable = Some(false);
        s.rows
            .iter()
            .map(|id| ctx.row(*id, &s.target, None, f.clone(), std::time::Duration::ZERO))
            .collect()
    }
}

/// Without gateways: "not in use", or untested with what it needs when the id was asked for.
fn without_gateways(o: &Options, id: ReqId) -> Vec<Step> {
    if o.only.iter().any(|s| s == id.as_str()) {
        skipped(
            &[id],
            "(no --raven-gateway)",
            NOT_IN_USE,
            "needs --raven-gateway",
        )
    } else {
        vec![Step::new(id, "(Raven not in use)", NotInUse(NOT_IN_USE))]
    }
}

/// `tcp.raven`: a TCP connect to each proxy-mode port of each gateway.
pub(crate) struct Proxy;
impl Check for Proxy {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TcpRaven]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        if o.raven_gateways.is_empty() {
            return without_gateways(o, ReqId::TcpRaven);
        }
        o.raven_gateways
            .iter()
            .flat_map(|gw| {
                RAVEN_PROXY_PORTS.map(move |port| {
                    Step::new(ReqId::TcpRaven, format!("Raven gateway {gw}"), TcpConnect)
                        .to(Addr::Fixed(*gw))
                        .port(port)
                })
            })
            .collect()
    }
}

/// `udp.raven`: echo requests to UDP 4500 of each gateway (its `responder --ports 4500/udp`).
pub(crate) struct Tunnel;
impl Check for Tunnel {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::UdpRaven]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        if o.raven_gateways.is_empty() {
            return without_gateways(o, ReqId::UdpRaven);
        }
        o.raven_gateways
            .iter()
            .map(|gw| {
                Step::new(ReqId::UdpRaven, format!("Raven gateway {gw}"), UdpEcho)
                    .to(Addr::Fixed(*gw))
                    .port(RAVEN_TUNNEL_PORT)
            })
            .collect()
    }
}
