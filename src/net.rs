//! The small traits the engine depends on (resolver, connector, NTP client, routes, host facts),
//! so that pure logic is unit-tested with fakes. System implementations live in `sys/`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use crate::probe::dns::DnsFailure;
use crate::probe::ntp::{NtpFailure, NtpSample};
use crate::probe::port::{ProcInfo, SocketEntry, SocketProto};
use crate::probe::route::{RouteFailure, RouteInfo};
use crate::probe::tcp::TcpFailure;

/// An OS call that failed, tagged with the operation that failed (the reason already says what was
/// observed, in words; no "(os error N)").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op}: {reason}")]
pub struct OsError {
    pub op: &'static str,
    pub reason: String,
}

impl OsError {
    pub fn new(op: &'static str, reason: impl std::fmt::Display) -> OsError {
        OsError {
            op,
            reason: reason.to_string(),
        }
    }
}

#[async_trait]
pub trait Resolver: Send + Sync {
    /// A records of `name` (no search domains).
    async fn resolve_a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsFailure>;
    /// [`Resolver::resolve_a`], with the queries it sent and how many were answered (a resolver
    /// that retransmits says so; the default is one query).
    async fn resolve_a_counted(
        &self,
        name: &str,
    ) -> (
        Result<Vec<Ipv4Addr>, DnsFailure>,
        crate::probe::loss::Exchange,
    ) {
        let out = self.resolve_a(name).await;
        let answered = u32::from(out.is_ok() || !matches!(out, Err(DnsFailure::Timeout(_))));
        (out, crate::probe::loss::Exchange { sent: 1, answered })
    }
    /// Which server(s) answer, as evidence.
    fn servers(&self) -> Vec<String>;
}

#[async_trait]
pub trait Connector: Send + Sync {
    /// TCP connect; on success the local address used and the MSS the handshake settled on.
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> Result<Connected, TcpFailure>;
    /// TCP connect and read the first line the server sends (at most 128 bytes).
    async fn read_banner(&self, addr: SocketAddr, timeout: Duration) -> Result<String, TcpFailure>;
    /// TTL-limited SYNs of one flow toward `addr`, for where a failed connect breaks. The default:
    /// not available.
    fn ttl_path(
        &self,
        addr: SocketAddr,
    ) -> Result<Box<dyn crate::probe::trace::HopProbe>, OsError> {
        Err(OsError::new(
            "TTL probe",
            format!("{addr}: not available here"),
        ))
    }
}

#[async_trait]
pub trait NtpClient: Send + Sync {
    async fn query(&self, addr: SocketAddr, timeout: Duration) -> Result<NtpSample, NtpFailure>;
}

pub use crate::probe::route::{LocalAddr, RouteEntry};
pub use crate::probe::tcp::Connected;

#[async_trait]
pub trait Routes: Send + Sync {
    /// The kernel's answer for a destination (like `ip route get`).
    async fn route_to(&self, dst: IpAddr) -> Result<RouteInfo, RouteFailure>;
    async fn addresses(&self) -> Result<Vec<LocalAddr>, OsError>;
    async fn routes(&self) -> Result<Vec<RouteEntry>, OsError>;
    /// The MTU of an interface of this network namespace.
    fn iface_mtu(&self, name: &str) -> Option<u32>;
}

pub use crate::probe::tools::ToolLookup;

pub trait HostFacts: Send + Sync {
    /// An executable (bare name) or a file (absolute path) under the sysroot.
    fn find_tool(&self, name: &str) -> ToolLookup;
    /// The directories searched for tools, for evidence.
    fn tool_dirs(&self) -> Vec<PathBuf>;
    /// A text file under the sysroot (e.g. /etc/apt/sources.list); None when absent or unreadable.
    fn read_file(&self, path: &str) -> Option<String>;
    /// Regular files in a directory under the sysroot, sorted.
    fn list_dir(&self, path: &str) -> Vec<String>;
    /// Sockets of this network namespace (/proc/net/tcp, ...).
    fn sockets(&self, proto: SocketProto) -> Result<Vec<SocketEntry>, OsError>;
    /// The processes owning socket inodes, from one walk of /proc/*/fd (what is visible to this user).
    fn socket_owners(&self) -> std::collections::HashMap<u64, ProcInfo>;
    /// Whether the run has root's view (every process's sockets, raw ICMP).
    fn privileged(&self) -> bool;
    /// The local clock (the TLS rows judge certificate windows against it, as the kubelet will).
    fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now()
    }
    /// The names of the running processes (`/proc/PID/comm`), or why they could not be read.
    fn process_names(&self) -> Result<Vec<String>, OsError> {
        Err(OsError::new("process list", "not available here"))
    }
    /// Whether the kernel says the clock is synchronised (`ntp_adjtime`, read-only), or why that
    /// could not be read.
    fn clock_synchronised(&self) -> Result<bool, OsError> {
        Err(OsError::new("ntp_adjtime", "not available here"))
    }
    /// The output of one read-only listing command (`iptables-save`, `nft list ruleset`, ...), or
    /// why it could not run. Only the fixed commands of [`Listing`] exist.
    fn listing(&self, what: Listing) -> Result<String, OsError> {
        Err(OsError::new(what.name(), "not available here"))
    }
}

/// The read-only commands the host checks may run: listings, never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listing {
    IptablesSave,
    NftRuleset,
    FirewalldState,
}

impl Listing {
    /// The command line, as the operation of its errors.
    pub fn name(self) -> &'static str {
        match self {
            Listing::IptablesSave => "iptables-save",
            Listing::NftRuleset => "nft list ruleset",
            Listing::FirewalldState => "firewall-cmd --state",
        }
    }
    pub fn command(self) -> &'static [&'static str] {
        match self {
            Listing::IptablesSave => &["iptables-save"],
            Listing::NftRuleset => &["nft", "list", "ruleset"],
            Listing::FirewalldState => &["firewall-cmd", "--state"],
        }
    }
}

#[async_trait]
pub trait TlsProber: Send + Sync {
    /// TCP connect, TLS handshake with SNI `name` (or the address), then optionally one HTTP GET.
    async fn probe(
        &self,
        addr: SocketAddr,
        name: Option<&str>,
        trust: crate::probe::tls::Trust,
        http: Option<crate::probe::tls::HttpExpect>,
        timeout: Duration,
    ) -> crate::probe::tls::TlsOutcome;
    /// Trust `ca_der` (the cluster CA the cluster-info ConfigMap carried) for [`Trust::Discovered`]
    /// handshakes of this run; false when it is not a usable CA certificate or not supported here.
    ///
    /// [`Trust::Discovered`]: crate::probe::tls::Trust::Discovered
    fn adopt_cluster_ca(&self, ca_der: Vec<u8>) -> bool {
        let _ = ca_der;
        false
    }
    /// One HTTPS request (TCP connect, TLS with SNI `name` verified against `trust`, the
    /// request, the head and at most `MAX_BODY` bytes of the body), bounded by `timeout`; redirects
    /// are never followed. The default: not available.
    async fn request(
        &self,
        addr: SocketAddr,
        name: &str,
        trust: crate::probe::tls::Trust,
        req: crate::probe::pull::HttpRequest,
        timeout: Duration,
    ) -> Result<crate::probe::pull::HttpReply, crate::probe::pull::PullFailure> {
        let _ = (addr, name, trust, req, timeout);
        Err(crate::probe::pull::PullFailure::Unavailable(
            "HTTPS requests are not available here".into(),
        ))
    }
}

#[async_trait]
pub trait UdpProber: Send + Sync {
    /// A UDP socket connected to `peer`, for echo requests and DF probes (one datagram at a time).
    async fn open(&self, peer: SocketAddr)
        -> Result<Box<dyn crate::probe::udp::DfSocket>, OsError>;
    /// TTL-limited datagrams (`payload`) of one flow toward `peer`, for where a lost UDP exchange
    /// breaks. The default: not available.
    async fn ttl_path(
        &self,
        peer: SocketAddr,
        payload: Vec<u8>,
    ) -> Result<Box<dyn crate::probe::trace::HopProbe>, OsError> {
        let _ = payload;
        Err(OsError::new(
            "TTL probe",
            format!("{peer}: not available here"),
        ))
    }
    /// A UDP socket bound to `local` (this node's address and Flannel's 8472) that takes datagrams
    /// from `peer` only, for the return datagram a responder sends toward the node (several peers:
    /// several such sockets, each connected to its peer). The default: not available.
    async fn listen(
        &self,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> Result<Box<dyn crate::probe::echo::Datagrams>, OsError> {
        let _ = peer;
        Err(OsError::new(
            "UDP bind",
            format!("{local}: not available here"),
        ))
    }
}

#[async_trait]
pub trait Pinger: Send + Sync {
    /// One ICMP echo; evidence only.
    async fn ping(&self, ip: IpAddr, timeout: Duration) -> crate::probe::icmp::IcmpOutcome;
    /// ICMP echoes of a chosen size with Don't Fragment toward `ip`, for the path-MTU search.
    fn df_path(
        &self,
        ip: IpAddr,
    ) -> Result<Box<dyn crate::probe::mtu::DfPath>, crate::probe::mtu::MtuError>;
}

/// Everything the engine talks to.
pub struct Net<'a> {
    pub resolver: &'a dyn Resolver,
    pub connector: &'a dyn Connector,
    pub ntp: &'a dyn NtpClient,
    pub routes: &'a dyn Routes,
    pub host: &'a dyn HostFacts,
    pub tls: &'a dyn TlsProber,
    pub udp: &'a dyn UdpProber,
    /// ICMP echo for evidence on TCP rows and path MTU; None disables it.
    pub icmp: Option<&'a dyn Pinger>,
}
