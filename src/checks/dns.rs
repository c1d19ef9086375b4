//! `dns.*`: the names the node must resolve, each with what its answer must be.

use crate::catalogue::Catalogue;
use crate::checks::{cloud, Check, Step};
use crate::ids::ReqId;
use crate::options::{Host, Options};
use crate::probe::dns::DnsExpect;
use crate::regions::cloud_range;
use crate::run::ip::DnsQuery;

fn query(id: ReqId, name: &str, expect: DnsExpect) -> Step {
    Step::new(
        id,
        name,
        DnsQuery {
            name: name.to_string(),
            expect,
        },
    )
}

/// `dns.control-plane`: the control plane resolves into the cloud-service range.
pub(crate) struct ControlPlane;
impl Check for ControlPlane {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::DnsControlPlane]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let expect = DnsExpect::InRanges {
            ranges: vec![cloud_range()],
            fallback: false,
        };
        vec![query(
            ReqId::DnsControlPlane,
            &o.region.control_plane,
            expect,
        )]
    }
}

/// `dns.oss`: the OSS internal name resolves into the region's OSS VIP ranges.
pub(crate) struct Oss;
impl Check for Oss {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::DnsOss]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let (ranges, fallback) = o.region.oss_ranges();
        vec![query(
            ReqId::DnsOss,
            &o.region.oss,
            DnsExpect::InRanges { ranges, fallback },
        )]
    }
}

/// `dns.registry`: the registry's VPC name resolves to the documented addresses.
pub(crate) struct Registry;
impl Check for Registry {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::DnsRegistry]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let documented = o
            .region
            .registry_routes
            .iter()
            .map(ipnet::Ipv4Net::addr)
            .collect();
        vec![query(
            ReqId::DnsRegistry,
            &o.region.registry,
            DnsExpect::OneOf(documented),
        )]
    }
}

/// `dns.apiserver`: a named API server endpoint resolves.
pub(crate) struct Apiserver;
impl Check for Apiserver {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::DnsApiserver]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        match o.apiserver.as_ref().map(|a| &a.host) {
            Some(Host::Name(n)) => vec![query(ReqId::DnsApiserver, n, DnsExpect::Any)],
            Some(Host::Ip(_)) | None => vec![],
        }
    }
}

/// `dns.ntp`: each named NTP server resolves.
pub(crate) struct Ntp;
impl Check for Ntp {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::DnsNtp]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        cloud::ntp_hosts(o)
            .into_iter()
            .filter_map(|(_, h)| match h {
                Host::Name(n) => Some(query(ReqId::DnsNtp, &n, DnsExpect::Any)),
                Host::Ip(_) => None,
            })
            .collect()
    }
}

/// `dns.endpoint`: each named `--endpoint` resolves.
pub(crate) struct Endpoint;
impl Check for Endpoint {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::DnsEndpoint]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        o.endpoints
            .iter()
            .filter_map(|e| match &e.host {
                Host::Name(n) => Some(query(ReqId::DnsEndpoint, n, DnsExpect::Any)),
                Host::Ip(_) => None,
            })
            .collect()
    }
}
