//! `--format table`, for the person at the terminal: problems first, the root cause leading.
//!
//! - FAIL and WARN rows, each cause followed by what it explains ("→ 6 dependent checks not run"),
//!   causes with the most consequences first; then one line per category of what passed; then the
//!   SKIPs nothing explains, grouped by reason; the verdict; how to fix, in table order.
//! - `--all` shows every row, grouped by category.
//! - Columns fit the width: the requirement id and the address are never split (they share a
//!   column, one per line), the evidence wraps at word boundaries; "How to fix" wraps with a hanging
//!   indent. ASCII borders and punctuation when the locale is not UTF-8 or TERM=dumb. Colour only
//!   when asked (the caller decides: a terminal, no NO_COLOR / --no-color / TERM=dumb).

use comfy_table::{
    presets, Attribute, Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement, Table,
};

use super::{fixes, grouped, Style};
use crate::ids::Category;
use crate::result::{CheckResult, Report, Status, Verdict};
use crate::rootcause::roots;

/// Colours readable on dark and light backgrounds (the standard, not the bright, ANSI colours).
fn color(s: Status) -> Color {
    match s {
        Status::Pass => Color::DarkGreen,
        Status::Warn => Color::DarkYellow,
        Status::Fail => Color::DarkRed,
        Status::Skip => Color::DarkMagenta,
    }
}

// comfy-table's colours: the view paints with the four named, any other is the default
#[allow(clippy::wildcard_enum_match_arm)]
fn paint(text: &str, c: Color, style: Style) -> String {
    if !style.color {
        return text.to_string();
    }
    let code = match c {
        Color::DarkGreen => 32,
        Color::DarkYellow => 33,
        Color::DarkRed => 31,
        Color::DarkMagenta => 35,
        _ => 39,
    };
    format!("\x1b[1;{code}m{text}\x1b[0m")
}

/// Columns a string takes on the terminal: characters, less SGR colour sequences.
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\x1b') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// Word-wrap `text` to `width` columns, the first line after `first`, the others after `indent`.
pub(crate) fn wrap(first: &str, indent: &str, text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut len = visible_len(first);
    let mut empty = true;
    for word in text.split([' ', '\n']).filter(|w| !w.is_empty()) {
        let w = word.chars().count();
        if !empty && len + 1 + w > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
            len = indent.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += w;
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// What ASCII mode writes for the few non-ASCII characters the views use; anything else is `?`.
pub(crate) fn to_ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            c if c.is_ascii() => c.to_string(),
            '·' => "-".into(),
            '\u{a0}' => " ".into(),
            '—' | '–' => "-".into(),
            '→' => "->".into(),
            '…' => "...".into(),
            '×' => "x".into(),
            '≥' => ">=".into(),
            '‘' | '’' => "'".into(),
            '“' | '”' => "\"".into(),
            _ => "?".into(),
        })
        .collect()
}

fn table(style: Style, wide: bool) -> Table {
    let mut t = Table::new();
    t.load_style(if style.ascii {
        presets::ASCII_FULL_CONDENSED
    } else {
        presets::UTF8_FULL_CONDENSED
    });
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(u16::try_from(style.width.clamp(40, 1000)).unwrap_or(1000));
    if style.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    if wide {
        t.set_header(vec![
            "Status",
            "Requirement",
            "Target",
            "Address",
            "Evidence",
        ]);
    } else {
        t.set_header(vec!["Status", "Requirement / address", "Evidence"]);
    }
    t
}

/// Ids and addresses are never split: their columns are as wide as their content.
fn constrain(t: &mut Table, wide: bool) {
    let keep: &[usize] = if wide { &[0, 1, 3] } else { &[0, 1] };
    for &i in keep {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
}

/// One table row for one result, or for several that say the same thing (they differ only in
/// their own address): every id, address and target, the first message standing for all;
/// `note` is appended to the evidence (the consequences of a cause).
fn add_row(
    t: &mut Table,
    results: &[CheckResult],
    rows: &[usize],
    note: Option<String>,
    style: Style,
    wide: bool,
) {
    let first = &results[rows[0]];
    let label = match first.waived {
        Some(_) => format!("{}\n(waived)", first.status.label()),
        None => first.status.label().to_string(),
    };
    let status = Cell::new(label).set_alignment(CellAlignment::Left);
    let status = if style.color {
        status
            .fg(color(first.status))
            .add_attribute(Attribute::Bold)
    } else {
        status
    };
    let (mut ids, mut addrs, mut targets): (Vec<&str>, Vec<&str>, Vec<&str>) =
        (vec![], vec![], vec![]);
    for &k in rows {
        let r = &results[k];
        for (list, v) in [
            (&mut ids, Some(r.id.as_str())),
            (&mut addrs, r.address.as_deref()),
            (&mut targets, Some(r.target.as_str())),
        ] {
            if let Some(v) = v.filter(|v| !list.contains(v)) {
                list.push(v);
            }
        }
    }
    let mut evidence = crate::text::clean(&first.message, 2000);
    if addrs.len() > 1 {
        evidence.push_str(&format!(" (each of the {} addresses alike)", addrs.len()));
    }
    if let Some(n) = note {
        evidence.push('\n');
        evidence.push_str(&n);
    }
    if wide {
        t.add_row(vec![
            status,
            Cell::new(ids.join("\n")),
            Cell::new(targets.join("\n")),
            Cell::new(addrs.join("\n")),
            Cell::new(evidence),
        ]);
    } else {
        // ids and addresses each on its own line; rows without an address name their targets first
        let who = ids
            .iter()
            .chain(addrs.iter())
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        let evidence = if addrs.is_empty() {
            format!("{}: {evidence}", targets.join(", "))
        } else {
            evidence
        };
        t.add_row(vec![status, Cell::new(who), Cell::new(evidence)]);
    }
}

/// "→ 6 dependent checks not run: tcp.registry, tls.registry ×2, …" for the rows a cause explains.
fn consequences(results: &[CheckResult], of: &[usize], arrow: &str) -> Option<String> {
    if of.is_empty() {
        return None;
    }
    let mut ids: Vec<(String, usize)> = vec![];
    for &k in of {
        match ids.iter_mut().find(|(id, _)| *id == results[k].id) {
            Some(e) => e.1 += 1,
            None => ids.push((results[k].id.clone(), 1)),
        }
    }
    let list: Vec<String> = ids
        .iter()
        .map(|(id, n)| {
            if *n > 1 {
                format!("{id} ×{n}")
            } else {
                id.clone()
            }
        })
        .collect();
    let skipped = of
        .iter()
        .filter(|&&k| results[k].status == Status::Skip)
        .count();
    let what = if skipped == of.len() {
        format!(
            "{} dependent check{} not run",
            of.len(),
            if of.len() == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{} more rows explained by this ({} failed or warned, {skipped} not run)",
            of.len(),
            of.len() - skipped
        )
    };
    Some(format!("{arrow} {what}: {}", list.join(", ")))
}

pub(crate) fn render(report: &Report, style: Style) -> String {
    let wide = style.width >= 140;
    let results = &report.results;
    let mut out = format!(
        "ack-edge-preflight {} · region {} · cni {} · host {}\n",
        report.tool.version,
        report.target.region,
        report.target.cni,
        crate::text::clean(&report.host.hostname, 64)
    );
    let (shown_order, paths) = if style.all {
        (every_row(&mut out, results, style, wide), vec![])
    } else {
        let root = roots(results);
        let shown = problems_first(&mut out, results, &root, style, wide);
        passed_line(&mut out, results, style);
        not_run(&mut out, results, &root, style);
        shown
    };
    verdict_lines(&mut out, report, style);
    how_to_fix(&mut out, results, &shown_order, &paths, style);
    if style.ascii {
        out = to_ascii(&out);
    }
    out
}

/// `--all`: every row, by category; the order shown.
fn every_row(out: &mut String, results: &[CheckResult], style: Style, wide: bool) -> Vec<usize> {
    let mut t = table(style, wide);
    let mut order = vec![];
    for (_, rows) in grouped(results) {
        for r in rows {
            let i = results.iter().position(|x| std::ptr::eq(x, r)).unwrap_or(0);
            order.push(i);
            add_row(&mut t, results, &[i], None, style, wide);
        }
    }
    constrain(&mut t, wide);
    out.push_str(&format!("{t}\n"));
    order
}

/// Problems that nothing else explains, the causes with most consequences first, their
/// consequences folded under them; failed flows that stop at the same hop are one path, led by
/// it; rows that say the same thing are one row. The rows whose fixes apply, in the order shown,
/// and the paths (with their own fixes).
fn problems_first(
    out: &mut String,
    results: &[CheckResult],
    root: &[usize],
    style: Style,
    wide: bool,
) -> (Vec<usize>, Vec<(String, String)>) {
    let explained = |i: usize| root[i] != i;
    let dependents = |i: usize| -> Vec<usize> {
        (0..results.len())
            .filter(|&k| k != i && root[k] == i)
            .collect()
    };
    let rank = Category::rank;
    let mut problems: Vec<(usize, Vec<usize>)> = (0..results.len())
        .filter(|&i| matches!(results[i].status, Status::Fail | Status::Warn) && !explained(i))
        .map(|i| (i, dependents(i)))
        .collect();
    problems.sort_by(|(a, da), (b, db)| {
        (db.len().min(1), results[*b].status == Status::Fail)
            .cmp(&(da.len().min(1), results[*a].status == Status::Fail))
            .then(db.len().cmp(&da.len()))
            .then(rank(&results[*a].category).cmp(&rank(&results[*b].category)))
            .then(a.cmp(b))
    });
    let ids: Vec<usize> = problems.iter().map(|(i, _)| *i).collect();
    let stops = crate::rootcause::path_stops(results, &ids);
    let mut path_fixes = vec![];
    let mut fixes_from: Vec<usize> = vec![];
    let mut t = table(style, wide);
    for s in &stops {
        let passing: Vec<&str> = dedup(s.passing.iter().map(|&k| results[k].id.as_str()));
        let (words, fix) = crate::probe::trace::path_words(&s.hop, s.whose, s.rows.len(), &passing);
        let deps: Vec<usize> = problems
            .iter()
            .filter(|(i, _)| s.rows.contains(i))
            .flat_map(|(_, d)| d.iter().copied())
            .collect();
        add_path_row(
            &mut t,
            results,
            s,
            &words,
            consequences(results, &deps, "→"),
            style,
            wide,
        );
        path_fixes.push((
            format!("path {}", crate::probe::trace::hop_record_words(&s.hop)),
            fix,
        ));
        // a broken path's fix is the path's; filters keep their rows' own fixes
        if !passing.is_empty() {
            fixes_from.extend(&s.rows);
        }
    }
    let in_path = |i: &usize| stops.iter().any(|s| s.rows.contains(i));
    let rest: Vec<(usize, Vec<usize>)> = problems
        .iter()
        .filter(|(i, _)| !in_path(i))
        .cloned()
        .collect();
    if !rest.is_empty() || !stops.is_empty() {
        for (rows, deps) in &same_words(results, &rest) {
            add_row(
                &mut t,
                results,
                rows,
                consequences(results, deps, "→"),
                style,
                wide,
            );
        }
        constrain(&mut t, wide);
        out.push_str(&format!("{t}\n"));
    }
    fixes_from.extend(rest.iter().map(|(i, _)| *i));
    (fixes_from, path_fixes)
}

fn dedup<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = vec![];
    for x in it {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

/// One row for a path several failed flows stop on: the path leads, the flows are listed.
fn add_path_row(
    t: &mut Table,
    results: &[CheckResult],
    s: &crate::rootcause::PathStop,
    words: &str,
    note: Option<String>,
    style: Style,
    wide: bool,
) {
    let status = Cell::new(Status::Fail.label()).set_alignment(CellAlignment::Left);
    let status = if style.color {
        status
            .fg(color(Status::Fail))
            .add_attribute(Attribute::Bold)
    } else {
        status
    };
    let mut flows: Vec<String> = vec![];
    for &k in &s.rows {
        let r = &results[k];
        let f = match &r.address {
            Some(a) => format!("{} {a}", r.id),
            None => format!("{} {}", r.id, crate::text::clean(&r.target, 80)),
        };
        if !flows.contains(&f) {
            flows.push(f);
        }
    }
    let mut evidence = format!("{words}: {}", flows.join(", "));
    if let Some(n) = note {
        evidence.push('\n');
        evidence.push_str(&n);
    }
    let hop = s
        .hop
        .address
        .map_or_else(|| "?".to_string(), |a| a.to_string());
    if wide {
        t.add_row(vec![
            status,
            Cell::new("path"),
            Cell::new(format!("beyond {hop}")),
            Cell::new(hop),
            Cell::new(evidence),
        ]);
    } else {
        t.add_row(vec![
            status,
            Cell::new(format!("path\n{hop}")),
            Cell::new(evidence),
        ]);
    }
}

/// Rows that say the same thing (same status, error and message but for their own address) as
/// one: four names the resolver did not answer, two registry addresses that time out. Each group:
/// its rows and their dependents.
fn same_words(
    results: &[CheckResult],
    problems: &[(usize, Vec<usize>)],
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let key = |i: usize| {
        let r = &results[i];
        let mut m = r.message.clone();
        if let Some(a) = &r.address {
            m = m.replace(a.as_str(), "{addr}");
            if let Some(ip) = a.rsplit_once(':').map(|(h, _)| h) {
                m = m.replace(ip, "{ip}");
            }
        }
        (r.status, r.category.clone(), r.details.error, m)
    };
    let mut groups: Vec<(Vec<usize>, Vec<usize>)> = vec![];
    let mut keys = vec![];
    for (i, deps) in problems {
        let k = key(*i);
        if let Some(g) = keys.iter().position(|x| *x == k) {
            groups[g].0.push(*i);
            groups[g].1.extend(deps);
        } else {
            keys.push(k);
            groups.push((vec![*i], deps.clone()));
        }
    }
    groups
}

/// What passed, one entry per category.
fn passed_line(out: &mut String, results: &[CheckResult], style: Style) {
    let mut passed: Vec<String> = vec![];
    for (cat, rows) in grouped(results) {
        let n = rows.iter().filter(|r| r.status == Status::Pass).count();
        if n > 0 {
            passed.push(format!("{cat}\u{a0}{n}"));
        }
    }
    if !passed.is_empty() {
        out.push_str(&wrap(
            &format!("{} ", paint("Passed:", color(Status::Pass), style)),
            "        ",
            &passed.join(" · "),
            style.width,
        ));
    }
}

/// SKIPs nothing explains (or explained by a row that is not a problem), by reason.
fn not_run(out: &mut String, results: &[CheckResult], root: &[usize], style: Style) {
    let mut reasons: Vec<(String, Vec<usize>)> = vec![];
    for (i, r) in results.iter().enumerate() {
        let explained = root[i] != i;
        if r.status != Status::Skip
            || (explained && matches!(results[root[i]].status, Status::Fail | Status::Warn))
        {
            continue;
        }
        let reason = crate::text::clean(&r.message, 300);
        let key = reason.split(':').next().unwrap_or("").to_string();
        match reasons.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1.push(i),
            None => reasons.push((key, vec![i])),
        }
    }
    if reasons.is_empty() {
        return;
    }
    let n: usize = reasons.iter().map(|(_, v)| v.len()).sum();
    out.push_str(&format!(
        "{} ({n}):\n",
        paint("Not run", color(Status::Skip), style)
    ));
    for (_, rows) in &reasons {
        let mut ids: Vec<&str> = rows.iter().map(|&k| results[k].id.as_str()).collect();
        ids.dedup();
        let text = format!(
            "{} — {}",
            ids.join(", "),
            crate::text::clean(&results[rows[0]].message, 300)
        );
        out.push_str(&wrap("  ", "    ", &text, style.width));
    }
}

/// The verdict, short (which requirements were not tested is in "Not run" and the JSON), the
/// counts, and the waivers.
fn verdict_lines(out: &mut String, report: &Report, style: Style) {
    let s = &report.summary;
    let verdict = format!("Verdict: {}", s.verdict_short());
    let c = match s.verdict {
        Verdict::Pass => Color::DarkGreen,
        Verdict::Warn => Color::DarkYellow,
        Verdict::Fail => Color::DarkRed,
    };
    let counts = format!(
        "{} pass, {} warn, {} fail, {} skip in {} ms{}",
        s.pass,
        s.warn,
        s.fail,
        s.skip,
        report.duration_ms,
        if style.all { "" } else { " (every row: --all)" }
    );
    out.push_str(&wrap(
        &format!("{} — ", paint(&verdict, c, style)),
        "  ",
        &counts,
        style.width,
    ));
    for w in &report.waivers {
        match w.matched {
            0 => out.push_str(&format!("Waiver {} matched no row (unused)\n", w.accept)),
            n => out.push_str(&format!(
                "Waived by {}: {n} row(s), {}\n",
                w.accept, w.reason
            )),
        }
    }
}

/// How to fix: the paths' first, then one entry per fix text, in the order the rows were shown;
/// requirements that share a fix are named together.
fn how_to_fix(
    out: &mut String,
    results: &[CheckResult],
    shown: &[usize],
    paths: &[(String, String)],
    style: Style,
) {
    let ordered: Vec<CheckResult> = shown.iter().map(|&i| results[i].clone()).collect();
    let mut fx: Vec<(Status, Vec<&str>, &str)> = paths
        .iter()
        .map(|(what, fix)| (Status::Fail, vec![what.as_str()], fix.as_str()))
        .collect();
    for (id, status, text) in fixes(&ordered, true) {
        match fx.iter_mut().find(|(_, _, t)| *t == text) {
            Some(e) => {
                e.1.push(id);
                if status == Status::Fail {
                    e.0 = Status::Fail;
                }
            }
            None => fx.push((status, vec![id], text)),
        }
    }
    if fx.is_empty() {
        return;
    }
    out.push_str("\nHow to fix:\n");
    for (status, ids, text) in fx {
        let head = format!(
            "  {} {}: ",
            paint(status.label(), color(status), style),
            ids.join(", ")
        );
        out.push_str(&wrap(
            &head,
            "    ",
            &crate::text::clean(text, 2000),
            style.width,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_words_with_a_hanging_indent() {
        let w = wrap(
            "  FAIL x: ",
            "    ",
            "allow UDP and TCP 53 from the node to 100.100.2.136 on the firewall",
            30,
        );
        for l in w.lines() {
            assert!(l.chars().count() <= 30, "{l:?}");
        }
        assert!(
            w.starts_with("  FAIL x: allow UDP and TCP 53\n    from"),
            "{w}"
        );
        // a word longer than the width stays whole on its own line
        let w = wrap("", "", "a registry-cn-hangzhou-vpc.ack.aliyuncs.com b", 10);
        assert_eq!(w, "a\nregistry-cn-hangzhou-vpc.ack.aliyuncs.com\nb\n");
    }

    #[test]
    fn ascii_mode_leaves_only_ascii() {
        assert_eq!(to_ascii("a · b — c → d … 済"), "a - b - c -> d ... ?");
    }
}
