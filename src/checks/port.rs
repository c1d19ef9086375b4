//! `port.local`: no other process holds a port the node serves or its components bind.

use crate::catalogue::Catalogue;
use crate::checks::{Check, Step};
use crate::constants::{NODE_LOCAL_TCP_PORTS, NODE_TCP_PORTS, VXLAN_PORT};
use crate::ids::ReqId;
use crate::options::{Cni, Options};
use crate::probe::port::SocketProto;
use crate::run::local::PortLocal;

/// `port.local`: the inbound TCP ports, the components' local ones, and VXLAN's UDP port.
pub(crate) struct Local;
impl Check for Local {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::PortLocal]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let step = |proto: SocketProto, port: u16| {
            Step::new(
                ReqId::PortLocal,
                format!("{}/{port}", proto.as_str()),
                PortLocal { proto, port },
            )
        };
        let mut v: Vec<Step> = NODE_TCP_PORTS
            .into_iter()
            .chain(NODE_LOCAL_TCP_PORTS)
            .map(|p| step(SocketProto::Tcp, p))
            .collect();
        if o.cni == Cni::Flannel {
            v.push(step(SocketProto::Udp, VXLAN_PORT));
        }
        v
    }
}
