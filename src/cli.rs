//! Command-line interface (clap derive). Values are parsed into [`Options`](crate::options::Options)
//! by `app`, so that every bad value gets one line naming the flag and the value.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::constants::{DEFAULT_TIMEOUT_ARG, NTP_FAIL_OFFSET_ARG, NTP_WARN_OFFSET_ARG};
use crate::options::Cni;
use crate::report::Format;

/// `--version`: the version, the git commit, the target triple and, for gnu builds, the glibc floor.
pub(crate) const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("AEP_COMMIT"),
    "\ntarget: ",
    env!("AEP_TARGET"),
    env!("AEP_LIBC")
);

#[derive(Debug, Parser)]
#[command(
    name = "ack-edge-preflight",
    version,
    long_version = LONG_VERSION,
    about = "Checks, before `edgeadm join`, that this server can join an Alibaba Cloud ACK Edge cluster over a dedicated line",
    long_about = None,
    after_help = "Exit codes: 0 no FAIL (WARN allowed unless --strict), 1 at least one FAIL, 2 usage or input error, 3 internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every check concurrently and report PASS / WARN / FAIL / SKIP with evidence and fixes
    Check(CheckArgs),
    /// Print every probe `check` would send, and to where; sends nothing
    Plan(PlanArgs),
    /// Print the requirement catalogue with its sources
    Requirements(ListArgs),
    /// Print the region data (endpoints, registry routes, OSS VIP ranges)
    Regions(ListArgs),
    /// Answer the agent's UDP 8472 echo and TCP inbound probes (on the node, or on a VPC host used as --peer)
    Responder(ResponderArgs),
    /// From a VPC host: check that a node's inbound ports are reachable (the node runs `responder`)
    ///
    /// Every node and port is probed at once: the process raises its own soft open-file limit
    /// (RLIMIT_NOFILE) to the hard limit at start and keeps up to 4096 probes in flight (fewer when
    /// the limit is lower: four files a probe), so a rack of nodes ends within about one timeout.
    Inbound(InboundArgs),
    /// Aggregate many hosts' JSON reports: verdicts per host, failing hosts per requirement
    Summarize(SummarizeArgs),
    /// Watch the line over time: repeat check's cheap probes every interval and report loss,
    /// latency, outages, path-MTU and DNS changes per path
    ///
    /// Every interval: DNS of each endpoint name, a TCP connect to each endpoint address, SNTP to
    /// each NTP server, the VXLAN echo to each --peer, and a small and a full-size Don't-Fragment
    /// echo toward each endpoint address (root); every 12th round a verified TLS handshake toward
    /// each TLS endpoint. Each probe waits --timeout, never longer than --interval. Ends at
    /// --duration, Ctrl-C or SIGTERM, then writes the report (one row per path; an outage is a
    /// FAIL naming its window and where the path broke) with the usual exit codes.
    Watch(WatchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    /// How long to watch: 90s, 30m, 12h (at most 7d; default: until Ctrl-C or SIGTERM)
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Time between rounds: 1s to 1h
    #[arg(long, value_name = "DURATION", default_value = crate::constants::WATCH_INTERVAL_ARG)]
    pub interval: String,
    /// Append every sample to FILE as JSON Lines as it is taken (one line per probe; see
    /// docs/watch.md)
    #[arg(long, value_name = "FILE.jsonl")]
    pub samples: Option<PathBuf>,
    /// Write a self-contained HTML page to FILE: the report and a plot per path (round trip,
    /// loss, outage bands, changes)
    #[arg(long, value_name = "FILE.html")]
    pub page: Option<PathBuf>,
    /// Also write a support bundle (tar.gz, mode 0600), as `check --bundle`, with the samples and
    /// the page
    #[arg(long, value_name = "FILE.tar.gz")]
    pub bundle: Option<PathBuf>,
}

/// The packaging hook `ack-edge-preflight __generate-assets DIR`: outside the clap definitions, so
/// it appears in no help, man page or completion.
pub const GENERATE_ASSETS: &str = "__generate-assets";

#[derive(Debug, Clone, Args)]
pub struct SummarizeArgs {
    /// JSON reports written by `check` or `inbound` with --format json; a directory stands for the
    /// *.json files in it
    #[arg(value_name = "REPORT.json|DIR", required = true)]
    pub reports: Vec<PathBuf>,
    /// Output format (csv: one line per host)
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
    /// Warn of reports older than this: 24h, 90m, 7d
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub max_age: String,
    /// Parse on this many threads (default: the number of CPUs)
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Name at most N hosts per requirement, per error and among the failing hosts (the counts
    /// are always whole; the host table and CSV list every host)
    #[arg(long, value_name = "N", default_value_t = crate::fleet::DEFAULT_HOSTS_PER_REQUIREMENT)]
    pub hosts_per_requirement: usize,
    /// Compare with an earlier collection (a directory or report files, e.g. last night's): per
    /// host and requirement, new failures first, then fixed ones, then hosts that appeared or
    /// vanished (csv: one line per changed host); exit 1 when something newly fails
    #[arg(long, value_name = "DIR|REPORT.json")]
    pub baseline: Vec<PathBuf>,
}

pub(crate) use crate::report::fleet::SummaryFormat;

#[derive(Debug, Clone, Args)]
pub struct ResponderArgs {
    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    pub bind: String,
    /// Stop after this long (default: until SIGINT or SIGTERM)
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Answer UDP 8472 only (a VPC host used as --peer); by default TCP 10250, 10255, 9100, 9445 too
    #[arg(long, conflicts_with = "ports")]
    pub udp_only: bool,
    /// Ports to answer, comma-separated: N or N/tcp, N/udp (default: 10250,10255,9100,9445,8472/udp)
    #[arg(long, value_name = "LIST")]
    pub ports: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct InboundArgs {
    /// A node's address (it must be running `ack-edge-preflight responder`); repeatable: every
    /// node and port is probed at once under one deadline
    #[arg(long, value_name = "IP", required_unless_present = "nodes_file")]
    pub node: Vec<String>,
    /// A file of node addresses, one per line (`#` starts a comment), e.g. a whole rack
    #[arg(long, value_name = "FILE")]
    pub nodes_file: Option<PathBuf>,
    /// Container network plugin (UDP 8472 is checked only for flannel)
    #[arg(long, value_enum, default_value_t = Cni::Flannel)]
    pub cni: Cni,
    /// Per-probe timeout: 3, 2.5s, 500ms
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TIMEOUT_ARG)]
    pub timeout: String,
    /// The line's cloud end as this host's packets meet it (the VBR address in the console): a
    /// port that gets no answer says whether its way back breaks before the line (the cloud side)
    /// or beyond it (the datacenter)
    #[arg(long, value_name = "IP")]
    pub line_peer: Option<String>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Region id of the cluster, e.g. cn-hangzhou (see `regions`)
    #[arg(long, value_name = "REGION")]
    pub region: String,
    /// Container network plugin of the cluster
    #[arg(long, value_enum, default_value_t = Cni::Flannel)]
    pub cni: Cni,
    /// Kubernetes version of the cluster (1.26+ uses port 443 for the control plane and OSS)
    #[arg(long, value_name = "VERSION", default_value = "1.26")]
    pub k8s_version: String,
    /// API server internal endpoint, HOST[:PORT] (port defaults to 6443)
    #[arg(long, value_name = "HOST[:PORT]")]
    pub apiserver: Option<String>,
    /// NTP server to query (repeatable; replaces ntp1.aliyun.com and cn.ntp.org.cn)
    #[arg(long = "ntp-server", value_name = "NAME")]
    pub ntp_server: Vec<String>,
    /// The node keeps its own time (join parameter selfHostNtpServer=true): skip NTP checks
    #[arg(long)]
    pub self_hosted_ntp: bool,
    /// Resolve through this DNS server instead of /etc/resolv.conf (e.g. VPC DNS 100.100.2.136; IP[:PORT])
    #[arg(long, value_name = "IP[:PORT]")]
    pub dns_server: Option<String>,
    /// VPC CIDR block, checked for overlap with local networks
    #[arg(long, value_name = "CIDR")]
    pub vpc_cidr: Option<String>,
    /// The image the pull rows follow, REPO:TAG in the region's registry (default acs/pause:3.9,
    /// the sandbox image every node pulls)
    #[arg(long, value_name = "REPO:TAG")]
    pub pull_image: Option<String>,
    /// The cloud end of the line (the VBR address in the console): a failed path says whether it
    /// breaks before it (the datacenter) or beyond it (the cloud)
    #[arg(long, value_name = "IP")]
    pub line_peer: Option<String>,
    /// Container (pod) CIDR block, checked for overlap (required knowledge for Terway Edge)
    #[arg(long, value_name = "CIDR")]
    pub pod_cidr: Option<String>,
    /// The cluster's Service CIDR (cluster information in the console): no node route, local
    /// address or nameserver may overlap it, nor the pod CIDR
    #[arg(long, value_name = "CIDR")]
    pub service_cidr: Option<String>,
    /// The bootstrap token of the node connection script (<id>.<secret>): discovery checks that the
    /// cluster still signs for it. The secret is never printed or written; prefer --token-file
    #[arg(long, value_name = "ID.SECRET", conflicts_with = "token_file")]
    pub token: Option<String>,
    /// Read the bootstrap token from a file (keeps it out of shell history)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// The CA pin of the node connection script (sha256:<hex>, kubeadm's
    /// --discovery-token-ca-cert-hash): the cluster CA that discovery returns must match it
    #[arg(long, value_name = "sha256:HEX")]
    pub discovery_token_ca_cert_hash: Option<String>,
    /// Extra endpoint to check, tcp://HOST:PORT (repeatable; e.g. a Global Accelerator address)
    #[arg(long = "endpoint", value_name = "tcp://HOST:PORT")]
    pub endpoint: Vec<String>,
    /// Per-probe timeout: 3, 2.5s, 500ms
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TIMEOUT_ARG)]
    pub timeout: String,
    /// Clock offset that warns
    #[arg(long, value_name = "DURATION", default_value = NTP_WARN_OFFSET_ARG)]
    pub ntp_warn_offset: String,
    /// Clock offset that fails
    #[arg(long, value_name = "DURATION", default_value = NTP_FAIL_OFFSET_ARG)]
    pub ntp_fail_offset: String,
    /// Run only these requirement ids or categories (comma-separated or repeated), e.g. tcp,dns.registry
    #[arg(long, value_name = "ID|CATEGORY", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Do not run these requirement ids or categories
    #[arg(long, value_name = "ID|CATEGORY", value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Waive a requirement: keep its row and evidence, leave it out of the verdict and exit code
    /// (repeatable): ID, ID@TARGET or ID@ADDRESS, optionally =REASON
    #[arg(long, value_name = "ID[@TARGET][=REASON]")]
    pub accept: Vec<String>,
    /// Peer running `responder` (a cloud node or VPC host) for the UDP 8472 and path-MTU checks (repeatable)
    #[arg(long = "peer", value_name = "IP")]
    pub peer: Vec<String>,
    /// Raven gateway the node reaches for cloud-edge traffic (repeatable): TCP 10280-10284 (proxy mode) and UDP 4500 (tunnel mode)
    #[arg(long = "raven-gateway", value_name = "IP")]
    pub raven_gateway: Vec<String>,
    /// Extra trusted CA certificates (PEM), e.g. a corporate CA (repeatable)
    #[arg(long, value_name = "PEM")]
    pub ca_file: Vec<PathBuf>,
    /// The cluster CA certificate (PEM), to verify the API server's certificate
    #[arg(long, value_name = "PEM")]
    pub cluster_ca: Option<PathBuf>,
    /// Region table to use instead of the built-in one (same TOML format as regions/regions.toml)
    #[arg(long, value_name = "FILE")]
    pub regions_file: Option<PathBuf>,
    /// Read host files (/etc/..., tool directories) under this root instead of / (for tests and images)
    #[arg(long, value_name = "DIR", hide = true)]
    pub sysroot: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    /// Also write a support bundle (tar.gz, mode 0600): the report as JSON, Markdown and HTML, and
    /// the read-only evidence the run used (resolv.conf, hosts, routes, rules, neighbours, listening
    /// sockets, package sources, sysctls, NTP config), secrets redacted, with a manifest
    #[arg(long, value_name = "FILE.tar.gz")]
    pub bundle: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Report format (table is for people; json for automation; markdown for tickets; junit for CI;
    /// prometheus for node_exporter's textfile collector; html for a browser); default: table, or
    /// from the --output extension (.json, .md, .xml, .prom, .html)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE (atomically) instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Count WARN as FAIL for the exit code
    #[arg(long)]
    pub strict: bool,
    /// No colour in the table (also: NO_COLOR, TERM=dumb, or output that is not a terminal)
    #[arg(long)]
    pub no_color: bool,
    /// Show every row in the table, not only the problems and a summary of what passed
    #[arg(long = "all", short = 'v')]
    pub all: bool,
}

pub(crate) use crate::report::listing::ListFormat;

/// clap's names (and help) for enums defined where they are used: the renderers do not import clap.
macro_rules! value_enum {
    ($ty:ty { $($v:ident = $name:literal $(=> $help:literal)?),+ $(,)? }) => {
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$(<$ty>::$v),+]
            }
            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(match self {
                    $(<$ty>::$v => clap::builder::PossibleValue::new($name)$(.help($help))?,)+
                })
            }
        }
    };
}

value_enum!(Format {
    Table = "table",
    Json = "json",
    Markdown = "markdown",
    Junit = "junit",
    Prometheus = "prometheus" => "node_exporter textfile-collector format (Prometheus text exposition)",
    Html = "html" => "One self-contained HTML page (for a browser or a ticket)",
});
value_enum!(crate::options::Cni { Flannel = "flannel", TerwayEdge = "terway-edge" });
value_enum!(ListFormat { Table = "table", Json = "json", Markdown = "markdown" });
value_enum!(SummaryFormat { Table = "table", Json = "json", Markdown = "markdown", Csv = "csv" });

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Region table to use instead of the built-in one
    #[arg(long, value_name = "FILE")]
    pub regions_file: Option<PathBuf>,
}
