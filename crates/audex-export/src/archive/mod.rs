//! The `protobuf_file` archive: rotating segment files of varint-length-prefixed
//! `audex.v1.AuditEvent`s (like `replay --format proto`), optionally hash-chained
//! for tamper evidence ([`chain`]), with an authenticated [`heads`] file and
//! [`checkpoint`]s sent off the host, and the [`reader`] that `audex verify` and
//! `audex report` use. Input: batches of events. Output: fsynced segment files.
pub mod chain;
pub mod checkpoint;
pub mod heads;
pub mod reader;
mod writer;

pub use writer::ProtobufFile;

/// `action` of the event that closes a chained segment, one per node chain in it.
/// Its `data`: `segment`, `first_sequence`, `last_sequence`, `events`, `head` (hex
/// MAC of the last event before it) and, when sealed at the next start after the
/// collector died with the segment open, `recovered` and `cut_bytes` (the bytes
/// of a torn last record cut off).
pub const SEAL_ACTION: &str = audex_proto::Action::ArchiveSealed.as_str();

/// `action` of the chained event a writer puts first when it starts without
/// trusting its chain-heads file (missing, garbled, or behind the segments): the
/// archive's tail may have been cut before that start. Its `data`: `reason`
/// (`heads-missing`, `heads-garbled`, `heads-behind`), `continued_from` (the
/// sequence number the chain was taken up from, 0 for a new chain) and `segment`
/// (the segment it was taken from).
pub const RESUMED_ACTION: &str = audex_proto::Action::ArchiveResumed.as_str();

/// `action` of a checkpoint event (see [`checkpoint`]).
pub const CHECKPOINT_ACTION: &str = audex_proto::Action::ArchiveCheckpoint.as_str();
