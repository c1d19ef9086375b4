//! Region data (`regions/regions.toml`), compiled in; `--regions-file` replaces it.

use std::collections::HashSet;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::{toml_error_line, InputError};

/// The built-in region table.
pub(crate) const BUILTIN: &str = include_str!("../regions/regions.toml");
/// Where the built-in table came from, for messages.
pub(crate) const BUILTIN_ORIGIN: &str = "built-in regions/regions.toml";

/// Alibaba Cloud's cloud-service range, reached over the dedicated line.
pub(crate) fn cloud_range() -> Ipv4Net {
    Ipv4Net::new(std::net::Ipv4Addr::new(100, 0, 0, 0), 8).expect("valid prefix")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub id: String,
    pub name: String,
    pub control_plane: String,
    pub registry: String,
    pub registry_routes: Vec<Ipv4Net>,
    pub oss: String,
    pub oss_vips: Vec<Ipv4Net>,
}

impl Region {
    /// OSS VIP ranges to accept, and whether they are the 100.0.0.0/8 fallback.
    pub(crate) fn oss_ranges(&self) -> (Vec<Ipv4Net>, bool) {
        if self.oss_vips.is_empty() {
            (vec![cloud_range()], true)
        } else {
            (self.oss_vips.clone(), false)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionTable {
    #[serde(rename = "region")]
    pub regions: Vec<Region>,
}

use crate::constants::valid_hostname;

impl RegionTable {
    /// Parse and validate a region table; `origin` names the file for messages.
    pub fn parse(text: &str, origin: &str) -> Result<RegionTable, InputError> {
        let table: RegionTable = toml::from_str(text)
            .map_err(|e| InputError::data(origin, toml_error_line(text, &e)))?;
        table.validate(origin)?;
        Ok(table)
    }

    pub fn builtin() -> Result<RegionTable, InputError> {
        Self::parse(BUILTIN, BUILTIN_ORIGIN)
    }

    /// Read `--regions-file FILE`.
    pub(crate) fn from_file(path: &std::path::Path) -> Result<RegionTable, InputError> {
        let origin = format!("--regions-file {}", path.display());
        let mut bytes = vec![];
        crate::sys::files::read_capped(path, 4 << 20, "at most 4 MiB", false, &mut bytes)
            .map_err(|e| InputError::data(&origin, e))?;
        let text =
            String::from_utf8(bytes).map_err(|_| InputError::data(&origin, "not UTF-8 text"))?;
        Self::parse(&text, &origin)
    }

    fn validate(&self, origin: &str) -> Result<(), InputError> {
        if self.regions.is_empty() {
            return Err(InputError::data(origin, "no [[region]] entries"));
        }
        let cloud = cloud_range();
        let mut ids = HashSet::new();
        for r in &self.regions {
            let bad = |why: String| InputError::data(origin, format!("region '{}': {why}", r.id));
            if r.id.is_empty()
                || !r
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(bad("id must be lowercase letters, digits and '-'".into()));
            }
            if !ids.insert(r.id.as_str()) {
                return Err(bad("duplicate region id".into()));
            }
            for (field, host) in [
                ("control_plane", &r.control_plane),
                ("registry", &r.registry),
                ("oss", &r.oss),
            ] {
                if !valid_hostname(host) {
                    return Err(bad(format!("{field} '{host}' is not a valid host name")));
                }
            }
            if r.registry_routes.is_empty() {
                return Err(bad("registry_routes is empty".into()));
            }
            let mut seen = HashSet::new();
            for net in &r.registry_routes {
                if net.prefix_len() != 32 {
                    return Err(bad(format!("registry route {net} is not a /32")));
                }
                if !cloud.contains(net) {
                    return Err(bad(format!("registry route {net} is outside 100.0.0.0/8")));
                }
                if !seen.insert(*net) {
                    return Err(bad(format!("registry route {net} listed twice")));
                }
            }
            let mut seen = HashSet::new();
            for net in &r.oss_vips {
                if !cloud.contains(net) {
                    return Err(bad(format!("OSS VIP {net} is outside 100.0.0.0/8")));
                }
                if net.trunc() != *net {
                    return Err(bad(format!(
                        "OSS VIP {net} has host bits set (network is {})",
                        net.trunc()
                    )));
                }
                if !seen.insert(*net) {
                    return Err(bad(format!("OSS VIP {net} listed twice")));
                }
            }
        }
        Ok(())
    }

    /// Find a region; an unknown id names the nearest valid ids.
    pub fn find(&self, id: &str, origin: &str) -> Result<&Region, InputError> {
        if let Some(r) = self.regions.iter().find(|r| r.id == id) {
            return Ok(r);
        }
        let mut near: Vec<(usize, &str)> = self
            .regions
            .iter()
            .map(|r| (strsim::levenshtein(id, &r.id), r.id.as_str()))
            .collect();
        near.sort_unstable();
        let best: Vec<&str> = near.iter().take(3).map(|(_, s)| *s).collect();
        Err(InputError::UnknownRegion {
            id: id.into(),
            origin: origin.into(),
            nearest: best.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_with_26_regions() {
        let t = RegionTable::builtin().unwrap();
        assert_eq!(t.regions.len(), 26);
    }

    #[test]
    fn hangzhou_matches_the_seed_example() {
        let t = RegionTable::builtin().unwrap();
        let r = t.find("cn-hangzhou", "test").unwrap();
        let routes: Vec<String> = r
            .registry_routes
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        assert_eq!(routes, ["100.103.9.188/32", "100.103.7.181/32"]);
        let vips: Vec<String> = r
            .oss_vips
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        assert_eq!(
            vips,
            [
                "100.118.28.0/24",
                "100.114.102.0/24",
                "100.98.170.0/24",
                "100.118.31.0/24"
            ]
        );
        assert_eq!(r.control_plane, "cs-anony-vpc.cn-hangzhou.aliyuncs.com");
        assert_eq!(r.registry, "registry-cn-hangzhou-vpc.ack.aliyuncs.com");
        assert_eq!(
            r.oss,
            "aliacs-k8s-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com"
        );
    }

    #[test]
    fn every_cidr_is_inside_100_slash_8_and_endpoints_follow_the_templates() {
        let t = RegionTable::builtin().unwrap();
        for r in &t.regions {
            for n in r.registry_routes.iter().chain(r.oss_vips.iter()) {
                assert!(cloud_range().contains(n), "{} {n}", r.id);
            }
            assert_eq!(
                r.control_plane,
                format!("cs-anony-vpc.{}.aliyuncs.com", r.id)
            );
            assert_eq!(
                r.registry,
                format!("registry-{}-vpc.ack.aliyuncs.com", r.id)
            );
            assert_eq!(
                r.oss,
                format!("aliacs-k8s-{0}.oss-{0}-internal.aliyuncs.com", r.id)
            );
        }
    }

    #[test]
    fn only_zhengzhou_falls_back_to_the_whole_cloud_range() {
        let t = RegionTable::builtin().unwrap();
        let fallback: Vec<&str> = t
            .regions
            .iter()
            .filter(|r| r.oss_ranges().1)
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(fallback, ["cn-zhengzhou-jva"]);
        let tokyo = t.find("ap-northeast-1", "t").unwrap();
        assert_eq!(tokyo.oss_vips[1].to_string(), "100.114.114.0/25");
    }

    #[test]
    fn unknown_region_names_the_nearest() {
        let t = RegionTable::builtin().unwrap();
        let e = t.find("cn-hangzou", "--region").unwrap_err().to_string();
        assert!(
            e.starts_with("unknown region 'cn-hangzou' (from --region); nearest: cn-hangzhou"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    fn one(fields: &str) -> String {
        format!("[[region]]\nid = \"x-1\"\nname = \"X\"\ncontrol_plane = \"a.b\"\nregistry = \"c.d\"\noss = \"e.f\"\n{fields}\n")
    }

    #[test]
    fn invalid_tables_are_rejected_with_one_line() {
        let cases = [
            (
                one("registry_routes = [\"10.0.0.1/32\"]\noss_vips = []"),
                "outside 100.0.0.0/8",
            ),
            (
                one("registry_routes = [\"100.1.1.1/24\"]\noss_vips = []"),
                "not a /32",
            ),
            (
                one("registry_routes = [\"100.1.1.1/32\", \"100.1.1.1/32\"]\noss_vips = []"),
                "listed twice",
            ),
            (
                one("registry_routes = [\"100.1.1.1/32\"]\noss_vips = [\"100.1.1.7/24\"]"),
                "host bits",
            ),
            (
                one("registry_routes = [\"100.1.1.1/32\"]\noss_vips = [\"8.8.8.0/24\"]"),
                "outside 100.0.0.0/8",
            ),
            (
                one("registry_routes = [\"100.1.1.1/32\"]\noss_vips = [\"nope\"]"),
                "line 8: invalid IP address",
            ),
            (
                one("registry_routes = []\noss_vips = []"),
                "registry_routes is empty",
            ),
            (
                one("registry_routes = [\"100.1.1.1/32\"]\noss_vips = []\nextra = 1"),
                "unknown field",
            ),
            ("region = 3".to_string(), "f.toml"),
            (String::new(), "missing field"),
        ];
        for (text, want) in cases {
            let e = RegionTable::parse(&text, "f.toml").unwrap_err().to_string();
            assert!(e.contains(want), "{e} should contain {want}");
            assert!(e.starts_with("f.toml: "), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let t = one("registry_routes = [\"100.1.1.1/32\"]\noss_vips = []");
        let e = RegionTable::parse(&format!("{t}{t}"), "f")
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicate region id"), "{e}");
    }
}
