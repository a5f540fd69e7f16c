//! A minimal gRPC unary client on hyper's HTTP/2, so the exporter picks its own
//! gzip level (tonic compresses at a fixed level 6, which capped OTLP/gRPC with
//! gzip near 180k events/s per core). Frames: 1-byte compressed flag, 4-byte
//! big-endian length, message. Status comes in trailers (or trailers-only
//! headers) as grpc-status / grpc-message / grpc-status-details-bin, judged
//! retryable or permanent as the OTLP specification says. OTLP/gRPC and
//! `audex.v1.EventService` both travel on it.
use crate::delivery::{answer, parse_endpoint, ExportError};
use crate::otlp::OtlpConfig;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::{Read, Write};
use std::time::Duration;

type H2Client = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A gRPC channel to one endpoint (made on first use: it needs the runtime).
pub(crate) struct H2Grpc {
    origin: String,
    tls: Option<rustls::ClientConfig>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Option<Duration>,
    client: Option<H2Client>,
}

impl H2Grpc {
    pub fn new(cfg: &OtlpConfig, default_port: u16) -> Result<H2Grpc, String> {
        let ep = parse_endpoint(&cfg.endpoint, default_port)?;
        let tls = crate::tls::for_scheme(cfg, ep.scheme)?;
        let headers = crate::tls::headers(cfg)?;
        Ok(H2Grpc {
            origin: ep.origin(),
            tls,
            headers,
            timeout: cfg.timeout,
            client: None,
        })
    }

    fn client(&mut self) -> &H2Client {
        let tls = self.tls.clone();
        self.client.get_or_insert_with(|| {
            Client::builder(TokioExecutor::new())
                .http2_only(true)
                .http2_adaptive_window(true)
                .build(crate::tls::connector(tls, true))
        })
    }

    /// Calls `path` with `msg`; gzip at level 1 when asked. Returns the response message.
    pub async fn unary(
        &mut self,
        path: &str,
        msg: &[u8],
        gzip: bool,
    ) -> Result<Vec<u8>, ExportError> {
        let mut frame = Vec::with_capacity(5 + msg.len() / if gzip { 4 } else { 1 });
        frame.extend_from_slice(&[gzip as u8, 0, 0, 0, 0]);
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(frame, flate2::Compression::fast());
            gz.write_all(msg).map_err(|e| ExportError::Permanent {
                reason: format!("gzip: {e}"),
            })?;
            frame = gz.finish().map_err(|e| ExportError::Permanent {
                reason: format!("gzip: {e}"),
            })?;
        } else {
            frame.extend_from_slice(msg);
        }
        let len = (frame.len() - 5) as u32;
        frame[1..5].copy_from_slice(&len.to_be_bytes());
        let uri = format!("{}{path}", self.origin);
        let mut req = hyper::Request::post(uri)
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("grpc-accept-encoding", "gzip")
            .body(Full::new(Bytes::from(frame)))
            .map_err(|e| ExportError::Permanent {
                reason: format!("request: {e}"),
            })?;
        if gzip {
            req.headers_mut()
                .insert("grpc-encoding", HeaderValue::from_static("gzip"));
        }
        let timeout = self.timeout.unwrap_or(Duration::from_secs(10));
        req.headers_mut().insert(
            "grpc-timeout",
            HeaderValue::from_str(&format!("{}m", timeout.as_millis().min(99_999_999))).unwrap(),
        );
        for (k, v) in &self.headers {
            req.headers_mut().insert(k.clone(), v.clone());
        }
        let answer::Answer {
            status,
            head,
            body: data,
            trailers,
        } = answer::exchange(self.client().request(req), timeout).await?;
        if status != hyper::StatusCode::OK {
            // Not a gRPC answer: map the HTTP status as the gRPC spec does.
            let reason = format!("HTTP {status} from a gRPC endpoint");
            return Err(match status.as_u16() {
                300..=399 => answer::redirect(status.as_u16(), head.get("location")),
                429 | 502 | 503 | 504 => ExportError::Retryable {
                    reason,
                    retry_after: None,
                },
                _ => ExportError::Permanent { reason },
            });
        }
        let field = |name: &str| trailers.get(name).or_else(|| head.get(name));
        let Some(code) = field("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i32>().ok())
        else {
            // A stream cut before its status (a proxy, a crash): nothing was
            // acknowledged. Retried, never dropped.
            return Err(ExportError::Retryable {
                reason: "the gRPC answer ended without a grpc-status (cut off, or not a gRPC server): not acknowledged".into(),
                retry_after: None,
            });
        };
        if code != 0 {
            let message = field("grpc-message")
                .and_then(|v| v.to_str().ok())
                .map(percent_decode)
                .unwrap_or_default();
            let details =
                field("grpc-status-details-bin").and_then(|v| base64_decode(v.as_bytes()));
            return Err(classify(code, &message, details.as_deref()));
        }
        // The response message: one frame, maybe compressed.
        if data.len() < 5 {
            return Ok(Vec::new());
        }
        let n = u32::from_be_bytes(data[1..5].try_into().unwrap()) as usize;
        let payload = &data[5..(5 + n).min(data.len())];
        if data[0] == 1 {
            let mut out = Vec::new();
            // Bounded: a small gzip answer must not inflate without end.
            flate2::read::GzDecoder::new(payload)
                .take(answer::MAX_RESPONSE_BYTES as u64)
                .read_to_end(&mut out)
                .map_err(|e| ExportError::Retryable {
                    reason: format!("response gzip: {e}"),
                    retry_after: None,
                })?;
            Ok(out)
        } else {
            Ok(payload.to_vec())
        }
    }
}

/// A gRPC status the server sent (code, message, `grpc-status-details-bin`)
/// as retryable or permanent.
fn classify(code: i32, message: &str, details: Option<&[u8]>) -> ExportError {
    let status = tonic::Status::with_details(
        tonic::Code::from_i32(code),
        message,
        bytes::Bytes::copy_from_slice(details.unwrap_or_default()),
    );
    classify_status(&status)
}

/// gRPC codes the OTLP specification calls retryable; the rest are permanent.
fn classify_status(s: &tonic::Status) -> ExportError {
    let reason = format!("{:?}: {}", s.code(), audex_io::escape(s.message()));
    match s.code() {
        tonic::Code::Unavailable
        | tonic::Code::Cancelled
        | tonic::Code::DeadlineExceeded
        | tonic::Code::Aborted
        | tonic::Code::OutOfRange
        | tonic::Code::DataLoss => ExportError::Retryable {
            reason,
            retry_after: retry_hint(s),
        },
        // Throttled: retryable only when the server says when.
        tonic::Code::ResourceExhausted => match retry_hint(s) {
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
        tonic::Code::Unknown | tonic::Code::Internal
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

/// `grpc-message` is percent-encoded (gRPC over HTTP/2).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Base64 (standard alphabet, padding optional) as gRPC's `-bin` headers use.
/// `grpc-status-details-bin`: base64, padded or not.
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let s: Vec<u8> = s.iter().copied().filter(|&c| c != b'=').collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&s)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&s))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(base64_decode(b"aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(percent_decode("a%20b%"), "a b%");
        assert!(matches!(
            classify(14, "x", None),
            ExportError::Retryable { .. }
        ));
        assert!(matches!(
            classify(3, "x", None),
            ExportError::Permanent { .. }
        ));
    }
}
