//! Hostile peers on loopback only: garbage and floods against the responder, silent and garbage TLS
//! servers, garbage NTP replies. Nothing here may hang past its timeout or panic.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use preflight::net::{NtpClient, TlsProber};
use preflight::probe::echo::{self, Packet};
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
        .args(["responder", "--bind", "127.0.0.1", "--udp-only", "--duration", "60s"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("responder starts");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on udp 127.0.0.1:8472"), "{line}");

    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect("127.0.0.1:8472").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut answered = 0;
    let mut buf = [0u8; 2048];
    for round in 0..40 {
        // garbage of every size, some oversized, some almost-valid
        for _ in 0..10 {
            let len = (xorshift(&mut seed) % 2000) as usize;
            let junk: Vec<u8> = (0..len).map(|_| xorshift(&mut seed) as u8).collect();
            let _ = s.send(&junk);
        }
        if round % 8 == 0 {
            let _ = s.send(&vec![0xffu8; 65507]);
            let mut almost = echo::encode(&Packet { kind: echo::KIND_REPLY, nonce: [9; 16], size: 1 }, 64);
            let _ = s.send(&almost);
            almost[4] = 7;
            let _ = s.send(&almost);
        }
        // a valid probe still gets its own reply
        let nonce = echo::nonce();
        s.send(&echo::encode(&Packet { kind: echo::KIND_REQUEST, nonce, size: 100 }, 100)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            assert!(Instant::now() < deadline, "round {round}: no reply to a valid probe");
            let Ok(n) = s.recv(&mut buf) else { continue };
            let p = echo::decode(&buf[..n]).expect("the responder only ever sends protocol replies");
            if p.nonce == nonce {
                assert_eq!(p.kind, echo::KIND_REPLY);
                assert_eq!(p.size, 100);
                assert_eq!(n, echo::HEADER, "replies are small: no amplification");
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
    // SAFETY: kill with a valid pid and signal number.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
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
    let out = prober.probe(addr, Some("registry.example"), Trust::System, Some(HttpExpect::Registry), Duration::from_millis(300)).await;
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
    let out = prober.probe(addr, Some("registry.example"), Trust::System, None, Duration::from_secs(2)).await;
    assert!(matches!(out.session, Err(TlsFailure::Handshake(_))), "{:?}", out.session);
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
    let r = preflight::sys::ntp::RsntpClient.query(addr, Duration::from_millis(500)).await;
    assert!(matches!(r, Err(NtpFailure::Malformed(_))), "{r:?}");
}
