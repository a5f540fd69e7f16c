//! Input: [`AuditEvent`]s. Output: the events at a SIEM, in a file or in the
//! archive, at least once. One module per job:
//! - [`encoding`]: how an exporter keeps events in its spool (protobuf, JSON
//!   line, OTLP LogRecord), apart from the transport;
//! - [`spool`]: the disk queue; [`delivery`]: the spooler (intake side) and
//!   the loop that sends batches with retries (the [`Exporter`] transport trait);
//! - the transports: OTLP gRPC and HTTP ([`otlp`]), `audex.v1.EventService`
//!   ([`EventGrpc`]) both on one HTTP/2 gRPC client, the JSON-lines file, the
//!   [`archive`] (writer, reader and hash chain, also read by `verify` and the
//!   compliance report);
//! - [`format`]'s synchronous writers for `audex replay`, [`ecs`] and the OTLP
//!   mapping of DESIGN.md; [`wire`]: protobuf varints.
//!
//! [`Exporter`]: delivery::Exporter

pub mod archive;
pub mod delivery;
pub mod ecs;
pub mod encoding;
mod event_grpc;
mod files;
pub mod format;
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
