//! OTLP logs over HTTP/protobuf (`POST /v1/logs`): gzip, headers, timeout, TLS
//! and mTLS (rustls), 429/502/503/504 retried (honouring Retry-After), other
//! client errors permanent, partial-success rejections counted.
use super::encode::{encode_export_request, encode_request_from_spool};
use super::grpc::OtlpConfig;
use super::mapping::now_unix_nano;
use crate::delivery::{answer, parse_endpoint, Accepted, ExportError, ExportFuture, Exporter};
use crate::encoding::Encoder;
use crate::spool::Spooled;
use audex_proto::v1::AuditEvent;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::Write;
use std::time::Duration;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The OTLP/HTTP exporter.
pub struct OtlpHttp {
    cfg: OtlpConfig,
    uri: hyper::Uri,
    tls: Option<rustls::ClientConfig>,
    headers: Vec<(HeaderName, HeaderValue)>,
    client: Option<HttpsClient>,
}

impl OtlpHttp {
    /// Checks the settings and reads TLS files (no network I/O, no runtime needed).
    pub fn new(mut cfg: OtlpConfig) -> Result<OtlpHttp, String> {
        cfg.mark_scope();
        let ep = parse_endpoint(&cfg.endpoint, 4318)?;
        let path = if ep.path.is_empty() {
            "v1/logs".to_string()
        } else {
            ep.path.clone()
        };
        let uri: hyper::Uri = format!("{}/{path}", ep.origin())
            .parse()
            .map_err(|e| format!("endpoint {:?}: {e}", cfg.endpoint))?;
        let tls = crate::tls::for_scheme(&cfg, ep.scheme)?;
        let headers = crate::tls::headers(&cfg)?;
        Ok(OtlpHttp {
            cfg,
            uri,
            tls,
            headers,
            client: None,
        })
    }

    fn client(&mut self) -> &HttpsClient {
        let tls = self.tls.clone();
        self.client.get_or_insert_with(|| {
            let conn = crate::tls::connector(tls, false);
            Client::builder(TokioExecutor::new()).build(conn)
        })
    }
}

/// `Retry-After: SECONDS` (HTTP dates are treated as no hint).
fn retry_after(h: Option<&HeaderValue>) -> Option<Duration> {
    h?.to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl Exporter for OtlpHttp {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a> {
        Box::pin(async move {
            let mut body = Vec::with_capacity(events.len() * 1024);
            encode_export_request(
                events,
                &self.cfg.resource,
                now_unix_nano(),
                self.cfg.shape(),
                &mut body,
            );
            self.send(body, 0).await
        })
    }

    fn encoder(&self) -> Box<dyn Encoder> {
        self.cfg.encoder()
    }

    fn export_spooled<'a>(&'a mut self, entries: &'a [Spooled]) -> ExportFuture<'a> {
        Box::pin(async move {
            let mut body = Vec::with_capacity(entries.len() * 1024);
            let bad = encode_request_from_spool(entries, &self.cfg.resource, &mut body);
            self.send(body, bad).await
        })
    }
}

impl OtlpHttp {
    /// POSTs an encoded request; `bad` damaged spool entries count as rejected.
    async fn send(&mut self, body: Vec<u8>, bad: u64) -> Result<Accepted, ExportError> {
        let body = if self.cfg.gzip {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            gz.write_all(&body)
                .and_then(|_| gz.finish())
                .map_err(|e| ExportError::Permanent {
                    reason: format!("gzip: {e}"),
                })?
        } else {
            body
        };
        let mut req = hyper::Request::post(self.uri.clone())
            .header("content-type", "application/x-protobuf")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ExportError::Permanent {
                reason: format!("request: {e}"),
            })?;
        if self.cfg.gzip {
            req.headers_mut()
                .insert("content-encoding", HeaderValue::from_static("gzip"));
        }
        for (k, v) in &self.headers {
            req.headers_mut().insert(k.clone(), v.clone());
        }
        let timeout = self.cfg.timeout.unwrap_or(Duration::from_secs(10));
        let answer::Answer {
            status,
            head,
            body: bytes,
            ..
        } = answer::exchange(self.client().request(req), timeout).await?;
        let hint = retry_after(head.get("retry-after"));
        match status.as_u16() {
            200..=299 => answer::otlp_accepted(&bytes, head.get("content-type"), bad),
            300..=399 => Err(answer::redirect(status.as_u16(), head.get("location"))),
            429 | 502 | 503 | 504 => Err(ExportError::Retryable {
                reason: format!("HTTP {status}"),
                retry_after: hint,
            }),
            _ => Err(ExportError::Permanent {
                reason: format!("HTTP {status}: {}", answer::quoted(&bytes)),
            }),
        }
    }
}
