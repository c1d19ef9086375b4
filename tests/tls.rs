//! The TLS + HTTP probe against an in-process rustls server on loopback (rcgen certificates):
//! trusted chain, wrong name, expired certificate, untrusted CA, and a slow-loris HTTP answer after a
//! good handshake — each classified, each within the probe timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use preflight::net::TlsProber;
use preflight::probe::tls::{HttpExpect, HttpFailure, Trust, TrustFailure};
use preflight::sys::tls::RustlsProber;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Pki {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn pki(name: &str, expired: bool) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Loopback Test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "loopback registry");
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca: ca.der().clone(),
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// A TLS acceptor presenting `p`'s certificate.
fn acceptor(p: &Pki) -> tokio_rustls::TlsAcceptor {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(p.chain.clone(), p.key.clone_key())
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Serve TLS on loopback; after the handshake, read the request and write `reply` in 32-byte chunks
/// `pause` apart.
async fn serve(p: &Pki, reply: &'static [u8], pause: Duration) -> SocketAddr {
    let acceptor = acceptor(p);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                for chunk in reply.chunks(32) {
                    if s.write_all(chunk).await.is_err() || s.flush().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(pause).await;
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    addr
}

const REGISTRY: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nDocker-Distribution-Api-Version: registry/2.0\r\nContent-Length: 0\r\n\r\n";

#[tokio::test]
async fn trusted_chain_and_registry_identity() {
    let p = pki("registry.example", false);
    let addr = serve(&p, REGISTRY, Duration::ZERO).await;
    let prober = RustlsProber::new(std::slice::from_ref(&p.ca), &[]);
    let out = prober
        .probe(
            addr,
            Some("registry.example"),
            Trust::System,
            Some(HttpExpect::Registry),
            Duration::from_secs(2),
        )
        .await;
    let s = out.session.expect("handshake");
    assert_eq!(s.trust_failure, None, "{s:?}");
    let cert = s.cert.expect("certificate evidence");
    assert!(cert.issuer.contains("Loopback Test CA"), "{cert:?}");
    assert_eq!(cert.names, ["registry.example"]);
    let a = out.http.expect("http asked").expect("http answer");
    assert_eq!(a.status, 401);
}

#[tokio::test]
async fn wrong_name_expired_and_untrusted_are_told_apart() {
    let p = pki("registry.example", false);
    let addr = serve(&p, REGISTRY, Duration::ZERO).await;
    let trusting = RustlsProber::new(std::slice::from_ref(&p.ca), &[]);
    let out = trusting
        .probe(
            addr,
            Some("oss.example"),
            Trust::System,
            None,
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(
        out.session.unwrap().trust_failure,
        Some(TrustFailure::WrongName("oss.example".into()))
    );

    let stranger = RustlsProber::new(&[], &[]);
    let out = stranger
        .probe(
            addr,
            Some("registry.example"),
            Trust::System,
            None,
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(
        out.session.unwrap().trust_failure,
        Some(TrustFailure::UnknownIssuer)
    );

    let old = pki("registry.example", true);
    let addr = serve(&old, REGISTRY, Duration::ZERO).await;
    let prober = RustlsProber::new(std::slice::from_ref(&old.ca), &[]);
    let out = prober
        .probe(
            addr,
            Some("registry.example"),
            Trust::System,
            None,
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(
        out.session.unwrap().trust_failure,
        Some(TrustFailure::Expired)
    );

    // the cluster CA is used only with Trust::ClusterCa
    let cluster = RustlsProber::new(&[], std::slice::from_ref(&old.ca));
    let out = cluster
        .probe(
            addr,
            Some("registry.example"),
            Trust::ClusterCa,
            None,
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(
        out.session.unwrap().trust_failure,
        Some(TrustFailure::Expired)
    );
}

#[tokio::test]
async fn slow_loris_after_a_good_handshake_is_cut_by_the_probe_timeout() {
    let p = pki("registry.example", false);
    let addr = serve(&p, REGISTRY, Duration::from_millis(400)).await;
    let prober = RustlsProber::new(std::slice::from_ref(&p.ca), &[]);
    let start = Instant::now();
    let out = prober
        .probe(
            addr,
            Some("registry.example"),
            Trust::System,
            Some(HttpExpect::Registry),
            Duration::from_millis(700),
        )
        .await;
    let took = start.elapsed();
    assert!(out.session.is_ok());
    assert!(
        matches!(out.http, Some(Err(HttpFailure::Timeout(700)))),
        "{:?}",
        out.http
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

/// The pull's request (`TlsProber::request`) against hostile registries, token services and
/// storage hosts on loopback: a 10 MB token, an endless header block, a 100 kB `WWW-Authenticate`,
/// a body that trickles. Each ends within the timeout, bounded in what it keeps, and says what the
/// peer did.
#[tokio::test]
async fn the_pulls_request_is_bounded_against_hostile_peers() {
    use preflight::probe::pull::{HttpRequest, PullFailure};
    let p = pki("registry.example", false);
    let prober = RustlsProber::new(std::slice::from_ref(&p.ca), &[]);
    let timeout = Duration::from_millis(1500);
    let ask = |addr: SocketAddr, read: usize| {
        let prober = &prober;
        async move {
            let start = Instant::now();
            let r = prober
                .request(
                    addr,
                    "registry.example",
                    Trust::System,
                    HttpRequest {
                        method: "GET",
                        path: "/token?scope=repository:acs/pause:pull".into(),
                        headers: vec![],
                        read,
                    },
                    timeout,
                )
                .await;
            (r, start.elapsed())
        }
    };
    let leak = |v: Vec<u8>| -> &'static [u8] { Box::leak(v.into_boxed_slice()) };

    // a 10 MB token: at most 64 KiB of it kept, the rest not read
    let mut big = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"token\":\"",
        10 * 1024 * 1024 + 12
    )
    .into_bytes();
    big.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    big.extend_from_slice(b"\"}");
    let addr = serve(&p, leak(big), Duration::ZERO).await;
    let (r, took) = ask(addr, 64 * 1024).await;
    let r = r.expect("a 200 whose body is cut");
    assert_eq!(r.status, 200);
    assert!(r.body.len() <= 64 * 1024, "{}", r.body.len());
    assert!(took < timeout + Duration::from_millis(500), "{took:?}");

    // an endless header block: an HTTP failure saying so, not a hang
    let mut endless = b"HTTP/1.1 401 Unauthorized\r\n".to_vec();
    for i in 0..50_000 {
        endless.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(40)).as_bytes());
    }
    let addr = serve(&p, leak(endless), Duration::ZERO).await;
    let (r, took) = ask(addr, 1024).await;
    assert!(matches!(r, Err(PullFailure::Http(_))), "{r:?}");
    assert!(took < timeout + Duration::from_millis(500), "{took:?}");

    // a 100 kB WWW-Authenticate realm: past the head's limit, refused the same way
    let huge_realm = format!(
        "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Bearer realm=\"https://{}/token\"\r\nContent-Length: 0\r\n\r\n",
        "a".repeat(100_000)
    );
    let addr = serve(&p, leak(huge_realm.into_bytes()), Duration::ZERO).await;
    let (r, took) = ask(addr, 1024).await;
    assert!(matches!(r, Err(PullFailure::Http(_))), "{r:?}");
    assert!(took < timeout + Duration::from_millis(500), "{took:?}");

    // an escape sequence in a header value: C0 controls are malformed HTTP (refused by the
    // parser), C1 ones (U+009B is CSI to some terminals) arrive as text and reach the reply escaped
    let c0 = b"HTTP/1.1 401 Unauthorized\r\nServer: \x1b[2Jevil\r\nContent-Length: 0\r\n\r\n";
    let addr = serve(&p, c0, Duration::ZERO).await;
    let (r, _) = ask(addr, 1024).await;
    assert!(matches!(r, Err(PullFailure::Http(_))), "{r:?}");
    let c1 = "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Bearer realm=\"https://a.example/\u{9b}2J\"\r\nServer: \u{9b}31mevil\r\nContent-Length: 0\r\n\r\n";
    let addr = serve(&p, c1.as_bytes(), Duration::ZERO).await;
    let (r, _) = ask(addr, 1024).await;
    let r = r.expect("an answer");
    assert!(
        r.header("server").is_some_and(|v| v.contains("evil")),
        "{:?}",
        r.headers
    );
    for (k, v) in &r.headers {
        assert!(!v.chars().any(char::is_control), "{k}: {v:?}");
    }

    // a storage host that trickles its blob (32 bytes every 200 ms): cut at the timeout, the bytes
    // that came counted, the time read given, not called a stall of the whole read
    let mut trickle = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 131072\r\n\r\n".to_vec();
    trickle.extend(std::iter::repeat_n(b'b', 131_072));
    let addr = serve(&p, leak(trickle), Duration::from_millis(200)).await;
    let (r, took) = ask(addr, 131_072).await;
    let r = r.expect("a 206 that trickles");
    assert_eq!(r.status, 206);
    assert!(r.received < 131_072 && r.received > 0, "{}", r.received);
    let stalled = r.stalled_ms.expect("the body did not end");
    assert!(
        stalled < r.body_ms / 2,
        "still coming: {stalled} of {} ms",
        r.body_ms
    );
    assert!(took < timeout + Duration::from_millis(500), "{took:?}");
}

/// A keep-alive HTTPS server on loopback: answers every request on a connection with `body`
/// (`Connection: close` after the first when `close`), counting the connections it accepted.
async fn keep_alive_server(
    p: &Pki,
    body: &'static str,
    close: bool,
) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let acceptor = acceptor(p);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let conn = if close { "close" } else { "keep-alive" };
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: {conn}\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(reply.as_bytes()).await.is_err() || close {
                        let _ = s.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

/// The pull's requests to one host share a connection (a TCP and TLS handshake saved each, two or
/// three round trips on a long line); a server that closes after an answer gets a new one.
#[tokio::test]
async fn requests_to_one_host_reuse_its_connection() {
    use preflight::probe::pull::HttpRequest;
    let p = pki("registry.example", false);
    let prober = RustlsProber::new(std::slice::from_ref(&p.ca), &[]);
    let get = |path: &str| HttpRequest {
        method: "GET",
        path: path.into(),
        headers: vec![],
        read: 1024,
    };
    let (addr, accepted) = keep_alive_server(&p, "{\"token\":\"t\"}", false).await;
    for path in [
        "/v2/",
        "/v2/acs/pause/manifests/3.9",
        "/v2/acs/pause/blobs/sha256:00",
    ] {
        let r = prober
            .request(
                addr,
                "registry.example",
                Trust::System,
                get(path),
                Duration::from_secs(2),
            )
            .await
            .expect("an answer");
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"{\"token\":\"t\"}"[..])
        );
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one connection"
    );

    let (addr, accepted) = keep_alive_server(&p, "ok", true).await;
    for _ in 0..3 {
        let r = prober
            .request(
                addr,
                "registry.example",
                Trust::System,
                get("/v2/"),
                Duration::from_secs(2),
            )
            .await
            .expect("an answer on a new connection");
        assert_eq!(r.status, 200);
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "closed each time"
    );
}
