//! Process exit codes: a documented contract (README "Exit codes", SPEC section 4).

/// No requirement failed (warnings allowed unless `--strict`).
pub const OK: i32 = 0;
/// At least one requirement failed (or warned, with `--strict`).
pub(crate) const FAILED: i32 = 1;
/// Usage or input error: unknown region, bad flag value, unreadable or invalid data file.
pub const USAGE: i32 = 2;
/// Internal error: a bug or an environment the tool cannot work in at all.
pub const INTERNAL: i32 = 3;
