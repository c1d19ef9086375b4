//! UDP echo and path-MTU probes toward a peer running `responder`.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::net::UdpSocket;

use crate::net::UdpProber;
use crate::probe::echo::{self, Packet};
use crate::probe::udp::{EchoOutcome, MtuOutcome};

pub struct TokioUdp;

async fn connected(peer: SocketAddr) -> std::io::Result<UdpSocket> {
    let bind: SocketAddr = if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let s = UdpSocket::bind(bind).await?;
    s.connect(peer).await?;
    Ok(s)
}

fn setsockopt_int(fd: i32, level: i32, name: i32, value: i32) -> std::io::Result<()> {
    // SAFETY: valid fd, pointer to a live c_int and its size.
    let r = unsafe {
        libc::setsockopt(fd, level, name, &value as *const i32 as *const libc::c_void, std::mem::size_of::<i32>() as libc::socklen_t)
    };
    if r == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

fn getsockopt_int(fd: i32, level: i32, name: i32) -> Option<i32> {
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: valid fd, pointers to a live c_int and its length.
    let r = unsafe { libc::getsockopt(fd, level, name, &mut v as *mut i32 as *mut libc::c_void, &mut len) };
    (r == 0).then_some(v)
}

/// Send one DF probe of `size` IP bytes and wait for its echo. Ok(true) echoed, Ok(false) silence,
/// Err for EMSGSIZE (the kernel already knows the path is smaller).
async fn probe_size(s: &UdpSocket, size: u32, wait: Duration) -> std::io::Result<bool> {
    let n = echo::nonce();
    let payload = size.saturating_sub(28) as usize; // IPv4 20 + UDP 8
    let pkt = echo::encode(&Packet { kind: echo::KIND_REQUEST, nonce: n, size }, payload);
    s.send(&pkt).await?;
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.recv(&mut buf)).await {
            Err(_) => return Ok(false),
            Ok(Err(e)) if e.raw_os_error() == Some(libc::EMSGSIZE) => return Err(e),
            Ok(Err(_)) => return Ok(false),
            Ok(Ok(len)) => {
                if let Some(p) = echo::decode(&buf[..len]) {
                    if p.kind == echo::KIND_REPLY && p.nonce == n {
                        return Ok(true);
                    }
                }
            }
        }
    }
}

#[async_trait]
impl UdpProber for TokioUdp {
    async fn echo(&self, peer: SocketAddr, tries: u32, timeout: Duration) -> EchoOutcome {
        let mut out = EchoOutcome { sent: 0, received: 0, rtts_ms: vec![], error: None };
        let s = match connected(peer).await {
            Ok(s) => s,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        };
        let start = Instant::now();
        let mut sent: Vec<([u8; 16], Instant)> = vec![];
        // a few ms apart: enough to see loss of single packets, without slowing the run
        let spacing = (timeout / (tries.max(1) * 4)).min(Duration::from_millis(5));
        let mut next_send = Instant::now();
        let mut buf = [0u8; 512];
        while start.elapsed() < timeout && (out.received as usize) < tries as usize {
            if sent.len() < tries as usize && Instant::now() >= next_send {
                let n = echo::nonce();
                let pkt = echo::encode(&Packet { kind: echo::KIND_REQUEST, nonce: n, size: 64 }, 64);
                match s.send(&pkt).await {
                    Ok(_) => {
                        sent.push((n, Instant::now()));
                        out.sent += 1;
                    }
                    Err(e) => out.error = Some(format!("send: {e}")),
                }
                next_send = Instant::now() + spacing;
            }
            let wait_until = if sent.len() < tries as usize { next_send } else { start + timeout };
            let left = wait_until.saturating_duration_since(Instant::now()).min(timeout.saturating_sub(start.elapsed()));
            match tokio::time::timeout(left, s.recv(&mut buf)).await {
                Err(_) => {}
                Ok(Err(e)) => {
                    out.error = Some(if e.raw_os_error() == Some(libc::ECONNREFUSED) {
                        "ICMP port unreachable: nothing listens on UDP 8472 there".to_string()
                    } else {
                        e.to_string()
                    });
                    if sent.len() >= tries as usize {
                        break;
                    }
                }
                Ok(Ok(len)) => {
                    if let Some(p) = echo::decode(&buf[..len]) {
                        if p.kind == echo::KIND_REPLY {
                            if let Some(i) = sent.iter().position(|(n, _)| *n == p.nonce) {
                                let (_, at) = sent.remove(i);
                                out.received += 1;
                                out.rtts_ms.push(at.elapsed().as_secs_f64() * 1000.0);
                                sent.push(([0; 16], at)); // keep the count of sent probes, never matches again
                            }
                        }
                    }
                }
            }
        }
        out
    }

    async fn path_mtu(&self, peer: SocketAddr, iface_mtu: Option<u32>, timeout: Duration) -> Result<MtuOutcome, String> {
        if !peer.is_ipv4() {
            return Err("IPv6 path MTU is not measured".into());
        }
        let start = Instant::now();
        let s = connected(peer).await.map_err(|e| e.to_string())?;
        let fd = s.as_raw_fd();
        setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, libc::IP_PMTUDISC_DO).map_err(|e| format!("cannot set DF: {e}"))?;
        let top = iface_mtu.or_else(|| getsockopt_int(fd, libc::IPPROTO_IP, libc::IP_MTU).map(|v| v as u32)).unwrap_or(1500);
        let step = (timeout / 6).clamp(Duration::from_millis(100), Duration::from_millis(500));
        let left = || timeout.saturating_sub(start.elapsed());
        // 1. Is the responder there at all (small packet)?
        if !probe_size(&s, 576, step.max(Duration::from_millis(300)).min(left())).await.unwrap_or(false) {
            return Err(format!("no echo from a responder at {peer} (see udp.vxlan)"));
        }
        // 2. Full size: passes, or teaches the kernel the path MTU (ICMP fragmentation needed).
        let mut lo = 576u32;
        let mut hi = top;
        if let Ok(true) = probe_size(&s, top, step.min(left())).await {
            return Ok(MtuOutcome { path_mtu: top, iface_mtu, iface: None, method: format!("{top}-byte DF probe echoed") });
        }
        if let Some(learned) = getsockopt_int(fd, libc::IPPROTO_IP, libc::IP_MTU).map(|v| v as u32) {
            if learned < top && learned >= lo && probe_size(&s, learned, step.min(left())).await.unwrap_or(false) {
                return Ok(MtuOutcome {
                    path_mtu: learned,
                    iface_mtu,
                    iface: None,
                    method: format!("ICMP fragmentation-needed reported {learned}; a {learned}-byte DF probe was echoed"),
                });
            }
        }
        // 3. No ICMP (a PMTU black hole): binary search within the time left.
        hi -= 1;
        while lo < hi && left() > Duration::from_millis(50) {
            let mid = (lo + hi).div_ceil(2);
            match probe_size(&s, mid, step.min(left())).await {
                Ok(true) => lo = mid,
                _ => hi = mid - 1,
            }
        }
        Ok(MtuOutcome { path_mtu: lo, iface_mtu, iface: None, method: "binary search with DF probes (no ICMP fragmentation-needed seen)".into() })
    }
}
