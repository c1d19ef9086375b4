//! One module per probe kind. Each turns an OS outcome into a classified [`Finding`](crate::result::Finding).

pub(crate) mod cidr;
pub(crate) mod discovery;
pub mod dns;
pub mod echo;
pub mod firewall;
pub(crate) mod icmp;
pub(crate) mod inbound;
pub(crate) mod loss;
pub(crate) mod mtu;
pub mod node;
pub mod nodeip;
pub mod ntp;
pub mod pkg;
pub mod port;
pub mod proxy;
pub mod pull;
pub mod route;
pub mod tcp;
pub mod tls;
pub(crate) mod tools;
pub mod trace;
pub mod udp;
