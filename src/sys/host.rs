//! Host facts: tools on disk, config files, the socket table and its owners, host identity.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::net::{HostFacts, ToolLookup};
use crate::probe::port::{parse_proc_net, ProcInfo, SocketEntry, SocketProto};
use crate::result::HostInfo;

/// Files bigger than this are not read (a hostile or broken config cannot eat memory).
const MAX_FILE: u64 = 1 << 20;

pub struct SystemHost {
    sysroot: PathBuf,
    dirs: Vec<PathBuf>,
}

impl SystemHost {
    /// `path_env`: the PATH value; /usr/sbin and /sbin are always searched too.
    pub fn new(sysroot: &Path, path_env: Option<&str>) -> SystemHost {
        let mut dirs: Vec<PathBuf> = vec![];
        for d in path_env
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .split(':')
        {
            if d.starts_with('/') && !dirs.iter().any(|x| x == Path::new(d)) {
                dirs.push(PathBuf::from(d));
            }
        }
        for d in ["/usr/sbin", "/sbin"] {
            if !dirs.iter().any(|x| x == Path::new(d)) {
                dirs.push(PathBuf::from(d));
            }
        }
        SystemHost {
            sysroot: sysroot.to_path_buf(),
            dirs,
        }
    }

    /// A path under the sysroot. /proc and /sys describe the running kernel: they are read live
    /// unless the sysroot carries its own proc/ (sys/) tree (a fixture of another distribution).
    fn under(&self, p: &Path) -> PathBuf {
        let rel = p.strip_prefix("/").unwrap_or(p);
        for kernel in ["proc", "sys", "lib/modules", "usr/lib/modules"] {
            if rel.starts_with(kernel) && !self.sysroot.join(kernel).is_dir() {
                return Path::new("/").join(rel);
            }
        }
        self.sysroot.join(rel)
    }

    /// The running host, not a tree of another one: listing commands may run. A sysroot that
    /// carries its own proc/ is a fixture of another host.
    fn live(&self) -> bool {
        self.sysroot == Path::new("/") || !self.sysroot.join("proc").is_dir()
    }
}

/// At most this much output is read from a listing command.
const MAX_LISTING: usize = 4 << 20;
/// A listing command gets this long (iptables-save on a node with 100k rules takes well under it).
const LISTING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Run one read-only listing command found in `dirs`, bounded in time and output size.
fn run_listing(dirs: &[PathBuf], argv: &[&str]) -> Result<String, String> {
    use std::io::Read;
    let bin = dirs
        .iter()
        .map(|d| d.join(argv[0]))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{} is not installed", argv[0]))?;
    let mut child = std::process::Command::new(&bin)
        .args(&argv[1..])
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {}", bin.display(), super::errno::words(&e)))?;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut out).take(MAX_LISTING as u64).read_to_end(&mut buf);
        buf
    });
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > LISTING_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {} s",
                    argv.join(" "),
                    LISTING_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
            Err(e) => return Err(super::errno::words(&e)),
        }
    };
    let buf = reader.join().unwrap_or_default();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = (&mut e).take(4096).read_to_string(&mut err);
    }
    if status.success() {
        Ok(String::from_utf8_lossy(&buf).into_owned())
    } else {
        let first = err.lines().next().unwrap_or("").to_string();
        Err(crate::text::clean(
            &format!(
                "{} exited with {}: {first}",
                argv.join(" "),
                status.code().unwrap_or(-1)
            ),
            200,
        ))
    }
}

impl HostFacts for SystemHost {
    fn find_tool(&self, name: &str) -> ToolLookup {
        if name.starts_with('/') {
            let p = self.under(Path::new(name));
            return if p.is_file() {
                ToolLookup::Found(PathBuf::from(name))
            } else {
                ToolLookup::Missing
            };
        }
        let mut not_exec = None;
        for d in &self.dirs {
            let p = self.under(&d.join(name));
            if let Ok(md) = std::fs::metadata(&p) {
                if md.is_file() {
                    if md.permissions().mode() & 0o111 != 0 {
                        return ToolLookup::Found(d.join(name));
                    }
                    not_exec.get_or_insert(d.join(name));
                }
            }
        }
        not_exec.map_or(ToolLookup::Missing, ToolLookup::NotExecutable)
    }

    fn tool_dirs(&self) -> Vec<PathBuf> {
        self.dirs.clone()
    }

    fn read_file(&self, path: &str) -> Option<String> {
        let p = self.under(Path::new(path));
        let md = std::fs::metadata(&p).ok()?;
        if !md.is_file() || md.len() > MAX_FILE {
            return None;
        }
        let bytes = std::fs::read(&p).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn list_dir(&self, path: &str) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.under(Path::new(path))) else {
            return vec![];
        };
        let mut out: Vec<String> = rd
            .filter_map(std::result::Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
            .map(|e| {
                format!(
                    "{}/{}",
                    path.trim_end_matches('/'),
                    e.file_name().to_string_lossy()
                )
            })
            .take(256)
            .collect();
        out.sort();
        out
    }

    fn sockets(&self, proto: SocketProto) -> Result<Vec<SocketEntry>, crate::net::OsError> {
        let files: &[&str] = match proto {
            SocketProto::Tcp => &["/proc/net/tcp", "/proc/net/tcp6"],
            SocketProto::Udp => &["/proc/net/udp", "/proc/net/udp6"],
        };
        let mut out = vec![];
        let mut read_any = false;
        for f in files {
            if let Ok(t) = std::fs::read_to_string(f) {
                read_any = true;
                out.extend(parse_proc_net(&t));
            }
        }
        if read_any {
            Ok(out)
        } else {
            Err(crate::net::OsError::new(
                "socket table",
                format!("cannot read {}", files.join(" or ")),
            ))
        }
    }

    fn socket_owners(&self) -> std::collections::HashMap<u64, ProcInfo> {
        let mut out = std::collections::HashMap::new();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return out;
        };
        for entry in procs.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
                continue;
            };
            let mut name: Option<String> = None;
            for fd in fds.flatten() {
                let Ok(link) = std::fs::read_link(fd.path()) else {
                    continue;
                };
                let Some(inode) = link
                    .to_str()
                    .and_then(|l| l.strip_prefix("socket:["))
                    .and_then(|l| l.strip_suffix(']'))
                    .and_then(|i| i.parse::<u64>().ok())
                else {
                    continue;
                };
                let n = name.get_or_insert_with(|| {
                    std::fs::read_to_string(entry.path().join("comm"))
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                });
                out.entry(inode).or_insert_with(|| ProcInfo {
                    pid,
                    name: n.clone(),
                });
            }
        }
        out
    }

    fn listing(&self, what: crate::net::Listing) -> Result<String, crate::net::OsError> {
        if !self.live() {
            return Err(crate::net::OsError::new(
                what.name(),
                "not run: the --sysroot tree has its own proc/ (another host's files)",
            ));
        }
        run_listing(&self.dirs, what.command())
            .map_err(|e| crate::net::OsError::new(what.name(), e))
    }

    fn privileged(&self) -> bool {
        super::sockopt::is_root()
    }

    fn process_names(&self) -> Result<Vec<String>, crate::net::OsError> {
        let op = "process list";
        let proc = self.under(Path::new("/proc"));
        let rd = std::fs::read_dir(&proc).map_err(|e| {
            crate::net::OsError::new(
                op,
                format!(
                    "cannot read {}: {}",
                    proc.display(),
                    super::errno::words(&e)
                ),
            )
        })?;
        // a daemon in another network namespace (a container, a lab host) is not this node's
        let own_ns = std::fs::read_link(proc.join("self/ns/net")).ok();
        let root = super::sockopt::is_root();
        let mut names: Vec<String> = rd
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter(
                |e| match (&own_ns, std::fs::read_link(e.path().join("ns/net"))) {
                    (Some(own), Ok(theirs)) => *own == theirs,
                    // root reads every process's namespace: one it cannot read is exiting
                    (Some(_), Err(_)) => !root,
                    (None, _) => true,
                },
            )
            .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
            .map(|n| n.trim().to_string())
            .take(65_536)
            .collect();
        if names.is_empty() {
            return Err(crate::net::OsError::new(
                op,
                format!("no process under {}", proc.display()),
            ));
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn clock_synchronised(&self) -> Result<bool, crate::net::OsError> {
        let op = "ntp_adjtime";
        if !self.live() {
            return Err(crate::net::OsError::new(
                op,
                "not read: the --sysroot tree is another host's",
            ));
        }
        super::sockopt::clock_synchronised()
            .map_err(|e| crate::net::OsError::new(op, super::errno::words(&e)))
    }
}

/// Nameservers in a resolv.conf text.
pub fn parse_nameservers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver"))
                .then(|| w.next().map(String::from))
                .flatten()
        })
        .collect()
}

/// PRETTY_NAME of an os-release text.
pub(crate) fn parse_os_release(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
}

/// The machine id of an /etc/machine-id text: 32 lowercase hex digits, else "".
pub(crate) fn parse_machine_id(text: &str) -> String {
    let t = text.trim();
    if t.len() == 32
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        t.to_string()
    } else {
        String::new()
    }
}

/// Identity of this host for the report header. `primary` is the source address toward the cloud
/// (from a route lookup), used when present; else the first address.
pub(crate) fn host_info(
    host: &dyn HostFacts,
    addresses: Vec<String>,
    primary: Option<String>,
    dns_server: Option<std::net::SocketAddr>,
) -> HostInfo {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let os = host
        .read_file("/etc/os-release")
        .and_then(|t| parse_os_release(&t))
        .unwrap_or_else(|| "unknown".to_string());
    let nameservers = match dns_server {
        Some(sa) if sa.port() == 53 => vec![sa.ip().to_string()],
        Some(sa) => vec![sa.to_string()],
        // the resolver reads the real /etc/resolv.conf, so report that one
        None => std::fs::read_to_string("/etc/resolv.conf")
            .map(|t| parse_nameservers(&t))
            .unwrap_or_default(),
    };
    let machine_id = host
        .read_file("/etc/machine-id")
        .map(|t| parse_machine_id(&t))
        .unwrap_or_default();
    let primary_address = primary.or_else(|| {
        addresses
            .first()
            .map(|a| a.split('/').next().unwrap_or(a).to_string())
    });
    HostInfo {
        hostname,
        os,
        kernel,
        addresses,
        nameservers,
        machine_id,
        primary_address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_and_os_release() {
        assert_eq!(
            parse_nameservers("# x\nnameserver 10.0.0.2\nsearch a\nnameserver  100.100.2.136\n"),
            ["10.0.0.2", "100.100.2.136"]
        );
        assert_eq!(
            parse_machine_id("0123456789abcdef0123456789abcdef\n"),
            "0123456789abcdef0123456789abcdef"
        );
        assert_eq!(parse_machine_id("uninitialized\n"), "");
        assert_eq!(parse_machine_id("0123456789ABCDEF0123456789ABCDEF"), "");
        assert_eq!(
            parse_os_release("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").unwrap(),
            "Debian GNU/Linux 12 (bookworm)"
        );
    }

    #[test]
    fn tools_under_a_sysroot() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("usr/sbin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("socat"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(bin.join("socat"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(bin.join("ebtables"), "x").unwrap();
        std::fs::set_permissions(bin.join("ebtables"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        std::fs::create_dir_all(bin.join("iptables")).unwrap();
        let h = SystemHost::new(d.path(), Some("/usr/bin"));
        assert_eq!(
            h.find_tool("socat"),
            ToolLookup::Found("/usr/sbin/socat".into())
        );
        assert_eq!(
            h.find_tool("ebtables"),
            ToolLookup::NotExecutable("/usr/sbin/ebtables".into())
        );
        // a directory is not a tool
        assert_eq!(h.find_tool("iptables"), ToolLookup::Missing);
        assert_eq!(h.find_tool("lspci"), ToolLookup::Missing);
        assert_eq!(h.find_tool("/etc/crontab"), ToolLookup::Missing);
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/crontab"), "").unwrap();
        assert_eq!(
            h.find_tool("/etc/crontab"),
            ToolLookup::Found("/etc/crontab".into())
        );
    }
}
