//! The collector's own counters, served as Prometheus text on `/metrics`, with
//! `/healthz` (the pipeline ticked recently) and `/readyz` (source subscribed and
//! exporters running) from a small HTTP/1.1 listener on a thread of its own.
//! Takes: counters the pipeline bumps (per batch, or merged on its 100 ms tick).
//! Gives: a text page; never event contents.
use audex_export::delivery::DeliveryStats;
use audex_export::spool::Spool;
use audex_parse::RecordType;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// One exporter's view: its delivery counters (kept across reloads) and spool.
struct ExporterView {
    stats: Arc<DeliveryStats>,
    spool: Option<Arc<Mutex<Spool>>>,
}

/// Name, type, help and counter of each single-valued metric.
type Single = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Metrics) -> &AtomicU64,
);
const SINGLE: &[Single] = &[
    (
        "audex_parse_errors_total",
        "counter",
        "Records that could not be parsed.",
        |m| &m.parse_errors,
    ),
    (
        "audex_kernel_lost_total",
        "counter",
        "Records the kernel reports lost since audex started.",
        |m| &m.kernel_lost,
    ),
    (
        "audex_enobufs_total",
        "counter",
        "Times the netlink socket overflowed (ENOBUFS).",
        |m| &m.enobufs,
    ),
    (
        "audex_kernel_backlog",
        "gauge",
        "Kernel audit backlog at the last status poll.",
        |m| &m.backlog,
    ),
    (
        "audex_kernel_backlog_limit",
        "gauge",
        "Kernel audit backlog limit at the last status poll.",
        |m| &m.backlog_limit,
    ),
    (
        "audex_kernel_backlog_high_water",
        "gauge",
        "Highest kernel audit backlog seen at a status poll since audex started.",
        |m| &m.backlog_high_water,
    ),
    (
        "audex_rules_restored_total",
        "counter",
        "Rules audex owns that were removed by someone else and put back.",
        |m| &m.rules_restored,
    ),
    (
        "audex_correlator_in_flight",
        "gauge",
        "Events being assembled from their records.",
        |m| &m.in_flight,
    ),
    (
        "audex_intake_paused",
        "gauge",
        "1 while reading the kernel is paused because a spool cannot be written (a full disk).",
        |m| &m.intake_paused,
    ),
    (
        "audex_events_unrouted_total",
        "counter",
        "Events no tenant took (no `default` tenant).",
        |m| &m.unrouted,
    ),
    (
        "audex_process_cache_hits_total",
        "counter",
        "Events whose process (or parent) the process cache knew.",
        |m| &m.process_cache_hits,
    ),
    (
        "audex_process_cache_misses_total",
        "counter",
        "Process lookups the cache did not know (then read from /proc).",
        |m| &m.process_cache_misses,
    ),
    (
        "audex_events_withheld_total",
        "counter",
        "Events a tenant's visibility rule (`visibility: dac`) held back.",
        |m| &m.withheld,
    ),
];

/// Name, type, help and value of each per-exporter metric.
type PerExporter = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ExporterView) -> String,
);
const PER_EXPORTER: &[PerExporter] = &[
    (
        "audex_exported_total",
        "counter",
        "Events the exporter's destination acknowledged.",
        |v| load(&v.stats.exported).to_string(),
    ),
    (
        "audex_export_rejected_total",
        "counter",
        "Events the destination acknowledged but rejected (partial success).",
        |v| load(&v.stats.rejected).to_string(),
    ),
    (
        "audex_export_failed_total",
        "counter",
        "Events refused for good (permanent errors).",
        |v| load(&v.stats.failed).to_string(),
    ),
    (
        "audex_export_retries_total",
        "counter",
        "Retried export attempts.",
        |v| load(&v.stats.retries).to_string(),
    ),
    (
        "audex_spool_bytes",
        "gauge",
        "Bytes in the exporter's disk spool.",
        |v| {
            v.spool
                .as_ref()
                .map_or(0, |s| s.lock().unwrap().bytes())
                .to_string()
        },
    ),
    (
        "audex_spool_pending_events",
        "gauge",
        "Events spooled, not yet acknowledged.",
        |v| {
            v.spool
                .as_ref()
                .map_or(0, |s| s.lock().unwrap().pending())
                .to_string()
        },
    ),
    (
        "audex_export_latency_seconds_sum",
        "counter",
        "Time spent in successful export calls.",
        |v| format!("{:.6}", load(&v.stats.latency_micros) as f64 / 1e6),
    ),
    (
        "audex_export_latency_seconds_count",
        "counter",
        "Successful export calls.",
        |v| load(&v.stats.batches).to_string(),
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
    pub ready: AtomicBool,
    /// Milliseconds since [`START`] at the pipeline's last tick.
    pub last_tick_ms: AtomicU64,
    exporters: Mutex<BTreeMap<String, ExporterView>>,
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

    /// Marks a tick of the pipeline (for `/healthz`).
    pub fn tick(&self) {
        self.last_tick_ms
            .store(START.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn healthy(&self) -> bool {
        let last = Duration::from_millis(self.last_tick_ms.load(Ordering::Relaxed));
        START.elapsed().saturating_sub(last) < STUCK_AFTER
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(
            out,
            "# HELP audex_records_received_total Audit records read from the kernel, by record type.\n# TYPE audex_records_received_total counter"
        );
        for (t, n) in self.records.lock().unwrap().iter() {
            let name = RecordType(*t)
                .name()
                .map_or_else(|| format!("UNKNOWN[{t}]"), str::to_string);
            let _ = writeln!(out, "audex_records_received_total{{type=\"{name}\"}} {n}");
        }
        for (name, kind, help, counter) in SINGLE {
            let v = load(counter(self));
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP audex_events_emitted_total Normalized events, by category.\n# TYPE audex_events_emitted_total counter"
        );
        for (c, n) in self.events.lock().unwrap().iter() {
            let _ = writeln!(out, "audex_events_emitted_total{{category=\"{c}\"}} {n}");
        }
        let exporters = self.exporters.lock().unwrap();
        for (name, kind, help, value) in PER_EXPORTER {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (e, v) in exporters.iter() {
                let _ = writeln!(out, "{name}{{exporter=\"{e}\"}} {}", value(v));
            }
        }
        out
    }
}

/// Binds `addr` now (so a taken port is an error before the kernel is touched).
pub fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("metrics.listen {addr}: {e}"))
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener`, one request per
/// connection, on a thread of its own.
pub fn serve(listener: TcpListener) {
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = answer(conn);
        }
    });
}

fn answer(mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 4096];
    let mut len = 0;
    while len < buf.len() && !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf[len..])?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let m = &*METRICS;
    let (status, kind, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", m.render()),
        ("GET", "/healthz") if m.healthy() => ("200 OK", "text/plain", "ok\n".into()),
        ("GET", "/healthz") => (
            "503 Service Unavailable",
            "text/plain",
            "the pipeline has not ticked for 30 s\n".into(),
        ),
        ("GET", "/readyz") if m.ready.load(Ordering::Relaxed) => {
            ("200 OK", "text/plain", "ready\n".into())
        }
        ("GET", "/readyz") => (
            "503 Service Unavailable",
            "text/plain",
            "not subscribed to the kernel yet\n".into(),
        ),
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "try /metrics, /healthz or /readyz\n".into(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
    };
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
