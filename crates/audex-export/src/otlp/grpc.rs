//! OTLP logs over gRPC (the opentelemetry-proto LogsService, framed by our own
//! HTTP/2 client): gzip, headers, timeout, TLS and mTLS, retryable or permanent
//! failures with server hints, partial success.
use super::encode::{encode_export_request, encode_request_from_spool};
use super::mapping::{now_unix_nano, Attributes, Body, Resource, Shape};
use crate::delivery::{Accepted, ExportFuture, Exporter};
use crate::encoding::{Encoder, LogRecordEncoding};
use crate::grpc_h2::H2Grpc;
use crate::spool::Spooled;
use audex_proto::v1::AuditEvent;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of a network exporter (OTLP gRPC, OTLP HTTP, EventService).
#[derive(Debug, Clone, Default)]
pub struct OtlpConfig {
    pub name: String,
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    pub gzip: bool,
    pub timeout: Option<Duration>,
    /// PEM file of the CA that signed the server's certificate (else system roots).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key, for mTLS.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    pub body: Option<Body>,
    /// How log record attributes are named (`attributes: semconv | ecs`).
    pub attributes: Attributes,
    pub resource: Resource,
}

impl OtlpConfig {
    /// The spool encoding of OTLP exporters: the finished LogRecord, so
    /// delivery only concatenates (the same for gRPC and HTTP).
    pub fn encoder(&self) -> Box<dyn Encoder> {
        Box::new(LogRecordEncoding {
            shape: self.shape(),
        })
    }

    /// The log records' shape.
    pub fn shape(&self) -> Shape {
        Shape {
            body: self.body.unwrap_or(Body::Line),
            attributes: self.attributes,
        }
    }

    /// In ECS mode the scope says so: the Elasticsearch exporter (v0.145+)
    /// writes ECS documents only for scopes with `elastic.mapping.mode: ecs`.
    pub(crate) fn mark_scope(&mut self) {
        let mode = "elastic.mapping.mode";
        self.resource.scope.retain(|(k, _)| k != mode);
        if self.attributes == Attributes::Ecs {
            self.resource.scope.push((mode.into(), "ecs".into()));
        }
    }
}

/// The OTLP/gRPC exporter (our own HTTP/2 framing: gzip at a fast level).
pub struct OtlpGrpc {
    cfg: OtlpConfig,
    channel: H2Grpc,
    buf: Vec<u8>,
}

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

impl OtlpGrpc {
    /// Checks the settings (files are read now; no network I/O, no runtime needed).
    pub fn new(mut cfg: OtlpConfig) -> Result<OtlpGrpc, String> {
        cfg.mark_scope();
        let channel = H2Grpc::new(&cfg, 4317)?;
        Ok(OtlpGrpc {
            cfg,
            channel,
            buf: Vec::new(),
        })
    }
}

impl Exporter for OtlpGrpc {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a> {
        Box::pin(async move {
            self.buf.clear();
            encode_export_request(
                events,
                &self.cfg.resource,
                now_unix_nano(),
                self.cfg.shape(),
                &mut self.buf,
            );
            self.send(0).await
        })
    }

    fn encoder(&self) -> Box<dyn Encoder> {
        self.cfg.encoder()
    }

    fn export_spooled<'a>(&'a mut self, entries: &'a [Spooled]) -> ExportFuture<'a> {
        Box::pin(async move {
            self.buf.clear();
            let bad = encode_request_from_spool(entries, &self.cfg.resource, &mut self.buf);
            self.send(bad).await
        })
    }
}

impl OtlpGrpc {
    /// Sends the request in `self.buf`; `bad` damaged entries count as rejected.
    async fn send(&mut self, bad: u64) -> Result<Accepted, crate::delivery::ExportError> {
        let resp = self
            .channel
            .unary(EXPORT_PATH, &self.buf, self.cfg.gzip)
            .await?;
        crate::delivery::answer::otlp_accepted(&resp, None, bad)
    }
}
