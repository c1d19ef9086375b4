//! TLS (and HTTP identity) runner: one handshake per address feeds the `tls.*` row and the `http.*` row.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::{bounded, ms, Ctx};
use crate::plan::{Addr, Probe};
use crate::probe::tls::{self, HttpExpect, TlsFailure, TlsOutcome, Trust};
use crate::result::{CheckResult, Finding};

pub struct TlsPlan<'p> {
    pub addr: &'p Addr,
    pub port: u16,
    pub name: Option<&'p str>,
    pub trust: Trust,
    pub http: Option<&'p (String, HttpExpect)>,
    pub emit_tls: bool,
}

/// A SKIP caused by the TCP connect names the `tcp.*` row of the same address.
fn link_tcp(
    f: Finding,
    p: &Probe,
    sa: SocketAddr,
    session: &Result<tls::TlsSession, TlsFailure>,
) -> Finding {
    match session {
        Err(TlsFailure::Connect(_)) => {
            let tcp_id = format!("tcp.{}", p.id.split_once('.').map(|x| x.1).unwrap_or(""));
            f.with(
                "caused_by",
                serde_json::json!({"id": tcp_id, "target": p.target, "address": sa.to_string()}),
            )
        }
        _ => f,
    }
}

pub async fn run(ctx: &Ctx<'_, '_>, p: &Probe, plan: TlsPlan<'_>) -> Vec<CheckResult> {
    let t = ctx.cfg.timeout;
    let plan = &plan;
    ctx.fan_out(p, plan.addr, |ip| async move {
        let sa = SocketAddr::new(ip, plan.port);
        let s = Instant::now();
        let expect = plan.http.map(|(_, e)| *e);
        let out = bounded(
            t + Duration::from_millis(200),
            ctx.net.tls.probe(sa, plan.name, plan.trust, expect, t),
            || TlsOutcome {
                session: Err(TlsFailure::Timeout(ms(t))),
                http: None,
            },
        )
        .await;
        let took = s.elapsed();
        let shown = plan
            .name
            .map(str::to_string)
            .unwrap_or_else(|| ip.to_string());
        let mut rows = vec![];
        if plan.emit_tls {
            let f = link_tcp(
                tls::evaluate_tls(&shown, plan.trust, &out.session),
                p,
                sa,
                &out.session,
            );
            rows.push(ctx.result(p, Some(sa.to_string()), f, took));
        }
        if let Some((hid, e)) = plan.http {
            let mut f = tls::evaluate_http(*e, &out.session, &out.http);
            f = link_tcp(f, p, sa, &out.session);
            if plan.emit_tls && out.session.is_err() && !f.details.contains_key("caused_by") {
                f = f.with(
                    "caused_by",
                    serde_json::json!({"id": p.id, "target": p.target, "address": sa.to_string()}),
                );
            }
            rows.push(ctx.row(hid, &p.target, Some(sa.to_string()), f, took));
        }
        rows
    })
    .await
}
