//! The audex event schema: `proto/audex/v1/event.proto` compiled to Rust.
//!
//! Gives `v1::AuditEvent` (prost message) with serde impls that produce the
//! proto3 JSON form with the proto field names (the event contract of DESIGN.md),
//! and [`json::write_event`], which writes the same JSON without serde, and
//! [`wire::write_delimited`], which writes the protobuf bytes without prost.

/// `audex.v1`: the event and its parts.
pub mod v1 {
    #![allow(clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/audex.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/audex.v1.serde.rs"));
}

pub mod json;
pub mod wire;

/// The event contract's field paths (`process.args`, `files.path`), generated
/// from event.proto: which hold text, visiting and emptying them. `files.path`
/// names the `path` of every element of `files`.
pub mod field_paths {
    use crate::v1::AuditEvent;
    include!(concat!(env!("OUT_DIR"), "/field_paths.rs"));
}
mod lost;
pub mod vocabulary;

pub use lost::records_lost;
pub use vocabulary::{Action, Category, Outcome};

pub use pbjson_types::Timestamp;
pub use prost::Message;
