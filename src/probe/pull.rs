//! Following a real pull, read-only (phase: pull): the registry's 401 names a token service
//! (`Www-Authenticate: Bearer realm=…`), which gives an anonymous pull token; with it the image's
//! manifest names a blob, and a blob request may be redirected to a storage host. Pure parsing and
//! verdicts here, fuzzable; `run/pull.rs` sends the requests.

use crate::cause::{Cause, ErrorClass, Phase, Plain};
use crate::result::Finding;
use crate::text::clean;

/// One HTTPS request of the pull (method, path with query, extra headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// How many body bytes to receive (at most [`MAX_BODY`] are kept): a blob read moves enough
    /// to need full-size segments.
    pub read: usize,
}

/// Its answer: the head, and at most [`MAX_BODY`] bytes of the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Body bytes received (kept or not).
    pub received: usize,
    /// The body stopped before it ended or reached `read`: nothing more came for this long.
    pub stalled_ms: Option<u64>,
    /// How long the body was read for, from the head's arrival (a trickle tells itself from a
    /// stall by this: bytes kept coming, slowly).
    pub body_ms: u64,
    /// The connection's negotiated MSS (`TCP_MAXSEG`), where it could be read.
    pub mss: Option<u32>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The most of a body read: a token or a manifest is a few KiB.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// The bytes of a blob the agent reads (`Range: bytes=0-131071`): ninety-odd full-size segments,
/// so a path that loses large packets (a path-MTU black hole toward the storage host) stalls it as
/// it stalls a real pull, while a few bytes would pass (docs/path-mtu.md).
pub(crate) const BLOB_READ: usize = 128 * 1024;

/// The most redirects of one blob request followed (Go's HTTP client, which containerd uses,
/// stops after 10).
pub(crate) const MAX_REDIRECTS: usize = 10;

/// Why one request of the pull failed, by phase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullFailure {
    #[error("{host} does not resolve: {why}")]
    Dns { host: String, why: String },
    #[error("no route to {ip}: {why}")]
    Route { ip: String, why: String },
    #[error("{0}")]
    Tls(crate::probe::tls::TlsFailure),
    #[error("the server's certificate is not trusted: {0}")]
    Untrusted(String),
    #[error("HTTP: {0}")]
    Http(String),
    /// The TLS handshake passed, then no answer to the request came in time: the server hangs,
    /// or its larger packets vanish on the way (a path-MTU black hole).
    #[error("the TLS handshake passed, then no answer to the request within {ms} ms")]
    NoAnswer { ms: u64, mss: Option<u32> },
    #[error("{0}")]
    Unavailable(String),
    /// The registry's answer points to an address the agent does not contact (loopback,
    /// link-local, this node's own, not unicast).
    #[error("not followed: {0}")]
    NotFollowed(String),
}

impl Cause for PullFailure {
    fn phase(&self) -> Phase {
        match self {
            PullFailure::Dns { .. } => Phase::Dns,
            PullFailure::Route { .. } => Phase::Route,
            PullFailure::Tls(e) => e.phase(),
            PullFailure::Untrusted(_)
            | PullFailure::Http(_)
            | PullFailure::NoAnswer { .. }
            | PullFailure::Unavailable(_)
            | PullFailure::NotFollowed(_) => Phase::Pull,
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            PullFailure::Dns { .. } => ErrorClass::NoRecords,
            PullFailure::Route { .. } => ErrorClass::NoRoute,
            PullFailure::Tls(e) => e.class(),
            PullFailure::Untrusted(_) => ErrorClass::Untrusted,
            PullFailure::Http(_) => ErrorClass::Malformed,
            PullFailure::NoAnswer { .. } => ErrorClass::Timeout,
            PullFailure::Unavailable(_) => ErrorClass::Error,
            PullFailure::NotFollowed(_) => ErrorClass::Untrusted,
        }
    }
}

/// Why the agent does not follow the registry's answer to `ip` (a realm or a redirect), if it
/// does not: it contacts only the documented endpoints, those the user names, and the hosts the
/// registry's answers point to on 443 — never this node's own address, a loopback or link-local
/// one (where a cloud's metadata service answers), or one that is not unicast. `own`: the node's
/// addresses.
pub(crate) fn not_followed(ip: std::net::IpAddr, own: &[std::net::IpAddr]) -> Option<String> {
    use std::net::IpAddr;
    let link_local = match ip {
        IpAddr::V4(v) => v.is_link_local(),
        IpAddr::V6(v) => v.is_unicast_link_local(),
    };
    let not_unicast = match ip {
        IpAddr::V4(v) => v.is_multicast() || v.is_broadcast() || v.is_unspecified(),
        IpAddr::V6(v) => v.is_multicast() || v.is_unspecified(),
    };
    if ip.is_loopback() {
        Some(format!("{ip} is a loopback address"))
    } else if link_local {
        Some(format!(
            "{ip} is a link-local address (where a metadata service answers)"
        ))
    } else if not_unicast {
        Some(format!("{ip} is not a unicast address"))
    } else if own.contains(&ip) {
        Some(format!("{ip} is this node's own address"))
    } else {
        None
    }
}

/// A Bearer challenge: where the token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub realm: String,
    pub service: Option<String>,
}

/// Parse `Www-Authenticate: Bearer realm="…",service="…",scope="…"` (RFC 6750 §3 auth-params).
pub(crate) fn parse_challenge(h: &str) -> Option<Challenge> {
    let rest = h.trim();
    let (scheme, params) = rest.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut s = params.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, rest) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key.as_str() {
            "realm" => realm = Some(value.to_string()),
            "service" => service = Some(value.to_string()),
            _ => {}
        }
        s = rest.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge {
        realm: realm?,
        service,
    })
}

/// An https URL split for one request: host, port, path with query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// The longest path (with query) of a realm or redirect followed: a presigned storage URL is a
/// few hundred bytes, a token realm less.
pub(crate) const MAX_URL_PATH: usize = 4096;

/// Parse an absolute `https://host[:port]/path?query` (what realms and redirects carry); None for
/// anything else (plain http, user info, a relative location).
pub(crate) fn parse_url(u: &str) -> Option<Url> {
    let rest = u.trim().strip_prefix("https://")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') || authority.starts_with('[') {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        // port 0 is no port (a registry that names it sends the pull nowhere)
        Some((h, p)) => (h, p.parse().ok().filter(|&p: &u16| p != 0)?),
        None => (authority, 443),
    };
    // a DNS name (RFC 1035: labels of at most 63, the name at most 253) or an IPv4 address; a
    // path of at most MAX_URL_PATH (a realm of 100 kB is not a token service)
    let valid = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let labels_ok = host
        .strip_suffix('.')
        .unwrap_or(host)
        .split('.')
        .all(|l| !l.is_empty() && l.len() <= 63);
    if host.is_empty() || host.len() > 253 || !valid || !labels_ok || path.len() > MAX_URL_PATH {
        return None;
    }
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    Some(Url {
        host: host.to_ascii_lowercase(),
        port,
        path,
    })
}

/// Percent-encode a query value (RFC 3986 unreserved characters pass).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The token request for pulling `repository`: the realm's path with service and scope added.
pub(crate) fn token_path(realm: &Url, c: &Challenge, repository: &str) -> String {
    let sep = if realm.path.contains('?') { '&' } else { '?' };
    let mut p = format!(
        "{}{sep}scope={}",
        realm.path,
        encode(&format!("repository:{repository}:pull"))
    );
    if let Some(s) = &c.service {
        p.push_str(&format!("&service={}", encode(s)));
    }
    p
}

/// The token of a token service's JSON answer (`token`, or OAuth2's `access_token`).
pub(crate) fn token_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let t = v.get("token").or_else(|| v.get("access_token"))?.as_str()?;
    (!t.is_empty() && t.len() <= 16 * 1024 && t.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| t.to_string())
}

/// What a manifest names next: a platform manifest of an index (linux/amd64, else the first), or
/// the blob to fetch (the config, else the first layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    Manifest(String),
    Blob(String),
}

fn digest_ok(d: &str) -> bool {
    d.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && alg.bytes().all(|b| b.is_ascii_alphanumeric())
            && (32..=128).contains(&hex.len())
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Parse a manifest or an index (OCI or Docker v2) for what to fetch next.
pub(crate) fn next_of(body: &[u8]) -> Option<Next> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(list) = v.get("manifests").and_then(|m| m.as_array()) {
        let amd64 = list
            .iter()
            .find(|m| m["platform"]["architecture"] == "amd64" && m["platform"]["os"] == "linux");
        let d = amd64.or(list.first())?.get("digest")?.as_str()?;
        return digest_ok(d).then(|| Next::Manifest(d.to_string()));
    }
    // the largest layer (what moves the bytes of a pull), else the config
    let largest = v["layers"].as_array().and_then(|l| {
        l.iter()
            .max_by_key(|x| x["size"].as_u64().unwrap_or(0))?
            .get("digest")?
            .as_str()
    });
    let d = largest.or_else(|| v["config"]["digest"].as_str())?;
    digest_ok(d).then(|| Next::Blob(d.to_string()))
}

/// What the registry's answer to an authorised request means when it is not the expected one:
/// a WARN with what was seen (the image may need credentials, the name may differ), never a FAIL.
pub(crate) fn refused(what: &str, status: u16, body: &[u8]) -> Finding {
    let seen = clean(&String::from_utf8_lossy(&body[..body.len().min(200)]), 200);
    let why = match status {
        401 | 403 => "the image needs credentials (imagePullSecrets), or the registry refuses anonymous pulls",
        404 => "the repository or tag differs in this registry (--pull-image REPO:TAG)",
        _ => "an unexpected answer",
    };
    Finding::warn_by(
        &Plain(Phase::Pull, ErrorClass::WrongService),
        format!("{what}: HTTP {status}: {why} ({seen})"),
    )
    .evidence(&PullEvidence {
        http_status: Some(status),
        ..PullEvidence::default()
    })
}

evidence! {
    /// The evidence of the `pull.*` rows.
    pub(crate) struct PullEvidence {
        /// The HTTP status of the step that failed.
        http_status: u16,
        /// The challenge's realm (escaped) and the token service's host and address.
        realm: String,
        token_host: String,
        token_address: String,
        /// The manifest's digest and the blob fetched.
        manifest_digest: String,
        blob: String,
        /// Where the blob redirect points (the last host of a chain).
        storage_host: String,
        /// How many redirects a blob request went through, when more than one.
        redirects: u32,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_registry_cannot_send_the_agent_to_loopback_link_local_or_itself() {
        use super::not_followed;
        let own: Vec<std::net::IpAddr> = vec!["10.0.0.10".parse().unwrap()];
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("0.0.0.0", "not a unicast"),
            ("224.0.0.1", "not a unicast"),
            ("255.255.255.255", "not a unicast"),
            ("10.0.0.10", "this node's own"),
        ] {
            let w = not_followed(ip.parse().unwrap(), &own).unwrap_or_default();
            assert!(w.contains(why), "{ip}: {w}");
        }
        for ok in ["100.103.20.10", "198.18.1.1", "10.0.0.11"] {
            assert_eq!(not_followed(ok.parse().unwrap(), &own), None, "{ok}");
        }
    }

    #[test]
    fn the_blob_followed_is_the_largest_layer() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let c = format!("sha256:{}", "c".repeat(64));
        let m = format!(
            r#"{{"config":{{"digest":"{c}","size":900}},"layers":[{{"digest":"{a}","size":10}},{{"digest":"{b}","size":3000000}}]}}"#
        );
        assert_eq!(next_of(m.as_bytes()), Some(Next::Blob(b)));
        let only_config = format!(r#"{{"config":{{"digest":"{c}"}},"layers":[]}}"#);
        assert_eq!(next_of(only_config.as_bytes()), Some(Next::Blob(c)));
    }

    use super::*;

    #[test]
    fn challenges_of_real_registries() {
        let c = parse_challenge(r#"Bearer realm="https://dockerauth-vpc.cn-hangzhou.aliyuncs.com/auth",service="registry.aliyuncs.com:cn-hangzhou:26842",scope="repository:acs/pause:pull""#).unwrap();
        assert_eq!(
            c.realm,
            "https://dockerauth-vpc.cn-hangzhou.aliyuncs.com/auth"
        );
        assert_eq!(
            c.service.as_deref(),
            Some("registry.aliyuncs.com:cn-hangzhou:26842")
        );
        let c = parse_challenge("bearer realm=https://auth.example/token, service=reg").unwrap();
        assert_eq!(
            (c.realm.as_str(), c.service.as_deref()),
            ("https://auth.example/token", Some("reg"))
        );
        assert!(parse_challenge(r#"Basic realm="x""#).is_none());
        assert!(parse_challenge("Bearer service=x").is_none());
        assert!(parse_challenge(r#"Bearer realm="unterminated"#).is_none());
    }

    #[test]
    fn urls_and_the_token_request() {
        let u = parse_url("https://DockerAuth.example:8443/auth?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("dockerauth.example", 8443, "/auth?x=1")
        );
        assert_eq!(parse_url("https://h.example").unwrap().path, "/");
        for bad in [
            "http://h/",
            "https://u:p@h/",
            "https:///x",
            "https://h:99999/",
            "https://h_/",
            "/v2/x",
            "https://a..b/",
        ] {
            assert!(parse_url(bad).is_none(), "{bad}");
        }
        // a realm of 100 kB, a label past 63, a name past 253, a path past the cap: not followed
        let long_host = format!("https://{}/token", "a".repeat(100_000));
        let long_label = format!("https://{}.example/", "b".repeat(64));
        let long_name = format!("https://{}x/", "abcdefghi.".repeat(26));
        let long_path = format!("https://h.example/{}", "p".repeat(MAX_URL_PATH));
        for bad in [&long_host, &long_label, &long_name, &long_path] {
            assert!(parse_url(bad).is_none(), "{}", &bad[..40]);
        }
        let ok_label = format!("https://{}.example/", "b".repeat(63));
        assert!(parse_url(&ok_label).is_some());
        assert!(
            parse_url("https://h.example./x").is_some(),
            "a fully qualified name"
        );
        let c = Challenge {
            realm: String::new(),
            service: Some("reg:cn hz".into()),
        };
        let p = token_path(
            &parse_url("https://a.example/auth").unwrap(),
            &c,
            "acs/pause",
        );
        assert_eq!(
            p,
            "/auth?scope=repository%3Aacs%2Fpause%3Apull&service=reg%3Acn%20hz"
        );
    }

    #[test]
    fn tokens_and_manifests() {
        assert_eq!(
            token_of(br#"{"token":"abc.def"}"#).as_deref(),
            Some("abc.def")
        );
        assert_eq!(token_of(br#"{"access_token":"x"}"#).as_deref(), Some("x"));
        assert!(token_of(br#"{"token":"a\nb"}"#).is_none());
        assert!(token_of(b"<html>").is_none());
        let d = format!("sha256:{}", "a".repeat(64));
        let index = format!(
            r#"{{"manifests":[{{"digest":"sha256:{}","platform":{{"architecture":"arm64","os":"linux"}}}},{{"digest":"{d}","platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            "b".repeat(64)
        );
        assert_eq!(next_of(index.as_bytes()), Some(Next::Manifest(d.clone())));
        let m = format!(r#"{{"config":{{"digest":"{d}"}},"layers":[]}}"#);
        assert_eq!(next_of(m.as_bytes()), Some(Next::Blob(d)));
        assert!(next_of(br#"{"config":{"digest":"sha256:../../etc"}}"#).is_none());
        let w = refused(
            "manifest of acs/pause:3.9",
            404,
            b"{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}\x1b[2J",
        );
        assert_eq!(w.status, crate::result::Status::Warn);
        assert!(
            w.message.contains("the repository or tag differs") && !w.message.contains('\x1b'),
            "{}",
            w.message
        );
    }
}
