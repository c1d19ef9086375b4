//! The real implementations of the engine's traits, and the one environment ([`system::System`]) that
//! owns them for a run.

pub mod dns;
pub mod errno;
pub mod errqueue;
pub mod host;
pub mod icmp;
pub mod netlink;
pub mod ntp;
pub mod responder;
pub mod sockopt;
pub mod system;
pub mod tcp;
pub mod term;
pub mod tls;
pub mod trace;
pub mod udp;
