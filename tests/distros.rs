//! The host checks over fixture trees of the distributions that join ACK Edge (CentOS 7, Alibaba
//! Cloud Linux 3, Ubuntu 22.04, Debian 12), read through the real file reader (`SystemHost` with a
//! sysroot, as `--sysroot` does). Nothing here touches the network or runs a command: a fixture
//! tree carries its own proc/, so listings are not run and /proc, /sys come from the tree.

use std::path::PathBuf;

use preflight::checks::host::HostFiles;
use preflight::net::{HostFacts, Listing};
use preflight::probe::node::{self, Files};
use preflight::probe::{firewall, nodeip, proxy};
use preflight::result::{Finding, Status};
use preflight::sys::host::SystemHost;

fn root(distro: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/distros")
        .join(distro)
}

fn host(distro: &str) -> SystemHost {
    SystemHost::new(&root(distro), None)
}

fn is(f: &Finding, status: Status, text: &str) {
    assert_eq!(f.status, status, "{}", f.message);
    assert!(f.message.contains(text), "want {text:?} in {}", f.message);
}

const EPS: [&str; 3] = [
    "cs-anony-vpc.cn-hangzhou.aliyuncs.com",
    "registry-cn-hangzhou-vpc.ack.aliyuncs.com",
    "100.103.9.188",
];

fn endpoints() -> Vec<String> {
    EPS.iter().map(std::string::ToString::to_string).collect()
}

#[test]
fn centos7() {
    let h = host("centos7");
    let files = HostFiles(&h);
    is(
        &node::sysctl(&files),
        Status::Fail,
        "net.ipv4.ip_forward is 0",
    );
    is(
        &node::kernel_modules(&files, true),
        Status::Pass,
        "vxlan loadable (kernel/drivers/net/vxlan.ko.xz)",
    );
    is(&node::swap(&files), Status::Fail, "/dev/dm-1");
    is(&node::cgroup(&files), Status::Pass, "cgroup v1");
    is(&node::hostname(&files), Status::Fail, "localhost");
    is(
        &node::resolver(&files, None, None),
        Status::Pass,
        "10.10.0.2, 10.10.0.3",
    );
    is(&node::leftovers(&files), Status::Pass, "no kubelet config");
    is(
        &proxy::evaluate(&proxy::read_envs(&files), &endpoints()),
        Status::Pass,
        "no HTTPS proxy",
    );
    // a fixture tree is another host: its listings are not run on this one
    assert!(h.listing(Listing::IptablesSave).is_err());
    let save = files.read("/commands/iptables-save").unwrap();
    let ports = [("tcp", 10250), ("udp", 8472)];
    is(
        &firewall::evaluate(
            Ok(&save),
            &ports,
            Some("192.168.0.20".parse().unwrap()),
            Some("eth0"),
            &[],
        ),
        Status::Fail,
        "REJECT --reject-with icmp-host-prohibited",
    );
    // the hostname is only on loopback lines of /etc/hosts
    let hosts = nodeip::hosts_lookup(&files.read("/etc/hosts").unwrap(), "localhost.localdomain");
    assert!(hosts.iter().all(std::net::IpAddr::is_loopback));
}

#[test]
fn alibaba_cloud_linux_3() {
    let files = HostFiles(&host("alinux3"));
    let f = node::sysctl(&files);
    is(&f, Status::Pass, "/etc/sysctl.d/99-kubernetes.conf:1");
    is(
        &node::kernel_modules(&files, true),
        Status::Pass,
        "vxlan loaded, br_netfilter loaded, overlay loaded",
    );
    is(&node::swap(&files), Status::Pass, "no swap");
    is(&node::cgroup(&files), Status::Pass, "v1");
    is(&node::hostname(&files), Status::Pass, "edge-node-01");
    is(
        &node::resolver(&files, Some(&"172.16.0.0/12".parse().unwrap()), None),
        Status::Pass,
        "100.100.2.136, 100.100.2.138",
    );
    is(&node::leftovers(&files), Status::Pass, "no kubelet config");
    // rp_filter 2 from /usr/lib/sysctl.d is the boot value; the live value is what counts
    assert_eq!(
        node::sysctl_at_boot(&files, "net.ipv4.conf.all.rp_filter").map(|x| x.0),
        Some("2".into())
    );
}

#[test]
fn ubuntu_22_04() {
    let files = HostFiles(&host("ubuntu2204"));
    is(
        &node::sysctl(&files),
        Status::Pass,
        "/etc/sysctl.d/99-kubernetes-cri.conf:2",
    );
    is(
        &node::kernel_modules(&files, true),
        Status::Pass,
        "br_netfilter loadable",
    );
    is(&node::cgroup(&files), Status::Pass, "cgroup v2");
    is(
        &node::resolver(&files, None, None),
        Status::Warn,
        "127.0.0.53 is a loopback stub",
    );
    assert!(node::resolver(&files, None, None)
        .message
        .contains("/run/systemd/resolve/resolv.conf"));
    let f = node::leftovers(&files);
    is(&f, Status::Warn, "/etc/kubernetes/kubelet.conf");
    for want in [
        "/etc/cni/net.d/10-flannel.conflist",
        "link flannel.1",
        "mount /var/lib/kubelet/pods/",
    ] {
        assert!(f.message.contains(want), "{want}: {}", f.message);
    }
    // containerd's drop-in proxies the aliyuncs.com names (NO_PROXY has only 10.0.0.0/8)
    let f = proxy::evaluate(&proxy::read_envs(&files), &endpoints());
    is(&f, Status::Fail, "cs-anony-vpc.cn-hangzhou.aliyuncs.com via http://proxy.dc.example:3128 for containerd.service");
    // Ubuntu maps the hostname to 127.0.1.1: the kubelet cannot take its address from it
    let hosts = nodeip::hosts_lookup(&files.read("/etc/hosts").unwrap(), "dc-node-7");
    let f = nodeip::evaluate(&nodeip::Facts {
        hostname: "dc-node-7".into(),
        hosts,
        line_target: Some("192.168.0.10".parse().unwrap()),
        line_iface: Some("ens3".into()),
        line_src: Some("10.0.0.7".parse().unwrap()),
        ..Default::default()
    });
    is(
        &f,
        Status::Fail,
        "maps to loopback (127.0.1.1) in /etc/hosts",
    );
}

#[test]
fn debian_12() {
    let files = HostFiles(&host("debian12"));
    is(&node::sysctl(&files), Status::Warn, "after the next reboot");
    is(
        &node::kernel_modules(&files, true),
        Status::Pass,
        "vxlan loaded",
    );
    is(
        &node::cgroup(&files),
        Status::Pass,
        "cpu, cpuset, memory and pids",
    );
    is(
        &node::resolver(&files, None, None),
        Status::Pass,
        "100.100.2.136",
    );
    is(&node::hostname(&files), Status::Pass, "node-a");
    is(&node::swap(&files), Status::Pass, "no swap");
}
