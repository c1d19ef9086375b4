//! `cidr.overlap`: no local address or route captures the cloud-service range, the VPC CIDR or
//! the container CIDR.

use ipnet::IpNet;

use crate::catalogue::Catalogue;
use crate::checks::{Check, Step};
use crate::ids::ReqId;
use crate::options::Options;
use crate::probe::cidr::OverlapRule;
use crate::regions::cloud_range;
use crate::run::local::CidrCompare;

/// `cidr.overlap`: one row per range.
pub struct Overlap;
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
            v.push(compare(
                format!("containers {pod}"),
                pod,
                "container CIDR",
                OverlapRule::Container,
                also,
            ));
        }
        v
    }
}
