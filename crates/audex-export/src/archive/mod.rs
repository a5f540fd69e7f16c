//! The `protobuf_file` archive: rotating segment files of varint-length-prefixed
//! `audex.v1.AuditEvent`s (like `replay --format proto`), optionally hash-chained
//! for tamper evidence ([`chain`]), and the [`reader`] that `audex verify` and
//! `audex report` use. Input: batches of events. Output: fsynced segment files.
pub mod chain;
pub mod reader;
mod writer;

pub use writer::ProtobufFile;

/// `action` of the event that closes a chained segment, one per node chain in it.
/// Its `data`: `segment`, `first_sequence`, `last_sequence`, `events`, `head` (hex
/// MAC of the last event before it) and `recovered` (sealed at the next start
/// after the collector died with the segment open).
pub const SEAL_ACTION: &str = "archive-sealed";
