//! `summarize --baseline DIR`: what changed between two collections of one fleet — per host and
//! per requirement, new failures first, then fixed ones, then hosts that appeared or vanished — so
//! an operator running the Ansible role every night sees the regression, not the whole fleet again.
//!
//! Both collections are summarized as `summarize` does (bounded memory); a host is the same host
//! in both when its identity (hostname, machine id, address toward the cloud) is. The join keeps
//! one 64-bit hash and one index per baseline host; the lists are capped at
//! `--hosts-per-requirement` with whole counts beside them.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use serde::Serialize;

use crate::fleet::{FleetSummary, HostRow, Unreadable};

/// One host whose failing requirements changed, appeared or vanished.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct HostChange {
    pub host: String,
    pub address: String,
    /// The verdict in the baseline (None: not there).
    pub before: Option<String>,
    /// The verdict now (None: not there any more).
    pub now: Option<String>,
    /// The requirements that started (new failures) or stopped (fixed) failing; for an appeared or
    /// vanished host, those failing in the collection it is in.
    pub requirements: Vec<String>,
    pub file: String,
}

/// One requirement's changes across the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct RequirementChange {
    pub id: String,
    pub newly_failing_host_count: usize,
    pub newly_failing_hosts: Vec<String>,
    pub fixed_host_count: usize,
    pub fixed_hosts: Vec<String>,
}

/// A capped list with its whole count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Changes {
    pub count: usize,
    pub hosts: Vec<HostChange>,
}

impl Changes {
    fn push(&mut self, c: HostChange, cap: usize) {
        self.count += 1;
        if self.hosts.len() < cap {
            self.hosts.push(c);
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct FleetDiff {
    pub baseline_hosts: usize,
    pub hosts: usize,
    pub hosts_per_requirement: usize,
    /// Hosts with a requirement failing now that did not fail in the baseline (a host that
    /// appeared failing counts here and under `appeared`).
    pub new_failures: Changes,
    /// Hosts with a requirement that failed in the baseline and does not now.
    pub fixed: Changes,
    pub appeared: Changes,
    pub vanished: Changes,
    /// Per requirement, the hosts where it started or stopped failing; the largest change first.
    pub requirements: Vec<RequirementChange>,
    /// Unreadable files of both collections ("baseline: FILE" for the baseline's).
    pub unreadable: Vec<Unreadable>,
}

fn identity(h: &HostRow) -> (&str, &str, &str) {
    (&h.hostname, &h.machine_id, &h.address)
}

fn hash_of(s: &std::collections::hash_map::RandomState, h: &HostRow) -> u64 {
    s.hash_one(identity(h))
}

fn change(before: Option<&HostRow>, now: Option<&HostRow>, reqs: Vec<String>) -> HostChange {
    let shown = now.or(before).cloned().unwrap_or_default();
    HostChange {
        host: shown.host,
        address: shown.address,
        before: before.map(|h| h.verdict.clone()),
        now: now.map(|h| h.verdict.clone()),
        requirements: reqs,
        file: shown.file,
    }
}

/// Compare two summaries of one fleet.
pub(crate) fn diff(base: &FleetSummary, now: &FleetSummary, cap: usize) -> FleetDiff {
    let hasher = std::collections::hash_map::RandomState::new();
    let bt = &base.host_table;
    let mut index: HashMap<u64, Vec<u32>> = HashMap::with_capacity(bt.len());
    for k in 0..bt.len() {
        let h = bt.row(k);
        index
            .entry(hash_of(&hasher, &h))
            .or_default()
            .push(u32::try_from(k).unwrap_or(u32::MAX));
    }
    let mut seen = vec![false; bt.len()];
    let mut d = FleetDiff {
        baseline_hosts: base.hosts,
        hosts: now.hosts,
        hosts_per_requirement: cap,
        ..FleetDiff::default()
    };
    let mut per_req: BTreeMap<String, RequirementChange> = BTreeMap::new();
    let mut note = |id: &str, host: &str, fixed: bool| {
        let r = per_req
            .entry(id.to_string())
            .or_insert_with(|| RequirementChange {
                id: id.to_string(),
                ..RequirementChange::default()
            });
        let (count, list) = if fixed {
            (&mut r.fixed_host_count, &mut r.fixed_hosts)
        } else {
            (&mut r.newly_failing_host_count, &mut r.newly_failing_hosts)
        };
        *count += 1;
        if list.len() < cap {
            list.push(host.to_string());
        }
    };
    let nt = &now.host_table;
    for k in 0..nt.len() {
        let h = nt.row(k);
        let matched = index
            .get(&hash_of(&hasher, &h))
            .into_iter()
            .flatten()
            .map(|&i| i as usize)
            .find(|&i| !seen[i] && identity(&bt.row(i)) == identity(&h));
        let Some(i) = matched else {
            for id in &h.failing {
                note(id, &h.host, false);
            }
            if !h.failing.is_empty() {
                d.new_failures
                    .push(change(None, Some(&h), h.failing.clone()), cap);
            }
            d.appeared
                .push(change(None, Some(&h), h.failing.clone()), cap);
            continue;
        };
        seen[i] = true;
        let b = bt.row(i);
        let started: Vec<String> = h
            .failing
            .iter()
            .filter(|id| !b.failing.contains(id))
            .cloned()
            .collect();
        let stopped: Vec<String> = b
            .failing
            .iter()
            .filter(|id| !h.failing.contains(id))
            .cloned()
            .collect();
        for id in &started {
            note(id, &h.host, false);
        }
        for id in &stopped {
            note(id, &h.host, true);
        }
        if !started.is_empty() {
            d.new_failures
                .push(change(Some(&b), Some(&h), started), cap);
        }
        if !stopped.is_empty() {
            d.fixed.push(change(Some(&b), Some(&h), stopped), cap);
        }
    }
    for (i, was) in seen.iter().enumerate() {
        if !was {
            let b = bt.row(i);
            d.vanished
                .push(change(Some(&b), None, b.failing.clone()), cap);
        }
    }
    let mut reqs: Vec<RequirementChange> = per_req.into_values().collect();
    reqs.sort_by(|a, b| {
        (b.newly_failing_host_count, b.fixed_host_count, &a.id).cmp(&(
            a.newly_failing_host_count,
            a.fixed_host_count,
            &b.id,
        ))
    });
    d.requirements = reqs;
    d.unreadable = base
        .unreadable
        .iter()
        .map(|u| Unreadable {
            file: format!("baseline: {}", u.file),
            reason: u.reason.clone(),
        })
        .chain(now.unreadable.iter().cloned())
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(host: &str, failing: &[&str]) -> String {
        let results: Vec<serde_json::Value> = ["tcp.registry", "dns.oss", "ntp.offset"]
            .iter()
            .map(|id| {
                let fail = failing.contains(id);
                serde_json::json!({"id": id, "category": id.split('.').next().unwrap(), "title": "t",
                    "target": "x", "address": null, "status": if fail {"fail"} else {"pass"},
                    "message": "m", "remediation": "r", "source": "s", "duration_ms": 1,
                    "details": if fail { serde_json::json!({"phase": "tcp", "error": "timeout"}) } else { serde_json::json!({}) }})
            })
            .collect();
        serde_json::json!({"schema_version": 3, "tool": {"name": "ack-edge-preflight", "version": "0.2.0"},
            "started_at": "2026-12-05T10:00:00Z", "duration_ms": 5,
            "host": {"hostname": host, "os": "", "kernel": "", "addresses": [], "nameservers": [],
                     "machine_id": format!("id-{host}"), "primary_address": "10.0.0.1"},
            "target": {"region": "cn-hangzhou", "cni": "flannel", "apiserver": null},
            "summary": {"pass": 0, "warn": 0, "fail": failing.len(), "skip": 0,
                        "verdict": if failing.is_empty() {"pass"} else {"fail"}},
            "results": results})
        .to_string()
    }

    fn summary(hosts: &[(&str, &[&str])]) -> FleetSummary {
        let texts: Vec<(String, String)> = hosts
            .iter()
            .map(|(h, f)| (format!("{h}.json"), report(h, f)))
            .collect();
        let age = crate::fleet::AgeRule {
            now: crate::clock::epoch_of("2026-12-05T11:00:00Z").unwrap(),
            max_age_s: 86400,
        };
        crate::fleet::summarize_texts(&texts, age, 20)
    }

    #[test]
    fn new_failures_fixed_ones_and_hosts_that_came_and_went() {
        let base = summary(&[
            ("a", &[]),
            ("b", &["tcp.registry"]),
            ("c", &["dns.oss"]),
            ("gone", &[]),
        ]);
        let now = summary(&[
            ("a", &["tcp.registry", "ntp.offset"]),
            ("b", &[]),
            ("c", &["dns.oss"]),
            ("new", &["dns.oss"]),
        ]);
        let d = diff(&base, &now, 20);
        assert_eq!(d.new_failures.count, 2, "{d:#?}");
        assert_eq!(d.new_failures.hosts[0].host, "a");
        assert_eq!(
            d.new_failures.hosts[0].requirements,
            vec!["tcp.registry", "ntp.offset"],
            "in the report's order"
        );
        assert_eq!(d.new_failures.hosts[0].before.as_deref(), Some("pass"));
        assert_eq!(d.new_failures.hosts[1].host, "new");
        assert_eq!(d.fixed.count, 1);
        assert_eq!(d.fixed.hosts[0].host, "b");
        assert_eq!(d.appeared.count, 1);
        assert_eq!(d.vanished.count, 1);
        assert_eq!(d.vanished.hosts[0].host, "gone");
        // c failed dns.oss before and now: no change
        let oss = d.requirements.iter().find(|r| r.id == "dns.oss").unwrap();
        assert_eq!(oss.newly_failing_hosts, vec!["new"]);
        let reg = d
            .requirements
            .iter()
            .find(|r| r.id == "tcp.registry")
            .unwrap();
        assert_eq!((reg.newly_failing_host_count, reg.fixed_host_count), (1, 1));
    }

    #[test]
    fn lists_are_capped_and_counts_whole() {
        let names: Vec<String> = (0..30).map(|i| format!("h{i:02}")).collect();
        let base: Vec<(&str, &[&str])> = names.iter().map(|n| (n.as_str(), &[][..])).collect();
        let now: Vec<(&str, &[&str])> = names
            .iter()
            .map(|n| (n.as_str(), &["tcp.registry"][..]))
            .collect();
        let d = diff(&summary(&base), &summary(&now), 5);
        assert_eq!(d.new_failures.count, 30);
        assert_eq!(d.new_failures.hosts.len(), 5);
        assert_eq!(d.requirements[0].newly_failing_host_count, 30);
        assert_eq!(d.requirements[0].newly_failing_hosts.len(), 5);
    }
}
