//! Input: [`Record`]. Output: [`Output`] (an [`Assembled`] event or a [`LostRange`]).
//! State: in-flight events keyed by (node, serial), per-node serial watermarks
//! and the missing serial ranges not yet given up on. No semantics: which record
//! types make what event is the normalizer's business. Pure: no I/O, no clock
//! (live callers pass wall-clock milliseconds to [`Correlator::expire_wall`]).
//!
//! An event completes on EOE, on the PROCTITLE of a syscall event (the kernel
//! writes it last), when its type is a single-record type, when a newer
//! record shows it is stale (record-time timeout), when the wall clock says so
//! (live mode), when too many are in flight (oldest evicted), or on flush.
#![forbid(unsafe_code)]

mod assembled;
mod config;
mod correlator;
mod gaps;
mod stats;

pub use assembled::{Assembled, EndReason, LostRange, Output};
pub use config::Config;
pub use correlator::Correlator;
pub use stats::Stats;

pub use audex_parse::Record;
