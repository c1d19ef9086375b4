//! Benchmark, not a check: the responder under a flood on loopback, figures printed for README
//! (`benches/responder_flood.sh` runs it in release). Ignored in `cargo test`; nothing here is a
//! wall-clock assertion. What must always hold (amplification ≤ 1, replies only to the source) is
//! asserted by the responder's fuzz target and `tests/hostile.rs`; this measures how much.
//!
//! For SECONDS (default 3): one source floods valid echo requests as fast as it can, 63 others
//! send a prober's share each, and a garbage source sends junk and oversized datagrams; then the
//! replies, bytes in and out, and the responder's CPU time and peak RSS are printed.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use preflight::probe::echo::{self, EchoFrame};

fn request(size: u16) -> Vec<u8> {
    echo::encode(
        &EchoFrame {
            kind: echo::KIND_REQUEST,
            nonce: echo::nonce(),
            size: size.into(),
        },
        usize::from(size),
    )
}

/// Ticks of CPU (user + system) and peak RSS (KiB) of a process, from /proc.
fn usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    (ticks, hwm)
}

#[test]
#[ignore = "a benchmark: benches/responder_flood.sh"]
fn responder_flood_figures() {
    let secs: u64 = std::env::var("SECONDS_FLOOD")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let bin =
        std::env::var("BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ack-edge-preflight").into());
    let mut child = Command::new(bin)
        .args([
            "responder",
            "--bind",
            "127.0.0.1",
            "--udp-only",
            "--duration",
            "120s",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("responder starts");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on udp 127.0.0.1:8472"), "{line}");
    std::thread::spawn(move || {
        let mut sink = String::new();
        while err.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let pid = child.id();
    let (cpu0, _) = usage(pid);
    let end = Instant::now() + Duration::from_secs(secs);
    let counters: Arc<[AtomicU64; 6]> = Arc::new(Default::default());
    // [0] flood sent, [1] flood replies, [2] bytes in (all), [3] bytes out (all), [4] others'
    // requests, [5] others' replies
    let mut threads = vec![];
    // the flooder: 127.0.0.2, as fast as one thread sends, 1400-byte requests
    {
        let c = Arc::clone(&counters);
        threads.push(std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.2:0").unwrap();
            s.connect("127.0.0.1:8472").unwrap();
            s.set_nonblocking(true).unwrap();
            let r = request(1400);
            let mut buf = [0u8; 2048];
            while Instant::now() < end {
                for _ in 0..64 {
                    if s.send(&r).is_ok() {
                        c[0].fetch_add(1, Ordering::Relaxed);
                        c[2].fetch_add(r.len() as u64, Ordering::Relaxed);
                    }
                }
                while let Ok(n) = s.recv(&mut buf) {
                    c[1].fetch_add(1, Ordering::Relaxed);
                    c[3].fetch_add(n as u64, Ordering::Relaxed);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
            while let Ok(n) = s.recv(&mut buf) {
                c[1].fetch_add(1, Ordering::Relaxed);
                c[3].fetch_add(n as u64, Ordering::Relaxed);
            }
        }));
    }
    // garbage and oversized datagrams from 127.0.0.3
    {
        let c = Arc::clone(&counters);
        threads.push(std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.3:0").unwrap();
            s.connect("127.0.0.1:8472").unwrap();
            let junk = vec![0xa5u8; 60_000];
            let mut i = 0usize;
            while Instant::now() < end {
                i += 1;
                let len = [7, 100, 1400, 60_000][i % 4];
                if s.send(&junk[..len]).is_ok() {
                    c[2].fetch_add(len as u64, Ordering::Relaxed);
                }
            }
        }));
    }
    // 63 probers: 127.0.1.1 .. 127.0.1.63, ten requests a second each (a node's share)
    for k in 1..64u8 {
        let c = Arc::clone(&counters);
        threads.push(std::thread::spawn(move || {
            let s = UdpSocket::bind(format!("127.0.1.{k}:0")).unwrap();
            s.connect("127.0.0.1:8472").unwrap();
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let mut buf = [0u8; 2048];
            while Instant::now() < end {
                let r = request(200);
                if s.send(&r).is_ok() {
                    c[4].fetch_add(1, Ordering::Relaxed);
                    c[2].fetch_add(r.len() as u64, Ordering::Relaxed);
                }
                if let Ok(n) = s.recv(&mut buf) {
                    c[5].fetch_add(1, Ordering::Relaxed);
                    c[3].fetch_add(n as u64, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let (cpu1, rss) = usage(pid);
    let _ = child.kill();
    let _ = child.wait();
    let tick = 100.0; // USER_HZ
    let c: Vec<u64> = counters.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    let s = secs as f64;
    println!("responder flood, {secs} s on loopback:");
    println!(
        "  flooder (one source): {:.0} requests/s sent, {:.0} replies/s answered",
        c[0] as f64 / s,
        c[1] as f64 / s
    );
    println!(
        "  63 probers at 10/s: {} of {} requests answered ({:.1} %)",
        c[5],
        c[4],
        100.0 * c[5] as f64 / c[4].max(1) as f64
    );
    println!(
        "  bytes in {} / out {}: amplification {:.4}",
        c[2],
        c[3],
        c[3] as f64 / c[2].max(1) as f64
    );
    println!(
        "  responder CPU {:.0} % of a core, peak RSS {} KiB",
        100.0 * (cpu1 - cpu0) as f64 / tick / s,
        rss
    );
    assert!(c[3] <= c[2], "never more bytes out than in");
}
