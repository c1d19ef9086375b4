//! `udp.vxlan`: Flannel's VXLAN port answers through the line, toward a peer running `responder`.

use crate::catalogue::Catalogue;
use crate::checks::{skipped, Addr, Check, Step};
use crate::constants::VXLAN_PORT;
use crate::ids::ReqId;
use crate::options::{Cni, Options};
use crate::run::udp::UdpEcho;

/// Why the VXLAN rows (`udp.vxlan`, `mtu.path` toward peers) cannot run, if they cannot.
pub(crate) fn not_runnable(o: &Options) -> Option<(&'static str, String, &'static str)> {
    if o.cni != Cni::Flannel {
        Some((
            "(terway-edge)",
            format!("the CNI is not Flannel: no VXLAN on UDP {VXLAN_PORT}"),
            "not applicable to terway-edge",
        ))
    } else if o.peers.is_empty() {
        Some((
            "(no --peer)",
            "no --peer given: run `ack-edge-preflight responder` on a cloud node or VPC host and pass --peer IP".into(),
            "needs --peer",
        ))
    } else {
        None
    }
}

/// `udp.vxlan`: echo requests to each `--peer`.
pub(crate) struct Vxlan;
impl Check for Vxlan {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::UdpVxlan]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        if let Some((target, reason, needs)) = not_runnable(o) {
            return skipped(self.ids(), target, &reason, needs);
        }
        o.peers
            .iter()
            .map(|p| {
                Step::new(ReqId::UdpVxlan, p.to_string(), UdpEcho)
                    .to(Addr::Fixed(*p))
                    .port(VXLAN_PORT)
            })
            .collect()
    }
}
