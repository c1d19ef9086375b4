//! Every pure parser of untrusted text: /proc/net tables, package sources, region data, flag values.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight::{options, probe, regions::RegionTable};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = probe::port::parse_proc_net(&text);
    let _ = probe::pkg::parse_yum_repo("f", &text);
    let _ = probe::pkg::parse_apt_list("f", &text);
    let _ = probe::pkg::parse_deb822("f", &text);
    let _ = probe::pkg::host_port(&text);
    let _ = RegionTable::parse(&text, "fuzz");
    let _ = options::parse_host_port(&text, 6443, "--apiserver");
    let _ = options::parse_endpoint(&text);
    let _ = options::parse_duration(&text, "--timeout");
    let _ = options::parse_cidr(&text, "--pod-cidr");
    let _ = options::parse_k8s_version(&text);
    let _ = preflight::sys::host::parse_nameservers(&text);
    let _ = preflight::fleet::parse_report(&text);
});
