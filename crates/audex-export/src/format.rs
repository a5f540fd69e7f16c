//! Synchronous event encoders: one trait, three wire forms.
use crate::otlp::{self, Resource};
use audex_proto::v1::AuditEvent;
use std::io::{self, Write};

/// Writes events to a byte sink.
pub trait EventWriter {
    fn write(&mut self, ev: &AuditEvent) -> io::Result<()>;
    /// Writes what is buffered and flushes the sink.
    fn finish(&mut self) -> io::Result<()>;
}

/// Appends `ev` as a JSON line (the event contract): written directly (see
/// [`audex_proto::json`]), through serde for what that writer declines.
pub fn json_line(ev: &AuditEvent, out: &mut Vec<u8>) -> io::Result<()> {
    if !audex_proto::json::write_event(ev, out) {
        serde_json::to_writer(&mut *out, ev).map_err(io::Error::other)?;
    }
    out.push(b'\n');
    Ok(())
}

/// One JSON object per line: the event contract ([`JsonLines::new`]) or an
/// ECS document ([`JsonLines::ecs`]).
pub struct JsonLines<W: Write> {
    out: W,
    line: Vec<u8>,
    encode: fn(&AuditEvent, &mut Vec<u8>) -> io::Result<()>,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> JsonLines<W> {
        JsonLines::with(out, json_line)
    }

    /// One ECS document per line (see [`crate::ecs`]).
    pub fn ecs(out: W) -> JsonLines<W> {
        JsonLines::with(out, crate::ecs::ecs_line)
    }

    fn with(out: W, encode: fn(&AuditEvent, &mut Vec<u8>) -> io::Result<()>) -> JsonLines<W> {
        JsonLines {
            out,
            line: Vec::with_capacity(4096),
            encode,
        }
    }
}

impl<W: Write> EventWriter for JsonLines<W> {
    fn write(&mut self, ev: &AuditEvent) -> io::Result<()> {
        self.line.clear();
        (self.encode)(ev, &mut self.line)?;
        self.out.write_all(&self.line)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Varint-length-prefixed protobuf events (readable with `parseDelimitedFrom`).
pub struct ProtoDelimited<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> ProtoDelimited<W> {
    pub fn new(out: W) -> Self {
        ProtoDelimited {
            out,
            buf: Vec::with_capacity(4096),
        }
    }
}

impl<W: Write> EventWriter for ProtoDelimited<W> {
    fn write(&mut self, ev: &AuditEvent) -> io::Result<()> {
        self.buf.clear();
        // prost's bytes, written without prost (audex_proto::wire).
        audex_proto::wire::write_delimited(ev, &mut self.buf);
        self.out.write_all(&self.buf)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// OTLP/JSON lines: each line an `ExportLogsServiceRequest` of up to `batch` events.
pub struct OtlpJsonLines<W: Write> {
    out: W,
    resource: Resource,
    pending: Vec<AuditEvent>,
    batch: usize,
}

impl<W: Write> OtlpJsonLines<W> {
    pub fn new(out: W, resource: Resource, batch: usize) -> Self {
        OtlpJsonLines {
            out,
            resource,
            pending: Vec::with_capacity(batch),
            batch: batch.max(1),
        }
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let req = otlp::export_request(
            &self.pending,
            &self.resource,
            otlp::now_unix_nano(),
            otlp::Body::Line,
        );
        serde_json::to_writer(&mut self.out, &req).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.pending.clear();
        Ok(())
    }
}

impl<W: Write> EventWriter for OtlpJsonLines<W> {
    fn write(&mut self, ev: &AuditEvent) -> io::Result<()> {
        self.pending.push(ev.clone());
        if self.pending.len() >= self.batch {
            self.flush_batch()?;
        }
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.flush_batch()?;
        self.out.flush()
    }
}
