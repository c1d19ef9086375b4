//! `host.firewall`: the node's own netfilter rules let the inbound ports in from the VPC.

use std::net::IpAddr;

use async_trait::async_trait;

use super::{line_interface, HostCheck, HostPlan};
use crate::checks::Needs;
use crate::constants::{NODE_TCP_PORTS, VXLAN_PORT};
use crate::ids::ReqId;
use crate::net::Listing;
use crate::probe::firewall;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct Firewall;

#[async_trait]
impl HostCheck for Firewall {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostFirewall
    }
    fn target(&self) -> &'static str {
        "netfilter INPUT / FORWARD"
    }
    fn reads(&self) -> &'static str {
        "run iptables-save, nft list ruleset and firewall-cmd --state (read-only listings; local)"
    }
    fn needs(&self) -> Needs {
        Needs {
            listings: true,
            ..Needs::LOCALS
        }
    }
    fn timed(&self) -> bool {
        true
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, with: &HostPlan) -> Finding {
        let listing = |l: Listing| {
            ctx.host
                .listings
                .get(&l)
                .cloned()
                .unwrap_or_else(|| Err(crate::net::OsError::new(l.name(), "not read")))
        };
        let notes = firewall::listing_notes(
            listing(Listing::FirewalldState).ok().as_deref(),
            listing(Listing::NftRuleset).ok().as_deref(),
        );
        let save = listing(Listing::IptablesSave);
        // a source address inside the VPC CIDR: what the rules see from the API server
        let src = with.vpc_cidr.map(|n| match n {
            ipnet::IpNet::V4(v4) => IpAddr::V4(v4.hosts().next().unwrap_or(v4.addr())),
            ipnet::IpNet::V6(v6) => IpAddr::V6(v6.addr()),
        });
        let iface = line_interface(ctx, with).await;
        let mut ports: Vec<(&'static str, u16)> =
            NODE_TCP_PORTS.iter().map(|p| ("tcp", *p)).collect();
        if with.flannel {
            ports.push(("udp", VXLAN_PORT));
        }
        firewall::evaluate(
            save.as_deref()
                .map_err(std::string::ToString::to_string)
                .as_deref()
                .map_err(String::as_str),
            &ports,
            src,
            iface.as_deref(),
            &notes,
        )
    }
}
