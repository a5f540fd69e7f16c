//! Input: [`Output`] of the correlator (an assembled event or a lost range).
//! Output: [`AuditEvent`] (proto `audex.v1.AuditEvent`). State: none besides the
//! [`UserDb`] it asks for names. Pure: no I/O of its own.
//!
//! Knows what records mean: syscall numbers per arch, errno names, the action
//! vocabulary of DESIGN.md, ids, paths resolved against CWD, EXECVE argv.
#![forbid(unsafe_code)]

mod actions;
mod execve;
mod normalizer;
pub mod paths;
mod sockaddr;
pub mod tables;
mod userdb;
mod view;

pub use actions::{open_flags, record_action, syscall_action, O_TRUNC};
pub use audex_correlate::Output;
pub use audex_proto::v1::AuditEvent;
pub use normalizer::{Normalizer, Options};
pub use userdb::{NoNames, UserDb};
