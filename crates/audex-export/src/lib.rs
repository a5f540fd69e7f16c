//! Input: [`AuditEvent`]s. Output: bytes in a SIEM's format.
//!
//! Also the disk [`spool`] that holds events until their exporter acknowledges
//! them. Now: synchronous encoders used by `audex replay` ([`EventWriter`]: JSON
//! lines, length-delimited protobuf, OTLP/JSON) and the OTLP logs mapping of
//! DESIGN.md ([`otlp`]).

pub mod archive;
pub mod delivery;
pub mod ecs;
mod event_grpc;
mod files;
mod format;
mod grpc_channel;
mod grpc_h2;
pub mod notes;
pub mod otlp;
pub mod pem;
pub mod private;
pub mod spool;
mod tls;
pub mod wire;

pub use archive::ProtobufFile;
pub use ecs::ecs_line;
pub use event_grpc::EventGrpc;
pub use files::JsonLinesFile;
pub use format::{json_line, EventWriter, JsonLines, OtlpJsonLines, ProtoDelimited};

pub use audex_proto::v1::AuditEvent;
