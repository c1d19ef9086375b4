//! Discovery as edgeadm does it (kubeadm's token discovery): an anonymous
//! `GET /api/v1/namespaces/kube-public/configmaps/cluster-info` to the API server, whose answer
//! holds the kubeconfig the node bootstraps with (the cluster CA and the `server` URL the kubelet
//! uses afterwards) and, for each live bootstrap token, a detached JWS of that kubeconfig
//! (`jws-kubeconfig-<token id>`, HS256 keyed by the token's secret). Pure parsing and verdicts
//! here; `run/discovery.rs` sends the request.

use base64::Engine as _;

use crate::cause::{ErrorClass, Phase, Plain};
use crate::probe::pull::{HttpReply, PullFailure};
use crate::result::Finding;
use crate::text::clean;

/// The request edgeadm makes.
pub(crate) const CLUSTER_INFO_PATH: &str = "/api/v1/namespaces/kube-public/configmaps/cluster-info";

/// A bootstrap token `<id>.<secret>` ([a-z0-9]{6}.[a-z0-9]{16}). The secret never leaves this type
/// in words: `Debug` and the report show the id only.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    pub id: String,
    secret: String,
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BootstrapToken({}.***)", self.id)
    }
}

impl BootstrapToken {
    /// Parse `<id>.<secret>`; None for anything else.
    pub fn parse(s: &str) -> Option<BootstrapToken> {
        let (id, secret) = s.trim().split_once('.')?;
        let ok = |p: &str, n: usize| {
            p.len() == n
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        (ok(id, 6) && ok(secret, 16)).then(|| BootstrapToken {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }
}

/// What answered the discovery request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The ConfigMap: its kubeconfig and its JWS signatures by token id.
    ConfigMap {
        kubeconfig: String,
        jws: Vec<(String, String)>,
    },
    /// A Kubernetes `Status`: the API server says why not.
    Status { code: u64, message: String },
    /// Not a Kubernetes API server's answer.
    Other { status: u16, seen: String },
}

/// Classify an answer (status and at most 64 KiB of body).
pub(crate) fn parse_answer(status: u16, body: &[u8]) -> Answer {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let kind = v
        .as_ref()
        .and_then(|v| v.get("kind"))
        .and_then(|k| k.as_str());
    match (kind, v.as_ref()) {
        (Some("ConfigMap"), Some(v)) => {
            let data = v.get("data").and_then(|d| d.as_object());
            let kubeconfig = data
                .and_then(|d| d.get("kubeconfig"))
                .and_then(|k| k.as_str())
                .unwrap_or("")
                .to_string();
            let jws = data
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| {
                    Some((
                        k.strip_prefix("jws-kubeconfig-")?.to_string(),
                        v.as_str()?.to_string(),
                    ))
                })
                .collect();
            Answer::ConfigMap { kubeconfig, jws }
        }
        (Some("Status"), Some(v)) => Answer::Status {
            code: v
                .get("code")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(u64::from(status)),
            message: clean(v.get("message").and_then(|m| m.as_str()).unwrap_or(""), 200),
        },
        _ => Answer::Other {
            status,
            seen: clean(&String::from_utf8_lossy(&body[..body.len().min(120)]), 120),
        },
    }
}

/// The two fields of a bootstrap kubeconfig the join needs: the first cluster's `server` and its
/// `certificate-authority-data` (base64 of PEM). A line scan of the YAML kubeadm writes; the
/// `server` came from the network, so its control characters are escaped here, once, before it
/// reaches evidence, a sentence or a terminal (a `\r` inside a line was the fuzzer's find).
pub(crate) fn kubeconfig_fields(yaml: &str) -> (Option<String>, Option<Vec<u8>>) {
    let value = |key: &str| {
        yaml.lines().find_map(|l| {
            let v = l.trim().strip_prefix(key)?.trim();
            Some(v.trim_matches(|c| c == '"' || c == '\'').to_string())
        })
    };
    let server = value("server:").map(|v| crate::text::clean(&v, 512));
    let ca = value("certificate-authority-data:").and_then(|b| {
        base64::engine::general_purpose::STANDARD
            .decode(b.as_bytes())
            .ok()
    });
    (server, ca)
}

/// What probing the kubeconfig's `server` (when it is not `--apiserver`) found: DNS, route, TCP
/// connect and a TLS handshake verified against the CA the same kubeconfig carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServerReach {
    /// Connected at this address; `trust`: why its certificate failed, if it did.
    Reached { at: String, trust: Option<String> },
    /// Not reached, in words (with where it breaks).
    Unreached(String),
}

/// The host and port of a kubeconfig `server` URL (`https://host[:port][/…]`, port 443 by
/// default); None for anything else.
pub(crate) fn server_host_port(url: &str) -> Option<(String, u16)> {
    let hp = url.strip_prefix("https://")?.split('/').next()?;
    let (host, port) = match hp.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') => (h, p.parse().ok().filter(|&p: &u16| p != 0)?),
        Some(_) | None => (hp, 443),
    };
    let host = host.trim_matches(|c| c == '[' || c == ']');
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    ok.then(|| (host.to_ascii_lowercase(), port))
}

/// The kubeconfig `server` of a discovery answer.
pub(crate) fn answer_server(reply: &HttpReply) -> Option<String> {
    match parse_answer(reply.status, &reply.body) {
        Answer::ConfigMap { kubeconfig, .. } => kubeconfig_fields(&kubeconfig).0,
        Answer::Status { .. } | Answer::Other { .. } => None,
    }
}

/// The DER of the first certificate in `ca_pem` (the kubeconfig's cluster CA).
pub(crate) fn ca_der(ca_pem: &[u8]) -> Option<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(ca_pem).ok()?;
    Some(pem.contents)
}

/// The cluster CA of a discovery answer, as DER: what `tls.apiserver` then verifies against.
pub(crate) fn answer_ca(reply: &HttpReply) -> Option<Vec<u8>> {
    match parse_answer(reply.status, &reply.body) {
        Answer::ConfigMap { kubeconfig, .. } => ca_der(&kubeconfig_fields(&kubeconfig).1?),
        Answer::Status { .. } | Answer::Other { .. } => None,
    }
}

/// kubeadm's CA pin: `sha256:` and the hex SHA-256 of the CA certificate's SubjectPublicKeyInfo.
pub(crate) fn ca_pin(ca_pem: &[u8]) -> Option<(String, String)> {
    ca_pin_der(&ca_der(ca_pem)?)
}

/// [`ca_pin`] of a certificate in DER (a `--cluster-ca` certificate).
pub(crate) fn ca_pin_der(der: &[u8]) -> Option<(String, String)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let spki = cert.tbs_certificate.subject_pki.raw;
    let digest = ring::digest::digest(&ring::digest::SHA256, spki);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Some((
        format!("sha256:{hex}"),
        clean(&cert.subject().to_string(), 200),
    ))
}

/// Verify a detached JWS (`header..signature`, HS256) over `payload` with the token's secret, as
/// kubeadm's bootstrap signer writes it.
pub(crate) fn jws_valid(detached: &str, payload: &str, token: &BootstrapToken) -> bool {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = detached.split('.');
    let (Some(header), Some(""), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let alg_ok = url
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .is_some_and(|h| h["alg"] == "HS256");
    let Ok(sig) = url.decode(sig) else {
        return false;
    };
    let signing_input = format!("{header}.{}", url.encode(payload.as_bytes()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token.secret.as_bytes());
    alg_ok && ring::hmac::verify(&key, signing_input.as_bytes(), &sig).is_ok()
}

/// What the cluster-info said of the bootstrap token (`details.token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TokenVerdict {
    /// Signed for it, and the signature verifies with its secret.
    Signed,
    /// No signature for its id: expired or deleted (the join's TOKEN_EXPIRED).
    Unsigned,
    /// A signature that does not verify: a wrong secret.
    BadSignature,
}

evidence! {
    /// The evidence of `http.cluster-info`.
    pub(crate) struct DiscoveryEvidence {
        /// The HTTP status of the answer.
        http_status: u16,
        /// The kubeconfig's `server` (what the kubelet uses after bootstrap).
        kubeconfig_server: String,
        /// The cluster CA's subject and kubeadm's pin of it.
        cluster_ca: String,
        ca_cert_hash: String,
        /// The token ids the ConfigMap carries a signature for (never a secret).
        token_ids: Vec<String>,
        /// What it said of `--token`.
        token: TokenVerdict,
    }
}

const DISCOVERY: Plain = Plain(Phase::Http, ErrorClass::WrongService);

/// Judge the discovery answer. `apiserver` is the host the node was told to join (`--apiserver`),
/// `token` the bootstrap token (`--token`), `pin` the `--discovery-token-ca-cert-hash`, `given`
/// the pins of the `--cluster-ca` certificates (the two CAs must agree).
pub(crate) fn evaluate(
    answer: &Result<HttpReply, PullFailure>,
    apiserver: &str,
    token: Option<&BootstrapToken>,
    pin: Option<&str>,
    given: &[String],
    reach: Option<&ServerReach>,
) -> Finding {
    let reply = match answer {
        // the request could not be made here (no HTTPS client): not run, said why
        Err(e @ PullFailure::Unavailable(_)) => {
            return Finding::skip_by(e, format!("GET {CLUSTER_INFO_PATH} not made: {e}"))
        }
        Err(e) => return Finding::fail_by(e, format!("GET {CLUSTER_INFO_PATH}: {e}")),
        Ok(r) => r,
    };
    let mut ev = DiscoveryEvidence {
        http_status: Some(reply.status),
        ..DiscoveryEvidence::default()
    };
    let (kubeconfig, jws) = match parse_answer(reply.status, &reply.body) {
        Answer::ConfigMap { kubeconfig, jws } => (kubeconfig, jws),
        Answer::Status { code, message } => {
            let why = if code == 403 {
                "anonymous discovery is off (the cluster-info ConfigMap is not readable without credentials): a token join cannot discover the cluster"
            } else {
                "the API server refuses the request edgeadm makes"
            };
            return Finding::fail_by(
                &Plain(Phase::Http, ErrorClass::Refused),
                format!("GET {CLUSTER_INFO_PATH} → Status {code} ({message}): {why}"),
            )
            .evidence(&ev);
        }
        Answer::Other { status, seen } => {
            return Finding::fail_by(
                &DISCOVERY,
                format!("GET {CLUSTER_INFO_PATH} → HTTP {status}, not a Kubernetes API server's answer ({seen}): edgeadm's discovery would fail here"),
            )
            .evidence(&ev);
        }
    };
    let (server, ca) = kubeconfig_fields(&kubeconfig);
    ev.token_ids = Some(jws.iter().map(|(id, _)| id.clone()).collect());
    ev.kubeconfig_server = server.clone();
    let pinned = ca.as_deref().and_then(ca_pin);
    if let Some((hash, subject)) = &pinned {
        ev.cluster_ca = Some(subject.clone());
        ev.ca_cert_hash = Some(hash.clone());
    }
    let mut problems: Vec<(bool, String)> = vec![];
    match (&pinned, pin) {
        (None, _) => problems.push((true, "the kubeconfig in it carries no readable cluster CA (certificate-authority-data)".into())),
        (Some((hash, _)), Some(want)) if !hash.eq_ignore_ascii_case(want.trim()) => problems.push((
            true,
            format!("its cluster CA is {hash}, not the --discovery-token-ca-cert-hash {want}: the join refuses it (another cluster's API server, or an interception on the way)"),
        )),
        (Some(_), _) => {}
    }
    if let Some((hash, _)) = &pinned {
        if !given.is_empty() && !given.iter().any(|g| g.eq_ignore_ascii_case(hash)) {
            problems.push((
                true,
                format!("its cluster CA ({hash}) is not the --cluster-ca you gave ({}): one of the two belongs to another cluster, or something on the way answers for the API server", given.join(", ")),
            ));
        }
    }
    if let Some(t) = token {
        let found = jws.iter().find(|(id, _)| *id == t.id);
        ev.token = Some(match found {
            None => TokenVerdict::Unsigned,
            Some((_, sig)) if !jws_valid(sig, &kubeconfig, t) => TokenVerdict::BadSignature,
            Some(_) => TokenVerdict::Signed,
        });
        match found {
            None => problems.push((
                true,
                format!("no signature for token {} (jws-kubeconfig-{}): the token expired or was deleted — the join stops with TOKEN_EXPIRED; make a new node connection script", t.id, t.id),
            )),
            Some((_, sig)) if !jws_valid(sig, &kubeconfig, t) => problems.push((
                true,
                format!("the signature for token {} does not verify with its secret: a wrong secret (copy the token from the node connection script again)", t.id),
            )),
            Some(_) => {}
        }
    }
    let server_host = server.as_deref().and_then(server_host_port).map(|(h, _)| h);
    let mut noted = String::new();
    if let Some(host) = server_host.filter(|h| h != apiserver) {
        let url = server.as_deref().unwrap_or("");
        match reach {
            None => problems.push((
                false,
                format!("the kubelet will use {url} after bootstrap, not {apiserver}: run the check with --apiserver {host} too (the line must carry it)"),
            )),
            Some(ServerReach::Unreached(why)) => problems.push((
                true,
                format!("the kubelet will use {url} after bootstrap, not {apiserver}, and {host} cannot be reached from here: {why} — the join would stop half-way, after the TLS bootstrap"),
            )),
            Some(ServerReach::Reached { at, trust: Some(t) }) => problems.push((
                true,
                format!("the kubelet will use {url} after bootstrap, not {apiserver}; {at} answers, but its certificate fails against the cluster CA: {t}"),
            )),
            Some(ServerReach::Reached { at, trust: None }) => {
                noted = format!("; the kubelet will use {url} after bootstrap (not {apiserver}): {at} reached from here, its certificate verified against the cluster CA");
            }
        }
    }
    let ca_words = pinned.as_ref().map_or_else(
        || "no cluster CA".to_string(),
        |(h, s)| format!("cluster CA {s} ({h})"),
    );
    let base = format!(
        "cluster-info answered by the API server: kubeconfig server {}, {ca_words}{}",
        server.as_deref().unwrap_or("(none)"),
        match token {
            Some(t) if problems.is_empty() => format!(", signed for token {}", t.id),
            Some(_) | None => String::new(),
        }
    ) + &noted;
    let f = if problems.iter().any(|(fail, _)| *fail) {
        let words: Vec<&str> = problems.iter().map(|(_, w)| w.as_str()).collect();
        Finding::fail_by(
            &Plain(Phase::Http, ErrorClass::Untrusted),
            format!("{base}; but {}", words.join("; ")),
        )
    } else if let Some((_, w)) = problems.first() {
        Finding::warn_by(
            &Plain(Phase::Http, ErrorClass::Misconfigured),
            format!("{base}; but {w}"),
        )
    } else {
        Finding::pass(base)
    };
    f.evidence(&ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    fn token() -> BootstrapToken {
        BootstrapToken::parse("abcdef.0123456789abcdef").unwrap()
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "kubernetes");
        p.self_signed(&key).unwrap().pem()
    }

    fn kubeconfig(server: &str, ca: &str) -> String {
        format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server}\n  name: \"\"\nkind: Config\n",
            STANDARD.encode(ca.as_bytes())
        )
    }

    fn sign(payload: &str, secret: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"abcdef"}"#);
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload.as_bytes()));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let sig = ring::hmac::sign(&key, input.as_bytes());
        format!("{header}..{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn answer(kc: &str, jws: &[(&str, String)]) -> Result<HttpReply, PullFailure> {
        let mut data = serde_json::Map::new();
        data.insert("kubeconfig".into(), kc.into());
        for (id, s) in jws {
            data.insert(format!("jws-kubeconfig-{id}"), s.clone().into());
        }
        let body =
            serde_json::json!({"kind": "ConfigMap", "apiVersion": "v1", "data": data}).to_string();
        Ok(HttpReply {
            status: 200,
            headers: vec![],
            received: body.len(),
            body: body.into_bytes(),
            stalled_ms: None,
            body_ms: 0,
            mss: None,
        })
    }

    #[test]
    fn tokens_parse_strictly_and_never_show_their_secret() {
        assert!(BootstrapToken::parse("abcdef.0123456789abcdef").is_some());
        for bad in [
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdef",
            "abcdef.0123456789abcde",
            "abcdef0123456789abcdef",
            "",
        ] {
            assert!(BootstrapToken::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(format!("{:?}", token()), "BootstrapToken(abcdef.***)");
    }

    #[test]
    fn a_signed_cluster_info_passes_and_pins_the_ca_as_kubeadm_does() {
        let ca = ca_pem();
        let kc = kubeconfig("https://192.168.0.10:6443", &ca);
        let a = answer(&kc, &[("abcdef", sign(&kc, "0123456789abcdef"))]);
        let (hash, _) = ca_pin(ca.as_bytes()).unwrap();
        assert!(hash.starts_with("sha256:") && hash.len() == 71, "{hash}");
        let f = evaluate(&a, "192.168.0.10", Some(&token()), Some(&hash), &[], None);
        assert_eq!(f.status, crate::result::Status::Pass, "{}", f.message);
        assert!(
            f.message.contains("signed for token abcdef"),
            "{}",
            f.message
        );
        assert!(
            !f.message.contains("0123456789abcdef"),
            "the secret never shows"
        );
        let ev = f.details.read::<DiscoveryEvidence>().unwrap();
        assert_eq!(ev.ca_cert_hash.as_deref(), Some(hash.as_str()));
        assert_eq!(ev.token_ids, Some(vec!["abcdef".to_string()]));
    }

    #[test]
    fn the_kubeconfig_server_is_judged_by_what_reaching_it_found() {
        let ca = ca_pem();
        let kc = kubeconfig("https://47.96.1.1:6443", &ca);
        let a = answer(&kc, &[]);
        let server = answer_server(a.as_ref().unwrap()).unwrap();
        assert_eq!(
            server_host_port(&server),
            Some(("47.96.1.1".to_string(), 6443))
        );
        let unreached = ServerReach::Unreached("47.96.1.1:6443: timed out".into());
        let f = evaluate(&a, "192.168.0.10", None, None, &[], Some(&unreached));
        assert_eq!(f.status, crate::result::Status::Fail, "{}", f.message);
        assert!(
            f.message
                .contains("47.96.1.1 cannot be reached from here: 47.96.1.1:6443: timed out"),
            "{}",
            f.message
        );
        let fine = ServerReach::Reached {
            at: "47.96.1.1:6443".into(),
            trust: None,
        };
        let f = evaluate(&a, "192.168.0.10", None, None, &[], Some(&fine));
        assert_eq!(f.status, crate::result::Status::Pass, "{}", f.message);
        assert!(
            f.message.contains(
                "the kubelet will use https://47.96.1.1:6443 after bootstrap (not 192.168.0.10)"
            ),
            "{}",
            f.message
        );
        let untrusted = ServerReach::Reached {
            at: "47.96.1.1:6443".into(),
            trust: Some("unknown CA".into()),
        };
        let f = evaluate(&a, "192.168.0.10", None, None, &[], Some(&untrusted));
        assert_eq!(f.status, crate::result::Status::Fail, "{}", f.message);
        for (url, want) in [
            ("https://api.example.test", Some(("api.example.test", 443))),
            (
                "https://API.example.test:6443/x",
                Some(("api.example.test", 6443)),
            ),
            ("http://10.0.0.1:6443", None),
            ("https://bad host:6443", None),
            ("https://:6443", None),
        ] {
            assert_eq!(
                server_host_port(url),
                want.map(|(h, p)| (h.to_string(), p)),
                "{url}"
            );
        }
    }

    #[test]
    fn the_published_ca_is_handed_on_and_must_agree_with_the_given_one() {
        let ca = ca_pem();
        let kc = kubeconfig("https://192.168.0.10:6443", &ca);
        let a = answer(&kc, &[]);
        let der = answer_ca(a.as_ref().unwrap()).expect("the CA's DER");
        let (hash, _) = ca_pin(ca.as_bytes()).unwrap();
        assert_eq!(ca_pin_der(&der).unwrap().0, hash, "one pin, PEM or DER");
        // --cluster-ca is the same CA: nothing to say
        let f = evaluate(
            &a,
            "192.168.0.10",
            None,
            None,
            std::slice::from_ref(&hash),
            None,
        );
        assert_eq!(f.status, crate::result::Status::Pass, "{}", f.message);
        // another CA given: FAIL naming both
        let other = ca_pin(ca_pem().as_bytes()).unwrap().0;
        let f = evaluate(
            &a,
            "192.168.0.10",
            None,
            None,
            std::slice::from_ref(&other),
            None,
        );
        assert_eq!(f.status, crate::result::Status::Fail, "{}", f.message);
        assert!(
            f.message.contains("is not the --cluster-ca you gave"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains(&other) && f.message.contains(&hash),
            "{}",
            f.message
        );
        // a Status answer carries no CA
        let body = br#"{"kind":"Status","code":403,"message":"forbidden"}"#.to_vec();
        let refused = HttpReply {
            status: 403,
            headers: vec![],
            received: body.len(),
            body,
            stalled_ms: None,
            body_ms: 0,
            mss: None,
        };
        assert!(answer_ca(&refused).is_none());
    }

    #[test]
    fn expired_tokens_wrong_secrets_and_wrong_pins_fail_as_the_join_would() {
        let ca = ca_pem();
        let kc = kubeconfig("https://192.168.0.10:6443", &ca);
        let expired = answer(&kc, &[]);
        let f = evaluate(&expired, "192.168.0.10", Some(&token()), None, &[], None);
        assert_eq!(f.status, crate::result::Status::Fail);
        assert!(f.message.contains("TOKEN_EXPIRED"), "{}", f.message);
        assert_eq!(
            f.details.read::<DiscoveryEvidence>().unwrap().token,
            Some(TokenVerdict::Unsigned)
        );
        let wrong = answer(&kc, &[("abcdef", sign(&kc, "ffffffffffffffff"))]);
        let f = evaluate(&wrong, "192.168.0.10", Some(&token()), None, &[], None);
        assert!(f.message.contains("a wrong secret"), "{}", f.message);
        let pin = format!("sha256:{}", "0".repeat(64));
        let f = evaluate(
            &answer(&kc, &[]),
            "192.168.0.10",
            None,
            Some(&pin),
            &[],
            None,
        );
        assert_eq!(f.status, crate::result::Status::Fail);
        assert!(
            f.message.contains("not the --discovery-token-ca-cert-hash"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_kubeconfig_server_other_than_the_apiserver_is_named() {
        let ca = ca_pem();
        let kc = kubeconfig("https://47.96.1.1:6443", &ca);
        let f = evaluate(&answer(&kc, &[]), "192.168.0.10", None, None, &[], None);
        assert_eq!(f.status, crate::result::Status::Warn, "{}", f.message);
        assert!(
            f.message
                .contains("the kubelet will use https://47.96.1.1:6443"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_status_or_another_service_says_why() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get resource","code":403}"#;
        let r = Ok(HttpReply {
            status: 403,
            headers: vec![],
            body: body.to_vec(),
            received: body.len(),
            stalled_ms: None,
            body_ms: 0,
            mss: None,
        });
        let f = evaluate(&r, "192.168.0.10", None, None, &[], None);
        assert_eq!(f.status, crate::result::Status::Fail);
        assert!(
            f.message.contains("anonymous discovery is off"),
            "{}",
            f.message
        );
        let html = Ok(HttpReply {
            status: 200,
            headers: vec![],
            body: b"<html>hi</html>".to_vec(),
            received: 15,
            stalled_ms: None,
            body_ms: 0,
            mss: None,
        });
        let f = evaluate(&html, "192.168.0.10", None, None, &[], None);
        assert!(
            f.message.contains("not a Kubernetes API server's answer"),
            "{}",
            f.message
        );
        // hostile JSON never panics and never reaches the message raw
        for junk in [
            &b"{\"kind\":\"ConfigMap\",\"data\":{\"kubeconfig\":7}}"[..],
            b"\x1b[31m",
            b"{\"kind\":\"ConfigMap\"}",
        ] {
            let r = Ok(HttpReply {
                status: 200,
                headers: vec![],
                body: junk.to_vec(),
                received: junk.len(),
                stalled_ms: None,
                body_ms: 0,
                mss: None,
            });
            let f = evaluate(&r, "192.168.0.10", None, None, &[], None);
            assert!(!f.message.contains('\u{1b}'), "{}", f.message);
        }
    }
}
