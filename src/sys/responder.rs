//! `responder`: answers the agent's UDP 8472 echo and TCP inbound probes on a node or a VPC host.
//! Ignores anything it cannot parse, answers with small replies (no amplification), rate-limits,
//! and stops after `--duration` or on SIGINT / SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};

use crate::probe::echo;

pub use crate::constants::{NODE_TCP_PORTS as TCP_PORTS, VXLAN_PORT as UDP_PORT};
/// Replies per second, at most (a flood cannot turn the responder into an amplifier).
const MAX_REPLIES_PER_SEC: u32 = 2000;

#[derive(Debug, Clone)]
pub struct ResponderConfig {
    pub bind: IpAddr,
    pub udp_port: u16,
    pub tcp_ports: Vec<u16>,
    pub duration: Option<Duration>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub answered: u64,
    pub ignored: u64,
    pub tcp_accepted: u64,
}

async fn udp_loop(sock: UdpSocket, stats: &std::sync::Mutex<Stats>) {
    let mut buf = vec![0u8; 65536];
    let mut window = Instant::now();
    let mut in_window = 0u32;
    loop {
        let Ok((len, from)) = sock.recv_from(&mut buf).await else { continue };
        let reply = echo::answer(&buf[..len]);
        let send = {
            let mut st = stats.lock().unwrap_or_else(|e| e.into_inner());
            match reply {
                None => {
                    st.ignored += 1;
                    None
                }
                Some(r) => {
                    if window.elapsed() >= Duration::from_secs(1) {
                        window = Instant::now();
                        in_window = 0;
                    }
                    if in_window < MAX_REPLIES_PER_SEC {
                        in_window += 1;
                        st.answered += 1;
                        Some(r)
                    } else {
                        st.ignored += 1;
                        None
                    }
                }
            }
        };
        if let Some(r) = send {
            let _ = sock.send_to(&r, from).await;
        }
    }
}

async fn tcp_loop(l: TcpListener, port: u16, stats: &std::sync::Mutex<Stats>) {
    loop {
        let Ok((mut s, _)) = l.accept().await else { continue };
        stats.lock().unwrap_or_else(|e| e.into_inner()).tcp_accepted += 1;
        tokio::spawn(async move {
            let banner = format!("{} {port}\n", echo::TCP_BANNER);
            let _ = tokio::time::timeout(Duration::from_secs(2), s.write_all(banner.as_bytes())).await;
            let _ = s.shutdown().await;
        });
    }
}

/// Bind every socket first (so a busy port is an error before anything runs), then serve.
pub async fn run(cfg: ResponderConfig, ready: impl FnOnce(Vec<String>)) -> Result<Stats, String> {
    let udp = UdpSocket::bind(SocketAddr::new(cfg.bind, cfg.udp_port))
        .await
        .map_err(|e| format!("cannot bind udp {}:{}: {e}", cfg.bind, cfg.udp_port))?;
    let mut listening = vec![format!("udp {}", udp.local_addr().map(|a| a.to_string()).unwrap_or_default())];
    let mut tcps = vec![];
    for port in &cfg.tcp_ports {
        let l = TcpListener::bind(SocketAddr::new(cfg.bind, *port))
            .await
            .map_err(|e| format!("cannot bind tcp {}:{port}: {e}", cfg.bind))?;
        listening.push(format!("tcp {}", l.local_addr().map(|a| a.to_string()).unwrap_or_default()));
        tcps.push((l, *port));
    }
    ready(listening);
    let stats = std::sync::Mutex::new(Stats::default());
    let serve = async {
        let tcp_all = futures::future::join_all(tcps.into_iter().map(|(l, p)| tcp_loop(l, p, &stats)));
        tokio::join!(udp_loop(udp, &stats), tcp_all);
    };
    let stop = async {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => futures::future::pending::<()>().await,
            }
        };
        let dur = async {
            match cfg.duration {
                Some(d) => tokio::time::sleep(d).await,
                None => futures::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term => {},
            _ = dur => {},
        }
    };
    tokio::select! {
        _ = serve => {},
        _ = stop => {},
    }
    let st = *stats.lock().unwrap_or_else(|e| e.into_inner());
    Ok(st)
}
