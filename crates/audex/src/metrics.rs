//! The collector's own counters, served as Prometheus text on `/metrics`, with
//! `/healthz` (the pipeline ticked recently) and `/readyz` (source subscribed and
//! exporters running) by hyper on a thread of its own.
//! Takes: counters the pipeline bumps in atomics (per batch, or merged on its
//! 100 ms tick: the per-record path stays a plain add) and the export latency
//! the delivery loops record through the `metrics` facade. Gives: the text
//! exposition of metrics-exporter-prometheus (checked by `promtool check
//! metrics`), the atomics published into its recorder at each scrape; never
//! event contents.
use audex_export::delivery::DeliveryStats;
use audex_export::spool::Spool;
use audex_parse::RecordType;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One exporter's view: its delivery counters (kept across reloads) and spool.
struct ExporterView {
    stats: Arc<DeliveryStats>,
    spool: Option<Arc<Mutex<Spool>>>,
}

/// Whether a metric only grows or goes up and down.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}
use Kind::{Counter, Gauge};

/// Name, type, help and counter of each single-valued metric.
type Single = (&'static str, Kind, &'static str, fn(&Metrics) -> &AtomicU64);
const SINGLE: &[Single] = &[
    (
        "audex_parse_errors_total",
        Counter,
        "Records that could not be parsed.",
        |m| &m.parse_errors,
    ),
    (
        "audex_kernel_lost_total",
        Counter,
        "Records the kernel reports lost since audex started.",
        |m| &m.kernel_lost,
    ),
    (
        "audex_enobufs_total",
        Counter,
        "Times the netlink socket overflowed (ENOBUFS).",
        |m| &m.enobufs,
    ),
    (
        "audex_kernel_backlog",
        Gauge,
        "Kernel audit backlog at the last status poll.",
        |m| &m.backlog,
    ),
    (
        "audex_kernel_backlog_limit",
        Gauge,
        "Kernel audit backlog limit at the last status poll.",
        |m| &m.backlog_limit,
    ),
    (
        "audex_kernel_backlog_high_water",
        Gauge,
        "Highest kernel audit backlog seen at a status poll since audex started.",
        |m| &m.backlog_high_water,
    ),
    (
        "audex_rules_restored_total",
        Counter,
        "Rules audex owns that were removed by someone else and put back.",
        |m| &m.rules_restored,
    ),
    (
        "audex_correlator_in_flight",
        Gauge,
        "Events being assembled from their records.",
        |m| &m.in_flight,
    ),
    (
        "audex_intake_paused",
        Gauge,
        "1 while reading the kernel is paused because a spool cannot be written (a full disk).",
        |m| &m.intake_paused,
    ),
    (
        "audex_events_unrouted_total",
        Counter,
        "Events no tenant took (no `default` tenant).",
        |m| &m.unrouted,
    ),
    (
        "audex_process_cache_hits_total",
        Counter,
        "Events whose process (or parent) the process cache knew.",
        |m| &m.process_cache_hits,
    ),
    (
        "audex_process_cache_misses_total",
        Counter,
        "Process lookups the cache did not know (then read from /proc).",
        |m| &m.process_cache_misses,
    ),
    (
        "audex_events_withheld_total",
        Counter,
        "Events a tenant's visibility rule (`visibility: dac`) held back.",
        |m| &m.withheld,
    ),
];

/// Name, type, help and value of each per-exporter metric.
type PerExporter = (&'static str, Kind, &'static str, fn(&ExporterView) -> u64);
const PER_EXPORTER: &[PerExporter] = &[
    (
        "audex_exported_total",
        Counter,
        "Events the exporter's destination acknowledged.",
        |v| load(&v.stats.exported),
    ),
    (
        "audex_export_rejected_total",
        Counter,
        "Events the destination acknowledged but rejected (partial success).",
        |v| load(&v.stats.rejected),
    ),
    (
        "audex_export_failed_total",
        Counter,
        "Events refused for good (permanent errors).",
        |v| load(&v.stats.failed),
    ),
    (
        "audex_export_retries_total",
        Counter,
        "Retried export attempts.",
        |v| load(&v.stats.retries),
    ),
    (
        "audex_spool_bytes",
        Gauge,
        "Bytes in the exporter's disk spool.",
        |v| v.spool.as_ref().map_or(0, |s| s.lock().unwrap().bytes()),
    ),
    (
        "audex_spool_pending_events",
        Gauge,
        "Events spooled, not yet acknowledged.",
        |v| v.spool.as_ref().map_or(0, |s| s.lock().unwrap().pending()),
    ),
    (
        "audex_spool_dropped_events_total",
        Counter,
        "Events the spool's size bound dropped (reported as records-lost).",
        |v| load(&v.stats.spool_dropped),
    ),
];

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Records by type, counted on the per-record path without a map lookup: audit
/// types are below 4096 (user messages end at 2999); anything else goes to a map.
pub struct RecordCounts {
    by_type: Box<[u64; 4096]>,
    other: BTreeMap<u32, u64>,
}

impl Default for RecordCounts {
    fn default() -> Self {
        RecordCounts {
            by_type: Box::new([0; 4096]),
            other: BTreeMap::new(),
        }
    }
}

impl RecordCounts {
    #[inline]
    pub fn bump(&mut self, rtype: u16) {
        match self.by_type.get_mut(rtype as usize) {
            Some(n) => *n += 1,
            None => *self.other.entry(rtype as u32).or_default() += 1,
        }
    }
}

/// Everything `/metrics` reports.
#[derive(Default)]
pub struct Metrics {
    records: Mutex<BTreeMap<u32, u64>>,
    events: Mutex<BTreeMap<String, u64>>,
    pub parse_errors: AtomicU64,
    pub kernel_lost: AtomicU64,
    pub enobufs: AtomicU64,
    pub backlog: AtomicU64,
    pub backlog_limit: AtomicU64,
    pub backlog_high_water: AtomicU64,
    pub rules_restored: AtomicU64,
    pub in_flight: AtomicU64,
    pub intake_paused: AtomicU64,
    pub unrouted: AtomicU64,
    pub withheld: AtomicU64,
    pub process_cache_hits: AtomicU64,
    pub process_cache_misses: AtomicU64,
    /// The correlator's running counts (see `audex_correlate::Stats`).
    pub correlator: Mutex<audex_correlate::Stats>,
    pub ready: AtomicBool,
    /// Milliseconds since [`START`] at the pipeline's last tick.
    pub last_tick_ms: AtomicU64,
    exporters: Mutex<BTreeMap<String, ExporterView>>,
    /// Events held back by name, per stage: each filter's (`filter`), each
    /// tenant's rate limit (`throttle`) and repeat folding (`fold`); the
    /// same counters across reloads.
    named_drops: Mutex<BTreeMap<(&'static str, String), Arc<AtomicU64>>>,
}

/// The process's counters.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);
static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// How long without a tick before `/healthz` says the pipeline is stuck.
const STUCK_AFTER: Duration = Duration::from_secs(30);

impl Metrics {
    /// Adds the record counts by type gathered since the last merge.
    pub fn add_records(&self, counts: &mut RecordCounts) {
        let mut m = self.records.lock().unwrap();
        for (t, n) in counts
            .by_type
            .iter_mut()
            .enumerate()
            .filter(|(_, n)| **n > 0)
        {
            *m.entry(t as u32).or_default() += std::mem::take(n);
        }
        for (t, n) in std::mem::take(&mut counts.other) {
            *m.entry(t).or_default() += n;
        }
    }

    /// Adds the event counts by category gathered since the last merge.
    pub fn add_events(&self, counts: &mut BTreeMap<String, u64>) {
        let mut m = self.events.lock().unwrap();
        for (c, n) in std::mem::take(counts) {
            *m.entry(c).or_default() += n;
        }
    }

    /// The delivery counters of exporter `name`, the same across reloads; its
    /// spool is the one given (a reload opens it anew).
    pub fn exporter(&self, name: &str, spool: Arc<Mutex<Spool>>) -> Arc<DeliveryStats> {
        let mut m = self.exporters.lock().unwrap();
        let v = m.entry(name.to_string()).or_insert_with(|| ExporterView {
            stats: Arc::new(DeliveryStats::default()),
            spool: None,
        });
        v.spool = Some(spool);
        v.stats.clone()
    }

    /// The counter of events `stage` held back for `name` (a filter, a
    /// tenant), made at first use.
    pub fn drop_counter(&self, stage: &'static str, name: &str) -> Arc<AtomicU64> {
        self.named_drops
            .lock()
            .unwrap()
            .entry((stage, name.to_string()))
            .or_default()
            .clone()
    }

    /// Events `stage` held back so far, by name.
    pub fn named_drops(&self, stage: &str) -> Vec<(String, u64)> {
        self.named_drops
            .lock()
            .unwrap()
            .iter()
            .filter(|((s, _), _)| *s == stage)
            .map(|((_, n), c)| (n.clone(), load(c)))
            .collect()
    }

    /// Marks a tick of the pipeline (for `/healthz`).
    pub fn tick(&self) {
        self.last_tick_ms
            .store(START.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn healthy(&self) -> bool {
        let last = Duration::from_millis(self.last_tick_ms.load(Ordering::Relaxed));
        START.elapsed().saturating_sub(last) < STUCK_AFTER
    }

    /// What was dropped on the way, as `audex_events_dropped_total{stage,
    /// reason}` (records for parse and correlate, events after that).
    fn drops(&self) -> Vec<(&'static str, &'static str, u64)> {
        let c = self.correlator.lock().unwrap().clone();
        let spool: u64 = self
            .exporters
            .lock()
            .unwrap()
            .values()
            .map(|v| load(&v.stats.spool_dropped))
            .sum();
        vec![
            ("parse", "malformed", load(&self.parse_errors)),
            ("correlate", "cap", c.dropped_by_cap),
            ("correlate", "late", c.late - c.after_lost),
            ("correlate", "after_lost", c.after_lost),
            ("correlate", "duplicate", c.duplicates),
            ("correlate", "evicted", c.evicted),
            ("route", "unrouted", load(&self.unrouted)),
            ("redact", "withheld", load(&self.withheld)),
            ("spool", "full", spool),
        ]
    }

    /// Publishes the counters into the recorder and renders the Prometheus
    /// text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let Some(handle) = handle() else {
            return String::new();
        };
        for (t, n) in self.records.lock().unwrap().iter() {
            let name = RecordType(*t)
                .name()
                .map_or_else(|| format!("UNKNOWN[{t}]"), str::to_string);
            metrics::counter!("audex_records_received_total", "type" => name).absolute(*n);
        }
        for (name, kind, _, counter) in SINGLE {
            publish(name, *kind, load(counter(self)), None);
        }
        for (c, n) in self.events.lock().unwrap().iter() {
            metrics::counter!("audex_events_emitted_total", "category" => c.clone()).absolute(*n);
        }
        for (stage, reason, n) in self.drops() {
            metrics::counter!("audex_events_dropped_total", "stage" => stage, "reason" => reason)
                .absolute(n);
        }
        let named: Vec<_> = self
            .named_drops
            .lock()
            .unwrap()
            .iter()
            .map(|((stage, name), c)| (*stage, name.clone(), load(c)))
            .collect();
        for (stage, name, n) in named {
            metrics::counter!("audex_events_dropped_total", "stage" => stage, "reason" => name)
                .absolute(n);
        }
        let exporters = self.exporters.lock().unwrap();
        for (name, kind, _, value) in PER_EXPORTER {
            for (e, v) in exporters.iter() {
                publish(name, *kind, value(v), Some(e));
            }
        }
        drop(exporters);
        handle.render()
    }
}

/// One value into the recorder, labelled with its exporter when it has one.
fn publish(name: &'static str, kind: Kind, v: u64, exporter: Option<&String>) {
    let labels: Vec<(&'static str, String)> = exporter
        .map(|e| ("exporter", e.clone()))
        .into_iter()
        .collect();
    match kind {
        Counter => metrics::counter!(name, &labels).absolute(v),
        Gauge => metrics::gauge!(name, &labels).set(v as f64),
    }
}

/// Export call durations (seconds): the histogram's buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The recorder, installed as the process's `metrics` recorder on first use
/// (None if another one was installed first).
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("audex_export_latency_seconds".into()),
                    &LATENCY_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

/// HELP texts.
fn describe() {
    metrics::describe_counter!(
        "audex_records_received_total",
        "Audit records read from the kernel, by record type."
    );
    metrics::describe_counter!(
        "audex_events_emitted_total",
        "Normalized events, by category."
    );
    metrics::describe_counter!(
        "audex_events_dropped_total",
        "What did not go on, by stage and reason: records that did not parse or that the correlator dropped (caps, late, after a loss report, duplicates) or completed early (evicted); events no tenant took (route), that a visibility rule held back (redact), or that the spool bound dropped (spool)."
    );
    let tables = SINGLE.iter().map(|(n, k, h, _)| (n, k, h));
    for (name, kind, help) in tables.chain(PER_EXPORTER.iter().map(|(n, k, h, _)| (n, k, h))) {
        match kind {
            Counter => metrics::describe_counter!(*name, *help),
            Gauge => metrics::describe_gauge!(*name, *help),
        }
    }
    metrics::describe_histogram!(
        "audex_export_latency_seconds",
        metrics::Unit::Seconds,
        "Duration of export calls that succeeded."
    );
}

/// Binds `addr` now (so a taken port is an error before the kernel is touched).
pub fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("metrics.listen {addr}: {e}"))
}

/// Installs the recorder now (the `metrics` handles made before it record
/// nothing).
pub fn install() {
    let _ = handle();
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` (HTTP/1.1,
/// hyper on a single-threaded runtime of its own thread).
pub fn serve(listener: TcpListener) {
    install();
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                audex_log::error!("metrics: cannot start its runtime: {e}");
                return;
            }
        };
        rt.block_on(accept(listener));
    });
}

async fn accept(listener: TcpListener) {
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|_| tokio::net::TcpListener::from_std(listener))
    {
        Ok(l) => l,
        Err(e) => {
            audex_log::error!("metrics: {e}");
            return;
        }
    };
    // Histogram samples wait in the recorder until drained: keep them bounded
    // between scrapes.
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if let Some(h) = handle() {
                h.run_upkeep();
            }
        }
    });
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(|req| async move {
                Ok::<_, std::convert::Infallible>(answer(&req))
            });
            // One request per connection (scrapes and probes come seconds
            // apart), headers within 2 s, the whole exchange within 10 s.
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(2))
                .serve_connection(io, service);
            let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
        });
    }
}

fn answer<B>(req: &hyper::Request<B>) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let m = &*METRICS;
    let (status, kind, body) = match (req.method(), req.uri().path()) {
        (&hyper::Method::GET, "/metrics") => (200, "text/plain; version=0.0.4", m.render()),
        (&hyper::Method::GET, "/healthz") if m.healthy() => (200, "text/plain", "ok\n".into()),
        (&hyper::Method::GET, "/healthz") => (
            503,
            "text/plain",
            "the pipeline has not ticked for 30 s\n".into(),
        ),
        (&hyper::Method::GET, "/readyz") if m.ready.load(Ordering::Relaxed) => {
            (200, "text/plain", "ready\n".into())
        }
        (&hyper::Method::GET, "/readyz") => (
            503,
            "text/plain",
            "not subscribed to the kernel yet\n".into(),
        ),
        (&hyper::Method::GET, _) => (
            404,
            "text/plain",
            "try /metrics, /healthz or /readyz\n".into(),
        ),
        _ => (405, "text/plain", "GET only\n".into()),
    };
    let mut resp = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(kind),
    );
    resp
}
