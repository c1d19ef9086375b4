//! The process's own open-file limit: raised from the soft to the hard limit at start (as scanners
//! and servers do), so a rack sweep of `inbound` can hold a probe to every node and port at once.
//! Only this process's limit changes; nothing of the host.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raise the soft `RLIMIT_NOFILE` to the hard limit (at most `1 << 20`); the soft limit now in
/// force, or why it could not be read.
pub(crate) fn raise_open_files() -> Result<u64, crate::net::OsError> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|e| crate::net::OsError::new("getrlimit(RLIMIT_NOFILE)", e.to_string()))?;
    let want = hard.min(1 << 20);
    if want <= soft {
        return Ok(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, want, hard) {
        Ok(()) => Ok(want),
        // a sandbox may refuse: the soft limit stays, and the in-flight bound follows it
        Err(_) => Ok(soft),
    }
}
