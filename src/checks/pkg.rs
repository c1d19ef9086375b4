//! `pkg.sources`: edgeadm can install missing tools from the node's yum/apt sources.

use crate::catalogue::Catalogue;
use crate::checks::{Check, Step};
use crate::ids::ReqId;
use crate::options::Options;
use crate::run::local::PkgSources;

/// `pkg.sources`.
pub(crate) struct Sources;
impl Check for Sources {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::PkgSources]
    }
    fn plan(&self, _: &Options, _: &Catalogue) -> Vec<Step> {
        vec![Step::new(ReqId::PkgSources, "yum/apt sources", PkgSources)]
    }
}
