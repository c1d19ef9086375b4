//! `tools.*`: the system tools edgeadm needs, one row per tool group of the catalogue.

use crate::catalogue::Catalogue;
use crate::checks::{Check, Step};
use crate::ids::{Category, ReqId};
use crate::options::Options;
use crate::run::local::ToolGroup;

/// Every `tools.*` group (the groups and their binaries are catalogue data).
pub(crate) struct Tools;
impl Check for Tools {
    fn ids(&self) -> &'static [ReqId] {
        Category::Tools.ids()
    }
    fn plan(&self, _: &Options, _: &Catalogue) -> Vec<Step> {
        Category::Tools
            .ids()
            .iter()
            .map(|id| Step::new(*id, id.as_str().trim_start_matches("tools."), ToolGroup))
            .collect()
    }
}
