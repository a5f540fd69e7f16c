//! The pipeline after the source, one for `run`, `watch` and `replay`:
//! records in ([`Stages::push`]), correlated, normalized, enriched and (in
//! replay without a config) tagged with compliance controls, then handed as
//! [`Enriched`] events to a [`Sink`]: the exporters of `run` and `replay
//! --config` (which route, redact and spool through a [`Router`]), `watch`'s
//! terminal, replay's writer. The live source loop (the kernel read, loss) is
//! in [`crate::live`]; the end-of-stream drain in the kernel source.
mod clock;
mod event;
mod filter;
mod hold_back;
pub mod parallel;
mod route;
mod shutdown;
mod sink;
mod stages;

pub use clock::Clock;
pub use event::{Enriched, FilterId, Outbound};
pub use filter::Filters;
pub use hold_back::{Folds, Throttles};
pub use route::Router;
pub use shutdown::Shutdown;
pub use sink::Sink;
pub use stages::Stages;

#[cfg(test)]
mod accounting_tests;
#[cfg(test)]
mod parallel_tests;
