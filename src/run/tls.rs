//! The TLS (and HTTP identity) step: one handshake per address feeds the `tls.*` row and the
//! `http.*` row.

use std::net::SocketAddr;

use async_trait::async_trait;
use tokio::time::Instant;

use super::step::{Needs, Step, StepKind};
use super::{bounded, ms, with_second_attempt, Ctx};
use crate::cause::Phase;
use crate::constants::STEP_GRACE;
use crate::ids::ReqId;
use crate::probe::loss;
use crate::probe::tcp::TcpFailure;
use crate::probe::tls::{self, HttpExpect, TlsFailure, TlsOutcome, Trust};
use crate::result::{CheckResult, Finding};
use std::time::Duration;

/// A TLS handshake (SNI `name`), then one HTTP request when `http` is set.
pub(crate) struct TlsHandshake {
    pub name: Option<String>,
    pub trust: Trust,
    /// The `http.*` row and what must answer.
    pub http: Option<(ReqId, HttpExpect)>,
    /// The `tcp.*` row of the same endpoint, which a failed connect links to.
    pub tcp: ReqId,
    /// `http.cluster-info` runs beside it: a handshake that passed unverified is verified again
    /// against the cluster CA that discovery publishes, once it has.
    pub discovery: bool,
}

impl TlsHandshake {
    /// A handshake that passed without a CA to verify it against, again against the cluster CA
    /// `http.cluster-info` published (waiting for it, within the run's deadline); None when there
    /// is none, or nothing to verify.
    async fn verify_discovered(
        &self,
        ctx: &Ctx<'_, '_>,
        sa: SocketAddr,
        out: &TlsOutcome,
    ) -> Option<TlsOutcome> {
        if !self.discovery || self.trust != Trust::EvidenceOnly || out.session.is_err() {
            return None;
        }
        let mut rx = ctx.discovered.subscribe();
        // discovery is one HTTPS request: it has finished within a timeout of this handshake's
        let until = ctx.end.min(Instant::now() + ctx.cfg.timeout);
        let adopted = tokio::time::timeout_at(until, rx.wait_for(Option::is_some))
            .await
            .ok()?
            .ok()?
            .unwrap_or(false);
        if !adopted {
            return None;
        }
        let left = ctx
            .end
            .saturating_duration_since(Instant::now())
            .min(ctx.cfg.timeout);
        let probe = ctx
            .net
            .tls
            .probe(sa, self.name.as_deref(), Trust::Discovered, None, left);
        let again = bounded(left, probe, || TlsOutcome {
            session: Err(TlsFailure::Timeout(ms(left))),
            http: None,
        })
        .await;
        // a second handshake lost on the way says nothing of the certificate: keep the first
        again.session.is_ok().then_some(again)
    }

    /// A SKIP caused by the TCP connect names the `tcp.*` row of the same address.
    fn link_tcp(
        &self,
        f: Finding,
        s: &Step,
        sa: SocketAddr,
        session: &Result<tls::TlsSession, TlsFailure>,
    ) -> Finding {
        match session {
            Err(TlsFailure::Connect(_)) => f.caused_by(crate::evidence::CausedBy::new(
                self.tcp,
                s.target.clone(),
                Some(sa.to_string()),
            )),
            Err(TlsFailure::Handshake(_) | TlsFailure::Timeout(_)) | Ok(_) => f,
        }
    }
}

#[async_trait]
impl StepKind for TlsHandshake {
    fn name(&self) -> &'static str {
        "tls"
    }
    fn handshake(&self) -> Option<(Option<&str>, Trust)> {
        Some((self.name.as_deref(), self.trust))
    }
    fn needs(&self) -> Needs {
        Needs {
            tls_roots: true,
            ..Needs::NOTHING
        }
    }
    fn packets(&self, s: &Step, _: &str) -> Vec<String> {
        let sni = self
            .name
            .as_ref()
            .map(|n| format!(" (SNI {n})"))
            .unwrap_or_default();
        let to = format!("{}:{}", s.addr_text(), s.port.unwrap_or_default());
        let mut v = vec![match &self.http {
            Some((hid, e)) if s.reports(*hid) => {
                format!("TLS handshake with {to}{sni}, then HTTP GET {}", e.path())
            }
            _ => format!("TLS handshake with {to}{sni}"),
        }];
        if self.discovery && self.trust == Trust::EvidenceOnly {
            v.push(format!(
                "a second TLS handshake with {to}, verified against the cluster CA that {} publishes (when it publishes one)",
                ReqId::HttpClusterInfo
            ));
        }
        v
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        let t = ctx.cfg.timeout;
        let port = s.port.unwrap_or(443);
        let emit_tls = s.reports(s.id);
        let http = self.http.filter(|(id, _)| s.reports(*id));
        ctx.fan_out(s, |ip| async move {
            let sa = SocketAddr::new(ip, port);
            let start = Instant::now();
            let timeout = || TlsOutcome {
                session: Err(TlsFailure::Timeout(ms(t))),
                http: None,
            };
            // a handshake still unfinished by the path's timer (`rto`) gets a second connection beside it
            // (a lossy line: a lost SYN or flight costs a retransmission timeout, not the join)
            let attempt = |wait: Duration| {
                let probe = ctx.net.tls.probe(
                    sa,
                    self.name.as_deref(),
                    self.trust,
                    http.map(|(_, e)| e),
                    wait,
                );
                bounded(wait + STEP_GRACE, probe, move || TlsOutcome {
                    session: Err(TlsFailure::Timeout(ms(wait))),
                    http: None,
                })
            };
            let transient = |o: &TlsOutcome| {
                matches!(
                    &o.session,
                    Err(TlsFailure::Timeout(_) | TlsFailure::Connect(TcpFailure::TimedOut(_)))
                )
            };
            // TCP, a TLS 1.2 handshake (two round trips), and the GET when there is one
            let round_trips = if http.is_some() { 4 } else { 3 };
            let retry = ctx.paths.retry_timer(ip, round_trips, t, Instant::now());
            let (mut out, tries) = with_second_attempt(t, retry, attempt, transient).await;
            if let Err(TlsFailure::Timeout(_)) = &out.session {
                out = timeout();
            }
            let mut trust = self.trust;
            if let Some(verified) = self.verify_discovered(ctx, sa, &out).await {
                out = verified;
                trust = Trust::Discovered;
            }
            let took = start.elapsed();
            let shown = self.name.clone().unwrap_or_else(|| ip.to_string());
            let mut rows = vec![];
            if emit_tls {
                let f = self.link_tcp(
                    tls::evaluate_tls(
                        &shown,
                        trust,
                        &out.session,
                        crate::clock::epoch_s(ctx.net.host.now()),
                    ),
                    s,
                    sa,
                    &out.session,
                );
                let f = loss::account_tries(
                    f,
                    Phase::Tls,
                    &format!("TLS connections to {sa}"),
                    tries,
                    out.session.is_ok(),
                );
                rows.push(ctx.result(s, Some(sa.to_string()), f, took));
            }
            if let Some((hid, e)) = http {
                let mut f = self.link_tcp(
                    tls::evaluate_http(e, &out.session, &out.http),
                    s,
                    sa,
                    &out.session,
                );
                if emit_tls && out.session.is_err() && f.details.caused_by.is_none() {
                    f = f.caused_by(crate::evidence::CausedBy::new(
                        s.id,
                        s.target.clone(),
                        Some(sa.to_string()),
                    ));
                }
                rows.push(ctx.row(hid, &s.target, Some(sa.to_string()), f, took));
            }
            rows
        })
        .await
    }
}
