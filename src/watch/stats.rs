//! What `watch` keeps of one path: counts, a log-bucketed round-trip histogram (percentiles within
//! 5 %), RFC 3550 jitter, outages, changes, and a plot series that halves its resolution when full.
//! Nothing here grows with the duration: the histogram has a fixed number of buckets, the series
//! at most [`MAX_POINTS`] points, the outage and change lists at most [`MAX_EVENTS`] entries (the
//! rest counted).

use serde::Serialize;

/// Points per plotted series: the series halves its resolution rather than grow.
pub const MAX_POINTS: usize = 600;
/// Outages and changes kept per path (the rest are counted, not listed).
pub const MAX_EVENTS: usize = 256;
/// Consecutive lost samples of a path that make an outage (one alone is loss).
pub const OUTAGE_SAMPLES: u32 = 2;

/// Round-trip histogram: buckets growing by 5 % from 10 µs to about 100 s.
const BUCKET_RATIO: f64 = 1.05;
const BUCKET_FLOOR_MS: f64 = 0.01;
const BUCKETS: usize = 330;

#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u32>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    fn bucket(ms: f64) -> usize {
        if ms <= BUCKET_FLOOR_MS || !ms.is_finite() {
            return 0;
        }
        let b = ((ms / BUCKET_FLOOR_MS).ln() / BUCKET_RATIO.ln()).floor();
        if b >= (BUCKETS - 1) as f64 {
            BUCKETS - 1
        } else if b <= 0.0 {
            0
        } else {
            // in range: checked above
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = b as usize;
            i
        }
    }
    /// The upper bound of a bucket (what a percentile reports: never an understatement).
    fn upper(i: usize) -> f64 {
        BUCKET_FLOOR_MS * BUCKET_RATIO.powi(i32::try_from(i + 1).unwrap_or(i32::MAX))
    }
    pub fn add(&mut self, ms: f64) {
        let i = Self::bucket(ms);
        self.counts[i] = self.counts[i].saturating_add(1);
        self.total += 1;
    }
    /// The `p`-th percentile (0–100), as the upper bound of its bucket; None when empty.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                return Some(Self::upper(i));
            }
        }
        Some(Self::upper(BUCKETS - 1))
    }
}

/// One point of a plotted series: the samples of a time slot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Start of the slot, ms since the watch began.
    pub t_ms: u64,
    pub sent: u32,
    pub lost: u32,
    /// Mean and maximum of the slot's values (round trip, or NTP offset); None when all were lost.
    pub mean: Option<f64>,
    pub max: Option<f64>,
}

/// A series whose slots double in width when it would exceed [`MAX_POINTS`].
#[derive(Debug, Clone)]
pub struct Series {
    slot_ms: u64,
    points: Vec<Point>,
    sums: Vec<f64>,
    answered: Vec<u32>,
}

impl Series {
    pub fn new(slot_ms: u64) -> Series {
        Series {
            slot_ms: slot_ms.max(1),
            points: vec![],
            sums: vec![],
            answered: vec![],
        }
    }
    pub fn points(&self) -> &[Point] {
        &self.points
    }
    /// One sample at `t_ms`: a value, or None for a lost one.
    pub fn add(&mut self, t_ms: u64, value: Option<f64>) {
        let slot = t_ms / self.slot_ms * self.slot_ms;
        if self.points.last().is_none_or(|p| p.t_ms != slot) {
            if self.points.len() == MAX_POINTS {
                self.halve();
                return self.add(t_ms, value);
            }
            self.points.push(Point {
                t_ms: slot,
                sent: 0,
                lost: 0,
                mean: None,
                max: None,
            });
            self.sums.push(0.0);
            self.answered.push(0);
        }
        let i = self.points.len() - 1;
        let p = &mut self.points[i];
        p.sent += 1;
        match value {
            None => p.lost += 1,
            Some(v) => {
                self.sums[i] += v;
                self.answered[i] += 1;
                p.mean = Some(self.sums[i] / f64::from(self.answered[i]));
                p.max = Some(p.max.map_or(v, |m| m.max(v)));
            }
        }
    }
    /// Merge neighbouring slots: twice the width, half the points.
    fn halve(&mut self) {
        self.slot_ms *= 2;
        let mut points: Vec<Point> = Vec::with_capacity(MAX_POINTS);
        let mut sums = Vec::with_capacity(MAX_POINTS);
        let mut answered = Vec::with_capacity(MAX_POINTS);
        for i in 0..self.points.len() {
            let p = self.points[i];
            let slot = p.t_ms / self.slot_ms * self.slot_ms;
            match points.last_mut() {
                Some(q) if q.t_ms == slot => {
                    let j = sums.len() - 1;
                    q.sent += p.sent;
                    q.lost += p.lost;
                    sums[j] += self.sums[i];
                    answered[j] += self.answered[i];
                    q.max = match (q.max, p.max) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                    q.mean = (answered[j] > 0).then(|| sums[j] / f64::from(answered[j]));
                }
                _ => {
                    points.push(Point { t_ms: slot, ..p });
                    sums.push(self.sums[i]);
                    answered.push(self.answered[i]);
                }
            }
        }
        self.points = points;
        self.sums = sums;
        self.answered = answered;
    }
}

/// A window in which a path answered nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outage {
    /// When the first lost sample was sent (ms since the watch began).
    pub start_ms: u64,
    /// When the first answer after it came back (its probe's send time and round trip); None:
    /// still out at the end.
    pub end_ms: Option<u64>,
    /// Lost samples in the window.
    pub lost: u32,
    /// What the first lost sample's error said.
    pub error: String,
    /// Where the path broke, from the hop sweep made at the outage's start, when one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broke_at: Option<String>,
}

/// Something that changed on a path: a DNS answer, the full-size probe's fate, …
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub t_ms: u64,
    pub from: String,
    pub to: String,
}

/// Everything kept of one path.
#[derive(Debug, Clone)]
pub struct PathStats {
    pub sent: u64,
    pub lost: u64,
    pub rtt: Histogram,
    /// RFC 3550 interarrival jitter over consecutive answered round trips, ms.
    pub jitter_ms: f64,
    last_rtt: Option<f64>,
    pub series: Series,
    /// A second series of values that are not round trips (NTP offset), when the path has one.
    pub values: Option<Series>,
    pub outages: Vec<Outage>,
    pub outages_dropped: u64,
    /// Lost samples in a row so far, the first one's time and error.
    run: Option<(u64, u32, String)>,
    /// The first lost sample of the whole watch: when, and what it saw.
    pub first_loss: Option<(u64, String)>,
    /// Where the path broke, from the sweep made after the first lost sample of the run (while it
    /// is still out): the outage the run becomes keeps it.
    run_broke_at: Option<String>,
    pub changes: Vec<Change>,
    pub changes_dropped: u64,
    /// The last state a change is judged against (a DNS answer, "passes" / "dropped").
    pub state: Option<String>,
    /// A full-size DF echo vanished with no ICMP fragmentation-needed at least once (the MTU
    /// path's outages are then a black hole, else a smaller path MTU the host was told of).
    pub black_hole: bool,
    /// The round trip's level (a slow moving average) and a first sample off it, for shifts.
    level: Option<f64>,
    off_level: Option<(u64, f64)>,
}

/// A round trip this many times the level (plus [`SHIFT_SLACK_MS`]), or that fraction of it, twice
/// in a row, is a shift of the line's delay (a backup path, a reroute), not jitter.
const SHIFT_FACTOR: f64 = 3.0;
const SHIFT_SLACK_MS: f64 = 20.0;

impl PathStats {
    pub fn new(slot_ms: u64) -> PathStats {
        PathStats {
            sent: 0,
            lost: 0,
            rtt: Histogram::default(),
            jitter_ms: 0.0,
            last_rtt: None,
            series: Series::new(slot_ms),
            values: None,
            outages: vec![],
            outages_dropped: 0,
            run: None,
            first_loss: None,
            run_broke_at: None,
            changes: vec![],
            changes_dropped: 0,
            state: None,
            black_hole: false,
            level: None,
            off_level: None,
        }
    }

    /// One answered sample. Returns the outage it ended, if any.
    pub fn answered(&mut self, t_ms: u64, rtt_ms: f64) -> Option<usize> {
        self.sent += 1;
        self.rtt.add(rtt_ms);
        if let Some(prev) = self.last_rtt {
            self.jitter_ms += ((rtt_ms - prev).abs() - self.jitter_ms) / 16.0;
        }
        self.last_rtt = Some(rtt_ms);
        self.series.add(t_ms, Some(rtt_ms));
        self.run_broke_at = None;
        let ended = self.run.take().and_then(|(start, n, _)| {
            if n < OUTAGE_SAMPLES {
                return None;
            }
            let i = self.outages.iter().rposition(|o| o.start_ms == start)?;
            // the path worked again when this answer came back
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let back = rtt_ms.clamp(0.0, 3_600_000.0) as u64;
            self.outages[i].end_ms = Some(t_ms + back);
            Some(i)
        });
        ended
    }

    /// One lost sample with its error. Returns the index of the outage it starts, the first time
    /// the run of lost samples becomes an outage.
    pub fn lost(&mut self, t_ms: u64, error: &str) -> Option<usize> {
        self.sent += 1;
        self.lost += 1;
        self.series.add(t_ms, None);
        self.first_loss
            .get_or_insert_with(|| (t_ms, error.to_string()));
        let (start, n, first) = self.run.get_or_insert_with(|| (t_ms, 0, error.to_string()));
        *n += 1;
        let (start, n, first) = (*start, *n, first.clone());
        self.outages.iter_mut().rev().take(1).for_each(|o| {
            if o.start_ms == start {
                o.lost = n;
            }
        });
        if n != OUTAGE_SAMPLES {
            return None;
        }
        if self.outages.len() == MAX_EVENTS {
            self.outages_dropped += 1;
            return None;
        }
        self.outages.push(Outage {
            start_ms: start,
            end_ms: None,
            lost: n,
            error: first,
            broke_at: self.run_broke_at.clone(),
        });
        Some(self.outages.len() - 1)
    }

    /// Follow the round trip's level: two answered samples in a row far off it (three times
    /// higher plus 20 ms, or the other way) are a change "round trip ~A ms → ~B ms" at the first.
    pub fn follow_level(&mut self, t_ms: u64, rtt_ms: f64) {
        let Some(level) = self.level else {
            self.level = Some(rtt_ms);
            return;
        };
        let up = rtt_ms > level * SHIFT_FACTOR + SHIFT_SLACK_MS;
        let down = rtt_ms * SHIFT_FACTOR + SHIFT_SLACK_MS < level;
        if !(up || down) {
            self.off_level = None;
            self.level = Some(level + (rtt_ms - level) / 8.0);
            return;
        }
        match self.off_level {
            Some((t0, first)) if (first > level) == up => {
                let from = format!("round trip ~{level:.0} ms");
                let to = format!("~{:.0} ms", f64::midpoint(first, rtt_ms));
                self.push_change(t0, from, to);
                self.level = Some(f64::midpoint(first, rtt_ms));
                self.off_level = None;
            }
            _ => self.off_level = Some((t_ms, rtt_ms)),
        }
    }

    /// A change, kept while the list has room, counted always.
    fn push_change(&mut self, t_ms: u64, from: String, to: String) {
        if self.changes.len() < MAX_EVENTS {
            self.changes.push(Change { t_ms, from, to });
        } else {
            self.changes_dropped += 1;
        }
    }

    /// Lost samples in a row at the end so far (0: the last sample answered).
    pub fn losing(&self) -> u32 {
        self.run.as_ref().map_or(0, |r| r.1)
    }

    /// Where the path broke during the current run of lost samples (and its outage, if it is one).
    pub fn broke_at(&mut self, words: String) {
        if let Some(o) = self.outages.last_mut() {
            if o.end_ms.is_none() && o.broke_at.is_none() {
                o.broke_at = Some(words.clone());
            }
        }
        self.run_broke_at = Some(words);
    }

    /// A new state (a DNS answer, the full-size probe's fate): a change when it differs from the
    /// last one. Returns whether it changed.
    pub fn observe(&mut self, t_ms: u64, state: String) -> bool {
        match &self.state {
            Some(s) if *s == state => false,
            None => {
                self.state = Some(state);
                false
            }
            Some(s) => {
                let from = s.clone();
                self.push_change(t_ms, from, state.clone());
                self.state = Some(state);
                true
            }
        }
    }

    /// Loss in percent of the samples sent.
    pub fn loss_pct(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let pct = self.lost as f64 * 100.0 / self.sent as f64;
        pct
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_five_percent_and_never_below() {
        let mut h = Histogram::default();
        for i in 1..=1000 {
            h.add(f64::from(i));
        }
        for (p, want) in [(50.0, 500.0), (95.0, 950.0), (99.0, 990.0)] {
            let got = h.percentile(p).unwrap();
            assert!(got >= want && got <= want * 1.05, "p{p}: {got} vs {want}");
        }
        assert_eq!(Histogram::default().percentile(50.0), None);
        h.add(f64::NAN);
        h.add(1e9);
    }

    #[test]
    fn the_series_halves_instead_of_growing() {
        let mut s = Series::new(1000);
        for t in 0..(MAX_POINTS as u64 * 10) {
            s.add(t * 1000, if t % 2 == 0 { Some(10.0) } else { None });
        }
        assert!(s.points().len() <= MAX_POINTS);
        let sent: u32 = s.points().iter().map(|p| p.sent).sum();
        let lost: u32 = s.points().iter().map(|p| p.lost).sum();
        assert_eq!(sent, 6000);
        assert_eq!(lost, 3000);
        assert!(s.points().iter().all(|p| p.mean == Some(10.0)));
    }

    #[test]
    fn two_lost_samples_in_a_row_are_an_outage_with_its_window() {
        let mut p = PathStats::new(1000);
        p.answered(0, 5.0);
        assert_eq!(p.lost(1000, "timeout"), None, "one lost sample is loss");
        assert_eq!(p.answered(2000, 5.0), None);
        assert!(p.outages.is_empty());
        p.lost(3000, "refused");
        assert_eq!(p.lost(4000, "timeout"), Some(0));
        p.lost(5000, "timeout");
        assert_eq!(p.answered(6000, 5.0), Some(0));
        assert_eq!(
            p.outages,
            vec![Outage {
                start_ms: 3000,
                end_ms: Some(6005),
                lost: 3,
                error: "refused".into(),
                broke_at: None
            }]
        );
        assert!((p.loss_pct() - 4.0 * 100.0 / 7.0).abs() < 1e-9);
    }

    #[test]
    fn a_delay_that_shifts_is_a_change_at_its_first_sample_jitter_is_not() {
        let mut p = PathStats::new(1000);
        for (t, rtt) in [
            (0, 1.0),
            (1, 1.4),
            (2, 0.8),
            (3, 30.0),
            (4, 1.1),
            (5, 241.0),
            (6, 243.0),
            (7, 240.0),
        ] {
            p.follow_level(t * 1000, rtt);
        }
        assert_eq!(
            p.changes,
            vec![Change {
                t_ms: 5000,
                from: "round trip ~1 ms".into(),
                to: "~242 ms".into()
            }],
            "one spike is jitter; two samples off the level are a shift"
        );
        for (t, rtt) in [(8, 2.0), (9, 1.0)] {
            p.follow_level(t * 1000, rtt);
        }
        assert_eq!(p.changes.len(), 2);
        assert_eq!(p.changes[1].to, "~2 ms");
    }

    #[test]
    fn a_state_that_flips_is_a_change_the_first_is_not() {
        let mut p = PathStats::new(1000);
        assert!(!p.observe(0, "a".into()));
        assert!(!p.observe(1000, "a".into()));
        assert!(p.observe(2000, "b".into()));
        assert_eq!(
            p.changes,
            vec![Change {
                t_ms: 2000,
                from: "a".into(),
                to: "b".into()
            }]
        );
    }
}
