//! Input: ids and pids from normalized events. Output: names and context from
//! the host (under a configurable root, `/host` in a container). State: caches.
//!
//! - [`PasswdDb`]: user and group names, reloaded when the files change.
//! - [`Enricher`]: the stage that fills `process.parent` (the [`process`]
//!   cache, from exec events and `/proc`), `container` ([`cgroup`]), `k8s`
//!   ([`kubernetes`] pod watch) and `process.peer` ([`peers`]).

mod argv;
pub mod cgroup;
mod enricher;
pub mod kubernetes;
pub mod peers;
pub mod process;
pub mod procfs;
mod users;

pub use argv::Argv;
pub use enricher::{EnrichOptions, Enricher};
pub use users::PasswdDb;
