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
use crate::result::{CheckResult, Finding};

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
                    | PullFailure::Unavailable(_) => None,
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
            format!("HTTPS GET of one blob of {} with Range: bytes=0-15, redirects not followed; the redirect's host: DNS, route, then HTTPS GET with the same Range", self.reference()),
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
        let target = format!("{}/{}", self.registry, self.reference());
        let row =
            |id: ReqId, f: Finding| ctx.row(id, &target, Some(reg.to_string()), f, start.elapsed());
        let after = |cause: ReqId, why: &str| {
            Finding::skip_by(
                &Plain(Phase::Pull, ErrorClass::Incomplete),
                format!("not probed: {why}"),
            )
            .caused_by(CausedBy::new(cause, target.clone(), Some(reg.to_string())))
        };
        // pull.auth decided the pull cannot go on: the rows after it say why, caused by it
        let stop = |f: Finding, why: &str| {
            vec![
                row(ReqId::PullAuth, f),
                row(ReqId::PullManifest, after(ReqId::PullAuth, why)),
                row(ReqId::PullBlob, after(ReqId::PullAuth, why)),
            ]
        };
        let mut rows = vec![];
        // 1. the registry's challenge
        let challenge = match self
            .at(ctx, reg, &self.registry, get("/v2/".into(), vec![]))
            .await
        {
            Err(u) => {
                let f = Finding::skip_by(
                    &u.failure,
                    format!(
                        "not probed: the registry did not answer ({}); see {} and {}",
                        u.words,
                        ReqId::TcpRegistry,
                        ReqId::TlsRegistry
                    ),
                )
                .caused_by(CausedBy::new(
                    ReqId::TlsRegistry,
                    s.target.clone(),
                    Some(reg.to_string()),
                ));
                return vec![
                    row(ReqId::PullAuth, f.clone()),
                    row(ReqId::PullManifest, f.clone()),
                    row(ReqId::PullBlob, f),
                ];
            }
            Ok(r) => r.reply,
        };
        let mut auth: Vec<(String, String)> = vec![];
        if challenge.status == 401 {
            let Some(c) = challenge
                .header("www-authenticate")
                .and_then(pull::parse_challenge)
            else {
                let f = Finding::warn_by(&Plain(Phase::Pull, ErrorClass::WrongService), "the registry's 401 names no Bearer token service (Www-Authenticate); a pull cannot be followed further");
                return stop(f, "no token service");
            };
            let Some(realm) = pull::parse_url(&c.realm) else {
                let f = Finding::warn_by(
                    &Plain(Phase::Pull, ErrorClass::Malformed),
                    format!(
                        "the token service's realm is not an https URL: {}",
                        crate::text::clean(&c.realm, 200)
                    ),
                );
                return stop(f, "no token service");
            };
            let what = format!(
                "the registry's token service {} (realm {})",
                realm.host,
                crate::text::clean(&c.realm, 200)
            );
            let path = pull::token_path(&realm, &c, &self.repository);
            let f = match self.named(ctx, &realm, get(path, vec![])).await {
                Err(u) => unreachable(&format!("{what} cannot be reached over the line"), &u),
                Ok(r) => match (r.reply.status, pull::token_of(&r.reply.body)) {
                    (200, Some(token)) => {
                        auth.push(("authorization".into(), format!("Bearer {token}")));
                        Finding::pass(format!(
                            "{what} at {} gave an anonymous pull token for {}",
                            r.addr, self.repository
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
                            self.repository
                        ),
                        status,
                        &r.reply.body,
                    ),
                },
            }
            .evidence(&PullEvidence {
                realm: Some(crate::text::clean(&c.realm, 200)),
                token_host: Some(realm.host.clone()),
                ..PullEvidence::default()
            });
            if f.status != crate::result::Status::Pass {
                return stop(f, "no pull token");
            }
            rows.push(row(ReqId::PullAuth, f));
        } else {
            rows.push(row(ReqId::PullAuth, Finding::pass(format!("the registry answers /v2/ with HTTP {} without a token: anonymous access, no token service", challenge.status))));
        }
        // 2. the manifest (and the platform manifest of an index)
        let mut headers = auth.clone();
        headers.push(("accept".into(), MANIFEST_TYPES.into()));
        let mut reference = self.tag.clone();
        let mut blob = None;
        let mut manifest_f = None;
        for _ in 0..2 {
            let path = format!("/v2/{}/manifests/{reference}", self.repository);
            match self
                .at(ctx, reg, &self.registry, get(path, headers.clone()))
                .await
            {
                Err(u) => {
                    manifest_f = Some(unreachable(
                        "the registry stopped answering for the manifest",
                        &u,
                    ));
                    break;
                }
                Ok(r) if r.reply.status == 200 => match pull::next_of(&r.reply.body) {
                    Some(Next::Manifest(d)) => reference = d,
                    Some(Next::Blob(d)) => {
                        let digest = r
                            .reply
                            .header("docker-content-digest")
                            .unwrap_or("")
                            .to_string();
                        manifest_f = Some(
                            Finding::pass(format!(
                                "manifest of {} read with the token ({} bytes{})",
                                self.reference(),
                                r.reply.body.len(),
                                if digest.is_empty() {
                                    String::new()
                                } else {
                                    format!(", {digest}")
                                }
                            ))
                            .evidence(&PullEvidence {
                                manifest_digest: Some(digest),
                                ..PullEvidence::default()
                            }),
                        );
                        blob = Some(d);
                        break;
                    }
                    None => {
                        manifest_f = Some(Finding::warn_by(
                            &Plain(Phase::Pull, ErrorClass::Malformed),
                            format!(
                                "the manifest of {} names no blob this agent can read",
                                self.reference()
                            ),
                        ));
                        break;
                    }
                },
                Ok(r) => {
                    manifest_f = Some(pull::refused(
                        &format!("manifest of {}", self.reference()),
                        r.reply.status,
                        &r.reply.body,
                    ));
                    break;
                }
            }
        }
        let manifest_f = manifest_f.unwrap_or_else(|| {
            Finding::warn_by(
                &Plain(Phase::Pull, ErrorClass::Malformed),
                "an index points to another index: not followed further",
            )
        });
        rows.push(row(ReqId::PullManifest, manifest_f));
        let Some(digest) = blob else {
            rows.push(row(
                ReqId::PullBlob,
                after(ReqId::PullManifest, "no blob named"),
            ));
            return rows;
        };
        // 3. one blob, redirects not followed
        let mut headers = auth;
        headers.push(("range".into(), "bytes=0-15".into()));
        let path = format!("/v2/{}/blobs/{digest}", self.repository);
        let f = match self.at(ctx, reg, &self.registry, get(path, headers)).await {
            Err(u) => unreachable("the registry stopped answering for the blob", &u),
            Ok(r) => match r.reply.status {
                200 | 206 => Finding::pass(format!("blob {digest} is served by the registry itself (HTTP {})", r.reply.status)),
                301 | 302 | 303 | 307 | 308 => match r.reply.header("location").and_then(pull::parse_url) {
                    None => Finding::warn_by(&Plain(Phase::Pull, ErrorClass::Malformed), format!("blob {digest}: HTTP {} to a location this agent does not follow (not an absolute https URL)", r.reply.status)),
                    Some(loc) => {
                        let status = r.reply.status;
                        let req = get(loc.path.clone(), vec![("range".into(), "bytes=0-15".into())]);
                        match self.named(ctx, &loc, req).await {
                            Err(u) => unreachable(&format!("blob requests are redirected (HTTP {status}) to the storage host {}, which cannot be reached over the line", loc.host), &u),
                            Ok(s2) if matches!(s2.reply.status, 200 | 206) => Finding::pass(format!("blob {digest} is redirected (HTTP {status}) to the storage host {}, which answers at {} (HTTP {})", loc.host, s2.addr, s2.reply.status)),
                            Ok(s2) => pull::refused(&format!("the storage host {} answers the redirected blob request", loc.host), s2.reply.status, &s2.reply.body),
                        }
                        .evidence(&PullEvidence {
                            storage_host: Some(loc.host.clone()),
                            ..PullEvidence::default()
                        })
                    }
                },
                status => pull::refused(&format!("blob {digest}"), status, &r.reply.body),
            },
        };
        rows.push(row(
            ReqId::PullBlob,
            f.evidence(&PullEvidence {
                blob: Some(digest),
                ..PullEvidence::default()
            }),
        ));
        rows
    }
}
