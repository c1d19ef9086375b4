//! Local inbound ports: parse /proc/net/{tcp,tcp6,udp,udp6} (pure) and judge whether a port is free.

use crate::cause::{ErrorClass, Phase, Plain};
use crate::result::Finding;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketProto {
    Tcp,
    Udp,
}

impl SocketProto {
    pub fn as_str(self) -> &'static str {
        match self {
            SocketProto::Tcp => "tcp",
            SocketProto::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketEntry {
    pub local_ip: String,
    pub local_port: u16,
    /// Kernel socket state (0x0A = TCP LISTEN, 0x07 = UDP unconnected).
    pub state: u8,
    pub inode: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: u32,
    pub name: String,
}

const TCP_LISTEN: u8 = 0x0A;

fn hex_ip(s: &str) -> Option<String> {
    match s.len() {
        8 => {
            let v = u32::from_str_radix(s, 16).ok()?;
            Some(std::net::Ipv4Addr::from(v.swap_bytes()).to_string())
        }
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(s.get(i * 8..i * 8 + 8)?, 16).ok()?;
                chunk.copy_from_slice(&word.swap_bytes().to_be_bytes());
            }
            Some(std::net::Ipv6Addr::from(bytes).to_string())
        }
        _ => None,
    }
}

/// Parse the text of /proc/net/tcp (or tcp6/udp/udp6). Malformed lines are skipped.
pub fn parse_proc_net(text: &str) -> Vec<SocketEntry> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (ip, port) = f.get(1)?.split_once(':')?;
            Some(SocketEntry {
                local_ip: hex_ip(ip)?,
                local_port: u16::from_str_radix(port, 16).ok()?,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// The sockets that hold `port`: TCP listeners, or any bound UDP socket.
pub(crate) fn holders(entries: &[SocketEntry], proto: SocketProto, port: u16) -> Vec<&SocketEntry> {
    entries
        .iter()
        .filter(|e| e.local_port == port && (proto == SocketProto::Udp || e.state == TCP_LISTEN))
        .collect()
}

/// Judge a port: `owners` pairs each holding socket with its process when visible.
pub fn evaluate(
    proto: SocketProto,
    port: u16,
    held: &[(SocketEntry, Option<ProcInfo>)],
    can_see_owners: bool,
) -> Finding {
    if held.is_empty() {
        return Finding::pass(format!("{}/{port} is free", proto.as_str()));
    }
    let who: Vec<String> = held
        .iter()
        .map(|(s, p)| {
            let owner = match (p, s.inode) {
                (Some(p), _) => format!("{} (pid {})", p.name, p.pid),
                (None, 0) => "the kernel (e.g. a VXLAN device such as flannel.1)".to_string(),
                (None, _) if can_see_owners => "an unknown process".to_string(),
                (None, _) => {
                    "a process not visible to this user (run as root to name it)".to_string()
                }
            };
            format!("{}:{} by {owner}", s.local_ip, s.local_port)
        })
        .collect();
    let mut f = Finding::fail_by(
        &Plain(Phase::Port, ErrorClass::InUse),
        format!("{}/{port} is in use: {}", proto.as_str(), who.join("; ")),
    );
    if let Some((_, Some(p))) = held.first() {
        f = f.evidence(&PortEvidence {
            pid: Some(p.pid),
            process: Some(p.name.clone()),
        });
    }
    f
}

evidence! {
    /// The evidence of a `port.*` row that found its port in use.
    pub(crate) struct PortEvidence {
        /// The process that holds it.
        pid: u32,
        process: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:280A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0
   2: 0A00000A:280A 6400000A:C350 01 00000000:00000000 00:00000000 00000000     0        0 100 1
garbage line
";

    #[test]
    fn parses_proc_net_tcp() {
        let e = parse_proc_net(TCP);
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[0],
            SocketEntry {
                local_ip: "0.0.0.0".into(),
                local_port: 10250,
                state: 0x0A,
                inode: 4242
            }
        );
        assert_eq!(e[1].local_ip, "127.0.0.1");
        assert_eq!(e[2].local_ip, "10.0.0.10");
        // only LISTEN sockets hold a TCP port; the established one on 10250 does not count twice
        assert_eq!(holders(&e, SocketProto::Tcp, 10250).len(), 1);
        assert_eq!(holders(&e, SocketProto::Tcp, 9100).len(), 0);
    }

    #[test]
    fn parses_ipv6() {
        let t = "hdr\n 0: 00000000000000000000000000000000:2A30 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 77 1\n";
        let e = parse_proc_net(t);
        assert_eq!(e[0].local_ip, "::");
        assert_eq!(e[0].local_port, 10800);
        let t = "hdr\n 0: 0000000000000000FFFF00000100007F:2A30 0:0 0A 0:0 0:0 0 0 0 78 1\n";
        assert_eq!(parse_proc_net(t)[0].local_ip, "::ffff:127.0.0.1");
    }

    #[test]
    fn hostile_text_never_panics() {
        for t in [
            "",
            "\n\n",
            "x\n1: zz:zz 0 0A",
            "x\n 0: 0100007F:FFFFF 0:0 0A 0 0 0 0 0 1",
            "x\n 0: 0100:1 a b c d e f g h i",
        ] {
            let _ = parse_proc_net(t);
        }
    }

    #[test]
    fn judgement_names_the_process() {
        assert_eq!(
            evaluate(SocketProto::Tcp, 10250, &[], true).status,
            Status::Pass
        );
        let s = SocketEntry {
            local_ip: "0.0.0.0".into(),
            local_port: 10250,
            state: 0x0A,
            inode: 5,
        };
        let f = evaluate(
            SocketProto::Tcp,
            10250,
            &[(
                s.clone(),
                Some(ProcInfo {
                    pid: 7,
                    name: "kubelet".into(),
                }),
            )],
            true,
        );
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("kubelet (pid 7)"), "{}", f.message);
        let f = evaluate(SocketProto::Tcp, 10250, &[(s, None)], false);
        assert!(f.message.contains("run as root"), "{}", f.message);
        let k = SocketEntry {
            local_ip: "0.0.0.0".into(),
            local_port: 8472,
            state: 7,
            inode: 0,
        };
        assert!(evaluate(SocketProto::Udp, 8472, &[(k, None)], true)
            .message
            .contains("VXLAN"));
    }
}
