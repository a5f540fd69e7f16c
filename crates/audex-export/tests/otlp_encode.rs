//! The hand-written OTLP encoder says exactly what the struct mapping says:
//! its bytes decode to the reference `export_request`, for every golden event,
//! both body modes, several resources, and edge values.
mod common;
use audex_export::otlp::{
    encode_export_request, export_request, Attributes, Body, Resource, Shape,
};
use audex_proto::v1::{Container, Kubernetes};
use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;

#[test]
fn bytes_decode_to_the_reference_mapping() {
    let mut events = golden_events();
    // Spread them over containers and pods so several ResourceLogs are built.
    for (i, e) in events.iter_mut().enumerate() {
        match i % 3 {
            0 => {}
            1 => {
                e.container = Some(Container {
                    id: "c0ffee".into(),
                    runtime: "containerd".into(),
                })
            }
            _ => {
                e.container = Some(Container {
                    id: format!("pod-c{}", i % 2),
                    runtime: "cri-o".into(),
                });
                e.k8s = Some(Kubernetes {
                    namespace: "payments".into(),
                    pod: "api-1".into(),
                    pod_uid: "u-1".into(),
                    ..Default::default()
                });
            }
        }
    }
    // What enrichment, tenants and compliance add: parent, peer, controls, redacted.
    let mut rich = events[0].clone();
    let p = rich.process.get_or_insert_with(Default::default);
    p.parent = Some(audex_proto::v1::Parent {
        exe: "/usr/sbin/smbd".into(),
        comm: "smbd".into(),
        args: vec!["smbd".into(), "-F".into()],
    });
    p.peer = Some(audex_proto::v1::Peer {
        address: "192.0.2.7".into(),
        port: Some(50_123),
    });
    rich.controls = vec!["pci-dss:10.2.1.1".into()];
    rich.redacted = vec!["process.pid".into()];
    let rec = audex_export::otlp::log_record(&rich, 0, Body::Line);
    let attr = |k: &str| {
        rec.attributes
            .iter()
            .find(|a| a.key == k)
            .unwrap_or_else(|| panic!("no {k}"))
            .value
            .clone()
    };
    for k in [
        "audit.parent.executable.path",
        "audit.parent.executable.name",
        "audit.parent.command_args",
        "client.address",
        "client.port",
        "audit.controls",
        "audit.redacted",
    ] {
        attr(k);
    }
    events.push(rich);
    // Edge values: no time, negative ints, non-ASCII, empty strings in arrays.
    let mut odd = events[0].clone();
    odd.time = None;
    odd.syscall.get_or_insert_with(Default::default).exit = Some(-2);
    odd.keys = vec!["ключ".into(), "".into()];
    events.push(odd);
    for res in [
        Resource::default(),
        Resource {
            host_name: "n1".into(),
            host_id: "id".into(),
            k8s_node_name: "k".into(),
            service_version: "1.2".into(),
            extra: vec![("data_stream.namespace".into(), "tenant-a".into())],
            scope: vec![("elastic.mapping.mode".into(), "ecs".into())],
        },
    ] {
        for body in [Body::Line, Body::Map] {
            for attributes in [Attributes::Semconv, Attributes::Ecs] {
                let shape = Shape { body, attributes };
                let mut bytes = Vec::new();
                encode_export_request(&events, &res, 1_700_000_000_000_000_000, shape, &mut bytes);
                let ours =
                    ExportLogsServiceRequest::decode(bytes.as_slice()).expect("valid protobuf");
                let reference = export_request(&events, &res, 1_700_000_000_000_000_000, shape);
                assert_eq!(ours, reference, "{shape:?}");
                assert!(ours.resource_logs.len() >= 3);
            }
        }
    }
    // And a batch of one, and none.
    let mut b = Vec::new();
    encode_export_request(&events[..1], &Resource::default(), 5, Body::Line, &mut b);
    assert_eq!(
        ExportLogsServiceRequest::decode(b.as_slice()).unwrap(),
        export_request(&events[..1], &Resource::default(), 5, Body::Line)
    );
    b.clear();
    encode_export_request(&[], &Resource::default(), 5, Body::Line, &mut b);
    assert!(b.is_empty());
}

#[test]
fn spooled_records_make_the_same_request() {
    use audex_export::otlp::{encode_request_from_spool, encode_spool_entry};
    let mut events = golden_events();
    events[1].container = Some(Container {
        id: "c1".into(),
        runtime: "docker".into(),
    });
    let res = Resource {
        host_name: "n".into(),
        service_version: "v".into(),
        ..Default::default()
    };
    let entries: Vec<(u64, bytes::Bytes)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut b = Vec::new();
            encode_spool_entry(e, 42, Body::Line, &mut b);
            (i as u64 + 1, b.into())
        })
        .collect();
    let mut bytes = Vec::new();
    assert_eq!(encode_request_from_spool(&entries, &res, &mut bytes), 0);
    assert_eq!(
        ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap(),
        export_request(&events, &res, 42, Body::Line)
    );
    // A damaged entry is counted (reported as rejected), the others still go.
    let mut damaged = entries.clone();
    damaged[0].1 = vec![0xff, 0xff, 0xff].into();
    bytes.clear();
    assert_eq!(encode_request_from_spool(&damaged, &res, &mut bytes), 1);
    let req = ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap();
    let n: usize = req
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    assert_eq!(n, events.len() - 1);
}
