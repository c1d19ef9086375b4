//! `responder`: answers the agent's UDP 8472 echo and TCP inbound probes on a node or a VPC host.
//! Ignores anything it cannot parse, answers with small replies (no amplification), rate-limits,
//! and stops after `--duration` or on SIGINT / SIGTERM.
//!
//! Field-hardened: it binds every port it can and names each it could not (a busy 10250 does not
//! stop the other ports from being tested), backs off on `accept`/`recv_from` errors (EMFILE does
//! not spin a core), caps concurrent TCP connections, and logs the probes it answers at most once a
//! second per port.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Semaphore;

use crate::probe::echo;

pub(crate) use crate::constants::{NODE_TCP_PORTS as TCP_PORTS, VXLAN_PORT as UDP_PORT};
/// Replies per second, at most (a flood cannot turn the responder into an amplifier).
const MAX_REPLIES_PER_SEC: u32 = 2000;
/// Replies a second to one source address (a node's three echoes, its path-MTU search and its
/// sweeps need a few dozen): a flood from one address cannot take the others' share.
const MAX_REPLIES_PER_SOURCE_PER_SEC: u32 = 200;
/// Sources remembered for the per-source limit; beyond it, new sources share the global limit.
const MAX_SOURCES_TRACKED: usize = 4096;

/// Per-source reply budget over one-second windows, in bounded memory.
struct PerSource {
    seen: std::collections::HashMap<IpAddr, (Instant, u32)>,
}

impl PerSource {
    fn new() -> PerSource {
        PerSource {
            seen: std::collections::HashMap::new(),
        }
    }
    /// Whether `from` may have one more reply at `now`.
    fn allow(&mut self, from: IpAddr, now: Instant) -> bool {
        if self.seen.len() >= MAX_SOURCES_TRACKED && !self.seen.contains_key(&from) {
            self.seen
                .retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(1));
            if self.seen.len() >= MAX_SOURCES_TRACKED {
                return true; // the global limit still bounds it
            }
        }
        let e = self.seen.entry(from).or_insert((now, 0));
        if now.duration_since(e.0) >= Duration::from_secs(1) {
            *e = (now, 0);
        }
        if e.1 < MAX_REPLIES_PER_SOURCE_PER_SEC {
            e.1 += 1;
            true
        } else {
            false
        }
    }
}
/// Concurrent TCP connections, at most; more are closed at once.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// How long a connection may take to receive its banner.
const BANNER_TIMEOUT: Duration = Duration::from_secs(2);
/// Back-off after a failing `accept`/`recv_from`: doubles from the first to the last value.
const BACKOFF_FIRST: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// One port the responder serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    Tcp(u16),
    Udp(u16),
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Port::Tcp(p) => write!(f, "tcp/{p}"),
            Port::Udp(p) => write!(f, "udp/{p}"),
        }
    }
}

/// The default ports: TCP 10250, 10255, 9100, 9445 and UDP 8472.
pub(crate) fn default_ports() -> Vec<Port> {
    let mut v: Vec<Port> = TCP_PORTS.iter().map(|p| Port::Tcp(*p)).collect();
    v.push(Port::Udp(UDP_PORT));
    v
}

/// Parse `--ports`: comma-separated `N` or `N/tcp` (TCP) and `N/udp`; duplicates dropped.
pub(crate) fn parse_ports(s: &str) -> Result<Vec<Port>, String> {
    let mut out = vec![];
    for item in s.split(',').map(str::trim) {
        let (num, proto) = match item.split_once('/') {
            Some((n, p)) => (n, p.to_ascii_lowercase()),
            None => (item, "tcp".to_string()),
        };
        let n: u16 = num.parse().ok().filter(|n| *n != 0).ok_or_else(|| {
            format!("invalid port {item:?} (expected 1-65535, optionally /tcp or /udp)")
        })?;
        let port = match proto.as_str() {
            "tcp" => Port::Tcp(n),
            "udp" => Port::Udp(n),
            _ => {
                return Err(format!(
                    "invalid protocol in {item:?} (expected /tcp or /udp)"
                ))
            }
        };
        if !out.contains(&port) {
            out.push(port);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub(crate) struct ResponderConfig {
    pub bind: IpAddr,
    pub ports: Vec<Port>,
    pub duration: Option<Duration>,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stats {
    pub answered: u64,
    pub ignored: u64,
    pub tcp_accepted: u64,
    /// Connections closed at once because `MAX_CONNECTIONS` were open.
    pub tcp_refused_busy: u64,
    /// `accept`/`recv_from` errors (each followed by a back-off).
    pub errors: u64,
    /// ICMP errors the responder's own replies got on their way back (`IP_RECVERR`).
    pub reply_errors: u64,
}

/// What `run` bound, and what it could not (with the reason in words).
#[derive(Debug, Clone, Default)]
pub(crate) struct Bound {
    pub listening: Vec<String>,
    pub failed: Vec<String>,
}

/// A log line at most once per second per port: "answered N probes on udp/8472 (last from ...)".
struct LogLimit {
    port: Port,
    last: Option<Instant>,
    pending: u64,
    /// The last ICMP error to a reply said (its own limit: an answer said just before must not
    /// hide it).
    last_error: Option<Instant>,
}

impl LogLimit {
    fn new(port: Port) -> LogLimit {
        LogLimit {
            port,
            last: None,
            pending: 0,
            last_error: None,
        }
    }
    fn answered(&mut self, from: SocketAddr) {
        self.pending += 1;
        if self
            .last
            .is_none_or(|l| l.elapsed() >= Duration::from_secs(1))
        {
            let n = self.pending;
            let what = if n == 1 {
                "1 probe".to_string()
            } else {
                format!("{n} probes")
            };
            eprintln!(
                "responder: answered {what} on {} (last from {from})",
                self.port
            );
            self.last = Some(Instant::now());
            self.pending = 0;
        }
    }
}

impl LogLimit {
    /// A reply that got an ICMP error on its way back: at most once per second per port, with the
    /// sender — the router on the way back from here to the prober that rejects it.
    fn reply_error(&mut self, to: SocketAddr, what: &str, from: IpAddr) {
        if self
            .last_error
            .is_none_or(|l| l.elapsed() >= Duration::from_secs(1))
        {
            let place = if to.ip() == from {
                "the prober's host itself answers so".to_string()
            } else {
                format!("the way back from here to {} breaks at {from}", to.ip())
            };
            eprintln!(
                "responder: the reply on {} to {to} got {what} from {from}: {place}",
                self.port
            );
            self.last_error = Some(Instant::now());
        }
    }
}

/// Exponential back-off on consecutive errors, reset by a success.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(BACKOFF_FIRST)
    }
    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
    }
    fn reset(&mut self) {
        self.0 = BACKOFF_FIRST;
    }
}

fn lock(stats: &std::sync::Mutex<Stats>) -> std::sync::MutexGuard<'_, Stats> {
    stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn udp_loop(sock: UdpSocket, port: Port, stats: &std::sync::Mutex<Stats>) {
    let mut buf = vec![0u8; 65536];
    let mut window = Instant::now();
    let mut in_window = 0u32;
    let mut log = LogLimit::new(port);
    let mut backoff = Backoff::new();
    let mut sources = PerSource::new();
    loop {
        let (len, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => {
                backoff.reset();
                x
            }
            Err(e) => {
                // ICMP errors to earlier replies surface here (IP_RECVERR): the way back to the
                // node, seen from this end — said, rate-limited; real trouble (ENOMEM, EMFILE for
                // the reply path) must not spin a core
                if let Some((kind, code, from, to)) = super::errqueue::queued_icmp_for(&sock) {
                    lock(stats).reply_errors += 1;
                    log.reply_error(to, &super::errqueue::icmp_words(kind, code), from);
                } else if e.raw_os_error() != Some(libc::ECONNREFUSED) {
                    lock(stats).errors += 1;
                    backoff.wait().await;
                }
                continue;
            }
        };
        let reply = echo::answer_with_return(&buf[..len], from);
        let send = {
            let mut st = lock(stats);
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
                    if in_window < MAX_REPLIES_PER_SEC && sources.allow(from.ip(), Instant::now()) {
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
            let _ = sock.send_to(&r.reply, from).await;
            // the return datagram: from this port to the node's own address and 8472, as a cloud
            // node's VXLAN toward it would travel (answer_with_return decides where it may go)
            if let Some((to, ret)) = r.back {
                let _ = sock.send_to(&ret, to).await;
            }
            log.answered(from);
        }
    }
}

async fn tcp_loop(
    l: TcpListener,
    port: u16,
    stats: &std::sync::Mutex<Stats>,
    slots: Arc<Semaphore>,
) {
    let mut log = LogLimit::new(Port::Tcp(port));
    let mut backoff = Backoff::new();
    loop {
        let (mut s, from) = if let Ok(x) = l.accept().await {
            backoff.reset();
            x
        } else {
            // EMFILE / ENFILE / ENOBUFS: wait for descriptors to come back instead of spinning
            lock(stats).errors += 1;
            backoff.wait().await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            lock(stats).tcp_refused_busy += 1;
            drop(s);
            continue;
        };
        lock(stats).tcp_accepted += 1;
        log.answered(from);
        tokio::spawn(async move {
            let banner = format!("{} {port}\n", echo::TCP_BANNER);
            let _ = tokio::time::timeout(BANNER_TIMEOUT, async {
                let _ = s.write_all(banner.as_bytes()).await;
                let _ = s.shutdown().await;
            })
            .await;
            drop(permit);
        });
    }
}

fn bind_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EADDRINUSE) => "address in use (another program listens there)".into(),
        Some(libc::EACCES) => "permission denied".into(),
        Some(libc::EADDRNOTAVAIL) => "address not available on this host".into(),
        _ => super::errno::words(e),
    }
}

/// Bind every port it can (a busy port is reported, the others still serve), then serve. An error
/// only when nothing could be bound.
pub(crate) async fn run(cfg: ResponderConfig, ready: impl FnOnce(&Bound)) -> Result<Stats, String> {
    let mut bound = Bound::default();
    let mut udps = vec![];
    let mut tcps = vec![];
    for port in &cfg.ports {
        match *port {
            Port::Udp(p) => match UdpSocket::bind(SocketAddr::new(cfg.bind, p)).await {
                Ok(s) => {
                    // ICMP errors to its replies are read and said (the way back, from this end);
                    // an IPv6 bind has no IPv4 error queue and keeps the plain behaviour
                    let _ = nix::sys::socket::setsockopt(
                        &s,
                        nix::sys::socket::sockopt::Ipv4RecvErr,
                        &true,
                    );
                    bound.listening.push(format!(
                        "udp {}",
                        s.local_addr().map(|a| a.to_string()).unwrap_or_default()
                    ));
                    udps.push((s, *port));
                }
                Err(e) => bound
                    .failed
                    .push(format!("udp {}:{p}: {}", cfg.bind, bind_error(&e))),
            },
            Port::Tcp(p) => match TcpListener::bind(SocketAddr::new(cfg.bind, p)).await {
                Ok(l) => {
                    bound.listening.push(format!(
                        "tcp {}",
                        l.local_addr().map(|a| a.to_string()).unwrap_or_default()
                    ));
                    tcps.push((l, p));
                }
                Err(e) => bound
                    .failed
                    .push(format!("tcp {}:{p}: {}", cfg.bind, bind_error(&e))),
            },
        }
    }
    if bound.listening.is_empty() {
        return Err(format!(
            "could not listen on any port: {}",
            bound.failed.join("; ")
        ));
    }
    ready(&bound);
    let stats = std::sync::Mutex::new(Stats::default());
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let serve = async {
        let tcp_all = futures::future::join_all(
            tcps.into_iter()
                .map(|(l, p)| tcp_loop(l, p, &stats, slots.clone())),
        );
        let udp_all =
            futures::future::join_all(udps.into_iter().map(|(s, p)| udp_loop(s, p, &stats)));
        tokio::join!(udp_all, tcp_all);
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
            () = term => {},
            () = dur => {},
        }
    };
    tokio::select! {
        () = serve => {},
        () = stop => {},
    }
    let st = *lock(&stats);
    Ok(st)
}

#[cfg(test)]
mod tests {

    #[test]
    fn one_source_cannot_take_every_reply() {
        let mut p = super::PerSource::new();
        let t0 = Instant::now();
        let a: IpAddr = [10, 0, 0, 10].into();
        let b: IpAddr = [10, 0, 0, 11].into();
        let allowed = (0..1000).filter(|_| p.allow(a, t0)).count();
        assert_eq!(allowed, super::MAX_REPLIES_PER_SOURCE_PER_SEC as usize);
        assert!(p.allow(b, t0), "another source still gets its answers");
        assert!(
            p.allow(a, t0 + Duration::from_secs(1)),
            "a new second, a new budget"
        );
        // a flood of spoofed sources does not grow memory past the bound
        for i in 0..20_000u32 {
            p.allow(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(p.seen.len() <= super::MAX_SOURCES_TRACKED);
    }

    use super::*;

    #[test]
    fn ports() {
        assert_eq!(
            parse_ports("10250, 8472/udp,9100/TCP").unwrap(),
            vec![Port::Tcp(10250), Port::Udp(8472), Port::Tcp(9100)]
        );
        assert_eq!(parse_ports("10250,10250").unwrap(), vec![Port::Tcp(10250)]);
        for bad in ["", "0", "70000", "8472/sctp", "x", "10250,"] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
        assert_eq!(default_ports().len(), 5);
    }

    #[tokio::test]
    async fn a_busy_port_is_reported_and_the_others_still_serve() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = busy.local_addr().unwrap().port();
        let cfg = ResponderConfig {
            bind: "127.0.0.1".parse().unwrap(),
            ports: vec![Port::Tcp(taken), Port::Tcp(0), Port::Udp(0)],
            duration: Some(Duration::from_millis(300)),
        };
        let mut seen = Bound::default();
        let st = run(cfg, |b| seen = b.clone()).await.unwrap();
        assert_eq!(seen.listening.len(), 2, "{seen:?}");
        assert_eq!(seen.failed.len(), 1, "{seen:?}");
        assert!(
            seen.failed[0].contains(&format!(":{taken}: address in use")),
            "{seen:?}"
        );
        assert_eq!(st.answered, 0);
    }

    #[tokio::test]
    async fn nothing_bound_is_an_error() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let cfg = ResponderConfig {
            bind: "127.0.0.1".parse().unwrap(),
            ports: vec![Port::Tcp(busy.local_addr().unwrap().port())],
            duration: Some(Duration::from_millis(100)),
        };
        let e = run(cfg, |_| {}).await.unwrap_err();
        assert!(e.starts_with("could not listen on any port"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_and_caps() {
        let mut b = Backoff::new();
        let start = tokio::time::Instant::now();
        for _ in 0..10 {
            b.wait().await;
        }
        // 10+20+40+...+640 ms, then 1 s each: no spin, no runaway
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(10 + 20 + 40 + 80 + 160 + 320 + 640 + 1000 * 3)
        );
        b.reset();
        assert_eq!(b.0, BACKOFF_FIRST);
    }
}
