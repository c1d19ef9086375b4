//! `summarize`: many hosts' JSON reports (a fleet, a rack sweep) into one answer per requirement
//! with the failing hosts.
//!
//! Streaming and parallel: workers read one file at a time into a reused buffer and parse only
//! the fields the summary needs ([`Lean`]); the main thread counts every row into per-requirement
//! totals at once and keeps of a host only its identity, verdict and FAIL/WARN rows, in one arena
//! ([`Fold`]). Memory grows with the hosts' identities (under a hundred bytes each), never with the
//! size or number of rows of the reports; lists name at most `--hosts-per-requirement` hosts.
//!
//! A host is hostname + machine id + primary address: fresh installs share `localhost.localdomain`.
//! The same report given twice counts once (flagged `duplicate`); of two reports of one host the
//! newer counts (the older is flagged `superseded`). Unreadable files are listed with the reason.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
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

/// Hosts named per requirement, per error group and in the fleet's failing list unless
/// `--hosts-per-requirement` says otherwise; the counts beside the lists are always whole.
pub(crate) const DEFAULT_HOSTS_PER_REQUIREMENT: usize = 20;
/// Stale or future-dated reports named in a warning (the count is whole).
const WARNING_HOSTS: usize = 5;

#[derive(Debug, Default, Serialize)]
pub(crate) struct FleetSummary {
    /// Files given (after directories are expanded).
    pub files: usize,
    /// Hosts counted (each once, by its newest report).
    pub hosts: usize,
    /// The most hosts any list below names (`--hosts-per-requirement`); the counts are whole.
    pub hosts_per_requirement: usize,
    pub verdicts: BTreeMap<String, usize>,
    /// The first failing hosts (`verdicts.fail` counts them all).
    pub failing_hosts: Vec<String>,
    /// Mixed regions, mixed tool versions, stale or future-dated reports, files that changed.
    pub warnings: Vec<String>,
    pub requirements: Vec<RequirementSummary>,
    /// Every host, one row each (made as it is written: a fleet's table is never held whole).
    pub host_table: HostTable,
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
    /// Hosts with a FAIL row of this requirement, and the first of them by name.
    pub failing_host_count: usize,
    pub failing_hosts: Vec<String>,
    pub warning_host_count: usize,
    pub warning_hosts: Vec<String>,
    /// FAIL and WARN rows grouped by `details.error`, the largest group first.
    pub groups: Vec<ErrorGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ErrorGroup {
    pub status: Status,
    /// `details.error`, or "" for rows without one.
    pub error: String,
    /// Hosts in the group, and the first of them by name.
    pub host_count: usize,
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

/// String interner: ids, error classes, versions and row addresses repeat across thousands of hosts.
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

const NONE: u32 = u32::MAX;

/// A FAIL or WARN row of a host: its (requirement, status, error) group and its address.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Problem {
    group: u32,
    address: u32,
}

/// The longest hostname, machine id, address or start time kept of a report (bytes; longer
/// values are cut at a character boundary: real ones are far shorter).
const MAX_FIELD: usize = 1024;

/// `s` cut to MAX_FIELD bytes at a character boundary, NUL-free.
fn field(s: &str) -> std::borrow::Cow<'_, str> {
    let mut end = s.len().min(MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = &s[..end];
    if s.contains('\0') {
        s.replace('\0', "?").into()
    } else {
        s.into()
    }
}

/// All that is kept of one host: what the summary prints of it. Its text and problem rows live
/// in the fold's [`Arena`] (one growing buffer each, so a fleet's hosts cost no allocation each
/// and leave no holes among the freed report text); passing and skipped rows are only counted.
#[derive(Clone, Copy)]
struct HostEntry {
    /// Where hostname, machine id, address and started_at start in the arena's text, one after
    /// the other, and their lengths.
    text: usize,
    lens: [u16; 4],
    problems: u32,
    n_problems: u32,
    file: u32,
    version: u32,
    region: u32,
    verdict: u32,
}

/// The kept text and problem rows of every host.
#[derive(Default)]
struct Arena {
    text: String,
    problems: Vec<Problem>,
}

impl HostEntry {
    fn parts<'a>(&self, a: &'a Arena) -> [&'a str; 4] {
        let mut at = self.text;
        self.lens.map(|n| {
            let s = a.text.get(at..at + usize::from(n)).unwrap_or("");
            at += usize::from(n);
            s
        })
    }
    fn hostname<'a>(&self, a: &'a Arena) -> &'a str {
        self.parts(a)[0]
    }
    fn machine_id<'a>(&self, a: &'a Arena) -> &'a str {
        self.parts(a)[1]
    }
    fn address<'a>(&self, a: &'a Arena) -> &'a str {
        self.parts(a)[2]
    }
    fn started_at<'a>(&self, a: &'a Arena) -> &'a str {
        self.parts(a)[3]
    }
    /// hostname, machine id and address: what counts a host once.
    fn identity<'a>(&self, a: &'a Arena) -> (&'a str, &'a str, &'a str) {
        let [h, m, ad, _] = self.parts(a);
        (h, m, ad)
    }
    fn sort_key<'a>(&self, a: &'a Arena) -> (&'a str, &'a str, &'a str, u32) {
        let [h, m, ad, _] = self.parts(a);
        (h, ad, m, self.file)
    }
    fn problems<'a>(&self, a: &'a Arena) -> &'a [Problem] {
        let at = self.problems as usize;
        a.problems
            .get(at..at + self.n_problems as usize)
            .unwrap_or(&[])
    }
}

/// Example message per group: the host's slot and the text.
type Samples = HashMap<u32, (u32, String)>;

/// Rows per status of one requirement: pass, warn, fail, skip, waived.
type Counts = [u64; 5];

/// The fold of the reports as they arrive, in memory that grows with the hosts' identities and
/// their FAIL/WARN rows only: every row is counted into per-requirement totals at once, and of a
/// host only its identity, verdict and problem rows are kept. When a newer report of a host
/// arrives, the older one's totals are taken back by reading it again (`reread`): rare, and
/// cheaper than keeping every host's rows.
struct Fold<'r> {
    strings: Interner,
    hosts: Vec<HostEntry>,
    arena: Arena,
    index: hashbrown::HashTable<u32>,
    hasher: std::collections::hash_map::RandomState,
    group_ix: HashMap<(u32, Status, u32), u32>,
    groups: Vec<(u32, Status, u32)>,
    counts: HashMap<u32, Counts>,
    samples: Samples,
    duplicates: Vec<(usize, &'static str, usize)>,
    /// Files whose second reading (to take back a superseded report) differed from the first.
    changed: Vec<usize>,
    reread: &'r dyn Fn(usize) -> Option<Parsed>,
}

fn slot_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'r> Fold<'r> {
    fn new(files: usize, reread: &'r dyn Fn(usize) -> Option<Parsed>) -> Self {
        Fold {
            strings: Interner::default(),
            hosts: Vec::with_capacity(files),
            arena: Arena::default(),
            index: hashbrown::HashTable::new(),
            hasher: std::collections::hash_map::RandomState::new(),
            group_ix: HashMap::new(),
            groups: vec![],
            counts: HashMap::new(),
            samples: HashMap::new(),
            duplicates: vec![],
            changed: vec![],
            reread,
        }
    }

    fn tally(&mut self, row: &LeanRow, add: bool) -> u32 {
        let id = self.strings.id(&row.id);
        let c = self.counts.entry(id).or_default();
        let k = if row.waived.is_some() {
            4
        } else {
            match row.status {
                Status::Pass => 0,
                Status::Warn => 1,
                Status::Fail => 2,
                Status::Skip => 3,
            }
        };
        c[k] = if add {
            c[k] + 1
        } else {
            c[k].saturating_sub(1)
        };
        id
    }

    fn group(&mut self, key: (u32, Status, u32)) -> u32 {
        if let Some(&g) = self.group_ix.get(&key) {
            return g;
        }
        let g = slot_of(self.groups.len());
        self.groups.push(key);
        self.group_ix.insert(key, g);
        g
    }

    fn add(&mut self, p: Parsed) {
        let (hn, mid, addr, started) = (
            field(&p.hostname),
            field(&p.machine_id),
            field(&p.address),
            field(&p.started_at),
        );
        let ident = (&*hn, &*mid, &*addr);
        let hash = self.hasher.hash_one(ident);
        let (hosts, arena) = (&self.hosts, &self.arena);
        let found = self
            .index
            .find(hash, |&s| hosts[s as usize].identity(arena) == ident)
            .copied();
        if let Some(slot) = found {
            let old = self.hosts[slot as usize];
            let old_started = old.started_at(&self.arena);
            let same = old_started == started;
            // the newer report counts; of the same report, the file given first
            let replace = if same {
                p.file < old.file as usize
            } else {
                *started > *old_started
            };
            let kind = if same { "duplicate" } else { "superseded" };
            let old_file = old.file as usize;
            if !replace {
                self.duplicates.push((p.file, kind, old_file));
                return;
            }
            let old_started = old_started.to_string();
            self.duplicates.push((old_file, kind, p.file));
            self.take_back(slot, old_file, &old_started);
        }
        let slot = found.unwrap_or_else(|| slot_of(self.hosts.len()));
        let from = self.arena.problems.len();
        for row in &p.rows {
            let id = self.tally(row, true);
            if !matches!(row.status, Status::Fail | Status::Warn) || row.waived.is_some() {
                continue;
            }
            let error = row
                .details
                .error
                .as_deref()
                .map_or(NONE, |e| self.strings.id(e));
            let address = row.address.as_deref().map_or(NONE, |a| self.strings.id(a));
            let group = self.group((id, row.status, error));
            self.arena.problems.push(Problem { group, address });
            self.samples
                .entry(group)
                .or_insert_with(|| (slot, crate::text::clean(&row.message, 160)));
        }
        let groups = &self.groups;
        let mine = &mut self.arena.problems[from..];
        mine.sort_unstable_by_key(|p| (groups[p.group as usize], p.address));
        let mut n = 0; // dedup in place
        for r in 0..mine.len() {
            if n == 0 || mine[r] != mine[n - 1] {
                mine[n] = mine[r];
                n += 1;
            }
        }
        self.arena.problems.truncate(from + n);
        let text = self.arena.text.len();
        let mut lens = [0u16; 4];
        for (len, part) in lens.iter_mut().zip([&hn, &mid, &addr, &started]) {
            self.arena.text.push_str(part);
            *len = u16::try_from(part.len()).unwrap_or(u16::MAX);
        }
        let entry = HostEntry {
            text,
            lens,
            problems: slot_of(from),
            n_problems: slot_of(n),
            file: slot_of(p.file),
            version: self.strings.id(&p.version),
            region: self.strings.id(&p.region),
            verdict: self.strings.id(&p.verdict),
        };
        if let Some(slot) = found {
            self.hosts[slot as usize] = entry;
        } else {
            self.hosts.push(entry);
            let (hosts, arena, hasher) = (&self.hosts, &self.arena, &self.hasher);
            self.index.insert_unique(hash, slot, |&s| {
                hasher.hash_one(hosts[s as usize].identity(arena))
            });
        }
    }

    /// Take back the totals of the report a newer one replaces, by reading it again.
    fn take_back(&mut self, slot: u32, file: usize, started_at: &str) {
        self.samples.retain(|_, (h, _)| *h != slot);
        match (self.reread)(file) {
            Some(old) if old.started_at == started_at => {
                for row in &old.rows {
                    self.tally(row, false);
                }
            }
            Some(_) | None => self.changed.push(file),
        }
    }
}

/// The files of a summary, compactly: a directory of 100,000 reports is kept as one directory
/// and 100,000 short names, not as 100,000 full paths.
#[derive(Default)]
pub(crate) struct Paths {
    dirs: Vec<PathBuf>,
    names: Vec<u8>,
    /// Per file: its directory (or NONE: the name is the whole path as given) and where its
    /// name ends in `names`.
    at: Vec<(u32, usize)>,
}

impl Paths {
    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }

    fn push(&mut self, dir: Option<u32>, name: &std::ffi::OsStr) {
        use std::os::unix::ffi::OsStrExt;
        self.names.extend_from_slice(name.as_bytes());
        self.at.push((dir.unwrap_or(NONE), self.names.len()));
    }

    pub(crate) fn get(&self, i: usize) -> Option<PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        let &(dir, end) = self.at.get(i)?;
        let start = if i == 0 { 0 } else { self.at[i - 1].1 };
        let name = std::ffi::OsStr::from_bytes(self.names.get(start..end)?);
        Some(match self.dirs.get(dir as usize) {
            Some(d) => d.join(name),
            None => PathBuf::from(name),
        })
    }

    fn display(&self, i: usize) -> String {
        self.get(i)
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

/// Expand directories to the `*.json` files in them (sorted); other paths stay as given.
pub(crate) fn expand(paths: &[PathBuf]) -> Paths {
    let mut out = Paths::default();
    for p in paths {
        if p.is_dir() {
            let found = crate::sys::files::json_files_in(p);
            if found.is_empty() {
                out.push(None, p.as_os_str()); // listed as unreadable: "is a directory"
                continue;
            }
            let dir = slot_of(out.dirs.len());
            out.dirs.push(p.clone());
            for f in found {
                match f.file_name() {
                    Some(name) if f.parent() == Some(p.as_path()) => out.push(Some(dir), name),
                    _ => out.push(None, f.as_os_str()),
                }
            }
        } else {
            out.push(None, p.as_os_str());
        }
    }
    out
}

/// Read, parse and fold every file, on `workers` threads; lists name at most `cap` hosts.
pub(crate) fn summarize_files(
    files: Paths,
    workers: usize,
    age: AgeRule,
    cap: usize,
) -> FleetSummary {
    let next = AtomicUsize::new(0);
    let workers = workers.clamp(1, 16);
    let reread = |i: usize| {
        let mut buf = vec![];
        read_one(&files.get(i)?, &mut buf).ok()?;
        parse(&buf, i).ok()
    };
    let mut fold = Fold::new(files.len(), &reread);
    let mut unreadable: Vec<(usize, String)> = vec![];
    std::thread::scope(|scope| {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Result<Parsed, (usize, String)>>(workers * 4);
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, files) = (&next, &files);
            scope.spawn(move || {
                let mut buf = Vec::with_capacity(64 << 10);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let out = read_one(&path, &mut buf)
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
    let (parts, changed) = fold.into_parts();
    finish(parts, changed, files, unreadable, age, cap)
}

/// Summarize in-memory report texts (tests; the same fold as files).
#[cfg(test)]
pub(crate) fn summarize_texts(
    texts: &[(String, String)],
    age: AgeRule,
    cap: usize,
) -> FleetSummary {
    let reread = |i: usize| parse(texts.get(i)?.1.as_bytes(), i).ok();
    let mut fold = Fold::new(texts.len(), &reread);
    let mut unreadable = vec![];
    for (i, (_, t)) in texts.iter().enumerate() {
        match parse(t.as_bytes(), i) {
            Ok(p) => fold.add(p),
            Err(e) => unreadable.push((i, e)),
        }
    }
    let mut names = Paths::default();
    for (n, _) in texts {
        names.push(None, std::ffi::OsStr::new(n));
    }
    let (parts, changed) = fold.into_parts();
    finish(parts, changed, names, unreadable, age, cap)
}

/// What the fold leaves once every report is in.
struct Parts {
    strings: Vec<String>,
    hosts: Vec<HostEntry>,
    arena: Arena,
    groups: Vec<(u32, Status, u32)>,
    counts: HashMap<u32, Counts>,
    samples: Samples,
    duplicates: Vec<(usize, &'static str, usize)>,
}

impl Fold<'_> {
    fn into_parts(self) -> (Parts, Vec<usize>) {
        (
            Parts {
                strings: self.strings.names,
                hosts: self.hosts,
                arena: self.arena,
                groups: self.groups,
                counts: self.counts,
                samples: self.samples,
                duplicates: self.duplicates,
            },
            self.changed,
        )
    }
}

/// Every host of the summary, sorted by name, each row made when it is asked for (JSON and CSV
/// write them one at a time).
#[derive(Default)]
pub(crate) struct HostTable {
    strings: Vec<String>,
    paths: Paths,
    hosts: Vec<HostEntry>,
    arena: Arena,
    groups: Vec<(u32, Status, u32)>,
    /// How each host's label is qualified: 0 its name, 1 + address, 2 + address and machine
    /// id, 3 + file.
    kinds: Vec<u8>,
}

impl std::fmt::Debug for HostTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.rows()).finish()
    }
}

impl Serialize for HostTable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.rows())
    }
}

impl HostTable {
    pub(crate) fn len(&self) -> usize {
        self.hosts.len()
    }

    fn file(&self, i: u32) -> String {
        self.paths.display(i as usize)
    }

    /// The verdict of the k-th host.
    pub(crate) fn verdict(&self, k: usize) -> &str {
        &self.strings[self.hosts[k].verdict as usize]
    }

    /// The unique label of the k-th host: the hostname, qualified by the address, then the
    /// machine id, then the file when hostnames repeat.
    fn label(&self, k: usize) -> String {
        let (h, a) = (&self.hosts[k], &self.arena);
        let shown = if h.hostname(a).is_empty() {
            self.file(h.file)
        } else {
            crate::text::clean(h.hostname(a), 64)
        };
        let addr = crate::text::clean(h.address(a), 64);
        match (self.kinds[k], h.machine_id(a).get(..8)) {
            (0, _) => shown,
            (1, _) => format!("{shown} ({addr})"),
            (2, Some(mid)) => format!("{shown} ({addr}, {})", crate::text::clean(mid, 8)),
            _ => format!("{shown} ({})", self.file(h.file)),
        }
    }

    /// The k-th host's row.
    pub(crate) fn row(&self, k: usize) -> HostRow {
        let (h, a) = (&self.hosts[k], &self.arena);
        let mut row = HostRow {
            host: self.label(k),
            file: self.file(h.file),
            hostname: crate::text::clean(h.hostname(a), 64),
            machine_id: h.machine_id(a).to_string(),
            address: h.address(a).to_string(),
            verdict: self.verdict(k).to_string(),
            started_at: h.started_at(a).to_string(),
            version: self.strings[h.version as usize].clone(),
            region: self.strings[h.region as usize].clone(),
            ..Default::default()
        };
        for p in h.problems(a) {
            let (id, status, _) = self.groups[p.group as usize];
            let id = &self.strings[id as usize];
            let list = if status == Status::Fail {
                &mut row.failing
            } else {
                &mut row.warning
            };
            if list.last() != Some(id) {
                list.push(id.clone());
            }
        }
        row
    }

    pub(crate) fn rows(&self) -> impl Iterator<Item = HostRow> + '_ {
        (0..self.len()).map(|k| self.row(k))
    }
}

/// How each sorted host's label is qualified (see [`HostTable::kinds`]): hosts of one hostname
/// are adjacent, and within them hosts of one address.
fn label_kinds(hosts: &[HostEntry], a: &Arena) -> Vec<u8> {
    let ar = a;
    let mut kinds = vec![0u8; hosts.len()];
    let mut a = 0;
    while a < hosts.len() {
        let run = |from: usize, to: usize, same: &dyn Fn(&HostEntry) -> bool| {
            (from..to).take_while(|&i| same(&hosts[i])).count()
        };
        let b = a + run(a, hosts.len(), &|h| h.hostname(ar) == hosts[a].hostname(ar));
        if b - a > 1 {
            let mut c = a;
            while c < b {
                let d = c + run(c, b, &|h| h.address(ar) == hosts[c].address(ar));
                for k in c..d {
                    kinds[k] = if d - c == 1 {
                        1
                    } else if hosts[k].machine_id(ar).get(..8).is_some() {
                        2
                    } else {
                        3
                    };
                }
                c = d;
            }
        }
        a = b;
    }
    kinds
}

fn finish(
    parts: Parts,
    changed: Vec<usize>,
    paths: Paths,
    mut unreadable: Vec<(usize, String)>,
    age: AgeRule,
    cap: usize,
) -> FleetSummary {
    let Parts {
        strings,
        mut hosts,
        arena,
        groups,
        counts,
        samples,
        duplicates,
    } = parts;
    // each sample's host by its sort key (files are unique), found again after the sort
    let samples: Vec<(u32, u32, String)> = samples
        .into_iter()
        .map(|(g, (slot, msg))| (g, hosts[slot as usize].file, msg))
        .collect();
    hosts.sort_unstable_by(|a, b| a.sort_key(&arena).cmp(&b.sort_key(&arena)));
    let mut s = FleetSummary {
        files: paths.len(),
        hosts: hosts.len(),
        hosts_per_requirement: cap,
        ..Default::default()
    };
    let table = HostTable {
        kinds: label_kinds(&hosts, &arena),
        strings,
        paths,
        hosts,
        arena,
        groups,
    };
    let strings = &table.strings;
    let mut reqs: BTreeMap<u32, RequirementSummary> = counts
        .into_iter()
        .filter(|(_, c)| c.iter().any(|&n| n > 0))
        .map(|(id, c)| {
            let n = |i: usize| usize::try_from(c[i]).unwrap_or(usize::MAX);
            let r = RequirementSummary {
                id: strings[id as usize].clone(),
                pass: n(0),
                warn: n(1),
                fail: n(2),
                skip: n(3),
                waived: n(4),
                ..Default::default()
            };
            (id, r)
        })
        .collect();
    let mut gsum: HashMap<u32, (ErrorGroup, usize)> = HashMap::new();
    let mut spread = Spread::default();
    for k in 0..table.len() {
        let h = &table.hosts[k];
        let mut label: Option<String> = None;
        let mut label = || label.get_or_insert_with(|| table.label(k)).clone();
        let verdict = table.verdict(k);
        *s.verdicts.entry(verdict.to_string()).or_default() += 1;
        if verdict == "fail" && s.failing_hosts.len() < cap {
            s.failing_hosts.push(label());
        }
        spread.add(
            &mut label,
            &strings[h.region as usize],
            &strings[h.version as usize],
            h.started_at(&table.arena),
            age,
        );
        let mut last: Option<(u32, Status)> = None;
        for p in h.problems(&table.arena) {
            let (id, status, error) = table.groups[p.group as usize];
            if let (true, Some(r)) = (last != Some((id, status)), reqs.get_mut(&id)) {
                let (count, list) = if status == Status::Fail {
                    (&mut r.failing_host_count, &mut r.failing_hosts)
                } else {
                    (&mut r.warning_host_count, &mut r.warning_hosts)
                };
                *count += 1;
                if list.len() < cap {
                    list.push(label());
                }
            }
            last = Some((id, status));
            let (g, seen) = gsum.entry(p.group).or_insert_with(|| {
                let g = ErrorGroup {
                    status,
                    error: if error == NONE {
                        String::new()
                    } else {
                        strings[error as usize].clone()
                    },
                    host_count: 0,
                    hosts: vec![],
                    addresses: vec![],
                    sample: None,
                };
                (g, usize::MAX)
            });
            if *seen != k {
                *seen = k;
                g.host_count += 1;
                if g.hosts.len() < cap {
                    g.hosts.push(label());
                }
            }
            if p.address != NONE && g.addresses.len() < MAX_GROUP_ADDRESSES {
                let a = &strings[p.address as usize];
                if !g.addresses.contains(a) {
                    g.addresses.push(a.clone());
                }
            }
        }
    }
    // the sampled hosts' places after the sort: one pass (the files of a few dozen samples)
    let mut at: HashMap<u32, usize> = samples.iter().map(|(_, f, _)| (*f, usize::MAX)).collect();
    for (k, h) in table.hosts.iter().enumerate() {
        if let Some(place) = at.get_mut(&h.file) {
            *place = k;
        }
    }
    for (group, file, msg) in samples {
        let k = at.get(&file).copied().filter(|&k| k != usize::MAX);
        if let (Some((g, _)), Some(k)) = (gsum.get_mut(&group), k) {
            g.sample = Some(format!("{}: {msg}", table.label(k)));
        }
    }
    for (group, (g, _)) in gsum {
        let id = table.groups[group as usize].0;
        if let Some(r) = reqs.get_mut(&id) {
            r.groups.push(g);
        }
    }
    let name = |i: usize| table.file(slot_of(i));
    s.requirements = ordered(reqs.into_values().collect());
    s.warnings = spread.warnings(age);
    if !changed.is_empty() {
        let names: Vec<String> = changed.iter().map(|&f| name(f)).collect();
        s.warnings.push(format!(
            "{} files changed while they were summarized (an older report of a host could not be taken back; the row counts may be off by its rows): {}",
            names.len(),
            crate::text::first_few(&names, WARNING_HOSTS)
        ));
    }
    let mut dups = duplicates;
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
    s.host_table = table;
    s
}

/// The requirements with their groups, the most widespread failures first.
fn ordered(mut reqs: Vec<RequirementSummary>) -> Vec<RequirementSummary> {
    for r in &mut reqs {
        r.groups.sort_by(|a, b| {
            b.status
                .cmp(&a.status)
                .then(b.host_count.cmp(&a.host_count))
                .then(a.error.cmp(&b.error))
        });
    }
    reqs.sort_by(|a, b| {
        b.failing_host_count
            .cmp(&a.failing_host_count)
            .then(b.warning_host_count.cmp(&a.warning_host_count))
            .then(a.id.cmp(&b.id))
    });
    reqs
}

/// What the reports should share and may not: region, tool version, and when they ran.
#[derive(Default)]
struct Spread {
    regions: BTreeMap<String, usize>,
    versions: BTreeMap<String, usize>,
    stale: (usize, Vec<String>),
    future: (usize, Vec<String>),
}

impl Spread {
    fn add(
        &mut self,
        label: &mut dyn FnMut() -> String,
        region: &str,
        version: &str,
        started_at: &str,
        age: AgeRule,
    ) {
        if !region.is_empty() && region != "-" {
            *self.regions.entry(region.to_string()).or_default() += 1;
        }
        *self.versions.entry(version.to_string()).or_default() += 1;
        let note = |list: &mut (usize, Vec<String>), what: String| {
            list.0 += 1;
            if list.1.len() < WARNING_HOSTS {
                list.1.push(what);
            }
        };
        match crate::clock::epoch_of(started_at) {
            Some(t) if age.now - t > age.max_age_s => {
                note(&mut self.stale, format!("{} ({started_at})", label()));
            }
            Some(t) if t - age.now > FUTURE_SLACK_S => {
                note(&mut self.future, format!("{} ({started_at})", label()));
            }
            Some(_) => {}
            None => note(
                &mut self.stale,
                format!(
                    "{} (started_at {:?} unreadable)",
                    label(),
                    crate::text::clean(started_at, 40)
                ),
            ),
        }
    }

    fn warnings(&self, age: AgeRule) -> Vec<String> {
        let spread = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{} ({v})", crate::text::clean(k, 40)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let some = |(n, v): &(usize, Vec<String>)| crate::text::first_few_of(v, v.len(), *n);
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
        if self.stale.0 > 0 {
            w.push(format!(
                "{} reports older than {}: {}",
                self.stale.0,
                age_words(age.max_age_s),
                some(&self.stale)
            ));
        }
        if self.future.0 > 0 {
            w.push(format!(
                "{} reports dated in the future (the host's clock is off): {}",
                self.future.0,
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
        let s = summarize_texts(&texts, age(), DEFAULT_HOSTS_PER_REQUIREMENT);
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
        assert_eq!(s.host_table.row(0).failing, ["tcp.registry"]);
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
        let s = summarize_texts(&texts, age(), DEFAULT_HOSTS_PER_REQUIREMENT);
        assert_eq!(s.hosts, 3, "{:#?}", s.host_table);
        let labels: Vec<String> = s.host_table.rows().map(|h| h.host).collect();
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
        // the newer report of 10.0.0.2 counts: it fails, and the older one's PASS is taken back
        assert_eq!((s.requirements[0].fail, s.requirements[0].pass), (2, 1));
        assert_eq!(s.host_table.row(2).file, "b2.json");
    }

    #[test]
    fn lists_are_capped_and_counts_whole() {
        let texts: Vec<(String, String)> = (0..7)
            .map(|i| {
                let st = if i < 5 { Status::Fail } else { Status::Warn };
                let r = report(
                    &format!("n{i}"),
                    M1,
                    "10.0.0.1",
                    T,
                    &[("tcp.oss", st, Some("timeout"))],
                );
                (format!("{i}.json"), r)
            })
            .collect();
        let s = summarize_texts(&texts, age(), 2);
        assert_eq!(s.hosts_per_requirement, 2);
        assert_eq!(s.failing_hosts, ["n0", "n1"]);
        let r = &s.requirements[0];
        assert_eq!((r.failing_host_count, r.warning_host_count), (5, 2));
        assert_eq!((r.failing_hosts.len(), r.fail, r.warn), (2, 5, 2));
        assert_eq!((r.groups[0].host_count, r.groups[0].hosts.len()), (5, 2));
        // the host table is whole
        assert_eq!(s.host_table.rows().count(), 7);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["host_table"].as_array().unwrap().len(), 7);
        assert_eq!(json["requirements"][0]["failing_host_count"], 5);
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
        let s = summarize_texts(&texts, age(), DEFAULT_HOSTS_PER_REQUIREMENT);
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
        let s = summarize_texts(&texts, age(), DEFAULT_HOSTS_PER_REQUIREMENT);
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
            expand(&[d.path().to_path_buf(), d.path().join("missing.json")]),
            4,
            age(),
            DEFAULT_HOSTS_PER_REQUIREMENT,
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
