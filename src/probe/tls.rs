//! TLS and HTTP identity: is the right service answering, with a certificate we trust?
//! Phases: tls, http. Pure judgement; the handshake itself is in `sys::tls`.

use crate::cause::{Cause, ErrorClass, Phase, Plain};
use crate::result::Finding;

/// Which roots the certificate must chain to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    /// System roots plus `--ca-file`.
    System,
    /// The cluster CA given with `--cluster-ca`.
    ClusterCa,
    /// The cluster CA the cluster-info ConfigMap carried in this run (`http.cluster-info`), as the
    /// kubelet trusts it after a token join.
    Discovered,
    /// Nothing to verify against: report issuer and validity as evidence, do not fail on trust.
    EvidenceOnly,
}

/// What the HTTP answer must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpExpect {
    /// `GET /v2/` → 401 or 200 with `Docker-Distribution-Api-Version`.
    Registry,
    /// Any answer carrying `x-oss-request-id`.
    Oss,
}

impl HttpExpect {
    pub fn path(self) -> &'static str {
        match self {
            HttpExpect::Registry => "/v2/",
            HttpExpect::Oss => "/",
        }
    }
}

/// The certificate the server presented, as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// The validity window in seconds since the epoch, when the certificate could be parsed.
    pub window_s: Option<(i64, i64)>,
    pub names: Vec<String>,
}

/// Where the local clock stands against a certificate's validity window.
pub(crate) fn window_excludes(c: &CertInfo, now_s: i64) -> Option<TrustFailure> {
    let (nb, na) = c.window_s?;
    if now_s < nb {
        Some(TrustFailure::NotYetValid)
    } else if now_s > na {
        Some(TrustFailure::Expired)
    } else {
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustFailure {
    #[error(
        "certificate issued by an unknown CA (TLS interception, or a CA missing from --ca-file)"
    )]
    UnknownIssuer,
    #[error("certificate is not valid for {0}")]
    WrongName(String),
    #[error("certificate has expired")]
    Expired,
    #[error("certificate is not yet valid")]
    NotYetValid,
    #[error("certificate rejected: {0}")]
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSession {
    pub version: String,
    pub cert: Option<CertInfo>,
    /// None: verified; Some: why not.
    pub trust_failure: Option<TrustFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsFailure {
    #[error("TCP connect failed: {0}")]
    Connect(crate::probe::tcp::TcpFailure),
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    #[error("TLS handshake did not finish within {0} ms (server silent or too slow)")]
    Timeout(u64),
}

impl Cause for TlsFailure {
    fn phase(&self) -> Phase {
        match self {
            TlsFailure::Connect(e) => e.phase(),
            TlsFailure::Handshake(_) | TlsFailure::Timeout(_) => Phase::Tls,
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            TlsFailure::Connect(e) => e.class(),
            TlsFailure::Handshake(_) => ErrorClass::Handshake,
            TlsFailure::Timeout(_) => ErrorClass::Timeout,
        }
    }
}

impl Cause for TrustFailure {
    fn phase(&self) -> Phase {
        Phase::Tls
    }
    fn class(&self) -> ErrorClass {
        match self {
            TrustFailure::UnknownIssuer => ErrorClass::UnknownIssuer,
            TrustFailure::WrongName(_) => ErrorClass::WrongName,
            TrustFailure::Expired => ErrorClass::Expired,
            TrustFailure::NotYetValid => ErrorClass::NotYetValid,
            TrustFailure::Other(_) => ErrorClass::Untrusted,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    /// Lower-case names, at most a few dozen.
    pub headers: Vec<(String, String)>,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpFailure {
    #[error("no HTTP answer within {0} ms (slow or silent server)")]
    Timeout(u64),
    #[error("malformed or oversized HTTP answer: {0}")]
    Malformed(String),
    #[error("HTTP request failed: {0}")]
    Other(String),
}

impl Cause for HttpFailure {
    fn phase(&self) -> Phase {
        Phase::Http
    }
    fn class(&self) -> ErrorClass {
        match self {
            HttpFailure::Timeout(_) => ErrorClass::Timeout,
            HttpFailure::Malformed(_) => ErrorClass::Malformed,
            HttpFailure::Other(_) => ErrorClass::Error,
        }
    }
}

const WRONG_SERVICE: Plain = Plain(Phase::Http, ErrorClass::WrongService);

/// The whole outcome of one TLS (+ HTTP) probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOutcome {
    pub session: Result<TlsSession, TlsFailure>,
    /// Only when an HTTP check was asked for and the handshake succeeded.
    pub http: Option<Result<HttpAnswer, HttpFailure>>,
}

fn cert_text(c: &CertInfo) -> String {
    format!(
        "subject {}, issuer {}, valid {} to {}",
        c.subject, c.issuer, c.not_before, c.not_after
    )
}

fn with_cert(mut f: Finding, c: &Option<CertInfo>) -> Finding {
    if let Some(c) = c {
        f = f.evidence(&TlsEvidence {
            subject: Some(c.subject.clone()),
            issuer: Some(c.issuer.clone()),
            not_before: Some(c.not_before.clone()),
            not_after: Some(c.not_after.clone()),
            names: Some(c.names.clone()),
            not_before_s: c.window_s.map(|w| w.0),
            not_after_s: c.window_s.map(|w| w.1),
            ..TlsEvidence::default()
        });
    }
    f
}

/// Judge a handshake. `now_s` is the local clock (seconds since the epoch): a certificate whose
/// validity window excludes it is at least WARN even when it is not verified, because the kubelet
/// verifies it against this clock.
pub(crate) fn evaluate_tls(
    name: &str,
    trust: Trust,
    outcome: &Result<TlsSession, TlsFailure>,
    now_s: i64,
) -> Finding {
    match outcome {
        Err(c @ TlsFailure::Connect(e)) => Finding::skip_by(
            c,
            format!("not probed: TCP connect failed ({e}); see the tcp row"),
        ),
        Err(e) => Finding::fail_by(e, e.to_string()),
        Ok(s) => {
            let cert = s
                .cert
                .as_ref()
                .map_or_else(|| "no certificate".into(), cert_text);
            let f = match (&s.trust_failure, trust) {
                (None, Trust::ClusterCa) => Finding::pass(format!("{}; certificate for {name} verified against the cluster CA ({cert})", s.version)),
                (None, Trust::Discovered) => Finding::pass(format!("{}; certificate for {name} verified against the cluster CA that cluster-info publishes ({cert})", s.version)),
                (None, _) => Finding::pass(format!("{}; certificate for {name} verified ({cert})", s.version)),
                (_, Trust::EvidenceOnly) => match s.cert.as_ref().and_then(|c| window_excludes(c, now_s)) {
                    // the kubelet, containerd and curl reject it by this clock whatever its chain
                    Some(t) => Finding::fail_by(&t, format!(
                        "{}; handshake OK, certificate not verified (pass --cluster-ca to verify it), but {t} by the local clock ({}): the kubelet, containerd and curl reject it whatever its chain; the clock or the certificate is wrong (see {}): {cert}",
                        s.version,
                        crate::clock::rfc3339_s(now_s),
                        crate::ids::ReqId::NtpOffset,
                    ))
                    .fix(format!("Check the clock ({} row) and the certificate's validity dates: with a right clock, an expired certificate on the API server is renewed by the cluster, on a middlebox by its operator.", crate::ids::ReqId::NtpOffset)),
                    None => Finding::pass(format!(
                        "{}; handshake OK, certificate not verified (pass --cluster-ca to verify it): {cert}",
                        s.version
                    )),
                },
                (Some(t), Trust::ClusterCa) => Finding::fail_by(t, format!("{}: {t}: {cert}", s.version)).fix(match t {
                    TrustFailure::UnknownIssuer => "The certificate does not chain to the --cluster-ca you gave: check that it is this cluster's CA (certificate-authority-data in the cluster's kubeconfig, or /etc/kubernetes/pki/ca.crt); with the right CA, an unknown issuer means TLS interception on the way or another cluster's endpoint.".to_string(),
                    TrustFailure::WrongName(n) => format!("The API server's certificate is not valid for {n}: use the endpoint exactly as the cluster's Basic Information tab shows it (the certificate's SANs name it)."),
                    TrustFailure::Expired | TrustFailure::NotYetValid | TrustFailure::Other(_) => format!("Check the clock ({} row) and the certificate's validity dates; an expired certificate on the API server is renewed by the cluster, on a middlebox by its operator.", crate::ids::ReqId::NtpOffset),
                }),
                (Some(t), Trust::Discovered) => Finding::fail_by(t, format!("{}: {t}, verified against the cluster CA that cluster-info publishes: {cert}", s.version)).fix(match t {
                    TrustFailure::UnknownIssuer => "The API server's certificate does not chain to the CA its own cluster-info publishes: something on the way presents another certificate (TLS interception), or this address is another cluster's endpoint; the kubelet would refuse it after the join.".to_string(),
                    TrustFailure::WrongName(n) => format!("The API server's certificate is not valid for {n}: use the endpoint exactly as the cluster's Basic Information tab shows it (the certificate's SANs name it)."),
                    TrustFailure::Expired | TrustFailure::NotYetValid | TrustFailure::Other(_) => format!("Check the clock ({} row) and the certificate's validity dates; an expired certificate on the API server is renewed by the cluster, on a middlebox by its operator.", crate::ids::ReqId::NtpOffset),
                }),
                (Some(t), Trust::System) => Finding::fail_by(t, format!("{}: {t}: {cert}", s.version)),
            };
            with_cert(f, &s.cert).evidence(&TlsEvidence {
                tls_version: Some(s.version.clone()),
                local_time_s: Some(now_s),
                ..TlsEvidence::default()
            })
        }
    }
}

pub(crate) fn evaluate_http(
    expect: HttpExpect,
    tls: &Result<TlsSession, TlsFailure>,
    http: &Option<Result<HttpAnswer, HttpFailure>>,
) -> Finding {
    let answer = match (tls, http) {
        (Err(e), _) => return Finding::skip_by(e, format!("not probed: {e}")),
        (Ok(_), None) => return Finding::skip("no HTTP request was made"),
        (Ok(_), Some(Err(e))) => return Finding::fail_by(e, e.to_string()),
        (Ok(_), Some(Ok(a))) => a,
    };
    let server = answer
        .header("server")
        .map(|s| format!(", Server: {s}"))
        .unwrap_or_default();
    let f = match expect {
        HttpExpect::Registry => {
            let api = answer.header("docker-distribution-api-version");
            match (answer.status, api) {
                (200 | 401, Some(v)) => Finding::pass(format!("GET /v2/ → {} with Docker-Distribution-Api-Version: {v}", answer.status)),
                (s, _) => Finding::fail_by(&WRONG_SERVICE, format!(
                    "another service answers on this address: GET /v2/ → {s}{server}, {} (expected 401 or 200 with Docker-Distribution-Api-Version)",
                    if api.is_some() { "with the registry header" } else { "no Docker-Distribution-Api-Version header" }
                )),
            }
        }
        HttpExpect::Oss => match answer.header("x-oss-request-id") {
            Some(id) => Finding::pass(format!("GET / → {} with x-oss-request-id: {id}", answer.status)),
            None => Finding::fail_by(
                &WRONG_SERVICE,
                format!("another service answers on this address: GET / → {}{server}, no x-oss-request-id header", answer.status),
            ),
        },
    };
    f.evidence(&HttpEvidence {
        status: Some(answer.status),
    })
}

evidence! {
    /// The evidence of a `tls.*` row: the certificate and the session.
    pub(crate) struct TlsEvidence {
        subject: String,
        issuer: String,
        not_before: String,
        not_after: String,
        /// The names the certificate is valid for.
        names: Vec<String>,
        /// Its validity window and the local clock, in seconds since the epoch.
        not_before_s: i64,
        not_after_s: i64,
        local_time_s: i64,
        tls_version: String,
    }
}

evidence! {
    /// The evidence of an `http.*` row.
    pub(crate) struct HttpEvidence {
        /// The HTTP status of the answer.
        status: u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    fn session(t: Option<TrustFailure>) -> Result<TlsSession, TlsFailure> {
        Ok(TlsSession {
            version: "TLSv1.3".into(),
            cert: Some(CertInfo {
                subject: "CN=lab".into(),
                issuer: "CN=Interception Proxy CA".into(),
                ..Default::default()
            }),
            trust_failure: t,
        })
    }
    fn answer(status: u16, h: &[(&str, &str)]) -> Option<Result<HttpAnswer, HttpFailure>> {
        Some(Ok(HttpAnswer {
            status,
            headers: h
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }))
    }

    /// 2026-12-01T00:00:00Z
    const NOW: i64 = 1_796_083_200;

    #[test]
    fn a_window_that_excludes_the_local_clock_fails_even_unverified() {
        let mut s = session(Some(TrustFailure::UnknownIssuer));
        if let Ok(s) = &mut s {
            s.cert.as_mut().unwrap().window_s = Some((NOW + 86_400, NOW + 86_400 * 365));
        }
        let f = evaluate_tls("api", Trust::EvidenceOnly, &s, NOW);
        assert_eq!(f.status, Status::Fail, "{}", f.message);
        assert_eq!(f.details.to_json()["error"], "not-yet-valid");
        assert!(
            f.message
                .contains("not yet valid by the local clock (2026-12-01T00:00:00Z)"),
            "{}",
            f.message
        );
        let f = evaluate_tls("api", Trust::EvidenceOnly, &s, NOW + 86_400 * 400);
        assert_eq!(f.details.to_json()["error"], "expired");
        assert_eq!(f.details.to_json()["not_before_s"], NOW + 86_400);
        assert_eq!(
            evaluate_tls("api", Trust::EvidenceOnly, &s, NOW + 86_400 * 2).status,
            Status::Pass
        );
        assert_eq!(TrustFailure::NotYetValid.class(), ErrorClass::NotYetValid);
        assert_ne!(
            TrustFailure::NotYetValid.to_string(),
            TrustFailure::Expired.to_string()
        );
    }

    #[test]
    fn the_ca_discovery_published_verifies_the_api_server() {
        let f = evaluate_tls("api", Trust::Discovered, &session(None), NOW);
        assert_eq!(f.status, Status::Pass);
        assert!(
            f.message
                .contains("verified against the cluster CA that cluster-info publishes"),
            "{}",
            f.message
        );
        let f = evaluate_tls(
            "api",
            Trust::Discovered,
            &session(Some(TrustFailure::UnknownIssuer)),
            NOW,
        );
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.fix
                .as_deref()
                .unwrap_or("")
                .contains("does not chain to the CA its own cluster-info publishes"),
            "{:?}",
            f.fix
        );
    }

    #[test]
    fn trust_outcomes() {
        assert_eq!(
            evaluate_tls("r", Trust::System, &session(None), NOW).status,
            Status::Pass
        );
        let f = evaluate_tls(
            "r",
            Trust::System,
            &session(Some(TrustFailure::UnknownIssuer)),
            NOW,
        );
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("unknown CA") && f.message.contains("Interception Proxy CA"),
            "{}",
            f.message
        );
        assert_eq!(f.details.to_json()["phase"], "tls");
        assert_eq!(
            evaluate_tls(
                "r",
                Trust::System,
                &session(Some(TrustFailure::WrongName("r".into()))),
                NOW
            )
            .status,
            Status::Fail
        );
        // without a cluster CA the API server's certificate is evidence only
        let f = evaluate_tls(
            "api",
            Trust::EvidenceOnly,
            &session(Some(TrustFailure::UnknownIssuer)),
            NOW,
        );
        assert_eq!(f.status, Status::Pass);
        assert!(f.message.contains("--cluster-ca"));
        assert_eq!(
            evaluate_tls("r", Trust::System, &Err(TlsFailure::Timeout(3000)), NOW).status,
            Status::Fail
        );
        assert_eq!(
            evaluate_tls(
                "r",
                Trust::System,
                &Err(TlsFailure::Connect(crate::probe::tcp::TcpFailure::Refused)),
                NOW
            )
            .status,
            Status::Skip
        );
    }

    #[test]
    fn registry_identity() {
        let ok = answer(401, &[("docker-distribution-api-version", "registry/2.0")]);
        assert_eq!(
            evaluate_http(HttpExpect::Registry, &session(None), &ok).status,
            Status::Pass
        );
        let plain = answer(404, &[("server", "nginx")]);
        let f = evaluate_http(HttpExpect::Registry, &session(None), &plain);
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("another service") && f.message.contains("nginx"),
            "{}",
            f.message
        );
        let wrong_status = answer(500, &[("docker-distribution-api-version", "registry/2.0")]);
        assert_eq!(
            evaluate_http(HttpExpect::Registry, &session(None), &wrong_status).status,
            Status::Fail
        );
        assert_eq!(
            evaluate_http(
                HttpExpect::Registry,
                &session(None),
                &Some(Err(HttpFailure::Timeout(3000)))
            )
            .status,
            Status::Fail
        );
        assert_eq!(
            evaluate_http(HttpExpect::Registry, &Err(TlsFailure::Timeout(1)), &None).status,
            Status::Skip
        );
    }

    #[test]
    fn oss_identity() {
        assert_eq!(
            evaluate_http(
                HttpExpect::Oss,
                &session(None),
                &answer(403, &[("x-oss-request-id", "abc")])
            )
            .status,
            Status::Pass
        );
        assert_eq!(
            evaluate_http(HttpExpect::Oss, &session(None), &answer(200, &[])).status,
            Status::Fail
        );
    }
}
