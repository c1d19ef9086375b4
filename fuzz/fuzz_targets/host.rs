//! Files a broken or hostile host shapes: /proc/net, package sources, resolv.conf, os-release,
//! machine-id, iptables-save, proxy settings (`preflight::fuzzing::host`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| preflight::fuzzing::host(data));
