//! `host.firewall`: would the node's own netfilter rules drop what the node must receive (TCP
//! 10250/10255/9100/9445 and UDP 8472 from the VPC) or what it forwards for pods? Pure over the text
//! of `iptables-save` (legacy or nft backend): the filter table's INPUT chain is walked the way the
//! kernel would for a NEW packet from the VPC, following jumps into user chains; a rule whose
//! matches cannot be decided here (ipsets, rate limits, marks) makes the verdict "may drop", never
//! PASS. FORWARD's policy and a catch-all REJECT/DROP, before which flannel would have to insert its
//! rules, are warnings.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::cause::{ErrorClass, Phase, Plain};
use crate::result::Finding;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule as iptables-save prints it (for evidence).
    pub text: String,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// ACCEPT / DROP for built-in chains; None for user chains.
    pub policy: Option<String>,
    pub rules: Vec<Rule>,
}

/// The filter table of an `iptables-save` dump.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub chains: HashMap<String, Chain>,
}

/// Split a rule line like a shell would (iptables-save quotes comments).
fn words(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut q = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                q = !q;
                any = true;
            }
            c if c.is_whitespace() && !q => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Parse the `*filter` table of iptables-save output; None when there is none.
pub fn parse(save: &str) -> Option<Filter> {
    let mut in_filter = false;
    let mut seen = false;
    let mut f = Filter::default();
    for line in save.lines().map(str::trim) {
        if let Some(t) = line.strip_prefix('*') {
            in_filter = t == "filter";
            seen |= in_filter;
            continue;
        }
        if !in_filter {
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let mut w = decl.split_whitespace();
            let name = w.next().unwrap_or("").to_string();
            let policy = w.next().filter(|p| *p != "-").map(str::to_string);
            f.chains.entry(name).or_default().policy = policy;
        } else if line.starts_with("-A ") {
            let w = words(line);
            if w.len() >= 2 {
                let chain = w[1].clone();
                f.chains.entry(chain).or_default().rules.push(Rule {
                    text: crate::text::clean(line, 300),
                    args: w[2..].to_vec(),
                });
            }
        }
    }
    seen.then_some(f)
}

/// The packet a rule is matched against.
#[derive(Debug, Clone)]
pub(crate) struct NewPacket {
    pub proto: &'static str,
    pub dport: u16,
    /// A source address inside the VPC, when known.
    pub src: Option<IpAddr>,
    /// The interface it arrives on (the one toward the line), when known.
    pub iface: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum M {
    Yes,
    No,
    Maybe,
}

fn and(a: M, b: M) -> M {
    match (a, b) {
        (M::No, _) | (_, M::No) => M::No,
        (M::Maybe, _) | (_, M::Maybe) => M::Maybe,
        _ => M::Yes,
    }
}

fn port_in(spec: &str, port: u16) -> bool {
    spec.split(',').any(|p| match p.split_once(':') {
        Some((a, b)) => {
            let a = a.parse::<u16>().unwrap_or(0);
            let b = b.parse::<u16>().unwrap_or(u16::MAX);
            (a..=b).contains(&port)
        }
        None => p.parse::<u16>().ok() == Some(port),
    })
}

fn iface_matches(pattern: &str, iface: &str) -> bool {
    match pattern.strip_suffix('+') {
        Some(prefix) => iface.starts_with(prefix),
        None => pattern == iface,
    }
}

/// Does a rule's match part apply to `p`? Unknown matches give Maybe.
fn matches(args: &[String], p: &NewPacket) -> (M, Option<(String, Option<String>)>) {
    let mut m = M::Yes;
    let mut target = None;
    let mut i = 0;
    let mut neg = false;
    while i < args.len() {
        let a = args[i].as_str();
        let next = args.get(i + 1).map_or("", String::as_str);
        let mut step = 2;
        let r = match a {
            "!" => {
                neg = true;
                i += 1;
                continue;
            }
            "-p" | "--protocol" => Some(if next == p.proto || next == "all" {
                M::Yes
            } else {
                M::No
            }),
            "-s" | "--source" => Some(
                match (
                    next.parse::<IpNet>()
                        .or_else(|_| next.parse::<IpAddr>().map(IpNet::from)),
                    p.src,
                ) {
                    (Ok(n), _) if n.prefix_len() == 0 => M::Yes,
                    (Ok(n), Some(ip)) => {
                        if n.contains(&ip) {
                            M::Yes
                        } else {
                            M::No
                        }
                    }
                    _ => M::Maybe,
                },
            ),
            "-d" | "--destination" => Some(match next.parse::<IpNet>() {
                Ok(n) if n.prefix_len() == 0 => M::Yes,
                _ => M::Maybe,
            }),
            "-i" | "--in-interface" => Some(match &p.iface {
                Some(i) => {
                    if iface_matches(next, i) {
                        M::Yes
                    } else {
                        M::No
                    }
                }
                None => M::Maybe,
            }),
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                Some(if port_in(next, p.dport) {
                    M::Yes
                } else {
                    M::No
                })
            }
            "--sport" | "--source-port" | "--sports" | "--source-ports" => Some(M::No),
            "--ctstate" | "--state" => {
                Some(if next.split(',').any(|s| s == "NEW" || s == "UNTRACKED") {
                    M::Yes
                } else {
                    M::No
                })
            }
            "--syn" => {
                step = 1;
                Some(if p.proto == "tcp" { M::Yes } else { M::No })
            }
            "--dst-type" => Some(if next == "LOCAL" { M::Yes } else { M::No }),
            "-m" | "--match" => Some(M::Yes), // the module itself; its options follow
            "--comment" => Some(M::Yes),
            "--reject-with" | "--log-prefix" | "--log-level" | "--set-xmark" | "--set-mark"
            | "--to-destination" => Some(M::Yes),
            "-j" | "--jump" | "-g" | "--goto" => {
                target = Some((next.to_string(), None));
                Some(M::Yes)
            }
            "-c" => {
                step = 3;
                Some(M::Yes)
            }
            _ if a.starts_with('-') => {
                // an option this reader does not model (ipset, limit, mark, tcp-flags, ...): it may
                // or may not match; skip its values
                step = 1;
                while args
                    .get(i + step)
                    .is_some_and(|v| !v.starts_with('-') && v != "!")
                {
                    step += 1;
                }
                Some(M::Maybe)
            }
            _ => {
                step = 1;
                None
            }
        };
        if let Some(mut r) = r {
            if neg {
                r = match r {
                    M::Yes => M::No,
                    M::No => M::Yes,
                    M::Maybe => M::Maybe,
                };
            }
            m = and(m, r);
        }
        neg = false;
        i += step;
    }
    (m, target)
}

/// What the INPUT chain does with a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    Accepted(Option<String>),
    Dropped(String),
    /// A rule that may drop it (a match this reader cannot decide), or a drop after such an accept.
    MaybeDropped(String),
}

fn walk(
    f: &Filter,
    chain: &str,
    p: &NewPacket,
    depth: usize,
    uncertain: &mut bool,
) -> Option<Fate> {
    let c = f.chains.get(chain)?;
    if depth > 16 {
        return Some(Fate::MaybeDropped(format!(
            "chain {chain}: jumps nested too deep to follow"
        )));
    }
    for r in &c.rules {
        let (m, target) = matches(&r.args, p);
        if m == M::No {
            continue;
        }
        let Some((t, _)) = target else { continue };
        let sure = m == M::Yes && !*uncertain;
        match t.as_str() {
            "ACCEPT" => {
                if m == M::Yes {
                    return Some(Fate::Accepted(Some(r.text.clone())));
                }
                *uncertain = true;
            }
            "DROP" | "REJECT" => {
                if sure {
                    return Some(Fate::Dropped(r.text.clone()));
                }
                return Some(Fate::MaybeDropped(r.text.clone()));
            }
            "RETURN" if m == M::Yes => {
                return None;
            }
            t if f.chains.contains_key(t) => {
                let before = *uncertain;
                if m == M::Maybe {
                    *uncertain = true;
                }
                if let Some(fate) = walk(f, t, p, depth + 1, uncertain) {
                    match (&fate, m) {
                        (Fate::Accepted(_), M::Maybe) => {}
                        (Fate::Dropped(rule), M::Maybe) => {
                            return Some(Fate::MaybeDropped(rule.clone()))
                        }
                        _ => return Some(fate),
                    }
                }
                if m == M::Yes {
                    *uncertain = before || *uncertain;
                }
            }
            _ => {} // LOG, MARK, ...: not terminal
        }
    }
    None
}

/// The fate of `p` in INPUT (policy when no rule decides).
pub(crate) fn input_fate(f: &Filter, p: &NewPacket) -> Fate {
    let mut uncertain = false;
    match walk(f, "INPUT", p, 0, &mut uncertain) {
        Some(fate) => fate,
        None => match f.chains.get("INPUT").and_then(|c| c.policy.as_deref()) {
            Some("DROP") if uncertain => Fate::MaybeDropped("INPUT policy DROP".into()),
            Some("DROP") => Fate::Dropped("INPUT policy DROP".into()),
            _ => Fate::Accepted(None),
        },
    }
}

/// FORWARD's problems for pod traffic: policy DROP, or a catch-all REJECT/DROP rule.
pub(crate) fn forward_problems(f: &Filter) -> Vec<String> {
    let mut out = vec![];
    let Some(c) = f.chains.get("FORWARD") else {
        return out;
    };
    if c.policy.as_deref() == Some("DROP") {
        out.push("FORWARD policy is DROP: pod traffic this node forwards is dropped unless flannel's ACCEPT rules for the pod CIDR come first".into());
    }
    for r in &c.rules {
        let catch_all = r.args.iter().all(|a| {
            !a.starts_with('-')
                || ["-j", "--jump", "-m", "--comment", "--reject-with"].contains(&a.as_str())
        });
        let terminal = r
            .args
            .windows(2)
            .any(|w| w[0] == "-j" && (w[1] == "REJECT" || w[1] == "DROP"));
        if catch_all && terminal {
            out.push(format!(
                "FORWARD has a catch-all rule before where flannel appends its own: {}",
                r.text
            ));
            break;
        }
    }
    out
}

/// Judge the node's ports against the rules. `ports` are (proto, port) the node must receive.
/// Notes the other listings add to the iptables verdict: a running firewalld decides on top of the
/// rules, and native nftables tables are not evaluated rule by rule.
pub(crate) fn listing_notes(
    firewalld_state: Option<&str>,
    nft_ruleset: Option<&str>,
) -> Vec<String> {
    const IPTABLES_TABLES: [&str; 10] = [
        "ip filter",
        "ip nat",
        "ip mangle",
        "ip raw",
        "ip security",
        "ip6 filter",
        "ip6 nat",
        "ip6 mangle",
        "ip6 raw",
        "ip6 security",
    ];
    let mut notes = vec![];
    if firewalld_state.is_some_and(|s| s.trim() == "running") {
        notes.push("firewalld is running: its zones decide what the rules above allow; open the ports with firewall-cmd --permanent --add-port".to_string());
    }
    if let Some(nft) = nft_ruleset {
        let native: Vec<String> = nft
            .lines()
            .filter_map(|l| l.trim().strip_prefix("table "))
            .map(|t| t.trim_end_matches('{').trim().to_string())
            .filter(|t| !IPTABLES_TABLES.contains(&t.as_str()))
            .collect();
        if !native.is_empty() {
            notes.push(format!(
                "native nftables tables not evaluated rule by rule: {}",
                crate::text::clean(&native.join(", "), 200)
            ));
        }
    }
    notes
}

pub fn evaluate(
    save: Result<&str, &str>,
    ports: &[(&'static str, u16)],
    src: Option<IpAddr>,
    iface: Option<&str>,
    extra: &[String],
) -> Finding {
    let cause_drop = Plain(Phase::Host, ErrorClass::FirewallDrop);
    let save = match save {
        Ok(s) => s,
        Err(why) => {
            return Finding::skip_by(
                &Plain(Phase::Host, ErrorClass::Unavailable),
                format!("the netfilter rules were not read: {why}"),
            )
            .evidence(&FirewallEvidence::notes(extra))
        }
    };
    let Some(filter) = parse(save) else {
        let mut f = Finding::pass("no iptables filter table (no rules loaded in this backend)");
        if !extra.is_empty() {
            f = Finding::warn_by(
                &Plain(Phase::Host, ErrorClass::Misconfigured),
                format!("no iptables filter table; {}", extra.join("; ")),
            );
        }
        return f.evidence(&FirewallEvidence::notes(extra));
    };
    let mut dropped = vec![];
    let mut maybe = vec![];
    let mut fates = vec![];
    for (proto, port) in ports {
        let p = NewPacket {
            proto,
            dport: *port,
            src,
            iface: iface.map(str::to_string),
        };
        let fate = input_fate(&filter, &p);
        let what = format!("{proto}/{port}");
        fates.push(match &fate {
            Fate::Accepted(Some(r)) => format!("{what}: accepted by {r}"),
            Fate::Accepted(None) => format!("{what}: accepted (no rule drops it)"),
            Fate::Dropped(r) => format!("{what}: dropped by {r}"),
            Fate::MaybeDropped(r) => format!("{what}: may be dropped by {r}"),
        });
        match fate {
            Fate::Dropped(r) => dropped.push((what, r)),
            Fate::MaybeDropped(r) => maybe.push(format!("{what} by {r}")),
            Fate::Accepted(_) => {}
        }
    }
    let mut warns = forward_problems(&filter);
    warns.extend(maybe.iter().map(|m| format!("may drop {m}")));
    warns.extend(extra.iter().cloned());
    let from = src.map(|s| format!(" from {s}")).unwrap_or_default();
    let f = if !dropped.is_empty() {
        let ports: Vec<&str> = dropped.iter().map(|(what, _)| what.as_str()).collect();
        let by: Vec<String> = dropped
            .iter()
            .map(|(what, r)| format!("{what} by {r}"))
            .collect();
        Finding::fail_by(&cause_drop, format!("this node's firewall drops inbound {}{from}: {}", ports.join(", "), by.join("; ")))
            .fix("Accept the node's ports from the VPC CIDR before that rule, e.g. iptables -I INPUT -s <VPC CIDR> -p tcp -m multiport --dports 10250,10255,9100,9445 -j ACCEPT and iptables -I INPUT -s <VPC CIDR> -p udp --dport 8472 -j ACCEPT (firewalld: firewall-cmd --permanent --add-port=10250/tcp … --add-port=8472/udp; then --reload), and persist it.")
    } else if !warns.is_empty() {
        Finding::warn_by(&cause_drop, warns.join("; "))
            .fix("Let pod traffic through FORWARD (policy ACCEPT, or accept the pod CIDR before any catch-all REJECT/DROP), and make sure no rule this tool could not evaluate drops the node's ports.")
    } else {
        Finding::pass(format!("the node's INPUT rules accept the node's ports{from}; FORWARD has no DROP policy or catch-all"))
    };
    f.evidence(&FirewallEvidence {
        ports: Some(fates),
        notes: Some(extra.to_vec()),
    })
}

evidence! {
    /// The evidence of `host.firewall`.
    pub(crate) struct FirewallEvidence {
        /// The fate of a new packet to each node port (`tcp/10250: accepted by …`).
        ports: Vec<String>,
        /// What else was noticed (another backend's rules, rules not evaluated).
        notes: Vec<String>,
    }
}

impl FirewallEvidence {
    fn notes(extra: &[String]) -> FirewallEvidence {
        FirewallEvidence {
            ports: None,
            notes: Some(extra.to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Status;

    const PORTS: [(&str, u16); 5] = [
        ("tcp", 10250),
        ("tcp", 10255),
        ("tcp", 9100),
        ("tcp", 9445),
        ("udp", 8472),
    ];

    fn src() -> Option<IpAddr> {
        Some("192.168.0.20".parse().unwrap())
    }

    #[test]
    fn empty_and_accepting_rulesets_pass() {
        let save =
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
        assert_eq!(
            evaluate(Ok(save), &PORTS, src(), Some("eth0"), &[]).status,
            Status::Pass
        );
        assert_eq!(
            evaluate(Ok(""), &PORTS, src(), None, &[]).status,
            Status::Pass
        );
        assert_eq!(
            evaluate(Err("iptables-save not found"), &PORTS, src(), None, &[]).status,
            Status::Skip
        );
    }

    #[test]
    fn centos7_default_reject_drops_the_ports() {
        // the stock CentOS 7 iptables-services rules
        let save = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
            -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p icmp -j ACCEPT\n-A INPUT -i lo -j ACCEPT\n\
            -A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\n\
            -A FORWARD -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n";
        let f = evaluate(Ok(save), &PORTS, src(), Some("eth0"), &[]);
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("tcp/10250") && f.message.contains("udp/8472"),
            "{}",
            f.message
        );
        assert!(
            f.message
                .contains("-A INPUT -j REJECT --reject-with icmp-host-prohibited"),
            "{}",
            f.message
        );
    }

    #[test]
    fn accepts_before_the_drop_and_user_chains() {
        let save = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:KUBE - [0:0]\n\
            -A INPUT -s 192.168.0.0/16 -j KUBE\n-A KUBE -p tcp -m multiport --dports 10250,10255,9100:9445 -j ACCEPT\n\
            -A KUBE -p udp --dport 8472 -j ACCEPT\n-A KUBE -j RETURN\nCOMMIT\n";
        assert_eq!(
            evaluate(Ok(save), &PORTS, src(), Some("eth0"), &[]).status,
            Status::Pass
        );
        // from outside the VPC range the same rules leave INPUT's DROP policy
        let f = evaluate(
            Ok(save),
            &PORTS,
            Some("10.9.9.9".parse().unwrap()),
            Some("eth0"),
            &[],
        );
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("INPUT policy DROP"), "{}", f.message);
    }

    #[test]
    fn one_port_dropped_and_negations() {
        let save = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m udp --dport 8472 -j DROP\n-A INPUT ! -i eth0 -p tcp --dport 10250 -j DROP\nCOMMIT\n";
        let f = evaluate(Ok(save), &PORTS, src(), Some("eth0"), &[]);
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("udp/8472") && !f.message.contains("tcp/10250 by"),
            "{}",
            f.message
        );
        let f = evaluate(Ok(save), &PORTS, src(), Some("eth1"), &[]);
        assert!(f.message.contains("tcp/10250 by"), "{}", f.message);
    }

    #[test]
    fn undecidable_matches_never_pass() {
        let save = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m set --match-set blocked src -j DROP\nCOMMIT\n";
        let f = evaluate(Ok(save), &PORTS, src(), Some("eth0"), &[]);
        assert_eq!(f.status, Status::Warn, "{}", f.message);
        assert!(f.message.contains("may drop"), "{}", f.message);
    }

    #[test]
    fn forward_policy_and_catch_all_warn() {
        let save = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\nCOMMIT\n";
        let f = evaluate(Ok(save), &PORTS, src(), None, &[]);
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message.contains("FORWARD policy is DROP"),
            "{}",
            f.message
        );
        let save = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n-A FORWARD -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n";
        assert!(evaluate(Ok(save), &PORTS, src(), None, &[])
            .message
            .contains("catch-all"));
    }

    #[test]
    fn hostile_text_is_bounded() {
        let mut save = String::from("*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j A\n");
        save.push_str(&format!(
            "-A INPUT -m comment --comment \"\u{1b}[2J{}\" -j DROP\nCOMMIT\n",
            "x".repeat(5000)
        ));
        let f = evaluate(Ok(&save), &PORTS, src(), None, &[]);
        assert!(!f.message.contains('\u{1b}'));
        assert!(f.status != Status::Pass);
    }
}
