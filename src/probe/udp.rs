//! Flannel VXLAN (UDP 8472) echo through a peer's responder, and path MTU. Phases: udp, mtu.

use std::net::SocketAddr;

use crate::result::Finding;

#[derive(Debug, Clone, PartialEq)]
pub struct EchoOutcome {
    pub sent: u32,
    pub received: u32,
    pub rtts_ms: Vec<f64>,
    /// An error seen while sending or receiving (e.g. ICMP port unreachable), if any.
    pub error: Option<String>,
}

pub fn evaluate_echo(peer: SocketAddr, o: &EchoOutcome) -> Finding {
    let loss = o.sent.saturating_sub(o.received);
    let rtt = if o.rtts_ms.is_empty() {
        String::new()
    } else {
        let min = o.rtts_ms.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = o.rtts_ms.iter().cloned().fold(0.0, f64::max);
        format!(", round trip {min:.1}–{max:.1} ms")
    };
    let base = format!("{}/{} probes echoed by the responder at {peer}{rtt}", o.received, o.sent);
    let f = if o.received == 0 {
        let why = o.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_else(|| " (UDP 8472 dropped on the way, or no responder running)".into());
        Finding::fail(format!(
            "no echo from {peer}: 0/{} probes echoed{why}; Flannel VXLAN between the node and this peer will not work",
            o.sent
        ))
        .with("phase", "udp")
    } else if loss > 0 {
        Finding::warn(format!("{base}; {loss} lost"))
    } else {
        Finding::pass(base)
    };
    f.with("sent", o.sent).with("received", o.received)
}

#[derive(Debug, Clone, PartialEq)]
pub struct MtuOutcome {
    /// Largest IP packet that passed with Don't Fragment set.
    pub path_mtu: u32,
    pub iface_mtu: Option<u32>,
    pub iface: Option<String>,
    /// How it was found (for evidence).
    pub method: String,
}

/// VXLAN encapsulation overhead (outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14).
pub const VXLAN_OVERHEAD: u32 = 50;

pub fn evaluate_mtu(peer: SocketAddr, o: &Result<MtuOutcome, String>) -> Finding {
    match o {
        Err(e) => Finding::skip(format!("path MTU toward {peer} not measured: {e}")),
        Ok(m) => {
            let vx = m.path_mtu.saturating_sub(VXLAN_OVERHEAD);
            let iface = m.iface.clone().unwrap_or_else(|| "?".into());
            let f = match m.iface_mtu {
                Some(i) if m.path_mtu < i => Finding::warn(format!(
                    "path MTU toward {peer} is {} < interface MTU {i} ({iface}): set Flannel's MTU to {vx} (path MTU − {VXLAN_OVERHEAD}) or large pod packets will be dropped ({})",
                    m.path_mtu, m.method
                )),
                _ => Finding::pass(format!(
                    "{}-byte packets pass with DF toward {peer} ({iface}); Flannel VXLAN MTU will be {vx} ({})",
                    m.path_mtu, m.method
                )),
            };
            let mut f = f.with("path_mtu", m.path_mtu).with("vxlan_mtu", vx);
            if let Some(i) = m.iface_mtu {
                f = f.with("interface_mtu", i);
            }
            f
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    #[test]
    fn echo() {
        let p: SocketAddr = "192.168.0.20:8472".parse().unwrap();
        let o = |r: u32| EchoOutcome { sent: 3, received: r, rtts_ms: vec![0.5; r as usize], error: None };
        assert_eq!(evaluate_echo(p, &o(3)).status, Status::Pass);
        assert_eq!(evaluate_echo(p, &o(1)).status, Status::Warn);
        let f = evaluate_echo(p, &o(0));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.details["phase"], "udp");
    }

    #[test]
    fn mtu() {
        let p: SocketAddr = "192.168.0.20:8472".parse().unwrap();
        let m = |pm| Ok(MtuOutcome { path_mtu: pm, iface_mtu: Some(1500), iface: Some("eth0".into()), method: "x".into() });
        let f = evaluate_mtu(p, &m(1400));
        assert_eq!(f.status, Status::Warn);
        assert!(f.message.contains("1400") && f.message.contains("1350"), "{}", f.message);
        assert_eq!(evaluate_mtu(p, &m(1500)).status, Status::Pass);
        assert_eq!(evaluate_mtu(p, &Err("no responder".into())).status, Status::Skip);
    }
}
