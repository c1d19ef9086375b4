//! `tls.*` and `http.*`: one TLS handshake per address proves the right service answers (its
//! certificate), and one HTTP request on it its identity (the registry's API header, OSS's request
//! id). Each check here reports both rows of one endpoint.

use crate::catalogue::Catalogue;
use crate::checks::{cloud, Addr, Check, Step};
use crate::ids::ReqId;
use crate::options::{Host, Options};
use crate::probe::tls::{HttpExpect, Trust};
use crate::run::tls::TlsHandshake;

fn handshake(tls: ReqId, target: &str, addr: Addr, port: u16, kind: TlsHandshake) -> Step {
    let http = kind.http.map(|(id, _)| id);
    let s = Step::new(tls, target, kind).to(addr).port(port);
    match http {
        Some(h) => s.also(h),
        None => s,
    }
}

fn system(name: &str, tcp: ReqId, http: Option<(ReqId, HttpExpect)>) -> TlsHandshake {
    TlsHandshake {
        name: Some(name.to_string()),
        trust: Trust::System,
        discovery: false,
        http,
        tcp,
    }
}

/// `tls.registry` and `http.registry`: the documented addresses, then every other resolved one.
pub(crate) struct Registry;
impl Check for Registry {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TlsRegistry, ReqId::HttpRegistry]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let name = &o.region.registry;
        let kind = || {
            system(
                name,
                ReqId::TcpRegistry,
                Some((ReqId::HttpRegistry, HttpExpect::Registry)),
            )
        };
        let mut v: Vec<Step> = cloud::registry_addresses(o)
            .into_iter()
            .map(|ip| handshake(ReqId::TlsRegistry, name, Addr::Fixed(ip), 443, kind()))
            .collect();
        v.push(handshake(
            ReqId::TlsRegistry,
            name,
            cloud::registry_resolved(o),
            443,
            kind(),
        ));
        v
    }
}

/// `tls.oss` and `http.oss`.
pub(crate) struct Oss;
impl Check for Oss {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TlsOss, ReqId::HttpOss]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let name = &o.region.oss;
        let kind = system(name, ReqId::TcpOss, Some((ReqId::HttpOss, HttpExpect::Oss)));
        vec![handshake(
            ReqId::TlsOss,
            name,
            Addr::resolved(name),
            443,
            kind,
        )]
    }
}

/// `tls.control-plane`: from Kubernetes 1.26 (before it the control plane is plain HTTP on 80).
pub(crate) struct ControlPlane;
impl Check for ControlPlane {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TlsControlPlane]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        if !o.is_modern() {
            return vec![];
        }
        let cp = &o.region.control_plane;
        let kind = system(cp, ReqId::TcpControlPlane, None);
        vec![handshake(
            ReqId::TlsControlPlane,
            cp,
            Addr::resolved(cp),
            443,
            kind,
        )]
    }
}

/// `tls.apiserver`: verified against `--cluster-ca` when given, else evidence only.
pub(crate) struct Apiserver;
impl Check for Apiserver {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::TlsApiserver]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let Some(api) = &o.apiserver else {
            return cloud::without_apiserver(self.ids());
        };
        let trust = if o.cluster_roots.is_empty() {
            Trust::EvidenceOnly
        } else {
            Trust::ClusterCa
        };
        let name = match &api.host {
            Host::Name(n) => Some(n.clone()),
            Host::Ip(_) => None,
        };
        let kind = TlsHandshake {
            name,
            trust,
            http: None,
            tcp: ReqId::TcpApiserver,
            discovery: o.selected(ReqId::HttpClusterInfo),
        };
        let target = api.host.to_string();
        vec![handshake(
            ReqId::TlsApiserver,
            &target,
            cloud::host_addr(&api.host),
            api.port,
            kind,
        )]
    }
}
