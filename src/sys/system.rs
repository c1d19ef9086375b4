//! The one injected environment of a run: every system implementation of the engine's traits,
//! built once from what the options say, lent to the engine as [`Net`], and asked afterwards for
//! what the report says of the host.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use rustls::pki_types::CertificateDer;

use crate::engine::Net;
use crate::net::Routes;

/// What the system implementations need besides the engine configuration.
pub(crate) struct RunEnv {
    pub dns_server: Option<SocketAddr>,
    pub sysroot: PathBuf,
    pub extra_roots: Vec<CertificateDer<'static>>,
    pub cluster_roots: Vec<CertificateDer<'static>>,
    /// Where the cloud is, for the report's primary address (the route's source address).
    pub toward: IpAddr,
    /// `--bundle`: where the support bundle goes (checked before anything is sent).
    pub bundle: Option<PathBuf>,
}

/// The real resolver, routes, host, TLS, UDP and ICMP of this machine.
pub(crate) struct System {
    resolver: super::dns::HickoryResolver,
    pub routes: super::netlink::NetlinkRoutes,
    pub host: super::host::SystemHost,
    tls: super::tls::RustlsProber,
    pinger: super::icmp::SurgePinger,
}

/// What the report says of the host's network: its addresses and the one toward the cloud.
pub(crate) struct HostView {
    pub addresses: Vec<String>,
    pub primary: Option<String>,
}

impl System {
    /// Must be called inside the runtime (the resolver and netlink start their tasks there).
    pub(crate) fn new(env: &RunEnv, timeout: std::time::Duration) -> System {
        System {
            resolver: super::dns::HickoryResolver::new(env.dns_server, timeout),
            routes: super::netlink::NetlinkRoutes::new(),
            host: super::host::SystemHost::new(&env.sysroot, std::env::var("PATH").ok().as_deref()),
            tls: super::tls::RustlsProber::new(&env.extra_roots, &env.cluster_roots),
            pinger: super::icmp::SurgePinger::new(),
        }
    }

    /// Read the host's trusted roots now, before any handshake starts.
    pub(crate) fn preload_roots(&self) {
        self.tls.preload();
    }

    /// The engine's view of it.
    pub(crate) fn net(&self) -> Net<'_> {
        Net {
            resolver: &self.resolver,
            connector: &super::tcp::TokioConnector,
            ntp: &super::ntp::RsntpClient,
            routes: &self.routes,
            host: &self.host,
            tls: &self.tls,
            udp: &super::udp::TokioUdp,
            icmp: Some(&self.pinger),
        }
    }

    /// The host's non-loopback addresses, and its source address toward `toward`.
    pub(crate) async fn host_view(&self, toward: IpAddr) -> HostView {
        let primary = self
            .routes
            .route_to(toward)
            .await
            .ok()
            .and_then(|r| r.source)
            .map(|a| a.to_string());
        let addresses = self
            .routes
            .addresses()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.interface != "lo" && !a.net.addr().is_loopback())
            .map(|a| a.net.to_string())
            .collect();
        HostView { addresses, primary }
    }

    /// Addresses, routes, rules and neighbours from netlink, for the support bundle.
    pub(crate) async fn bundle_net(&self) -> Vec<crate::bundle::Entry> {
        let lines = |r: Result<Vec<String>, crate::net::OsError>| match r {
            Ok(v) => v.join("\n") + "\n",
            Err(e) => format!("# not readable: {e}\n"),
        };
        let routes = &self.routes;
        let addrs = routes.addresses().await.map(|v| {
            v.into_iter()
                .map(|a| format!("{} {}", a.interface, a.net))
                .collect()
        });
        let table = routes
            .routes()
            .await
            .map(|v| v.iter().map(crate::net::RouteEntry::describe).collect());
        vec![
            crate::bundle::text_entry("net/addresses.txt", "netlink", &lines(addrs)),
            crate::bundle::text_entry(
                "net/routes.txt",
                "netlink (every table but local)",
                &lines(table),
            ),
            crate::bundle::text_entry(
                "net/rules.txt",
                "netlink",
                &lines(routes.rules_text().await),
            ),
            crate::bundle::text_entry(
                "net/neighbours.txt",
                "netlink",
                &lines(routes.neighbours_text().await),
            ),
        ]
    }
}
