//! DNS through hickory-resolver: the system configuration, or `--dns-server IP`.

// Foreign enums: hickory's error and record enums are #[non_exhaustive]: what this layer does not classify is
// "no records" or an error in words, by design.
#![allow(clippy::wildcard_enum_match_arm)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::TokioResolver;

use crate::net::Resolver;
use crate::probe::dns::DnsFailure;
use crate::probe::loss::Exchange;

pub struct HickoryResolver {
    inner: Option<TokioResolver>,
    /// A second resolver for the retransmission at half the timeout (its own queries, so the
    /// first query's late answer and the retry's answer are both accepted).
    retry: Option<TokioResolver>,
    servers: Vec<String>,
    config_error: Option<String>,
    timeout: Duration,
}

impl HickoryResolver {
    /// `server`: ask this server (UDP, then TCP for truncated answers); None: /etc/resolv.conf.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> HickoryResolver {
        let built = match server {
            Some(sa) => {
                let mut ns = NameServerConfig::udp_and_tcp(sa.ip());
                for c in &mut ns.connections {
                    c.port = sa.port();
                }
                let cfg = ResolverConfig::from_parts(None, vec![], vec![ns]);
                Ok((cfg, ResolverOpts::default()))
            }
            None => hickory_resolver::system_conf::read_system_conf().map_err(|e| e.to_string()),
        };
        match built {
            Ok((cfg, mut opts)) => {
                let servers: Vec<String> = {
                    let mut s: Vec<String> = cfg
                        .name_servers()
                        .iter()
                        .map(|n| match n.connections.first().map(|c| c.port) {
                            Some(53) | None => n.ip.to_string(),
                            Some(p) => SocketAddr::new(n.ip, p).to_string(),
                        })
                        .collect();
                    s.dedup();
                    s
                };
                // Each query waits the whole probe timeout; a second one is sent at the half, and
                // whichever answers first counts (a slow but working resolver is not a failure).
                opts.timeout = timeout.max(Duration::from_millis(200));
                opts.attempts = 1;
                opts.cache_size = 0;
                opts.ndots = 0;
                let build = || {
                    let mut b = TokioResolver::builder_with_config(
                        cfg.clone(),
                        TokioRuntimeProvider::default(),
                    );
                    *b.options_mut() = opts.clone();
                    b.build()
                };
                match (build(), build()) {
                    (Ok(r), Ok(r2)) => HickoryResolver {
                        inner: Some(r),
                        retry: Some(r2),
                        servers,
                        config_error: None,
                        timeout,
                    },
                    (Err(e), _) | (_, Err(e)) => HickoryResolver {
                        inner: None,
                        retry: None,
                        servers,
                        config_error: Some(e.to_string()),
                        timeout,
                    },
                }
            }
            Err(e) => HickoryResolver {
                inner: None,
                retry: None,
                servers: vec![],
                config_error: Some(e),
                timeout,
            },
        }
    }
}

/// Map hickory's error to the cause classes users act on.
pub(crate) fn classify(e: &NetError, timeout: Duration) -> DnsFailure {
    match e {
        NetError::Timeout => DnsFailure::Timeout(crate::clock::ms(timeout)),
        NetError::Dns(DnsError::NoRecordsFound(nr)) => match nr.response_code {
            ResponseCode::NXDomain => DnsFailure::NxDomain,
            ResponseCode::ServFail => DnsFailure::ServFail,
            ResponseCode::Refused => DnsFailure::Refused,
            _ => DnsFailure::NoRecords,
        },
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => DnsFailure::ServFail,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => DnsFailure::Refused,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => DnsFailure::NxDomain,
        NetError::NoConnections => DnsFailure::NoServer(
            "no name server answered or could be contacted (is there a route to it?)".into(),
        ),
        other => {
            let text = other.to_string();
            if text.contains("timed out") || text.contains("timeout") {
                DnsFailure::Timeout(crate::clock::ms(timeout))
            } else {
                DnsFailure::Other(text.chars().take(200).collect())
            }
        }
    }
}

/// One A query (its own transaction), classified.
async fn lookup_a(
    r: TokioResolver,
    fqdn: String,
    t: Duration,
) -> Result<Vec<Ipv4Addr>, DnsFailure> {
    match r.ipv4_lookup(fqdn.as_str()).await {
        Ok(l) => Ok(l
            .answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                hickory_resolver::proto::rr::RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()),
        Err(e) => Err(classify(&e, t)),
    }
}

#[async_trait]
impl Resolver for HickoryResolver {
    async fn resolve_a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsFailure> {
        self.resolve_a_counted(name).await.0
    }

    async fn resolve_a_counted(&self, name: &str) -> (Result<Vec<Ipv4Addr>, DnsFailure>, Exchange) {
        let Some(r) = &self.inner else {
            return (
                Err(DnsFailure::Other(format!(
                    "unusable resolver configuration: {}",
                    self.config_error.clone().unwrap_or_default()
                ))),
                Exchange {
                    sent: 0,
                    answered: 0,
                },
            );
        };
        let fqdn = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        let answered = |out: &Result<Vec<Ipv4Addr>, DnsFailure>| {
            u32::from(!matches!(
                out,
                Err(DnsFailure::Timeout(_) | DnsFailure::NoServer(_))
            ))
        };
        let first = Box::pin(lookup_a(r.clone(), fqdn.clone(), self.timeout));
        let Some(r2) = self.retry.clone() else {
            let out = first.await;
            let a = answered(&out);
            return (
                out,
                Exchange {
                    sent: 1,
                    answered: a,
                },
            );
        };
        let (half, t) = (self.timeout / 2, self.timeout);
        let started = tokio::time::Instant::now();
        let second = Box::pin(async move {
            tokio::time::sleep(half).await;
            lookup_a(r2, fqdn, t).await
        });
        // a definite answer (records, NXDOMAIN, SERVFAIL, REFUSED) ends it; a timeout or an
        // unreachable server waits for the other query
        let transient =
            |e: &DnsFailure| matches!(e, DnsFailure::Timeout(_) | DnsFailure::NoServer(_));
        let keep = |e: DnsFailure, e2: DnsFailure| if transient(&e2) { e } else { e2 };
        let out = match futures::future::select(first, second).await {
            futures::future::Either::Left((Err(e), other)) if transient(&e) => {
                other.await.map_err(|e2| keep(e, e2))
            }
            futures::future::Either::Right((Err(e), other)) if transient(&e) => {
                other.await.map_err(|e2| keep(e, e2))
            }
            futures::future::Either::Left((out, _)) | futures::future::Either::Right((out, _)) => {
                out
            }
        };
        // the retransmission went out when no answer had come by half the timeout
        let sent = if started.elapsed() >= half { 2 } else { 1 };
        let a = answered(&out);
        (out, Exchange { sent, answered: a })
    }

    fn servers(&self) -> Vec<String> {
        self.servers.clone()
    }
}
