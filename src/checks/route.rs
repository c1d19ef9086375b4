//! `route.*`: the kernel has a usable route to each cloud-side address.

use std::net::IpAddr;

use crate::catalogue::Catalogue;
use crate::checks::{cloud, Addr, Check, Step};
use crate::ids::ReqId;
use crate::options::Options;
use crate::run::ip::RouteLookup;

fn lookup(id: ReqId, target: impl Into<String>, addr: Addr) -> Step {
    Step::new(id, target, RouteLookup).to(addr)
}

/// `route.control-plane`.
pub(crate) struct ControlPlane;
impl Check for ControlPlane {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::RouteControlPlane]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let cp = &o.region.control_plane;
        vec![lookup(ReqId::RouteControlPlane, cp, Addr::resolved(cp))]
    }
}

/// `route.oss`: a representative address of each OSS VIP range, and the resolved addresses.
pub(crate) struct Oss;
impl Check for Oss {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::RouteOss]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let (ranges, fallback) = o.region.oss_ranges();
        let mut v = vec![];
        if !fallback {
            for net in &ranges {
                let ip = IpAddr::V4(cloud::representative(net));
                v.push(lookup(
                    ReqId::RouteOss,
                    format!("OSS VIP {net}"),
                    Addr::Fixed(ip),
                ));
            }
        }
        v.push(lookup(
            ReqId::RouteOss,
            &o.region.oss,
            Addr::resolved(&o.region.oss),
        ));
        v
    }
}

/// `route.registry`: the documented addresses, then every other resolved one.
pub(crate) struct Registry;
impl Check for Registry {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::RouteRegistry]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let name = &o.region.registry;
        let mut v: Vec<Step> = cloud::registry_addresses(o)
            .into_iter()
            .map(|ip| lookup(ReqId::RouteRegistry, name, Addr::Fixed(ip)))
            .collect();
        v.push(lookup(
            ReqId::RouteRegistry,
            name,
            cloud::registry_resolved(o),
        ));
        v
    }
}

/// `route.apiserver`.
pub(crate) struct Apiserver;
impl Check for Apiserver {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::RouteApiserver]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        o.apiserver
            .iter()
            .map(|api| {
                lookup(
                    ReqId::RouteApiserver,
                    api.host.to_string(),
                    cloud::host_addr(&api.host),
                )
            })
            .collect()
    }
}

/// `route.endpoint`.
pub(crate) struct Endpoint;
impl Check for Endpoint {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::RouteEndpoint]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        o.endpoints
            .iter()
            .map(|e| {
                lookup(
                    ReqId::RouteEndpoint,
                    e.to_string(),
                    cloud::host_addr(&e.host),
                )
            })
            .collect()
    }
}
