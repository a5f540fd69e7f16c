//! How an exporter's events are kept in its spool: encoding, apart from the
//! transport that sends them. Takes an [`AuditEvent`]; gives the bytes the
//! exporter's transport reads back in `export_spooled`, so delivery sends what
//! was encoded once at intake instead of decoding and encoding again (the
//! storm bench's profile had that re-encoding at a quarter of `run`'s CPU).
use crate::otlp::{encode_spool_entry, now_unix_nano, Shape};
use audex_proto::v1::AuditEvent;
use prost::Message;

/// Encodes events for one exporter's spool. Owned by the intake side (the
/// [`Spooler`](crate::delivery::Spooler)), while the transport is owned by the
/// delivery loop: each exporter has exactly one of each.
pub trait Encoder: Send {
    fn encode(&self, ev: &AuditEvent, out: &mut Vec<u8>);
}

/// The AuditEvent protobuf as it is: the archive and `audex.v1.EventService`
/// (whose request is these entries as repeated field 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProtobufEncoding;

impl Encoder for ProtobufEncoding {
    fn encode(&self, ev: &AuditEvent, out: &mut Vec<u8>) {
        audex_proto::wire::write(ev, out);
    }
}

/// One finished JSON line: the event contract, or an ECS document.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLineEncoding {
    pub ecs: bool,
}

impl JsonLineEncoding {
    /// One line into `out` (a JSON writer's I/O error cannot happen on a Vec;
    /// an encoding error is reported).
    pub fn line(&self, ev: &AuditEvent, out: &mut Vec<u8>) -> std::io::Result<()> {
        if self.ecs {
            crate::ecs::ecs_line(ev, out)
        } else {
            crate::format::json_line(ev, out)
        }
    }
}

impl Encoder for JsonLineEncoding {
    /// A line starts with `{`; an event that cannot be written as JSON is kept
    /// as its protobuf, which the transport tells apart and converts then.
    fn encode(&self, ev: &AuditEvent, out: &mut Vec<u8>) {
        if self.line(ev, out).is_err() {
            out.clear();
            let _ = ev.encode(out);
        }
    }
}

/// The finished OTLP LogRecord (for gRPC and HTTP alike): delivery only
/// concatenates records into a request.
#[derive(Debug, Clone, Copy)]
pub struct LogRecordEncoding {
    pub shape: Shape,
}

impl Encoder for LogRecordEncoding {
    fn encode(&self, ev: &AuditEvent, out: &mut Vec<u8>) {
        encode_spool_entry(ev, now_unix_nano(), self.shape, out);
    }
}
