//! rustls client settings shared by the HTTP-based exporters: the CA (or the
//! system bundle), and a client certificate for mTLS. ring is the crypto provider.
use crate::otlp::OtlpConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::sync::Arc;

/// The TLS settings for an endpoint of `scheme`: rustls config for https://, none
/// for http:// (where TLS files are a mistake worth saying).
pub(crate) fn for_scheme(
    cfg: &OtlpConfig,
    scheme: crate::delivery::Scheme,
) -> Result<Option<rustls::ClientConfig>, String> {
    match scheme {
        crate::delivery::Scheme::Https => Ok(Some(client_config(cfg)?)),
        _ if cfg.ca_file.is_some() || cfg.client_cert_file.is_some() => Err(format!(
            "endpoint {:?}: TLS files given but the endpoint is http://; use https://",
            cfg.endpoint
        )),
        _ => Ok(None),
    }
}

/// The configured headers as HTTP headers (names lowercased, as HTTP/2 wants).
pub(crate) fn headers(
    cfg: &OtlpConfig,
) -> Result<Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>, String> {
    cfg.headers
        .iter()
        .map(|(k, v)| {
            let name = hyper::header::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("header name {k:?} is not valid"))?;
            let val = hyper::header::HeaderValue::from_str(v)
                .map_err(|_| format!("header {k}: value is not valid"))?;
            Ok((name, val))
        })
        .collect()
}

/// The rustls client configuration of an exporter's TLS settings.
pub(crate) fn client_config(cfg: &OtlpConfig) -> Result<rustls::ClientConfig, String> {
    tls_config(cfg)
}

/// The connector of the hyper-based exporters: TCP_NODELAY (HTTP/2's small
/// frames otherwise meet delayed ACKs), TLS when `tls` is given, HTTP/1 or HTTP/2.
pub(crate) fn connector(
    tls: Option<rustls::ClientConfig>,
    http2: bool,
) -> hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    let b = hyper_rustls::HttpsConnectorBuilder::new();
    match (tls, http2) {
        (Some(t), true) => b
            .with_tls_config(t)
            .https_only()
            .enable_http2()
            .wrap_connector(http),
        (Some(t), false) => b
            .with_tls_config(t)
            .https_only()
            .enable_http1()
            .wrap_connector(http),
        (None, true) => b
            .with_tls_config(unused())
            .https_or_http()
            .enable_http2()
            .wrap_connector(http),
        (None, false) => b
            .with_tls_config(unused())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http),
    }
}

/// A config that trusts nothing (for plain `http://` endpoints, where TLS is unused).
pub(crate) fn unused() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

fn tls_config(cfg: &OtlpConfig) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match &cfg.ca_file {
        Some(ca) => {
            for c in crate::pem::certificates(ca, "CA file")?.1 {
                roots
                    .add(c)
                    .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
            }
        }
        None => {
            for c in rustls_native_roots() {
                let _ = roots.add(c);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_root_certificates(roots);
    match (&cfg.client_cert_file, &cfg.client_key_file) {
        (Some(c), Some(k)) => {
            let certs = crate::pem::certificates(c, "client certificate")?.1;
            let key = crate::pem::private_key(k, "client key")?.1;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("client certificate and key: {e}"))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("mTLS needs both a client certificate and a client key".into()),
    }
}

fn rustls_native_roots() -> Vec<CertificateDer<'static>> {
    // The system bundle (Debian's ca-certificates), when present.
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .iter()
    .filter_map(|p| CertificateDer::pem_file_iter(p).ok())
    .flat_map(|it| it.filter_map(Result::ok).collect::<Vec<_>>())
    .collect()
}
