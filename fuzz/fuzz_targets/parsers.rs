//! The user's own input and other hosts' reports: flag values, region data, `summarize` reports.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight::{options, regions::RegionTable};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = preflight::probe::pkg::host_port(&text);
    let _ = RegionTable::parse(&text, "fuzz");
    let _ = options::parse_host_port(&text, 6443, "--apiserver");
    let _ = options::parse_endpoint(&text);
    let _ = options::parse_duration(&text, "--timeout");
    let _ = options::parse_cidr(&text, "--pod-cidr");
    let _ = options::parse_k8s_version(&text);
    let _ = preflight::fleet::parse_report(&text);
});
