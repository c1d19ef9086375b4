//! ack-edge-preflight: pre-join network and host checks for ACK Edge nodes over a dedicated line.
//!
//! Pipeline: CLI → [`options::Options`] → [`checks::plan`] → [`engine::run`] → [`report`].

pub mod app;
pub mod args;
pub mod bundle;
pub mod catalogue;
pub mod cause;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod constants;
pub mod engine;
pub mod error;
pub mod exit;
pub mod fleet;
pub mod ids;
pub mod net;
pub mod options;
pub mod probe;
pub mod regions;
pub mod report;
pub mod result;
pub mod rootcause;
pub mod run;
pub mod sys;
pub mod text;
pub mod waiver;
