//! Path MTU: one search for UDP (toward a responder) and ICMP (toward the API server), generic over
//! one Don't-Fragment probe ([`DfPath`]), the way trippy cuts its seam at `send_probe`/`recv_probe`.
//! The search and the verdict are pure and run on tokio's clock, so tests drive them with fake paths
//! (silent above N, ICMP-learned, lossy, out of time) on a paused clock. Phase: mtu.

use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::cause::{Cause, ErrorClass, Phase, Plain};
use crate::constants::{MIN_IPV4_MTU, VXLAN_OVERHEAD};
use crate::result::Finding;

/// What happened to one DF probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DfReply {
    /// The far end answered this probe.
    Echoed,
    /// Nothing came back within the wait.
    Silent,
    /// The kernel refused to send it (EMSGSIZE): it already knows a smaller path MTU from ICMP.
    TooBig,
}

/// One Don't-Fragment probe toward one destination.
#[async_trait]
pub trait DfPath: Send {
    /// Send one probe of `size` IP bytes with DF set and wait at most `wait` for its answer.
    async fn probe(&mut self, size: u32, wait: Duration) -> Result<DfReply, MtuError>;
    /// The kernel's path MTU estimate toward the destination, when it can say (IP_MTU: the route's
    /// MTU until ICMP "fragmentation needed" teaches it a smaller one; only a value below the
    /// starting size counts as learned).
    fn learned_mtu(&self) -> Option<u32>;
}

/// Why the path MTU was not measured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MtuError {
    #[error("no answer to a {MIN_IPV4_MTU}-byte probe ({0})")]
    NoAnswer(String),
    #[error("Don't Fragment cannot be set on the socket: {0}")]
    DfUnavailable(String),
    #[error("{0}")]
    NotPermitted(String),
    #[error("IPv6 path MTU is not measured")]
    Ipv6,
    #[error("{0}")]
    Io(String),
}

impl Cause for MtuError {
    fn phase(&self) -> Phase {
        Phase::Mtu
    }
    fn class(&self) -> ErrorClass {
        match self {
            MtuError::NoAnswer(_) => ErrorClass::NoEcho,
            MtuError::DfUnavailable(_) | MtuError::NotPermitted(_) => ErrorClass::NotPermitted,
            MtuError::Ipv6 => ErrorClass::Unavailable,
            MtuError::Io(_) => ErrorClass::Error,
        }
    }
}

/// How long a UDP DF probe waits for its echo before it counts as silent: long enough for a
/// slow line, short enough that a black hole does not eat the run.
pub(crate) fn first_wait(timeout: Duration) -> Duration {
    (timeout / 6).clamp(Duration::from_millis(300), Duration::from_millis(500))
}

/// What the search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathKind {
    /// Full-size packets pass.
    Full,
    /// A smaller path MTU, and ICMP "fragmentation needed" reaches this host (PMTU discovery works).
    IcmpReported,
    /// Larger packets vanish and no ICMP "fragmentation needed" arrives: a PMTU black hole.
    BlackHole,
    /// The deadline ended the search: the path MTU is between `path_mtu` and `upper`.
    CutShort { upper: u32 },
    /// Larger packets were lost, but small control probes were lost too, or a size read as
    /// vanished answered when asked again: random loss, not a size limit. No MTU verdict.
    Undecided,
}

/// Probes just above a black-hole candidate, each followed by a small control probe: the size is
/// a black hole only when all of these large probes are lost and all of their controls answer.
/// Under random loss q per echo that happens with probability q³(1 − q)³ — 0.09 % at q = 10 %
/// (`docs/path-mtu.md`).
pub(crate) const CONFIRM_PROBES: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MtuSearch {
    /// Largest IP packet that passed with DF.
    pub path_mtu: u32,
    /// The size the search started from (interface MTU, or 1500).
    pub top: u32,
    pub kind: PathKind,
    /// Probes sent.
    pub probes: u32,
    /// Small control probes sent to tell random loss from a size limit, and how many were lost.
    pub controls: (u32, u32),
}

impl MtuSearch {
    /// The loss the control probes saw, in percent (None: no control was sent).
    pub(crate) fn control_loss_pct(&self) -> Option<u32> {
        let (sent, lost) = self.controls;
        (sent > 0).then(|| lost * 100 / sent)
    }
}

/// Find the largest DF packet that passes, within `timeout`. `first_wait` bounds the wait for the
/// first (small) probe — the answer to "does anything answer at all?"; later probes wait four round
/// trips of the first, between 50 ms and a sixth of the timeout.
pub(crate) async fn search<P: DfPath + ?Sized>(
    path: &mut P,
    top: u32,
    first_wait: Duration,
    timeout: Duration,
) -> Result<MtuSearch, MtuError> {
    let start = Instant::now();
    let left = || timeout.saturating_sub(start.elapsed());
    let step = (timeout / 6).clamp(Duration::from_millis(100), Duration::from_millis(500));
    let top = top.max(MIN_IPV4_MTU);
    let mut probes = 1;
    let t0 = Instant::now();
    match path.probe(MIN_IPV4_MTU, first_wait.min(left())).await? {
        DfReply::Echoed => {}
        DfReply::Silent | DfReply::TooBig => {
            return Err(MtuError::NoAnswer(
                "nothing answers, or the probes are filtered".into(),
            ))
        }
    }
    let wait = (t0.elapsed() * 4).clamp(Duration::from_millis(50), step);
    let mut controls = (0, 0);
    let done = |path_mtu, kind, probes, controls| {
        Ok(MtuSearch {
            path_mtu,
            top,
            kind,
            probes,
            controls,
        })
    };
    if top == MIN_IPV4_MTU {
        return done(top, PathKind::Full, probes, controls);
    }
    let mut icmp_seen = false;
    probes += 1;
    match path.probe(top, wait.min(left())).await? {
        DfReply::Echoed => return done(top, PathKind::Full, probes, controls),
        DfReply::TooBig => icmp_seen = true,
        DfReply::Silent => {}
    }
    let (mut lo, mut hi) = (MIN_IPV4_MTU, top - 1);
    if let Some(learned) = path
        .learned_mtu()
        .filter(|l| (MIN_IPV4_MTU..top).contains(l))
    {
        icmp_seen = true;
        if probe_twice(path, learned, wait, start + timeout, &mut probes).await? == DfReply::Echoed
        {
            return done(learned, PathKind::IcmpReported, probes, controls);
        }
        hi = learned.saturating_sub(1).max(lo);
    }
    // a probe only counts when it had a full wait: a shorter one would read a slow echo as silence
    while lo < hi && left() >= wait {
        let mid = (lo + hi).div_ceil(2);
        match probe_twice(path, mid, wait, start + timeout, &mut probes).await? {
            DfReply::Echoed => lo = mid,
            DfReply::TooBig => {
                icmp_seen = true;
                hi = mid - 1;
            }
            DfReply::Silent => hi = mid - 1,
        }
        if let Some(learned) = path.learned_mtu().filter(|l| *l >= lo && *l < top) {
            icmp_seen = true;
            hi = hi.min(learned);
        }
    }
    if lo < hi {
        return done(lo, PathKind::CutShort { upper: hi }, probes, controls);
    }
    if !icmp_seen && lo < top && left() > Duration::ZERO {
        // the ICMP for an earlier probe may have arrived since: the kernel now refuses lo + 1
        probes += 1;
        if path.probe(lo + 1, wait.min(left())).await? == DfReply::TooBig
            || path.learned_mtu().is_some_and(|l| l < top)
        {
            icmp_seen = true;
        }
    }
    if icmp_seen || lo >= top {
        return done(
            lo,
            if icmp_seen {
                PathKind::IcmpReported
            } else {
                PathKind::Full
            },
            probes,
            controls,
        );
    }
    // a black-hole candidate: larger packets vanished. Random loss reads the same, so ask again
    // just above it, each time with a small control probe beside it
    if left() < wait * 2 * CONFIRM_PROBES {
        return done(lo, PathKind::CutShort { upper: lo + 1 }, probes, controls);
    }
    let mut large_answered = 0;
    for _ in 0..CONFIRM_PROBES {
        probes += 2;
        if path.probe(lo + 1, wait.min(left())).await? == DfReply::Echoed {
            large_answered += 1;
        }
        controls.0 += 1;
        if path.probe(MIN_IPV4_MTU, wait.min(left())).await? != DfReply::Echoed {
            controls.1 += 1;
        }
    }
    let kind = if large_answered == 0 && controls.1 == 0 {
        PathKind::BlackHole
    } else {
        PathKind::Undecided
    };
    done(lo, kind, probes, controls)
}

/// One probe, and a second one when the first was silent and time allows, so a single lost packet
/// does not halve the answer.
async fn probe_twice<P: DfPath + ?Sized>(
    path: &mut P,
    size: u32,
    wait: Duration,
    deadline: Instant,
    probes: &mut u32,
) -> Result<DfReply, MtuError> {
    let left = || deadline.saturating_duration_since(Instant::now());
    *probes += 1;
    let reply = path.probe(size, wait.min(left())).await?;
    if reply != DfReply::Silent || left() <= wait * 2 {
        return Ok(reply);
    }
    *probes += 1;
    path.probe(size, wait.min(left())).await
}

/// The interface a measurement went out of, for the evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Egress {
    pub iface: Option<String>,
    pub iface_mtu: Option<u32>,
}

/// Judge a path-MTU measurement toward `toward` (an address, or address:port). `tcp_mss` is the
/// largest MSS the node's TCP connections over the line settled on (`tcp.*` rows), if any: at or
/// below the path MTU − 40 a firewall clamps it, and TCP is safe from the black hole.
pub(crate) fn evaluate(
    toward: &str,
    how: &str,
    egress: &Egress,
    out: &Result<MtuSearch, MtuError>,
    tcp_mss: Option<u32>,
) -> Finding {
    let m = match out {
        Err(e) => {
            return Finding::skip_by(e, format!("path MTU toward {toward} not measured: {e}"))
        }
        Ok(m) => m,
    };
    let iface = egress.iface.clone().unwrap_or_else(|| "?".into());
    let vx = m.path_mtu.saturating_sub(VXLAN_OVERHEAD);
    let mss = m.path_mtu.saturating_sub(40);
    let f = match m.kind {
        PathKind::Full => Finding::pass(format!(
            "{}-byte packets pass with DF toward {toward} ({iface}); Flannel VXLAN MTU will be {vx} ({how}, {} probes)",
            m.path_mtu, m.probes
        )),
        PathKind::IcmpReported => Finding::warn_by(
            &Plain(Phase::Mtu, ErrorClass::SmallerPathMtu),
            format!(
                "path MTU toward {toward} is {} < {} ({iface}); ICMP fragmentation-needed arrives, so TCP adapts, but set Flannel's MTU to {vx} (path MTU − {VXLAN_OVERHEAD}) or large pod packets will be dropped ({how})",
                m.path_mtu, m.top
            ),
        ),
        PathKind::BlackHole if tcp_mss.is_some_and(|s| s <= mss) => Finding::warn_by(
            &Plain(Phase::Mtu, ErrorClass::PmtuBlackHole),
            format!(
                "path MTU black hole toward {toward}: packets larger than {} bytes vanish and no ICMP fragmentation-needed comes back, but TCP's MSS is clamped to {} (≤ {mss}, seen on the tcp rows), so TCP transfers are safe; non-TCP traffic is at risk: set Flannel's MTU to {vx} ({how})",
                m.path_mtu,
                tcp_mss.unwrap_or_default()
            ),
        )
        .evidence(&MtuEvidence {
            tcp_mss,
            ..MtuEvidence::default()
        }),
        PathKind::Undecided => Finding::warn_by(
            &Plain(Phase::Mtu, ErrorClass::Loss),
            format!(
                "undecided: {} % of the small control probes toward {toward} were lost, and larger probes no more often than those: random loss on the path (a policer, dirty optics), not a size limit; packets of {} bytes passed; no MTU verdict is made from noise ({how}, {} probes)",
                m.control_loss_pct().unwrap_or(0),
                m.path_mtu,
                m.probes
            ),
        ),
        PathKind::BlackHole => Finding::fail_by(
            &Plain(Phase::Mtu, ErrorClass::PmtuBlackHole),
            format!(
                "path MTU black hole toward {toward}: packets larger than {} bytes vanish and no ICMP fragmentation-needed comes back, so TCP transfers with segments above {mss} bytes (image pulls, OSS downloads) stall; clamp TCP MSS to {mss} on the line's router or firewall (or allow ICMP type 3 code 4 back to this host) and set Flannel's MTU to {vx} ({how})",
                m.path_mtu
            ),
        ),
        PathKind::CutShort { upper } => Finding::warn_by(
            &Plain(Phase::Mtu, ErrorClass::Incomplete),
            format!(
                "path MTU toward {toward} is between {} and {upper} bytes: the search was cut short by the deadline after {} probes (a longer --timeout finishes it); {}-byte packets did not pass ({iface})",
                m.path_mtu, m.probes, m.top
            ),
        )
        .evidence(&MtuEvidence {
            path_mtu_upper: Some(upper),
            ..MtuEvidence::default()
        }),
    };
    let decided = match m.kind {
        PathKind::CutShort { .. } | PathKind::Undecided => false,
        PathKind::Full | PathKind::IcmpReported | PathKind::BlackHole => true,
    };
    f.evidence(&MtuEvidence {
        path_mtu: Some(m.path_mtu),
        probes: Some(m.probes),
        control_loss_pct: m.control_loss_pct(),
        vxlan_mtu: decided.then_some(vx),
        interface_mtu: egress.iface_mtu,
        ..MtuEvidence::default()
    })
}

evidence! {
    /// The evidence of an `mtu.path` row.
    pub(crate) struct MtuEvidence {
        /// The largest packet that passed with DF, and the smallest that did not when the search
        /// was cut short.
        path_mtu: u32,
        path_mtu_upper: u32,
        /// Probes sent, and the loss of the small control probes beside them.
        probes: u32,
        control_loss_pct: u32,
        /// The MTU Flannel's VXLAN will need (path MTU − 50).
        vxlan_mtu: u32,
        /// The egress interface's MTU.
        interface_mtu: u32,
        /// The MSS seen on the tcp rows over the line (a clamp makes a black hole safe for TCP).
        tcp_mss: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    /// A fake path: answers probes up to `mtu`, the rest per `above`.
    struct FakePath {
        mtu: u32,
        rtt: Duration,
        /// ICMP fragmentation-needed reaches us (the kernel learns `mtu` after the first oversized probe).
        icmp: bool,
        learned: Option<u32>,
        /// Drop every n-th probe (0: none).
        lose_every: u32,
        sent: u32,
        answers_small: bool,
    }

    impl FakePath {
        fn new(mtu: u32, icmp: bool) -> FakePath {
            FakePath {
                mtu,
                rtt: Duration::from_millis(20),
                icmp,
                learned: None,
                lose_every: 0,
                sent: 0,
                answers_small: true,
            }
        }
    }

    #[async_trait]
    impl DfPath for FakePath {
        async fn probe(&mut self, size: u32, wait: Duration) -> Result<DfReply, MtuError> {
            self.sent += 1;
            if let Some(l) = self.learned {
                if size > l {
                    return Ok(DfReply::TooBig);
                }
            }
            let lost = self.lose_every > 0 && self.sent.is_multiple_of(self.lose_every);
            let passes = size <= self.mtu && (self.answers_small || size > MIN_IPV4_MTU) && !lost;
            if passes && self.rtt <= wait {
                tokio::time::sleep(self.rtt).await;
                return Ok(DfReply::Echoed);
            }
            if size > self.mtu && self.icmp {
                self.learned = Some(self.mtu);
            }
            tokio::time::sleep(wait).await;
            Ok(DfReply::Silent)
        }
        fn learned_mtu(&self) -> Option<u32> {
            // like IP_MTU: the route's MTU until ICMP teaches a smaller one
            Some(self.learned.unwrap_or(1500))
        }
    }

    const T: Duration = Duration::from_secs(3);
    const W: Duration = Duration::from_millis(500);

    #[tokio::test(start_paused = true)]
    async fn full_size_passes() {
        let m = search(&mut FakePath::new(1500, true), 1500, W, T)
            .await
            .unwrap();
        assert_eq!((m.path_mtu, m.kind), (1500, PathKind::Full));
    }

    #[tokio::test(start_paused = true)]
    async fn icmp_learned_is_confirmed() {
        let mut p = FakePath::new(1400, true);
        let m = search(&mut p, 1500, W, T).await.unwrap();
        assert_eq!((m.path_mtu, m.kind), (1400, PathKind::IcmpReported));
        assert!(m.probes <= 4, "{m:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn silent_above_n_is_a_black_hole_with_the_exact_size() {
        let start = Instant::now();
        let m = search(&mut FakePath::new(1400, false), 1500, W, T)
            .await
            .unwrap();
        assert_eq!((m.path_mtu, m.kind), (1400, PathKind::BlackHole));
        assert!(start.elapsed() <= T);
    }

    #[tokio::test(start_paused = true)]
    async fn one_lost_packet_does_not_halve_the_answer() {
        let mut p = FakePath::new(1450, true);
        p.lose_every = 3;
        let m = search(&mut p, 1500, W, T).await.unwrap();
        assert_eq!(m.path_mtu, 1450, "{m:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_time_gives_bounds_not_a_number() {
        let mut p = FakePath::new(1400, false);
        p.rtt = Duration::from_millis(120); // each silent probe waits 480 ms
        let m = search(&mut p, 1500, W, Duration::from_millis(1500))
            .await
            .unwrap();
        match m.kind {
            PathKind::CutShort { upper } => assert!(m.path_mtu <= 1400 && upper >= 1400, "{m:?}"),
            k @ (PathKind::Full
            | PathKind::IcmpReported
            | PathKind::BlackHole
            | PathKind::Undecided) => panic!("expected a cut-short search, got {k:?}"),
        }
        let f = evaluate("192.0.2.1:8472", "UDP", &Egress::default(), &Ok(m), None);
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message.contains("between") && f.details.to_json().get("vxlan_mtu").is_none(),
            "{}",
            f.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_answer_at_all() {
        let mut p = FakePath::new(1500, true);
        p.answers_small = false;
        p.mtu = 0;
        let e = search(&mut p, 1500, W, T).await.unwrap_err();
        assert!(matches!(e, MtuError::NoAnswer(_)));
        assert_eq!(
            evaluate("x", "UDP", &Egress::default(), &Err(e), None).status,
            Status::Skip
        );
    }

    #[test]
    fn verdicts() {
        let eg = Egress {
            iface: Some("eth0".into()),
            iface_mtu: Some(1500),
        };
        let m = |path_mtu, kind| {
            Ok(MtuSearch {
                path_mtu,
                top: 1500,
                kind,
                probes: 3,
                controls: (0, 0),
            })
        };
        assert_eq!(
            evaluate("p", "UDP", &eg, &m(1500, PathKind::Full), None).status,
            Status::Pass
        );
        let w = evaluate("p", "UDP", &eg, &m(1400, PathKind::IcmpReported), None);
        assert_eq!(w.status, Status::Warn);
        assert!(w.message.contains("1350"), "{}", w.message);
        let b = evaluate("p", "UDP", &eg, &m(1400, PathKind::BlackHole), None);
        assert_eq!(b.status, Status::Fail);
        assert!(
            b.message.contains("black hole")
                && b.message.contains("1360")
                && b.message.contains("MSS"),
            "{}",
            b.message
        );
        assert_eq!(b.details.to_json()["error"], "pmtu-black-hole");
        let s = evaluate(
            "p",
            "ICMP",
            &eg,
            &Err(MtuError::DfUnavailable("EPERM".into())),
            None,
        );
        assert_eq!(
            (s.status, s.details.to_json()["error"].as_str()),
            (Status::Skip, Some("not-permitted"))
        );
    }

    /// A path that loses a fixed pattern of probes whatever their size (random loss, made
    /// repeatable): it passes everything up to 1500.
    struct Lossy {
        lose: Vec<bool>,
        at: usize,
    }

    #[async_trait]
    impl DfPath for Lossy {
        async fn probe(&mut self, _size: u32, wait: Duration) -> Result<DfReply, MtuError> {
            let lost = self.lose.get(self.at).copied().unwrap_or(false);
            self.at += 1;
            if lost {
                tokio::time::sleep(wait).await;
                Ok(DfReply::Silent)
            } else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(DfReply::Echoed)
            }
        }
        fn learned_mtu(&self) -> Option<u32> {
            Some(1500)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn random_loss_is_not_read_as_a_black_hole() {
        // the full-size probe and the first retries are lost, as bad luck on a lossy line does:
        // the search narrows down, but the probes above the candidate answer when asked again
        let mut lose = vec![false, true];
        lose.extend([true, true, false, false, true, true, false, false, false]);
        let mut p = Lossy { lose, at: 0 };
        let m = search(&mut p, 1500, W, T).await.unwrap();
        assert_ne!(m.kind, PathKind::BlackHole, "{m:?}");
        let f = evaluate("p", "UDP", &Egress::default(), &Ok(m.clone()), None);
        assert_ne!(f.status, Status::Fail, "{}", f.message);
        // every probe lost after the first: loss everywhere, control probes included
        let mut p = Lossy {
            lose: std::iter::once(false)
                .chain(std::iter::repeat_n(true, 64))
                .collect(),
            at: 0,
        };
        let m = search(&mut p, 1500, W, T).await.unwrap();
        assert_ne!(m.kind, PathKind::BlackHole, "{m:?}");
        if m.kind == PathKind::Undecided {
            let f = evaluate("p", "UDP", &Egress::default(), &Ok(m), None);
            assert!(f.message.starts_with("undecided: 100 %"), "{}", f.message);
            assert_eq!(f.details.to_json()["error"], "loss");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_real_black_hole_is_confirmed_with_controls_that_answer() {
        let m = search(&mut FakePath::new(1400, false), 1500, W, T)
            .await
            .unwrap();
        assert_eq!(m.kind, PathKind::BlackHole);
        assert_eq!(m.controls, (CONFIRM_PROBES, 0));
    }

    #[test]
    fn a_clamped_mss_makes_the_black_hole_a_warning_for_tcp() {
        let m = Ok(MtuSearch {
            path_mtu: 1400,
            top: 1500,
            kind: PathKind::BlackHole,
            probes: 9,
            controls: (3, 0),
        });
        let eg = Egress::default();
        let clamped = evaluate("p", "UDP", &eg, &m, Some(1300));
        assert_eq!(clamped.status, Status::Warn, "{}", clamped.message);
        assert!(
            clamped.message.contains("MSS is clamped to 1300") && clamped.message.contains("1350")
        );
        assert_eq!(
            evaluate("p", "UDP", &eg, &m, Some(1448)).status,
            Status::Fail
        );
        assert_eq!(evaluate("p", "UDP", &eg, &m, None).status, Status::Fail);
    }
}
