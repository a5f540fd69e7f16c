//! Input: the kernel's audit netlink socket. Output: raw records (type number +
//! payload bytes) for the parser, kernel status, and rules in auditctl syntax.
//! State: the socket, what audex changed in the kernel (to put it back).
//!
//! - [`netlink`]: the NETLINK_AUDIT socket and message framing.
//! - [`status`]: AUDIT_GET/AUDIT_SET and the 44-byte `audit_status`.
//! - [`rules`]: auditctl syntax → `audit_rule_data` and back; load, list, delete.
//! - [`source`]: the live reader (multicast beside auditd, or unicast as the daemon).
//! - [`recv_many`]: many datagrams per system call, for the record stream.
//! - [`end_marker`]: the drain on stop, so loss up to the end is counted.
//! - [`caps`]: which capability an operation lacks, in plain words.

pub mod caps;
pub mod end_marker;
pub mod netlink;
pub mod recv_many;
pub mod rules;
pub mod source;
pub mod status;

pub use netlink::{AuditSocket, KernelError};
pub use status::AuditStatus;
