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
            let f = discovery::evaluate(
                &answer,
                &self.apiserver,
                self.token.as_ref(),
                self.pin.as_deref(),
                &self.given,
            );
            // the CA it publishes verifies tls.apiserver (as the kubelet trusts it after the join)
            let adopted = answer
                .as_ref()
                .ok()
                .and_then(discovery::answer_ca)
                .is_some_and(|der| ctx.net.tls.adopt_cluster_ca(der));
            ctx.discovered.send_replace(Some(adopted));
            vec![ctx.result(s, Some(sa.to_string()), f, start.elapsed())]
        })
        .await
    }
}
