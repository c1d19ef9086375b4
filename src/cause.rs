//! Why a row is not PASS, as two closed vocabularies: the [`Phase`] in which it went wrong and the
//! [`ErrorClass`] of what went wrong. Every failure type implements [`Cause`] (after dog's
//! `erroneous_phase`), and a [`Finding`](crate::result::Finding) is built from a cause, so
//! `details.phase` and `details.error` are always set together and always from these lists.
//! `docs/report.schema.json` lists the same values; a test keeps the two from drifting.

use serde::{Deserialize, Serialize};

macro_rules! closed_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order (the schema's enum lists them in this order).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown {}: {s}", stringify!($name))))
            }
        }
    };
}

closed_enum! {
    /// Where a probe went wrong.
    Phase {
        Dns = "dns",
        Route = "route",
        Tcp = "tcp",
        Tls = "tls",
        Http = "http",
        Pull = "pull",
        Ntp = "ntp",
        Udp = "udp",
        Mtu = "mtu",
        Icmp = "icmp",
        Port = "port",
        Tools = "tools",
        Pkg = "pkg",
        Cidr = "cidr",
        Inbound = "inbound",
        Deadline = "deadline",
        Host = "host",
    }
}

closed_enum! {
    /// What went wrong (`details.error`).
    ErrorClass {
        Nxdomain = "nxdomain",
        Servfail = "servfail",
        Refused = "refused",
        NoRecords = "no-records",
        Timeout = "timeout",
        NoServer = "no-server",
        NoRoute = "no-route",
        Unreachable = "unreachable",
        Prohibit = "prohibit",
        Blackhole = "blackhole",
        LocalAddress = "local-address",
        Unavailable = "unavailable",
        LocalFirewall = "local-firewall",
        KissOfDeath = "kiss-of-death",
        Unsynchronised = "unsynchronised",
        Malformed = "malformed",
        ClockSkew = "clock-skew",
        NoSample = "no-sample",
        Handshake = "handshake",
        UnknownIssuer = "unknown-issuer",
        WrongName = "wrong-name",
        Expired = "expired",
        NotYetValid = "not-yet-valid",
        SourceNat = "source-nat",
        NoReturnPath = "no-return-path",
        Untrusted = "untrusted",
        WrongService = "wrong-service",
        OutsideRange = "outside-range",
        Undocumented = "undocumented",
        Slow = "slow",
        NoEcho = "no-echo",
        Loss = "loss",
        SmallerPathMtu = "smaller-path-mtu",
        PmtuBlackHole = "pmtu-black-hole",
        Incomplete = "incomplete",
        NotPermitted = "not-permitted",
        InUse = "in-use",
        Missing = "missing",
        NotExecutable = "not-executable",
        NoSources = "no-sources",
        Overlap = "overlap",
        Misconfigured = "misconfigured",
        Proxied = "proxied",
        FirewallDrop = "firewall-drop",
        WrongNodeIp = "wrong-node-ip",
        Outage = "outage",
        Changed = "changed",
        Deadline = "deadline",
        NotPlanned = "not-planned",
        Unsupported = "unsupported",
        Error = "error",
    }
}

/// A failure that knows its phase and class.
pub trait Cause {
    fn phase(&self) -> Phase;
    fn class(&self) -> ErrorClass;
}

/// A cause given directly, for verdicts that are not an error type (an overlap, a missing tool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plain(pub Phase, pub ErrorClass);

impl Cause for Plain {
    fn phase(&self) -> Phase {
        self.0
    }
    fn class(&self) -> ErrorClass {
        self.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_are_unique() {
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(*p));
        }
        for c in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(c.as_str()), Some(*c));
        }
        let mut v: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), ErrorClass::ALL.len());
        assert_eq!(serde_json::to_string(&Phase::Udp).unwrap(), "\"udp\"");
    }
}
