//! OTLP logs over gRPC (tonic, the opentelemetry-proto service): gzip, headers,
//! timeout, TLS and mTLS (rustls), gRPC status → retryable or permanent, the
//! server's RetryInfo hint, partial-success rejections.
use super::mapping::{export_request, now_unix_nano, Body, Resource};
use crate::delivery::{parse_endpoint, Accepted, ExportError, ExportFuture, Exporter, Scheme};
use audex_proto::v1::AuditEvent;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use std::path::PathBuf;
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::Code;

/// Settings of an OTLP exporter (gRPC or HTTP).
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
    endpoint: tonic::transport::Endpoint,
    /// Made on the first export (creating a channel needs the Tokio runtime).
    client: Option<LogsServiceClient<Channel>>,
    headers: Vec<(
        MetadataKey<tonic::metadata::Ascii>,
        MetadataValue<tonic::metadata::Ascii>,
    )>,
}

fn read(path: &PathBuf, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

impl OtlpGrpc {
    /// Checks the settings (files are read now; no network I/O, no runtime needed).
    pub fn new(cfg: OtlpConfig) -> Result<OtlpGrpc, String> {
        let ep = parse_endpoint(&cfg.endpoint, 4317)?;
        let mut endpoint = Channel::from_shared(ep.origin())
            .map_err(|e| format!("endpoint {:?}: {e}", cfg.endpoint))?;
        endpoint = endpoint
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        if let Some(t) = cfg.timeout {
            endpoint = endpoint.timeout(t);
        }
        if ep.scheme == Scheme::Https {
            let mut tls =
                ClientTlsConfig::new().domain_name(ep.host.trim_matches(['[', ']']).to_string());
            tls = match &cfg.ca_file {
                Some(ca) => tls.ca_certificate(Certificate::from_pem(read(ca, "CA file")?)),
                None => tls.with_native_roots(),
            };
            match (&cfg.client_cert_file, &cfg.client_key_file) {
                (Some(c), Some(k)) => {
                    tls = tls.identity(Identity::from_pem(
                        read(c, "client certificate")?,
                        read(k, "client key")?,
                    ))
                }
                (None, None) => {}
                _ => return Err("mTLS needs both a client certificate and a client key".into()),
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| format!("TLS settings: {e}"))?;
        } else if cfg.ca_file.is_some() || cfg.client_cert_file.is_some() {
            return Err(format!(
                "endpoint {:?}: TLS files given but the endpoint is http://; use https://",
                cfg.endpoint
            ));
        }
        let mut headers = Vec::new();
        for (k, v) in &cfg.headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("header name {k:?} is not valid"))?;
            let val = v
                .parse()
                .map_err(|_| format!("header {k}: value is not valid ASCII"))?;
            headers.push((key, val));
        }
        Ok(OtlpGrpc {
            cfg,
            endpoint,
            client: None,
            headers,
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
            let mut req = tonic::Request::new(body);
            for (k, v) in &self.headers {
                req.metadata_mut().insert(k.clone(), v.clone());
            }
            if let Some(t) = self.cfg.timeout {
                req.set_timeout(t);
            }
            let gzip = self.cfg.gzip;
            let endpoint = &self.endpoint;
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
                    let r = resp.into_inner();
                    let (rejected, message) = r
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

/// gRPC codes the OTLP specification calls retryable; the rest are permanent.
fn classify(s: &tonic::Status) -> ExportError {
    let reason = format!("{:?}: {}", s.code(), s.message());
    match s.code() {
        Code::Unavailable
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss => ExportError::Retryable {
            reason,
            retry_after: retry_hint(s),
        },
        // Throttled: retryable only when the server says when.
        Code::ResourceExhausted => match retry_hint(s) {
            Some(h) => ExportError::Retryable {
                reason,
                retry_after: Some(h),
            },
            None => ExportError::Retryable {
                reason,
                retry_after: None,
            },
        },
        // A failure below gRPC (connection, TLS handshake) is not the server's
        // verdict: keep the events and retry; the reason is logged each time.
        Code::Unknown
            if std::error::Error::source(s).is_some()
                || s.message().contains("transport error") =>
        {
            ExportError::Retryable {
                reason,
                retry_after: None,
            }
        }
        _ => ExportError::Permanent { reason },
    }
}

/// google.rpc.RetryInfo in the status details, if the server sent one.
fn retry_hint(s: &tonic::Status) -> Option<Duration> {
    use prost::Message;
    #[derive(Clone, PartialEq, prost::Message)]
    struct Any {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<Any>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct ProtoDuration {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        retry_delay: Option<ProtoDuration>,
    }
    let st = RpcStatus::decode(s.details()).ok()?;
    let any = st
        .details
        .iter()
        .find(|a| a.type_url.ends_with("google.rpc.RetryInfo"))?;
    let d = RetryInfo::decode(any.value.as_slice()).ok()?.retry_delay?;
    Some(Duration::new(
        d.seconds.max(0) as u64,
        d.nanos.max(0) as u32,
    ))
}
