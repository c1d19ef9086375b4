//! The watch page: the report's HTML (the same page `check --format html` writes) with a section of
//! plots, one per path — round trip over time with outage bands and changes marked, and loss per
//! time slot below it — drawn by `plotters` into inline SVG (no external resources: the page
//! opens from a ticket attachment).

use plotters::prelude::*;

use super::stats::Point;
use super::{Kind, Path, Recording};
use crate::result::Report;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 230;
const RTT_HEIGHT: u32 = 165;

/// Text for SVG and HTML: control characters escaped, markup characters as entities.
fn esc(s: &str) -> String {
    crate::report::html::esc(&crate::text::clean(s, 200))
}

#[allow(clippy::cast_precision_loss)]
fn secs(t_ms: u64) -> f64 {
    t_ms as f64 / 1000.0
}

/// One path's plot as an SVG element.
fn plot(rec: &Recording, p: &Path) -> Result<String, String> {
    let st = &p.stats;
    let points: &[Point] = st.series.points();
    let x_max = secs(crate::clock::ms(rec.elapsed)).max(1.0);
    let y_max = points.iter().filter_map(|q| q.max).fold(1.0f64, f64::max) * 1.15;
    let slot = points
        .windows(2)
        .map(|w| secs(w[1].t_ms - w[0].t_ms))
        .fold(f64::INFINITY, f64::min);
    let slot = if slot.is_finite() {
        slot
    } else {
        rec.interval.as_secs_f64()
    };
    let end_ms = crate::clock::ms(rec.elapsed);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (upper, lower) = root.split_vertically(RTT_HEIGHT);
        let mut chart = ChartBuilder::on(&upper)
            .margin(6)
            .x_label_area_size(0)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(0)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 13))
            .y_desc(if p.kind == Kind::Dns {
                "answer ms"
            } else {
                "round trip ms"
            })
            .y_labels(5)
            .draw()
            .map_err(|e| e.to_string())?;
        // outage bands
        chart
            .draw_series(st.outages.iter().map(|o| {
                let e = o.end_ms.unwrap_or(end_ms);
                Rectangle::new(
                    [(secs(o.start_ms), 0.0), (secs(e), y_max)],
                    RED.mix(0.18).filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        // changes (a DNS answer, the full-size probe's fate)
        chart
            .draw_series(st.changes.iter().map(|c| {
                PathElement::new(
                    vec![(secs(c.t_ms), 0.0), (secs(c.t_ms), y_max)],
                    ShapeStyle::from(&RGBColor(230, 140, 0)).stroke_width(2),
                )
            }))
            .map_err(|e| e.to_string())?;
        // the round trip, broken where a slot had no answer
        let mut segments: Vec<Vec<(f64, f64)>> = vec![vec![]];
        for q in points {
            match q.mean {
                Some(m) => {
                    if let Some(l) = segments.last_mut() {
                        l.push((secs(q.t_ms), m));
                    }
                }
                None => segments.push(vec![]),
            }
        }
        chart
            .draw_series(
                segments
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| PathElement::new(s, ShapeStyle::from(&BLUE).stroke_width(2))),
            )
            .map_err(|e| e.to_string())?;
        let mut loss = ChartBuilder::on(&lower)
            .margin(6)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, 0f64..100f64)
            .map_err(|e| e.to_string())?;
        loss.configure_mesh()
            .disable_mesh()
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 12))
            .y_desc("loss %")
            .y_labels(2)
            .x_desc("seconds since the watch began")
            .draw()
            .map_err(|e| e.to_string())?;
        loss.draw_series(points.iter().filter(|q| q.lost > 0).map(|q| {
            let pct = f64::from(q.lost) * 100.0 / f64::from(q.sent.max(1));
            let x = secs(q.t_ms);
            Rectangle::new([(x, 0.0), (x + slot, pct)], RED.filled())
        }))
        .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The outages of the whole line, overlapping ones merged: when, how long, which paths, where.
fn outage_table(rec: &Recording) -> String {
    let ws = super::summary::windows(rec);
    if ws.is_empty() {
        return "<p>No outage: no path lost two samples in a row.</p>\n".into();
    }
    let mut out = format!(
        "<h3>Outages ({})</h3>\n<table class=\"facts outages\">\n<thead><tr><th>From</th><th>To</th><th>Duration</th><th>Paths out</th><th>Where it broke</th></tr></thead>\n<tbody>\n",
        ws.len()
    );
    let end = crate::clock::ms(rec.elapsed);
    for w in &ws {
        #[allow(clippy::cast_precision_loss)]
        let secs = w.end_ms.unwrap_or(end).saturating_sub(w.start_ms) as f64 / 1000.0;
        out.push_str(&format!(
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{secs:.1} s</td><td>{} {}</td><td>{}</td></tr>\n",
            esc(&super::summary::clock(rec, w.start_ms)),
            w.end_ms.map_or("still out at the end".to_string(), |e| esc(&super::summary::clock(rec, e))),
            w.paths.len(),
            esc(&crate::text::first_few(&w.paths, 4)),
            w.broke_at.as_deref().map_or(String::new(), esc),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// The plots section: one figure per path, its name and what its row says.
pub fn section(rec: &Recording, report: &Report) -> String {
    let mut out = String::from("<h2>The line over time</h2>\n<p class=\"src\">Blue: round trip (mean per time slot); red bands: outages; orange lines: changes (a DNS answer, the full-size probe); red bars below: lost samples per slot.</p>\n");
    out.push_str(&outage_table(rec));
    // problems first, then by kind and name
    let mut paths: Vec<(&String, &Path, &str)> =
        rec.paths
            .iter()
            .map(|(name, p)| {
                let row = report.results.iter().find(|r| {
                    r.id == p.id.as_str() && r.target == p.target && r.address == p.address
                });
                (name, p, row.map_or("", |r| r.status.as_str()))
            })
            .collect();
    let rank = |s: &str| match s {
        "fail" => 0,
        "warn" => 1,
        _ => 2,
    };
    // the paths a join needs most first: TCP, then VXLAN, NTP, MTU and DNS
    let order = |k: Kind| match k {
        Kind::Tcp => 0,
        Kind::Echo => 1,
        Kind::Ntp => 2,
        Kind::Tls => 3,
        Kind::Mtu => 4,
        Kind::Dns => 5,
    };
    paths.sort_by_key(|(name, p, status)| (rank(status), order(p.kind), *name));
    for (name, p, status) in paths {
        out.push_str(&format!(
            "<figure class=\"plot\"><figcaption><span class=\"st {}\">{}</span> {}</figcaption>\n",
            status,
            status.to_uppercase(),
            esc(name)
        ));
        match plot(rec, p) {
            Ok(svg) => out.push_str(&svg),
            Err(e) => out.push_str(&format!("<p>not drawn: {}</p>", esc(&e))),
        }
        out.push_str("</figure>\n");
    }
    out
}

/// The whole page.
pub fn render(rec: &Recording, report: &Report) -> String {
    crate::report::html::render_with(report, &section(rec, report))
}
