//! Hostile peers on loopback only: garbage and floods against the responder, silent and garbage TLS
//! servers, garbage NTP replies. Nothing here may hang past its timeout or panic.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use preflight::net::{NtpClient, TlsProber};
use preflight::probe::echo::{self, EchoFrame};
use preflight::probe::ntp::NtpFailure;
use preflight::probe::tls::{HttpExpect, TlsFailure, Trust};

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn responder_survives_garbage_and_oversized_datagrams() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ack-edge-preflight"))
        .args([
            "responder",
            "--bind",
            "127.0.0.1",
            "--udp-only",
            "--duration",
            "60s",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("responder starts");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on udp 127.0.0.1:8472"), "{line}");

    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect("127.0.0.1:8472").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut answered = 0;
    let mut buf = [0u8; 2048];
    for round in 0..40 {
        // garbage of every size, some oversized, some almost-valid
        for _ in 0..10 {
            let len = (xorshift(&mut seed) % 2000) as usize;
            let junk: Vec<u8> = (0..len)
                .map(|_| xorshift(&mut seed).to_le_bytes()[0])
                .collect();
            let _ = s.send(&junk);
        }
        if round % 8 == 0 {
            let _ = s.send(&vec![0xffu8; 65507]);
            let mut almost = echo::encode(
                &EchoFrame {
                    kind: echo::KIND_REPLY,
                    nonce: [9; 16],
                    size: 1,
                },
                64,
            );
            let _ = s.send(&almost);
            almost[4] = 7;
            let _ = s.send(&almost);
        }
        // a valid probe still gets its own reply
        let nonce = echo::nonce();
        s.send(&echo::encode(
            &EchoFrame {
                kind: echo::KIND_REQUEST,
                nonce,
                size: 100,
            },
            100,
        ))
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            assert!(
                Instant::now() < deadline,
                "round {round}: no reply to a valid probe"
            );
            let Ok(n) = s.recv(&mut buf) else { continue };
            let p =
                echo::decode(&buf[..n]).expect("the responder only ever sends protocol replies");
            if p.nonce == nonce {
                assert_eq!(p.kind, echo::KIND_REPLY);
                assert_eq!(p.size, 100);
                assert!(
                    n <= echo::HEADER + echo::OBSERVED_MAX,
                    "replies are small, never larger than the request: no amplification ({n})"
                );
                // the reply says which source the responder saw: here, this very socket
                assert_eq!(echo::observed(&buf[..n]), Some(s.local_addr().unwrap()));
                answered += 1;
                break;
            }
        }
    }
    assert_eq!(answered, 40);
    // nothing comes back for garbage
    let _ = s.send(b"hello");
    assert!(s.recv(&mut buf).is_err(), "garbage must not be answered");

    // SIGTERM stops it cleanly
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    assert!(rest.contains("answered 40 probes"), "{rest}");
}

#[tokio::test]
async fn silent_tls_server_cannot_hang_the_probe() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((s, _)) = l.accept().await {
            held.push(s); // accept and say nothing (slow-loris)
        }
    });
    let prober = preflight::sys::tls::RustlsProber::new(&[], &[]);
    let start = Instant::now();
    let out = prober
        .probe(
            addr,
            Some("registry.example"),
            Trust::System,
            Some(HttpExpect::Registry),
            Duration::from_millis(300),
        )
        .await;
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(out.session, Err(TlsFailure::Timeout(300)));
}

#[tokio::test]
async fn garbage_tls_server_is_a_handshake_failure() {
    use tokio::io::AsyncWriteExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s.write_all(&vec![0x16u8; 1 << 20]).await; // a megabyte of "handshake" bytes
        }
    });
    let prober = preflight::sys::tls::RustlsProber::new(&[], &[]);
    let out = prober
        .probe(
            addr,
            Some("registry.example"),
            Trust::System,
            None,
            Duration::from_secs(2),
        )
        .await;
    assert!(
        matches!(out.session, Err(TlsFailure::Handshake(_))),
        "{:?}",
        out.session
    );
}

#[tokio::test]
async fn garbage_ntp_reply_is_malformed_not_a_panic() {
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = server.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((_, from)) = server.recv_from(&mut buf).await {
            let _ = server.send_to(&[0xAB; 48], from).await;
        }
    });
    let r = preflight::sys::ntp::RsntpClient
        .query(addr, Duration::from_millis(500))
        .await;
    assert!(matches!(r, Err(NtpFailure::Malformed(_))), "{r:?}");
}

/// A loopback DNS server that answers every query with `respond(query) -> datagrams`.
async fn dns_server(respond: fn(&[u8]) -> Vec<Vec<u8>>) -> SocketAddr {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            for d in respond(&buf[..n]) {
                let _ = sock.send_to(&d, from).await;
            }
        }
    });
    addr
}

/// A well-formed answer with `count` A records (name compression pointer to the question).
fn answer_with(query: &[u8], count: u16) -> Vec<u8> {
    let mut q_end = 12;
    while q_end < query.len() && query[q_end] != 0 {
        q_end += 1 + query[q_end] as usize;
    }
    q_end += 5; // zero label + qtype + qclass
    let mut r = query[..2].to_vec();
    r.extend_from_slice(&[0x81, 0x80, 0, 1]);
    r.extend_from_slice(&count.to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&query[12..q_end.min(query.len())]);
    for i in 0..count {
        r.extend_from_slice(&[
            0xC0,
            0x0C,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            60,
            0,
            4,
            100,
            103,
            i.to_be_bytes()[0],
            i.to_be_bytes()[1],
        ]);
    }
    r
}

fn resolver(server: SocketAddr, ms: u64) -> preflight::sys::dns::HickoryResolver {
    preflight::sys::dns::HickoryResolver::new(Some(server), Duration::from_millis(ms))
}

#[tokio::test]
async fn silent_dns_server_times_out() {
    use preflight::net::Resolver;
    let server = dns_server(|_| vec![]).await;
    let start = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(3),
        resolver(server, 400).resolve_a("registry.example"),
    )
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let r = r.expect("the resolver returns by itself");
    assert!(
        matches!(
            r,
            Err(preflight::probe::dns::DnsFailure::Timeout(_)
                | preflight::probe::dns::DnsFailure::NoServer(_))
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn garbage_and_spoofed_dns_answers_do_not_count() {
    use preflight::net::Resolver;
    // garbage, then an answer with the wrong id: both must be ignored
    let server = dns_server(|q| {
        let mut wrong = answer_with(q, 1);
        wrong[0] ^= 0xff;
        vec![vec![0xde, 0xad, 0xbe, 0xef], vec![0u8; 900], wrong]
    })
    .await;
    let r = tokio::time::timeout(
        Duration::from_secs(3),
        resolver(server, 400).resolve_a("registry.example"),
    )
    .await
    .expect("bounded");
    assert!(r.is_err(), "{r:?}");
}

#[tokio::test]
async fn large_dns_answers_are_parsed_and_oversized_ones_rejected() {
    use preflight::net::Resolver;
    let server = dns_server(|q| vec![answer_with(q, 60)]).await;
    let r = tokio::time::timeout(
        Duration::from_secs(3),
        resolver(server, 1000).resolve_a("registry.example"),
    )
    .await
    .expect("bounded");
    let addrs = r.expect("60 A records resolve");
    assert_eq!(addrs.len(), 60);
    assert!(addrs.iter().all(|a| a.octets()[..2] == [100, 103]));
    // 200 records (3.2 KB) in one UDP datagram without the TC bit: cut at the EDNS size, rejected
    let server = dns_server(|q| vec![answer_with(q, 200)]).await;
    let start = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(3),
        resolver(server, 1000).resolve_a("registry.example"),
    )
    .await
    .expect("bounded");
    assert!(r.is_err(), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

/// A loopback HTTP "server" that reads the request and then writes `reply` (maybe slowly).
async fn http_server(reply: Vec<u8>, delay_per_chunk: Duration) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                for chunk in reply.chunks(64) {
                    if s.write_all(chunk).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(delay_per_chunk).await;
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    addr
}

async fn get(
    addr: SocketAddr,
) -> Result<preflight::probe::tls::HttpAnswer, preflight::probe::tls::HttpFailure> {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    preflight::sys::tls::http_get(s, "registry.example", "/v2/").await
}

#[tokio::test]
async fn http_answers_good_huge_and_malformed() {
    let ok = b"HTTP/1.1 401 Unauthorized\r\nDocker-Distribution-Api-Version: registry/2.0\r\nContent-Length: 0\r\n\r\n".to_vec();
    let a = get(http_server(ok, Duration::ZERO).await).await.unwrap();
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );

    // an endless header block: rejected once it passes the head limit, without reading it all
    let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..20_000 {
        huge.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(40)).as_bytes());
    }
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        get(http_server(huge, Duration::ZERO).await),
    )
    .await
    .expect("bounded");
    assert!(r.is_err(), "{r:?}");

    let r = tokio::time::timeout(
        Duration::from_secs(5),
        get(http_server(b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec(), Duration::ZERO).await),
    )
    .await
    .expect("bounded");
    assert!(
        matches!(r, Err(preflight::probe::tls::HttpFailure::Malformed(_))),
        "{r:?}"
    );
}

#[tokio::test]
async fn slow_loris_http_is_cut_by_the_probe_deadline() {
    // one 64-byte chunk every 200 ms: the head would take minutes
    let mut slow = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..200 {
        slow.extend_from_slice(format!("X-Slow-{i}: {}\r\n", "b".repeat(50)).as_bytes());
    }
    let addr = http_server(slow, Duration::from_millis(200)).await;
    let start = Instant::now();
    let r = tokio::time::timeout(Duration::from_millis(800), get(addr)).await;
    assert!(r.is_err(), "the probe deadline ends it");
    assert!(start.elapsed() < Duration::from_secs(2));
}

/// A loopback DNS server that answers only the first query it gets, after `delay` (a slow resolver
/// whose answer arrives after the retransmission was sent).
async fn slow_dns_server(delay: Duration) -> SocketAddr {
    let sock = std::sync::Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        let mut first = true;
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            if !first {
                continue;
            }
            first = false;
            let reply = answer_with(&buf[..n], 1);
            let s = sock.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = s.send_to(&reply, from).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_slow_resolver_answer_to_the_first_query_still_counts() {
    use preflight::net::Resolver;
    // timeout 1 s: the retry goes out at 0.5 s, the first query's answer comes at 0.7 s
    let server = slow_dns_server(Duration::from_millis(700)).await;
    let start = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(3),
        resolver(server, 1000).resolve_a("registry.example"),
    )
    .await
    .expect("bounded");
    assert_eq!(
        r.expect("a late answer inside the timeout resolves").len(),
        1
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn responder_serves_the_ports_it_can_and_survives_a_connection_flood() {
    use std::io::Read;
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = busy.local_addr().unwrap().port();
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ack-edge-preflight"))
        .args([
            "responder",
            "--bind",
            "127.0.0.1",
            "--duration",
            "60s",
            "--ports",
            &format!("{taken},{free}"),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("responder starts");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(
        first.contains(&format!(
            "cannot listen on tcp 127.0.0.1:{taken}: address in use"
        )),
        "{first}"
    );
    let mut second = String::new();
    err.read_line(&mut second).unwrap();
    assert!(
        second.contains(&format!("listening on tcp 127.0.0.1:{free}")),
        "{second}"
    );
    // a flood of connections that never read: each is answered or turned away, none hangs it
    let held: Vec<_> = (0..400)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", free)).ok())
        .collect();
    assert!(held.len() > 300);
    // a well-behaved prober still gets its banner
    let mut s = std::net::TcpStream::connect(("127.0.0.1", free)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut banner = String::new();
    s.read_to_string(&mut banner).unwrap();
    assert_eq!(banner, format!("{} {free}\n", echo::TCP_BANNER));
    drop(held);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    // one port could not be served: the run says so in its exit code
    assert_eq!(status.code(), Some(1), "{status:?}");
    let mut rest = String::new();
    let _ = err.read_to_string(&mut rest);
    assert!(
        rest.contains("accepted 401 TCP connections") || rest.contains("turned away"),
        "{rest}"
    );
    // the per-probe log is rate-limited: far fewer lines than connections
    assert!(
        rest.lines().filter(|l| l.contains("answered")).count() < 20,
        "{rest}"
    );
}

#[test]
fn responder_rejects_a_bad_port_list_in_one_line() {
    let o = Command::new(env!("CARGO_BIN_EXE_ack-edge-preflight"))
        .args(["responder", "--ports", "10250,8472/sctp"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("--ports") && e.contains("8472/sctp"), "{e}");
}
