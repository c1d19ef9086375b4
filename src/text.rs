//! Text that came from the network or the host (certificate fields, HTTP headers, banners, DNS
//! names, file contents) is cleaned before it reaches a terminal, Markdown or a table: control
//! characters (ESC, CR, BEL, C1, bidi overrides) are shown escaped, and the length is capped.

/// Escape control and bidi-override characters as `\u{..}` and cap at `max` characters ("…" marks a cut).
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        if c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
        {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// The first `n` items joined with ", ", and how many more: "a, b, c … (+7)".
pub(crate) fn first_few(v: &[String], n: usize) -> String {
    first_few_of(v, n, v.len())
}

/// As [`first_few`], for a list that may itself be capped: `total` items in all.
pub(crate) fn first_few_of(v: &[String], n: usize, total: usize) -> String {
    let shown = n.min(v.len());
    let mut s = v[..shown].join(", ");
    if total > shown {
        s.push_str(&format!(" … (+{})", total - shown));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_caps() {
        assert_eq!(
            clean("CN=evil\x1b[2J\r\n", 100),
            "CN=evil\\u{1b}[2J\\u{d}\\u{a}"
        );
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("a\u{202e}b", 10), "a\\u{202e}b");
        assert_eq!(clean("日本語", 10), "日本語");
    }
}
