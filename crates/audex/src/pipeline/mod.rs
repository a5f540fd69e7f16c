//! The pipeline after the source, one for `run`, `watch` and `replay`:
//! records in ([`Stages::push`]), correlated, normalized, enriched and (in
//! replay without a config) tagged with compliance controls, then handed to a
//! [`Sink`]: the exporters of `run` and `replay --config` (which route,
//! redact and spool), `watch`'s terminal, replay's writer. The live source
//! loop (the kernel read, loss, drain) is in [`crate::live`].
mod shutdown;
mod sink;
mod stages;

pub use shutdown::Shutdown;
pub use sink::Sink;
pub use stages::Stages;
