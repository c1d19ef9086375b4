//! DNS: classify answers (in / out of the expected ranges) and failures.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::cause::{Cause, ErrorClass, Phase, Plain};
use crate::result::{Finding, Status};

evidence! {
    /// The evidence of a `dns.*` row.
    pub(crate) struct DnsEvidence {
        /// The addresses the answer held (documented ones and others).
        addresses: Vec<String>,
        /// The resolver asked (`address:port`).
        server: String,
        /// How long the answer took.
        answer_ms: u64,
    }
}

impl DnsEvidence {
    fn took(ms: u64) -> DnsEvidence {
        DnsEvidence {
            answer_ms: Some(ms),
            ..DnsEvidence::default()
        }
    }
}

/// Why a name did not resolve. Phase: dns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsFailure {
    #[error("NXDOMAIN (the name does not exist for this resolver)")]
    NxDomain,
    #[error("SERVFAIL from the DNS server")]
    ServFail,
    #[error("REFUSED by the DNS server")]
    Refused,
    #[error("no A record (the name exists but has no IPv4 address)")]
    NoRecords,
    #[error("timed out after {0} ms (no answer from the DNS server)")]
    Timeout(u64),
    #[error("cannot reach a DNS server: {0}")]
    NoServer(String),
    #[error("{0}")]
    Other(String),
}

impl Cause for DnsFailure {
    fn phase(&self) -> Phase {
        Phase::Dns
    }
    fn class(&self) -> ErrorClass {
        match self {
            DnsFailure::NxDomain => ErrorClass::Nxdomain,
            DnsFailure::ServFail => ErrorClass::Servfail,
            DnsFailure::Refused => ErrorClass::Refused,
            DnsFailure::NoRecords => ErrorClass::NoRecords,
            DnsFailure::Timeout(_) => ErrorClass::Timeout,
            DnsFailure::NoServer(_) => ErrorClass::NoServer,
            DnsFailure::Other(_) => ErrorClass::Error,
        }
    }
}

/// What the answer should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsExpect {
    /// Every address inside one of these ranges; `fallback` says the ranges are the 100.0.0.0/8 default.
    InRanges {
        ranges: Vec<Ipv4Net>,
        fallback: bool,
    },
    /// Every address one of these (registry /32s).
    OneOf(Vec<Ipv4Addr>),
    /// Any answer passes.
    Any,
}

fn list(addrs: &[Ipv4Addr]) -> String {
    addrs
        .iter()
        .map(std::string::ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Judge a DNS outcome that took `took_ms`; every message names the resolver asked.
pub fn evaluate(
    outcome: &Result<Vec<Ipv4Addr>, DnsFailure>,
    expect: &DnsExpect,
    server: &str,
    took_ms: u64,
) -> Finding {
    let f = judge(outcome, expect, server);
    if f.status == Status::Pass && took_ms > crate::constants::DNS_SLOW_MS {
        let msg = format!(
            "slow resolver: {server} answered in {:.1} s; {}",
            took_ms as f64 / 1000.0,
            f.message
        );
        return f
            .recast(Status::Warn, &Plain(Phase::Dns, ErrorClass::Slow), msg)
            .evidence(&DnsEvidence::took(took_ms));
    }
    f.evidence(&DnsEvidence::took(took_ms))
}

/// The fix for a failed lookup, from what was observed: which resolver was asked and how it failed.
pub(crate) fn failure_fix(e: &DnsFailure, server: &str) -> Option<String> {
    let host = server
        .rsplit_once(':')
        .map_or(server, |(h, p)| if p == "53" { h } else { server });
    let vpc = crate::constants::VPC_DNS_SERVERS.contains(&host);
    Some(match (e, vpc) {
        (DnsFailure::Timeout(_) | DnsFailure::NoServer(_), true) => format!(
            "The node already uses the VPC DNS ({host}) and it did not answer: allow UDP and TCP 53 from the node to {host} on the datacenter firewall, and route 100.0.0.0/8 over the dedicated line (see the {}.* rows).",
            crate::ids::Category::Route
        ),
        (DnsFailure::Refused, true) => format!(
            "The VPC DNS ({host}) refused the query: it answers only sources inside the VPC or routed to it; check that the datacenter CIDR reaches it over the line (VBR / CEN routes back) and that no NAT on the way rewrites the source."
        ),
        (DnsFailure::Timeout(_) | DnsFailure::NoServer(_), false) => format!(
            "The resolver in use ({host}) did not answer: check that it runs and that UDP and TCP 53 to it are allowed; to resolve Alibaba Cloud names it must be the VPC DNS (100.100.2.136 / .138) or forward aliyuncs.com to it."
        ),
        (DnsFailure::NxDomain | DnsFailure::NoRecords | DnsFailure::ServFail | DnsFailure::Refused, false) => format!(
            "The resolver in use ({host}) is not the VPC DNS and cannot answer this internal name ({e}): point the node at 100.100.2.136 / 100.100.2.138, or add a conditional forward of aliyuncs.com to them on {host}."
        ),
        _ => return None,
    })
}

fn judge(outcome: &Result<Vec<Ipv4Addr>, DnsFailure>, expect: &DnsExpect, server: &str) -> Finding {
    let addrs = match outcome {
        Err(e) => {
            let f = Finding::fail_by(e, format!("does not resolve via {server}: {e}"));
            return match failure_fix(e, server) {
                Some(fix) => f.fix(fix),
                None => f,
            };
        }
        Ok(a) if a.is_empty() => {
            return Finding::fail_by(
                &DnsFailure::NoRecords,
                format!("does not resolve via {server}: {}", DnsFailure::NoRecords),
            )
        }
        Ok(a) => a,
    };
    let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    let f = match expect {
        DnsExpect::Any => Finding::pass(format!("resolves to {} via {server}", list(addrs))),
        DnsExpect::InRanges { ranges, fallback } => {
            let outside: Vec<Ipv4Addr> = addrs
                .iter()
                .copied()
                .filter(|a| !ranges.iter().any(|r| r.contains(a)))
                .collect();
            let what = if *fallback {
                "100.0.0.0/8 (no OSS VIP ranges documented for this region)".to_string()
            } else {
                ranges
                    .iter()
                    .map(std::string::ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if outside.is_empty() {
                Finding::pass(format!(
                    "resolves to {} via {server}, inside {what}",
                    list(addrs)
                ))
            } else {
                Finding::warn_by(&Plain(Phase::Dns, ErrorClass::OutsideRange), format!(
                    "resolves via {server} to {} outside {what}: traffic will not use the dedicated line",
                    list(&outside)
                ))
            }
        }
        DnsExpect::OneOf(documented) => {
            let other: Vec<Ipv4Addr> = addrs
                .iter()
                .copied()
                .filter(|a| !documented.contains(a))
                .collect();
            if other.is_empty() {
                Finding::pass(format!(
                    "resolves to {} via {server}, all documented route addresses",
                    list(addrs)
                ))
            } else {
                Finding::warn_by(&Plain(Phase::Dns, ErrorClass::Undocumented), format!(
                    "resolves via {server} to {} which is not a documented route address ({}): routes and firewall rules for the documented /32s will not match",
                    list(&other),
                    list(documented)
                ))
            }
        }
    };
    f.evidence(&DnsEvidence {
        addresses: Some(shown),
        server: Some(server.to_string()),
        ..DnsEvidence::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn fixes_follow_the_resolver_in_use() {
        let vpc = evaluate(
            &Err(DnsFailure::Timeout(3000)),
            &DnsExpect::Any,
            "100.100.2.136",
            3000,
        );
        assert!(
            vpc.fix
                .as_deref()
                .unwrap()
                .contains("allow UDP and TCP 53 from the node to 100.100.2.136"),
            "{vpc:?}"
        );
        let other = evaluate(&Err(DnsFailure::NxDomain), &DnsExpect::Any, "10.0.0.2", 5);
        assert!(
            other
                .fix
                .as_deref()
                .unwrap()
                .contains("(10.0.0.2) is not the VPC DNS"),
            "{other:?}"
        );
        let port = evaluate(
            &Err(DnsFailure::Timeout(3000)),
            &DnsExpect::Any,
            "100.100.2.138:53",
            3000,
        );
        assert!(
            port.fix.as_deref().unwrap().contains("to 100.100.2.138 on"),
            "{port:?}"
        );
        // a passing lookup keeps the catalogue's general text
        assert_eq!(
            evaluate(
                &Ok(vec![ip("100.103.9.188")]),
                &DnsExpect::Any,
                "100.100.2.136",
                5
            )
            .fix,
            None
        );
    }

    #[test]
    fn slow_answers_warn_and_name_the_resolver() {
        let f = evaluate(
            &Ok(vec![ip("100.103.9.188")]),
            &DnsExpect::Any,
            "100.100.2.136",
            1300,
        );
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message
                .contains("slow resolver: 100.100.2.136 answered in 1.3 s"),
            "{}",
            f.message
        );
        assert_eq!(f.details.to_json()["error"], "slow");
        let f = evaluate(
            &Ok(vec![ip("100.103.9.188")]),
            &DnsExpect::Any,
            "100.100.2.136",
            40,
        );
        assert_eq!(f.status, Status::Pass);
        assert!(f.message.contains("via 100.100.2.136"), "{}", f.message);
    }

    #[test]
    fn in_range_passes_out_of_range_warns() {
        let e = DnsExpect::InRanges {
            ranges: vec![net("100.118.28.0/24")],
            fallback: false,
        };
        assert_eq!(
            evaluate(&Ok(vec![ip("100.118.28.7")]), &e, "s", 5).status,
            Status::Pass
        );
        let f = evaluate(&Ok(vec![ip("100.118.28.7"), ip("47.96.1.1")]), &e, "s", 5);
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message.contains("47.96.1.1") && !f.message.contains("100.118.28.7 outside"),
            "{}",
            f.message
        );
    }

    #[test]
    fn fallback_is_said() {
        let e = DnsExpect::InRanges {
            ranges: vec![crate::regions::cloud_range()],
            fallback: true,
        };
        let f = evaluate(&Ok(vec![ip("100.1.2.3")]), &e, "s", 5);
        assert_eq!(f.status, Status::Pass);
        assert!(f.message.contains("no OSS VIP ranges documented"));
    }

    #[test]
    fn registry_must_be_documented() {
        let e = DnsExpect::OneOf(vec![ip("100.103.9.188"), ip("100.103.7.181")]);
        assert_eq!(
            evaluate(&Ok(vec![ip("100.103.9.188")]), &e, "s", 5).status,
            Status::Pass
        );
        let f = evaluate(&Ok(vec![ip("198.18.1.1")]), &e, "s", 5);
        assert_eq!(f.status, Status::Warn);
        assert!(f.message.contains("198.18.1.1"));
    }

    #[test]
    fn every_failure_fails_with_its_cause() {
        for (fail, text) in [
            (DnsFailure::NxDomain, "NXDOMAIN"),
            (DnsFailure::ServFail, "SERVFAIL"),
            (DnsFailure::Refused, "REFUSED"),
            (DnsFailure::Timeout(3000), "timed out after 3000 ms"),
            (DnsFailure::NoRecords, "no A record"),
        ] {
            let f = evaluate(&Err(fail), &DnsExpect::Any, "10.0.0.2", 5);
            assert_eq!(f.status, Status::Fail);
            assert!(
                f.message.contains(text) && f.message.contains("10.0.0.2"),
                "{}",
                f.message
            );
            assert_eq!(f.details.to_json()["phase"], "dns");
        }
        assert_eq!(
            evaluate(&Ok(vec![]), &DnsExpect::Any, "s", 5).status,
            Status::Fail
        );
    }
}

/// One DNS A query for `name` on the wire (RFC 1035: header, question), for the TTL-limited probes
/// of a DNS path that timed out; the answer itself is never read.
pub(crate) fn query_bytes(name: &str) -> Vec<u8> {
    let mut b = vec![0x4a, 0x45, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]; // id, RD, one question
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let l = &label.as_bytes()[..label.len().min(63)];
        b.push(u8::try_from(l.len()).unwrap_or(63));
        b.extend_from_slice(l);
    }
    b.extend_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    b
}

#[cfg(test)]
mod wire_tests {
    #[test]
    fn a_query_is_well_formed() {
        let q = super::query_bytes("oss.aliyuncs.com.");
        assert_eq!(&q[12..], b"\x03oss\x08aliyuncs\x03com\x00\x00\x01\x00\x01");
        assert_eq!(&q[4..6], &[0, 1]);
    }
}
