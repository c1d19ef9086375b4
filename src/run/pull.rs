//! Following the pull (rows `pull.auth`, `pull.manifest`, `pull.blob`): the registry's 401 names
//! the token service; its host is resolved, routed and reached like every endpoint, and asked for
//! an anonymous pull token; with it the manifest of the pause image, then a few bytes of one blob
//! with redirects not followed; the redirect's host gets the same checks. Read-only and bounded:
//! at most six requests, each within the probe timeout, the whole inside the run's deadline.

use std::net::{IpAddr, SocketAddr};

use crate::evidence::CausedBy;
use crate::probe::pull::PullEvidence;
use async_trait::async_trait;
use tokio::time::Instant;

use super::step::{Step, StepKind};
use super::{Ctx, Flow};
use crate::cause::{ErrorClass, Phase, Plain};
use crate::ids::ReqId;
use crate::probe::pull::{self, HttpReply, HttpRequest, Next, PullFailure, Url};
use crate::probe::tcp::TcpFailure;
use crate::probe::tls::{TlsFailure, Trust};
use crate::result::{CheckResult, Finding, Status};

/// Accept headers of a pull (what containerd sends).
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The image to follow.
pub(crate) struct PullFollow {
    pub registry: String,
    pub repository: String,
    pub tag: String,
}

/// A host of the pull that answered, and where it is.
struct Reached {
    reply: HttpReply,
    addr: SocketAddr,
}

/// Why a host of the pull was not reached, in words (with where it breaks), and the failure.
struct Unreached {
    words: String,
    failure: PullFailure,
    located: Option<super::Located>,
}

impl PullFollow {
    fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// One request to `host` at `addr` (already resolved and routed).
    async fn at(
        &self,
        ctx: &Ctx<'_, '_>,
        addr: SocketAddr,
        host: &str,
        req: HttpRequest,
    ) -> Result<Reached, Unreached> {
        match ctx
            .net
            .tls
            .request(addr, host, Trust::System, req, ctx.cfg.timeout)
            .await
        {
            Ok(reply) => Ok(Reached { reply, addr }),
            Err(failure) => {
                let located = match &failure {
                    PullFailure::Tls(TlsFailure::Connect(
                        TcpFailure::TimedOut(_) | TcpFailure::Unreachable(_),
                    )) => ctx.locate(addr, Flow::Tcp).await,
                    PullFailure::Tls(TlsFailure::Connect(TcpFailure::RejectedBy {
                        from,
                        what,
                    })) => {
                        ctx.locate_after(addr, Flow::Tcp, Some((*from, what.clone())))
                            .await
                    }
                    PullFailure::Tls(
                        TlsFailure::Connect(
                            TcpFailure::Refused
                            | TcpFailure::LocalBlocked(_)
                            | TcpFailure::Other(_),
                        )
                        | TlsFailure::Handshake(_)
                        | TlsFailure::Timeout(_),
                    )
                    | PullFailure::Dns { .. }
                    | PullFailure::Route { .. }
                    | PullFailure::Untrusted(_)
                    | PullFailure::Http(_)
                    | PullFailure::NoAnswer { .. }
                    | PullFailure::Unavailable(_)
                    | PullFailure::NotFollowed(_) => None,
                };
                let mut words = format!("{host} ({addr}): {failure}");
                if let Some(l) = &located {
                    words = format!("{words}; {}", l.words);
                }
                Err(Unreached {
                    words,
                    failure,
                    located,
                })
            }
        }
    }

    /// A host named by the registry (token service, storage host): resolved through the node's
    /// resolver, routed, then the request.
    async fn named(
        &self,
        ctx: &Ctx<'_, '_>,
        url: &Url,
        req: HttpRequest,
    ) -> Result<Reached, Unreached> {
        let ip: IpAddr = match url.host.parse() {
            Ok(ip) => ip,
            Err(_) => match ctx.resolve_now(&url.host).await {
                Ok(a) if !a.is_empty() => IpAddr::V4(a[0]),
                Ok(_) => return Err(dns_failure(&url.host, "no A record".into())),
                Err(e) => return Err(dns_failure(&url.host, e.to_string())),
            },
        };
        // the registry's answer does not send the agent to loopback, link-local (a metadata
        // service), this node's own address or a non-unicast one
        if let Some(why) = ctx.not_followed(ip).await {
            let failure = PullFailure::NotFollowed(why);
            return Err(Unreached {
                words: format!("{}: {failure}", crate::text::clean(&url.host, 100)),
                failure,
                located: None,
            });
        }
        if let Err(e) = ctx.net.routes.route_to(ip).await {
            let failure = PullFailure::Route {
                ip: ip.to_string(),
                why: e.to_string(),
            };
            return Err(Unreached {
                words: format!("{}: {failure}", url.host),
                failure,
                located: None,
            });
        }
        self.at(ctx, SocketAddr::new(ip, url.port), &url.host, req)
            .await
    }
}

fn dns_failure(host: &str, why: String) -> Unreached {
    let failure = PullFailure::Dns {
        host: host.to_string(),
        why,
    };
    Unreached {
        words: failure.to_string(),
        failure,
        located: None,
    }
}

fn get(path: String, headers: Vec<(String, String)>) -> HttpRequest {
    HttpRequest {
        method: "GET",
        path,
        headers,
        read: pull::MAX_BODY,
    }
}

/// A blob request: the first [`pull::BLOB_READ`] bytes, read through.
fn get_blob(path: String, mut headers: Vec<(String, String)>) -> HttpRequest {
    headers.push(("range".into(), format!("bytes=0-{}", pull::BLOB_READ - 1)));
    HttpRequest {
        read: pull::BLOB_READ,
        ..get(path, headers)
    }
}

/// A blob request to `host` whose handshake passed and whose answer never came: the server hangs,
/// or its large packets vanish on the way (the answer's first full-size segments); both said.
fn blob_unanswered(what: &str, host: &str, u: &Unreached) -> Finding {
    let PullFailure::NoAnswer { ms, mss } = &u.failure else {
        return unreachable(what, u);
    };
    let mss = mss_words(*mss);
    Finding::fail_by(
        &u.failure,
        format!(
            "{what}: the TLS handshake with {host} passed, then no answer to the blob request within {ms} ms: large packets from {host} vanish — a path-MTU black hole toward it{mss} — or the host accepts and does not answer; a real pull stalls the same way"
        ),
    )
    .fix(black_hole_fix(
        host,
        &format!("if {host} answers other clients, it is the path."),
    ))
}

/// " (MSS 1460 on this connection)", when the MSS was read.
fn mss_words(mss: Option<u32>) -> String {
    mss.map_or_else(String::new, |m| format!(" (MSS {m} on this connection)"))
}

/// The fix for large packets vanishing toward `host`, then `next`.
fn black_hole_fix(host: &str, next: &str) -> String {
    format!("Find the smaller link toward {host}: clamp TCP MSS on the line's router or firewall, or let ICMP fragmentation-needed (type 3 code 4) back to the node; {next}")
}

/// A blob's bytes that came (200/206 from `host`): PASS when they came through or the blob ended;
/// a stall after the handshake is what large packets vanishing looks like (a path-MTU black hole),
/// said with the MSS — or a path that drops most packets. Bytes that kept coming, only slowly (the
/// last of them less than half the read ago), are a trickle, not a stall: said with the rate.
fn blob_read(what: &str, host: &str, r: &Reached) -> Finding {
    let got = r.reply.received;
    match r.reply.stalled_ms {
        None => Finding::pass(format!(
            "{what} (HTTP {}, {got} bytes read)",
            r.reply.status
        )),
        Some(ms) if got > 0 && ms.saturating_mul(2) < r.reply.body_ms => {
            let read = r.reply.body_ms.max(1);
            let rate = (got as u64).saturating_mul(1000) / read;
            Finding::fail_by(
                &Plain(Phase::Pull, ErrorClass::Slow),
                format!(
                    "{what}, but the blob trickles: {got} of {} bytes in {read} ms ({rate} B/s), still coming {ms} ms before the deadline: {host} ({}) sends slowly, or the line toward it is throttled; a real pull of megabytes at this rate does not finish",
                    pull::BLOB_READ,
                    r.addr.ip()
                ),
            )
            .fix(format!("Compare with another client's download from {host}; if it is as slow, ask the storage host's owner (for Alibaba Cloud's registry, a ticket with the registry's region); if only this line is slow, its bandwidth or policer."))
        }
        // more than a full-size segment's worth came: large packets do pass this path, so the
        // stall is the sender pausing (a rate limit's bursts) or loss, not a path-MTU black hole
        Some(ms) if r.reply.mss.is_some_and(|m| got > m as usize) => Finding::fail_by(
            &Plain(Phase::Pull, ErrorClass::Slow),
            format!(
                "{what}, but the blob stalled: {got} of {} bytes came, then nothing for {ms} ms; more than a full-size segment came (MSS {}), so large packets from {host} ({}) do pass: it sends slowly or in bursts (a rate limit), or the path drops most packets now; a real pull of megabytes stalls the same way",
                pull::BLOB_READ,
                r.reply.mss.unwrap_or(0),
                r.addr.ip()
            ),
        )
        .fix(format!("Download from {host} with another client over this line (curl, with a longer timeout): steady but slow is the host's or the line's rate limit; bursts then silence is loss — see the loss rows toward it.")),
        Some(ms) => {
            let mss = mss_words(r.reply.mss);
            Finding::fail_by(
                &Plain(Phase::Mtu, ErrorClass::PmtuBlackHole),
                format!(
                    "{what}, but the blob stalled: {got} of {} bytes came, then nothing for {ms} ms: large packets from {host} ({}) vanish — a path-MTU black hole toward it{mss}, or a path that drops most packets; a real pull moves megabytes and stalls the same way",
                    pull::BLOB_READ,
                    r.addr.ip()
                ),
            )
            .fix(black_hole_fix(host, "then pull again."))
        }
    }
}

/// A host of the pull that cannot be reached over the line: FAIL, by the failure's own phase.
fn unreachable(what: &str, u: &Unreached) -> Finding {
    let f = Finding::fail_by(
        &u.failure,
        format!(
            "{what}: {}; kubelet's pulls fail although the registry itself answers",
            u.words
        ),
    );
    match &u.located {
        Some(l) => l.annotate_details(f),
        None => f,
    }
}

/// The registry pointed the pull where the agent does not go (`pull::not_followed`): said as what
/// the registry did, a FAIL (a real pull would go there too, or fail).
fn not_followed(what: &str, u: &Unreached) -> Finding {
    Finding::fail_by(
        &u.failure,
        format!(
            "{what}: {} — the registry's answer points where this agent does not go (it contacts only the documented endpoints, those you name, and the hosts the registry's answers point to on 443, never loopback, link-local or this node's own addresses)",
            u.words
        ),
    )
}

#[async_trait]
impl StepKind for PullFollow {
    fn name(&self) -> &'static str {
        "pull"
    }
    fn packets(&self, s: &Step, _: &str) -> Vec<String> {
        let r = &self.registry;
        vec![
            format!("HTTPS GET https://{r}/v2/ to {} (the 401 names the token service)", s.addr_text()),
            format!("HTTPS GET of the realm's token URL for repository:{}:pull (anonymous), after DNS and a route lookup of its host", self.repository),
            format!("HTTPS GET https://{r}/v2/{}/manifests/{} with the token (at most 64 KiB read; once more for a platform manifest of an index)", self.repository, self.tag),
            format!("HTTPS GET of the largest blob of {} with Range: bytes=0-{} (read through, a stall timed), redirects not followed; the redirect's host: DNS, route, then HTTPS GET with the same Range", self.reference(), pull::BLOB_READ - 1),
        ]
    }
    async fn run(&self, ctx: &Ctx<'_, '_>, s: &Step) -> Vec<CheckResult> {
        ctx.fan_out(s, |ip| async move { self.follow(ctx, s, ip).await })
            .await
    }
}

impl PullFollow {
    async fn follow(&self, ctx: &Ctx<'_, '_>, s: &Step, ip: IpAddr) -> Vec<CheckResult> {
        let start = Instant::now();
        let reg = SocketAddr::new(ip, 443);
        let links = Links {
            target: format!("{}/{}", self.registry, self.reference()),
            registry: reg.to_string(),
            tls_target: s.target.clone(),
        };
        let hosts = Live {
            image: self,
            ctx,
            reg,
        };
        steps(&hosts, self, &links)
            .await
            .into_iter()
            .map(|(id, f)| {
                ctx.row(
                    id,
                    &links.target,
                    Some(links.registry.clone()),
                    f,
                    start.elapsed(),
                )
            })
            .collect()
    }
}

/// The hosts of one pull, one request at a time: the registry at the address being followed, and
/// the hosts its answers name (token service, storage host). The seam the unit tests fake.
#[async_trait]
trait PullHosts: Sync {
    /// One request to the registry.
    async fn registry(&self, req: HttpRequest) -> Result<Reached, Unreached>;
    /// One request to a host the registry named: resolved, routed, then asked.
    async fn named(&self, url: &Url, req: HttpRequest) -> Result<Reached, Unreached>;
}

/// The hosts over the node's own network, resolver and routes.
struct Live<'p, 'c, 'a, 'n> {
    image: &'p PullFollow,
    ctx: &'c Ctx<'a, 'n>,
    reg: SocketAddr,
}

#[async_trait]
impl PullHosts for Live<'_, '_, '_, '_> {
    async fn registry(&self, req: HttpRequest) -> Result<Reached, Unreached> {
        self.image
            .at(self.ctx, self.reg, &self.image.registry, req)
            .await
    }
    async fn named(&self, url: &Url, req: HttpRequest) -> Result<Reached, Unreached> {
        self.image.named(self.ctx, url, req).await
    }
}

/// What the pull's rows are about and link to.
struct Links {
    /// `registry/repository:tag`, the rows' target.
    target: String,
    /// The registry address being followed.
    registry: String,
    /// The target of the `tls.registry` row of that address.
    tls_target: String,
}

impl Links {
    /// A row not probed because an earlier step of this pull stopped.
    fn after(&self, cause: ReqId, why: &str) -> Finding {
        Finding::skip_by(
            &Plain(Phase::Pull, ErrorClass::Incomplete),
            format!("not probed: {why}"),
        )
        .caused_by(CausedBy::new(
            cause,
            self.target.clone(),
            Some(self.registry.clone()),
        ))
    }
    /// `pull.auth` decided the pull cannot go on: the rows after it say why, caused by it.
    fn stop(&self, f: Finding, why: &str) -> Vec<(ReqId, Finding)> {
        vec![
            (ReqId::PullAuth, f),
            (ReqId::PullManifest, self.after(ReqId::PullAuth, why)),
            (ReqId::PullBlob, self.after(ReqId::PullAuth, why)),
        ]
    }
}

/// The pull's steps in order: challenge, token service, manifest, blob (and its storage host).
async fn steps(h: &dyn PullHosts, img: &PullFollow, l: &Links) -> Vec<(ReqId, Finding)> {
    let challenge = match h.registry(get("/v2/".into(), vec![])).await {
        Ok(r) => r.reply,
        Err(u) => return registry_silent(&u, l),
    };
    let (auth_f, auth) = match token(h, img, &challenge).await {
        Ok(x) => x,
        Err((f, why)) => return l.stop(f, why),
    };
    let mut rows = vec![(ReqId::PullAuth, auth_f)];
    let (manifest_f, blob_digest) = manifest(h, img, &auth).await;
    rows.push((ReqId::PullManifest, manifest_f));
    let f = match blob_digest {
        Some(d) => blob(h, img, auth, &d).await.evidence(&PullEvidence {
            blob: Some(d),
            ..PullEvidence::default()
        }),
        None => l.after(ReqId::PullManifest, "no blob named"),
    };
    rows.push((ReqId::PullBlob, f));
    rows
}

/// The registry did not answer its `/v2/` at all: the tcp/tls rows of the address say why.
fn registry_silent(u: &Unreached, l: &Links) -> Vec<(ReqId, Finding)> {
    let did = match u.failure {
        PullFailure::Http(_) => "the registry's answer to /v2/ could not be read",
        PullFailure::Dns { .. }
        | PullFailure::Route { .. }
        | PullFailure::Tls(_)
        | PullFailure::Untrusted(_)
        | PullFailure::NoAnswer { .. }
        | PullFailure::Unavailable(_)
        | PullFailure::NotFollowed(_) => "the registry did not answer",
    };
    let f = Finding::skip_by(
        &u.failure,
        format!(
            "not probed: {did} ({}); see {} and {}",
            u.words,
            ReqId::TcpRegistry,
            ReqId::TlsRegistry
        ),
    )
    .caused_by(CausedBy::new(
        ReqId::TlsRegistry,
        l.tls_target.clone(),
        Some(l.registry.clone()),
    ));
    vec![
        (ReqId::PullAuth, f.clone()),
        (ReqId::PullManifest, f.clone()),
        (ReqId::PullBlob, f),
    ]
}

/// Step 1–2: the registry's challenge, then its token service. Ok: the `pull.auth` row and the
/// headers that authorise the next requests; Err: the row, and why the pull stops there.
async fn token(
    h: &dyn PullHosts,
    img: &PullFollow,
    challenge: &HttpReply,
) -> Result<(Finding, Vec<(String, String)>), (Finding, &'static str)> {
    if challenge.status != 401 {
        return Ok((Finding::pass(format!("the registry answers /v2/ with HTTP {} without a token: anonymous access, no token service", challenge.status)), vec![]));
    }
    let Some(c) = challenge
        .header("www-authenticate")
        .and_then(pull::parse_challenge)
    else {
        let f = Finding::warn_by(&Plain(Phase::Pull, ErrorClass::WrongService), "the registry's 401 names no Bearer token service (Www-Authenticate); a pull cannot be followed further");
        return Err((f, "no token service"));
    };
    let shown_realm = crate::text::clean(&c.realm, 200);
    let Some(realm) = pull::parse_url(&c.realm) else {
        let f = Finding::warn_by(
            &Plain(Phase::Pull, ErrorClass::Malformed),
            format!("the token service's realm is not an https URL: {shown_realm}"),
        );
        return Err((f, "no token service"));
    };
    let what = format!(
        "the registry's token service {} (realm {shown_realm})",
        realm.host
    );
    let path = pull::token_path(&realm, &c, &img.repository);
    let mut auth = vec![];
    let f = match h.named(&realm, get(path, vec![])).await {
        Err(
            u @ Unreached {
                failure: PullFailure::NotFollowed(_),
                ..
            },
        ) => not_followed(&what, &u),
        Err(u) => unreachable(&format!("{what} cannot be reached over the line"), &u),
        Ok(r) => match (r.reply.status, pull::token_of(&r.reply.body)) {
            (200, Some(token)) => {
                auth.push(("authorization".into(), format!("Bearer {token}")));
                Finding::pass(format!(
                    "{what} at {} gave an anonymous pull token for {}",
                    r.addr, img.repository
                ))
                .evidence(&PullEvidence {
                    token_address: Some(r.addr.to_string()),
                    ..PullEvidence::default()
                })
            }
            (200, None) => Finding::warn_by(
                &Plain(Phase::Pull, ErrorClass::Malformed),
                format!("{what} answered 200 without a token"),
            ),
            (status, _) => pull::refused(
                &format!(
                    "{what} refuses an anonymous pull token for {}",
                    img.repository
                ),
                status,
                &r.reply.body,
            ),
        },
    }
    .evidence(&PullEvidence {
        realm: Some(shown_realm),
        token_host: Some(realm.host.clone()),
        ..PullEvidence::default()
    });
    match f.status {
        Status::Pass => Ok((f, auth)),
        Status::Warn | Status::Fail | Status::Skip => Err((f, "no pull token")),
    }
}

/// Step 3: the manifest, and the platform manifest when it is an index. The `pull.manifest` row
/// and the digest of the blob to fetch.
async fn manifest(
    h: &dyn PullHosts,
    img: &PullFollow,
    auth: &[(String, String)],
) -> (Finding, Option<String>) {
    let mut headers = auth.to_vec();
    headers.push(("accept".into(), MANIFEST_TYPES.into()));
    let mut reference = img.tag.clone();
    for _ in 0..2 {
        let path = format!("/v2/{}/manifests/{reference}", img.repository);
        let r = match h.registry(get(path, headers.clone())).await {
            Err(u) => {
                return (
                    unreachable("the registry stopped answering for the manifest", &u),
                    None,
                )
            }
            Ok(r) => r,
        };
        if r.reply.status != 200 {
            let f = pull::refused(
                &format!("manifest of {}", img.reference()),
                r.reply.status,
                &r.reply.body,
            );
            return (f, None);
        }
        match pull::next_of(&r.reply.body) {
            Some(Next::Manifest(d)) => reference = d,
            Some(Next::Blob(d)) => return (manifest_read(img, &r.reply), Some(d)),
            None => {
                let f = Finding::warn_by(
                    &Plain(Phase::Pull, ErrorClass::Malformed),
                    format!(
                        "the manifest of {} names no blob this agent can read",
                        img.reference()
                    ),
                );
                return (f, None);
            }
        }
    }
    let f = Finding::warn_by(
        &Plain(Phase::Pull, ErrorClass::Malformed),
        "an index points to another index: not followed further",
    );
    (f, None)
}

fn manifest_read(img: &PullFollow, reply: &HttpReply) -> Finding {
    // escaped here too: the header is the registry's text
    let digest = crate::text::clean(reply.header("docker-content-digest").unwrap_or(""), 140);
    let shown = if digest.is_empty() {
        String::new()
    } else {
        format!(", {digest}")
    };
    Finding::pass(format!(
        "manifest of {} read with the token ({} bytes{shown})",
        img.reference(),
        reply.body.len()
    ))
    .evidence(&PullEvidence {
        manifest_digest: Some(digest),
        ..PullEvidence::default()
    })
}

/// Step 4: a few bytes of one blob, redirects not followed; a redirect's storage host is checked
/// like the token service. The `pull.blob` row.
async fn blob(
    h: &dyn PullHosts,
    img: &PullFollow,
    headers: Vec<(String, String)>,
    digest: &str,
) -> Finding {
    let path = format!("/v2/{}/blobs/{digest}", img.repository);
    let r = match h.registry(get_blob(path, headers)).await {
        Err(u) => {
            return blob_unanswered(
                "the registry stopped answering for the blob",
                &img.registry,
                &u,
            )
        }
        Ok(r) => r,
    };
    let status = r.reply.status;
    match status {
        200 | 206 => blob_read(
            &format!("blob {digest} is served by the registry itself"),
            &img.registry,
            &r,
        ),
        301 | 302 | 303 | 307 | 308 => match r.reply.header("location").and_then(pull::parse_url) {
            None => Finding::warn_by(&Plain(Phase::Pull, ErrorClass::Malformed), format!("blob {digest}: HTTP {status} to a location this agent does not follow (not an absolute https URL)")),
            Some(loc) => storage(h, loc, digest, status).await,
        },
        _ => pull::refused(&format!("blob {digest}"), status, &r.reply.body),
    }
}

/// Step 5: the storage host a blob request was redirected to (with HTTP `status`), and the hosts it
/// redirects to in turn — at most [`pull::MAX_REDIRECTS`] in all, as Go's client (containerd's)
/// follows them; a location seen before is a loop, said as one. Each host is checked like the
/// token service (never loopback, link-local, this node, or plain HTTP).
async fn storage(h: &dyn PullHosts, first: Url, digest: &str, status: u16) -> Finding {
    let mut seen: Vec<String> = vec![];
    let mut loc = first;
    let mut status = status;
    let f = loop {
        seen.push(url_text(&loc));
        let req = get_blob(loc.path.clone(), vec![]);
        let host = &loc.host;
        let redirected = if seen.len() == 1 {
            format!("blob requests are redirected (HTTP {status}) to the storage host {host}")
        } else {
            format!(
                "blob requests are redirected {} times (last HTTP {status}, {}) to {host}",
                seen.len(),
                chain_text(&seen)
            )
        };
        match h.named(&loc, req).await {
            Err(
                u @ Unreached {
                    failure: PullFailure::NoAnswer { .. },
                    ..
                },
            ) => break blob_unanswered(&redirected, host, &u),
            Err(
                u @ Unreached {
                    failure: PullFailure::NotFollowed(_),
                    ..
                },
            ) => {
                // the storage host's path MTU is not measured toward where the agent does not go
                return not_followed(&redirected, &u).evidence(&PullEvidence {
                    redirects: redirects_of(&seen),
                    ..PullEvidence::default()
                });
            }
            Err(u) => {
                break unreachable(
                    &format!("{redirected}, which cannot be reached over the line"),
                    &u,
                )
            }
            Ok(s) if matches!(s.reply.status, 200 | 206) => {
                break blob_read(
                    &format!(
                        "blob {digest} is {}, which answers at {}",
                        redirected.trim_start_matches("blob requests are "),
                        s.addr
                    ),
                    host,
                    &s,
                )
            }
            Ok(s) if matches!(s.reply.status, 301 | 302 | 303 | 307 | 308) => {
                let Some(next) = s.reply.header("location").and_then(pull::parse_url) else {
                    break Finding::warn_by(&Plain(Phase::Pull, ErrorClass::Malformed), format!("{redirected}, which answers HTTP {} to a location this agent does not follow (not an absolute https URL)", s.reply.status));
                };
                status = s.reply.status;
                let text = url_text(&next);
                if seen.contains(&text) {
                    seen.push(text);
                    break Finding::fail_by(&Plain(Phase::Pull, ErrorClass::Misconfigured), format!("blob {digest}: a redirect loop ({}): a real pull fails after {} redirects the same way", chain_text(&seen), pull::MAX_REDIRECTS)).fix("The registry's storage redirects point back to themselves: a misconfigured storage front or proxy; ask its owner, with this chain.");
                }
                if seen.len() >= pull::MAX_REDIRECTS {
                    seen.push(text);
                    break Finding::fail_by(&Plain(Phase::Pull, ErrorClass::Misconfigured), format!("blob {digest}: more than {} redirects ({}): a real pull stops there the same way", pull::MAX_REDIRECTS, chain_text(&seen))).fix("The registry's storage redirects do not end: a misconfigured storage front or proxy; ask its owner, with this chain.");
                }
                loc = next;
            }
            Ok(s) => {
                break pull::refused(
                    &format!("the storage host {host} answers the redirected blob request"),
                    s.reply.status,
                    &s.reply.body,
                )
            }
        }
    };
    f.evidence(&PullEvidence {
        storage_host: Some(loc.host.clone()),
        redirects: redirects_of(&seen),
        ..PullEvidence::default()
    })
}

/// `details.redirects`: how many redirects a blob request went through, when more than one.
fn redirects_of(seen: &[String]) -> Option<u32> {
    (seen.len() > 1).then(|| u32::try_from(seen.len()).unwrap_or(u32::MAX))
}

/// A URL of a redirect, as said (host, port when not 443, path cut; escaped).
fn url_text(u: &Url) -> String {
    let port = if u.port == 443 {
        String::new()
    } else {
        format!(":{}", u.port)
    };
    crate::text::clean(&format!("https://{}{port}{}", u.host, u.path), 120)
}

/// A redirect chain as said: the first few locations, arrows between.
fn chain_text(seen: &[String]) -> String {
    if seen.len() <= 4 {
        return seen.join(" → ");
    }
    format!(
        "{} → … → {}",
        seen[..2].join(" → "),
        seen[seen.len() - 2..].join(" → ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A registry, token service and storage host as tables: (host, path prefix) → answer.
    #[derive(Default)]
    struct Fake {
        answers: Vec<(&'static str, &'static str, Result<HttpReply, &'static str>)>,
        asked: Mutex<Vec<(String, HttpRequest)>>,
    }

    fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Result<HttpReply, &'static str> {
        Ok(HttpReply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            received: body.len(),
            stalled_ms: None,
            body_ms: 0,
            mss: None,
        })
    }

    impl Fake {
        async fn answer(&self, host: &str, req: HttpRequest) -> Result<Reached, Unreached> {
            // each answer takes a round trip on the paused clock
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let found = self
                .answers
                .iter()
                .find(|(h, p, _)| *h == host && req.path.starts_with(p))
                .map(|(_, _, a)| a.clone());
            self.asked.lock().unwrap().push((host.to_string(), req));
            let addr: SocketAddr = "198.18.0.9:443".parse().unwrap();
            let why = match found {
                Some(Ok(reply)) => return Ok(Reached { reply, addr }),
                Some(Err(why)) => why,
                None => "no such path",
            };
            let failure = if why == "no answer" {
                PullFailure::NoAnswer {
                    ms: 1000,
                    mss: Some(1460),
                }
            } else {
                PullFailure::Tls(TlsFailure::Connect(TcpFailure::TimedOut(1000)))
            };
            Err(Unreached {
                words: format!("{host} ({addr}): {why}"),
                failure,
                located: None,
            })
        }
    }

    #[async_trait]
    impl PullHosts for Fake {
        async fn registry(&self, req: HttpRequest) -> Result<Reached, Unreached> {
            self.answer("registry", req).await
        }
        async fn named(&self, url: &Url, req: HttpRequest) -> Result<Reached, Unreached> {
            // the live guard, against this fake node's own address
            if let Ok(ip) = url.host.parse::<IpAddr>() {
                if let Some(why) = pull::not_followed(ip, &["10.0.0.10".parse().unwrap()]) {
                    let failure = PullFailure::NotFollowed(why);
                    return Err(Unreached {
                        words: format!("{}: {failure}", url.host),
                        failure,
                        located: None,
                    });
                }
            }
            self.answer(&url.host, req).await
        }
    }

    fn image() -> PullFollow {
        PullFollow {
            registry: "registry".into(),
            repository: "acs/pause".into(),
            tag: "3.9".into(),
        }
    }

    fn links() -> Links {
        Links {
            target: "registry/acs/pause:3.9".into(),
            registry: "198.18.0.9:443".into(),
            tls_target: "registry".into(),
        }
    }

    const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const PLATFORM: &str =
        "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn manifest_body() -> String {
        format!(r#"{{"schemaVersion":2,"config":{{"digest":"{DIGEST}"}},"layers":[]}}"#)
    }

    fn index_body() -> String {
        format!(
            r#"{{"manifests":[{{"digest":"{PLATFORM}","platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
        )
    }

    fn statuses(rows: &[(ReqId, Finding)]) -> Vec<(ReqId, Status)> {
        rows.iter().map(|(id, f)| (*id, f.status)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_anonymous_registry_serving_its_blobs_passes_every_step() {
        let m = manifest_body();
        let fake = Fake {
            answers: vec![
                (
                    "registry",
                    "/v2/acs/pause/manifests/3.9",
                    reply(200, &[], Box::leak(m.into_boxed_str())),
                ),
                (
                    "registry",
                    "/v2/acs/pause/blobs/",
                    reply(206, &[], "0123456789abcdef"),
                ),
                ("registry", "/v2/", reply(200, &[], "{}")),
            ],
            ..Fake::default()
        };
        let rows = steps(&fake, &image(), &links()).await;
        assert_eq!(
            statuses(&rows),
            [
                (ReqId::PullAuth, Status::Pass),
                (ReqId::PullManifest, Status::Pass),
                (ReqId::PullBlob, Status::Pass)
            ]
        );
        assert!(rows[2].1.message.contains("served by the registry itself"));
        let asked = fake.asked.lock().unwrap();
        assert!(asked
            .iter()
            .all(|(h, r)| h == "registry" && !r.headers.iter().any(|(k, _)| k == "authorization")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_an_index_and_a_redirect_are_followed_to_the_storage_host() {
        let idx = Box::leak(index_body().into_boxed_str());
        let m = Box::leak(manifest_body().into_boxed_str());
        let fake = Fake {
            answers: vec![
                (
                    "registry",
                    "/v2/acs/pause/manifests/3.9",
                    reply(200, &[], idx),
                ),
                (
                    "registry",
                    "/v2/acs/pause/manifests/sha256:bbb",
                    reply(200, &[("docker-content-digest", PLATFORM)], m),
                ),
                (
                    "registry",
                    "/v2/acs/pause/blobs/",
                    reply(307, &[("location", "https://oss.lab.test/blob?sig=1")], ""),
                ),
                (
                    "registry",
                    "/v2/",
                    reply(
                        401,
                        &[(
                            "www-authenticate",
                            r#"Bearer realm="https://auth.lab.test/token",service="registry""#,
                        )],
                        "",
                    ),
                ),
                (
                    "auth.lab.test",
                    "/token",
                    reply(200, &[], r#"{"token":"t0k"}"#),
                ),
                ("oss.lab.test", "/blob", reply(206, &[], "0123456789abcdef")),
            ],
            ..Fake::default()
        };
        let rows = steps(&fake, &image(), &links()).await;
        assert_eq!(
            statuses(&rows),
            [
                (ReqId::PullAuth, Status::Pass),
                (ReqId::PullManifest, Status::Pass),
                (ReqId::PullBlob, Status::Pass)
            ],
            "{rows:#?}"
        );
        let pe = |i: usize| rows[i].1.details.read::<PullEvidence>().unwrap();
        assert_eq!(pe(0).token_host.as_deref(), Some("auth.lab.test"));
        assert_eq!(pe(1).manifest_digest.as_deref(), Some(PLATFORM));
        assert_eq!(pe(2).storage_host.as_deref(), Some("oss.lab.test"));
        assert_eq!(pe(2).blob.as_deref(), Some(DIGEST));
        let asked = fake.asked.lock().unwrap();
        let token_sent = |h: &str| {
            asked
                .iter()
                .filter(|(x, r)| x == h && r.path != "/v2/")
                .all(|(_, r)| {
                    r.headers
                        .iter()
                        .any(|(k, v)| k == "authorization" && v == "Bearer t0k")
                })
        };
        assert!(
            asked
                .iter()
                .any(|(h, r)| h == "auth.lab.test" && r.path.contains("scope=repository")),
            "{asked:?}"
        );
        assert!(
            token_sent("registry"),
            "manifest and blob requests carry the token: {asked:?}"
        );
        assert!(
            !token_sent("oss.lab.test"),
            "the token is not sent to the storage host"
        );
        assert!(asked.iter().filter(|(h, _)| h == "registry").count() == 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_token_service_fails_auth_and_stops_the_pull() {
        let fake = Fake {
            answers: vec![
                (
                    "registry",
                    "/v2/",
                    reply(
                        401,
                        &[(
                            "www-authenticate",
                            r#"Bearer realm="https://auth.lab.test/token""#,
                        )],
                        "",
                    ),
                ),
                ("auth.lab.test", "/token", Err("timed out")),
            ],
            ..Fake::default()
        };
        let rows = steps(&fake, &image(), &links()).await;
        assert_eq!(
            statuses(&rows),
            [
                (ReqId::PullAuth, Status::Fail),
                (ReqId::PullManifest, Status::Skip),
                (ReqId::PullBlob, Status::Skip)
            ]
        );
        assert!(
            rows[0]
                .1
                .message
                .contains("cannot be reached over the line"),
            "{}",
            rows[0].1.message
        );
        let cause = rows[1].1.details.caused_by.as_ref().unwrap();
        assert_eq!(cause.id, ReqId::PullAuth.as_str());
    }

    #[tokio::test(start_paused = true)]
    async fn a_401_without_a_bearer_challenge_warns_and_stops() {
        let fake = Fake {
            answers: vec![(
                "registry",
                "/v2/",
                reply(401, &[("www-authenticate", "Basic realm=x")], ""),
            )],
            ..Fake::default()
        };
        let rows = steps(&fake, &image(), &links()).await;
        assert_eq!(rows[0].1.status, Status::Warn);
        assert_eq!(rows[0].1.details.error, Some(ErrorClass::WrongService));
        assert_eq!(rows[2].1.status, Status::Skip);
        assert_eq!(
            fake.asked.lock().unwrap().len(),
            1,
            "nothing after the challenge"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_storage_host_out_of_reach_fails_the_blob_only() {
        let m = Box::leak(manifest_body().into_boxed_str());
        let fake = Fake {
            answers: vec![
                (
                    "registry",
                    "/v2/acs/pause/manifests/3.9",
                    reply(200, &[], m),
                ),
                (
                    "registry",
                    "/v2/acs/pause/blobs/",
                    reply(302, &[("location", "https://oss.lab.test/b")], ""),
                ),
                ("registry", "/v2/", reply(200, &[], "")),
                ("oss.lab.test", "/b", Err("timed out")),
            ],
            ..Fake::default()
        };
        let rows = steps(&fake, &image(), &links()).await;
        assert_eq!(
            statuses(&rows),
            [
                (ReqId::PullAuth, Status::Pass),
                (ReqId::PullManifest, Status::Pass),
                (ReqId::PullBlob, Status::Fail)
            ]
        );
        assert!(rows[2].1.message.contains("storage host oss.lab.test"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_registry_skips_every_row_under_its_tls_row() {
        let fake = Fake::default();
        let rows = steps(&fake, &image(), &links()).await;
        assert!(rows.iter().all(|(_, f)| f.status == Status::Skip));
        let c = rows[0].1.details.caused_by.as_ref().unwrap();
        assert_eq!(c.id, ReqId::TlsRegistry.as_str());
        assert_eq!(c.target.as_deref(), Some("registry"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_blob_that_stalls_after_the_handshake_is_a_black_hole_toward_its_host() {
        let m = Box::leak(manifest_body().into_boxed_str());
        let mut stalled = reply(206, &[], "0123456789abcdef");
        if let Ok(r) = &mut stalled {
            r.received = 900;
            r.stalled_ms = Some(800);
            r.mss = Some(1460);
        }
        let fake = Fake {
            answers: vec![
                (
                    "registry",
                    "/v2/acs/pause/manifests/3.9",
                    reply(200, &[], m),
                ),
                (
                    "registry",
                    "/v2/acs/pause/blobs/",
                    reply(307, &[("location", "https://oss.lab.test/b")], ""),
                ),
                ("registry", "/v2/", reply(200, &[], "")),
                ("oss.lab.test", "/b", stalled),
            ],
            ..Fake::default()
        };
        let rows = steps(&fake, &image(), &links()).await;
        let blob = &rows[2].1;
        assert_eq!(blob.status, Status::Fail, "{}", blob.message);
        assert_eq!(blob.details.error, Some(ErrorClass::PmtuBlackHole));
        assert!(
            blob.message
                .contains("900 of 131072 bytes came, then nothing for 800 ms"),
            "{}",
            blob.message
        );
        assert!(
            blob.message.contains("large packets from oss.lab.test"),
            "{}",
            blob.message
        );
        assert!(blob.message.contains("MSS 1460"), "{}", blob.message);
        // the agent asks for enough bytes to need full-size segments, from the registry and the host
        let asked = fake.asked.lock().unwrap();
        let blob_reqs: Vec<&HttpRequest> = asked
            .iter()
            .filter(|(_, r)| r.path.contains("/blobs/") || r.path == "/b")
            .map(|(_, r)| r)
            .collect();
        assert_eq!(blob_reqs.len(), 2);
        for r in blob_reqs {
            assert_eq!(r.read, pull::BLOB_READ);
            assert!(
                r.headers
                    .contains(&("range".to_string(), "bytes=0-131071".to_string())),
                "{r:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_storage_host_that_never_answers_after_the_handshake_says_both_explanations() {
        let m = Box::leak(manifest_body().into_boxed_str());
        let fake = Fake {
            answers: vec![
                (
                    "registry",
                    "/v2/acs/pause/manifests/3.9",
                    reply(200, &[], m),
                ),
                (
                    "registry",
                    "/v2/acs/pause/blobs/",
                    reply(307, &[("location", "https://oss.lab.test/b")], ""),
                ),
                ("registry", "/v2/", reply(200, &[], "")),
                ("oss.lab.test", "/b", Err("no answer")),
            ],
            ..Fake::default()
        };
        let rows = steps(&fake, &image(), &links()).await;
        let blob = &rows[2].1;
        assert_eq!(blob.status, Status::Fail);
        assert!(
            blob.message
                .contains("the TLS handshake with oss.lab.test passed"),
            "{}",
            blob.message
        );
        assert!(
            blob.message
                .contains("large packets from oss.lab.test vanish"),
            "{}",
            blob.message
        );
        assert!(
            blob.message
                .contains("or the host accepts and does not answer"),
            "{}",
            blob.message
        );
        assert!(
            !blob.message.contains("cannot be reached"),
            "{}",
            blob.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_redirect_to_plain_http_is_not_followed() {
        let m = Box::leak(manifest_body().into_boxed_str());
        let fake = Fake {
            answers: vec![
                (
                    "registry",
                    "/v2/acs/pause/manifests/3.9",
                    reply(200, &[], m),
                ),
                (
                    "registry",
                    "/v2/acs/pause/blobs/",
                    reply(307, &[("location", "http://oss.lab.test/b")], ""),
                ),
                ("registry", "/v2/", reply(200, &[], "")),
            ],
            ..Fake::default()
        };
        let rows = steps(&fake, &image(), &links()).await;
        assert_eq!(rows[2].1.status, Status::Warn);
        assert!(!fake
            .asked
            .lock()
            .unwrap()
            .iter()
            .any(|(h, _)| h == "oss.lab.test"));
    }

    /// A registry serving its manifest and redirecting its blob to `location`, then `more`.
    fn redirecting(
        location: &'static str,
        more: Vec<(&'static str, &'static str, Result<HttpReply, &'static str>)>,
    ) -> Fake {
        let m = Box::leak(manifest_body().into_boxed_str());
        let mut answers = vec![
            (
                "registry",
                "/v2/acs/pause/manifests/3.9",
                reply(200, &[], m),
            ),
            (
                "registry",
                "/v2/acs/pause/blobs/",
                reply(307, &[("location", location)], ""),
            ),
            ("registry", "/v2/", reply(200, &[], "")),
        ];
        answers.extend(more);
        Fake {
            answers,
            ..Fake::default()
        }
    }

    fn storage_asked(fake: &Fake) -> Vec<String> {
        fake.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|(h, _)| h != "registry")
            .map(|(h, r)| format!("{h}{}", r.path))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_redirect_loop_is_said_as_one_and_ends() {
        let fake = redirecting(
            "https://oss.lab.test/a",
            vec![
                (
                    "oss.lab.test",
                    "/a",
                    reply(302, &[("location", "https://oss2.lab.test/b")], ""),
                ),
                (
                    "oss2.lab.test",
                    "/b",
                    reply(302, &[("location", "https://oss.lab.test/a")], ""),
                ),
            ],
        );
        let rows = steps(&fake, &image(), &links()).await;
        let blob = &rows[2].1;
        assert_eq!(blob.status, Status::Fail, "{}", blob.message);
        assert_eq!(blob.details.error, Some(ErrorClass::Misconfigured));
        assert!(
            blob.message.contains("a redirect loop (https://oss.lab.test/a → https://oss2.lab.test/b → https://oss.lab.test/a)"),
            "{}",
            blob.message
        );
        assert_eq!(storage_asked(&fake).len(), 2, "each location asked once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_redirect_chain_is_followed_to_its_end_and_cut_after_ten() {
        // three hops, then the bytes: followed, the chain said
        let mut more = vec![];
        for i in 0..3 {
            let next: &'static str =
                Box::leak(format!("https://s{}.lab.test/b", i + 1).into_boxed_str());
            let host: &'static str = Box::leak(format!("s{i}.lab.test").into_boxed_str());
            more.push((host, "/b", reply(302, &[("location", next)], "")));
        }
        more.push(("s3.lab.test", "/b", reply(206, &[], "0123")));
        let fake = redirecting("https://s0.lab.test/b", more);
        let rows = steps(&fake, &image(), &links()).await;
        let blob = &rows[2].1;
        assert_eq!(blob.status, Status::Pass, "{}", blob.message);
        assert!(
            blob.message.contains("redirected 4 times"),
            "{}",
            blob.message
        );
        let pe = blob.details.read::<PullEvidence>().unwrap();
        assert_eq!(pe.storage_host.as_deref(), Some("s3.lab.test"));
        assert_eq!(pe.redirects, Some(4));

        // a chain that does not end: cut after MAX_REDIRECTS, as containerd's client cuts it
        let mut more = vec![];
        for i in 0..30 {
            let next: &'static str =
                Box::leak(format!("https://s{}.lab.test/b", i + 1).into_boxed_str());
            let host: &'static str = Box::leak(format!("s{i}.lab.test").into_boxed_str());
            more.push((host, "/b", reply(302, &[("location", next)], "")));
        }
        let fake = redirecting("https://s0.lab.test/b", more);
        let rows = steps(&fake, &image(), &links()).await;
        let blob = &rows[2].1;
        assert_eq!(blob.status, Status::Fail, "{}", blob.message);
        assert!(
            blob.message.contains("more than 10 redirects"),
            "{}",
            blob.message
        );
        assert_eq!(storage_asked(&fake).len(), pull::MAX_REDIRECTS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_chain_into_link_local_loopback_or_this_node_is_not_followed() {
        for (to, says) in [
            ("https://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://127.0.0.1/b", "loopback"),
            ("https://10.0.0.10/b", "this node's own address"),
        ] {
            let fake = redirecting(
                "https://oss.lab.test/a",
                vec![("oss.lab.test", "/a", reply(302, &[("location", to)], ""))],
            );
            let rows = steps(&fake, &image(), &links()).await;
            let blob = &rows[2].1;
            assert_eq!(blob.status, Status::Fail, "{}", blob.message);
            assert!(blob.message.contains(says), "{}", blob.message);
            assert!(blob.message.contains("does not go"), "{}", blob.message);
            assert_eq!(
                storage_asked(&fake),
                ["oss.lab.test/a"],
                "{to} is never asked"
            );
            // and the storage host's MTU row is not measured toward it
            let pe = blob.details.read::<PullEvidence>().unwrap();
            assert_eq!(pe.storage_host, None, "{to}");
        }
        // a redirect to plain http from a storage host: not followed either
        let fake = redirecting(
            "https://oss.lab.test/a",
            vec![(
                "oss.lab.test",
                "/a",
                reply(302, &[("location", "http://oss.lab.test/a")], ""),
            )],
        );
        let rows = steps(&fake, &image(), &links()).await;
        assert_eq!(rows[2].1.status, Status::Warn, "{}", rows[2].1.message);
        assert_eq!(storage_asked(&fake).len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_storage_host_that_trickles_is_slow_not_a_black_hole() {
        let mut trickle = reply(206, &[], "0123456789").unwrap();
        trickle.stalled_ms = Some(400);
        trickle.body_ms = 1900;
        let fake = redirecting(
            "https://oss.lab.test/a",
            vec![("oss.lab.test", "/a", Ok(trickle))],
        );
        let rows = steps(&fake, &image(), &links()).await;
        let blob = &rows[2].1;
        assert_eq!(blob.status, Status::Fail, "{}", blob.message);
        assert_eq!(blob.details.error, Some(ErrorClass::Slow));
        assert!(
            blob.message
                .contains("trickles: 10 of 131072 bytes in 1900 ms (5 B/s)"),
            "{}",
            blob.message
        );
        assert!(!blob.message.contains("black hole"), "{}", blob.message);
    }

    #[tokio::test(start_paused = true)]
    async fn hostile_challenges_stop_the_pull_with_what_the_registry_sent() {
        let long_realm: &'static str = Box::leak(
            format!("Bearer realm=\"https://{}/token\"", "a".repeat(100_000)).into_boxed_str(),
        );
        for (challenge, says) in [
            (
                "Bearer realm=\"https://auth.lab.test/token",
                "names no Bearer token service",
            ),
            (long_realm, "not an https URL"),
            (
                "Bearer realm=\"http://auth.lab.test/token\"",
                "not an https URL: http://auth.lab.test/token",
            ),
            (
                "Bearer realm=\"https://169.254.169.254/token\"",
                "link-local",
            ),
        ] {
            let fake = Fake {
                answers: vec![(
                    "registry",
                    "/v2/",
                    reply(401, &[("www-authenticate", challenge)], ""),
                )],
                ..Fake::default()
            };
            let rows = steps(&fake, &image(), &links()).await;
            let auth = &rows[0].1;
            assert_ne!(auth.status, Status::Pass, "{}", &auth.message);
            assert!(
                auth.message.contains(says),
                "{says}: {}",
                &auth.message[..auth.message.len().min(300)]
            );
            assert!(
                auth.message.len() < 1000,
                "the row is bounded: {} bytes",
                auth.message.len()
            );
            assert_eq!(
                fake.asked.lock().unwrap().len(),
                1,
                "only the challenge was asked"
            );
            assert_eq!(rows[2].1.status, Status::Skip);
        }
    }

    /// Escape sequences in every field of the pull a peer shapes — the realm, a redirect's
    /// location, a refusal's body, the manifest's digest header — reach neither a row nor the
    /// table view raw.
    #[tokio::test(start_paused = true)]
    async fn escape_sequences_from_the_pull_path_reach_the_table_view_escaped() {
        let esc = "\x1b]0;pwned\x07\x1b[2J";
        let realm: &'static str =
            Box::leak(format!("Bearer realm=\"https://auth.lab.test/t{esc}\"").into_boxed_str());
        let digest: &'static str = Box::leak(format!("sha256:{esc}").into_boxed_str());
        let location: &'static str =
            Box::leak(format!("https://oss.lab.test/b{esc}").into_boxed_str());
        let refusal: &'static str = Box::leak(format!("{{\"errors\":\"{esc}\"}}").into_boxed_str());
        let m = Box::leak(manifest_body().into_boxed_str());
        let fake = Fake {
            answers: vec![
                (
                    "registry",
                    "/v2/acs/pause/manifests/3.9",
                    reply(200, &[("docker-content-digest", digest)], m),
                ),
                (
                    "registry",
                    "/v2/acs/pause/blobs/",
                    reply(307, &[("location", location)], ""),
                ),
                (
                    "registry",
                    "/v2/",
                    reply(401, &[("www-authenticate", realm)], ""),
                ),
                ("auth.lab.test", "/t", reply(200, &[], r#"{"token":"abc"}"#)),
                ("oss.lab.test", "/b", reply(403, &[], refusal)),
            ],
            ..Fake::default()
        };
        let rows = steps(&fake, &image(), &links()).await;
        assert_eq!(rows[2].1.status, Status::Warn, "{}", rows[2].1.message);
        let results: Vec<CheckResult> = rows
            .into_iter()
            .map(|(id, f)| CheckResult {
                id: id.as_str().into(),
                category: "pull".into(),
                title: id.as_str().into(),
                target: "registry/acs/pause:3.9".into(),
                address: None,
                status: f.status,
                message: f.message,
                remediation: f.fix.unwrap_or_default(),
                source: String::new(),
                duration_ms: 0,
                details: f.details,
                waived: None,
            })
            .collect();
        for r in &results {
            let json = serde_json::to_string(r).unwrap();
            assert!(
                !r.message.contains('\x1b') && !json.contains("\\u001b"),
                "{} raw: {json}",
                r.id
            );
        }
        let report = crate::result::Report {
            schema_version: crate::result::SCHEMA_VERSION,
            tool: crate::result::ToolInfo {
                name: "ack-edge-preflight".into(),
                version: "0".into(),
            },
            started_at: String::new(),
            duration_ms: 0,
            host: crate::result::HostInfo::default(),
            target: crate::result::TargetInfo {
                region: "cn-hangzhou".into(),
                cni: "flannel".into(),
                apiserver: None,
            },
            options: crate::result::RunOptions::default(),
            summary: crate::result::Summary::of(&results, false),
            waivers: vec![],
            results,
        };
        let plain = crate::report::Style {
            all: true,
            ..crate::report::Style::PLAIN
        };
        for style in [
            plain,
            crate::report::Style {
                color: true,
                ..plain
            },
        ] {
            let table = crate::report::render(&report, crate::report::Format::Table, style);
            assert!(
                !table.contains('\x07') && !table.contains("\x1b]0;") && !table.contains("\x1b[2J"),
                "{table}"
            );
            assert!(
                table.contains("pwned"),
                "the text is shown, escaped: {table}"
            );
            if !style.color {
                assert!(!table.contains('\x1b'), "{table}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_after_full_size_segments_came_is_not_called_a_black_hole() {
        let mut burst = reply(206, &[], "0123456789").unwrap();
        burst.received = 1764;
        burst.stalled_ms = Some(998);
        burst.body_ms = 1000;
        burst.mss = Some(1448);
        let fake = redirecting(
            "https://oss.lab.test/a",
            vec![("oss.lab.test", "/a", Ok(burst))],
        );
        let rows = steps(&fake, &image(), &links()).await;
        let blob = &rows[2].1;
        assert_eq!(blob.status, Status::Fail, "{}", blob.message);
        assert_eq!(blob.details.error, Some(ErrorClass::Slow));
        assert!(
            blob.message
                .contains("(MSS 1448), so large packets from oss.lab.test (198.18.0.9) do pass"),
            "{}",
            blob.message
        );
        assert!(
            blob.message.contains("or the path drops most packets"),
            "both explanations: {}",
            blob.message
        );
        assert!(!blob.message.contains("black hole"), "{}", blob.message);
    }
}
