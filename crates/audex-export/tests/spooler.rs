//! The producer side: a full spool drops its oldest entries and says so in the
//! stream (records-lost, source spool, counts adding up); events are durable
//! within the sync interval.
mod common;
use audex_export::delivery::{Exporter, Spooler};
use audex_export::encoding::{Encoder, ProtobufEncoding};
use audex_export::otlp::{encode_request_from_spool, OtlpConfig, OtlpGrpc, Resource};
use audex_export::spool::{Spool, SpoolConfig};
use audex_proto::v1::AuditEvent;
use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The default spool encoding (AuditEvent protobuf).
fn default_encoder() -> Box<dyn Encoder> {
    Box::new(ProtobufEncoding)
}

#[test]
fn a_full_spool_reports_what_it_dropped_in_the_stream() {
    let dir = tmp("spooler-full");
    let (spool, _) = Spool::open(SpoolConfig {
        dir: dir.clone(),
        max_bytes: 64 * 1024,
        segment_bytes: 16 * 1024,
        ..SpoolConfig::new(&dir, 0)
    })
    .unwrap();
    let spool = Arc::new(Mutex::new(spool));
    let mut sp = Spooler::new(spool.clone(), default_encoder(), "node-1");
    let base = golden_events();
    let n = 2000;
    for i in 0..n {
        let mut e = base[i % base.len()].clone();
        e.id = format!("e{i}");
        sp.append(&e).unwrap();
    }
    sp.sync().unwrap();
    assert!(sp.dropped > 0, "the bound was hit");
    let left: Vec<AuditEvent> = spool
        .lock()
        .unwrap()
        .next_batch(usize::MAX, usize::MAX)
        .unwrap()
        .iter()
        .map(|(_, b)| AuditEvent::decode(&b[..]).unwrap())
        .collect();
    let reports: Vec<&AuditEvent> = left.iter().filter(|e| e.action == "records-lost").collect();
    let regular = left.len() - reports.len();
    assert!(!reports.is_empty(), "the loss is in the stream");
    let reported: u64 = reports.iter().map(|e| e.lost.as_ref().unwrap().count).sum();
    assert!(reports
        .iter()
        .all(|e| e.lost.as_ref().unwrap().source == "spool" && e.category == "audit"));
    // Every appended entry is either still there or covered by a report (reports that
    // were themselves dropped are counted by later reports).
    assert!(
        regular as u64 + reported >= n as u64,
        "{regular} kept + {reported} reported < {n}"
    );
    assert_eq!(sp.dropped, reported + (sp.dropped - reported), "consistent");
    assert!(
        left.last().unwrap().id.starts_with('e') || left.last().unwrap().action == "records-lost"
    );
}

#[test]
fn otlp_spooling_keeps_loss_reports_too() {
    let dir = tmp("spooler-otlp");
    let (spool, _) = Spool::open(SpoolConfig {
        dir: dir.clone(),
        max_bytes: 64 * 1024,
        segment_bytes: 16 * 1024,
        ..SpoolConfig::new(&dir, 0)
    })
    .unwrap();
    let spool = Arc::new(Mutex::new(spool));
    let enc = OtlpGrpc::new(OtlpConfig {
        endpoint: "http://127.0.0.1:1".into(),
        ..Default::default()
    })
    .unwrap();
    let mut sp = Spooler::new(spool.clone(), enc.encoder(), "node-1")
        .with_sync_every(Duration::from_millis(10));
    let base = golden_events();
    for i in 0..1000 {
        sp.append(&base[i % base.len()]).unwrap();
    }
    let batch = spool
        .lock()
        .unwrap()
        .next_batch(usize::MAX, usize::MAX)
        .unwrap();
    let mut bytes = Vec::new();
    assert_eq!(
        encode_request_from_spool(&batch, &Resource::default(), &mut bytes),
        0
    );
    let req = ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap();
    let names: Vec<&str> = req
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .map(|r| r.event_name.as_str())
        .collect();
    assert!(
        names.contains(&"audex.audit.records-lost"),
        "the OTLP stream carries the loss"
    );
}
