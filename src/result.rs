//! Results flow out of the engine as values; reports render them.

use serde::{Deserialize, Serialize};

use crate::cause::{Cause, ErrorClass, Phase};

/// The verdict of one (requirement, target) row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// What a probe observed, before the catalogue texts are attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub status: Status,
    pub message: String,
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl Finding {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Finding { status, message: message.into(), details: serde_json::Map::new() }
    }
    pub fn pass(m: impl Into<String>) -> Self {
        Self::new(Status::Pass, m)
    }
    pub fn warn(m: impl Into<String>) -> Self {
        Self::new(Status::Warn, m)
    }
    pub fn fail(m: impl Into<String>) -> Self {
        Self::new(Status::Fail, m)
    }
    pub fn skip(m: impl Into<String>) -> Self {
        Self::new(Status::Skip, m)
    }
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }
    /// Record why: `details.phase` and `details.error` from one cause, always together.
    pub fn because(self, c: &dyn Cause) -> Self {
        self.with("phase", c.phase().as_str()).with("error", c.class().as_str())
    }
    /// A FAIL caused by `c`.
    pub fn fail_by(c: &dyn Cause, m: impl Into<String>) -> Self {
        Self::fail(m).because(c)
    }
    /// A WARN caused by `c`.
    pub fn warn_by(c: &dyn Cause, m: impl Into<String>) -> Self {
        Self::warn(m).because(c)
    }
    /// A SKIP caused by `c`.
    pub fn skip_by(c: &dyn Cause, m: impl Into<String>) -> Self {
        Self::skip(m).because(c)
    }
    /// The phase recorded, if any.
    pub fn phase(&self) -> Option<Phase> {
        self.details.get("phase").and_then(|v| v.as_str()).and_then(Phase::parse)
    }
    /// The error class recorded, if any.
    pub fn class(&self) -> Option<ErrorClass> {
        self.details.get("error").and_then(|v| v.as_str()).and_then(ErrorClass::parse)
    }
}

/// One row of the report (SPEC section 4, `results[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub category: String,
    pub title: String,
    pub target: String,
    pub address: Option<String>,
    pub status: Status,
    pub message: String,
    pub remediation: String,
    pub source: String,
    pub duration_ms: u64,
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// Counts and the overall verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
    pub verdict: String,
}

impl Summary {
    pub fn of(results: &[CheckResult], strict: bool) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.status {
                Status::Pass => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Skip => s.skip += 1,
            }
        }
        s.verdict = if s.fail > 0 || (strict && s.warn > 0) {
            "fail"
        } else if s.warn > 0 {
            "warn"
        } else {
            "pass"
        }
        .to_string();
        s
    }
    pub fn failed(&self) -> bool {
        self.verdict == "fail"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub addresses: Vec<String>,
    pub nameservers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub region: String,
    pub cni: String,
    pub apiserver: Option<String>,
}

/// The whole report (schema_version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub started_at: String,
    pub duration_ms: u64,
    pub host: HostInfo,
    pub target: TargetInfo,
    pub summary: Summary,
    pub results: Vec<CheckResult>,
}

pub const SCHEMA_VERSION: u32 = 1;
