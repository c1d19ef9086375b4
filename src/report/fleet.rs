//! `summarize` output: the fleet's verdicts, one row per (requirement, status, error class) with the
//! hosts, the hosts that did not pass, duplicates and unreadable files. Table and Markdown are for
//! people (long host lists are cut to five with a count); JSON and CSV carry everything.

use std::io::Write;

use crate::fleet::FleetSummary;
use crate::report::listing::ListFormat;
use crate::report::listing::{md_cell, table};

/// Hosts shown per cell in the table and Markdown.
const SHOWN: usize = 5;
/// Rows of the "hosts that did not pass" table in the table and Markdown (failing hosts first).
const HOST_ROWS: usize = 50;

fn some(v: &[String]) -> String {
    crate::text::first_few(v, SHOWN)
}

/// The formats of `summarize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryFormat {
    Table,
    Json,
    Markdown,
    Csv,
}

/// Write the summary; JSON and CSV are streamed (a fleet's host list is not built as one string).
pub(crate) fn write(
    format: SummaryFormat,
    s: &FleetSummary,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        SummaryFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, s)?;
            out.write_all(b"\n")
        }
        SummaryFormat::Csv => csv(s, out),
        SummaryFormat::Table => out.write_all(people(ListFormat::Table, s).as_bytes()),
        SummaryFormat::Markdown => out.write_all(people(ListFormat::Markdown, s).as_bytes()),
    }
}

/// Write what changed since the baseline (`summarize --baseline`).
pub(crate) fn write_diff(
    format: SummaryFormat,
    d: &crate::fleet_diff::FleetDiff,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        SummaryFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, d)?;
            out.write_all(b"\n")
        }
        SummaryFormat::Csv => diff_csv(d, out),
        SummaryFormat::Table => out.write_all(diff_people(ListFormat::Table, d).as_bytes()),
        SummaryFormat::Markdown => out.write_all(diff_people(ListFormat::Markdown, d).as_bytes()),
    }
}

/// The changes in order: new failures, fixed, appeared, vanished.
fn diff_sections(
    d: &crate::fleet_diff::FleetDiff,
) -> [(&'static str, &crate::fleet_diff::Changes); 4] {
    [
        ("New failures", &d.new_failures),
        ("Fixed", &d.fixed),
        ("Appeared", &d.appeared),
        ("Vanished", &d.vanished),
    ]
}

fn diff_people(format: ListFormat, d: &crate::fleet_diff::FleetDiff) -> String {
    let p = Page {
        format,
        md: format == ListFormat::Markdown,
    };
    let mut out = p.line(&format!(
        "{} hosts now, {} in the baseline: {} with new failures, {} fixed, {} appeared, {} vanished",
        d.hosts,
        d.baseline_hosts,
        d.new_failures.count,
        d.fixed.count,
        d.appeared.count,
        d.vanished.count
    ));
    for (title, c) in diff_sections(d) {
        if c.count == 0 {
            continue;
        }
        out.push_str(&p.heading(&format!("{title} ({})", c.count)));
        let rows = c
            .hosts
            .iter()
            .map(|h| {
                vec![
                    h.host.clone(),
                    h.address.clone(),
                    format!(
                        "{} → {}",
                        h.before.as_deref().unwrap_or("-").to_uppercase(),
                        h.now.as_deref().unwrap_or("-").to_uppercase()
                    ),
                    some(&h.requirements),
                    h.file.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            format,
            &["Host", "Address", "Verdict", "Requirements", "File"],
            rows,
        ));
        if c.count > c.hosts.len() {
            out.push_str(&p.note(&format!(
                "… and {} more (--hosts-per-requirement N to list more)",
                c.count - c.hosts.len()
            )));
        }
    }
    if !d.requirements.is_empty() {
        out.push_str(&p.heading("Per requirement"));
        let rows = d
            .requirements
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    format!(
                        "{} {}",
                        r.newly_failing_host_count,
                        crate::text::first_few_of(
                            &r.newly_failing_hosts,
                            SHOWN,
                            r.newly_failing_host_count
                        )
                    ),
                    format!(
                        "{} {}",
                        r.fixed_host_count,
                        crate::text::first_few_of(&r.fixed_hosts, SHOWN, r.fixed_host_count)
                    ),
                ]
            })
            .collect();
        out.push_str(&table(
            format,
            &["Requirement", "Newly failing", "Fixed"],
            rows,
        ));
    }
    if d.new_failures.count + d.fixed.count + d.appeared.count + d.vanished.count == 0 {
        out.push_str(&p.note("Nothing changed."));
    }
    if !d.unreadable.is_empty() {
        out.push_str(&p.heading("Unreadable files"));
        let rows = d
            .unreadable
            .iter()
            .map(|u| vec![u.file.clone(), u.reason.clone()])
            .collect();
        out.push_str(&table(format, &["File", "Reason"], rows));
    }
    out
}

/// One line per changed host and kind of change.
fn diff_csv(d: &crate::fleet_diff::FleetDiff, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(b"change,host,address,before,now,requirements,file\r\n")?;
    for (title, c) in diff_sections(d) {
        let kind = title.to_ascii_lowercase().replace(' ', "-");
        for h in &c.hosts {
            let line = [
                kind.clone(),
                h.host.clone(),
                h.address.clone(),
                h.before.clone().unwrap_or_default(),
                h.now.clone().unwrap_or_default(),
                h.requirements.join(" "),
                h.file.clone(),
            ]
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
            out.write_all(line.as_bytes())?;
            out.write_all(b"\r\n")?;
        }
    }
    Ok(())
}

/// The one-line answer: how many hosts, their verdicts, and what was not counted.
pub(crate) fn headline(s: &FleetSummary) -> String {
    let v = |k: &str| s.verdicts.get(k).copied().unwrap_or(0);
    let mut line = format!(
        "{} hosts from {} files: {} fail, {} warn, {} pass",
        s.hosts,
        s.files,
        v("fail"),
        v("warn"),
        v("pass")
    );
    let dup = s
        .duplicates
        .iter()
        .filter(|d| d.kind == "duplicate")
        .count();
    let sup = s.duplicates.len() - dup;
    if dup > 0 {
        line.push_str(&format!("; {dup} duplicate reports counted once"));
    }
    if sup > 0 {
        line.push_str(&format!("; {sup} older reports superseded"));
    }
    if !s.unreadable.is_empty() {
        line.push_str(&format!("; {} files unreadable", s.unreadable.len()));
    }
    line
}

fn people(format: ListFormat, s: &FleetSummary) -> String {
    let p = Page {
        format,
        md: format == ListFormat::Markdown,
    };
    let mut out = p.line(&headline(s));
    if !s.warnings.is_empty() {
        out.push_str(&p.heading("Warnings"));
        for w in &s.warnings {
            out.push_str(&if p.md {
                format!("- {}\n", md_cell(w))
            } else {
                format!("  ! {}\n", crate::text::clean(w, 400))
            });
        }
    }
    requirements_section(&mut out, &p, s);
    hosts_section(&mut out, &p, s);
    if !s.duplicates.is_empty() {
        out.push_str(&p.heading("Not counted"));
        let rows = s
            .duplicates
            .iter()
            .map(|d| vec![d.file.clone(), d.kind.into(), d.same_as.clone()])
            .collect();
        out.push_str(&table(format, &["File", "Why", "Counted instead"], rows));
    }
    if !s.unreadable.is_empty() {
        out.push_str(&p.heading("Unreadable files"));
        let rows = s
            .unreadable
            .iter()
            .map(|u| vec![u.file.clone(), u.reason.clone()])
            .collect();
        out.push_str(&table(format, &["File", "Reason"], rows));
    }
    out
}

/// The page being written: its format, and whether that is Markdown.
struct Page {
    format: ListFormat,
    md: bool,
}

impl Page {
    fn heading(&self, t: &str) -> String {
        if self.md {
            format!("\n### {t}\n\n")
        } else {
            format!("\n{t}\n")
        }
    }
    /// The headline: bold in Markdown.
    fn line(&self, t: &str) -> String {
        if self.md {
            format!("**{}**\n", md_cell(t))
        } else {
            format!("{t}\n")
        }
    }
    /// A note after a table.
    fn note(&self, t: &str) -> String {
        if self.md {
            format!("\n{}\n", md_cell(t))
        } else {
            format!("{t}\n")
        }
    }
}

/// Requirements that failed or warned, one row per (requirement, status, error) group; then
/// those that passed everywhere.
fn requirements_section(out: &mut String, p: &Page, s: &FleetSummary) {
    let mut rows = vec![];
    for r in &s.requirements {
        for g in &r.groups {
            let mut hosts = format!(
                "{} {}",
                g.host_count,
                crate::text::first_few_of(&g.hosts, SHOWN, g.host_count)
            );
            if !g.addresses.is_empty() {
                hosts.push_str(&format!("; at {}", some(&g.addresses)));
            }
            rows.push(vec![
                r.id.clone(),
                g.status.as_str().to_uppercase(),
                if g.error.is_empty() {
                    "-".into()
                } else {
                    g.error.clone()
                },
                hosts,
                g.sample.clone().unwrap_or_default(),
            ]);
        }
    }
    let clean: Vec<String> = s
        .requirements
        .iter()
        .filter(|r| r.groups.is_empty())
        .map(|r| r.id.clone())
        .collect();
    out.push_str(&p.heading("Requirements that failed or warned"));
    if rows.is_empty() {
        out.push_str("none\n");
    } else {
        out.push_str(&table(
            p.format,
            &["Requirement", "Status", "Error", "Hosts", "Example"],
            rows,
        ));
    }
    if !clean.is_empty() {
        out.push_str(&p.note(&format!(
            "Passed (or skipped) on every host: {}",
            clean.join(", ")
        )));
    }
}

/// Hosts that did not pass (failing first, at most `HOST_ROWS`), and how many passed.
fn hosts_section(out: &mut String, p: &Page, s: &FleetSummary) {
    let t = &s.host_table;
    let not_passing = (0..t.len()).filter(|&k| t.verdict(k) != "pass").count();
    let hidden = not_passing.saturating_sub(HOST_ROWS);
    let passing = t.len() - not_passing;
    // failing first, then the other verdicts that are not pass (warn), in name order
    let others = (0..t.len()).filter(|&k| !matches!(t.verdict(k), "pass" | "fail"));
    let shown: Vec<Vec<String>> = (0..t.len())
        .filter(|&k| t.verdict(k) == "fail")
        .chain(others)
        .take(HOST_ROWS)
        .map(|k| {
            let h = t.row(k);
            vec![
                h.host,
                h.address,
                h.verdict.to_uppercase(),
                some(&h.failing),
                some(&h.warning),
                h.started_at,
                h.version,
                h.file,
            ]
        })
        .collect();
    out.push_str(&p.heading("Hosts that did not pass"));
    if shown.is_empty() {
        out.push_str("none\n");
    } else {
        out.push_str(&table(
            p.format,
            &[
                "Host", "Address", "Verdict", "Failing", "Warning", "Started", "Version", "File",
            ],
            shown,
        ));
    }
    if hidden > 0 {
        out.push_str(&p.note(&format!(
            "… and {hidden} more hosts that did not pass (every host: --format csv or json)"
        )));
    }
    if passing > 0 {
        out.push_str(&p.note(&format!(
            "{passing} hosts passed (every host: --format csv or json)"
        )));
    }
}

/// RFC 4180 field: quoted when it holds a comma, quote or line break; control characters cleaned.
fn csv_field(s: &str) -> String {
    let s = crate::text::clean(s, 4000);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// One line per host (a spreadsheet of the fleet), failing and warning ids separated by spaces.
fn csv(s: &FleetSummary, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(b"host,file,hostname,machine_id,address,verdict,failing,warning,started_at,version,region\r\n")?;
    for h in s.host_table.rows() {
        let f = [
            &h.host,
            &h.file,
            &h.hostname,
            &h.machine_id,
            &h.address,
            &h.verdict,
            &h.failing.join(" "),
            &h.warning.join(" "),
            &h.started_at,
            &h.version,
            &h.region,
        ];
        let line = f.iter().map(|x| csv_field(x)).collect::<Vec<_>>().join(",");
        out.write_all(line.as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_would_break_a_field() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
