//! The responder's datagram handling: any bytes in, at most a 78-byte protocol reply (VXLAN-framed) out.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight::probe::echo;

fuzz_target!(|data: &[u8]| {
    if let Some(reply) = echo::answer(data) {
        assert_eq!(reply.len(), echo::HEADER);
        let p = echo::decode(&reply).expect("our own reply decodes");
        assert_eq!(p.kind, echo::KIND_REPLY);
    }
    let _ = echo::decode(data);
});
