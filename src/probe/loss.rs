//! Loss measured, not guessed: what a probe family sent and what came back, and the one rule that
//! turns a working but lossy exchange into a WARN (docs/loss.md).

use std::time::Duration;

use crate::cause::{ErrorClass, Phase, Plain};
use crate::result::{Finding, Status};

/// A row whose probes lost at least this share (in per cent) is WARN "lossy path" even when an
/// answer came: one lost query of two (answered on the retransmission) is 50 %, one lost echo
/// of three is 33 %. Below it (a single loss among many probes) the row says the numbers only.
pub(crate) const LOSS_WARN_PCT: u32 = 20;

/// What one row's probes did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    pub sent: u32,
    pub answered: u32,
}

impl Exchange {
    /// The share lost, in per cent (rounded down); 0 when nothing was sent.
    pub(crate) fn loss_pct(self) -> u32 {
        if self.sent == 0 {
            return 0;
        }
        self.sent.saturating_sub(self.answered) * 100 / self.sent
    }
}

/// Record `x` in the row's details (`sent`, `answered`, `loss_pct`), and make a passing row WARN
/// "lossy path" when it lost `LOSS_WARN_PCT` or more but still got its answer. `what` names the
/// probes ("DNS queries to 100.100.2.136"). A failed row keeps its own verdict.
pub(crate) fn account(f: Finding, phase: Phase, what: &str, x: Exchange) -> Finding {
    let pct = x.loss_pct();
    let f = f.evidence(&LossEvidence {
        sent: Some(x.sent),
        answered: Some(x.answered),
        loss_pct: Some(pct),
    });
    if f.status != Status::Pass || x.answered == 0 || pct < LOSS_WARN_PCT {
        return f;
    }
    let msg = format!(
        "lossy path: {pct} % of probes lost ({} of {} {what} went unanswered in time; the answer came on a retransmission); {}",
        x.sent - x.answered,
        x.sent,
        f.message
    );
    f.recast(Status::Warn, &Plain(phase, ErrorClass::Loss), msg).fix("Find the loss on the line before the node joins: a policer or a dirty optic drops packets at random (mtr or repeated pings to the same address show where); image pulls and the kubelet's watches slow down under loss.")
}

/// What a second attempt (`run::with_second_attempt`) did besides its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Tries {
    /// Attempts that count for loss: only an attempt that got no answer within its time is lost.
    pub(crate) counted: u32,
    /// When the second attempt was due (the path's timer), from the start.
    pub(crate) retry_at: Duration,
    /// The answer came after the second attempt went out, but it came: slow, not lost (its time).
    pub(crate) slow: Option<Duration>,
}

/// [`account`] for an exchange of one answer and a second attempt on the path's timer
/// (`run::with_second_attempt`): the loss as [`account`] says it, and an answer that came
/// after the second attempt went out said as what it is — "slow: N ms", not loss. Both figures go
/// to `details` (`retry_ms`, `slow_ms`).
pub(crate) fn account_tries(
    f: Finding,
    phase: Phase,
    what: &str,
    tries: Tries,
    answered: bool,
) -> Finding {
    let mut f = account(
        f,
        phase,
        what,
        Exchange {
            sent: tries.counted,
            answered: u32::from(answered),
        },
    );
    let retry_ms = crate::clock::ms(tries.retry_at);
    if let Some(slow) = tries.slow.filter(|_| answered) {
        let slow_ms = crate::clock::ms(slow);
        f.message = format!(
            "{}; slow: the answer took {slow_ms} ms (a second attempt went out at {retry_ms} ms, the path's retransmission timer, and was not needed: delay, not loss)",
            f.message
        );
        f = f.evidence(&SlowEvidence {
            retry_ms: Some(retry_ms),
            slow_ms: Some(slow_ms),
        });
    } else if tries.counted > 1 {
        f = f.evidence(&SlowEvidence {
            retry_ms: Some(retry_ms),
            slow_ms: None,
        });
    }
    f
}

evidence! {
    /// How many probes of a row's exchange were sent and answered (a second attempt under loss).
    pub(crate) struct LossEvidence {
        sent: u32,
        answered: u32,
        loss_pct: u32,
    }
}

evidence! {
    /// When the second attempt went out (the path's retransmission timer) and, for an answer that
    /// came after it, how long the answer took.
    pub(crate) struct SlowEvidence {
        retry_ms: u64,
        slow_ms: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retransmission_that_answered_is_a_warning_a_clean_exchange_is_not() {
        let one_of_two = account(
            Finding::pass("resolved"),
            Phase::Dns,
            "DNS queries",
            Exchange {
                sent: 2,
                answered: 1,
            },
        );
        assert_eq!(one_of_two.status, Status::Warn);
        assert!(
            one_of_two
                .message
                .starts_with("lossy path: 50 % of probes lost (1 of 2 DNS queries"),
            "{}",
            one_of_two.message
        );
        assert_eq!(one_of_two.details.to_json()["error"], "loss");
        assert_eq!(one_of_two.details.to_json()["loss_pct"], 50);
        let clean = account(
            Finding::pass("resolved"),
            Phase::Dns,
            "DNS queries",
            Exchange {
                sent: 1,
                answered: 1,
            },
        );
        assert_eq!(clean.status, Status::Pass);
        assert_eq!(clean.details.to_json()["loss_pct"], 0);
        // one loss among many stays below the threshold; a failure keeps its verdict
        let many = account(
            Finding::pass("ok"),
            Phase::Udp,
            "echoes",
            Exchange {
                sent: 10,
                answered: 9,
            },
        );
        assert_eq!(many.status, Status::Pass);
        let failed = account(
            Finding::fail("no answer"),
            Phase::Dns,
            "DNS queries",
            Exchange {
                sent: 2,
                answered: 0,
            },
        );
        assert_eq!(failed.status, Status::Fail);
        assert_eq!(
            Exchange {
                sent: 0,
                answered: 0
            }
            .loss_pct(),
            0
        );
    }
}
