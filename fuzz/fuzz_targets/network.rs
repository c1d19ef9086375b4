//! Bytes from the network: ICMP errors, `WWW-Authenticate`, `Location`, token and manifest JSON,
//! refusal bodies, the cluster-info ConfigMap (`preflight::fuzzing::network`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| preflight::fuzzing::network(data));
