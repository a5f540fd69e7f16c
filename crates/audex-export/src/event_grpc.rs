//! `audex.v1.EventService/Export`: batches of whole AuditEvents over gRPC, for
//! SIEM pipelines that want the full event (gzip, headers, TLS as for OTLP, on
//! the same HTTP/2 transport). The spool keeps each event's protobuf, so a
//! request is those entries as its repeated field 1 (checked, not re-encoded).
use crate::delivery::{Accepted, ExportError, ExportFuture, Exporter};
use crate::grpc_h2::H2Grpc;
use crate::otlp::OtlpConfig;
use crate::spool::Spooled;
use crate::wire::put_varint;
use audex_proto::v1::{AuditEvent, ExportResponse};
use prost::Message;

const EXPORT_PATH: &str = "/audex.v1.EventService/Export";

/// The protobuf gRPC exporter.
pub struct EventGrpc {
    cfg: OtlpConfig,
    channel: H2Grpc,
    buf: Vec<u8>,
}

impl EventGrpc {
    /// Checks the settings (files are read now; no network I/O, no runtime needed).
    pub fn new(cfg: OtlpConfig) -> Result<EventGrpc, String> {
        let channel = H2Grpc::new(&cfg, 4317)?;
        Ok(EventGrpc {
            cfg,
            channel,
            buf: Vec::new(),
        })
    }

    /// One `ExportRequest.events` entry from an event's protobuf bytes.
    fn put_event(&mut self, event: &[u8]) {
        self.buf.push((1 << 3) | 2);
        put_varint(&mut self.buf, event.len() as u64);
        self.buf.extend_from_slice(event);
    }

    /// Ends the request with the node, sends it; `bad` damaged spool entries
    /// count as rejected.
    async fn send(&mut self, bad: u64) -> Result<Accepted, ExportError> {
        let node = self.cfg.resource.host_name.as_bytes();
        if !node.is_empty() {
            self.buf.push((2 << 3) | 2);
            put_varint(&mut self.buf, node.len() as u64);
            self.buf.extend_from_slice(node);
        }
        let resp = self
            .channel
            .unary(EXPORT_PATH, &self.buf, self.cfg.gzip)
            .await?;
        let r = ExportResponse::decode(resp.as_slice()).map_err(|e| ExportError::Retryable {
            reason: format!("the EventService answer does not decode: {e}; not acknowledged"),
            retry_after: None,
        })?;
        let mut acc = Accepted {
            rejected: r.rejected + bad,
            message: r.error_message,
        };
        if bad > 0 {
            acc.message = format!("{bad} spool entries did not decode; {}", acc.message);
        }
        Ok(acc)
    }
}

impl Exporter for EventGrpc {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a> {
        Box::pin(async move {
            self.buf.clear();
            for e in events {
                // Field 1, length-delimited: written in place, no copy.
                self.buf.push((1 << 3) | 2);
                audex_proto::wire::write_delimited(e, &mut self.buf);
            }
            self.send(0).await
        })
    }

    /// The entries are AuditEvent protobufs (the default encoding); one that
    /// does not decode (spool damage) is left out and counted as rejected.
    fn export_spooled<'a>(&'a mut self, entries: &'a [Spooled]) -> ExportFuture<'a> {
        Box::pin(async move {
            self.buf.clear();
            let mut bad = 0u64;
            for (_, b) in entries {
                if AuditEvent::decode(&b[..]).is_ok() {
                    self.put_event(b);
                } else {
                    bad += 1;
                }
            }
            self.send(bad).await
        })
    }
}
