//! Input: ids and pids from normalized events. Output: names and context from
//! the host (under a configurable root, `/host` in a container). State: caches.
//!
//! Now: users and groups ([`PasswdDb`]).

mod users;

pub use users::PasswdDb;
