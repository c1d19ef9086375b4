//! The evidence of a row (`details`), typed.
//!
//! [`Details`] holds what every explanation reads as typed fields — the cause ([`Phase`],
//! [`ErrorClass`]), the row that explains this one ([`CausedBy`]), where a failed flow breaks
//! ([`Whose`], [`HopRecord`]) — and the probe family's own record: one [`Evidence`] type per
//! family (`DnsEvidence`, `TcpEvidence`, `TlsEvidence`, `CidrEvidence`, …, each beside its probe),
//! written with [`Details::record`] and read back with [`Details::read`]. The key strings live
//! only in those types' serde attributes, so a writer and its readers cannot drift apart: a
//! renamed field is a compile error, not a silently dropped root-cause link.
//!
//! The family map is private: nothing outside this module reads `details` by key
//! (`tests/architecture.rs` also rejects `.details.get(` and `details["…"]` outside tests).

use std::net::IpAddr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cause::{ErrorClass, Phase};
use crate::ids::ReqId;

/// Define a family's evidence record: every field optional, absent fields not written, so a row
/// records the fields it observed (several partial records of one family merge).
#[macro_export]
macro_rules! evidence {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        $vis struct $name {
            $($(#[$fm])* #[serde(default, skip_serializing_if = "Option::is_none")] $vis $field: Option<$ty>,)*
        }
        impl $crate::evidence::Evidence for $name {}
    };
}

/// A probe family's record in `details`. Every field must be optional or defaulted where a row of
/// the family may lack it, so that [`Details::read`] finds it on the rows that have it.
pub trait Evidence: Serialize + DeserializeOwned {}

/// `details` of one row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// The phase in which the row went wrong (set with `error`, from one cause).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub phase: Option<Phase>,
    /// What went wrong.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub error: Option<ErrorClass>,
    /// The row that explains this one (the views fold this row under it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<CausedBy>,
    /// False on a row whose requirement does not apply to this node (it was not left untested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicable: Option<bool>,
    /// Whose side a failed flow breaks on, from its TTL sweep.
    #[serde(
        rename = "where",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub whose: Option<Whose>,
    /// The hops of the sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hops: Option<Vec<HopRecord>>,
    /// The family's record(s), flattened.
    #[serde(flatten)]
    family: Map<String, Value>,
}

/// A value of a closed vocabulary this version does not know (a newer agent's report in
/// `summarize`) reads as absent instead of rejecting the whole report.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.and_then(|v| serde_json::from_value(v).ok()))
}

impl Details {
    /// Add a family's record (its fields join `details`; a later record's field replaces an
    /// earlier one of the same name).
    pub(crate) fn record(&mut self, e: &impl Evidence) {
        if let Ok(Value::Object(m)) = serde_json::to_value(e) {
            self.family.extend(m);
        }
    }
    /// The family's record, when this row carries one.
    pub fn read<E: Evidence>(&self) -> Option<E> {
        serde_json::from_value(Value::Object(self.family.clone())).ok()
    }
    /// The whole of `details` as JSON (for tests and outputs that show it raw).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The row that explains another (`details.caused_by`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausedBy {
    pub id: String,
    /// The row's target; absent: any row of `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl CausedBy {
    pub fn new(id: ReqId, target: impl Into<String>, address: Option<String>) -> CausedBy {
        CausedBy {
            id: id.to_string(),
            target: Some(target.into()),
            address,
        }
    }
    /// Any row of requirement `id`.
    pub fn any(id: ReqId) -> CausedBy {
        CausedBy {
            id: id.to_string(),
            target: None,
            address: None,
        }
    }
}

/// Whose side a failed flow breaks on (`details.where`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Whose {
    /// The datacenter's network: the node, its gateway, the routers before the line.
    Datacenter,
    /// The line's cloud end and beyond.
    Cloud,
    /// Silence after a datacenter hop: the traffic is lost past it (the datacenter's forward
    /// route or firewall, or the line) or the answers from beyond it are lost on the way back
    /// (the cloud side's route back to the datacenter CIDR). The evidence does not tell which.
    Either,
    /// The hops answered but their side is not known.
    Unknown,
    /// The path works now: nobody's.
    None,
}

/// One hop of a sweep (`details.hops[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopRecord {
    pub ttl: u8,
    /// The router that answered at this TTL; null when none did.
    pub address: Option<IpAddr>,
    pub rtt_ms: Option<f64>,
    pub side: Option<HopSide>,
}

/// Which side of the line a hop is on (`details.hops[].side`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HopSide {
    Datacenter,
    Line,
    Cloud,
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Demo {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n: Option<u32>,
    }
    impl Evidence for Demo {}

    #[test]
    fn a_record_reads_back_and_serialises_flat() {
        let mut d = Details {
            error: Some(ErrorClass::Timeout),
            ..Details::default()
        };
        d.record(&Demo { n: Some(3) });
        assert_eq!(d.read::<Demo>(), Some(Demo { n: Some(3) }));
        let j = d.to_json();
        assert_eq!(j, serde_json::json!({"error": "timeout", "n": 3}));
        let back: Details = serde_json::from_value(j).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn an_unknown_class_from_a_newer_report_reads_as_absent() {
        let d: Details = serde_json::from_value(
            serde_json::json!({"error": "from-the-future", "where": "moon"}),
        )
        .unwrap();
        assert_eq!((d.error, d.whose), (None, None));
    }
}
