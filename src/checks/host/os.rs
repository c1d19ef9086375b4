//! `host.os`: the operating system is one ACK Edge documents for edge nodes (the node connection
//! script stops with "The os XXX unsupport" otherwise). The rows read from the documents are data
//! in `checks/supported-os.toml`; the check, its evaluator and its tests are this file.

use async_trait::async_trait;
use serde::Deserialize;

use super::{HostCheck, HostFiles, HostPlan};
use crate::cause::{ErrorClass, Phase, Plain};
use crate::ids::ReqId;
use crate::probe::node::Files;
use crate::result::{Finding, Status};
use crate::run::Ctx;

/// The documented operating systems, as read (`checks/supported-os.toml`).
pub(crate) const SUPPORTED_OS: &str = include_str!("../../../checks/supported-os.toml");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OsTable {
    /// Where the rows come from, with the date they were read.
    pub(crate) source: String,
    /// Whether every row of the documented table could be read.
    pub(crate) complete: bool,
    pub(crate) os: Vec<OsRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OsRow {
    pub(crate) name: String,
    /// `ID` of os-release.
    pub(crate) id: String,
    /// `VERSION_ID`s; a listed version matches itself and its point releases.
    pub(crate) versions: Vec<String>,
    /// `uname -m`.
    pub(crate) arch: String,
    /// The documented kernel line ("4.19" for 4.19.X); "" when the row names none.
    pub(crate) kernel: String,
    /// The oldest ACK Edge version documented for it; "" when none.
    pub(crate) edge: String,
}

impl OsTable {
    pub(crate) fn builtin() -> Result<OsTable, String> {
        toml::from_str(SUPPORTED_OS).map_err(|e| format!("checks/supported-os.toml: {e}"))
    }
}

evidence! {
    /// The evidence of `host.os`.
    pub(crate) struct OsEvidence {
        /// `ID`, `VERSION_ID` and `PRETTY_NAME` of os-release (escaped), the architecture and
        /// the running kernel.
        os_id: String,
        version_id: String,
        pretty_name: String,
        arch: String,
        kernel: String,
        /// The documented row it matched.
        listed_as: String,
    }
}

pub(crate) struct Os;

#[async_trait]
impl HostCheck for Os {
    fn id(&self) -> &'static ReqId {
        &ReqId::HostOs
    }
    fn target(&self) -> &'static str {
        "operating system"
    }
    fn reads(&self) -> &'static str {
        "read /etc/os-release (or /usr/lib/os-release) and /proc/sys/kernel/osrelease (local)"
    }
    async fn evaluate(&self, ctx: &Ctx<'_, '_>, _: &HostPlan) -> Finding {
        match OsTable::builtin() {
            Ok(t) => evaluate(&HostFiles(ctx.net.host), std::env::consts::ARCH, &t),
            Err(e) => Finding::skip_by(&Plain(Phase::Host, ErrorClass::Unavailable), e),
        }
    }
}

/// The value of `key` in os-release text (shell-style `KEY=value`, `"…"` or `'…'` quoted).
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.trim().split_once('=')?;
        (k == key).then(|| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v)
                .to_string()
        })
    })
}

/// `7.9` of "CentOS Linux release 7.9.2009 (Core)" (the major and minor after "release").
fn release_version(text: &str) -> Option<String> {
    let after = text.split_once(" release ")?.1;
    let v = after.split_whitespace().next()?;
    let mut parts = v.split('.');
    let major = parts
        .next()
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty())?;
    match parts
        .next()
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty())
    {
        Some(minor) => Some(format!("{major}.{minor}")),
        None => Some(major.to_string()),
    }
}

/// A listed version matches itself and its point releases ("7" matches "7.9").
fn version_matches(listed: &str, actual: &str) -> bool {
    actual == listed
        || actual
            .strip_prefix(listed)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Judge os-release against the documented rows. `arch` is the machine's (`uname -m`).
pub(crate) fn evaluate(files: &dyn Files, arch: &str, table: &OsTable) -> Finding {
    let Some((path, text)) = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| files.read(p).map(|t| (*p, t)))
    else {
        return Finding::skip_by(
            &Plain(Phase::Host, ErrorClass::Unavailable),
            "cannot read /etc/os-release or /usr/lib/os-release: the operating system is not known",
        );
    };
    let clean = |s: Option<String>| crate::text::clean(&s.unwrap_or_default(), 80);
    let id = clean(field(&text, "ID"));
    // CentOS and RHEL write only the major version in os-release ("7"); the minor is in
    // /etc/centos-release or /etc/redhat-release ("CentOS Linux release 7.9.2009 (Core)")
    let version = match clean(field(&text, "VERSION_ID")) {
        v if !v.contains('.') => ["/etc/centos-release", "/etc/redhat-release"]
            .iter()
            .find_map(|p| release_version(&files.read(p)?))
            .filter(|r| version_matches(&v, r))
            .map_or(v, |r| crate::text::clean(&r, 40)),
        v => v,
    };
    let pretty = clean(field(&text, "PRETTY_NAME").or_else(|| field(&text, "NAME")));
    let kernel = files
        .read("/proc/sys/kernel/osrelease")
        .map(|k| crate::text::clean(k.trim(), 80))
        .unwrap_or_default();
    let shown = if pretty.is_empty() {
        format!("{id} {version}")
    } else {
        pretty.clone()
    };
    let row = table.os.iter().find(|r| {
        r.id == id && r.arch == arch && r.versions.iter().any(|v| version_matches(v, &version))
    });
    let mut evidence = OsEvidence {
        os_id: Some(id.clone()),
        version_id: Some(version.clone()),
        pretty_name: Some(pretty),
        arch: Some(arch.to_string()),
        kernel: Some(kernel.clone()),
        listed_as: None,
    };
    let f = if let Some(r) = row {
        evidence.listed_as = Some(r.name.clone());
        let kernel_note = if !r.kernel.is_empty()
            && !kernel.is_empty()
            && !version_matches(&r.kernel, kernel.split('-').next().unwrap_or(""))
        {
            format!(
                "; the documents name kernel {}.X for it, this one runs {kernel}",
                r.kernel
            )
        } else {
            String::new()
        };
        let f = Finding::pass(format!(
            "{shown} ({arch}, {path}) is a documented edge-node OS ({}){kernel_note}",
            r.name
        ));
        if kernel_note.is_empty() {
            f
        } else {
            f.recast(
                    Status::Warn,
                    &Plain(Phase::Host, ErrorClass::Misconfigured),
                    format!(
                        "{shown} ({arch}) is a documented edge-node OS ({}){kernel_note}: a kernel the documents do not name",
                        r.name
                    ),
                )
        }
    } else {
        let read: Vec<String> = table
            .os
            .iter()
            .map(|r| format!("{} {} ({})", r.name, r.versions.join("/"), r.arch))
            .collect();
        let words = format!(
                "{shown} (ID {id}, VERSION_ID {version}, {arch}) is not among the edge-node operating systems documented in \"Add an edge node\" ({}): the node connection script stops with \"The os {id} unsupport\" for an unlisted OS",
                read.join(", ")
            );
        if table.complete {
            Finding::fail_by(&Plain(Phase::Host, ErrorClass::Unsupported), words)
        } else {
            // the stored copy of the table is cut off: never call an OS unsupported on a partial list
            Finding::warn_by(
                    &Plain(Phase::Host, ErrorClass::Unsupported),
                    format!("{words}; the copy of the table this build read is cut off after its CentOS 7 row, so check the current table before you join"),
                )
        }
    };
    f.evidence(&evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn host(os_release: &str, kernel: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("/etc/os-release".to_string(), os_release.to_string());
        m.insert(
            "/proc/sys/kernel/osrelease".to_string(),
            format!("{kernel}\n"),
        );
        m
    }

    #[test]
    fn the_table_is_data_with_its_source_and_date() {
        let t = OsTable::builtin().unwrap();
        assert!(t.source.contains("add-an-edge-node") && t.source.contains("read 2026-12-04"));
        assert!(
            !t.complete,
            "the copy read is cut off: unlisted is WARN, not FAIL"
        );
        assert!(t
            .os
            .iter()
            .all(|r| !r.versions.is_empty() && r.arch == "x86_64"));
    }

    #[test]
    fn listed_systems_pass_and_point_releases_match() {
        let t = OsTable::builtin().unwrap();
        let alinux3 = host(
            "NAME=\"Alibaba Cloud Linux\"\nVERSION_ID=\"3\"\nID=\"alinux\"\nPRETTY_NAME=\"Alibaba Cloud Linux 3 (Soaring Falcon)\"\n",
            "5.10.134-16.al8.x86_64",
        );
        let f = evaluate(&alinux3, "x86_64", &t);
        assert_eq!(f.status, Status::Pass, "{}", f.message);
        assert_eq!(
            f.details.read::<OsEvidence>().unwrap().listed_as.as_deref(),
            Some("Alibaba Cloud Linux 3")
        );
        // CentOS writes the major only; the minor comes from /etc/centos-release
        let mut centos = host(
            "ID=\"centos\"\nVERSION_ID=\"7\"\n",
            "3.10.0-1127.el7.x86_64",
        );
        centos.insert(
            "/etc/centos-release".into(),
            "CentOS Linux release 7.8.2003 (Core)\n".into(),
        );
        let f = evaluate(&centos, "x86_64", &t);
        assert_eq!(f.status, Status::Pass, "{}", f.message);
        assert_eq!(
            f.details
                .read::<OsEvidence>()
                .unwrap()
                .version_id
                .as_deref(),
            Some("7.8")
        );
        // CentOS 7.2 is older than the rows read
        centos.insert(
            "/etc/centos-release".into(),
            "CentOS Linux release 7.2.1511 (Core)\n".into(),
        );
        assert_eq!(evaluate(&centos, "x86_64", &t).status, Status::Warn);
        assert_eq!(release_version("garbage"), None);
        // a documented OS on a kernel the documents do not name
        let anolis = host(
            "ID=\"anolis\"\nVERSION_ID=\"8.6\"\n",
            "5.10.134-12.an8.x86_64",
        );
        let f = evaluate(&anolis, "x86_64", &t);
        assert_eq!(f.status, Status::Warn, "{}", f.message);
        assert!(f.message.contains("kernel 4.19.X"), "{}", f.message);
    }

    #[test]
    fn an_unlisted_system_warns_on_a_partial_table_and_fails_on_a_whole_one() {
        let mut t = OsTable::builtin().unwrap();
        let debian = host(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
            "6.1.0-18-amd64",
        );
        let f = evaluate(&debian, "x86_64", &t);
        assert_eq!(f.status, Status::Warn, "{}", f.message);
        assert_eq!(f.details.error, Some(ErrorClass::Unsupported));
        assert!(
            f.message.contains("The os debian unsupport"),
            "{}",
            f.message
        );
        assert!(f.message.contains("cut off"), "{}", f.message);
        t.complete = true;
        assert_eq!(evaluate(&debian, "x86_64", &t).status, Status::Fail);
        // the architecture counts: no row is read for aarch64
        let alinux3 = host("ID=alinux\nVERSION_ID=3\n", "5.10.0");
        assert_eq!(evaluate(&alinux3, "aarch64", &t).status, Status::Fail);
        // "7" does not match "70", nor "7.4" match "7.40"
        assert!(!version_matches("7", "70") && version_matches("7", "7.9"));
        assert!(!version_matches("7.4", "7.40"));
    }

    #[test]
    fn without_os_release_it_is_not_run_and_says_why() {
        let t = OsTable::builtin().unwrap();
        let f = evaluate(&BTreeMap::new(), "x86_64", &t);
        assert_eq!(f.status, Status::Skip);
        assert!(f.message.contains("cannot read /etc/os-release"));
        // hostile text reaches nobody raw
        let odd = host("ID=\"\u{1b}[31mevil\"\nVERSION_ID=1\n", "5.0");
        let f = evaluate(&odd, "x86_64", &t);
        assert!(!f.message.contains('\u{1b}'), "{}", f.message);
    }
}
