//! ack-edge-preflight: pre-join network and host checks for ACK Edge nodes over a dedicated line.
//!
//! Pipeline: CLI → [`options::Options`] → [`checks::plan`] → [`engine::run`] → [`report`].

#[macro_use]
pub mod evidence;
pub mod app;
pub(crate) mod args;
pub(crate) mod bundle;
pub mod catalogue;
pub mod cause;
pub mod checks;
pub mod cli;
pub mod clock;
pub(crate) mod constants;
pub mod engine;
pub(crate) mod error;
pub mod exit;
pub mod fleet;
pub(crate) mod fleet_diff;
pub mod fuzzing;
pub mod ids;
pub mod net;
pub mod options;
pub mod probe;
pub mod regions;
pub mod report;
pub mod result;
pub(crate) mod rootcause;
pub(crate) mod run;
pub mod sys;
pub(crate) mod text;
pub(crate) mod waiver;
pub mod watch;
