//! Required system tools: present and executable, or missing (WARN naming the yum and apt packages).

use std::path::PathBuf;

use crate::catalogue::Requirement;
use crate::cause::{ErrorClass, Phase, Plain};
use crate::result::Finding;

/// Every name (binary or absolute file) a tool group may be looked up by.
pub(crate) fn names(req: &Requirement) -> impl Iterator<Item = &String> {
    req.any_of.iter().flatten()
}

/// Judge a tool group from lookup results (`lookup` answers for every name of [`names`]; `dirs` are
/// the directories that were searched, for the evidence).
pub(crate) fn evaluate(
    req: &Requirement,
    lookup: &dyn Fn(&str) -> ToolLookup,
    dirs: &[PathBuf],
) -> Finding {
    let mut best: Option<(usize, Vec<(String, ToolLookup)>)> = None;
    for alt in &req.any_of {
        let looked: Vec<(String, ToolLookup)> =
            alt.iter().map(|n| (n.clone(), lookup(n))).collect();
        let found = looked
            .iter()
            .filter(|(_, l)| matches!(l, ToolLookup::Found(_)))
            .count();
        if found == alt.len() {
            let paths: Vec<String> = looked
                .iter()
                .filter_map(|(_, l)| match l {
                    ToolLookup::Found(p) => Some(p.display().to_string()),
                    ToolLookup::NotExecutable(_) | ToolLookup::Missing => None,
                })
                .collect();
            return Finding::pass(format!("found {}", paths.join(", "))).evidence(&ToolsEvidence {
                paths: Some(paths),
                ..ToolsEvidence::default()
            });
        }
        if best.as_ref().is_none_or(|(n, _)| found > *n) {
            best = Some((found, looked));
        }
    }
    let package = req.id.trim_start_matches("tools.");
    let (yum, apt) = (
        req.yum.as_deref().unwrap_or(package),
        req.apt.as_deref().unwrap_or(package),
    );
    let mut missing = vec![];
    let mut not_exec = vec![];
    for (name, l) in best.map(|b| b.1).unwrap_or_default() {
        match l {
            ToolLookup::Missing => missing.push(name),
            ToolLookup::NotExecutable(p) => not_exec.push(p.display().to_string()),
            ToolLookup::Found(_) => {}
        }
    }
    let mut parts = vec![];
    if !missing.is_empty() {
        parts.push(format!("missing {}", missing.join(", ")));
    }
    if !not_exec.is_empty() {
        parts.push(format!(
            "present but not executable: {}",
            not_exec.join(", ")
        ));
    }
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let class = if missing.is_empty() {
        ErrorClass::NotExecutable
    } else {
        ErrorClass::Missing
    };
    Finding::warn_by(&Plain(Phase::Tools, class), format!(
        "{} (searched {}); edgeadm will try to install it online: yum install {yum} / apt-get install {apt}",
        parts.join("; "),
        dirs.join(", ")
    ))
    .evidence(&ToolsEvidence {
        paths: None,
        missing: Some(missing.iter().map(ToString::to_string).collect()),
        not_executable: Some(not_exec),
        yum: Some(yum.to_string()),
        apt: Some(apt.to_string()),
    })
}

evidence! {
    /// The evidence of a `tools.*` row.
    pub(crate) struct ToolsEvidence {
        /// Where the tool was found.
        paths: Vec<String>,
        /// Names not found, and paths found but not executable.
        missing: Vec<String>,
        not_executable: Vec<String>,
        /// The packages that provide it.
        yum: String,
        apt: String,
    }
}

/// Where a tool was looked for and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolLookup {
    Found(PathBuf),
    NotExecutable(PathBuf),
    Missing,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, ToolLookup>);
    fn evaluate(req: &Requirement, host: &Fake) -> Finding {
        super::evaluate(
            req,
            &|n| host.0.get(n).cloned().unwrap_or(ToolLookup::Missing),
            &["/usr/bin".into(), "/usr/sbin".into()],
        )
    }

    fn req(id: &str) -> Requirement {
        crate::catalogue::builtin()
            .unwrap()
            .get_str(id)
            .unwrap()
            .clone()
    }

    #[test]
    fn present_missing_not_executable() {
        let found = |p: &str| ToolLookup::Found(PathBuf::from(p));
        let host = Fake(HashMap::from([("socat", found("/usr/bin/socat"))]));
        assert_eq!(evaluate(&req("tools.socat"), &host).status, Status::Pass);

        let f = evaluate(&req("tools.conntrack-tools"), &host);
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message.contains("missing conntrack")
                && f.message.contains("yum install conntrack-tools")
                && f.message.contains("apt-get install conntrack"),
            "{}",
            f.message
        );

        let host = Fake(HashMap::from([(
            "ebtables",
            ToolLookup::NotExecutable("/usr/sbin/ebtables".into()),
        )]));
        let f = evaluate(&req("tools.ebtables"), &host);
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message.contains("not executable: /usr/sbin/ebtables"),
            "{}",
            f.message
        );
    }

    #[test]
    fn alternatives() {
        let found = |p: &str| ToolLookup::Found(PathBuf::from(p));
        let host = Fake(HashMap::from([("ntpdate", found("/usr/sbin/ntpdate"))]));
        assert_eq!(
            evaluate(&req("tools.time-sync"), &host).status,
            Status::Pass
        );
        let host = Fake(HashMap::from([("chronyd", found("/usr/sbin/chronyd"))]));
        let f = evaluate(&req("tools.time-sync"), &host);
        assert_eq!(f.status, Status::Warn);
        assert!(f.message.contains("missing chronyc"), "{}", f.message);
        let host = Fake(HashMap::from([
            ("/etc/crontab", found("/etc/crontab")),
            ("cron", found("/usr/sbin/cron")),
            ("crontab", found("/usr/bin/crontab")),
        ]));
        assert_eq!(evaluate(&req("tools.crontabs"), &host).status, Status::Pass);
    }
}
