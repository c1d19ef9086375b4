//! One definition of every number and name that more than one place needs: the node's inbound
//! ports, the VXLAN port, NTP defaults and thresholds, timeouts, fan-out caps and the host-name rule.
//! The planner, the responder, clap's defaults and help, and the checks all read them from here.

use std::time::Duration;

/// TCP ports the edge node serves (kubelet 10250 / 10255, node-exporter 9100, 9445), in the order of
/// the documents' inbound table.
pub(crate) const NODE_TCP_PORTS: [u16; 4] = [10250, 10255, 9100, 9445];
/// TCP ports the node's own components bind locally (not reached from the VPC): the kubelet's
/// healthz 10248, kube-proxy's metrics 10249 and healthz 10256, and the edge hub's (OpenYurt
/// yurthub) 10261, 10267 and 10268. A leftover process holding one breaks the component.
pub(crate) const NODE_LOCAL_TCP_PORTS: [u16; 6] = [10248, 10249, 10256, 10261, 10267, 10268];
/// Flannel VXLAN's UDP port (Linux's IANA-pre-standard default that Flannel uses).
pub(crate) const VXLAN_PORT: u16 = 8472;
/// The VPC DNS servers every Alibaba Cloud VPC answers on (reachable over the dedicated line).
pub(crate) const VPC_DNS_SERVERS: [&str; 2] = ["100.100.2.136", "100.100.2.138"];
/// The VXLAN network identifier of the probes: Flannel's default VNI.
pub(crate) const VXLAN_VNI: u32 = 1;
/// SNTP's port.
pub(crate) const NTP_PORT: u16 = 123;
/// The API server's default port.
pub(crate) const APISERVER_PORT: u16 = 6443;
/// NTP servers the documents name; `--ntp-server` replaces them.
pub(crate) const DEFAULT_NTP_SERVERS: &[&str] = &["ntp1.aliyun.com", "cn.ntp.org.cn"];
/// Clock offset that warns / fails (seconds), and their clap defaults.
pub(crate) const NTP_WARN_OFFSET_S: f64 = 0.5;
pub(crate) const NTP_FAIL_OFFSET_S: f64 = 5.0;
pub(crate) const NTP_WARN_OFFSET_ARG: &str = "0.5s";
pub(crate) const NTP_FAIL_OFFSET_ARG: &str = "5s";
/// Default per-probe timeout (clap default and `Options::for_region`).
pub(crate) const DEFAULT_TIMEOUT_ARG: &str = "3s";
/// `watch --interval` by default: a round every 5 s (about 10 packets a second toward a region's
/// endpoints, NTP and two peers).
pub(crate) const WATCH_INTERVAL_ARG: &str = "5s";
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 3000;
/// A DNS answer slower than this is WARN "slow resolver" (edgeadm's resolver still waits 5 s per
/// attempt, but every pull and API call pays it again).
pub(crate) const DNS_SLOW_MS: u64 = 1000;
/// Most addresses per resolved name that are probed (a hostile DNS answer cannot fan out further).
pub const MAX_ADDRESSES_PER_NAME: usize = 8;
/// Probes in flight at once (a rack sweep of `inbound` plans 5 per node) are sized from the
/// process's open-file limit by [`in_flight_for`]; the run's deadline grows by one timeout per
/// further batch, so every probe still gets its full timeout.
///
/// The most probes in flight however many files the process may open (a bound that protects the
/// host and the line), and the fewest.
pub(crate) const IN_FLIGHT_CEILING: usize = 4096;
pub(crate) const IN_FLIGHT_FLOOR: usize = 64;
/// Open files a probe in flight may hold at once (two connect attempts, a sweep socket, an echo).
pub(crate) const FILES_PER_PROBE: u64 = 4;
/// Open files kept for everything else (the runtime, the resolver, the output).
pub(crate) const FILES_RESERVED: u64 = 64;

/// How many probes may be in flight with `nofile` open files allowed: what they may hold at
/// once, between [`IN_FLIGHT_FLOOR`] and [`IN_FLIGHT_CEILING`].
pub(crate) fn in_flight_for(nofile: u64) -> usize {
    let fit = nofile.saturating_sub(FILES_RESERVED) / FILES_PER_PROBE;
    usize::try_from(fit)
        .unwrap_or(IN_FLIGHT_CEILING)
        .clamp(IN_FLIGHT_FLOOR, IN_FLIGHT_CEILING)
}
/// Most nodes one `inbound` run sweeps.
pub(crate) const MAX_INBOUND_NODES: usize = 4096;
/// Most package-source hosts probed.
pub(crate) const MAX_SOURCE_HOSTS: usize = 16;
/// VXLAN encapsulation overhead (outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14).
pub(crate) const VXLAN_OVERHEAD: u32 = 50;
/// Smallest IPv4 MTU every host must accept (RFC 791); path-MTU searches start here.
pub(crate) const MIN_IPV4_MTU: u32 = 576;
/// Slack of the whole run's deadline beyond two timeouts (one DNS answer, then one probe).
pub(crate) const DEADLINE_SLACK: Duration = Duration::from_millis(500);
/// What a step's own bound allows beyond the probe's timeout, so the probe's own timeout (with its
/// precise message) fires first: a TLS handshake, UDP echoes, DF searches, a banner read.
pub(crate) const STEP_GRACE: Duration = Duration::from_millis(200);
/// The same for one SNTP query (a single datagram each way).
pub(crate) const NTP_GRACE: Duration = Duration::from_millis(100);
/// The least time a package-source connect gets after its DNS answer.
pub(crate) const MIN_CONNECT_BUDGET: Duration = Duration::from_millis(200);
/// Raven's proxy mode: the TCP ports its gateway serves for cloud-edge traffic.
pub(crate) const RAVEN_PROXY_PORTS: std::ops::RangeInclusive<u16> = 10280..=10284;
/// Raven's tunnel mode: IPsec NAT traversal (ESP in UDP, RFC 3948).
pub(crate) const RAVEN_TUNNEL_PORT: u16 = 4500;
/// After a TCP connect succeeded in round trip `r`, its evidence echo gets `ICMP_RTT_FACTOR × r`
/// more (at least [`ICMP_FLOOR`]): a path that answered TCP that fast answers ICMP as fast, so
/// filtered ICMP costs a healthy run a few round trips, not the whole echo budget.
pub(crate) const ICMP_RTT_FACTOR: u32 = 4;
pub(crate) const ICMP_FLOOR: Duration = Duration::from_millis(20);
/// UDP echo probes sent per peer.
pub(crate) const ECHO_TRIES: u32 = 3;

/// A DNS host name: labels of letters, digits, '-' (and '_', seen in real service names), 1–63
/// characters, not starting or ending with '-', at most 253 characters; one trailing dot allowed.
pub(crate) fn valid_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for ok in [
            "ntp1.aliyun.com",
            "ntp1.aliyun.com.",
            "a",
            "_svc.example",
            "x-y.z",
        ] {
            assert!(valid_hostname(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "a..b",
            "-a.b",
            "a-.b",
            "a b",
            "a/b",
            &"x".repeat(64),
            &format!("{}.com", "a.".repeat(130)),
        ] {
            assert!(!valid_hostname(bad), "{bad}");
        }
    }

    #[test]
    fn probes_in_flight_follow_the_open_file_limit_within_bounds() {
        assert_eq!(in_flight_for(1024), 240, "Debian's default soft limit");
        assert_eq!(in_flight_for(1 << 20), IN_FLIGHT_CEILING);
        assert_eq!(in_flight_for(0), IN_FLIGHT_FLOOR);
        assert_eq!(in_flight_for(100), IN_FLIGHT_FLOOR);
        // 200 nodes × 5 ports in one batch once the limit is raised
        assert!(in_flight_for(524_288) >= 1000);
    }
}
