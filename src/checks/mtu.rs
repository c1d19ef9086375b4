//! `mtu.path`: the path MTU toward the API server, the registry, OSS and the storage host blobs are
//! redirected to (ICMP echo with DF, where ICMP is allowed), and toward each VXLAN peer (UDP DF
//! probes to its responder). A pull moves megabytes in full-size segments: a black hole toward
//! the registry's or the storage host's addresses stalls it where a few bytes pass.

use crate::catalogue::Catalogue;
use crate::checks::{cloud, skipped, udp, Addr, Check, Step};
use crate::constants::VXLAN_PORT;
use crate::ids::ReqId;
use crate::options::{Cni, Options};
use crate::run::udp::{IcmpMtu, StorageMtu, UdpMtu, LINE_TCP};

/// `mtu.path` toward the API server (Flannel only).
pub(crate) struct Apiserver;
impl Check for Apiserver {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::MtuPath]
    }
    /// The search waits a few of the TCP connect's round trips for the first echo, and judges a
    /// black hole against the MSS the TCP rows over the line settled on.
    fn after(&self) -> &'static [ReqId] {
        LINE_TCP
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        match &o.apiserver {
            Some(api) if o.cni == Cni::Flannel => {
                vec![Step::new(ReqId::MtuPath, api.host.to_string(), IcmpMtu)
                    .to(cloud::host_addr(&api.host))]
            }
            _ => vec![],
        }
    }
}

/// `mtu.path` toward each `--peer`.
pub(crate) struct Peers;

/// The TCP rows over the line and the VXLAN echo to the same peers: the UDP search starts from the
/// echo's round trip, and skips a peer the echo got nothing from.
const LINE_TCP_AND_ECHO: &[ReqId] = &[
    ReqId::TcpApiserver,
    ReqId::TcpRegistry,
    ReqId::TcpOss,
    ReqId::TcpControlPlane,
    ReqId::UdpVxlan,
];

impl Check for Peers {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::MtuPath]
    }
    fn after(&self) -> &'static [ReqId] {
        LINE_TCP_AND_ECHO
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        if let Some((target, reason, needs)) = udp::not_runnable(o) {
            return skipped(self.ids(), target, &reason, needs);
        }
        o.peers
            .iter()
            .map(|p| {
                Step::new(ReqId::MtuPath, p.to_string(), UdpMtu)
                    .to(Addr::Fixed(*p))
                    .port(VXLAN_PORT)
            })
            .collect()
    }
}

/// `mtu.path` toward the registry's and OSS's addresses (every CNI: image pulls move full-size
/// segments whatever the pod network).
pub(crate) struct Cloud;
impl Check for Cloud {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::MtuPath]
    }
    fn after(&self) -> &'static [ReqId] {
        LINE_TCP
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let registry = &o.region.registry;
        let mut v: Vec<Step> = cloud::registry_addresses(o)
            .into_iter()
            .map(|ip| Step::new(ReqId::MtuPath, registry, IcmpMtu).to(Addr::Fixed(ip)))
            .collect();
        v.push(Step::new(ReqId::MtuPath, registry, IcmpMtu).to(cloud::registry_resolved(o)));
        v.push(Step::new(ReqId::MtuPath, &o.region.oss, IcmpMtu).to(Addr::resolved(&o.region.oss)));
        v
    }
}

/// `mtu.path` toward the storage host `pull.blob` was redirected to (known only once the pull
/// has been followed: the step runs after it).
pub(crate) struct Storage;
impl Check for Storage {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::MtuPath]
    }
    fn after(&self) -> &'static [ReqId] {
        &[
            ReqId::TcpApiserver,
            ReqId::TcpRegistry,
            ReqId::TcpOss,
            ReqId::TcpControlPlane,
            ReqId::PullBlob,
        ]
    }
    fn plan(&self, _: &Options, _: &Catalogue) -> Vec<Step> {
        vec![Step::new(
            ReqId::MtuPath,
            "the storage host blobs are redirected to",
            StorageMtu,
        )]
    }
}
