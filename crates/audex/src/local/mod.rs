//! The daemon's local socket (`local:` in the config): `audex watch` without
//! privilege. A user connects to `audex run`'s unix socket; the daemon learns
//! who it is from the kernel (`SO_PEERCRED`, `SO_PEERGROUPS`), checks each
//! path as the kernel would check that user, adds one keyed kernel watch per
//! distinct path (shared by every user watching it, removed with its last
//! subscriber), and sends each event under a watched path to each subscriber
//! who could still reach it when it happened, whole for the user's own
//! processes (or an admin), redacted for other users'. Per-user limits, and
//! every subscription and revocation is an event in the daemon's stream.
//!
//! [`protocol`]: the lines on the socket (client and daemon). [`registry`]:
//! subscriptions, the kernel rules they share, the fan-out. [`server`]: the
//! socket and its connection threads. [`notes`]: the `watch-*` events.
pub mod mailbox;
pub mod notes;
pub mod protocol;
pub mod registry;
pub mod server;

pub use registry::{Registry, RuleControl, Subscriber};
pub use server::Server;

/// The rule key of every local watch.
pub const KEY: &str = "audex-local";

#[cfg(test)]
mod registry_tests;
#[cfg(test)]
mod server_tests;
