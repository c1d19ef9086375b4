//! `summarize`: many hosts' JSON reports (a fleet, a rack sweep) into one answer per requirement
//! with the failing hosts.
//!
//! Streaming and parallel: workers read one file at a time into a reused buffer and parse only
//! the fields the summary needs ([`Lean`]); the main thread folds each into small per-host records
//! (interned ids and error classes, counts, one example message per group). Memory grows with the
//! number of hosts (a few hundred bytes each), never with the size of the reports.
//!
//! A host is hostname + machine id + primary address: fresh installs share `localhost.localdomain`.
//! The same report given twice counts once (flagged `duplicate`); of two reports of one host the
//! newer counts (the older is flagged `superseded`). Unreadable files are listed with the reason.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::result::{Status, SCHEMA_VERSION};

/// A report larger than this is not read (a real one is tens of KB).
pub(crate) const MAX_REPORT_BYTES: u64 = 64 << 20;
/// Distinct row addresses kept per (requirement, status, error) group.
pub(crate) const MAX_GROUP_ADDRESSES: usize = 20;
/// A report dated more than this after now is flagged (the host's clock is off).
pub(crate) const FUTURE_SLACK_S: i64 = 300;

// ---- what is read of each report -------------------------------------------------------------

#[derive(Deserialize)]
struct Lean {
    schema_version: u64,
    tool: LeanTool,
    started_at: String,
    host: LeanHost,
    #[serde(default)]
    options: LeanOptions,
    summary: LeanSummary,
    results: Vec<LeanRow>,
}

#[derive(Deserialize)]
struct LeanTool {
    name: String,
    version: String,
}

#[derive(Deserialize)]
struct LeanHost {
    hostname: String,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    machine_id: String,
    #[serde(default)]
    primary_address: Option<String>,
}

#[derive(Deserialize, Default)]
struct LeanOptions {
    #[serde(default)]
    region: String,
}

#[derive(Deserialize)]
struct LeanSummary {
    verdict: String,
}

#[derive(Deserialize)]
struct LeanRow {
    id: String,
    status: Status,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: LeanDetails,
    #[serde(default)]
    waived: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
struct LeanDetails {
    #[serde(default)]
    error: Option<String>,
}

/// One parsed report, as a worker hands it over.
struct Parsed {
    file: usize,
    hostname: String,
    machine_id: String,
    address: String,
    started_at: String,
    version: String,
    region: String,
    verdict: String,
    rows: Vec<LeanRow>,
}

/// Why a file was not summarized.
fn classify(bytes: &[u8], e: serde_json::Error) -> String {
    let v: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return format!("not JSON: {e}"),
    };
    match v.get("schema_version").and_then(serde_json::Value::as_u64) {
        Some(n) if (1..=u64::from(SCHEMA_VERSION)).contains(&n) => format!("invalid report: {e}"),
        Some(n) => format!("schema_version {n} is not supported (expected 1 to {SCHEMA_VERSION})"),
        None => "not an ack-edge-preflight report (no schema_version)".into(),
    }
}

/// Parse one report's bytes (pure; the fuzzable part).
/// Read one report as `summarize` does, keeping nothing (the fuzz target's entry point).
pub fn parse_report(text: &str) -> Result<(), String> {
    parse(text.as_bytes(), 0).map(|_| ())
}

fn parse(bytes: &[u8], file: usize) -> Result<Parsed, String> {
    let r: Lean = serde_json::from_slice(bytes).map_err(|e| classify(bytes, e))?;
    if !(1..=u64::from(SCHEMA_VERSION)).contains(&r.schema_version) {
        return Err(format!(
            "schema_version {} is not supported (expected 1 to {SCHEMA_VERSION})",
            r.schema_version
        ));
    }
    if r.tool.name != "ack-edge-preflight" {
        return Err(format!(
            "a report of {:?}, not of ack-edge-preflight",
            crate::text::clean(&r.tool.name, 40)
        ));
    }
    let first = r
        .host
        .addresses
        .first()
        .map(|a| a.split('/').next().unwrap_or(a).to_string());
    Ok(Parsed {
        file,
        hostname: r.host.hostname,
        machine_id: r.host.machine_id,
        address: r.host.primary_address.or(first).unwrap_or_default(),
        started_at: r.started_at,
        version: r.tool.version,
        region: r.options.region,
        verdict: r.summary.verdict,
        rows: r.results,
    })
}

fn read_one(path: &std::path::Path, buf: &mut Vec<u8>) -> Result<(), String> {
    let limit = format!("a report is at most {} MiB", MAX_REPORT_BYTES >> 20);
    crate::sys::files::read_capped(path, MAX_REPORT_BYTES, &limit, false, buf)
        .map_err(|e| e.to_string())
}

// ---- the summary ----------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct FleetSummary {
    /// Files given (after directories are expanded).
    pub files: usize,
    /// Hosts counted (each once, by its newest report).
    pub hosts: usize,
    pub verdicts: BTreeMap<String, usize>,
    pub failing_hosts: Vec<String>,
    /// Mixed regions, mixed tool versions, stale or future-dated reports.
    pub warnings: Vec<String>,
    pub requirements: Vec<RequirementSummary>,
    pub host_table: Vec<HostRow>,
    pub duplicates: Vec<Duplicate>,
    pub unreadable: Vec<Unreadable>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct RequirementSummary {
    pub id: String,
    /// Rows per status over the counted hosts (waived rows only under `waived`).
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
    pub waived: usize,
    pub failing_hosts: Vec<String>,
    pub warning_hosts: Vec<String>,
    /// FAIL and WARN rows grouped by `details.error`, the largest group first.
    pub groups: Vec<ErrorGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ErrorGroup {
    pub status: Status,
    /// `details.error`, or "" for rows without one.
    pub error: String,
    pub hosts: Vec<String>,
    /// Row addresses seen in the group (at most MAX_GROUP_ADDRESSES), e.g. node:port of a sweep.
    pub addresses: Vec<String>,
    /// One observed message, "host: message".
    pub sample: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct HostRow {
    /// Unique name of the host in this summary: the hostname, qualified when hostnames repeat.
    pub host: String,
    pub file: String,
    pub hostname: String,
    pub machine_id: String,
    pub address: String,
    pub verdict: String,
    pub failing: Vec<String>,
    pub warning: Vec<String>,
    pub started_at: String,
    pub version: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Duplicate {
    pub file: String,
    /// "duplicate" (the same report as `same_as`) or "superseded" (an older report of its host).
    pub kind: &'static str,
    pub same_as: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Unreadable {
    pub file: String,
    pub reason: String,
}

/// How to judge report ages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AgeRule {
    /// Seconds since the epoch, now.
    pub now: i64,
    pub max_age_s: i64,
}

/// String interner: ids and error classes repeat across thousands of hosts.
#[derive(Default)]
struct Interner {
    map: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.to_string());
        self.map.insert(s.to_string(), i);
        i
    }
}

/// (requirement, status, error class, address or u32::MAX, waived) with its row count.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct RowKey {
    id: u32,
    status: Status,
    error: u32,
    address: u32,
    waived: bool,
}

struct HostEntry {
    file: usize,
    hostname: String,
    machine_id: String,
    address: String,
    started_at: String,
    version: u32,
    region: u32,
    verdict: String,
    rows: Box<[(RowKey, u32)]>,
}

/// Example message per (requirement, status, error): the host it came from and the text.
type Samples = HashMap<(u32, Status, u32), (usize, String)>;

#[derive(Default)]
struct Fold {
    strings: Interner,
    hosts: Vec<Option<HostEntry>>,
    by_identity: HashMap<(String, String, String), usize>,
    samples: Samples,
    duplicates: Vec<(usize, &'static str, usize)>,
}

const NONE: u32 = u32::MAX;

impl Fold {
    fn add(&mut self, p: Parsed) {
        let key = (p.hostname.clone(), p.machine_id.clone(), p.address.clone());
        let slot = match self.by_identity.get(&key).copied() {
            None => {
                self.by_identity.insert(key, self.hosts.len());
                self.hosts.push(None);
                self.hosts.len() - 1
            }
            Some(i) => {
                let old = self.hosts[i]
                    .as_ref()
                    .expect("an identity always has a host");
                let same = old.started_at == p.started_at;
                // the newer report counts; of the same report, the file given first
                let replace = if same {
                    p.file < old.file
                } else {
                    p.started_at > old.started_at
                };
                let kind = if same { "duplicate" } else { "superseded" };
                if !replace {
                    self.duplicates.push((p.file, kind, old.file));
                    return;
                }
                self.duplicates.push((old.file, kind, p.file));
                self.samples.retain(|_, (h, _)| *h != i);
                i
            }
        };
        let mut counts: HashMap<RowKey, u32> = HashMap::new();
        for row in &p.rows {
            let id = self.strings.id(&row.id);
            let waived = row.waived.is_some();
            let problem = matches!(row.status, Status::Fail | Status::Warn) && !waived;
            let error = match (&row.details.error, problem) {
                (Some(e), true) => self.strings.id(e),
                _ => NONE,
            };
            let address = match (&row.address, problem) {
                (Some(a), true) => self.strings.id(a),
                _ => NONE,
            };
            *counts
                .entry(RowKey {
                    id,
                    status: row.status,
                    error,
                    address,
                    waived,
                })
                .or_default() += 1;
            if problem {
                self.samples
                    .entry((id, row.status, error))
                    .or_insert_with(|| (slot, crate::text::clean(&row.message, 160)));
            }
        }
        let version = self.strings.id(&p.version);
        let region = self.strings.id(&p.region);
        let rows: Vec<(RowKey, u32)> = counts.into_iter().collect();
        // what is kept is allocated here, on this thread: strings made by a worker would pin the
        // worker's allocator pages (full of freed report text) for the rest of the run
        let own = |s: &str| s.to_string();
        self.hosts[slot] = Some(HostEntry {
            file: p.file,
            hostname: own(&p.hostname),
            machine_id: own(&p.machine_id),
            address: own(&p.address),
            started_at: own(&p.started_at),
            version,
            region,
            verdict: own(&p.verdict),
            rows: rows.as_slice().into(),
        });
    }
}

/// Expand directories to the `*.json` files in them (sorted); other paths stay as given.
pub(crate) fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = vec![];
    for p in paths {
        if p.is_dir() {
            let found = crate::sys::files::json_files_in(p);
            if found.is_empty() {
                out.push(p.clone()); // listed as unreadable: "is a directory"
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// Read, parse and fold every file, on `workers` threads.
pub(crate) fn summarize_files(files: &[PathBuf], workers: usize, age: AgeRule) -> FleetSummary {
    let next = AtomicUsize::new(0);
    let workers = workers.clamp(1, 16);
    let mut fold = Fold::default();
    let mut unreadable: Vec<(usize, String)> = vec![];
    std::thread::scope(|scope| {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Result<Parsed, (usize, String)>>(workers * 4);
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                let mut buf = Vec::with_capacity(64 << 10);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let out = read_one(path, &mut buf)
                        .and_then(|()| parse(&buf, i))
                        .map_err(|e| (i, e));
                    if tx.send(out).is_err() {
                        break;
                    }
                    if buf.capacity() > 1 << 20 {
                        buf = Vec::with_capacity(64 << 10); // one huge file does not pin its buffer
                    }
                }
            });
        }
        drop(tx);
        for msg in rx {
            match msg {
                Ok(p) => fold.add(p),
                Err(e) => unreadable.push(e),
            }
        }
    });
    finish(fold, files, unreadable, age)
}

/// Summarize in-memory report texts (tests; the same fold as files).
#[cfg(test)]
pub(crate) fn summarize_texts(texts: &[(String, String)], age: AgeRule) -> FleetSummary {
    let mut fold = Fold::default();
    let mut unreadable = vec![];
    for (i, (_, t)) in texts.iter().enumerate() {
        match parse(t.as_bytes(), i) {
            Ok(p) => fold.add(p),
            Err(e) => unreadable.push((i, e)),
        }
    }
    let names: Vec<PathBuf> = texts.iter().map(|(n, _)| PathBuf::from(n)).collect();
    finish(fold, &names, unreadable, age)
}

fn finish(
    fold: Fold,
    files: &[PathBuf],
    mut unreadable: Vec<(usize, String)>,
    age: AgeRule,
) -> FleetSummary {
    let name = |i: usize| {
        files
            .get(i)
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let strings = &fold.strings.names;
    let mut hosts: Vec<(usize, HostEntry)> = fold
        .hosts
        .into_iter()
        .enumerate()
        .filter_map(|(i, h)| h.map(|h| (i, h)))
        .collect();
    hosts.sort_by(|(_, a), (_, b)| {
        (&a.hostname, &a.address, &a.machine_id, a.file).cmp(&(
            &b.hostname,
            &b.address,
            &b.machine_id,
            b.file,
        ))
    });
    let labels = host_labels(&hosts, &name);
    let label_of: HashMap<usize, usize> = hosts
        .iter()
        .enumerate()
        .map(|(k, (slot, _))| (*slot, k))
        .collect();

    let mut s = FleetSummary {
        files: files.len(),
        hosts: hosts.len(),
        ..Default::default()
    };
    let mut tally = Tally::default();
    let mut spread = Spread::default();
    for (k, (_, h)) in hosts.into_iter().enumerate() {
        let label = &labels[k];
        *s.verdicts.entry(h.verdict.clone()).or_default() += 1;
        if h.verdict == "fail" {
            s.failing_hosts.push(label.clone());
        }
        let region = strings[h.region as usize].as_str();
        spread.add(
            label,
            region,
            &strings[h.version as usize],
            &h.started_at,
            age,
        );
        let mut row = HostRow {
            host: label.clone(),
            file: name(h.file),
            hostname: crate::text::clean(&h.hostname, 64),
            machine_id: h.machine_id,
            address: h.address,
            verdict: h.verdict,
            started_at: h.started_at,
            version: strings[h.version as usize].clone(),
            region: region.to_string(),
            ..Default::default()
        };
        tally.add_host(h.rows.into_vec(), label, &mut row, strings);
        // a row's status per host counts once per host even with several rows of one id
        s.host_table.push(row);
    }
    for ((id, status, error), (slot, msg)) in fold.samples {
        if let (Some(g), Some(&k)) = (
            tally.groups.get_mut(&(id, status, error)),
            label_of.get(&slot),
        ) {
            g.sample = Some(format!("{}: {msg}", labels[k]));
        }
    }
    s.requirements = tally.ordered();
    s.warnings = spread.warnings(age);
    let mut dups = fold.duplicates;
    dups.sort_unstable();
    s.duplicates = dups
        .into_iter()
        .map(|(f, kind, same)| Duplicate {
            file: name(f),
            kind,
            same_as: name(same),
        })
        .collect();
    unreadable.sort();
    s.unreadable = unreadable
        .into_iter()
        .map(|(f, reason)| Unreadable {
            file: name(f),
            reason,
        })
        .collect();
    s
}

/// Unique labels: the hostname, qualified by the address, then the machine id, then the file.
fn host_labels(hosts: &[(usize, HostEntry)], name: &dyn Fn(usize) -> String) -> Vec<String> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, (_, h)) in hosts.iter().enumerate() {
        by_name.entry(h.hostname.as_str()).or_default().push(k);
    }
    let mut labels = vec![String::new(); hosts.len()];
    for (hostname, ks) in &by_name {
        for &k in ks {
            let h = &hosts[k].1;
            let shown = if hostname.is_empty() {
                name(h.file)
            } else {
                crate::text::clean(hostname, 64)
            };
            labels[k] = if ks.len() == 1 {
                shown
            } else {
                let same_addr = ks
                    .iter()
                    .filter(|&&o| hosts[o].1.address == h.address)
                    .count();
                match (same_addr, h.machine_id.get(..8)) {
                    (1, _) => format!("{shown} ({})", h.address),
                    (_, Some(mid)) => format!("{shown} ({}, {mid})", h.address),
                    _ => format!("{shown} ({})", name(h.file)),
                }
            };
        }
    }
    labels
}

/// Per requirement: counts, the hosts that fail or warn, and the groups of one error.
#[derive(Default)]
struct Tally {
    reqs: BTreeMap<u32, RequirementSummary>,
    groups: HashMap<(u32, Status, u32), ErrorGroup>,
}

impl Tally {
    /// Count one host's rows (and name its failing and warning ids in its table row).
    fn add_host(
        &mut self,
        mut rows: Vec<(RowKey, u32)>,
        label: &String,
        row: &mut HostRow,
        strings: &[String],
    ) {
        rows.sort_by_key(|(key, _)| (key.id, key.status, key.error, key.address));
        for (key, n) in rows {
            let id = &strings[key.id as usize];
            let r = self
                .reqs
                .entry(key.id)
                .or_insert_with(|| RequirementSummary {
                    id: id.clone(),
                    ..Default::default()
                });
            let n = n as usize;
            if key.waived {
                r.waived += n;
                continue;
            }
            match key.status {
                Status::Pass => r.pass += n,
                Status::Warn => r.warn += n,
                Status::Fail => r.fail += n,
                Status::Skip => r.skip += n,
            }
            let (list, mine) = match key.status {
                Status::Fail => (&mut r.failing_hosts, &mut row.failing),
                Status::Warn => (&mut r.warning_hosts, &mut row.warning),
                Status::Pass | Status::Skip => continue,
            };
            if list.last() != Some(label) {
                list.push(label.clone());
            }
            if mine.last() != Some(id) {
                mine.push(id.clone());
            }
            self.group(key, label, strings);
        }
    }

    /// Add a failing or warning row to the group of its (requirement, status, error).
    fn group(&mut self, key: RowKey, label: &String, strings: &[String]) {
        let g = self
            .groups
            .entry((key.id, key.status, key.error))
            .or_insert_with(|| ErrorGroup {
                status: key.status,
                error: if key.error == NONE {
                    String::new()
                } else {
                    strings[key.error as usize].clone()
                },
                hosts: vec![],
                addresses: vec![],
                sample: None,
            });
        if g.hosts.last() != Some(label) {
            g.hosts.push(label.clone());
        }
        if key.address != NONE && g.addresses.len() < MAX_GROUP_ADDRESSES {
            let a = &strings[key.address as usize];
            if !g.addresses.contains(a) {
                g.addresses.push(a.clone());
            }
        }
    }

    /// The requirements with their groups, the most widespread failures first.
    fn ordered(mut self) -> Vec<RequirementSummary> {
        for ((id, _, _), g) in self.groups {
            if let Some(r) = self.reqs.get_mut(&id) {
                r.groups.push(g);
            }
        }
        let mut reqs: Vec<RequirementSummary> = self.reqs.into_values().collect();
        for r in &mut reqs {
            r.groups.sort_by(|a, b| {
                b.status
                    .cmp(&a.status)
                    .then(b.hosts.len().cmp(&a.hosts.len()))
                    .then(a.error.cmp(&b.error))
            });
        }
        reqs.sort_by(|a, b| {
            b.failing_hosts
                .len()
                .cmp(&a.failing_hosts.len())
                .then(b.warning_hosts.len().cmp(&a.warning_hosts.len()))
                .then(a.id.cmp(&b.id))
        });
        reqs
    }
}

/// What the reports should share and may not: region, tool version, and when they ran.
#[derive(Default)]
struct Spread {
    regions: BTreeMap<String, usize>,
    versions: BTreeMap<String, usize>,
    stale: Vec<String>,
    future: Vec<String>,
}

impl Spread {
    fn add(&mut self, label: &str, region: &str, version: &str, started_at: &str, age: AgeRule) {
        if !region.is_empty() && region != "-" {
            *self.regions.entry(region.to_string()).or_default() += 1;
        }
        *self.versions.entry(version.to_string()).or_default() += 1;
        match crate::clock::epoch_of(started_at) {
            Some(t) if age.now - t > age.max_age_s => {
                self.stale.push(format!("{label} ({started_at})"));
            }
            Some(t) if t - age.now > FUTURE_SLACK_S => {
                self.future.push(format!("{label} ({started_at})"));
            }
            Some(_) => {}
            None => self.stale.push(format!(
                "{label} (started_at {:?} unreadable)",
                crate::text::clean(started_at, 40)
            )),
        }
    }

    fn warnings(&self, age: AgeRule) -> Vec<String> {
        let spread = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{} ({v})", crate::text::clean(k, 40)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let some = |v: &[String]| crate::text::first_few(v, 5);
        let mut w = vec![];
        if self.regions.len() > 1 {
            w.push(format!(
                "{} regions among the reports: {}",
                self.regions.len(),
                spread(&self.regions)
            ));
        }
        if self.versions.len() > 1 {
            w.push(format!(
                "{} tool versions among the reports: {}",
                self.versions.len(),
                spread(&self.versions)
            ));
        }
        if !self.stale.is_empty() {
            w.push(format!(
                "{} reports older than {}: {}",
                self.stale.len(),
                age_words(age.max_age_s),
                some(&self.stale)
            ));
        }
        if !self.future.is_empty() {
            w.push(format!(
                "{} reports dated in the future (the host's clock is off): {}",
                self.future.len(),
                some(&self.future)
            ));
        }
        w
    }
}

fn age_words(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::*;

    const NOW: i64 = 1_795_255_200; // 2026-11-21T10:00:00Z
    fn age() -> AgeRule {
        AgeRule {
            now: NOW,
            max_age_s: 86_400,
        }
    }

    fn report(
        host: &str,
        mid: &str,
        addr: &str,
        started: &str,
        rows: &[(&str, Status, Option<&str>)],
    ) -> String {
        let results: Vec<CheckResult> = rows
            .iter()
            .map(|(id, st, err)| {
                let details = match err {
                    Some(e) => {
                        serde_json::from_value(serde_json::json!({"phase": "tcp", "error": e}))
                            .unwrap()
                    }
                    None => crate::evidence::Details::default(),
                };
                CheckResult {
                    id: id.to_string(),
                    category: id.split('.').next().unwrap().into(),
                    title: "t".into(),
                    target: "x".into(),
                    address: Some("100.103.9.188:443".into()),
                    status: *st,
                    message: format!("{id} {}", st.as_str()),
                    remediation: String::new(),
                    source: String::new(),
                    duration_ms: 1,
                    details,
                    waived: None,
                }
            })
            .collect();
        let r = Report {
            options: RunOptions {
                region: "cn-hangzhou".into(),
                ..Default::default()
            },
            waivers: vec![],
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "ack-edge-preflight".into(),
                version: "0.3.0".into(),
            },
            started_at: started.into(),
            duration_ms: 5,
            host: HostInfo {
                hostname: host.into(),
                machine_id: mid.into(),
                primary_address: Some(addr.into()),
                ..Default::default()
            },
            target: TargetInfo {
                region: "cn-hangzhou".into(),
                cni: "flannel".into(),
                apiserver: None,
            },
            summary: Summary::of(&results, false),
            results,
        };
        serde_json::to_string(&r).unwrap()
    }
    const T: &str = "2026-11-21T09:00:00Z";
    const M1: &str = "0123456789abcdef0123456789abcdef";
    const M2: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn aggregates_by_requirement_and_error() {
        let texts = vec![
            (
                "a.json".into(),
                report(
                    "n1",
                    M1,
                    "10.0.0.1",
                    T,
                    &[
                        ("tcp.registry", Status::Fail, Some("timeout")),
                        ("tcp.registry", Status::Fail, Some("timeout")),
                        ("dns.oss", Status::Pass, None),
                    ],
                ),
            ),
            (
                "b.json".into(),
                report(
                    "n2",
                    M1,
                    "10.0.0.2",
                    T,
                    &[
                        ("tcp.registry", Status::Pass, None),
                        ("dns.oss", Status::Warn, Some("slow")),
                    ],
                ),
            ),
            (
                "c.json".into(),
                report(
                    "n3",
                    M1,
                    "10.0.0.3",
                    T,
                    &[
                        ("tcp.registry", Status::Fail, Some("refused")),
                        ("dns.oss", Status::Pass, None),
                    ],
                ),
            ),
        ];
        let s = summarize_texts(&texts, age());
        assert_eq!(s.hosts, 3);
        assert_eq!(s.verdicts["fail"], 2);
        assert_eq!(s.verdicts["warn"], 1);
        assert_eq!(s.failing_hosts, ["n1", "n3"]);
        let r = &s.requirements[0];
        assert_eq!((r.id.as_str(), r.fail, r.pass), ("tcp.registry", 3, 1));
        assert_eq!(r.failing_hosts, ["n1", "n3"]);
        assert_eq!(r.groups.len(), 2);
        assert_eq!(
            (r.groups[0].error.as_str(), r.groups[0].hosts.clone()),
            ("refused", vec!["n3".to_string()])
        );
        assert_eq!(r.groups[1].sample.as_deref(), Some("n1: tcp.registry fail"));
        assert_eq!(r.groups[1].addresses, ["100.103.9.188:443"]);
        assert_eq!(s.requirements[1].warning_hosts, ["n2"]);
        assert_eq!(s.host_table[0].failing, ["tcp.registry"]);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn same_hostname_stays_distinct_and_duplicates_count_once() {
        let a = report(
            "localhost.localdomain",
            M1,
            "10.0.0.1",
            T,
            &[("tcp.registry", Status::Fail, None)],
        );
        let b = report(
            "localhost.localdomain",
            M2,
            "10.0.0.2",
            T,
            &[("tcp.registry", Status::Pass, None)],
        );
        let c = report(
            "localhost.localdomain",
            M2,
            "10.0.0.1",
            T,
            &[("tcp.registry", Status::Pass, None)],
        );
        let newer = report(
            "localhost.localdomain",
            M2,
            "10.0.0.2",
            "2026-11-21T09:30:00Z",
            &[("tcp.registry", Status::Fail, None)],
        );
        let texts = vec![
            ("a.json".into(), a.clone()),
            ("b.json".into(), b),
            ("a-copy.json".into(), a),
            ("c.json".into(), c),
            ("b2.json".into(), newer),
        ];
        let s = summarize_texts(&texts, age());
        assert_eq!(s.hosts, 3, "{:#?}", s.host_table);
        let labels: Vec<&str> = s.host_table.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(
            labels,
            [
                "localhost.localdomain (10.0.0.1, 01234567)",
                "localhost.localdomain (10.0.0.1, fedcba98)",
                "localhost.localdomain (10.0.0.2)"
            ]
        );
        // listed in the order the files were given
        assert_eq!(
            s.duplicates,
            vec![
                Duplicate {
                    file: "b.json".into(),
                    kind: "superseded",
                    same_as: "b2.json".into()
                },
                Duplicate {
                    file: "a-copy.json".into(),
                    kind: "duplicate",
                    same_as: "a.json".into()
                },
            ]
        );
        // the newer report of 10.0.0.2 counts: it fails
        assert_eq!(s.requirements[0].fail, 2);
        assert_eq!(s.host_table[2].file, "b2.json");
    }

    #[test]
    fn unreadable_files_are_listed_and_the_rest_summarized() {
        let texts = vec![
            ("good.json".into(), report("n1", M1, "10.0.0.1", T, &[])),
            ("x.json".into(), "{".into()),
            ("y.json".into(), "{\"schema_version\": 99}".into()),
            ("z.json".into(), "{}".into()),
            (
                "w.json".into(),
                "{\"schema_version\": 3, \"tool\": 1}".into(),
            ),
        ];
        let s = summarize_texts(&texts, age());
        assert_eq!(s.hosts, 1);
        let why: Vec<(&str, &str)> = s
            .unreadable
            .iter()
            .map(|u| (u.file.as_str(), u.reason.as_str()))
            .collect();
        assert!(
            why[0].0 == "x.json" && why[0].1.starts_with("not JSON"),
            "{why:?}"
        );
        assert!(why[1].1.contains("schema_version 99"), "{why:?}");
        assert!(why[2].1.contains("no schema_version"), "{why:?}");
        assert!(why[3].1.starts_with("invalid report"), "{why:?}");
    }

    #[test]
    fn warns_of_mixed_regions_versions_and_old_reports() {
        let mut other = report("n2", M1, "10.0.0.2", "2026-11-19T09:00:00Z", &[]);
        other = other
            .replace("\"region\":\"cn-hangzhou\"", "\"region\":\"cn-shanghai\"")
            .replace("0.3.0", "0.2.0");
        let texts = vec![
            ("a.json".into(), report("n1", M1, "10.0.0.1", T, &[])),
            ("b.json".into(), other),
            (
                "c.json".into(),
                report("n3", M1, "10.0.0.3", "2026-11-21T11:00:00Z", &[]),
            ),
        ];
        let s = summarize_texts(&texts, age());
        let w = s.warnings.join("\n");
        assert!(
            w.contains("2 regions among the reports: cn-hangzhou (2), cn-shanghai (1)"),
            "{w}"
        );
        assert!(w.contains("2 tool versions"), "{w}");
        assert!(
            w.contains("1 reports older than 1 d: n2 (2026-11-19T09:00:00Z)"),
            "{w}"
        );
        assert!(w.contains("dated in the future"), "{w}");
    }

    #[test]
    fn reads_files_on_several_workers() {
        let d = tempfile::tempdir().unwrap();
        let mut files = vec![];
        for i in 0..50 {
            let p = d.path().join(format!("r{i:02}.json"));
            let st = if i % 10 == 0 {
                Status::Fail
            } else {
                Status::Pass
            };
            std::fs::write(
                &p,
                report(
                    &format!("n{i}"),
                    M1,
                    &format!("10.0.0.{i}"),
                    T,
                    &[("tcp.registry", st, None)],
                ),
            )
            .unwrap();
            files.push(p);
        }
        files.push(d.path().join("missing.json"));
        let s = summarize_files(
            &expand(&[d.path().to_path_buf(), d.path().join("missing.json")]),
            4,
            age(),
        );
        assert_eq!((s.files, s.hosts), (51, 50));
        assert_eq!(s.failing_hosts.len(), 5);
        assert_eq!(s.unreadable.len(), 1);
        assert!(
            s.unreadable[0].reason.contains("No such file")
                || s.unreadable[0].reason.contains("no such file"),
            "{:?}",
            s.unreadable
        );
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics() {
        let good = report(
            "n1",
            M1,
            "10.0.0.1",
            T,
            &[("tcp.registry", Status::Fail, Some("timeout"))],
        );
        let bytes = good.as_bytes();
        // every truncation and a few byte flips
        for cut in (0..bytes.len()).step_by(7) {
            let _ = parse(&bytes[..cut], 0);
        }
        let mut b = bytes.to_vec();
        for i in (0..b.len()).step_by(13) {
            b[i] ^= 0x20;
            let _ = parse(&b, 0);
        }
    }
}
