//! OTLP logs over gRPC (tonic, the opentelemetry-proto service): gzip, headers,
//! timeout, TLS and mTLS, retryable or permanent failures, partial success.
use super::encode::encode_export_request;
use super::mapping::{now_unix_nano, Body, Resource};
use crate::delivery::{Accepted, ExportFuture, Exporter};
use crate::grpc_channel::{classify, GrpcTarget};
use audex_proto::v1::AuditEvent;
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use std::path::PathBuf;
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

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
    pub resource: Resource,
}

/// The OTLP/gRPC exporter.
pub struct OtlpGrpc {
    cfg: OtlpConfig,
    target: GrpcTarget,
    /// Made on the first export (creating a channel needs the Tokio runtime).
    client: Option<tonic::client::Grpc<Channel>>,
    buf: Vec<u8>,
}

/// Sends request bytes encoded beforehand ([`encode_export_request`]) as they are;
/// decodes the response with prost.
#[derive(Default)]
struct PreEncoded;

struct BytesEncoder;

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put(dst, item);
        Ok(())
    }
}

impl Codec for PreEncoded {
    type Encode = Bytes;
    type Decode = ExportLogsServiceResponse;
    type Encoder = BytesEncoder;
    type Decoder = tonic_prost::ProstDecoder<ExportLogsServiceResponse>;
    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }
    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::default()
    }
}

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

impl OtlpGrpc {
    /// Checks the settings (files are read now; no network I/O, no runtime needed).
    pub fn new(cfg: OtlpConfig) -> Result<OtlpGrpc, String> {
        let target = GrpcTarget::new(&cfg, 4317)?;
        Ok(OtlpGrpc {
            cfg,
            target,
            client: None,
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
                self.cfg.body.unwrap_or(Body::Line),
                &mut self.buf,
            );
            let req = self
                .target
                .request(Bytes::copy_from_slice(&self.buf), self.cfg.timeout);
            let (gzip, endpoint) = (self.cfg.gzip, &self.target.endpoint);
            let client = self.client.get_or_insert_with(|| {
                let c = tonic::client::Grpc::new(endpoint.connect_lazy());
                if gzip {
                    c.send_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Gzip)
                } else {
                    c
                }
            });
            if let Err(e) = client.ready().await {
                return Err(crate::delivery::ExportError::Retryable {
                    reason: format!("channel: {e}"),
                    retry_after: None,
                });
            }
            match client
                .unary(req, PathAndQuery::from_static(EXPORT_PATH), PreEncoded)
                .await
            {
                Ok(resp) => {
                    let (rejected, message) = resp
                        .into_inner()
                        .partial_success
                        .map(|p| (p.rejected_log_records.max(0) as u64, p.error_message))
                        .unwrap_or_default();
                    Ok(Accepted { rejected, message })
                }
                Err(status) => Err(classify(&status)),
            }
        })
    }
}
