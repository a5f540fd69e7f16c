//! OTLP interop with an independent receiver built on the official Python
//! `opentelemetry-proto` and `grpcio` packages (tests/otlp/receiver.py): every
//! event arrives once with the mapped attributes, headers and resource; failure
//! answers are retried (UNAVAILABLE) or counted (INVALID_ARGUMENT, partial success).
mod common;
use audex_export::delivery::Exporter;
use audex_export::otlp::{OtlpConfig, OtlpGrpc, Resource};
use common::*;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The exporters' common test settings: a tenant header, gzip or not, the node resource.
fn test_cfg(name: &str, port: u16, gzip: bool) -> OtlpConfig {
    OtlpConfig {
        name: name.into(),
        endpoint: format!("http://127.0.0.1:{port}"),
        headers: vec![("X-Scope-OrgID".into(), "acme".into())],
        gzip,
        timeout: Some(Duration::from_secs(5)),
        resource: Resource {
            host_name: "node-1".into(),
            service_version: "test".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn grpc(port: u16, gzip: bool) -> Box<dyn Exporter> {
    Box::new(OtlpGrpc::new(test_cfg("siem", port, gzip)).unwrap())
}

#[test]
fn grpc_gzip_every_event_once_with_attributes_headers_resource() {
    let rcv = Receiver::start("grpc", &[]);
    let events = golden_events();
    let (stats, pending) = deliver_all("grpc", &events, grpc(rcv.grpc, true), 8);
    assert_eq!(pending, 0);
    assert_eq!(stats.exported.load(Ordering::Relaxed), events.len() as u64);
    let ids = received_ids(&rcv);
    assert_eq!(ids.len(), events.len());
    for e in &events {
        let r = ids.get(&e.id).unwrap_or_else(|| panic!("{} missing", e.id));
        assert_eq!(
            r["event_name"],
            format!("audex.{}.{}", e.category, e.action)
        );
        assert_eq!(r["attributes"]["audit.serial"], e.serial);
        if let Some(pid) = e.process.as_ref().and_then(|p| p.pid) {
            assert_eq!(r["attributes"]["process.pid"], pid);
        }
        if let Some(f) = e.files.iter().find(|f| f.nametype != "PARENT") {
            assert_eq!(r["attributes"]["file.path"], f.path.as_str());
        }
        if e.outcome == "failure" {
            assert_eq!(r["severity_number"], 13, "WARN for failures");
        }
    }
    let reqs = rcv.requests();
    for req in &reqs {
        assert_eq!(req["transport"], "grpc");
        // grpcio hides grpc-encoding from servicers; a gzip request that decodes is the proof.
        assert!(req["gzip"].is_null());
        assert_eq!(req["headers"]["x-scope-orgid"], "acme");
        let attrs = &req["resources"][0]["attributes"];
        assert_eq!(attrs["service.name"], "audex");
        assert_eq!(attrs["host.name"], "node-1");
    }
    assert!(
        reqs.len() >= events.len() / 8,
        "batched: {} requests",
        reqs.len()
    );
}

#[test]
fn grpc_unavailable_is_retried_until_delivered() {
    let rcv = Receiver::start("retry", &["--fail", "3", "--fail-code", "UNAVAILABLE"]);
    let events = golden_events();
    let (stats, pending) = deliver_all("retry", &events, grpc(rcv.grpc, false), 16);
    assert_eq!(pending, 0);
    assert_eq!(stats.retries.load(Ordering::Relaxed), 3);
    assert_eq!(received_ids(&rcv).len(), events.len(), "all arrive, once");
}

#[test]
fn grpc_invalid_argument_is_counted_not_retried() {
    let rcv = Receiver::start("perm", &["--fail", "1", "--fail-code", "INVALID_ARGUMENT"]);
    let events = golden_events();
    let (stats, pending) = deliver_all("perm", &events, grpc(rcv.grpc, false), 10);
    assert_eq!(pending, 0);
    assert_eq!(stats.retries.load(Ordering::Relaxed), 0);
    assert_eq!(
        stats.failed.load(Ordering::Relaxed),
        10,
        "the refused batch is counted"
    );
    assert_eq!(received_ids(&rcv).len(), events.len() - 10);
}

#[test]
fn grpc_partial_success_is_counted() {
    let rcv = Receiver::start("partial", &["--reject-first", "5"]);
    let events = golden_events();
    let (stats, _) = deliver_all("partial", &events, grpc(rcv.grpc, false), 16);
    assert_eq!(stats.rejected.load(Ordering::Relaxed), 5);
    assert_eq!(
        stats.exported.load(Ordering::Relaxed),
        events.len() as u64 - 5
    );
}

#[test]
fn bad_endpoints_say_what_is_wrong() {
    let mk = |ep: &str| {
        OtlpGrpc::new(OtlpConfig {
            endpoint: ep.into(),
            ..Default::default()
        })
        .err()
        .unwrap()
    };
    assert!(mk("otel:4317").contains("give a scheme"));
    assert!(mk("ftp://otel:4317").contains("http:// or https://"));
    let e = OtlpGrpc::new(OtlpConfig {
        endpoint: "http://otel:4317".into(),
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..Default::default()
    })
    .err()
    .unwrap();
    assert!(e.contains("use https://"), "{e}");
}

fn http(port: u16, gzip: bool) -> Box<dyn Exporter> {
    Box::new(audex_export::otlp::OtlpHttp::new(test_cfg("siem-http", port, gzip)).unwrap())
}

#[test]
fn http_gzip_every_event_once() {
    let rcv = Receiver::start("http", &[]);
    let events = golden_events();
    let (stats, pending) = deliver_all("http", &events, http(rcv.http, true), 8);
    assert_eq!(pending, 0);
    assert_eq!(stats.exported.load(Ordering::Relaxed), events.len() as u64);
    let ids = received_ids(&rcv);
    assert_eq!(ids.len(), events.len());
    for req in rcv.requests() {
        assert_eq!(req["transport"], "http");
        assert_eq!(req["gzip"], true, "Content-Encoding: gzip");
        assert_eq!(req["headers"]["x-scope-orgid"], "acme");
        assert_eq!(req["headers"]["content-type"], "application/x-protobuf");
        assert_eq!(req["resources"][0]["attributes"]["service.name"], "audex");
    }
}

#[test]
fn http_503_is_retried_after_the_servers_hint() {
    let rcv = Receiver::start("http503", &["--fail", "2", "--fail-code", "503"]);
    let events = golden_events();
    let t = Instant::now();
    let (stats, pending) = deliver_all("http503", &events, http(rcv.http, false), 64);
    assert_eq!(pending, 0);
    assert_eq!(stats.retries.load(Ordering::Relaxed), 2);
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "Retry-After: 1 honoured twice"
    );
    assert_eq!(received_ids(&rcv).len(), events.len());
}

#[test]
fn http_400_is_permanent() {
    let rcv = Receiver::start("http400", &["--fail", "1", "--fail-code", "400"]);
    let events = golden_events();
    let (stats, pending) = deliver_all("http400", &events, http(rcv.http, false), 10);
    assert_eq!(pending, 0);
    assert_eq!(
        (
            stats.retries.load(Ordering::Relaxed),
            stats.failed.load(Ordering::Relaxed)
        ),
        (0, 10)
    );
    assert_eq!(received_ids(&rcv).len(), events.len() - 10);
}

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate (PEM files).
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn pki(tag: &str) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair,
    };
    let dir = tmp(tag);
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "audex test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut cp = CertificateParams::new(vec!["audex-client".to_string()]).unwrap();
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = cp.signed_by(&client_key, &ca).unwrap();
    let w = |name: &str, pem: String| {
        let p = dir.join(name);
        std::fs::write(&p, pem).unwrap();
        p
    };
    Pki {
        ca: w("ca.pem", ca.pem()),
        server_cert: w("server.pem", server.pem()),
        server_key: w("server.key", server_key.serialize_pem()),
        client_cert: w("client.pem", client.pem()),
        client_key: w("client.key", client_key.serialize_pem()),
    }
}

fn tls_receiver(tag: &str, p: &Pki, mtls: bool) -> Receiver {
    let mut args = vec![
        "--tls-cert",
        p.server_cert.to_str().unwrap(),
        "--tls-key",
        p.server_key.to_str().unwrap(),
    ];
    if mtls {
        args.extend(["--client-ca", p.ca.to_str().unwrap()]);
    }
    Receiver::start(tag, &args)
}

fn tls_cfg(endpoint: String, p: &Pki, client: bool) -> OtlpConfig {
    OtlpConfig {
        name: "tls".into(),
        endpoint,
        ca_file: Some(p.ca.clone()),
        client_cert_file: client.then(|| p.client_cert.clone()),
        client_key_file: client.then(|| p.client_key.clone()),
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    }
}

#[test]
fn grpc_over_tls_and_mtls() {
    let p = pki("grpc-pki");
    let events = golden_events();
    let rcv = tls_receiver("grpc-tls-rcv", &p, false);
    let ex = Box::new(
        OtlpGrpc::new(tls_cfg(
            format!("https://127.0.0.1:{}", rcv.grpc),
            &p,
            false,
        ))
        .unwrap(),
    );
    let (_, pending) = deliver_all("grpc-tls", &events, ex, 16);
    assert_eq!(pending, 0, "TLS with our CA");
    assert_eq!(received_ids(&rcv).len(), events.len());

    let rcv = tls_receiver("grpc-mtls-rcv", &p, true);
    let ex = Box::new(
        OtlpGrpc::new(tls_cfg(format!("https://127.0.0.1:{}", rcv.grpc), &p, true)).unwrap(),
    );
    let (_, pending) = deliver_all("grpc-mtls", &events, ex, 16);
    assert_eq!(pending, 0, "mTLS with a client certificate");
    assert_eq!(received_ids(&rcv).len(), events.len());

    // Without the client certificate the server refuses: nothing is acked, retries are counted.
    let ex = Box::new(
        OtlpGrpc::new(tls_cfg(
            format!("https://127.0.0.1:{}", rcv.grpc),
            &p,
            false,
        ))
        .unwrap(),
    );
    let (stats, pending) =
        deliver_within("grpc-mtls-nocert", &events, ex, 16, Duration::from_secs(2));
    assert_eq!(pending, events.len() as u64, "kept in the spool");
    assert!(stats.retries.load(Ordering::Relaxed) > 0);
}

#[test]
fn http_over_mtls() {
    let p = pki("http-pki");
    let events = golden_events();
    let rcv = tls_receiver("http-mtls-rcv", &p, true);
    let ex = Box::new(
        audex_export::otlp::OtlpHttp::new(tls_cfg(
            format!("https://127.0.0.1:{}", rcv.http),
            &p,
            true,
        ))
        .unwrap(),
    );
    let (_, pending) = deliver_all("http-mtls", &events, ex, 16);
    assert_eq!(pending, 0);
    assert_eq!(received_ids(&rcv).len(), events.len());
    // A CA that did not sign the server: refused, kept, retried.
    let other = pki("http-pki-other");
    let mut cfg = tls_cfg(format!("https://127.0.0.1:{}", rcv.http), &p, true);
    cfg.ca_file = Some(other.ca.clone());
    let (stats, pending) = deliver_within(
        "http-badca",
        &events,
        Box::new(audex_export::otlp::OtlpHttp::new(cfg).unwrap()),
        16,
        Duration::from_secs(2),
    );
    assert_eq!(pending, events.len() as u64);
    assert!(stats.retries.load(Ordering::Relaxed) > 0);
}
