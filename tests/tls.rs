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

/// Serve TLS on loopback; after the handshake, read the request and write `reply` in 32-byte chunks
/// `pause` apart.
async fn serve(p: &Pki, reply: &'static [u8], pause: Duration) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(p.chain.clone(), p.key.clone_key())
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
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
