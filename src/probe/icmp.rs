//! ICMP echo round trip: evidence attached to TCP rows, never a reason to fail (cloud VIPs often
//! drop ICMP).

use std::time::Duration;

use crate::result::Finding;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcmpOutcome {
    Reply(Duration),
    NoReply,
    NotPermitted(String),
    Error(String),
}

/// The evidence of an echo that got no reply.
const NO_REPLY: &str = "no echo reply (ICMP may be filtered; not a failure)";

/// Whether a row's evidence echo got no reply (it was sent, within its wait nothing came).
pub(crate) fn unanswered(d: &crate::evidence::Details) -> bool {
    d.read::<IcmpEvidence>()
        .is_some_and(|e| e.icmp_rtt_ms.is_none() && e.icmp.as_deref() == Some(NO_REPLY))
}

/// Add the ICMP evidence to a finding without changing its status.
pub(crate) fn annotate(mut f: Finding, o: &IcmpOutcome) -> Finding {
    match o {
        IcmpOutcome::Reply(rtt) => {
            let ms = (rtt.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
            f.message.push_str(&format!("; ICMP echo {ms} ms"));
            f.evidence(&IcmpEvidence {
                icmp_rtt_ms: Some(ms),
                icmp: None,
            })
        }
        IcmpOutcome::NoReply => f.evidence(&IcmpEvidence::said(NO_REPLY.into())),
        IcmpOutcome::NotPermitted(why) => {
            f.evidence(&IcmpEvidence::said(format!("skipped: {why}")))
        }
        IcmpOutcome::Error(e) => f.evidence(&IcmpEvidence::said(format!("error: {e}"))),
    }
}

evidence! {
    /// The ICMP echo beside a row (never its verdict).
    pub(crate) struct IcmpEvidence {
        /// The echo's round trip.
        icmp_rtt_ms: f64,
        /// Why there is none.
        icmp: String,
    }
}

impl IcmpEvidence {
    fn said(words: String) -> IcmpEvidence {
        IcmpEvidence {
            icmp_rtt_ms: None,
            icmp: Some(words),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    #[test]
    fn never_changes_the_status() {
        for o in [
            IcmpOutcome::NoReply,
            IcmpOutcome::NotPermitted("x".into()),
            IcmpOutcome::Reply(Duration::from_micros(420)),
        ] {
            assert_eq!(annotate(Finding::pass("ok"), &o).status, Status::Pass);
            assert_eq!(annotate(Finding::fail("bad"), &o).status, Status::Fail);
        }
        let f = annotate(
            Finding::pass("connected"),
            &IcmpOutcome::Reply(Duration::from_micros(420)),
        );
        assert_eq!(f.message, "connected; ICMP echo 0.42 ms");
        assert!(
            annotate(Finding::pass("x"), &IcmpOutcome::NotPermitted("no".into()))
                .details
                .to_json()["icmp"]
                .as_str()
                .unwrap()
                .starts_with("skipped")
        );
    }
}
