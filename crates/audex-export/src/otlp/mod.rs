//! The OTLP logs mapping of DESIGN.md: one LogRecord per event, semantic
//! convention attributes where one exists and `audit.*` for the rest, one
//! ResourceLogs per container on top of the node's resource.

mod body;
mod encode;
mod grpc;
mod http;
pub(crate) mod mapping;

pub use body::describe;
pub use encode::{encode_export_request, encode_request_from_spool, encode_spool_entry};
pub use grpc::{OtlpConfig, OtlpGrpc};
pub use http::OtlpHttp;
pub use mapping::{
    export_request, log_record, now_unix_nano, visit_attributes, visit_record, AttrSink,
    Attributes, Body, Resource, Shape,
};
