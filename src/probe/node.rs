//! Host prerequisites that break a join or the node right after it, read-only and pure over files:
//! `host.sysctl`, `host.kernel-modules`, `host.swap`, `host.cgroup`, `host.hostname`,
//! `dns.resolver`, `host.leftovers`, `host.rp-filter`. Each evaluator takes a [`Files`] view (the
//! host under `--sysroot`, or a map in tests) and returns the row's finding with the evidence it
//! read. Phase: host (dns for the resolver).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::cause::{ErrorClass, Phase, Plain};
use crate::result::Finding;

/// Read-only file access (under the sysroot).
pub trait Files {
    /// A text file; None when absent or unreadable.
    fn read(&self, path: &str) -> Option<String>;
    /// Regular files in a directory (full paths), sorted; empty when absent.
    fn list(&self, dir: &str) -> Vec<String>;
}

impl Files for BTreeMap<String, String> {
    fn read(&self, path: &str) -> Option<String> {
        self.get(path).cloned()
    }
    fn list(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        self.keys()
            .filter(|k| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
            .cloned()
            .collect()
    }
}

/// The cause of every WARN and FAIL here: the host is set up in a way that breaks the join.
const MISCONFIGURED: Plain = Plain(Phase::Host, ErrorClass::Misconfigured);
const HOST_UNREAD: Plain = Plain(Phase::Host, ErrorClass::Unavailable);

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

// ---------------------------------------------------------------- host.sysctl

/// Where systemd-sysctl and `sysctl --system` read settings at boot, in the order they apply (a
/// later file wins; a file name in an earlier directory masks the same name in a later one).
pub(crate) const SYSCTL_DIRS: [&str; 4] = [
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
];
pub(crate) const SYSCTL_CONF: &str = "/etc/sysctl.conf";

/// The value `key` will have after boot, and the file and line that set it last.
pub fn sysctl_at_boot(files: &dyn Files, key: &str) -> Option<(String, String)> {
    // file name -> path, the first directory wins
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for dir in SYSCTL_DIRS.iter().chain(["/lib/sysctl.d"].iter()) {
        for path in files.list(dir) {
            let name = path.rsplit('/').next().unwrap_or("").to_string();
            if name.ends_with(".conf") {
                by_name.entry(name).or_insert(path);
            }
        }
    }
    let mut order: Vec<String> = by_name.into_values().collect();
    order.push(SYSCTL_CONF.to_string());
    let want = key.replace('/', ".");
    let mut found = None;
    for path in order {
        let Some(text) = files.read(&path) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.starts_with('#') || l.starts_with(';') || l.is_empty() {
                continue;
            }
            let l = l.strip_prefix('-').unwrap_or(l);
            if let Some((k, v)) = l.split_once('=') {
                if k.trim().replace('/', ".") == want {
                    found = Some((v.trim().to_string(), format!("{path}:{}", n + 1)));
                }
            }
        }
    }
    found
}

pub fn sysctl(files: &dyn Files) -> Finding {
    let Some(live) = files.read("/proc/sys/net/ipv4/ip_forward") else {
        return Finding::skip_by(&HOST_UNREAD, "cannot read /proc/sys/net/ipv4/ip_forward");
    };
    let live = first_line(&live).to_string();
    let boot = sysctl_at_boot(files, "net.ipv4.ip_forward");
    let boot_text = match &boot {
        Some((v, at)) => format!("{v} at boot ({at})"),
        None => "not set in any sysctl file (the kernel default 0 at boot)".into(),
    };
    let mut f = if live != "1" {
        Finding::fail_by(
            &MISCONFIGURED,
            format!("net.ipv4.ip_forward is {live}: the node will not forward pod traffic; {boot_text}"),
        )
        .fix("Enable forwarding now and at boot: sysctl -w net.ipv4.ip_forward=1 and add 'net.ipv4.ip_forward = 1' to /etc/sysctl.d/99-kubernetes.conf.")
    } else if boot.as_ref().map(|(v, _)| v.as_str()) != Some("1") {
        Finding::warn_by(
            &MISCONFIGURED,
            format!("net.ipv4.ip_forward is 1 now but {boot_text}: pod traffic stops after the next reboot"),
        )
        .fix("Persist it: add 'net.ipv4.ip_forward = 1' to /etc/sysctl.d/99-kubernetes.conf (and remove any later file that sets it to 0).")
    } else {
        Finding::pass(format!("net.ipv4.ip_forward is 1, and {boot_text}"))
    };
    f = f.evidence(&HostEvidence {
        ip_forward: Some(live.clone()),
        ip_forward_boot: boot.as_ref().map(|(v, at)| format!("{v} ({at})")),
        ..HostEvidence::default()
    });
    // bridge netfilter, when the module is loaded: flannel's and kube-proxy's rules need it
    if let Some(b) = files.read("/proc/sys/net/bridge/bridge-nf-call-iptables") {
        let b = first_line(&b).to_string();
        if b != "1" && f.status == crate::result::Status::Pass {
            let msg = format!("{}; but net.bridge.bridge-nf-call-iptables is {b}: bridged pod traffic bypasses iptables (Services break)", f.message);
            f = f
                .recast(crate::result::Status::Warn, &MISCONFIGURED, msg)
                .fix("sysctl -w net.bridge.bridge-nf-call-iptables=1 and persist it in /etc/sysctl.d/99-kubernetes.conf.");
        }
        f = f.evidence(&HostEvidence {
            bridge_nf_call_iptables: Some(b),
            ..HostEvidence::default()
        });
    }
    f
}

// ---------------------------------------------------------------- host.kernel-modules

/// Where a kernel module is, for this kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModuleState {
    Loaded,
    BuiltIn,
    /// Present in modules.dep: loadable on demand.
    Available(String),
    Missing,
}

fn module_matches(path: &str, name: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_") == name.replace('-', "_")
}

pub(crate) fn module_state(files: &dyn Files, name: &str) -> ModuleState {
    if let Some(m) = files.read("/proc/modules") {
        if m.lines().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|n| n == name.replace('-', "_"))
        }) {
            return ModuleState::Loaded;
        }
    }
    let release = files
        .read("/proc/sys/kernel/osrelease")
        .map(|s| first_line(&s).to_string())
        .unwrap_or_default();
    for base in ["/lib/modules", "/usr/lib/modules"] {
        let dir = format!("{base}/{release}");
        if let Some(b) = files.read(&format!("{dir}/modules.builtin")) {
            if b.lines().any(|l| module_matches(l.trim(), name)) {
                return ModuleState::BuiltIn;
            }
        }
        if let Some(d) = files.read(&format!("{dir}/modules.dep")) {
            if let Some(l) = d
                .lines()
                .find(|l| module_matches(l.split(':').next().unwrap_or(""), name))
            {
                return ModuleState::Available(l.split(':').next().unwrap_or("").to_string());
            }
        }
    }
    ModuleState::Missing
}

/// The modules a join needs: `vxlan` for Flannel's backend, `br_netfilter` and `overlay`.
pub fn kernel_modules(files: &dyn Files, flannel: bool) -> Finding {
    let mut needed = vec!["br_netfilter", "overlay"];
    if flannel {
        needed.insert(0, "vxlan");
    }
    let release = files
        .read("/proc/sys/kernel/osrelease")
        .map_or_else(|| "?".into(), |s| first_line(&s).to_string());
    let readable = files.read("/proc/modules").is_some()
        || ["/lib/modules", "/usr/lib/modules"]
            .iter()
            .any(|b| files.read(&format!("{b}/{release}/modules.dep")).is_some());
    if !readable {
        return Finding::skip_by(
            &HOST_UNREAD,
            format!("cannot read /proc/modules or modules.dep for kernel {release}"),
        );
    }
    let mut states = vec![];
    let mut missing = vec![];
    for m in &needed {
        let s = module_state(files, m);
        states.push(match &s {
            ModuleState::Loaded => format!("{m} loaded"),
            ModuleState::BuiltIn => format!("{m} built in"),
            ModuleState::Available(p) => format!("{m} loadable ({p})"),
            ModuleState::Missing => format!("{m} missing"),
        });
        if s == ModuleState::Missing {
            missing.push(*m);
        }
    }
    let f = if missing.is_empty() {
        Finding::pass(format!("kernel {release}: {}", states.join(", ")))
    } else {
        Finding::fail_by(
            &MISCONFIGURED,
            format!("kernel {release}: {} neither loaded, built in nor present for this kernel ({})", missing.join(", "), states.join(", ")),
        )
        .fix(format!(
            "Install the kernel's module package for {release} (e.g. kernel-modules / linux-modules-extra-{release}) or boot a kernel that has {}; then modprobe them.",
            missing.join(", ")
        ))
    };
    f.evidence(&HostEvidence {
        modules: Some(states),
        ..HostEvidence::default()
    })
}

// ---------------------------------------------------------------- host.swap

pub fn swap(files: &dyn Files) -> Finding {
    let Some(s) = files.read("/proc/swaps") else {
        return Finding::skip_by(&HOST_UNREAD, "cannot read /proc/swaps");
    };
    let active: Vec<String> = s
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    if active.is_empty() {
        Finding::pass("no swap is active (/proc/swaps)")
    } else {
        Finding::fail_by(&MISCONFIGURED, format!("swap is active on {}: the kubelet refuses to start with swap on (failSwapOn)", active.join(", ")))
            .fix("swapoff -a, and comment out the swap entries in /etc/fstab (and mask any systemd swap unit) so it stays off after reboot.")
            .evidence(&HostEvidence {
                swaps: Some(active),
                ..HostEvidence::default()
            })
    }
}

// ---------------------------------------------------------------- host.cgroup

pub fn cgroup(files: &dyn Files) -> Finding {
    let (version, enabled): (&str, Vec<String>) =
        if let Some(c) = files.read("/sys/fs/cgroup/cgroup.controllers") {
            ("v2", c.split_whitespace().map(str::to_string).collect())
        } else if let Some(c) = files.read("/proc/cgroups") {
            (
                "v1",
                c.lines()
                    .filter(|l| !l.starts_with('#'))
                    .filter_map(|l| {
                        let f: Vec<&str> = l.split_whitespace().collect();
                        (f.len() >= 4 && f[3] == "1").then(|| f[0].to_string())
                    })
                    .collect(),
            )
        } else {
            return Finding::skip_by(
                &HOST_UNREAD,
                "cannot read /sys/fs/cgroup/cgroup.controllers or /proc/cgroups",
            );
        };
    let missing = |names: &[&str]| {
        names
            .iter()
            .filter(|n| !enabled.iter().any(|e| e == *n))
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
    };
    let hard = missing(&["cpu", "cpuset", "memory"]);
    let soft = missing(&["pids"]);
    let f = if !hard.is_empty() {
        Finding::fail_by(&MISCONFIGURED, format!("cgroup {version}: controller(s) {} not enabled: the kubelet will not start", hard.join(", ")))
            .fix("Enable them on the kernel command line (e.g. cgroup_enable=memory swapaccount=1 on some ARM and older kernels) and reboot.")
    } else if !soft.is_empty() {
        Finding::warn_by(&MISCONFIGURED, format!("cgroup {version}: the pids controller is not enabled: pod PID limits will not apply"))
    } else {
        Finding::pass(format!(
            "cgroup {version} with cpu, cpuset, memory and pids"
        ))
    };
    f.evidence(&HostEvidence {
        cgroup: Some(version.to_string()),
        controllers: Some(enabled),
        ..HostEvidence::default()
    })
}

// ---------------------------------------------------------------- host.hostname

/// Why a host name is not a valid Kubernetes node name, if it is not.
pub(crate) fn node_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > 253 {
        return Some(format!(
            "it is {} characters long (at most 253)",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Some(format!(
                "the label {label:?} is empty or longer than 63 characters"
            ));
        }
        if !label.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c.is_ascii_uppercase()
        }) {
            return Some(format!(
                "the label {label:?} has characters outside a-z, 0-9 and '-'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("the label {label:?} starts or ends with '-'"));
        }
    }
    None
}

pub fn hostname(files: &dyn Files) -> Finding {
    let Some(h) = files.read("/proc/sys/kernel/hostname") else {
        return Finding::skip_by(&HOST_UNREAD, "cannot read /proc/sys/kernel/hostname");
    };
    let h = first_line(&h).to_string();
    let shown = crate::text::clean(&h, 300);
    let f = if let Some(why) = node_name_problem(&h) {
        Finding::fail_by(&MISCONFIGURED, format!("hostname {shown:?} is not a valid node name: {why} (lowercase RFC 1123)"))
            .fix("Set a valid hostname (hostnamectl set-hostname NAME: lowercase letters, digits, '-' and '.') or join with an explicit node name.")
    } else if h.to_ascii_lowercase().starts_with("localhost") {
        Finding::fail_by(&MISCONFIGURED, format!("hostname {shown:?}: every node named localhost… collides, and it maps to 127.0.0.1"))
            .fix("Give the node a unique hostname (hostnamectl set-hostname NAME) before joining.")
    } else if h.chars().any(|c| c.is_ascii_uppercase()) {
        Finding::warn_by(&MISCONFIGURED, format!("hostname {shown:?} has uppercase letters: the kubelet registers it lowercased as {:?}", h.to_ascii_lowercase()))
            .fix("Use a lowercase hostname (hostnamectl set-hostname) so the node name and the hostname agree.")
    } else {
        Finding::pass(format!("hostname {shown:?} is a valid node name"))
    };
    f.evidence(&HostEvidence {
        hostname: Some(shown),
        ..HostEvidence::default()
    })
}

// ---------------------------------------------------------------- dns.resolver

/// glibc and the kubelet use at most this many nameservers.
pub(crate) const MAX_NAMESERVERS: usize = 3;
/// The kubelet's limit on search domains passed to pods (older kubelets: 6; 32 since 1.28).
pub(crate) const MAX_SEARCH_DOMAINS: usize = 6;
/// glibc's limit on the search list's length before 2.26 (CentOS 7).
pub(crate) const MAX_SEARCH_CHARS: usize = 256;

pub fn resolver(files: &dyn Files, pod_cidr: Option<&IpNet>, vpc_cidr: Option<&IpNet>) -> Finding {
    let path = "/etc/resolv.conf";
    let Some(text) = files.read(path) else {
        return Finding::skip_by(
            &Plain(Phase::Dns, ErrorClass::Unavailable),
            format!("cannot read {path}"),
        );
    };
    let mut servers: Vec<(usize, IpAddr)> = vec![];
    let mut search: Vec<String> = vec![];
    for (n, line) in text.lines().enumerate() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => {
                if let Some(ip) = w
                    .next()
                    .and_then(|a| a.split('%').next())
                    .and_then(|a| a.parse().ok())
                {
                    servers.push((n + 1, ip));
                }
            }
            Some("search" | "domain") => search = w.map(str::to_string).collect(),
            _ => {}
        }
    }
    let mut fails = vec![];
    let mut warns = vec![];
    for (line, ip) in &servers {
        if ip.is_loopback() {
            let real = ["/run/systemd/resolve/resolv.conf"]
                .into_iter()
                .find(|p| files.read(p).is_some());
            warns.push(format!(
                "line {line}: nameserver {ip} is a loopback stub: pods (CoreDNS) inherit it and loop back to themselves{}",
                real.map(|r| format!("; the real servers are in {r}")).unwrap_or_default()
            ));
        }
        if pod_cidr.is_some_and(|c| c.contains(ip)) {
            fails.push(format!(
                "line {line}: nameserver {ip} is inside the container CIDR: pods cannot reach it"
            ));
        } else if vpc_cidr.is_some_and(|c| c.contains(ip))
            && !crate::constants::VPC_DNS_SERVERS.contains(&ip.to_string().as_str())
        {
            warns.push(format!("line {line}: nameserver {ip} is inside the VPC CIDR: it must be reachable over the line from pods too"));
        }
    }
    if servers.len() > MAX_NAMESERVERS {
        warns.push(format!("{} nameservers: only the first {MAX_NAMESERVERS} are used (the kubelet drops the rest)", servers.len()));
    }
    if search.len() > MAX_SEARCH_DOMAINS {
        warns.push(format!("{} search domains: pods get at most {MAX_SEARCH_DOMAINS} (older kubelets) with the cluster's own added", search.len()));
    }
    let chars = search.join(" ").len();
    if chars > MAX_SEARCH_CHARS {
        warns.push(format!("search list is {chars} characters: glibc before 2.26 ignores it past {MAX_SEARCH_CHARS}"));
    }
    let shown: Vec<String> = servers.iter().map(|(_, ip)| ip.to_string()).collect();
    let f = if !fails.is_empty() {
        Finding::fail_by(
            &Plain(Phase::Dns, ErrorClass::Misconfigured),
            format!(
                "{path}: {}",
                fails
                    .iter()
                    .chain(&warns)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    } else if !warns.is_empty() {
        Finding::warn_by(
            &Plain(Phase::Dns, ErrorClass::Misconfigured),
            format!("{path}: {}", warns.join("; ")),
        )
    } else if servers.is_empty() {
        Finding::warn_by(
            &Plain(Phase::Dns, ErrorClass::Misconfigured),
            format!("{path} has no nameserver line: glibc falls back to 127.0.0.1"),
        )
    } else {
        Finding::pass(format!(
            "{path}: nameservers {}, {} search domain(s)",
            shown.join(", "),
            search.len()
        ))
    };
    let f = if f.status == crate::result::Status::Pass {
        f
    } else {
        f.fix("Give the kubelet a resolv.conf with the real upstream servers (resolvConf in the kubelet config, e.g. /run/systemd/resolve/resolv.conf), at most 3 nameservers outside the container CIDR and a short search list.")
    };
    f.evidence(&HostEvidence {
        nameservers: Some(shown),
        search: Some(search),
        ..HostEvidence::default()
    })
}

// ---------------------------------------------------------------- host.leftovers

/// Files, directories and links an earlier Kubernetes / edge install leaves behind.
pub(crate) const LEFTOVER_FILES: [&str; 6] = [
    "/etc/kubernetes/kubelet.conf",
    "/etc/kubernetes/bootstrap-kubelet.conf",
    "/etc/kubernetes/pki/ca.crt",
    "/var/lib/kubelet/config.yaml",
    "/var/lib/kubelet/pki/kubelet-client-current.pem",
    "/etc/kubernetes/manifests/yurthub.yaml",
];
pub(crate) const LEFTOVER_DIRS: [&str; 2] = ["/etc/cni/net.d", "/etc/kubernetes/manifests"];
pub(crate) const LEFTOVER_LINKS: [&str; 4] = ["cni0", "flannel.1", "kube-ipvs0", "yurthub-dummy0"];

pub fn leftovers(files: &dyn Files) -> Finding {
    let mut found: Vec<String> = vec![];
    for f in LEFTOVER_FILES {
        if files.read(f).is_some() {
            found.push(f.to_string());
        }
    }
    for d in LEFTOVER_DIRS {
        for f in files.list(d) {
            if !found.contains(&f) {
                found.push(f);
            }
        }
    }
    for l in LEFTOVER_LINKS {
        if files.read(&format!("/sys/class/net/{l}/ifindex")).is_some() {
            found.push(format!("link {l}"));
        }
    }
    if let Some(m) = files.read("/proc/mounts") {
        for mp in m
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|p| p.starts_with("/var/lib/kubelet"))
        {
            found.push(format!("mount {mp}"));
            if found.len() > 40 {
                break;
            }
        }
    }
    if found.is_empty() {
        Finding::pass("no kubelet config, cluster CA, CNI config, CNI links or kubelet mounts from an earlier install")
    } else {
        Finding::warn_by(&MISCONFIGURED, format!("an earlier Kubernetes install left {} item(s): {}", found.len(), found.join(", ")))
            .fix("Clean the node first: edgeadm reset (or kubeadm reset), then remove /etc/cni/net.d/*, the cni0 / flannel.1 links (ip link delete) and /var/lib/kubelet.")
            .evidence(&HostEvidence {
                leftovers: Some(found),
                ..HostEvidence::default()
            })
    }
}

// ---------------------------------------------------------------- host.rp-filter

/// rp_filter in effect on an interface: the maximum of `all` and the interface's own value.
pub fn rp_filter(files: &dyn Files, iface: &str) -> Option<u8> {
    let read = |i: &str| {
        files
            .read(&format!("/proc/sys/net/ipv4/conf/{i}/rp_filter"))
            .and_then(|s| first_line(&s).parse::<u8>().ok())
    };
    match (read("all"), read(iface)) {
        (Some(a), Some(i)) => Some(a.max(i)),
        (a, i) => a.or(i),
    }
}

/// `line` is the interface toward the cloud (the API server or 100.0.0.0/8), `default` the default
/// route's.
pub(crate) fn rp_filter_check(
    files: &dyn Files,
    line: Option<&str>,
    default: Option<&str>,
) -> Finding {
    let Some(line) = line else {
        return Finding::skip_by(
            &HOST_UNREAD,
            format!(
                "no route toward the cloud: no line interface to judge (see the {}.* rows)",
                crate::ids::Category::Route
            ),
        );
    };
    let value = rp_filter(files, line);
    let shown = value.map_or_else(|| "?".into(), |v| v.to_string());
    let f = match (default, value) {
        (Some(d), Some(1)) if d != line => Finding::warn_by(
            &MISCONFIGURED,
            format!("rp_filter is strict (1) on {line}, the interface toward the cloud, while the default route leaves by {d}: return traffic that arrives on {line} for an address the kernel would answer via {d} is dropped"),
        )
        .fix(format!("Use loose mode on the line's interface: sysctl -w net.ipv4.conf.{line}.rp_filter=2 and net.ipv4.conf.all.rp_filter=2, persisted in /etc/sysctl.d/.")),
        (Some(d), _) if d == line => Finding::pass(format!("the line's interface {line} is also the default route's (rp_filter {shown})")),
        (_, Some(v)) => Finding::pass(format!("rp_filter on {line} is {v} ({})", if v == 1 { "strict, but only one uplink" } else { "not strict" })),
        (_, None) => Finding::skip_by(&HOST_UNREAD, format!("cannot read rp_filter for {line}")),
    };
    f.evidence(&HostEvidence {
        interface: Some(line.to_string()),
        rp_filter: Some(shown),
        ..HostEvidence::default()
    })
}

evidence! {
    /// The evidence of the `host.*` rows (each row records its own fields).
    pub(crate) struct HostEvidence {
        /// net.ipv4.ip_forward now, and what the sysctl files set at boot (`1 (file)`).
        ip_forward: String,
        ip_forward_boot: String,
        bridge_nf_call_iptables: String,
        /// Each kernel module and its state.
        modules: Vec<String>,
        /// Active swap devices.
        swaps: Vec<String>,
        /// cgroup version and its enabled controllers.
        cgroup: String,
        controllers: Vec<String>,
        /// The hostname (escaped).
        hostname: String,
        /// resolv.conf's nameservers and search domains.
        nameservers: Vec<String>,
        search: Vec<String>,
        /// What an earlier install left.
        leftovers: Vec<String>,
        /// The line's interface and its rp_filter.
        interface: String,
        rp_filter: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    fn fs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ip_forward_live_and_at_boot() {
        let off = fs(&[("/proc/sys/net/ipv4/ip_forward", "0\n")]);
        assert_eq!(sysctl(&off).status, Status::Fail);
        let not_kept = fs(&[("/proc/sys/net/ipv4/ip_forward", "1\n")]);
        let f = sysctl(&not_kept);
        assert_eq!(f.status, Status::Warn);
        assert!(f.message.contains("after the next reboot"), "{}", f.message);
        // a later file wins; /etc/sysctl.conf last; /etc/sysctl.d masks the same name in /usr/lib
        let kept = fs(&[
            ("/proc/sys/net/ipv4/ip_forward", "1\n"),
            (
                "/usr/lib/sysctl.d/50-default.conf",
                "net.ipv4.ip_forward = 0\n",
            ),
            (
                "/etc/sysctl.d/99-k8s.conf",
                "# k8s\nnet/ipv4/ip_forward=1\n",
            ),
        ]);
        let f = sysctl(&kept);
        assert_eq!(f.status, Status::Pass, "{}", f.message);
        assert!(
            f.message.contains("/etc/sysctl.d/99-k8s.conf:2"),
            "{}",
            f.message
        );
        let undone = fs(&[
            ("/proc/sys/net/ipv4/ip_forward", "1\n"),
            ("/etc/sysctl.d/10-k8s.conf", "net.ipv4.ip_forward = 1\n"),
            ("/etc/sysctl.conf", "net.ipv4.ip_forward = 0\n"),
        ]);
        assert_eq!(sysctl(&undone).status, Status::Warn);
        let masked = fs(&[
            ("/proc/sys/net/ipv4/ip_forward", "1\n"),
            ("/usr/lib/sysctl.d/99-k8s.conf", "net.ipv4.ip_forward = 1\n"),
            ("/etc/sysctl.d/99-k8s.conf", "# emptied by the admin\n"),
        ]);
        assert_eq!(
            sysctl(&masked).status,
            Status::Warn,
            "the /etc file masks the /usr/lib one"
        );
        let bridge = fs(&[
            ("/proc/sys/net/ipv4/ip_forward", "1"),
            ("/etc/sysctl.conf", "net.ipv4.ip_forward=1"),
            ("/proc/sys/net/bridge/bridge-nf-call-iptables", "0"),
        ]);
        assert_eq!(sysctl(&bridge).status, Status::Warn);
        assert_eq!(sysctl(&fs(&[])).status, Status::Skip);
    }

    #[test]
    fn modules_unreadable_is_skip() {
        assert_eq!(kernel_modules(&fs(&[]), true).status, Status::Skip);
    }

    #[test]
    fn modules() {
        let base = [("/proc/sys/kernel/osrelease", "5.10.0-x\n")];
        let mut m = fs(&base);
        m.insert(
            "/proc/modules".into(),
            "vxlan 90112 0 - Live 0x0\noverlay 151552 0 - Live 0x0\n".into(),
        );
        m.insert(
            "/lib/modules/5.10.0-x/modules.builtin".into(),
            "kernel/net/bridge/br_netfilter.ko\n".into(),
        );
        let f = kernel_modules(&m, true);
        assert_eq!(f.status, Status::Pass, "{}", f.message);
        assert!(f.message.contains("br_netfilter built in"), "{}", f.message);
        let mut m = fs(&base);
        m.insert("/lib/modules/5.10.0-x/modules.dep".into(), "kernel/drivers/net/vxlan/vxlan.ko.xz: kernel/net/ipv4/udp_tunnel.ko.xz\nkernel/fs/overlayfs/overlay.ko.xz:\n".into());
        let f = kernel_modules(&m, true);
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("br_netfilter neither loaded"),
            "{}",
            f.message
        );
        assert!(f.message.contains("vxlan loadable"), "{}", f.message);
        // terway-edge does not need vxlan
        assert!(!kernel_modules(&m, false).message.contains("vxlan"));
    }

    #[test]
    fn swap_cgroup_hostname() {
        assert_eq!(
            swap(&fs(&[(
                "/proc/swaps",
                "Filename\tType\tSize\tUsed\tPriority\n"
            )]))
            .status,
            Status::Pass
        );
        let on = swap(&fs(&[(
            "/proc/swaps",
            "Filename Type Size Used Priority\n/dev/dm-1 partition 8388604 0 -2\n",
        )]));
        assert_eq!(on.status, Status::Fail);
        assert!(on.message.contains("/dev/dm-1"));
        assert_eq!(
            cgroup(&fs(&[(
                "/sys/fs/cgroup/cgroup.controllers",
                "cpuset cpu io memory hugetlb pids rdma misc\n"
            )]))
            .status,
            Status::Pass
        );
        let v1 = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t5\t1\t1\ncpu\t3\t1\t1\nmemory\t0\t1\t0\npids\t8\t1\t1\n";
        let f = cgroup(&fs(&[("/proc/cgroups", v1)]));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("v1") && f.message.contains("memory"),
            "{}",
            f.message
        );
        for (h, s) in [
            ("node-1.dc", Status::Pass),
            ("Node1", Status::Warn),
            ("localhost.localdomain", Status::Fail),
            ("node_1", Status::Fail),
            ("-x", Status::Fail),
        ] {
            assert_eq!(
                hostname(&fs(&[("/proc/sys/kernel/hostname", h)])).status,
                s,
                "{h}"
            );
        }
        // a hostile hostname cannot reach the terminal raw
        assert!(
            !hostname(&fs(&[("/proc/sys/kernel/hostname", "a\u{1b}[31mb")]))
                .message
                .contains('\u{1b}')
        );
    }

    #[test]
    fn resolv_conf() {
        let pod: IpNet = "10.244.0.0/16".parse().unwrap();
        let vpc: IpNet = "192.168.0.0/16".parse().unwrap();
        let ok = fs(&[(
            "/etc/resolv.conf",
            "nameserver 100.100.2.136\nnameserver 100.100.2.138\nsearch dc.example\n",
        )]);
        assert_eq!(resolver(&ok, Some(&pod), Some(&vpc)).status, Status::Pass);
        let stub = fs(&[
            ("/etc/resolv.conf", "nameserver 127.0.0.53\noptions edns0\n"),
            ("/run/systemd/resolve/resolv.conf", "nameserver 10.0.0.2\n"),
        ]);
        let f = resolver(&stub, None, None);
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message
                .contains("line 1: nameserver 127.0.0.53 is a loopback stub")
                && f.message.contains("/run/systemd/resolve/resolv.conf"),
            "{}",
            f.message
        );
        let many = fs(&[("/etc/resolv.conf", "nameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\nnameserver 10.0.0.5\nsearch a b c d e f g\n")]);
        let f = resolver(&many, None, None);
        assert!(
            f.message.contains("4 nameservers") && f.message.contains("7 search domains"),
            "{}",
            f.message
        );
        let inside = fs(&[("/etc/resolv.conf", "nameserver 10.244.0.10\n")]);
        assert_eq!(resolver(&inside, Some(&pod), None).status, Status::Fail);
    }

    #[test]
    fn leftovers_and_rp_filter() {
        assert_eq!(leftovers(&fs(&[])).status, Status::Pass);
        let old = fs(&[
            ("/etc/kubernetes/kubelet.conf", "x"),
            ("/etc/cni/net.d/10-flannel.conflist", "{}"),
            ("/sys/class/net/flannel.1/ifindex", "7"),
            (
                "/proc/mounts",
                "tmpfs /var/lib/kubelet/pods/x/volumes tmpfs rw 0 0\n",
            ),
        ]);
        let f = leftovers(&old);
        assert_eq!(f.status, Status::Warn);
        for want in [
            "/etc/kubernetes/kubelet.conf",
            "/etc/cni/net.d/10-flannel.conflist",
            "link flannel.1",
            "mount /var/lib/kubelet/pods/x/volumes",
        ] {
            assert!(f.message.contains(want), "{want}: {}", f.message);
        }
        let strict = fs(&[
            ("/proc/sys/net/ipv4/conf/all/rp_filter", "0"),
            ("/proc/sys/net/ipv4/conf/eth1/rp_filter", "1"),
        ]);
        assert_eq!(
            rp_filter_check(&strict, Some("eth1"), Some("eth0")).status,
            Status::Warn
        );
        assert_eq!(
            rp_filter_check(&strict, Some("eth1"), Some("eth1")).status,
            Status::Pass
        );
        let loose = fs(&[
            ("/proc/sys/net/ipv4/conf/all/rp_filter", "2"),
            ("/proc/sys/net/ipv4/conf/eth1/rp_filter", "1"),
        ]);
        assert_eq!(rp_filter(&loose, "eth1"), Some(2));
        assert_eq!(
            rp_filter_check(&loose, Some("eth1"), Some("eth0")).status,
            Status::Pass
        );
        assert_eq!(
            rp_filter_check(&strict, None, Some("eth0")).status,
            Status::Skip
        );
    }
}
