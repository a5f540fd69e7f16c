//! Export throughput to local receivers (tonic for gRPC, hyper for HTTP), in
//! events/s per core of the exporting thread, and bytes/event on the wire,
//! for OTLP gRPC, OTLP HTTP and audex.v1.EventService, with and without gzip;
//! then the cost of the disk spool (append + fsync every 100 ms + read back)
//! against batches handed over in memory.
//!
//!   cargo bench -p audex-export --bench export_throughput
//!
//! AUDEX_EXPORT_EVENTS sets the number of events (default 200,000). The exporter
//! runs on a single-threaded Tokio runtime on its own thread, whose CPU time
//! (CLOCK_THREAD_CPUTIME_ID) is the denominator; receivers run elsewhere.
use audex_correlate::{Config, Correlator};
use audex_export::delivery::{deliver, Control, DeliveryConfig, DeliveryStats, Exporter, Stop};
use audex_export::otlp::{
    export_request, now_unix_nano, Body, OtlpConfig, OtlpGrpc, OtlpHttp, Resource,
};
use audex_export::spool::{Spool, SpoolConfig};
use audex_export::EventGrpc;
use audex_normalize::{NoNames, Normalizer};
use audex_proto::v1::event_service_server::{EventService, EventServiceServer};
use audex_proto::v1::{AuditEvent, ExportRequest, ExportResponse};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::codec::CompressionEncoding;

#[derive(Clone, Default)]
struct Count(Arc<AtomicU64>);

#[tonic::async_trait]
impl LogsService for Count {
    async fn export(
        &self,
        r: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let n: usize = r
            .get_ref()
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        self.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl EventService for Count {
    async fn export(
        &self,
        r: tonic::Request<ExportRequest>,
    ) -> Result<tonic::Response<ExportResponse>, tonic::Status> {
        self.0
            .fetch_add(r.get_ref().events.len() as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportResponse::default()))
    }
}

fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: fills the timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn events(n: usize) -> Vec<AuditEvent> {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/golden/kernel-enriched.log"
    ))
    .unwrap();
    let mut c = Correlator::new(Config::default());
    for l in text.split(|&b| b == b'\n') {
        if let Ok(r) = audex_parse::parse_line(l) {
            c.push(r);
        }
    }
    c.flush();
    let norm = Normalizer::new(NoNames, Default::default());
    let mut base = Vec::new();
    while let Some(o) = c.pop() {
        base.push(norm.normalize(&o));
    }
    (0..n)
        .map(|i| {
            let mut e = base[i % base.len()].clone();
            e.id = format!("bench:{i}");
            e.serial = i as u64;
            e
        })
        .collect()
}

/// Runs `exporter` over `evs` in batches of 1024 on a single-threaded runtime of
/// its own thread; returns (wall s, thread CPU s).
fn run_exporter(mut exporter: Box<dyn Exporter>, evs: Arc<Vec<AuditEvent>>) -> (f64, f64) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (t, c) = (Instant::now(), thread_cpu());
        rt.block_on(async {
            for b in evs.chunks(1024) {
                exporter.export(b).await.expect("export");
            }
        });
        (t.elapsed().as_secs_f64(), thread_cpu() - c)
    })
    .join()
    .unwrap()
}

fn gz_len(b: &[u8]) -> usize {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(b).unwrap();
    g.finish().unwrap().len()
}

async fn http_sink(count: Count, addr: std::net::SocketAddr) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let count = count.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let count = count.clone();
                    async move {
                        let gz = req.headers().get("content-encoding").is_some();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let raw = if gz {
                            let mut d = flate2::read::GzDecoder::new(&body[..]);
                            let mut v = Vec::new();
                            std::io::Read::read_to_end(&mut d, &mut v).unwrap();
                            v
                        } else {
                            body.to_vec()
                        };
                        let r = ExportLogsServiceRequest::decode(raw.as_slice()).unwrap();
                        let n: usize = r
                            .resource_logs
                            .iter()
                            .flat_map(|rl| &rl.scope_logs)
                            .map(|s| s.log_records.len())
                            .sum();
                        count.0.fetch_add(n as u64, Ordering::Relaxed);
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(bytes::Bytes::new()),
                        ))
                    }
                });
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
        });
    }
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("AUDEX_EXPORT_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let evs = Arc::new(events(n));
    let recv_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(1)
        .build()
        .unwrap();
    let count = Count::default();
    let (otlp_addr, ev_addr, http_addr) = (free_addr(), free_addr(), free_addr());
    recv_rt.spawn(
        tonic::transport::Server::builder()
            .add_service(
                LogsServiceServer::new(count.clone())
                    .accept_compressed(CompressionEncoding::Gzip)
                    .max_decoding_message_size(64 << 20),
            )
            .serve(otlp_addr),
    );
    recv_rt.spawn(
        tonic::transport::Server::builder()
            .add_service(
                EventServiceServer::new(count.clone())
                    .accept_compressed(CompressionEncoding::Gzip)
                    .max_decoding_message_size(64 << 20),
            )
            .serve(ev_addr),
    );
    recv_rt.spawn(http_sink(count.clone(), http_addr));
    std::thread::sleep(Duration::from_millis(300));

    // Bytes per event on the wire (the request bodies).
    let sample = &evs[..1024];
    let otlp_b =
        export_request(sample, &Resource::default(), now_unix_nano(), Body::Line).encode_to_vec();
    let ev_b = ExportRequest {
        events: sample.to_vec(),
        node: String::new(),
    }
    .encode_to_vec();
    let per = |b: usize| b as f64 / sample.len() as f64;

    println!("# export throughput ({n} events, batches of 1024, exporter on one thread)\n");
    println!("| exporter | gzip | events/s per core | wall events/s | bytes/event |");
    println!("|---|---|---:|---:|---:|");
    for (kind, gzip) in [
        ("otlp_grpc", false),
        ("otlp_grpc", true),
        ("otlp_http", false),
        ("otlp_http", true),
        ("protobuf_grpc", false),
        ("protobuf_grpc", true),
    ] {
        let cfg = |addr: std::net::SocketAddr| OtlpConfig {
            name: kind.into(),
            endpoint: format!("http://{addr}"),
            gzip,
            timeout: Some(Duration::from_secs(30)),
            ..Default::default()
        };
        let ex: Box<dyn Exporter> = match kind {
            "otlp_grpc" => Box::new(OtlpGrpc::new(cfg(otlp_addr)).unwrap()),
            "otlp_http" => Box::new(OtlpHttp::new(cfg(http_addr)).unwrap()),
            _ => Box::new(EventGrpc::new(cfg(ev_addr)).unwrap()),
        };
        let before = count.0.load(Ordering::Relaxed);
        let (wall, cpu) = run_exporter(ex, evs.clone());
        assert_eq!(
            count.0.load(Ordering::Relaxed) - before,
            n as u64,
            "{kind}: all received"
        );
        let body = if kind == "protobuf_grpc" {
            &ev_b
        } else {
            &otlp_b
        };
        let bytes = if gzip { gz_len(body) } else { body.len() };
        println!(
            "| {kind} | {} | {:.0} | {:.0} | {:.0} |",
            if gzip { "yes" } else { "no" },
            n as f64 / cpu,
            n as f64 / wall,
            per(bytes)
        );
    }

    // The spool's cost: the same OTLP gRPC gzip export, fed through the disk spool
    // (encode + append + fsync every 100 ms + read back + decode) on the same thread.
    let evs2 = evs.clone();
    let (wall, cpu) = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("audex-bench-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (spool, _) = Spool::open(SpoolConfig::new(&dir, 8 << 30)).unwrap();
        let spool = Arc::new(Mutex::new(spool));
        let stats = Arc::new(DeliveryStats::default());
        let control = Arc::new(Control::default());
        let ex = OtlpGrpc::new(OtlpConfig {
            name: "spooled".into(),
            endpoint: format!("http://{otlp_addr}"),
            gzip: true,
            ..Default::default()
        })
        .unwrap();
        let encoder = ex.encoder();
        let (t, c) = (Instant::now(), thread_cpu());
        rt.block_on(async {
            let cfg = DeliveryConfig {
                batch_max_events: 1024,
                batch_delay: Duration::ZERO,
                ..Default::default()
            };
            let task = tokio::spawn(deliver(
                spool.clone(),
                Box::new(ex),
                cfg,
                stats.clone(),
                control.clone(),
            ));
            let mut last_sync = Instant::now();
            let mut buf = Vec::new();
            for (i, e) in evs2.iter().enumerate() {
                buf.clear();
                encoder.encode(e, &mut buf);
                spool.lock().unwrap().append(&buf).unwrap();
                if last_sync.elapsed() >= Duration::from_millis(100) {
                    spool.lock().unwrap().sync().unwrap();
                    last_sync = Instant::now();
                }
                if i % 1024 == 1023 {
                    control.wake();
                    tokio::task::yield_now().await;
                }
            }
            spool.lock().unwrap().sync().unwrap();
            control.stop(Stop::Drain(Instant::now() + Duration::from_secs(60)));
            assert_eq!(task.await.unwrap().unwrap(), 0);
        });
        let r = (t.elapsed().as_secs_f64(), thread_cpu() - c);
        let _ = std::fs::remove_dir_all(&dir);
        r
    })
    .join()
    .unwrap();
    println!(
        "| otlp_grpc through the disk spool | yes | {:.0} | {:.0} | |",
        n as f64 / cpu,
        n as f64 / wall
    );
}
