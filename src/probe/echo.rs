//! The agent's own probe protocol (UDP 8472 echo, TCP banner) between `check`/`inbound` and
//! `responder`. Pure encode/decode, fuzzable: a reply is believed only when it carries our magic and
//! the nonce we sent, so a middlebox cannot fake it.
//!
//! Datagram: "AEPF" | version 1 | kind (1 request, 2 reply) | 2 bytes zero | nonce (16) | size u32 BE | padding

pub const MAGIC: &[u8; 4] = b"AEPF";
pub const VERSION: u8 = 1;
pub const HEADER: usize = 28;
pub const KIND_REQUEST: u8 = 1;
pub const KIND_REPLY: u8 = 2;
/// The TCP banner prefix the responder writes on every accepted connection.
pub const TCP_BANNER: &str = "AEPF-TCP";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub kind: u8,
    pub nonce: [u8; 16],
    /// For a request: the bytes sent; for a reply: the bytes the responder received.
    pub size: u32,
}

/// Encode a packet padded to `total` bytes (at least the header).
pub fn encode(p: &Packet, total: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(total.max(HEADER));
    b.extend_from_slice(MAGIC);
    b.push(VERSION);
    b.push(p.kind);
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&p.nonce);
    b.extend_from_slice(&p.size.to_be_bytes());
    b.resize(total.max(HEADER), 0x5a);
    b
}

/// Decode; None for anything that is not exactly our protocol.
pub fn decode(b: &[u8]) -> Option<Packet> {
    if b.len() < HEADER || &b[..4] != MAGIC || b[4] != VERSION || b[6] != 0 || b[7] != 0 {
        return None;
    }
    let kind = b[5];
    if kind != KIND_REQUEST && kind != KIND_REPLY {
        return None;
    }
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&b[8..24]);
    let size = u32::from_be_bytes([b[24], b[25], b[26], b[27]]);
    Some(Packet { kind, nonce, size })
}

/// The responder's answer to a datagram: a small reply (no amplification), or None (ignore it).
pub fn answer(datagram: &[u8]) -> Option<Vec<u8>> {
    let p = decode(datagram)?;
    if p.kind != KIND_REQUEST {
        return None;
    }
    Some(encode(&Packet { kind: KIND_REPLY, nonce: p.nonce, size: datagram.len().min(u32::MAX as usize) as u32 }, HEADER))
}

/// A fresh random-enough nonce (time, pid and a counter through a hash; not a secret, only unguessable
/// for a middlebox that does not see the request).
pub fn nonce() -> [u8; 16] {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = [0u8; 16];
    for half in out.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
        h.write_u32(std::process::id());
        half.copy_from_slice(&h.finish().to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reply() {
        let p = Packet { kind: KIND_REQUEST, nonce: [7; 16], size: 1400 };
        let b = encode(&p, 1400);
        assert_eq!(b.len(), 1400);
        assert_eq!(decode(&b), Some(p));
        let r = answer(&b).unwrap();
        assert_eq!(r.len(), HEADER);
        assert_eq!(decode(&r), Some(Packet { kind: KIND_REPLY, nonce: [7; 16], size: 1400 }));
        // a reply is never answered (no loops between two responders)
        assert_eq!(answer(&r), None);
    }

    #[test]
    fn garbage_is_ignored() {
        assert_eq!(answer(b""), None);
        assert_eq!(answer(&[0u8; 65507]), None);
        let mut b = encode(&Packet { kind: KIND_REQUEST, nonce: [1; 16], size: 0 }, 64);
        b[4] = 9;
        assert_eq!(answer(&b), None);
        let mut b = encode(&Packet { kind: KIND_REQUEST, nonce: [1; 16], size: 0 }, 64);
        b[5] = 3;
        assert_eq!(answer(&b), None);
        assert_eq!(answer(&b"AEPF"[..]), None);
        // pseudo-random bytes never panic
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for len in 0..300 {
            let v: Vec<u8> = (0..len).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x as u8 }).collect();
            let _ = answer(&v);
        }
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
    }
}
