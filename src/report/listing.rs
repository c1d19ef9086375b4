//! Listings (`plan`, `requirements`, `regions`, `summarize`): one table builder for every format.
//! Markdown tables are written by hand, one row per line, every cell escaped, so a GFM renderer
//! keeps each row's columns; terminal tables use comfy-table.

use comfy_table::{presets, ContentArrangement, Table};

use crate::catalogue::Catalogue;
use crate::checks::Step;
use crate::regions::Region;

/// A Markdown cell: `|`, `<`, `>`, `&`, backticks and newlines cannot break the row or turn into HTML.
pub(crate) fn md_cell(s: &str) -> String {
    s.lines().map(md_line).collect::<Vec<_>>().join("<br>")
}

fn md_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in crate::text::clean(s, 4000).chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push_str("&#96;"),
            '\\' => out.push_str("\\\\"),
            '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The formats of the listings (`plan`, `requirements`, `regions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
    Markdown,
}

/// A GFM pipe table.
pub(crate) fn markdown_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header
            .iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(header.len())
    );
    for r in rows {
        out.push_str(&format!(
            "| {} |\n",
            r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

/// A terminal table that adapts to the width (160 columns when not a terminal).
pub(crate) fn terminal_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if t.width().is_none() {
        t.set_width(160);
    }
    t.set_header(header.to_vec());
    t
}

/// A listing in the chosen format (JSON is rendered by the caller from the data itself).
pub(crate) fn table(format: ListFormat, header: &[&str], rows: Vec<Vec<String>>) -> String {
    if format == ListFormat::Markdown {
        markdown_table(header, &rows)
    } else {
        let mut t = terminal_table(header);
        for r in rows {
            t.add_row(
                r.into_iter()
                    .map(|c| crate::text::clean(&c, 4000))
                    .collect::<Vec<_>>(),
            );
        }
        format!("{t}\n")
    }
}

pub(crate) fn plan(format: ListFormat, probes: &[Step], via: &str, heading: &str) -> String {
    let mut rows = vec![];
    for p in probes {
        for action in p.packets(via) {
            rows.push(vec![p.id.to_string(), p.target.clone(), action]);
        }
    }
    let n = rows.len();
    format!(
        "{heading}\n{}\n{n} packets or reads from {} probes.\n",
        table(format, &["Requirement", "Target", "Probe"], rows),
        probes.len()
    )
}

pub(crate) fn requirements(format: ListFormat, cat: &Catalogue) -> String {
    let rows = cat
        .requirements
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.title.clone(),
                r.applies.clone(),
                r.source.clone(),
            ]
        })
        .collect();
    table(format, &["Id", "Title", "Applies", "Source"], rows)
}

pub(crate) fn regions(format: ListFormat, regions: &[Region]) -> String {
    let join = |v: &[ipnet::Ipv4Net]| {
        v.iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rows = regions
        .iter()
        .map(|r| {
            let vips = if r.oss_vips.is_empty() {
                "(none documented: 100.0.0.0/8)".to_string()
            } else {
                join(&r.oss_vips)
            };
            vec![
                r.id.clone(),
                r.name.clone(),
                r.registry.clone(),
                join(&r.registry_routes),
                vips,
            ]
        })
        .collect();
    table(
        format,
        &[
            "Region",
            "Name",
            "Registry VPC endpoint",
            "Registry routes",
            "OSS internal VIPs",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_cannot_break_a_row() {
        let t = markdown_table(
            &["a", "b"],
            &[vec!["x | y\nz".into(), "<script>&`c`".into()]],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert_eq!(
            lines[2],
            "| x \\| y<br>z | &lt;script&gt;&amp;&#96;c&#96; |"
        );
    }
}
