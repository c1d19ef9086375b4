//! The engine with fakes of every trait: classification, chaining, and the one-deadline rule
//! (on tokio's paused clock, so no wall-clock assertions).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

mod common;
use preflight::catalogue;
use preflight::checks::plan;
use preflight::engine::{run, EngineConfig, Net};
use preflight::net::*;
use preflight::options::{parse_host_port, Options};
use preflight::probe::dns::DnsFailure;
use preflight::probe::echo::{self, Datagrams, DgramError};
use preflight::probe::ntp::{NtpFailure, NtpSample};
use preflight::probe::port::{ProcInfo, SocketEntry, SocketProto};
use preflight::probe::route::{RouteFailure, RouteInfo};
use preflight::probe::tcp::TcpFailure;
use preflight::probe::tls::{
    HttpAnswer, HttpExpect, TlsFailure, TlsOutcome, TlsSession, Trust, TrustFailure,
};
use preflight::probe::udp::DfSocket;
use preflight::regions::RegionTable;
use preflight::result::{CheckResult, Status};

#[derive(Default)]
struct World {
    dns: HashMap<String, Result<Vec<Ipv4Addr>, DnsFailure>>,
    tcp: HashMap<SocketAddr, Result<(), TcpFailure>>,
    ntp: HashMap<SocketAddr, Result<f64, NtpFailure>>,
    /// every network call hangs forever (a blackholed network)
    hang: bool,
    no_route: Vec<IpAddr>,
    tools_missing: Vec<&'static str>,
    files: HashMap<&'static str, &'static str>,
    addrs: Vec<LocalAddr>,
    intercepted: bool,
    vxlan_blocked: bool,
    path_mtu: u32,
    /// ICMP fragmentation-needed reaches the node (false: a PMTU black hole)
    pmtu_icmp: bool,
    /// TCP connects and TLS handshakes to these addresses take 100 s, whatever the timeout says
    slow: Vec<IpAddr>,
    /// The first SNTP request to each server is lost (a lossy line); later ones are answered.
    ntp_lose_first: std::sync::Mutex<Vec<SocketAddr>>,
    lossy_ntp: bool,
    /// The routers a TTL-limited probe meets, in order; silence after the last.
    hops: Vec<IpAddr>,
}

/// A path of routers that answer TTL-limited probes at once, and silence after them.
struct FakeHops(Vec<IpAddr>);

#[async_trait]
impl preflight::probe::trace::HopProbe for FakeHops {
    async fn probe(
        &mut self,
        ttl: u8,
        wait: Duration,
    ) -> Result<preflight::probe::trace::HopReply, String> {
        use preflight::probe::trace::HopReply;
        if let Some(r) = self.0.get(usize::from(ttl) - 1) {
            tokio::time::sleep(Duration::from_millis(1)).await;
            return Ok(HopReply::TimeExceeded(*r));
        }
        tokio::time::sleep(wait).await;
        Ok(HopReply::Silent)
    }
}

/// A responder behind a path with an MTU: answers echo requests that fit, after 1 ms.
struct FakeSock {
    blocked: bool,
    hang: bool,
    mtu: u32,
    icmp: bool,
    learned: Option<u32>,
    df: bool,
    queue: std::collections::VecDeque<Vec<u8>>,
}

#[async_trait]
impl Datagrams for FakeSock {
    async fn send_probe(&mut self, d: &[u8]) -> Result<(), DgramError> {
        let size = u32::try_from(d.len()).unwrap() + 28;
        if self.learned.is_some_and(|l| size > l) {
            return Err(DgramError::TooBig);
        }
        if size > self.mtu {
            if self.icmp && self.df {
                self.learned = Some(self.mtu);
            }
            return Ok(());
        }
        if !self.blocked {
            if let Some(r) = echo::answer(d) {
                self.queue.push_back(r);
            }
        }
        Ok(())
    }
    async fn recv_probe(&mut self, buf: &mut [u8]) -> Result<usize, DgramError> {
        hang_if(self.hang).await;
        match self.queue.front().cloned() {
            Some(d) => {
                tokio::time::sleep(Duration::from_millis(1)).await;
                self.queue.pop_front(); // cancel-safe like a real socket
                buf[..d.len()].copy_from_slice(&d);
                Ok(d.len())
            }
            None => futures::future::pending().await,
        }
    }
}

impl DfSocket for FakeSock {
    fn set_df(&mut self) -> Result<(), String> {
        self.df = true;
        Ok(())
    }
    fn learned_mtu(&self) -> Option<u32> {
        self.learned
    }
}

async fn hang_if(h: bool) {
    if h {
        futures::future::pending::<()>().await;
    }
}

#[async_trait]
impl Resolver for World {
    async fn resolve_a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsFailure> {
        hang_if(self.hang).await;
        self.dns
            .get(name)
            .cloned()
            .unwrap_or(Err(DnsFailure::NxDomain))
    }
    fn servers(&self) -> Vec<String> {
        vec!["100.100.2.136".into()]
    }
}

#[async_trait]
impl Connector for World {
    async fn connect(&self, addr: SocketAddr, _t: Duration) -> Result<Connected, TcpFailure> {
        hang_if(self.hang).await;
        if self.slow.contains(&addr.ip()) {
            tokio::time::sleep(Duration::from_secs(100)).await;
        }
        match self
            .tcp
            .get(&addr)
            .cloned()
            .unwrap_or(Err(TcpFailure::Refused))
        {
            Ok(()) => Ok(Connected {
                local: "10.0.0.10:40000".parse().unwrap(),
                mss: Some(1448),
            }),
            Err(e) => Err(e),
        }
    }
    async fn read_banner(&self, addr: SocketAddr, t: Duration) -> Result<String, TcpFailure> {
        self.connect(addr, t)
            .await
            .map(|_| "AEPF-TCP 10250".to_string())
    }
    fn ttl_path(
        &self,
        _addr: SocketAddr,
    ) -> Result<Box<dyn preflight::probe::trace::HopProbe>, OsError> {
        if self.hops.is_empty() {
            return Err(OsError::new("TTL probe", "not in this world"));
        }
        Ok(Box::new(FakeHops(self.hops.clone())))
    }
}

#[async_trait]
impl TlsProber for World {
    async fn probe(
        &self,
        addr: SocketAddr,
        _name: Option<&str>,
        _trust: Trust,
        http: Option<HttpExpect>,
        t: Duration,
    ) -> TlsOutcome {
        if let Err(e) = self.connect(addr, t).await {
            return TlsOutcome {
                session: Err(TlsFailure::Connect(e)),
                http: None,
            };
        }
        let trust_failure = self.intercepted.then_some(TrustFailure::UnknownIssuer);
        let session = TlsSession {
            version: "TLSv1.3".into(),
            cert: None,
            trust_failure,
        };
        let http = http.map(|e| {
            Ok(match e {
                HttpExpect::Registry => HttpAnswer {
                    status: 401,
                    headers: vec![(
                        "docker-distribution-api-version".into(),
                        "registry/2.0".into(),
                    )],
                },
                HttpExpect::Oss => HttpAnswer {
                    status: 403,
                    headers: vec![("x-oss-request-id".into(), "x".into())],
                },
            })
        });
        TlsOutcome {
            session: Ok(session),
            http,
        }
    }
}

#[async_trait]
impl UdpProber for World {
    async fn open(&self, _peer: SocketAddr) -> Result<Box<dyn DfSocket>, OsError> {
        hang_if(self.hang).await;
        Ok(Box::new(FakeSock {
            blocked: self.vxlan_blocked,
            hang: self.hang,
            mtu: self.path_mtu,
            icmp: self.pmtu_icmp,
            learned: None,
            df: false,
            queue: Default::default(),
        }))
    }
}

#[async_trait]
impl NtpClient for World {
    async fn query(&self, addr: SocketAddr, t: Duration) -> Result<NtpSample, NtpFailure> {
        hang_if(self.hang).await;
        let lose = self.ntp_lose_first.lock().map(|mut v| {
            let first = !v.contains(&addr);
            v.push(addr);
            first
        });
        if self.ntp.contains_key(&addr) && lose.unwrap_or(false) && self.lossy_ntp {
            tokio::time::sleep(t).await;
            return Err(NtpFailure::Timeout(preflight::clock::ms(t)));
        }
        match self
            .ntp
            .get(&addr)
            .cloned()
            .unwrap_or(Err(NtpFailure::Timeout(preflight::clock::ms(t))))
        {
            Ok(off) => Ok(NtpSample {
                server: addr,
                offset_s: off,
                rtt_s: 0.002,
                stratum: 2,
                reference: "lab".into(),
            }),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Routes for World {
    async fn route_to(&self, dst: IpAddr) -> Result<RouteInfo, RouteFailure> {
        if self.no_route.contains(&dst) {
            return Err(RouteFailure::NoRoute);
        }
        Ok(RouteInfo {
            interface: Some("eth0".into()),
            gateway: Some("10.0.0.1".parse().unwrap()),
            source: Some("10.0.0.10".parse().unwrap()),
            table: Some(254),
            ..Default::default()
        })
    }
    async fn addresses(&self) -> Result<Vec<LocalAddr>, OsError> {
        Ok(self.addrs.clone())
    }
    async fn routes(&self) -> Result<Vec<RouteEntry>, OsError> {
        Ok(vec![])
    }
    fn iface_mtu(&self, _: &str) -> Option<u32> {
        Some(1500)
    }
}

impl HostFacts for World {
    fn find_tool(&self, name: &str) -> ToolLookup {
        if self.tools_missing.contains(&name) {
            ToolLookup::Missing
        } else {
            ToolLookup::Found(PathBuf::from("/usr/bin").join(name.trim_start_matches('/')))
        }
    }
    fn tool_dirs(&self) -> Vec<PathBuf> {
        vec!["/usr/bin".into()]
    }
    fn read_file(&self, path: &str) -> Option<String> {
        self.files.get(path).map(std::string::ToString::to_string)
    }
    fn list_dir(&self, _: &str) -> Vec<String> {
        vec![]
    }
    fn sockets(&self, proto: SocketProto) -> Result<Vec<SocketEntry>, OsError> {
        Ok(match proto {
            SocketProto::Tcp => vec![SocketEntry {
                local_ip: "0.0.0.0".into(),
                local_port: 9100,
                state: 0x0A,
                inode: 77,
            }],
            SocketProto::Udp => vec![],
        })
    }
    fn socket_owners(&self) -> HashMap<u64, ProcInfo> {
        HashMap::from([(
            77,
            ProcInfo {
                pid: 1234,
                name: "node_exporter".into(),
            },
        )])
    }
    fn privileged(&self) -> bool {
        true
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn healthy() -> World {
    let mut w = World::default();
    w.dns.insert(
        "cs-anony-vpc.cn-hangzhou.aliyuncs.com".into(),
        Ok(vec![ip("100.103.42.233")]),
    );
    w.dns.insert(
        "aliacs-k8s-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com".into(),
        Ok(vec![ip("100.118.28.10")]),
    );
    w.dns.insert(
        "registry-cn-hangzhou-vpc.ack.aliyuncs.com".into(),
        Ok(vec![ip("100.103.9.188"), ip("100.103.7.181")]),
    );
    w.dns
        .insert("ntp1.aliyun.com".into(), Ok(vec![ip("198.18.0.123")]));
    w.dns
        .insert("cn.ntp.org.cn".into(), Ok(vec![ip("198.18.0.124")]));
    w.dns
        .insert("mirror.lab.test".into(), Ok(vec![ip("198.18.0.80")]));
    for a in [
        "100.103.42.233:443",
        "100.118.28.10:443",
        "100.103.9.188:443",
        "100.103.7.181:443",
        "192.168.0.10:6443",
        "198.18.0.80:80",
    ] {
        w.tcp.insert(sa(a), Ok(()));
    }
    w.ntp.insert(sa("198.18.0.123:123"), Ok(0.01));
    w.ntp.insert(sa("198.18.0.124:123"), Ok(0.02));
    w.files.insert(
        "/etc/apt/sources.list",
        "deb http://mirror.lab.test/debian bookworm main\n",
    );
    w.addrs = vec![LocalAddr {
        interface: "eth0".into(),
        net: "10.0.0.10/24".parse().unwrap(),
    }];
    w.path_mtu = 1500;
    w.pmtu_icmp = true;
    w
}

fn opts() -> Options {
    let t = RegionTable::builtin().unwrap();
    let mut o = Options::for_region(t.find("cn-hangzhou", "t").unwrap().clone());
    o.apiserver = Some(parse_host_port("192.168.0.10", 6443, "--apiserver").unwrap());
    o.peers = vec!["192.168.0.20".parse().unwrap()];
    o
}

fn cfg() -> EngineConfig {
    EngineConfig {
        line_peer: None,
        cloud_nets: vec![],
        from_cloud: false,
        region: "cn-hangzhou".into(),
        timeout: Duration::from_secs(3),
        ntp_warn_offset: 0.5,
        ntp_fail_offset: 5.0,
        in_flight: 256,
    }
}

/// The world's `Net`, with its resolver and connector replaced (a flaky line, a periodic one).
fn net_with<'a>(w: &'a World, resolver: &'a dyn Resolver, connector: &'a dyn Connector) -> Net<'a> {
    Net {
        resolver,
        connector,
        ntp: w,
        routes: w,
        host: w,
        tls: w,
        udp: w,
        icmp: None,
    }
}

async fn check(w: &World, o: &Options) -> Vec<CheckResult> {
    let cat = catalogue::builtin().unwrap();
    let probes = plan(o, cat);
    let net = net_with(w, w, w);
    let results = run(&probes, &net, &cfg(), cat).await;
    // every engine-test report must satisfy the published schema (closed phase/error enums,
    // phase and error on every FAIL and WARN row)
    let errs = common::schema_errors(&common::report_of(results.clone()));
    assert!(
        errs.is_empty(),
        "engine report breaks docs/report.schema.json: {errs:#?}"
    );
    results
}

fn rows<'a>(r: &'a [CheckResult], id: &str) -> Vec<&'a CheckResult> {
    r.iter().filter(|x| x.id == id).collect()
}

#[tokio::test(start_paused = true)]
async fn healthy_world_has_no_fail_except_the_busy_port() {
    let w = healthy();
    let r = check(&w, &opts()).await;
    let fails: Vec<String> = r
        .iter()
        .filter(|x| x.status == Status::Fail)
        .map(|x| format!("{} {}", x.id, x.message))
        .collect();
    assert_eq!(fails.len(), 1, "{fails:#?}");
    assert!(
        fails[0].contains("tcp/9100 is in use") && fails[0].contains("node_exporter (pid 1234)"),
        "{fails:?}"
    );
    assert_eq!(rows(&r, "ntp.offset")[0].status, Status::Pass);
    // registry resolves to the documented addresses: no duplicate rows for them
    assert_eq!(rows(&r, "tcp.registry").len(), 2);
    assert!(r
        .iter()
        .all(|x| !x.title.is_empty() && !x.source.is_empty()));
    assert!(rows(&r, "tcp.registry")[0].remediation.contains("/32"));
}

#[tokio::test(start_paused = true)]
async fn a_silent_path_is_swept_while_the_connect_still_waits() {
    let mut w = healthy();
    // the registry's address drops everything after the core: the connect waits its whole
    // timeout (3 s), and the sweep (the core answers, then two silent TTLs of 250 ms) runs
    // inside it, so the row ends with the timeout, not a sweep later
    let reg = ip("100.103.9.188");
    w.slow.push(IpAddr::V4(reg));
    w.hops = vec!["10.0.0.1".parse().unwrap()];
    let start = tokio::time::Instant::now();
    let r = check(&w, &opts()).await;
    let took = start.elapsed();
    let row = rows(&r, "tcp.registry")
        .into_iter()
        .find(|x| x.address.as_deref() == Some("100.103.9.188:443"))
        .unwrap();
    assert_eq!(row.status, Status::Fail, "{}", row.message);
    assert!(
        row.message
            .contains("no answer from beyond 10.0.0.1 (hop 1"),
        "{}",
        row.message
    );
    // (the TLS rows to the same address end at the timeout and their 200 ms of grace: 3.2 s;
    // a sweep after the timeout would end the run at 3.5 s)
    assert!(
        took <= Duration::from_millis(3250),
        "the sweep ran inside the timeout: the run took {took:?}"
    );
    // a flow that answers in time is never swept: the healthy rows carry no hops
    let ok = rows(&r, "tcp.oss");
    assert!(ok
        .iter()
        .all(|x| x.status == Status::Pass && x.details.hops.is_none()));
}

#[tokio::test(start_paused = true)]
async fn dns_down_still_probes_documented_registry_addresses() {
    let mut w = healthy();
    w.dns.clear();
    let r = check(&w, &opts()).await;
    assert!(rows(&r, "dns.registry")
        .iter()
        .all(|x| x.status == Status::Fail && x.message.contains("NXDOMAIN")));
    let tcp = rows(&r, "tcp.registry");
    let documented: Vec<_> = tcp.iter().filter(|x| x.address.is_some()).collect();
    assert_eq!(documented.len(), 2);
    assert!(
        documented.iter().all(|x| x.status == Status::Pass),
        "DNS broken must read differently from route broken"
    );
    let cp = rows(&r, "tcp.control-plane");
    assert_eq!(cp[0].status, Status::Skip);
    assert!(cp[0].message.contains("did not resolve"));
    // the apiserver is an address, so it is unaffected
    assert_eq!(rows(&r, "tcp.apiserver")[0].status, Status::Pass);
    // without an ICMP pinger the API server's path MTU is SKIP with the reason, never PASS
    let api = rows(&r, "mtu.path")
        .into_iter()
        .find(|x| x.address.as_deref() == Some("192.168.0.10"))
        .unwrap();
    assert_eq!(api.status, Status::Skip);
    assert!(api.message.contains("ICMP probes are disabled"));
}

#[tokio::test(start_paused = true)]
async fn public_answer_warns_and_the_other_address_is_probed_too() {
    let mut w = healthy();
    w.dns.insert(
        "registry-cn-hangzhou-vpc.ack.aliyuncs.com".into(),
        Ok(vec![ip("198.18.1.1")]),
    );
    let r = check(&w, &opts()).await;
    assert_eq!(rows(&r, "dns.registry")[0].status, Status::Warn);
    let tcp = rows(&r, "tcp.registry");
    assert_eq!(tcp.len(), 3);
    assert!(tcp
        .iter()
        .any(|x| x.address.as_deref() == Some("198.18.1.1:443") && x.status == Status::Fail));
}

#[tokio::test(start_paused = true)]
async fn tcp_failure_classes_are_kept_apart() {
    let mut w = healthy();
    w.tcp
        .insert(sa("192.168.0.10:6443"), Err(TcpFailure::TimedOut(0)));
    w.tcp
        .insert(sa("100.103.9.188:443"), Err(TcpFailure::Refused));
    w.tcp.insert(
        sa("100.103.7.181:443"),
        Err(TcpFailure::Unreachable("no route to host".into())),
    );
    let r = check(&w, &opts()).await;
    let api = rows(&r, "tcp.apiserver")[0];
    assert_eq!(api.details.to_json()["error"], "timeout");
    assert!(
        api.message.contains("timed out after 3000 ms"),
        "{}",
        api.message
    );
    let reg = rows(&r, "tcp.registry");
    assert_eq!(reg[0].details.to_json()["error"], "refused");
    assert_eq!(reg[1].details.to_json()["error"], "unreachable");
}

#[tokio::test(start_paused = true)]
async fn blackholed_network_ends_within_one_deadline() {
    let mut w = healthy();
    w.hang = true;
    let start = tokio::time::Instant::now();
    let r = check(&w, &opts()).await;
    let took = start.elapsed();
    assert!(
        took <= cfg().deadline(),
        "took {took:?}, deadline {:?}",
        cfg().deadline()
    );
    // not the sum of timeouts: one DNS timeout, one probe timeout and one sweep's budget (where
    // a failed probe breaks) at most
    assert!(took <= Duration::from_secs(10), "{took:?}");
    assert!(rows(&r, "dns.registry")[0].message.contains("timed out"));
    let documented: Vec<_> = rows(&r, "tcp.registry")
        .into_iter()
        .filter(|x| x.address.is_some())
        .collect();
    assert_eq!(documented.len(), 2);
    assert!(documented
        .iter()
        .all(|x| x.status == Status::Fail && x.details.to_json()["error"] == "timeout"));
    assert!(rows(&r, "ntp.server")
        .iter()
        .all(|x| x.status != Status::Pass));
    assert_eq!(rows(&r, "ntp.offset")[0].status, Status::Skip);
}

#[tokio::test(start_paused = true)]
async fn an_overrun_keeps_every_promised_row_with_its_address_and_what_was_pending() {
    let mut w = healthy();
    w.slow = vec![ip("100.103.7.181").into()];
    let cat = catalogue::builtin().unwrap();
    let probes = plan(&opts(), cat);
    let net = net_with(&w, &w, &w);
    // a deadline shorter than the slow address's connect: only that address overruns
    let r = preflight::engine::run_until(&probes, &net, &cfg(), cat, Duration::from_secs(2)).await;
    let errs = common::schema_errors(&common::report_of(r.clone()));
    assert!(errs.is_empty(), "{errs:#?}");
    let tcp = rows(&r, "tcp.registry");
    assert_eq!(tcp.len(), 2, "{tcp:#?}");
    let fast = tcp
        .iter()
        .find(|x| x.address.as_deref() == Some("100.103.9.188:443"))
        .unwrap();
    assert_eq!(
        fast.status,
        Status::Pass,
        "the fast address keeps its own verdict"
    );
    let slow = tcp
        .iter()
        .find(|x| x.address.as_deref() == Some("100.103.7.181:443"))
        .unwrap();
    assert_eq!(slow.status, Status::Skip);
    assert_eq!(slow.details.to_json()["phase"], "deadline");
    assert_eq!(
        slow.details.to_json()["pending"],
        "TCP connect (SYN) to 100.103.7.181:443"
    );
    // the TLS probe of the registry promises tls.registry and http.registry: both rows are there
    // for the slow address, with the address
    for id in ["tls.registry", "http.registry"] {
        let slow: Vec<_> = rows(&r, id)
            .into_iter()
            .filter(|x| x.address.as_deref() == Some("100.103.7.181:443"))
            .collect();
        assert_eq!(slow.len(), 1, "{id}: {:#?}", rows(&r, id));
        assert_eq!(slow[0].details.to_json()["phase"], "deadline", "{id}");
    }
    // every id the plan promised has at least one row
    for id in preflight::checks::emitted_ids(&probes) {
        assert!(!rows(&r, id.as_str()).is_empty(), "{id} missing");
    }
}

#[tokio::test(start_paused = true)]
async fn clock_skew_fails_and_kiss_of_death_is_named() {
    let mut w = healthy();
    w.ntp.insert(sa("198.18.0.123:123"), Ok(7.5));
    w.ntp.insert(
        sa("198.18.0.124:123"),
        Err(NtpFailure::KissOfDeath("RATE".into())),
    );
    let r = check(&w, &opts()).await;
    let off = rows(&r, "ntp.offset")[0];
    assert_eq!(off.status, Status::Fail);
    assert!(off.message.contains("+7.500"));
    assert!(rows(&r, "ntp.server")
        .iter()
        .any(|x| x.message.contains("kiss-o'-death")));
}

#[tokio::test(start_paused = true)]
async fn missing_tool_with_no_reachable_source_fails() {
    let mut w = healthy();
    w.tools_missing = vec!["socat"];
    let r = check(&w, &opts()).await;
    assert_eq!(rows(&r, "tools.socat")[0].status, Status::Warn);
    assert_eq!(rows(&r, "pkg.sources")[0].status, Status::Pass);
    w.tcp.remove(&sa("198.18.0.80:80"));
    let r = check(&w, &opts()).await;
    let p = rows(&r, "pkg.sources")[0];
    assert_eq!(p.status, Status::Fail, "{}", p.message);
    assert!(p.message.contains("mirror.lab.test:80"));
    w.tools_missing.clear();
    let r = check(&w, &opts()).await;
    assert_eq!(rows(&r, "pkg.sources")[0].status, Status::Warn);
}

#[tokio::test(start_paused = true)]
async fn missing_route_and_overlap() {
    let mut w = healthy();
    w.no_route = vec!["100.103.9.188".parse().unwrap()];
    w.addrs.push(LocalAddr {
        interface: "eth1".into(),
        net: "100.64.0.5/10".parse().unwrap(),
    });
    let r = check(&w, &opts()).await;
    let rr = rows(&r, "route.registry");
    assert_eq!(rr[0].status, Status::Fail);
    assert!(rr[0].message.contains("no route"));
    assert_eq!(rows(&r, "cidr.overlap")[0].status, Status::Fail);
}

#[tokio::test(start_paused = true)]
async fn interception_fails_tls_while_tcp_passes() {
    let mut w = healthy();
    w.intercepted = true;
    let r = check(&w, &opts()).await;
    assert!(rows(&r, "tcp.registry")
        .iter()
        .all(|x| x.status == Status::Pass));
    let tls = rows(&r, "tls.registry");
    assert_eq!(tls.len(), 2);
    assert!(tls
        .iter()
        .all(|x| x.status == Status::Fail && x.message.contains("unknown CA")));
    // the API server is evidence-only without --cluster-ca
    assert_eq!(rows(&r, "tls.apiserver")[0].status, Status::Pass);
    assert_eq!(rows(&r, "http.registry").len(), 2);
    assert_eq!(
        rows(&r, "http.registry")[0].title,
        "The registry answers GET /v2/ like a registry"
    );
}

#[tokio::test(start_paused = true)]
async fn vxlan_and_mtu() {
    let mut w = healthy();
    assert_eq!(
        rows(&check(&w, &opts()).await, "udp.vxlan")[0].status,
        Status::Pass
    );
    let peer_mtu = |r: &[CheckResult]| {
        rows(r, "mtu.path")
            .into_iter()
            .find(|x| x.address.as_deref() == Some("192.168.0.20:8472"))
            .unwrap()
            .clone()
    };
    w.path_mtu = 1400;
    let r = check(&w, &opts()).await;
    let m = peer_mtu(&r);
    assert_eq!(m.status, Status::Warn);
    assert!(
        m.message.contains("1400") && m.message.contains("1350"),
        "{}",
        m.message
    );
    // the same path without ICMP fragmentation-needed is a black hole: FAIL with the MSS advice
    w.pmtu_icmp = false;
    let m = peer_mtu(&check(&w, &opts()).await);
    assert_eq!(m.status, Status::Fail, "{}", m.message);
    assert!(
        m.message.contains("black hole") && m.message.contains("1400") && m.message.contains("MSS"),
        "{}",
        m.message
    );
    assert_eq!(m.details.to_json()["error"], "pmtu-black-hole");
    w.vxlan_blocked = true;
    let r = check(&w, &opts()).await;
    assert_eq!(rows(&r, "udp.vxlan")[0].status, Status::Fail);
    assert_eq!(peer_mtu(&r).status, Status::Skip);
    assert_eq!(rows(&r, "tcp.apiserver")[0].status, Status::Pass);
    // without an ICMP pinger the API server's path MTU is SKIP with the reason, never PASS
    let api = rows(&r, "mtu.path")
        .into_iter()
        .find(|x| x.address.as_deref() == Some("192.168.0.10"))
        .unwrap();
    assert_eq!(api.status, Status::Skip);
    assert!(api.message.contains("ICMP probes are disabled"));
}

#[tokio::test(start_paused = true)]
async fn a_hostile_dns_answer_cannot_fan_out_past_the_cap() {
    let mut w = healthy();
    let many: Vec<Ipv4Addr> = (0..200u32)
        .map(|i| Ipv4Addr::from(0x6467_0000 + i))
        .collect();
    w.dns
        .insert("cs-anony-vpc.cn-hangzhou.aliyuncs.com".into(), Ok(many));
    let r = check(&w, &opts()).await;
    assert_eq!(
        rows(&r, "tcp.control-plane").len(),
        preflight::engine::MAX_ADDRESSES_PER_NAME
    );
    assert_eq!(rows(&r, "dns.control-plane")[0].status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn a_lost_sntp_request_is_sent_again_within_the_timeout() {
    let mut w = healthy();
    w.lossy_ntp = true;
    let r = check(&w, &opts()).await;
    let servers = rows(&r, "ntp.server");
    assert!(!servers.is_empty());
    for s in servers {
        // not a FAIL: the retransmission got the answer; a WARN that says the loss
        assert_eq!(s.status, Status::Warn, "{}", s.message);
        assert!(
            s.message.starts_with("lossy path: 50 % of probes lost"),
            "{}",
            s.message
        );
        assert_eq!(s.details.to_json()["requests"], 2, "{:?}", s.details);
        assert_eq!(
            (
                s.details.to_json()["sent"].as_u64(),
                s.details.to_json()["answered"].as_u64()
            ),
            (Some(2), Some(1))
        );
    }
    assert_eq!(rows(&r, "ntp.offset")[0].status, Status::Pass);
}

/// The world with a line that drops every TCP connect in a window and a registry answer that
/// flips at a time (seconds since the watch began, on the paused clock).
struct Flaky<'w> {
    w: &'w World,
    t0: tokio::time::Instant,
    down: std::ops::Range<f64>,
    flip_at: f64,
}

impl Flaky<'_> {
    fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }
}

#[async_trait]
impl Resolver for Flaky<'_> {
    async fn resolve_a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsFailure> {
        if name.starts_with("registry-") && self.now() >= self.flip_at {
            return Ok(vec![ip("100.103.7.181")]);
        }
        self.w.resolve_a(name).await
    }
    fn servers(&self) -> Vec<String> {
        self.w.servers()
    }
}

#[async_trait]
impl Connector for Flaky<'_> {
    async fn connect(&self, addr: SocketAddr, t: Duration) -> Result<Connected, TcpFailure> {
        if self.down.contains(&self.now()) {
            tokio::time::sleep(t).await;
            return Err(TcpFailure::TimedOut(0));
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
        self.w.connect(addr, t).await
    }
    async fn read_banner(&self, addr: SocketAddr, t: Duration) -> Result<String, TcpFailure> {
        self.w.read_banner(addr, t).await
    }
    fn ttl_path(
        &self,
        addr: SocketAddr,
    ) -> Result<Box<dyn preflight::probe::trace::HopProbe>, OsError> {
        Connector::ttl_path(self.w, addr)
    }
}

#[tokio::test(start_paused = true)]
async fn a_watch_names_an_outage_within_one_interval_and_an_answer_that_flipped() {
    use preflight::watch;
    let mut w = healthy();
    w.hops = vec![IpAddr::V4(ip("10.0.0.1")), IpAddr::V4(ip("172.31.255.2"))];
    let flaky = Flaky {
        w: &w,
        t0: tokio::time::Instant::now(),
        down: 4.0..7.0,
        flip_at: 9.0,
    };
    let net = net_with(&w, &flaky, &flaky);
    let cat = catalogue::builtin().unwrap();
    let mut o = opts();
    o.only = vec![
        "dns.registry".into(),
        "tcp.registry".into(),
        "tls.registry".into(),
        "udp.vxlan".into(),
    ];
    let steps = plan(&o, cat);
    let targets = watch::targets(&steps);
    let mut engine = cfg();
    engine.timeout = Duration::from_millis(500);
    let wc = watch::WatchConfig {
        interval: Duration::from_secs(1),
        duration: Some(Duration::from_secs(12)),
        engine,
        started_epoch_ms: 0,
    };
    let mut samples: Vec<u8> = vec![];
    let mut rounds_seen = 0;
    let rec = watch::watch(
        &net,
        cat,
        &targets,
        &wc,
        Some(&mut samples),
        futures::future::pending::<()>(),
        |r| rounds_seen = r.rounds,
    )
    .await;
    assert_eq!(rounds_seen, 12, "a round a second for 12 s");
    let rows = watch::summary::rows(&rec, cat, "cn-hangzhou", 0.5, 5.0);
    let errs = common::schema_errors(&common::report_of(rows.clone()));
    assert!(errs.is_empty(), "{errs:#?}");
    let tcp = rows
        .iter()
        .find(|r| r.id == "tcp.registry" && r.address.as_deref() == Some("100.103.9.188:443"))
        .unwrap();
    assert_eq!(tcp.status, Status::Fail, "{}", tcp.message);
    // the truth: out from 4 s to 7 s; the rounds at 4, 5, 6 s lose, the one at 7 s answers
    // (a few ms after the tick: the round's DNS comes first)
    assert!(
        tcp.message.contains("1 outage: 00:00:04.0") && tcp.message.contains("–00:00:07.0"),
        "{}",
        tcp.message
    );
    assert!(
        tcp.message.contains("3 lost: connection timed out"),
        "{}",
        tcp.message
    );
    assert!(
        tcp.message.contains("172.31.255.2"),
        "where it broke: {}",
        tcp.message
    );
    let watched = tcp.details.to_json()["watch"].clone();
    assert_eq!(watched["outages"][0]["lost"], 3, "{watched}");
    assert!(
        watched["outages"][0]["with"]
            .to_string()
            .contains("100.103.7.181:443"),
        "both registry addresses were out at once: {watched}"
    );
    let dns = rows.iter().find(|r| r.id == "dns.registry").unwrap();
    assert_eq!(dns.status, Status::Warn, "{}", dns.message);
    assert!(
        dns.message.contains(
            "the answer changed once: at 00:00:09.000Z 100.103.7.181, 100.103.9.188 → 100.103.7.181"
        ),
        "{}",
        dns.message
    );
    // a handshake in the first round (then one every 12 rounds): 12 rounds, one each
    let tls = rows
        .iter()
        .find(|r| r.id == "tls.registry" && r.address.as_deref() == Some("100.103.7.181:443"))
        .unwrap();
    assert_eq!(
        tls.details.to_json()["watch"]["samples"],
        1,
        "{}",
        tls.message
    );
    let echo = rows.iter().find(|r| r.id == "udp.vxlan").unwrap();
    assert_eq!(echo.status, Status::Pass, "{}", echo.message);
    // one JSON line per sample, every one parsed back
    let text = String::from_utf8(samples).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for l in &lines {
        let errs = common::sample_errors(l);
        assert!(errs.is_empty(), "{l}: {errs:?}");
    }
    // the schema can fail
    assert!(!common::sample_errors(&serde_json::json!({"t": "x", "ok": true})).is_empty());
    let tcp_lost = lines
        .iter()
        .filter(|l| l["kind"] == "tcp" && l["ok"] == false)
        .count();
    assert_eq!(tcp_lost, 6, "two addresses × three rounds");
    assert!(lines
        .iter()
        .all(|l| l["t"].as_str().unwrap().ends_with('Z')));
}

/// A line that drops every connect for two rounds every 60 rounds, watched for six hours at 1 s
/// on the paused clock: what is kept stays bounded (the plot series halves, the outage list is
/// capped and the rest counted), and the figures still cover every sample.
#[tokio::test(start_paused = true)]
async fn six_hours_of_watch_keep_bounded_state() {
    use preflight::watch;
    struct Periodic<'w> {
        w: &'w World,
        t0: tokio::time::Instant,
    }
    #[async_trait]
    impl Connector for Periodic<'_> {
        async fn connect(&self, addr: SocketAddr, t: Duration) -> Result<Connected, TcpFailure> {
            let s = self.t0.elapsed().as_secs();
            if s % 60 < 2 && s >= 60 {
                tokio::time::sleep(t).await;
                return Err(TcpFailure::TimedOut(0));
            }
            self.w.connect(addr, t).await
        }
        async fn read_banner(&self, addr: SocketAddr, t: Duration) -> Result<String, TcpFailure> {
            self.w.read_banner(addr, t).await
        }
    }
    let w = healthy();
    let p = Periodic {
        w: &w,
        t0: tokio::time::Instant::now(),
    };
    let net = net_with(&w, &w, &p);
    let cat = catalogue::builtin().unwrap();
    let mut o = opts();
    o.only = vec!["tcp.apiserver".into()];
    let targets = watch::targets(&plan(&o, cat));
    let mut engine = cfg();
    engine.timeout = Duration::from_millis(200);
    let hours = 6;
    let wc = watch::WatchConfig {
        interval: Duration::from_secs(1),
        duration: Some(Duration::from_secs(hours * 3600)),
        engine,
        started_epoch_ms: 0,
    };
    let rec = watch::watch(
        &net,
        cat,
        &targets,
        &wc,
        None,
        futures::future::pending::<()>(),
        |_| {},
    )
    .await;
    assert_eq!(rec.rounds, hours * 3600);
    let path = rec.paths.values().next().unwrap();
    let st = &path.stats;
    assert_eq!(st.sent, hours * 3600, "every sample counted");
    let outages = hours * 3600 / 60 - 1;
    assert_eq!(
        st.outages.len() as u64 + st.outages_dropped,
        outages,
        "every outage counted"
    );
    assert_eq!(
        st.outages.len(),
        watch::stats::MAX_EVENTS,
        "the list is capped"
    );
    assert!(st.series.points().len() <= watch::stats::MAX_POINTS);
    assert_eq!(
        st.series
            .points()
            .iter()
            .map(|p| u64::from(p.sent))
            .sum::<u64>(),
        hours * 3600,
        "the halved series still holds every sample"
    );
    let rows = watch::summary::rows(&rec, cat, "cn-hangzhou", 0.5, 5.0);
    assert!(
        rows[0].message.contains(&format!("{outages} outages")),
        "{}",
        &rows[0].message[..300]
    );
}

/// A samples file that stops taking lines (a full disk) does not stop the watch, and the closing
/// line says so.
#[tokio::test(start_paused = true)]
async fn a_full_samples_file_is_said_not_swallowed() {
    use preflight::watch;
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(28))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let w = healthy();
    let net = net_with(&w, &w, &w);
    let cat = catalogue::builtin().unwrap();
    let mut o = opts();
    o.only = vec!["tcp.apiserver".into()];
    let targets = watch::targets(&plan(&o, cat));
    let wc = watch::WatchConfig {
        interval: Duration::from_secs(1),
        duration: Some(Duration::from_secs(3)),
        engine: cfg(),
        started_epoch_ms: 0,
    };
    let mut full = Full;
    let rec = watch::watch(
        &net,
        cat,
        &targets,
        &wc,
        Some(&mut full),
        futures::future::pending::<()>(),
        |_| {},
    )
    .await;
    assert_eq!(rec.rounds, 3);
    assert_eq!(rec.unwritten, 3, "every sample refused is counted");
    let line = watch::cost_line(&rec);
    assert!(
        line.contains("writing the samples file failed") && line.contains("No space left"),
        "{line}"
    );
}
