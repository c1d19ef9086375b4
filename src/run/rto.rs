//! Retransmission timers from the path, not from the timeout: as TCP's RTO (RFC 6298), a second
//! attempt goes out when the exchange has had the round trips it needs on *this* path and a margin
//! for its variation — with a floor (Linux's `TCP_RTO_MIN`, 200 ms) and half the timeout as the
//! ceiling (the second attempt keeps at least half of it). Round trips are learned from every
//! exchange of the run toward the same address (a TCP connect, an ICMP echo), also while an
//! attempt already waits: a sample that arrives moves its timer. Without a sample the timer is
//! half the timeout, as before.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The least time before a second attempt (Linux's `TCP_RTO_MIN`).
pub(crate) const RTO_FLOOR: Duration = Duration::from_millis(200);

/// A smoothed round trip and its variation (RFC 6298, section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Srtt {
    pub(crate) srtt: Duration,
    pub(crate) rttvar: Duration,
}

impl Srtt {
    /// The first sample: SRTT = R, RTTVAR = R / 2.
    pub(crate) fn first(r: Duration) -> Srtt {
        Srtt {
            srtt: r,
            rttvar: r / 2,
        }
    }
    /// A later sample: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT − R|, SRTT = 7/8 SRTT + 1/8 R.
    pub(crate) fn update(self, r: Duration) -> Srtt {
        let diff = self.srtt.abs_diff(r);
        Srtt {
            rttvar: self.rttvar * 3 / 4 + diff / 4,
            srtt: self.srtt * 7 / 8 + r / 8,
        }
    }
    /// One round trip's retransmission timeout: SRTT + 4 × RTTVAR.
    pub(crate) fn rto(self) -> Duration {
        self.srtt + self.rttvar * 4
    }
}

/// When the second attempt of an exchange of `round_trips` round trips goes out, given what is
/// known of the path (`None`: nothing yet) and the timeout `t`: `round_trips × RTO`, at least
/// [`RTO_FLOOR`], at most `t / 2`.
pub(crate) fn retry_after(path: Option<Srtt>, round_trips: u32, t: Duration) -> Duration {
    let ceiling = t / 2;
    match path {
        None => ceiling,
        Some(p) => (p.rto() * round_trips.max(1)).max(RTO_FLOOR).min(ceiling),
    }
}

/// The round trips this run has measured, by address; shared by every step.
#[derive(Default)]
pub struct PathTimes {
    seen: Mutex<HashMap<IpAddr, Srtt>>,
    changed: Notify,
}

impl PathTimes {
    /// A measured round trip toward `ip`.
    pub(crate) fn record(&self, ip: IpAddr, rtt: Duration) {
        if let Ok(mut m) = self.seen.lock() {
            let next = m.get(&ip).map_or(Srtt::first(rtt), |s| s.update(rtt));
            m.insert(ip, next);
        }
        self.changed.notify_waiters();
    }
    /// What is known of the path toward `ip`.
    pub(crate) fn get(&self, ip: IpAddr) -> Option<Srtt> {
        self.seen.lock().ok().and_then(|m| m.get(&ip).copied())
    }
    /// Sleep until the second attempt of an exchange started at `started` is due; a sample that
    /// arrives meanwhile moves the timer (earlier or later, never past `t / 2`).
    pub(crate) async fn retry_timer(
        &self,
        ip: IpAddr,
        round_trips: u32,
        t: Duration,
        started: Instant,
    ) {
        self.timer(ip, round_trips, t, t / 2, started).await;
    }

    /// Sleep until a probe started at `started` that has no answer yet should have its flow
    /// swept (`Ctx::with_early_sweep`): the path's timer as for a second attempt, or a quarter of
    /// the timeout while nothing is known of the path.
    pub(crate) async fn sweep_timer(&self, ip: IpAddr, t: Duration, started: Instant) {
        self.timer(ip, 1, t, (t / 4).max(RTO_FLOOR), started).await;
    }

    async fn timer(
        &self,
        ip: IpAddr,
        round_trips: u32,
        t: Duration,
        unknown: Duration,
        started: Instant,
    ) {
        loop {
            let changed = self.changed.notified();
            let after = match self.get(ip) {
                Some(_) => retry_after(self.get(ip), round_trips, t),
                None => unknown,
            };
            let due = started + after;
            tokio::select! {
                () = tokio::time::sleep_until(due) => return,
                () = changed => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_first_sample_gives_three_round_trips_as_rfc_6298_does() {
        assert_eq!(Srtt::first(MS(240)).rto(), MS(720));
        // a steady path narrows the variation
        let mut s = Srtt::first(MS(100));
        for _ in 0..20 {
            s = s.update(MS(100));
        }
        assert!(s.rto() < MS(110), "{s:?}");
        // a jump widens it
        let j = s.update(MS(300));
        assert!(j.rttvar > s.rttvar && j.srtt > s.srtt, "{j:?}");
    }

    #[test]
    fn the_timer_has_a_floor_a_ceiling_and_scales_with_the_round_trips_of_the_exchange() {
        let t = MS(2000);
        assert_eq!(
            retry_after(None, 1, t),
            MS(1000),
            "nothing known: half the timeout"
        );
        assert_eq!(retry_after(Some(Srtt::first(MS(1))), 1, t), RTO_FLOOR);
        assert_eq!(retry_after(Some(Srtt::first(MS(100))), 1, t), MS(300));
        assert_eq!(retry_after(Some(Srtt::first(MS(100))), 3, t), MS(900));
        assert_eq!(
            retry_after(Some(Srtt::first(MS(240))), 3, t),
            MS(1000),
            "never past half the timeout: the second attempt keeps half of it"
        );
        assert_eq!(retry_after(Some(Srtt::first(MS(1))), 0, t), RTO_FLOOR);
    }

    #[tokio::test(start_paused = true)]
    async fn a_sample_that_arrives_while_waiting_moves_the_timer() {
        let p = std::sync::Arc::new(PathTimes::default());
        let ip: IpAddr = [100, 64, 0, 1].into();
        let start = Instant::now();
        let p2 = p.clone();
        tokio::spawn(async move {
            tokio::time::sleep(MS(30)).await;
            p2.record(ip, MS(20));
        });
        p.retry_timer(ip, 1, MS(2000), start).await;
        // RTO of one 20 ms sample is 60 ms: the floor (200 ms) holds, not half the timeout
        assert_eq!(start.elapsed(), RTO_FLOOR);
        // another address knows nothing: half the timeout
        let other: IpAddr = [100, 64, 0, 2].into();
        let s2 = Instant::now();
        p.retry_timer(other, 1, MS(2000), s2).await;
        assert_eq!(s2.elapsed(), MS(1000));
    }
}
