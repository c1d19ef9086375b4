//! Library error types. Every message is one line that names the bad value and where it came from.

use thiserror::Error;

/// Bad user input or data: maps to exit code 2. Every message names the bad value and where it
/// came from, on one line.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InputError {
    /// A command-line value.
    #[error("invalid {flag} '{value}': {reason}")]
    Flag {
        flag: String,
        value: String,
        reason: String,
    },
    /// A value in a data file (a regions file, a nodes file), at its origin (`FILE:LINE`).
    #[error("{origin}: {reason}")]
    Data { origin: String, reason: String },
    /// A region id the table does not have, with the nearest ones.
    #[error("unknown region '{id}' (from {origin}); nearest: {nearest} (see `ack-edge-preflight regions`)")]
    UnknownRegion {
        id: String,
        origin: String,
        nearest: String,
    },
    /// A combination of values that together make no sense (the message names them).
    #[error("{0}")]
    Combination(String),
}

impl InputError {
    /// `invalid <flag> '<value>': <reason>`
    pub fn flag(flag: &str, value: &str, reason: impl std::fmt::Display) -> Self {
        InputError::Flag {
            flag: flag.into(),
            value: value.into(),
            reason: reason.to_string(),
        }
    }
    /// `<origin>: <reason>` for data files.
    pub fn data(origin: &str, reason: impl std::fmt::Display) -> Self {
        InputError::Data {
            origin: origin.into(),
            reason: reason.to_string(),
        }
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

/// Why a command stopped without a report.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl AppError {
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Input(_) => crate::exit::USAGE,
            AppError::Internal(_) => crate::exit::INTERNAL,
        }
    }
}

/// Turn a TOML parse error into one line with the line number.
pub(crate) fn toml_error_line(text: &str, err: &toml::de::Error) -> String {
    let msg = err.message().trim().replace('\n', " ");
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}
