//! What every gRPC exporter shares: the channel (endpoint, timeout, TLS and mTLS
//! with rustls), request headers, and gRPC status → retryable or permanent with
//! the server's RetryInfo hint.
use crate::delivery::{parse_endpoint, ExportError, Scheme};
use crate::otlp::OtlpConfig;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataKey, MetadataValue};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic::Code;

/// A checked gRPC target.
pub(crate) struct GrpcTarget {
    pub endpoint: Endpoint,
    pub headers: Vec<(MetadataKey<Ascii>, MetadataValue<Ascii>)>,
}

impl GrpcTarget {
    /// Checks the settings and reads TLS files (no network I/O, no runtime needed).
    pub fn new(cfg: &OtlpConfig, default_port: u16) -> Result<GrpcTarget, String> {
        let ep = parse_endpoint(&cfg.endpoint, default_port)?;
        let mut endpoint = Endpoint::from_shared(ep.origin())
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
                Some(ca) => tls.ca_certificate(Certificate::from_pem(
                    crate::pem::certificates(ca, "CA file")?.0,
                )),
                None => tls.with_native_roots(),
            };
            match (&cfg.client_cert_file, &cfg.client_key_file) {
                (Some(c), Some(k)) => {
                    tls = tls.identity(Identity::from_pem(
                        crate::pem::certificates(c, "client certificate")?.0,
                        crate::pem::private_key(k, "client key")?.0,
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
        Ok(GrpcTarget { endpoint, headers })
    }

    /// A request with the headers and timeout.
    pub fn request<T>(&self, body: T, timeout: Option<Duration>) -> tonic::Request<T> {
        let mut req = tonic::Request::new(body);
        for (k, v) in &self.headers {
            req.metadata_mut().insert(k.clone(), v.clone());
        }
        if let Some(t) = timeout {
            req.set_timeout(t);
        }
        req
    }
}

/// gRPC codes the OTLP specification calls retryable; the rest are permanent.
pub(crate) fn classify(s: &tonic::Status) -> ExportError {
    let reason = format!("{:?}: {}", s.code(), audex_io::escape(s.message()));
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
        // No grpc-status at all (a stream cut off, a proxy's page): nothing
        // was acknowledged.
        Code::Unknown | Code::Internal
            if std::error::Error::source(s).is_some()
                || s.message().contains("transport error")
                || s.message().contains("grpc-status") =>
        {
            ExportError::Retryable {
                reason,
                retry_after: None,
            }
        }
        _ => ExportError::Permanent { reason },
    }
}

/// google.rpc.RetryInfo in the status details (tonic-types), if the server
/// sent one; a negative delay is none.
fn retry_hint(s: &tonic::Status) -> Option<Duration> {
    use tonic_types::StatusExt;
    s.get_details_retry_info()?.retry_delay
}
