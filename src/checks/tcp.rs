//! `tcp.*`: a TCP connect to each cloud-side address on the port the node uses.

use crate::catalogue::Catalogue;
use crate::checks::{cloud, Addr, Check, Step};
use crate::ids::ReqId;
use crate::options::Options;
use crate::run::ip::TcpConnect;

fn connect(id: ReqId, target: impl Into<String>, addr: Addr, port: u16) -> Step {
    Step::new(id, target, TcpConnect).to(addr).port(port)
}

/// `tcp.control-plane`: 443 from Kubernetes 1.26, 80 before.
pub(crate) struct ControlPlane;
impl Check for ControlPlane {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TcpControlPlane]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let cp = &o.region.control_plane;
        vec![connect(
            ReqId::TcpControlPlane,
            cp,
            Addr::resolved(cp),
            cloud::control_plane_port(o),
        )]
    }
}

/// `tcp.oss`: 443, and 80 too before Kubernetes 1.26.
pub(crate) struct Oss;
impl Check for Oss {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TcpOss]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let ports: &[u16] = if o.is_modern() { &[443] } else { &[80, 443] };
        ports
            .iter()
            .map(|p| {
                connect(
                    ReqId::TcpOss,
                    &o.region.oss,
                    Addr::resolved(&o.region.oss),
                    *p,
                )
            })
            .collect()
    }
}

/// `tcp.registry`: the documented addresses, then every other resolved one, on 443.
pub(crate) struct Registry;
impl Check for Registry {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TcpRegistry]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let name = &o.region.registry;
        let mut v: Vec<Step> = cloud::registry_addresses(o)
            .into_iter()
            .map(|ip| connect(ReqId::TcpRegistry, name, Addr::Fixed(ip), 443))
            .collect();
        v.push(connect(
            ReqId::TcpRegistry,
            name,
            cloud::registry_resolved(o),
            443,
        ));
        v
    }
}

/// `tcp.apiserver`: SKIP with a hint when `--apiserver` is not given.
pub(crate) struct Apiserver;
impl Check for Apiserver {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TcpApiserver]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        match &o.apiserver {
            Some(api) => vec![connect(
                ReqId::TcpApiserver,
                api.host.to_string(),
                cloud::host_addr(&api.host),
                api.port,
            )],
            None => cloud::without_apiserver(self.ids()),
        }
    }
}

/// `tcp.endpoint`: each `--endpoint tcp://HOST:PORT`.
pub(crate) struct Endpoint;
impl Check for Endpoint {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TcpEndpoint]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        o.endpoints
            .iter()
            .map(|e| {
                connect(
                    ReqId::TcpEndpoint,
                    e.to_string(),
                    cloud::host_addr(&e.host),
                    e.port,
                )
            })
            .collect()
    }
}
