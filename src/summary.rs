//! `summarize`: aggregate many hosts' JSON reports (fleet automation) into one view:
//! verdicts per host, and for every requirement id which hosts failed or warned, with a sample message.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::InputError;
use crate::result::{Report, Status, SCHEMA_VERSION};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequirementSummary {
    pub id: String,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
    /// Hosts with at least one FAIL row for this id.
    pub failing_hosts: Vec<String>,
    pub warning_hosts: Vec<String>,
    /// One message of a failing (else warning) row, as a hint.
    pub sample: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FleetSummary {
    pub hosts: usize,
    pub verdicts: BTreeMap<String, usize>,
    pub failing_hosts: Vec<String>,
    pub requirements: Vec<RequirementSummary>,
}

/// Parse one report; errors name the file.
pub fn parse_report(text: &str, origin: &str) -> Result<Report, InputError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| InputError::data(origin, format!("not JSON: {e}")))?;
    match v.get("schema_version").and_then(|x| x.as_u64()) {
        Some(n) if (1..=SCHEMA_VERSION as u64).contains(&n) => {}
        Some(n) => return Err(InputError::data(origin, format!("schema_version {n} is not supported (expected 1 to {SCHEMA_VERSION})"))),
        None => return Err(InputError::data(origin, "not an ack-edge-preflight report (no schema_version)")),
    }
    serde_json::from_value(v).map_err(|e| InputError::data(origin, format!("invalid report: {e}")))
}

pub fn summarize(reports: &[(String, Report)]) -> FleetSummary {
    let mut s = FleetSummary { hosts: reports.len(), ..Default::default() };
    let mut by_id: BTreeMap<String, RequirementSummary> = BTreeMap::new();
    for (origin, r) in reports {
        let host = if r.host.hostname.is_empty() { origin.clone() } else { r.host.hostname.clone() };
        *s.verdicts.entry(r.summary.verdict.as_str().to_string()).or_default() += 1;
        if r.summary.failed() {
            s.failing_hosts.push(host.clone());
        }
        for row in &r.results {
            let e = by_id.entry(row.id.clone()).or_insert_with(|| RequirementSummary { id: row.id.clone(), ..Default::default() });
            match row.status {
                Status::Pass => e.pass += 1,
                Status::Warn => e.warn += 1,
                Status::Fail => e.fail += 1,
                Status::Skip => e.skip += 1,
            }
            match row.status {
                Status::Fail if !e.failing_hosts.contains(&host) => {
                    e.failing_hosts.push(host.clone());
                    if e.failing_hosts.len() == 1 {
                        e.sample = Some(format!("{host}: {}", row.message));
                    }
                }
                Status::Warn if !e.warning_hosts.contains(&host) => {
                    e.warning_hosts.push(host.clone());
                    if e.sample.is_none() {
                        e.sample = Some(format!("{host}: {}", row.message));
                    }
                }
                _ => {}
            }
        }
    }
    let mut reqs: Vec<RequirementSummary> = by_id.into_values().collect();
    // the most widespread failures first
    reqs.sort_by(|a, b| b.failing_hosts.len().cmp(&a.failing_hosts.len()).then(b.warning_hosts.len().cmp(&a.warning_hosts.len())).then(a.id.cmp(&b.id)));
    s.requirements = reqs;
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::*;

    fn report(host: &str, rows: &[(&str, Status)]) -> Report {
        let results: Vec<CheckResult> = rows
            .iter()
            .map(|(id, st)| CheckResult {
                id: id.to_string(),
                category: id.split('.').next().unwrap().into(),
                title: "t".into(),
                target: "x".into(),
                address: None,
                status: *st,
                message: format!("{id} {}", st.as_str()),
                remediation: String::new(),
                source: String::new(),
                duration_ms: 1,
                details: Default::default(),
                waived: None,
            })
            .collect();
        Report {
            options: Default::default(),
            waivers: vec![],
            schema_version: 1,
            tool: ToolInfo { name: "ack-edge-preflight".into(), version: "0.1.0".into() },
            started_at: "2026-11-21T10:00:00Z".into(),
            duration_ms: 5,
            host: HostInfo { hostname: host.into(), ..Default::default() },
            target: TargetInfo { region: "cn-hangzhou".into(), cni: "flannel".into(), apiserver: None },
            summary: Summary::of(&results, false),
            results,
        }
    }

    #[test]
    fn aggregates_by_requirement() {
        let reps = vec![
            ("a.json".to_string(), report("n1", &[("tcp.registry", Status::Fail), ("tcp.registry", Status::Fail), ("dns.oss", Status::Pass)])),
            ("b.json".to_string(), report("n2", &[("tcp.registry", Status::Pass), ("dns.oss", Status::Warn)])),
            ("c.json".to_string(), report("n3", &[("tcp.registry", Status::Fail), ("dns.oss", Status::Pass)])),
        ];
        let s = summarize(&reps);
        assert_eq!(s.hosts, 3);
        assert_eq!(s.verdicts["fail"], 2);
        assert_eq!(s.verdicts["warn"], 1);
        assert_eq!(s.failing_hosts, ["n1", "n3"]);
        assert_eq!(s.requirements[0].id, "tcp.registry");
        assert_eq!(s.requirements[0].failing_hosts, ["n1", "n3"]);
        assert_eq!(s.requirements[0].fail, 3);
        assert_eq!(s.requirements[1].warning_hosts, ["n2"]);
        assert!(s.requirements[0].sample.as_deref().unwrap().starts_with("n1: "));
    }

    #[test]
    fn bad_reports_name_the_file() {
        assert!(parse_report("{", "x.json").unwrap_err().to_string().starts_with("x.json: not JSON"));
        assert!(parse_report("{\"schema_version\": 3}", "y.json").unwrap_err().to_string().contains("schema_version 3"));
        assert!(parse_report("{}", "z.json").unwrap_err().to_string().contains("no schema_version"));
        let good = serde_json::to_string(&report("n1", &[])).unwrap();
        assert!(parse_report(&good, "g.json").is_ok());
    }
}
