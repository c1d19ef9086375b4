//! Requirement ids and categories as values. `build.rs` generates both enums from
//! `checks/requirements.toml`, so an id exists in the code exactly when the catalogue has it; the
//! strings appear only in reports, on the command line and in the catalogue.

use std::fmt;

use serde::{Serialize, Serializer};

include!(concat!(env!("OUT_DIR"), "/ids.rs"));

impl ReqId {
    /// The id spelled `s`, if the catalogue has it.
    #[must_use]
    pub fn parse(s: &str) -> Option<ReqId> {
        ReqId::ALL.iter().copied().find(|id| id.as_str() == s)
    }

    /// Whether a `--only` / `--skip` / `--accept` selector (an id or a category) names this id.
    #[must_use]
    pub(crate) fn selected_by(self, selector: &str) -> bool {
        self.as_str() == selector || self.category().as_str() == selector
    }
}

impl Category {
    /// The category spelled `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// Where a category named `s` sorts in reports (unknown ones last).
    #[must_use]
    pub(crate) fn rank(s: &str) -> usize {
        Category::ALL
            .iter()
            .position(|c| c.as_str() == s)
            .unwrap_or(Category::ALL.len())
    }
}

impl fmt::Display for ReqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReqId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_carry_their_category() {
        for id in ReqId::ALL {
            assert_eq!(ReqId::parse(id.as_str()), Some(*id));
            assert!(id.as_str().starts_with(&format!("{}.", id.category())));
            assert!(id.category().ids().contains(id));
        }
        assert_eq!(ReqId::parse("tcp.nothing"), None);
    }
}
