//! One module per probe kind. Each turns an OS outcome into a classified [`Finding`](crate::result::Finding).

pub mod cidr;
pub mod dns;
pub mod echo;
pub mod firewall;
pub mod icmp;
pub mod inbound;
pub mod loss;
pub mod mtu;
pub mod node;
pub mod nodeip;
pub mod ntp;
pub mod pkg;
pub mod port;
pub mod proxy;
pub mod pull;
pub mod route;
pub mod tcp;
pub mod timesync;
pub mod tls;
pub mod tools;
pub mod trace;
pub mod udp;
