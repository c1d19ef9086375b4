//! The responder's datagram handling: any bytes in, at most a small protocol reply (VXLAN-framed,
//! never larger than the request, with the source it saw when the request is large enough) out.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight::probe::echo;

fuzz_target!(|data: &[u8]| {
    if let Some(reply) = echo::answer(data) {
        assert_eq!(reply.len(), echo::HEADER);
        let p = echo::decode(&reply).expect("our own reply decodes");
        assert_eq!(p.kind, echo::KIND_REPLY);
    }
    let from: std::net::SocketAddr = "[2001:db8::1]:8472".parse().unwrap();
    if let Some(reply) = echo::answer_from(data, Some(from)) {
        assert!(reply.len() <= data.len().max(echo::HEADER), "never larger than the request");
        let seen = echo::observed(&reply);
        assert!(seen.is_none() || seen == Some(from));
    }
    let _ = echo::decode(data);
    let _ = echo::observed(data);
});
