//! `inbound.tcp` and `inbound.udp`: from the VPC side, the node's inbound ports answer (its
//! `responder` serves them). Planned by `inbound --node IP`, never by `check`.

use std::net::IpAddr;

use crate::catalogue::Catalogue;
use crate::checks::{Addr, Check, Step};
use crate::constants::{NODE_TCP_PORTS, VXLAN_PORT};
use crate::ids::ReqId;
use crate::options::{Cni, Options};
use crate::run::ip::InboundConnect;
use crate::run::udp::UdpEcho;

/// Both inbound rows, node by node.
pub(crate) struct Inbound;
impl Check for Inbound {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::InboundTcp, ReqId::InboundUdp]
    }
    fn plan(&self, _: &Options, _: &Catalogue) -> Vec<Step> {
        vec![]
    }
    fn plan_inbound(&self, node: IpAddr, cni: Cni) -> Vec<Step> {
        let mut v: Vec<Step> = NODE_TCP_PORTS
            .iter()
            .map(|port| {
                Step::new(
                    ReqId::InboundTcp,
                    format!("{node} tcp/{port}"),
                    InboundConnect,
                )
                .to(Addr::Fixed(node))
                .port(*port)
            })
            .collect();
        if cni == Cni::Flannel {
            let s = Step::new(
                ReqId::InboundUdp,
                format!("{node} udp/{VXLAN_PORT}"),
                UdpEcho,
            );
            v.push(s.to(Addr::Fixed(node)).port(VXLAN_PORT));
        }
        v
    }
}
