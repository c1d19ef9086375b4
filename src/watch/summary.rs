//! The rows of a watch: one per path, under the requirement id its probe serves (`tcp.registry`,
//! `dns.oss`, `ntp.server`, `udp.vxlan`, `mtu.path`), so a watch report is read like a check
//! report. An outage is a FAIL naming its window (and where the path broke, when the sweep said);
//! loss alone, an answer that changed, a full-size probe that came and went are WARN.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::stats::{Change, PathStats};
use super::{Kind, Path, Recording};
use crate::catalogue::Catalogue;
use crate::cause::{ErrorClass, Phase, Plain};
use crate::result::{CheckResult, Finding};

/// An outage as the report says it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutageRecord {
    pub start: String,
    /// None: still out when the watch ended.
    pub end: Option<String>,
    pub duration_s: f64,
    pub lost: u32,
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broke_at: Option<String>,
    /// The other paths out at the same time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<String>,
}

/// A change as the report says it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub at: String,
    pub from: String,
    pub to: String,
}

/// What a watch saw on one path (`details.watch`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchRecord {
    pub samples: u64,
    pub lost: u64,
    pub loss_pct: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    pub jitter_ms: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outages: Vec<OutageRecord>,
    /// Outages beyond the listed ones (the list is capped).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub outages_not_listed: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_min_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_max_ms: Option<f64>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

crate::evidence! {
    /// A watch row's record.
    pub struct WatchEvidence {
        watch: WatchRecord,
    }
}

/// `HH:MM:SSZ` of ms since the watch began.
pub fn clock(rec: &Recording, t_ms: u64) -> String {
    let s = crate::clock::rfc3339_ms(
        rec.started_epoch_ms
            .saturating_add(i64::try_from(t_ms).unwrap_or(i64::MAX)),
    );
    s[11..].to_string()
}

/// A duration as people say it: 45 s, 12m30s, 2h05m.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s < 120 {
        format!("{:.1} s", d.as_secs_f64())
    } else if s < 7200 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    }
}

fn phase(k: Kind) -> Phase {
    match k {
        Kind::Dns => Phase::Dns,
        Kind::Tcp => Phase::Tcp,
        Kind::Tls => Phase::Tls,
        Kind::Ntp => Phase::Ntp,
        Kind::Echo => Phase::Udp,
        Kind::Mtu => Phase::Mtu,
    }
}

fn noun(k: Kind) -> &'static str {
    match k {
        Kind::Dns => "lookups",
        Kind::Tcp => "connects",
        Kind::Tls => "TLS handshakes (one a minute at the default interval)",
        Kind::Ntp => "SNTP requests",
        Kind::Echo => "VXLAN echoes",
        Kind::Mtu => "full-size DF echoes (in rounds where small ones passed)",
    }
}

/// The outages of `p` as records, each with the other paths out at the same time.
fn outages(rec: &Recording, name: &str, st: &PathStats) -> Vec<OutageRecord> {
    let end_ms = crate::clock::ms(rec.elapsed);
    st.outages
        .iter()
        .map(|o| {
            let until = o.end_ms.unwrap_or(end_ms);
            let with = rec
                .paths
                .iter()
                .filter(|(n, _)| n.as_str() != name)
                .filter(|(_, q)| {
                    q.stats.outages.iter().any(|x| {
                        x.start_ms < until.max(o.start_ms + 1)
                            && o.start_ms < x.end_ms.unwrap_or(end_ms).max(x.start_ms + 1)
                    })
                })
                .map(|(n, _)| n.clone())
                .collect();
            #[allow(clippy::cast_precision_loss)]
            let duration_s = until.saturating_sub(o.start_ms) as f64 / 1000.0;
            OutageRecord {
                start: clock(rec, o.start_ms),
                end: o.end_ms.map(|e| clock(rec, e)),
                duration_s,
                lost: o.lost,
                error: crate::text::clean(&o.error, 200),
                broke_at: o.broke_at.clone(),
                with,
            }
        })
        .collect()
}

fn changes(rec: &Recording, v: &[Change]) -> Vec<ChangeRecord> {
    v.iter()
        .map(|c| ChangeRecord {
            at: clock(rec, c.t_ms),
            from: crate::text::clean(&c.from, 200),
            to: crate::text::clean(&c.to, 200),
        })
        .collect()
}

fn outage_words(o: &OutageRecord) -> String {
    let mut s = format!(
        "{}–{} ({:.1} s, {} lost: {})",
        o.start,
        o.end.as_deref().unwrap_or("the end, still out"),
        o.duration_s,
        o.lost,
        o.error
    );
    if let Some(b) = &o.broke_at {
        s.push_str(&format!("; {b}"));
    }
    if !o.with.is_empty() {
        s.push_str(&format!(
            "; at the same time: {}",
            crate::text::first_few(&o.with, 3)
        ));
    }
    s
}

/// One window in which one or more paths were out at once: overlapping outages merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub start_ms: u64,
    /// None: still out at the end.
    pub end_ms: Option<u64>,
    /// The paths out in it, in order of their outage's start.
    pub paths: Vec<String>,
    /// Where a path broke, from the first sweep in the window that said.
    pub broke_at: Option<String>,
}

/// Every outage of every path, merged into windows where they overlap, in time order.
pub fn windows(rec: &Recording) -> Vec<Window> {
    let end = crate::clock::ms(rec.elapsed);
    let mut all: Vec<(u64, u64, bool, &str, Option<&String>)> = rec
        .paths
        .iter()
        .flat_map(|(name, p)| {
            p.stats.outages.iter().map(move |o| {
                (
                    o.start_ms,
                    o.end_ms.unwrap_or(end),
                    o.end_ms.is_none(),
                    name.as_str(),
                    o.broke_at.as_ref(),
                )
            })
        })
        .collect();
    all.sort_by_key(|a| (a.0, a.3));
    let mut out: Vec<(Window, u64)> = vec![];
    for (start, until, open, name, broke) in all {
        match out.last_mut() {
            Some((w, w_end)) if start <= *w_end => {
                *w_end = (*w_end).max(until);
                if open {
                    w.end_ms = None;
                } else if let Some(e) = w.end_ms.as_mut() {
                    *e = (*e).max(until);
                }
                if !w.paths.iter().any(|p| p == name) {
                    w.paths.push(name.to_string());
                }
                if w.broke_at.is_none() {
                    w.broke_at = broke.cloned();
                }
            }
            _ => out.push((
                Window {
                    start_ms: start,
                    end_ms: (!open).then_some(until),
                    paths: vec![name.to_string()],
                    broke_at: broke.cloned(),
                },
                until,
            )),
        }
    }
    out.into_iter().map(|(w, _)| w).collect()
}

/// One row per path.
pub fn rows(
    rec: &Recording,
    cat: &Catalogue,
    region: &str,
    ntp_warn_s: f64,
    ntp_fail_s: f64,
) -> Vec<CheckResult> {
    rec.paths
        .iter()
        .map(|(name, p)| {
            let f = finding(rec, name, p, ntp_warn_s, ntp_fail_s);
            crate::run::row_of(
                cat,
                region,
                p.id,
                &p.target,
                p.address.clone(),
                f,
                rec.elapsed,
            )
        })
        .collect()
}

fn finding(rec: &Recording, name: &str, p: &Path, ntp_warn_s: f64, ntp_fail_s: f64) -> Finding {
    let st = &p.stats;
    let outs = outages(rec, name, st);
    let chg = changes(rec, &st.changes);
    let (omin, omax) = st.values.as_ref().map_or((None, None), |v| {
        v.points()
            .iter()
            .filter_map(|q| q.mean)
            .fold((None, None), |(lo, hi), x| {
                (
                    Some(lo.map_or(x, |l: f64| l.min(x))),
                    Some(hi.map_or(x, |h: f64| h.max(x))),
                )
            })
    });
    let record = WatchRecord {
        samples: st.sent,
        lost: st.lost,
        loss_pct: (st.loss_pct() * 10.0).round() / 10.0,
        p50_ms: st.rtt.percentile(50.0),
        p95_ms: st.rtt.percentile(95.0),
        p99_ms: st.rtt.percentile(99.0),
        jitter_ms: (st.jitter_ms * 100.0).round() / 100.0,
        outages: outs.clone(),
        outages_not_listed: st.outages_dropped,
        changes: chg.clone(),
        offset_min_ms: omin,
        offset_max_ms: omax,
    };
    let mut msg = format!(
        "watched {}: {} {}, {} lost ({:.1} %)",
        human(rec.elapsed),
        st.sent,
        noun(p.kind),
        st.lost,
        st.loss_pct()
    );
    if let (Some(a), Some(b), Some(c)) = (record.p50_ms, record.p95_ms, record.p99_ms) {
        msg.push_str(&format!(
            "; {} p50 {a:.1} / p95 {b:.1} / p99 {c:.1} ms, jitter {:.1} ms",
            if p.kind == Kind::Dns {
                "answer time"
            } else {
                "round trip"
            },
            st.jitter_ms
        ));
    }
    if let (Some(lo), Some(hi)) = (omin, omax) {
        msg.push_str(&format!(
            "; clock offset {lo:.1} to {hi:.1} ms (drift {:.1} ms)",
            hi - lo
        ));
    }
    if !chg.is_empty() {
        let list: Vec<String> = chg
            .iter()
            .map(|c| format!("at {} {} → {}", c.at, c.from, c.to))
            .collect();
        let n = chg.len() + usize::try_from(st.changes_dropped).unwrap_or(0);
        msg.push_str(&format!(
            "; {} {}: {}",
            if p.kind == Kind::Dns {
                "the answer changed"
            } else {
                "it changed"
            },
            if n == 1 {
                "once".to_string()
            } else {
                format!("{n} times")
            },
            crate::text::first_few_of(&list, 5, n)
        ));
    }
    let ph = phase(p.kind);
    let worst_offset = omin.unwrap_or(0.0).abs().max(omax.unwrap_or(0.0).abs()) / 1000.0;
    let f = if !outs.is_empty() {
        let list: Vec<String> = outs.iter().map(outage_words).collect();
        let total = outs.len() + usize::try_from(st.outages_dropped).unwrap_or(0);
        msg.push_str(&format!(
            "; {} {}: {}",
            total,
            if total == 1 { "outage" } else { "outages" },
            crate::text::first_few_of(&list, 5, total)
        ));
        match p.kind {
            // told of by ICMP, the hosts' TCP adapts: a smaller MTU, not a break
            Kind::Mtu if !st.black_hole => {
                Finding::warn_by(&Plain(ph, ErrorClass::SmallerPathMtu), msg)
            }
            Kind::Mtu => Finding::fail_by(&Plain(ph, ErrorClass::PmtuBlackHole), msg),
            Kind::Dns | Kind::Tcp | Kind::Tls | Kind::Ntp | Kind::Echo => {
                Finding::fail_by(&Plain(ph, ErrorClass::Outage), msg)
            }
        }
    } else if p.kind == Kind::Ntp && worst_offset >= ntp_fail_s {
        Finding::fail_by(&Plain(ph, ErrorClass::ClockSkew), msg)
    } else if st.lost > 0 {
        if let Some((t, e)) = &st.first_loss {
            msg.push_str(&format!(
                "; the first lost at {}: {}",
                clock(rec, *t),
                crate::text::clean(e, 200)
            ));
        }
        Finding::warn_by(&Plain(ph, ErrorClass::Loss), msg)
    } else if !chg.is_empty() {
        Finding::warn_by(&Plain(ph, ErrorClass::Changed), msg)
    } else if p.kind == Kind::Ntp && worst_offset >= ntp_warn_s {
        Finding::warn_by(&Plain(ph, ErrorClass::ClockSkew), msg)
    } else {
        Finding::pass(msg)
    };
    f.evidence(&WatchEvidence {
        watch: Some(record),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ReqId;

    fn rec(paths: Vec<(&str, Kind, PathStats)>) -> Recording {
        Recording {
            paths: paths
                .into_iter()
                .map(|(n, kind, stats)| {
                    (
                        n.to_string(),
                        Path {
                            id: ReqId::TcpRegistry,
                            kind,
                            target: "registry".into(),
                            address: Some(n.to_string()),
                            stats,
                        },
                    )
                })
                .collect(),
            rounds: 10,
            elapsed: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            dropped_paths: 0,
            started_epoch_ms: 1_764_950_400_000,
            packets: 0,
            unwritten: 0,
            write_error: None,
        }
    }

    fn cat() -> &'static Catalogue {
        crate::catalogue::builtin().unwrap()
    }

    #[test]
    fn an_outage_is_a_fail_naming_its_window_and_the_paths_out_with_it() {
        let mut a = PathStats::new(1000);
        let mut b = PathStats::new(1000);
        for t in 0..10u64 {
            let out = (3..6).contains(&t);
            for s in [&mut a, &mut b] {
                if out {
                    s.lost(t * 1000, "connection timed out after 1000 ms");
                } else {
                    s.answered(t * 1000, 2.0);
                }
            }
        }
        let r = rec(vec![
            ("1.1.1.1:443", Kind::Tcp, a),
            ("2.2.2.2:443", Kind::Tcp, b),
        ]);
        let rows = rows(&r, cat(), "cn-hangzhou", 0.5, 2.0);
        assert_eq!(rows.len(), 2);
        let row = &rows[0];
        assert_eq!(row.status, crate::result::Status::Fail, "{}", row.message);
        assert!(
            row.message
                .contains("16:00:03.000Z–16:00:06.002Z (3.0 s, 3 lost"),
            "{}",
            row.message
        );
        assert!(
            row.message.contains("at the same time: 2.2.2.2:443"),
            "{}",
            row.message
        );
        let w: WatchEvidence = row.details.read().unwrap();
        assert_eq!(w.watch.unwrap().outages.len(), 1);
    }

    #[test]
    fn overlapping_outages_are_one_window_with_every_path_in_it() {
        let out = |from: u64, to: u64| {
            let mut s = PathStats::new(1000);
            for t in 0..30u64 {
                if (from..to).contains(&t) {
                    s.lost(t * 1000, "timeout");
                } else {
                    s.answered(t * 1000, 1.0);
                }
            }
            s
        };
        let r = rec(vec![
            ("a", Kind::Tcp, out(3, 6)),
            ("b", Kind::Tcp, out(5, 8)),
            ("c", Kind::Tcp, out(20, 22)),
            ("d", Kind::Tcp, out(40, 41)),
        ]);
        let w = windows(&r);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].paths, vec!["a", "b"]);
        assert_eq!((w[0].start_ms, w[0].end_ms), (3000, Some(8001)));
        assert_eq!(w[1].paths, vec!["c"]);
    }

    #[test]
    fn loss_alone_is_a_warning_and_a_clean_path_passes() {
        let mut a = PathStats::new(1000);
        let mut b = PathStats::new(1000);
        for t in 0..10u64 {
            if t == 4 {
                a.lost(t * 1000, "timeout");
            } else {
                a.answered(t * 1000, 2.0);
            }
            b.answered(t * 1000, 3.0);
        }
        let r = rec(vec![("a", Kind::Tcp, a), ("b", Kind::Tcp, b)]);
        let rows = rows(&r, cat(), "cn-hangzhou", 0.5, 2.0);
        assert_eq!(rows[0].status, crate::result::Status::Warn);
        assert!(
            rows[0].message.contains("1 lost (10.0 %)"),
            "{}",
            rows[0].message
        );
        assert_eq!(rows[1].status, crate::result::Status::Pass);
        assert!(rows[1].message.contains("p50 3.0"), "{}", rows[1].message);
    }
}
