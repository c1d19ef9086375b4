//! The real implementations of the engine's traits, and the one environment ([`system::System`]) that
//! owns them for a run.

pub mod dns;
pub(crate) mod errno;
pub(crate) mod errqueue;
pub(crate) mod files;
pub mod host;
pub(crate) mod icmp;
pub(crate) mod limits;
pub(crate) mod netlink;
pub mod ntp;
pub(crate) mod output;
pub(crate) mod responder;
pub(crate) mod sockopt;
pub(crate) mod system;
pub(crate) mod tcp;
pub(crate) mod term;
pub mod tls;
pub(crate) mod trace;
pub(crate) mod udp;
