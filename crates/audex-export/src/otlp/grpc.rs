//! OTLP logs over gRPC (tonic, the opentelemetry-proto service): gzip, headers,
//! timeout, TLS and mTLS, retryable or permanent failures, partial success.
use super::mapping::{export_request, now_unix_nano, Body, Resource};
use crate::delivery::{Accepted, ExportFuture, Exporter};
use crate::grpc_channel::{classify, GrpcTarget};
use audex_proto::v1::AuditEvent;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use std::path::PathBuf;
use std::time::Duration;
use tonic::codec::CompressionEncoding;
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
    client: Option<LogsServiceClient<Channel>>,
}

impl OtlpGrpc {
    /// Checks the settings (files are read now; no network I/O, no runtime needed).
    pub fn new(cfg: OtlpConfig) -> Result<OtlpGrpc, String> {
        let target = GrpcTarget::new(&cfg, 4317)?;
        Ok(OtlpGrpc {
            cfg,
            target,
            client: None,
        })
    }
}

impl Exporter for OtlpGrpc {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a> {
        Box::pin(async move {
            let body = export_request(
                events,
                &self.cfg.resource,
                now_unix_nano(),
                self.cfg.body.unwrap_or(Body::Line),
            );
            let req = self.target.request(body, self.cfg.timeout);
            let (gzip, endpoint) = (self.cfg.gzip, &self.target.endpoint);
            let client = self.client.get_or_insert_with(|| {
                let c = LogsServiceClient::new(endpoint.connect_lazy());
                if gzip {
                    c.send_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Gzip)
                } else {
                    c
                }
            });
            match client.export(req).await {
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
