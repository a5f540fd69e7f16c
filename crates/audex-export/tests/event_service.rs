//! `audex.v1.EventService/Export` to a tonic receiver: every event arrives whole,
//! once, with gzip and headers; UNAVAILABLE is retried.
mod common;
use audex_export::otlp::{OtlpConfig, Resource};
use audex_export::EventGrpc;
use audex_proto::v1::event_service_server::{EventService, EventServiceServer};
use audex_proto::v1::{AuditEvent, ExportRequest, ExportResponse};
use common::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

#[derive(Clone, Default)]
struct Sink {
    events: Arc<Mutex<Vec<AuditEvent>>>,
    headers: Arc<Mutex<Vec<String>>>,
    fail: Arc<AtomicU32>,
}

#[tonic::async_trait]
impl EventService for Sink {
    async fn export(
        &self,
        req: Request<ExportRequest>,
    ) -> Result<Response<ExportResponse>, Status> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(Status::unavailable("injected"));
        }
        if let Some(v) = req.metadata().get("x-tenant") {
            self.headers
                .lock()
                .unwrap()
                .push(v.to_str().unwrap().to_string());
        }
        let r = req.into_inner();
        assert_eq!(r.node, "node-1");
        self.events.lock().unwrap().extend(r.events);
        Ok(Response::new(ExportResponse::default()))
    }
}

#[test]
fn event_service_receives_whole_events() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .unwrap();
    let sink = Sink::default();
    sink.fail.store(2, Ordering::SeqCst);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let svc = EventServiceServer::new(sink.clone()).accept_compressed(CompressionEncoding::Gzip);
    rt.spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve(addr),
    );
    std::thread::sleep(Duration::from_millis(200));
    let events = golden_events();
    let ex = EventGrpc::new(OtlpConfig {
        name: "pipeline".into(),
        endpoint: format!("http://{addr}"),
        headers: vec![("X-Tenant".into(), "payments".into())],
        gzip: true,
        timeout: Some(Duration::from_secs(5)),
        resource: Resource {
            host_name: "node-1".into(),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let (stats, pending) = deliver_all("eventsvc", &events, Box::new(ex), 10);
    assert_eq!(pending, 0);
    assert_eq!(stats.retries.load(Ordering::Relaxed), 2);
    assert_eq!(
        *sink.events.lock().unwrap(),
        events,
        "whole events, once, in order"
    );
    assert!(sink.headers.lock().unwrap().iter().all(|h| h == "payments"));
    drop(rt);
}
