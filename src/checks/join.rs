//! What only the join can check, said and not implied: `host.node-name-unique` (a node of the same
//! name already in the cluster stops the node connection script with "A node named XXX is already
//! exist in the cluster") needs cluster credentials the node does not have before it joins. Every
//! run reports it as not tested, with what it needs and the documented fix.

use crate::catalogue::Catalogue;
use crate::checks::{skipped, Check, Step};
use crate::ids::ReqId;
use crate::options::Options;

/// Why, in the row and in the summary's `untested`.
pub(crate) const NEEDS_CREDENTIALS: &str = "not checkable before the join: whether the cluster already has a node of this name needs cluster credentials (kubectl get node NAME, by someone who has them)";

pub(crate) struct NodeNameUnique;
impl Check for NodeNameUnique {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::HostNodeNameUnique]
    }
    fn plan(&self, _: &Options, _: &Catalogue) -> Vec<Step> {
        skipped(
            self.ids(),
            "node name in the cluster",
            NEEDS_CREDENTIALS,
            "cluster credentials",
        )
    }
}
