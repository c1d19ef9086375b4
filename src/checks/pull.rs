//! `pull.auth`, `pull.manifest`, `pull.blob`: a real pull of the pause image followed, read-only
//! (`checks/pull-image.toml`, `--pull-image`).

use std::sync::OnceLock;

use serde::Deserialize;

use crate::catalogue::Catalogue;
use crate::checks::{cloud, Addr, Check, Step};
use crate::ids::ReqId;
use crate::options::Options;
use crate::run::pull::PullFollow;

/// The image the pull rows follow by default, compiled in.
pub(crate) const PULL_IMAGE: &str = include_str!("../../checks/pull-image.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PullImage {
    pub repository: String,
    pub tag: String,
    #[allow(dead_code)]
    pub source: String,
}

/// The default image (validated by the tests).
pub(crate) fn default_image() -> &'static PullImage {
    static T: OnceLock<PullImage> = OnceLock::new();
    T.get_or_init(|| {
        toml::from_str(PULL_IMAGE).unwrap_or(PullImage {
            repository: String::new(),
            tag: String::new(),
            source: String::new(),
        })
    })
}

pub(crate) struct Pull;
impl Check for Pull {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::PullAuth, ReqId::PullManifest, ReqId::PullBlob]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        let (repository, tag) = match &o.pull_image {
            Some((r, t)) => (r.clone(), t.clone()),
            None => (
                default_image().repository.clone(),
                default_image().tag.clone(),
            ),
        };
        // one registry address: the first documented one, else the name's first A record
        let addr = match cloud::registry_addresses(o).first() {
            Some(ip) => Addr::Fixed(*ip),
            None => Addr::resolved(&o.region.registry),
        };
        let kind = PullFollow {
            registry: o.region.registry.clone(),
            repository,
            tag,
        };
        vec![Step::new(ReqId::PullAuth, &o.region.registry, kind)
            .to(addr)
            .port(443)
            .also(ReqId::PullManifest)
            .also(ReqId::PullBlob)]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_image_is_data_with_its_source() {
        let i: super::PullImage = toml::from_str(super::PULL_IMAGE).unwrap();
        assert_eq!(
            (i.repository.as_str(), i.tag.as_str()),
            ("acs/pause", "3.9")
        );
        assert!(i.source.contains("pod-infra-container-image"));
    }
}
