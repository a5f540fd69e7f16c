//! What a receiver answered, read with suspicion: bodies bounded, a 2xx
//! accepted only when it decodes as the protocol's response, redirects and
//! missing gRPC statuses named (and retried, never dropped), transport errors
//! described down to their cause (an unknown CA, an expired certificate), and
//! any text the receiver chose escaped before it reaches a log line.
use super::{Accepted, ExportError};
use http_body_util::BodyExt;
use std::time::Duration;

/// The most of a response body audex reads (an OTLP response is a few bytes).
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// A receiver's text, shortened and escaped, for a log line.
pub fn quoted(text: &[u8]) -> String {
    let s = String::from_utf8_lossy(&text[..text.len().min(200)]);
    let more = if text.len() > 200 { "..." } else { "" };
    format!("{:?}{more}", audex_io::escape(&s))
}

/// An error and its causes, `outer: inner: innermost` (hyper says only
/// "client error (Connect)"; the cause is in its sources).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    audex_io::escape(&out).into_owned()
}

/// A whole answer: status, headers, body (at most [`MAX_RESPONSE_BYTES`])
/// and trailers.
pub struct Answer {
    pub status: hyper::StatusCode,
    pub head: hyper::HeaderMap,
    pub body: bytes::Bytes,
    pub trailers: hyper::HeaderMap,
}

/// Sends a request (`request` is the client's response future) and reads the
/// whole answer, all within `timeout`; a failure to connect names its cause.
pub async fn exchange<F, B, E>(request: F, timeout: Duration) -> Result<Answer, ExportError>
where
    F: std::future::Future<Output = Result<hyper::Response<B>, E>>,
    E: std::error::Error + 'static,
    B: hyper::body::Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let call = async {
        let resp = request.await.map_err(|e| ExportError::Retryable {
            reason: format!("connection: {}", describe(&e)),
            retry_after: None,
        })?;
        let status = resp.status();
        let head = resp.headers().clone();
        let limited = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE_BYTES);
        let c = limited
            .collect()
            .await
            .map_err(|e| ExportError::Retryable {
                reason: format!("reading the answer: {}", describe(e.as_ref())),
                retry_after: None,
            })?;
        let trailers = c.trailers().cloned().unwrap_or_default();
        Ok(Answer {
            status,
            head,
            body: c.to_bytes(),
            trailers,
        })
    };
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Err(ExportError::Retryable {
            reason: format!("no whole answer within {timeout:?}"),
            retry_after: None,
        }),
        Ok(r) => r,
    }
}

/// A redirect: named, and retried (the events stay in the spool) until the
/// endpoint is fixed; audex does not follow redirects with audit data.
pub fn redirect(status: u16, location: Option<&hyper::header::HeaderValue>) -> ExportError {
    let to = location
        .map(|l| quoted(l.as_bytes()))
        .unwrap_or_else(|| "nowhere given".into());
    ExportError::Retryable {
        reason: format!(
            "HTTP {status} redirect to {to}: audex does not follow redirects; set the endpoint to the receiver's own URL"
        ),
        retry_after: None,
    }
}

/// An OTLP `ExportLogsServiceResponse` in a 2xx body: its partial success
/// (counted as rejected, message escaped), plus `bad` events audex could not
/// encode. A body that is not such a response (an HTML page from a proxy)
/// is not an acknowledgement: retried, with what it was.
pub fn otlp_accepted(
    body: &[u8],
    content_type: Option<&hyper::header::HeaderValue>,
    bad: u64,
) -> Result<Accepted, ExportError> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
    use prost::Message;
    let not_otlp = |why: String| ExportError::Retryable {
        reason: format!(
            "the receiver answered 2xx, but {why}: not an OTLP receiver? (the events stay spooled)"
        ),
        retry_after: None,
    };
    if let Some(ct) = content_type {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        if !body.is_empty()
            && !ct.starts_with("application/x-protobuf")
            && !ct.starts_with("application/grpc")
        {
            return Err(not_otlp(format!(
                "with content-type {} ({})",
                quoted(ct.as_bytes()),
                quoted(body)
            )));
        }
    }
    let resp = ExportLogsServiceResponse::decode(body).map_err(|e| {
        not_otlp(format!(
            "its body does not decode as ExportLogsServiceResponse ({e}; {})",
            quoted(body)
        ))
    })?;
    let (rejected, message) = resp
        .partial_success
        .map(|p| (p.rejected_log_records.max(0) as u64, p.error_message))
        .unwrap_or_default();
    Ok(Accepted {
        rejected: rejected + bad,
        message: audex_io::escape(&message).into_owned(),
    })
}
