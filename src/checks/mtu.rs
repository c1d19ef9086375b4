//! `mtu.path`: the path MTU toward the API server (ICMP echo with DF, where ICMP is allowed) and
//! toward each VXLAN peer (UDP DF probes to its responder).

use crate::catalogue::Catalogue;
use crate::checks::{cloud, skipped, udp, Addr, Check, Step};
use crate::constants::VXLAN_PORT;
use crate::ids::ReqId;
use crate::options::{Cni, Options};
use crate::run::udp::{IcmpMtu, UdpMtu};

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

/// The TCP rows over the line whose MSS tells whether a firewall clamps it.
const LINE_TCP: &[ReqId] = &[
    ReqId::TcpApiserver,
    ReqId::TcpRegistry,
    ReqId::TcpOss,
    ReqId::TcpControlPlane,
];

impl Check for Peers {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::MtuPath]
    }
    fn after(&self) -> &'static [ReqId] {
        LINE_TCP
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
