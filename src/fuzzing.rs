//! Entry points of the fuzz targets (`fuzz/`) and of their regression tests (`tests/fuzz.rs`):
//! every parser of bytes a peer or a broken host shapes, fed one input. Each must return — never
//! panic, never hang — and what it says of the input must reach a terminal escaped. Internal
//! parsers stay private to the crate; these two functions are their only way in from outside.

use crate::probe::{discovery, firewall, pkg, port, proxy, pull, trace};

/// No control character (an escape sequence's ESC among them) in text bound for a terminal.
fn escaped(what: &str, s: &str) {
    assert!(
        !s.chars().any(char::is_control),
        "{what} reaches the terminal raw: {s:?}"
    );
}

/// Everything parsed from the network: ICMP errors quoting a probe (the sweep's raw listener),
/// `WWW-Authenticate` challenges and `Location` / realm URLs, token and manifest JSON, the
/// registry's refusal bodies, the cluster-info ConfigMap with its kubeconfig, CA and signatures.
#[doc(hidden)]
pub fn network(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = trace::parse_icmp_error(data);
    if let Some(c) = pull::parse_challenge(&text) {
        if let Some(realm) = pull::parse_url(&c.realm) {
            let path = pull::token_path(&realm, &c, "acs/pause");
            assert!(path.starts_with('/'), "a token path is absolute: {path:?}");
        }
    }
    if let Some(u) = pull::parse_url(&text) {
        escaped("a URL's host", &u.host);
        assert!(u.port != 0, "port 0 is no port: {text:?}");
    }
    let _ = pull::token_of(data);
    let _ = pull::next_of(data);
    for status in [401, 404, 500] {
        escaped(
            "a refusal body",
            &pull::refused("blob", status, data).message,
        );
    }
    let _ = discovery::kubeconfig_fields(&text);
    let _ = discovery::server_host_port(&text);
    let _ = discovery::ca_pin(data);
    let _ = discovery::ca_pin_der(data);
    let token = discovery::BootstrapToken::parse("abcdef.0123456789abcdef");
    if let Some(t) = &token {
        let _ = discovery::jws_valid(&text, &text, t);
    }
    for status in [200, 403] {
        let reply = crate::probe::pull::HttpReply {
            status,
            headers: vec![],
            received: data.len(),
            body: data.to_vec(),
            stalled_ms: None,
            body_ms: 0,
            mss: None,
        };
        let _ = discovery::answer_ca(&reply);
        let _ = discovery::answer_server(&reply);
        let f = discovery::evaluate(
            &Ok(reply),
            "192.168.0.10",
            token.as_ref(),
            Some("sha256:00"),
            &[],
            None,
        );
        escaped("the discovery row", &f.message);
    }
}

/// Everything parsed from files a broken or hostile host may have shaped: /proc/net tables,
/// package sources, resolv.conf, os-release and machine-id, iptables-save, proxy settings.
#[doc(hidden)]
pub fn host(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = port::parse_proc_net(&text);
    let _ = pkg::parse_yum_repo("f", &text);
    let _ = pkg::parse_apt_list("f", &text);
    let _ = pkg::parse_deb822("f", &text);
    let _ = crate::sys::host::parse_nameservers(&text);
    let _ = crate::sys::host::parse_os_release(&text);
    let id = crate::sys::host::parse_machine_id(&text);
    assert!(id.is_empty() || id.len() == 32, "{id:?}");
    if let Some(f) = firewall::parse(&text) {
        let p = firewall::NewPacket {
            proto: "tcp",
            dport: 10250,
            src: None,
            iface: None,
        };
        let _ = firewall::input_fate(&f, &p);
        let _ = firewall::forward_problems(&f);
    }
    let fw = firewall::evaluate(Ok(&text), &[("tcp", 10250), ("udp", 8472)], None, None, &[]);
    escaped("the firewall row", &fw.message);
    let _ = proxy::systemd_words(&text);
    let _ = proxy::go_bypasses(&text, "registry.example", 443);
    let _ = proxy::curl_bypasses(&text, "registry.example");
    escaped("a proxy URL", &proxy::redact(&text));
    let files: std::collections::BTreeMap<String, String> = [
        "/etc/os-release",
        "/etc/centos-release",
        "/etc/redhat-release",
        "/proc/sys/kernel/osrelease",
    ]
    .into_iter()
    .map(|p| (p.to_string(), text.to_string()))
    .collect();
    if let Ok(t) = crate::checks::host::os::OsTable::builtin() {
        let f = crate::checks::host::os::evaluate(&files, "x86_64", &t);
        escaped("the OS row", &f.message);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[should_panic(expected = "reaches the terminal raw")]
    fn raw_text_is_caught() {
        super::escaped("a realm", "\u{1b}[2J");
    }
}
