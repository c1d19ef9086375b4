//! TLS handshakes with rustls and one bounded HTTP/1.1 request with hyper.
//! The verifier records the verdict instead of aborting, so a failed chain still yields the
//! certificate as evidence (issuer and subject seen), and the HTTP answer can still be read.

// Foreign enums: rustls' error enums are #[non_exhaustive]: what this layer does not name is a handshake
// error in words, by design.
#![allow(clippy::wildcard_enum_match_arm)]

use crate::probe::pull::{HttpReply, HttpRequest, PullFailure, MAX_BODY};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::net::TlsProber;
use crate::probe::tls::{
    CertInfo, HttpAnswer, HttpExpect, HttpFailure, TlsFailure, TlsOutcome, TlsSession, Trust,
    TrustFailure,
};

/// Most bytes of HTTP response head accepted.
const MAX_HTTP_HEAD: usize = 16 * 1024;
/// Most response headers kept as evidence.
const MAX_HEADERS: usize = 32;

#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    verdict: Mutex<Option<Result<(), rustls::Error>>>,
    cert: Mutex<Option<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let v = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            .map(|_| ());
        if let Ok(mut g) = self.verdict.lock() {
            *g = Some(v);
        }
        if let Ok(mut g) = self.cert.lock() {
            *g = Some(end_entity.clone().into_owned());
        }
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Read every certificate of a PEM file; errors name the file.
pub(crate) fn read_pem_certs(
    path: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not a PEM certificate file ({e:?})"))?;
    if certs.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(certs)
}

pub struct RustlsProber {
    extra: Vec<CertificateDer<'static>>,
    /// The host's roots plus `--ca-file`, loaded on the first TLS probe (not at start-up).
    system: std::sync::OnceLock<(Arc<RootCertStore>, Option<String>)>,
    cluster: Option<Arc<RootCertStore>>,
    /// The cluster CA the cluster-info ConfigMap carried in this run (`Trust::Discovered`).
    discovered: Mutex<Option<Arc<RootCertStore>>>,
    /// Connections `request` keeps open for the next request to the same host (at most one a
    /// host, [`MAX_IDLE`] in all).
    idle: Mutex<std::collections::HashMap<(SocketAddr, String, Trust), HttpConn>>,
}

/// The most idle connections kept (the pull needs one: the registry's).
const MAX_IDLE: usize = 16;

impl RustlsProber {
    fn keep_idle(&self, key: (SocketAddr, String, Trust), conn: HttpConn) {
        if let Ok(mut p) = self.idle.lock() {
            if p.len() < MAX_IDLE || p.contains_key(&key) {
                p.insert(key, conn);
            }
        }
    }
}

impl RustlsProber {
    /// System roots plus `extra` (from --ca-file); `cluster` (from --cluster-ca) for the API server.
    pub fn new(
        extra: &[CertificateDer<'static>],
        cluster: &[CertificateDer<'static>],
    ) -> RustlsProber {
        let cluster = (!cluster.is_empty()).then(|| {
            let mut s = RootCertStore::empty();
            s.add_parsable_certificates(cluster.iter().cloned());
            Arc::new(s)
        });
        RustlsProber {
            extra: extra.to_vec(),
            system: std::sync::OnceLock::new(),
            cluster,
            discovered: Mutex::new(None),
            idle: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Load the host's roots now (before probes start), so no TLS probe pays for reading them.
    pub(crate) fn preload(&self) {
        let _ = self.system_roots();
    }

    fn system_roots(&self) -> &(Arc<RootCertStore>, Option<String>) {
        self.system.get_or_init(|| {
            let mut system = RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            let (added, _) = system.add_parsable_certificates(native.certs);
            let (extra_added, _) = system.add_parsable_certificates(self.extra.iter().cloned());
            let note = (added + extra_added == 0)
                .then(|| "no trusted root certificates found on this host".to_string());
            (Arc::new(system), note)
        })
    }
}

fn cert_info(der: &CertificateDer<'_>) -> Option<CertInfo> {
    let (_, c) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let mut names = vec![];
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => {
                    names.push(crate::text::clean(d, 253));
                }
                x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                    4 => names.push(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(b);
                        names.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    names.truncate(16);
    Some(CertInfo {
        // certificate text is attacker-chosen (an intercepting proxy): cleaned before any printer sees it
        subject: crate::text::clean(&c.subject().to_string(), 300),
        issuer: crate::text::clean(&c.issuer().to_string(), 300),
        not_before: c.validity().not_before.to_string(),
        not_after: c.validity().not_after.to_string(),
        window_s: Some((
            c.validity().not_before.timestamp(),
            c.validity().not_after.timestamp(),
        )),
        names,
    })
}

fn trust_failure(e: &rustls::Error, name: &str) -> TrustFailure {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            TrustFailure::UnknownIssuer
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => TrustFailure::WrongName(name.to_string()),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => TrustFailure::Expired,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => TrustFailure::NotYetValid,
        other => TrustFailure::Other(other.to_string()),
    }
}

/// One `GET path` over an established stream; only the response head is read (at most 16 KiB).
/// The caller bounds it in time.
pub async fn http_get<S>(stream: S, host: &str, path: &str) -> Result<HttpAnswer, HttpFailure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let req = HttpRequest {
        method: "GET",
        path: path.to_string(),
        headers: vec![],
        read: 0,
    };
    let far = tokio::time::Instant::now() + Duration::from_hours(1);
    let r = http_request(stream, host, req, 0, 200, far).await?;
    Ok(HttpAnswer {
        status: r.status,
        headers: r.headers,
    })
}

impl RustlsProber {
    /// TCP connect and TLS handshake (SNI `name`, or the address), recording the certificate and
    /// whether it verified against the roots `trust` picks. Bounded by `timeout`.
    async fn handshake(
        &self,
        addr: SocketAddr,
        name: Option<&str>,
        trust: Trust,
        timeout: Duration,
    ) -> Result<
        (
            tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
            TlsSession,
        ),
        TlsFailure,
    > {
        let start = Instant::now();
        let ms = crate::clock::ms;
        let discovered = self.discovered.lock().ok().and_then(|d| d.clone());
        let roots = match (trust, &self.cluster, discovered) {
            (Trust::ClusterCa, Some(c), _) => c.clone(),
            (Trust::Discovered, _, Some(d)) => d,
            _ => self.system_roots().0.clone(),
        };
        let inner = match WebPkiServerVerifier::builder_with_provider(
            roots,
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        {
            Ok(v) => v,
            Err(e) => {
                // an empty root store: still handshake, every chain is then "unknown issuer"
                let note = self
                    .system_roots()
                    .1
                    .clone()
                    .unwrap_or_else(|| e.to_string());
                return Err(TlsFailure::Handshake(format!(
                    "cannot build a verifier: {note}"
                )));
            }
        };
        let recorder = Arc::new(Recorder {
            inner,
            verdict: Mutex::new(None),
            cert: Mutex::new(None),
        });
        let config = match rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        {
            Ok(b) => b
                .dangerous()
                .with_custom_certificate_verifier(recorder.clone())
                .with_no_client_auth(),
            Err(e) => return Err(TlsFailure::Handshake(e.to_string())),
        };
        let server_name: ServerName<'static> =
            match name.map(|n| ServerName::try_from(n.to_string())) {
                Some(Ok(n)) => n,
                _ => ServerName::IpAddress(addr.ip().into()),
            };
        let shown = name.map_or_else(|| addr.ip().to_string(), String::from);
        let tcp = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(TlsFailure::Connect(
                    crate::probe::tcp::TcpFailure::TimedOut(ms(timeout)),
                ))
            }
            Ok(Err(e)) => return Err(TlsFailure::Connect(super::errno::tcp_failure(&e))),
            Ok(Ok(s)) => s,
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let left = timeout.saturating_sub(start.elapsed());
        let stream = match tokio::time::timeout(left, connector.connect(server_name, tcp)).await {
            Err(_) => return Err(TlsFailure::Timeout(ms(timeout))),
            Ok(Err(e)) => return Err(TlsFailure::Handshake(e.to_string())),
            Ok(Ok(s)) => s,
        };
        let version = stream.get_ref().1.protocol_version().map_or_else(
            || "TLS".into(),
            |v| format!("{v:?}").replace("TLSv1_", "TLSv1."),
        );
        let cert = recorder
            .cert
            .lock()
            .ok()
            .and_then(|g| g.as_ref().and_then(cert_info));
        let verdict = recorder.verdict.lock().ok().and_then(|g| g.clone());
        let trust_failure = match verdict {
            Some(Ok(())) => None,
            Some(Err(e)) => Some(trust_failure(&e, &shown)),
            None => Some(TrustFailure::Other(
                "the server presented no certificate".into(),
            )),
        };
        let session = TlsSession {
            version,
            cert,
            trust_failure,
        };
        Ok((stream, session))
    }
}

/// An HTTP/1.1 connection over an established TLS stream, kept open between the requests of one
/// host (the pull's challenge, manifests and blob to the registry: a TCP and TLS handshake saved
/// per request, two or three round trips each on a long line).
pub(crate) struct HttpConn {
    sender: hyper::client::conn::http1::SendRequest<String>,
    driver: tokio::task::JoinHandle<()>,
    mss: Option<u32>,
}

impl Drop for HttpConn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Open an HTTP/1.1 connection over `stream` (the head limited to [`MAX_HTTP_HEAD`]).
async fn http_open<S>(stream: S, mss: Option<u32>) -> Result<HttpConn, HttpFailure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HTTP_HEAD.max(8192))
        .handshake::<_, String>(io)
        .await
        .map_err(|e| HttpFailure::Other(e.to_string()))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(HttpConn {
        sender,
        driver,
        mss,
    })
}

/// One request on an open connection: the head (header values cut at `header_cap` characters)
/// and at most `max_body` bytes of the body kept, `req.read` received. The caller bounds it in
/// time; `deadline` ends the body's read (a stall is said, not an error). The flag: the body was
/// read to its end, so the connection can carry another request.
async fn http_send(
    conn: &mut HttpConn,
    host: &str,
    req: HttpRequest,
    max_body: usize,
    header_cap: usize,
    deadline: tokio::time::Instant,
    body_grace: Option<Duration>,
) -> Result<(HttpReply, bool), HttpFailure> {
    use hyper::body::Body as _;
    let mut b = hyper::Request::builder()
        .method(req.method)
        .uri(req.path.as_str())
        .header("host", host)
        .header(
            "user-agent",
            concat!("ack-edge-preflight/", env!("CARGO_PKG_VERSION")),
        );
    for (k, v) in &req.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let request = b
        .body(String::new())
        .map_err(|e| HttpFailure::Other(e.to_string()))?;
    conn.sender
        .ready()
        .await
        .map_err(|e| HttpFailure::Other(e.to_string()))?;
    let resp = conn.sender.send_request(request).await.map_err(|e| {
        let t = e.to_string();
        if e.is_parse() {
            HttpFailure::Malformed(t)
        } else {
            HttpFailure::Other(t)
        }
    })?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .take(MAX_HEADERS)
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                crate::text::clean(&String::from_utf8_lossy(v.as_bytes()), header_cap),
            )
        })
        .collect();
    let mut body = resp.into_body();
    let mut bytes = vec![];
    let want = req.read.max(max_body);
    let (mut received, mut stalled_ms, mut ended) = (0usize, None, false);
    let head = tokio::time::Instant::now();
    // a head-only probe waits for the rest of a short body briefly (to keep the connection)
    let deadline = body_grace.map_or(deadline, |g| deadline.min(head + g));
    let mut last = head;
    while received < want {
        let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx));
        match tokio::time::timeout_at(deadline, next).await {
            Err(_) => {
                // the body stopped before it ended: how long nothing came
                stalled_ms = Some(crate::clock::ms(last.elapsed()));
                break;
            }
            Ok(Some(Ok(f))) => {
                if let Ok(d) = f.into_data() {
                    received += d.len();
                    last = tokio::time::Instant::now();
                    let take = d.len().min(max_body.saturating_sub(bytes.len()));
                    bytes.extend_from_slice(&d[..take]);
                }
            }
            Ok(Some(Err(e))) => return Err(HttpFailure::Other(e.to_string())),
            Ok(None) => {
                ended = true;
                break;
            }
        }
    }
    let reusable = ended || body.is_end_stream();
    Ok((
        HttpReply {
            status,
            headers,
            body: bytes,
            received,
            stalled_ms,
            body_ms: crate::clock::ms(head.elapsed()),
            mss: conn.mss,
        },
        reusable,
    ))
}

/// One request over an established stream, the connection dropped after it.
async fn http_request<S>(
    stream: S,
    host: &str,
    req: HttpRequest,
    max_body: usize,
    header_cap: usize,
    deadline: tokio::time::Instant,
) -> Result<HttpReply, HttpFailure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = http_open(stream, None).await?;
    http_send(&mut conn, host, req, max_body, header_cap, deadline, None)
        .await
        .map(|(r, _)| r)
}

#[async_trait]
impl TlsProber for RustlsProber {
    fn adopt_cluster_ca(&self, ca_der: Vec<u8>) -> bool {
        let mut s = RootCertStore::empty();
        let (added, _) = s.add_parsable_certificates([CertificateDer::from(ca_der)]);
        if added == 0 {
            return false;
        }
        if let Ok(mut d) = self.discovered.lock() {
            *d = Some(Arc::new(s));
            return true;
        }
        false
    }

    async fn request(
        &self,
        addr: SocketAddr,
        name: &str,
        trust: Trust,
        req: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpReply, PullFailure> {
        let start = Instant::now();
        let key = (addr, name.to_string(), trust);
        // a connection this host kept open after an earlier request (the registry's)
        let pooled = self.idle.lock().ok().and_then(|mut p| p.remove(&key));
        if let Some(mut conn) = pooled {
            let deadline = tokio::time::Instant::now() + timeout;
            let sent = http_send(&mut conn, name, req.clone(), MAX_BODY, 2048, deadline, None);
            match tokio::time::timeout(timeout + Duration::from_millis(50), sent).await {
                Ok(Ok((reply, reusable))) => {
                    if reusable {
                        self.keep_idle(key, conn);
                    }
                    return Ok(reply);
                }
                // closed by the server while idle: a new connection below
                Ok(Err(_)) => {}
                Err(_) => {
                    return Err(PullFailure::NoAnswer {
                        ms: crate::clock::ms(timeout),
                        mss: conn.mss,
                    })
                }
            }
        }
        let (stream, session) = self
            .handshake(
                addr,
                Some(name),
                trust,
                timeout.saturating_sub(start.elapsed()),
            )
            .await
            .map_err(PullFailure::Tls)?;
        // discovery asks without trusting the certificate (as kubeadm's token discovery does; the
        // answer's CA is judged instead); every other request needs a verified one
        match (session.trust_failure, trust) {
            (Some(t), Trust::System | Trust::ClusterCa | Trust::Discovered) => {
                return Err(PullFailure::Untrusted(t.to_string()))
            }
            (Some(_), Trust::EvidenceOnly) | (None, _) => {}
        }
        let left = timeout
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(100));
        let mss =
            nix::sys::socket::getsockopt(stream.get_ref().0, nix::sys::socket::sockopt::TcpMaxSeg)
                .ok();
        let deadline = tokio::time::Instant::now() + left;
        // the head within the time left; the body until then (a stall is said, not an error)
        let exchange = async {
            let mut conn = http_open(stream, mss).await?;
            let (reply, reusable) =
                http_send(&mut conn, name, req, MAX_BODY, 2048, deadline, None).await?;
            Ok::<_, HttpFailure>((reply, reusable.then_some(conn)))
        };
        match tokio::time::timeout(left + Duration::from_millis(50), exchange).await {
            Err(_) => Err(PullFailure::NoAnswer {
                ms: crate::clock::ms(timeout),
                mss,
            }),
            Ok(Err(e)) => Err(PullFailure::Http(e.to_string())),
            Ok(Ok((reply, conn))) => {
                if let Some(conn) = conn {
                    self.keep_idle(key, conn);
                }
                Ok(reply)
            }
        }
    }

    async fn probe(
        &self,
        addr: SocketAddr,
        name: Option<&str>,
        trust: Trust,
        http: Option<HttpExpect>,
        timeout: Duration,
    ) -> TlsOutcome {
        let start = Instant::now();
        let ms = crate::clock::ms;
        let (stream, session) = match self.handshake(addr, name, trust, timeout).await {
            Ok(x) => x,
            Err(e) => {
                return TlsOutcome {
                    session: Err(e),
                    http: None,
                }
            }
        };
        // the connection may serve the pull's first request to this host after the row's GET
        // (`request` takes it from the idle ones): only when `request` would accept its session
        let poolable = match (&session.trust_failure, trust) {
            (None, _) | (Some(_), Trust::EvidenceOnly) => name.map(String::from),
            (Some(_), Trust::System | Trust::ClusterCa | Trust::Discovered) => None,
        };
        let http = match http {
            None => None,
            Some(expect) => {
                let left = timeout
                    .saturating_sub(start.elapsed())
                    .max(Duration::from_millis(100));
                let host = name.map_or_else(|| addr.ip().to_string(), String::from);
                let req = HttpRequest {
                    method: "GET",
                    path: expect.path().to_string(),
                    headers: vec![],
                    read: 4096,
                };
                let deadline = tokio::time::Instant::now() + left;
                let exchange = async {
                    let mut conn = http_open(stream, None).await?;
                    let grace = Some(Duration::from_millis(100));
                    let (r, reusable) =
                        http_send(&mut conn, &host, req, 0, 200, deadline, grace).await?;
                    Ok::<_, HttpFailure>((r, reusable.then_some(conn)))
                };
                Some(match tokio::time::timeout(left, exchange).await {
                    Err(_) => Err(HttpFailure::Timeout(ms(timeout))),
                    Ok(Err(e)) => Err(e),
                    Ok(Ok((r, conn))) => {
                        if let (Some(conn), Some(n)) = (conn, poolable) {
                            self.keep_idle((addr, n, trust), conn);
                        }
                        Ok(HttpAnswer {
                            status: r.status,
                            headers: r.headers,
                        })
                    }
                })
            }
        };
        TlsOutcome {
            session: Ok(session),
            http,
        }
    }
}
