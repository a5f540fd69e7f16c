//! TLS files (CA bundle, client certificate, client key) read once, bounded,
//! and checked to hold what they are named for, so `validate` refuses a
//! directory, a device or garbage instead of the first connection failing.
use audex_io::{read_limited, FileKind};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// The PEM bytes of a file that holds at least one certificate.
pub fn certificates(
    path: &Path,
    what: &str,
) -> Result<(Vec<u8>, Vec<CertificateDer<'static>>), String> {
    let bytes = read_limited(path, FileKind::Pem, what).map_err(|e| e.to_string())?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {}: no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")",
            path.display()
        ));
    }
    Ok((bytes, certs))
}

/// The PEM bytes of a file that holds a private key.
pub fn private_key(path: &Path, what: &str) -> Result<(Vec<u8>, PrivateKeyDer<'static>), String> {
    let bytes = read_limited(path, FileKind::Pem, what).map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| format!("{what} {}: no PEM private key in it ({e})", path.display()))?;
    Ok((bytes, key))
}

/// Checks a TLS file of the kind the config key names (`ca_file`,
/// `client_cert_file`, `client_key_file`).
pub fn check(path: &Path, key: &str) -> Result<(), String> {
    match key {
        "client_key_file" => private_key(path, "client key").map(drop),
        "client_cert_file" => certificates(path, "client certificate").map(drop),
        _ => certificates(path, "CA file").map(drop),
    }
}
