//! Results flow out of the engine as values; reports render them.

use serde::{Deserialize, Serialize};

use crate::cause::{Cause, ErrorClass, Phase};
use crate::evidence::{Details, Evidence};

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
    pub details: Details,
    /// A fix built from what was observed (the resolver in use, refused or silent, which CA was
    /// given); replaces the catalogue's general remediation on this row.
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Finding {
            status,
            message: message.into(),
            details: Details::default(),
            fix: None,
        }
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
    /// A family's typed record into `details`.
    #[must_use]
    pub fn evidence(mut self, e: &impl Evidence) -> Self {
        self.details.record(e);
        self
    }
    /// The row that explains this one.
    #[must_use]
    pub fn caused_by(mut self, c: crate::evidence::CausedBy) -> Self {
        self.details.caused_by = Some(c);
        self
    }
    /// The same evidence under another verdict: status, cause and message replaced, every
    /// recorded field kept.
    #[must_use]
    pub(crate) fn recast(
        mut self,
        status: Status,
        c: &dyn Cause,
        message: impl Into<String>,
    ) -> Self {
        self.status = status;
        self.message = message.into();
        self.because(c)
    }
    /// Set the observed fix for this row.
    pub fn fix(mut self, text: impl Into<String>) -> Self {
        self.fix = Some(text.into());
        self
    }
    /// Record why: `details.phase` and `details.error` from one cause, always together.
    pub fn because(mut self, c: &dyn Cause) -> Self {
        self.details.phase = Some(c.phase());
        self.details.error = Some(c.class());
        self
    }
    /// A FAIL caused by `c`.
    pub(crate) fn fail_by(c: &dyn Cause, m: impl Into<String>) -> Self {
        Self::fail(m).because(c)
    }
    /// A WARN caused by `c`.
    pub(crate) fn warn_by(c: &dyn Cause, m: impl Into<String>) -> Self {
        Self::warn(m).because(c)
    }
    /// A SKIP caused by `c`.
    pub(crate) fn skip_by(c: &dyn Cause, m: impl Into<String>) -> Self {
        Self::skip(m).because(c)
    }
    /// The phase recorded, if any.
    pub fn phase(&self) -> Option<Phase> {
        self.details.phase
    }
    /// The error class recorded, if any.
    pub fn class(&self) -> Option<ErrorClass> {
        self.details.error
    }
}

/// One row of the report (`results[]`).
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
    #[serde(default)]
    pub details: Details,
    /// Set when an `--accept` waiver covers this row: it keeps its status and evidence but does not
    /// count for the verdict or the exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waived: Option<Waived>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waived {
    /// The `--accept` value that matched (`ID`, `ID@TARGET`).
    pub by: String,
    pub reason: String,
}

/// The overall verdict.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    #[default]
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// A requirement that was not tested, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Untested {
    pub id: String,
    pub reason: String,
}

impl Untested {
    /// `planned` (deselected and not runnable with these options), then every requirement that
    /// was planned but did not run (a SKIP row), once each.
    pub(crate) fn with_skips(mut planned: Vec<Untested>, results: &[CheckResult]) -> Vec<Untested> {
        // a requirement that does not apply (Raven not in use) was not left untested
        let applies = |r: &&CheckResult| r.details.applicable != Some(false);
        for r in results
            .iter()
            .filter(|r| r.status == Status::Skip)
            .filter(applies)
        {
            if !planned.iter().any(|u| u.id == r.id) {
                planned.push(Untested {
                    id: r.id.clone(),
                    reason: format!("not run: {}", crate::text::clean(&r.message, 100)),
                });
            }
        }
        planned
    }
}

/// Counts and the overall verdict. Waived rows are counted under `waived` and in their status, but
/// not in the verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
    #[serde(default)]
    pub waived: usize,
    pub verdict: Verdict,
    /// False when any requirement was not tested (see `untested`).
    #[serde(default = "yes")]
    pub complete: bool,
    #[serde(default)]
    pub untested: Vec<Untested>,
}

fn yes() -> bool {
    true
}

impl Summary {
    pub fn of(results: &[CheckResult], strict: bool) -> Summary {
        let mut s = Summary {
            complete: true,
            ..Default::default()
        };
        let (mut fail, mut warn) = (false, false);
        for r in results {
            match r.status {
                Status::Pass => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Skip => s.skip += 1,
            }
            if r.waived.is_some() {
                s.waived += 1;
                continue;
            }
            fail |= r.status == Status::Fail || (strict && r.status == Status::Warn);
            warn |= r.status == Status::Warn;
        }
        s.verdict = if fail {
            Verdict::Fail
        } else if warn {
            Verdict::Warn
        } else {
            Verdict::Pass
        };
        s
    }
    /// Record what was not tested.
    pub fn with_untested(mut self, untested: Vec<Untested>) -> Summary {
        self.complete = untested.is_empty();
        self.untested = untested;
        self
    }
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Fail
    }
    /// "PASS", or "PASS, incomplete: tcp.apiserver needs --apiserver; …".
    /// The verdict, short: "FAIL", or "FAIL, incomplete (2 requirements not tested)".
    pub(crate) fn verdict_short(&self) -> String {
        if self.complete {
            return self.verdict.label().to_string();
        }
        let mut ids: Vec<&str> = self.untested.iter().map(|u| u.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        format!(
            "{}, incomplete ({} requirement{} not tested)",
            self.verdict.label(),
            ids.len(),
            if ids.len() == 1 { "" } else { "s" }
        )
    }

    pub(crate) fn verdict_line(&self) -> String {
        if self.complete {
            return self.verdict.label().to_string();
        }
        let mut seen = vec![];
        let parts: Vec<String> = self
            .untested
            .iter()
            .filter(|u| {
                let new = !seen.contains(&u.id);
                seen.push(u.id.clone());
                new
            })
            .map(|u| format!("{} {}", u.id, u.reason))
            .collect();
        format!("{}, incomplete: {}", self.verdict.label(), parts.join("; "))
    }
}

/// The options that shaped the plan, as given (so a report says what it did and did not test).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    pub region: String,
    pub cni: String,
    pub k8s_version: String,
    pub apiserver: Option<String>,
    pub peers: Vec<String>,
    pub dns_server: Option<String>,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub accept: Vec<String>,
    pub timeout_ms: u64,
    pub strict: bool,
}

/// An `--accept` waiver and whether it matched any row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaiverUse {
    pub accept: String,
    pub reason: String,
    pub matched: usize,
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
    /// /etc/machine-id (32 hex digits), "" when absent or malformed: with the hostname and the
    /// primary address it tells hosts apart in `summarize` (fresh installs share hostnames).
    #[serde(default)]
    pub machine_id: String,
    /// The source address the kernel picks toward the cloud (the VPC DNS for `check`, the first node
    /// for `inbound`), else the first global address; None when the host has none.
    #[serde(default)]
    pub primary_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub region: String,
    pub cni: String,
    pub apiserver: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub started_at: String,
    pub duration_ms: u64,
    pub host: HostInfo,
    pub target: TargetInfo,
    #[serde(default)]
    pub options: RunOptions,
    pub summary: Summary,
    #[serde(default)]
    pub waivers: Vec<WaiverUse>,
    pub results: Vec<CheckResult>,
}

/// 2: `options`, `waivers`, `summary.complete` / `untested` / `waived`, `results[].waived`,
/// closed `details.phase` / `details.error`, `details.caused_by` (see docs/report.md).
/// 3: `host.machine_id`, `host.primary_address`.
pub const SCHEMA_VERSION: u32 = 3;
