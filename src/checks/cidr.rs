//! `cidr.overlap`: no local address or route captures the cloud-service range, the VPC CIDR or
//! the container CIDR, and none collides with an address the edge components claim on the node
//! (`checks/edge-addresses.toml`: edge-hub's dummy interface).

use std::sync::OnceLock;

use ipnet::IpNet;
use serde::Deserialize;

use crate::catalogue::Catalogue;
use crate::checks::{Check, Step};
use crate::ids::ReqId;
use crate::options::Options;
use crate::probe::cidr::OverlapRule;
use crate::regions::cloud_range;
use crate::run::local::{CidrCompare, ClaimedCompare};

/// The edge components' own addresses on the node, compiled in.
pub(crate) const EDGE_ADDRESSES: &str = include_str!("../../checks/edge-addresses.toml");

pub(crate) use crate::probe::cidr::EdgeAddress;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeTable {
    address: Vec<EdgeAddress>,
}

/// Every address of `checks/edge-addresses.toml` (validated by the tests below).
pub(crate) fn edge_addresses() -> &'static [EdgeAddress] {
    static T: OnceLock<Vec<EdgeAddress>> = OnceLock::new();
    T.get_or_init(|| {
        toml::from_str::<EdgeTable>(EDGE_ADDRESSES)
            .map(|t| t.address)
            .unwrap_or_default()
    })
}

/// `cidr.overlap`: one row per range.
pub(crate) struct Overlap;
impl Check for Overlap {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::CidrOverlap]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let cloud = IpNet::V4(cloud_range());
        let compare = |target: String,
                       range: IpNet,
                       label: &str,
                       rule: OverlapRule,
                       also: Vec<(String, IpNet)>| {
            Step::new(
                ReqId::CidrOverlap,
                target,
                CidrCompare {
                    range,
                    label: label.into(),
                    rule,
                    also,
                },
            )
        };
        let mut v = vec![compare(
            format!("cloud services {cloud}"),
            cloud,
            "cloud-service range",
            OverlapRule::Remote,
            vec![],
        )];
        if let Some(vpc) = o.vpc_cidr {
            let also = vec![("cloud-service range".into(), cloud)];
            v.push(compare(
                format!("VPC {vpc}"),
                vpc,
                "VPC CIDR",
                OverlapRule::Remote,
                also,
            ));
        }
        if let Some(pod) = o.pod_cidr {
            let mut also = vec![("cloud-service range".to_string(), cloud)];
            if let Some(vpc) = o.vpc_cidr {
                also.push(("VPC CIDR".into(), vpc));
            }
            if let Some(svc) = o.service_cidr {
                also.push(("Service CIDR".into(), svc));
            }
            v.push(compare(
                format!("containers {pod}"),
                pod,
                "container CIDR",
                OverlapRule::Container,
                also,
            ));
        }
        if let Some(svc) = o.service_cidr {
            let mut also = vec![("cloud-service range".to_string(), cloud)];
            if let Some(vpc) = o.vpc_cidr {
                also.push(("VPC CIDR".into(), vpc));
            }
            v.push(compare(
                format!("services {svc}"),
                svc,
                "Service CIDR",
                OverlapRule::Container,
                also,
            ));
        }
        for e in edge_addresses() {
            let target = format!("{} {}", e.component, e.address);
            v.push(Step::new(
                ReqId::CidrOverlap,
                target,
                ClaimedCompare { claimed: e.clone() },
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edge_address_table_parses_and_cites_its_source() {
        let t: EdgeTable = toml::from_str(EDGE_ADDRESSES).unwrap();
        assert!(!t.address.is_empty());
        for e in &t.address {
            assert!(
                e.address.is_ipv4() && !e.interfaces.is_empty() && e.source.len() > 20,
                "{e:?}"
            );
            let std::net::IpAddr::V4(v4) = e.address else {
                unreachable!()
            };
            assert!(v4.is_link_local(), "{} is not link-local", e.address);
        }
        assert_eq!(edge_addresses(), t.address.as_slice());
    }
}
