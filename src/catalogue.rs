//! The requirement catalogue (`checks/requirements.toml`), compiled in.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::toml_error_line;
use crate::ids::ReqId;

pub(crate) const BUILTIN: &str = include_str!("../checks/requirements.toml");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub category: String,
    pub title: String,
    pub applies: String,
    pub source: String,
    pub remediation: String,
    /// Tool groups: the yum package(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yum: Option<String>,
    /// Tool groups: the apt package(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apt: Option<String>,
    /// Tool groups: alternatives; the group is present when every entry of one alternative is.
    /// An entry starting with '/' is a file that must exist; others are executables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Every category, in report order.
    pub categories: Vec<String>,
    #[serde(rename = "requirement")]
    pub requirements: Vec<Requirement>,
}

impl Catalogue {
    pub fn parse(text: &str) -> Result<Catalogue, String> {
        let c: Catalogue = toml::from_str(text).map_err(|e| toml_error_line(text, &e))?;
        let mut seen = std::collections::HashSet::new();
        for r in &c.requirements {
            if !seen.insert(r.id.as_str()) {
                return Err(format!("duplicate requirement id {}", r.id));
            }
            let prefix = r.id.split('.').next().unwrap_or("");
            if prefix != r.category || !c.categories.contains(&r.category) {
                return Err(format!("requirement {} has category {}", r.id, r.category));
            }
            for f in [&r.title, &r.source, &r.remediation, &r.applies] {
                if f.trim().is_empty() {
                    return Err(format!("requirement {} has an empty field", r.id));
                }
            }
            if r.category == "tools" && (r.any_of.is_empty() || r.yum.is_none() || r.apt.is_none())
            {
                return Err(format!(
                    "tool requirement {} needs any_of, yum and apt",
                    r.id
                ));
            }
        }
        Ok(c)
    }

    /// The entry of `id`.
    pub fn get(&self, id: ReqId) -> Option<&Requirement> {
        self.get_str(id.as_str())
    }

    /// The entry spelled `id` (waivers and selectors come as text).
    pub fn get_str(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    pub fn tools(&self) -> impl Iterator<Item = &Requirement> {
        self.requirements.iter().filter(|r| r.category == "tools")
    }

    /// Whether `sel` (an id or a category) names something in the catalogue.
    pub(crate) fn knows(&self, sel: &str) -> bool {
        self.categories.iter().any(|c| c == sel) || self.get_str(sel).is_some()
    }
}

/// The built-in catalogue (validated by tests; an error here is an internal error).
pub fn builtin() -> Result<&'static Catalogue, String> {
    static CAT: OnceLock<Result<Catalogue, String>> = OnceLock::new();
    CAT.get_or_init(|| Catalogue::parse(BUILTIN))
        .as_ref()
        .map_err(std::clone::Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_is_valid() {
        let c = builtin().unwrap();
        assert!(c.requirements.len() >= 40);
        assert_eq!(c.tools().count(), 9);
        for r in &c.requirements {
            assert!(
                r.source.contains("(https://www.alibabacloud.com/help/")
                    || r.source.starts_with("Goes beyond the documents: "),
                "{} cites no public document and does not say it goes beyond them",
                r.id
            );
            assert!(
                !r.source.contains("seeds/") && !r.source.contains("SPEC.md"),
                "{} cites a file users do not have",
                r.id
            );
        }
    }

    #[test]
    fn rejects_duplicates_and_bad_categories() {
        let one = "categories = [\"dns\", \"tcp\"]\n[[requirement]]\nid = \"dns.x\"\ncategory = \"dns\"\ntitle = \"t\"\napplies = \"a\"\nsource = \"s\"\nremediation = \"r\"\n";
        assert!(Catalogue::parse(one).is_ok());
        let two = format!("{one}{}", one.split_once('\n').unwrap().1);
        assert!(Catalogue::parse(&two).unwrap_err().contains("duplicate"));
        assert!(
            Catalogue::parse(&one.replace("category = \"dns\"", "category = \"tcp\"")).is_err()
        );
    }
}
