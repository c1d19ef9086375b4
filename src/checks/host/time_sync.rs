//! `host.time-sync`: a time daemon runs and the kernel says the clock is synchronised. The check,
//! its pure evaluator (the process names and the kernel's flag come from the host snapshot) and
//! its tests, in one file: the shape of a host check (`docs/architecture.md`).

use async_trait::async_trait;

use super::{HostCheck, HostPlan};
use crate::cause::{ErrorClass, Phase, Plain};
use crate::ids::ReqId;
use crate::result::Finding;
use crate::run::Ctx;

pub(crate) struct TimeSync;

#[async_trait]
impl HostCheck for TimeSync {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostTimeSync
    }
    fn target(&self) -> &'static str {
        "time daemon"
    }
    fn reads(&self) -> &'static str {
        "read /proc/*/comm and the kernel's clock state (ntp_adjtime with no change, as timedatectl does) (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, with: &HostPlan) -> Finding {
        let host = ctx.net.host;
        evaluate(
            &host.process_names().map_err(|e| e.to_string()),
            &host.clock_synchronised().map_err(|e| e.to_string()),
            with.self_hosted_ntp,
        )
    }
}

/// The time daemons the node may run, by process name (`/proc/PID/comm`).
pub(crate) const DAEMONS: &[&str] = &[
    "chronyd",
    "ntpd",
    "systemd-timesyn",
    "openntpd",
    "timemaster",
    "ptp4l",
];

/// The names the daemons of [`DAEMONS`] go by (comm is cut at 15 characters).
fn shown(comm: &str) -> &str {
    if comm == "systemd-timesyn" {
        "systemd-timesyncd"
    } else {
        comm
    }
}

/// Judge what runs (`processes`: every process name, or why they could not be read) and the
/// kernel's flag (`synced`: from `ntp_adjtime`, or why it could not be read).
pub(crate) fn evaluate(
    processes: &Result<Vec<String>, String>,
    synced: &Result<bool, String>,
    self_hosted: bool,
) -> Finding {
    let unavailable = Plain(Phase::Host, ErrorClass::Unavailable);
    let names = match processes {
        Ok(p) => p,
        Err(e) => return Finding::skip_by(&unavailable, format!("cannot list processes: {e}")),
    };
    let mut running: Vec<&str> = DAEMONS
        .iter()
        .filter(|d| names.iter().any(|n| n == *d))
        .map(|d| shown(d))
        .collect();
    running.dedup();
    let flag = match synced {
        Ok(true) => "the kernel clock is synchronised".to_string(),
        Ok(false) => "the kernel clock is not synchronised".to_string(),
        Err(e) => format!("the kernel's synchronisation flag could not be read ({e})"),
    };
    let f = match (running.is_empty(), synced) {
        (false, Ok(true)) => Finding::pass(format!("{} runs; {flag}", running.join(", "))),
        (false, Ok(false)) => Finding::warn_by(
            &Plain(Phase::Host, ErrorClass::Unsynchronised),
            format!("{} runs but {flag}: it has not reached a server yet (see {})", running.join(", "), crate::ids::ReqId::NtpServer),
        ),
        (false, Err(_)) => Finding::pass(format!("{} runs; {flag}", running.join(", "))),
        (true, _) if self_hosted => Finding::fail_by(
            &Plain(Phase::Host, ErrorClass::Missing),
            format!("no time daemon runs ({DAEMONS_TEXT}) although the node keeps its own time (--self-hosted-ntp); {flag}"),
        ),
        (true, _) => Finding::warn_by(
            &Plain(Phase::Host, ErrorClass::Missing),
            format!("no time daemon runs ({DAEMONS_TEXT}): nothing keeps the clock where {} measured it; {flag}", crate::ids::ReqId::NtpOffset),
        ),
    };
    f.evidence(&TimeSyncEvidence {
        time_daemons: Some(running.iter().map(|s| (*s).to_string()).collect()),
        synchronised: synced.as_ref().ok().copied(),
    })
}

evidence! {
    /// The evidence of `host.time-sync`.
    pub(crate) struct TimeSyncEvidence {
        /// The time daemons that run.
        time_daemons: Vec<String>,
        /// Whether the kernel says the clock is synchronised (absent: could not be read).
        synchronised: bool,
    }
}

const DAEMONS_TEXT: &str = "chronyd, ntpd, systemd-timesyncd";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    fn procs(n: &[&str]) -> Result<Vec<String>, String> {
        Ok(n.iter().map(std::string::ToString::to_string).collect())
    }

    #[test]
    fn daemon_and_flag() {
        let f = evaluate(&procs(&["bash", "chronyd"]), &Ok(true), false);
        assert_eq!(f.status, Status::Pass, "{}", f.message);
        assert!(f.message.contains("chronyd runs"));
        let f = evaluate(&procs(&["systemd-timesyn"]), &Ok(false), false);
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message
                .contains("systemd-timesyncd runs but the kernel clock is not synchronised"),
            "{}",
            f.message
        );
    }

    #[test]
    fn no_daemon_warns_and_fails_when_self_hosted() {
        assert_eq!(
            evaluate(&procs(&["sshd"]), &Ok(true), false).status,
            Status::Warn
        );
        assert_eq!(
            evaluate(&procs(&["sshd"]), &Ok(false), true).status,
            Status::Fail
        );
    }

    #[test]
    fn unreadable_is_skip_never_pass() {
        assert_eq!(
            evaluate(&Err("no /proc".into()), &Ok(true), false).status,
            Status::Skip
        );
        let f = evaluate(&procs(&["ntpd"]), &Err("not the live system".into()), false);
        assert!(f.message.contains("could not be read"), "{}", f.message);
    }
}
