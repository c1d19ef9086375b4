//! The terminal the views are written to: its width, whether it takes UTF-8 and colour.
//! Pure decisions over the environment values (unit-tested), plus the one ioctl.

use std::io::IsTerminal;

/// Width used when the output is not a terminal (a file, a pipe, a ticket).
pub(crate) const FILE_WIDTH: usize = 100;

/// Columns of the terminal on standard output, if it is one (comfy-table asks crossterm, which
/// asks the kernel: TIOCGWINSZ).
pub(crate) fn columns() -> Option<usize> {
    comfy_table::Table::new()
        .width()
        .map(usize::from)
        .filter(|w| *w > 0)
}

/// Whether the locale says UTF-8: the first set of LC_ALL, LC_CTYPE, LANG (POSIX order); none is "C".
pub(crate) fn utf8_locale(
    lc_all: Option<&str>,
    lc_ctype: Option<&str>,
    lang: Option<&str>,
) -> bool {
    let v = [lc_all, lc_ctype, lang]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
        .unwrap_or("C")
        .to_ascii_lowercase();
    v.contains("utf-8") || v.contains("utf8")
}

/// How the table view is drawn on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct View {
    pub width: usize,
    pub ascii: bool,
    pub color: bool,
}

/// Decide from the environment: colour only on a terminal, never with NO_COLOR (any value),
/// --no-color or TERM=dumb; ASCII when TERM=dumb or the locale is not UTF-8.
pub(crate) fn decide(
    to_terminal: bool,
    no_color_flag: bool,
    env: &dyn Fn(&str) -> Option<String>,
    columns: Option<usize>,
) -> View {
    let dumb = env("TERM").as_deref() == Some("dumb");
    let utf8 = utf8_locale(
        env("LC_ALL").as_deref(),
        env("LC_CTYPE").as_deref(),
        env("LANG").as_deref(),
    );
    let width = match (to_terminal, columns) {
        (true, Some(c)) => c,
        _ => env("COLUMNS")
            .and_then(|c| c.trim().parse().ok())
            .filter(|c| *c >= 40)
            .unwrap_or(FILE_WIDTH),
    };
    View {
        width,
        ascii: dumb || !utf8,
        color: to_terminal && !no_color_flag && env("NO_COLOR").is_none() && !dumb,
    }
}

/// [`decide`] for standard output (or a file when `to_file`).
pub(crate) fn stdout_view(to_file: bool, no_color_flag: bool) -> View {
    let tty = !to_file && std::io::stdout().is_terminal();
    let env = |k: &str| std::env::var(k).ok();
    decide(tty, no_color_flag, &env, if tty { columns() } else { None })
}

/// "23/49 done, 1.8 s left" on standard error (a terminal), redrawn every 100 ms while `run` runs,
/// and cleared before the report is written.
pub(crate) async fn progress_line<T>(
    run: impl std::future::Future<Output = T>,
    done: &std::sync::atomic::AtomicUsize,
    total: usize,
    deadline: std::time::Duration,
) -> T {
    use std::io::Write;
    let end = tokio::time::Instant::now() + deadline;
    let ticker = async {
        loop {
            let left = end
                .saturating_duration_since(tokio::time::Instant::now())
                .as_secs_f64();
            let n = done.load(std::sync::atomic::Ordering::Relaxed);
            let _ = write!(
                std::io::stderr(),
                "\r{n}/{total} done, {left:.1} s left\x1b[K"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::pin!(run);
    tokio::pin!(ticker);
    let out = match futures::future::select(run, ticker).await {
        futures::future::Either::Left((out, _)) => out,
        futures::future::Either::Right(((), _)) => unreachable!("the ticker never ends"),
    };
    let _ = write!(std::io::stderr(), "\r\x1b[K");
    out
}

/// Resolves at the first Ctrl-C (SIGINT) or SIGTERM: `watch` then ends its round and reports.
pub(crate) async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Replace the `shown` lines written last on standard error with `lines` (already cleaned of
/// control characters); returns how many are shown now.
pub(crate) fn live_lines(shown: usize, lines: &[String]) -> usize {
    use std::io::Write;
    let mut out = String::new();
    if shown > 0 {
        out.push_str(&format!("\x1b[{shown}F"));
    }
    for l in lines {
        out.push_str("\x1b[2K");
        out.push_str(l);
        out.push('\n');
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
    lines.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn colour_and_ascii_follow_the_environment() {
        let utf = env_of(&[("LANG", "en_US.UTF-8"), ("TERM", "xterm-256color")]);
        assert_eq!(
            decide(true, false, &utf, Some(80)),
            View {
                width: 80,
                ascii: false,
                color: true
            }
        );
        assert!(!decide(false, false, &utf, None).color, "not a terminal");
        assert!(!decide(true, true, &utf, Some(80)).color, "--no-color");
        let no = env_of(&[("LANG", "en_US.UTF-8"), ("NO_COLOR", "")]);
        assert!(
            !decide(true, false, &no, Some(80)).color,
            "NO_COLOR with any value, even empty"
        );
        let dumb = env_of(&[("LANG", "en_US.UTF-8"), ("TERM", "dumb")]);
        assert_eq!(
            decide(true, false, &dumb, Some(80)),
            View {
                width: 80,
                ascii: true,
                color: false
            }
        );
        let c = env_of(&[("LC_ALL", "C"), ("LANG", "en_US.UTF-8")]);
        assert!(
            decide(true, false, &c, Some(80)).ascii,
            "LC_ALL=C wins over LANG"
        );
        assert!(
            decide(true, false, &env_of(&[]), Some(80)).ascii,
            "no locale is C"
        );
        let cols = env_of(&[("COLUMNS", "132"), ("LANG", "C.UTF-8")]);
        assert_eq!(decide(false, false, &cols, None).width, 132);
        assert_eq!(decide(false, false, &utf, None).width, FILE_WIDTH);
    }
}
