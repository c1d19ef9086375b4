//! Library error types. Every message is one line that names the bad value and where it came from.

use thiserror::Error;

/// Bad user input or data: maps to exit code 2.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct InputError(pub String);

impl InputError {
    /// `invalid <flag> '<value>': <reason>`
    pub fn flag(flag: &str, value: &str, reason: impl std::fmt::Display) -> Self {
        InputError(format!("invalid {flag} '{value}': {reason}"))
    }
    /// `<origin>: <reason>` for data files.
    pub fn data(origin: &str, reason: impl std::fmt::Display) -> Self {
        InputError(format!("{origin}: {reason}"))
    }
}

/// Failure of the tool itself (not of a checked requirement): maps to exit code 3.
#[derive(Debug, Error)]
pub enum InternalError {
    #[error("built-in data is invalid: {0}")]
    BuiltinData(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(String),
    #[error("cannot write report to {path}: {reason}")]
    Output { path: String, reason: String },
    #[error("responder: {0}")]
    Listen(String),
}

/// Turn a TOML parse error into one line with the line number.
pub fn toml_error_line(text: &str, err: &toml::de::Error) -> String {
    let msg = err.message().trim().replace('\n', " ");
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}
