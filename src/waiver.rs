//! `--accept ID[@TARGET][=REASON]`: waivers, like kubeadm's `--ignore-preflight-errors`, but the row
//! stays in the report with its evidence; it is marked waived and left out of the verdict and the
//! exit code. A waiver that matched nothing is reported as unused, not an error.

use crate::catalogue::Catalogue;
use crate::error::InputError;
use crate::result::{CheckResult, Status, Waived, WaiverUse};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// As given, without the reason.
    pub spec: String,
    pub id: String,
    /// Matches a row's target or address exactly.
    pub target: Option<String>,
    pub reason: String,
}

/// Parse one `--accept` value; an unknown id is exit 2 naming the nearest ids.
pub(crate) fn parse(value: &str, cat: &Catalogue) -> Result<Waiver, InputError> {
    let (spec, reason) = match value.split_once('=') {
        Some((s, r)) => (s.trim(), r.trim()),
        None => (value.trim(), ""),
    };
    let (id, target) = match spec.split_once('@') {
        Some((i, t)) if !t.trim().is_empty() => (i.trim(), Some(t.trim().to_string())),
        Some(_) => {
            return Err(InputError::flag(
                "--accept",
                value,
                "expected ID@TARGET with a target after '@'",
            ))
        }
        None => (spec, None),
    };
    if cat.get_str(id).is_none() {
        let mut near: Vec<(usize, &str)> = cat
            .requirements
            .iter()
            .map(|r| (strsim::levenshtein(id, &r.id), r.id.as_str()))
            .collect();
        near.sort_unstable();
        let list: Vec<&str> = near.iter().take(3).map(|x| x.1).collect();
        return Err(InputError::flag(
            "--accept",
            value,
            format!(
                "'{id}' is not a requirement id; nearest: {}",
                list.join(", ")
            ),
        ));
    }
    let reason = if reason.is_empty() {
        "accepted with --accept".to_string()
    } else {
        crate::text::clean(reason, 200)
    };
    Ok(Waiver {
        spec: spec.to_string(),
        id: id.to_string(),
        target,
        reason,
    })
}

impl Waiver {
    pub fn matches(&self, r: &CheckResult) -> bool {
        r.id == self.id
            && self
                .target
                .as_ref()
                .is_none_or(|t| *t == r.target || r.address.as_deref() == Some(t.as_str()))
    }
}

/// Mark the FAIL / WARN / SKIP rows each waiver covers; report every waiver with its match count.
pub(crate) fn apply(results: &mut [CheckResult], waivers: &[Waiver]) -> Vec<WaiverUse> {
    waivers
        .iter()
        .map(|w| {
            let mut matched = 0;
            for r in results
                .iter_mut()
                .filter(|r| r.status != Status::Pass && r.waived.is_none() && w.matches(r))
            {
                r.waived = Some(Waived {
                    by: w.spec.clone(),
                    reason: w.reason.clone(),
                });
                matched += 1;
            }
            WaiverUse {
                accept: w.spec.clone(),
                reason: w.reason.clone(),
                matched,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Summary;

    fn cat() -> &'static Catalogue {
        crate::catalogue::builtin().unwrap()
    }
    fn row(id: &str, target: &str, address: Option<&str>, status: Status) -> CheckResult {
        CheckResult {
            id: id.into(),
            category: id.split('.').next().unwrap().into(),
            title: id.into(),
            target: target.into(),
            address: address.map(String::from),
            status,
            message: "m".into(),
            remediation: String::new(),
            source: String::new(),
            duration_ms: 0,
            details: Default::default(),
            waived: None,
        }
    }

    #[test]
    fn parse_forms_and_errors() {
        let w = parse("tools.socat=installed from our own mirror", cat()).unwrap();
        assert_eq!(
            (w.id.as_str(), w.target.as_deref(), w.reason.as_str()),
            ("tools.socat", None, "installed from our own mirror")
        );
        let w = parse("tcp.registry@100.103.9.188:443", cat()).unwrap();
        assert_eq!(w.target.as_deref(), Some("100.103.9.188:443"));
        let e = parse("tcp.regsitry", cat()).unwrap_err().to_string();
        assert!(
            e.contains("'tcp.regsitry'") && e.contains("tcp.registry"),
            "{e}"
        );
        assert!(parse("tcp.registry@", cat()).is_err());
    }

    #[test]
    fn waived_rows_keep_evidence_but_leave_the_verdict() {
        let mut rows = vec![
            row("tcp.registry", "r", Some("100.103.9.188:443"), Status::Fail),
            row("tcp.registry", "r", Some("100.103.7.181:443"), Status::Fail),
            row("tools.socat", "socat", None, Status::Warn),
        ];
        let used = apply(
            &mut rows,
            &[
                parse("tcp.registry@100.103.9.188:443=ticket 42", cat()).unwrap(),
                parse("udp.vxlan", cat()).unwrap(),
            ],
        );
        assert_eq!(used[0].matched, 1);
        assert_eq!(
            used[1].matched, 0,
            "an unused waiver is reported, not an error"
        );
        assert_eq!(rows[0].waived.as_ref().unwrap().reason, "ticket 42");
        assert_eq!(rows[0].status, Status::Fail, "the row keeps its status");
        assert!(
            Summary::of(&rows, false).failed(),
            "the other address still fails"
        );
        apply(
            &mut rows,
            &[
                parse("tcp.registry", cat()).unwrap(),
                parse("tools.socat", cat()).unwrap(),
            ],
        );
        let s = Summary::of(&rows, true);
        assert_eq!((s.verdict.as_str(), s.waived, s.fail), ("pass", 3, 2));
    }
}
