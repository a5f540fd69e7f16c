//! Shared by the export tests: the Python receiver, golden events, delivery runs.
#![allow(dead_code)]
use audex_correlate::{Config, Correlator};
use audex_export::delivery::{
    deliver, Control, DeliveryConfig, DeliveryStats, Exporter, RetryPolicy, Stop,
};
use audex_export::spool::{Spool, SpoolConfig};
use audex_normalize::{NoNames, Normalizer};
use audex_proto::v1::AuditEvent;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An OTLP gRPC exporter to `port` (2 s timeout) and its spool encoder (what a
/// Spooler needs).
pub fn otlp_grpc_pair(
    port: u16,
) -> (
    audex_export::otlp::OtlpGrpc,
    Box<dyn audex_export::encoding::Encoder>,
) {
    use audex_export::otlp::{OtlpConfig, OtlpGrpc};
    let exporter = OtlpGrpc::new(OtlpConfig {
        name: "siem".into(),
        endpoint: format!("http://127.0.0.1:{port}"),
        timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    })
    .unwrap();
    let encoder = exporter.encoder();
    (exporter, encoder)
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("audex-otlp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub struct Receiver {
    child: Child,
    pub grpc: u16,
    pub http: u16,
    pub out: PathBuf,
}

impl Receiver {
    pub fn start(tag: &str, extra: &[&str]) -> Receiver {
        let dir = tmp(tag);
        let out = dir.join("received.jsonl");
        let ready = dir.join("ready.json");
        let child = Command::new("python3")
            .arg(repo().join("tests/otlp/receiver.py"))
            .arg("--out")
            .arg(&out)
            .arg("--ready")
            .arg(&ready)
            .args(extra)
            .spawn()
            .expect("python3");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready.exists() {
            assert!(
                Instant::now() < deadline,
                "the receiver did not start (pip install opentelemetry-proto grpcio)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
        Receiver {
            child,
            grpc: v["grpc"].as_u64().unwrap() as u16,
            http: v["http"].as_u64().unwrap() as u16,
            out,
        }
    }

    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn golden_events() -> Vec<AuditEvent> {
    let text = std::fs::read(repo().join("tests/golden/kernel-enriched.log")).unwrap();
    let mut c = Correlator::new(Config::default());
    for l in text.split(|&b| b == b'\n') {
        if let Ok(r) = audex_parse::parse_line(l) {
            c.push(r);
        }
    }
    c.flush();
    let n = Normalizer::new(NoNames, Default::default());
    let mut v = Vec::new();
    while let Some(o) = c.pop() {
        v.push(n.normalize(&o));
    }
    v
}

/// Spools `events`, delivers them with `exporter`, waits until all are acked (or 20 s).
pub fn deliver_all(
    tag: &str,
    events: &[AuditEvent],
    exporter: Box<dyn Exporter>,
    batch: usize,
) -> (Arc<DeliveryStats>, u64) {
    deliver_within(tag, events, exporter, batch, Duration::from_secs(20))
}

pub fn deliver_within(
    tag: &str,
    events: &[AuditEvent],
    exporter: Box<dyn Exporter>,
    batch: usize,
    wait: Duration,
) -> (Arc<DeliveryStats>, u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .unwrap();
    let (mut spool, _) = Spool::open(SpoolConfig::new(tmp(tag).join("spool"), 1 << 30)).unwrap();
    // Spooled the exporter's way (OTLP keeps finished LogRecords).
    let mut buf = Vec::new();
    let encoder = exporter.encoder();
    for e in events {
        buf.clear();
        encoder.encode(e, &mut buf);
        spool.append(&buf).unwrap();
    }
    spool.sync().unwrap();
    let spool = Arc::new(Mutex::new(spool));
    let stats = Arc::new(DeliveryStats::default());
    let control = Arc::new(Control::default());
    let cfg = DeliveryConfig {
        batch_max_events: batch,
        batch_delay: Duration::from_millis(20),
        retry: RetryPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        },
        ..DeliveryConfig::default()
    };
    let task = rt.spawn(deliver(
        spool.clone(),
        exporter,
        cfg,
        stats.clone(),
        control.clone(),
    ));
    let deadline = Instant::now() + wait;
    while spool.lock().unwrap().pending() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    control.stop(Stop::Drain(Instant::now() + Duration::from_secs(2)));
    let pending = rt.block_on(task).unwrap().unwrap();
    (stats, pending)
}

pub fn received_ids(rcv: &Receiver) -> HashMap<String, Value> {
    let mut ids = HashMap::new();
    for req in rcv.requests() {
        for res in req["resources"].as_array().unwrap() {
            for r in res["records"].as_array().unwrap() {
                let id = r["attributes"]["audit.event_id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert!(
                    ids.insert(id.clone(), r.clone()).is_none(),
                    "event {id} arrived twice"
                );
            }
        }
    }
    ids
}
