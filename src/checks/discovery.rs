//! `http.cluster-info`: the discovery request edgeadm makes (kubeadm's token discovery), with the
//! bootstrap token and the CA pin of the node connection script when given.

use crate::catalogue::Catalogue;
use crate::checks::{cloud, Check, Step};
use crate::ids::ReqId;
use crate::options::Options;
use crate::run::discovery::Discover;

pub(crate) struct ClusterInfo;
impl Check for ClusterInfo {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::HttpClusterInfo]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let Some(api) = &o.apiserver else {
            return cloud::without_apiserver(self.ids());
        };
        let kind = Discover {
            apiserver: api.host.to_string(),
            token: o.token.clone(),
            pin: o.ca_cert_hash.clone(),
            given: o
                .cluster_roots
                .iter()
                .filter_map(|c| crate::probe::discovery::ca_pin_der(c))
                .map(|(hash, _)| hash)
                .collect(),
        };
        vec![
            Step::new(ReqId::HttpClusterInfo, api.host.to_string(), kind)
                .to(cloud::host_addr(&api.host))
                .port(api.port),
        ]
    }
}
