//! Kernel storm: bounded workloads against the real kernel, each collected in the
//! same run by
//! - the floor: a bare netlink reader registered as the audit daemon that
//!   receives records and notes their serials, nothing else (the cost any
//!   collector pays). It reads through audex-kernel's reader, as audex does,
//!   borrowing each record from the receive buffers
//!   (one wait, then all that is queued, and a short batching wait after
//!   emptying the socket); the eager floor skips that wait and so wakes up
//!   for about every record, as a plain recv loop does;
//! - Debian's auditd as the unicast daemon (RAW log);
//! - `audex watch` (unicast, JSON lines);
//! - `audex run` (unicast; tenant routing, the disk spool, then a jsonl exporter,
//!   or an OTLP gRPC exporter to a sink process);
//! - `audex run` (jsonl) with a filter dropping every unlink (half of the
//!   `files` load), once in user space and once pushed down to the kernel as
//!   a `never` rule: what the pushdown saves.
//!
//!   sudo cargo bench -p audex --bench kernel_storm
//!
//! Workloads (AUDEX_STORM_WORKLOADS, default "exec+files,files"):
//! - `exec+files`: 2 workers side by side, each iteration execs a watched binary
//!   with three arguments, creates+writes a file, renames and deletes it (4
//!   audited events; exec events are 7 records with long EXECVE lines, and on 2
//!   CPUs neighbouring events interleave);
//! - `files`: 1 worker creates+writes and deletes files (2 events) and execs a
//!   watched binary every 100 iterations.
//!
//! Each at fixed rates (AUDEX_STORM_RATES, events/s, default "2000,10000,max") for
//! AUDEX_STORM_SECS (default 10) each, backlog_limit 8192. Per run: events
//! generated, storm events seen, serial gaps counted from the collector's own
//! output (auditd's log, audex's jsonl, the sink's records, the floor's list;
//! never from audex's loss report), false losses (serials both delivered and
//! reported lost), the kernel's `lost`, the time audited processes were blocked
//! (`backlog_wait_time_actual`, jiffies), the collector's CPU seconds and CPU per
//! event, and ratios to auditd and to the floor. Holds the kernel-test lock and
//! restores audit state. AUDEX_STORM_COLLECTORS picks a subset (see main; the
//! default leaves out the two drop collectors, run them on `files`);
//! AUDEX_STORM_AUDEX names another audex binary (to compare two builds).
#![allow(clippy::zombie_processes)] // children are reaped with wait4 (for their rusage)
use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../tests/common/auditd.rs"]
#[allow(dead_code)]
mod auditd;
use auditd::Auditd;

const KEY: &str = "audex-storm";

/// The measurement under way (numbers the rule key).
static RUN: AtomicU64 = AtomicU64::new(0);

/// This measurement's rule key: `audex-storm-N`. A daemon that registers is
/// handed the records its predecessor left unread, so the previous
/// measurement's last storm records can reach the next collector; a key per
/// measurement keeps them out of its storm (they once counted as a 3-serial
/// hole: the `auditctl` records between two collectors go to the kernel log).
/// The floor and the sink get it in AUDEX_STORM_KEY.
fn key() -> String {
    std::env::var("AUDEX_STORM_KEY")
        .unwrap_or_else(|_| format!("{KEY}-{}", RUN.load(Ordering::Relaxed)))
}

fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn status_field(name: &str) -> u64 {
    sh("auditctl", &["-s"])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Waits for `child` and returns its CPU seconds (user + system).
fn reap(child: Child) -> f64 {
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: our own child.
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// The serial of an audit record's text (`audit(TIME:SERIAL)`).
fn serial_of(text: &[u8]) -> Option<u64> {
    let at = memchr_find(text, b"audit(")? + 6;
    let rest = &text[at..];
    let colon = rest.iter().position(|&b| b == b':')?;
    let mut n = 0u64;
    for &b in &rest[colon + 1..] {
        if !b.is_ascii_digit() {
            break;
        }
        n = n * 10 + (b - b'0') as u64;
    }
    Some(n)
}

fn memchr_find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Serials missing between `from` (the first storm event's serial) and the
/// highest of a set; the first few of them are printed, to look them up.
///
/// Counting starts at the storm, not at the first serial received: when one
/// daemon unregisters and the next registers, the kernel hands the newcomer the
/// records the old one had not read yet, while those logged with no daemon in
/// between went only to the kernel log; that is not loss of either collector.
fn holes(s: &BTreeSet<u64>, from: Option<u64>) -> u64 {
    let s: BTreeSet<u64> = match from {
        Some(f) => s.range(f..).copied().collect(),
        None => s.clone(),
    };
    match (s.first(), s.last()) {
        (Some(&lo), Some(&hi)) => {
            let n = hi - lo + 1 - s.len() as u64;
            if n > 0 {
                let first: Vec<u64> = (lo..=hi).filter(|x| !s.contains(x)).take(10).collect();
                eprintln!("  {n} serials missing from the output, first: {first:?}");
            }
            n
        }
        _ => 0,
    }
}

// ---- roles: the bench binary runs itself as the floor reader or the OTLP sink ----

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// The floor: registers as the audit daemon, receives until SIGTERM, then prints
/// `serials N holes H` to stdout.
fn floor_reader() {
    use audex_kernel::source::{Mode, Source, SourceConfig};
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe { libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t) };
    let defaults = SourceConfig::default();
    let batch_wait_us = std::env::var("AUDEX_STORM_FLOOR_WAIT_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .or(defaults.batch_wait_us);
    let mut src = Source::open(&SourceConfig {
        mode: Mode::Unicast,
        read_timeout_ms: 100,
        batch_wait_us,
        ..defaults
    })
    .expect("the floor reader registers as the audit daemon");
    let mut reader = src.take_reader().unwrap();
    eprintln!("floor reader watching");
    let mut serials: Vec<u64> = Vec::with_capacity(1 << 20);
    let mut first_storm: Option<u64> = None;
    let quoted = format!("\"{}\"", key());
    while !STOP.load(Ordering::SeqCst) {
        let read = reader.read_each(&mut |_, payload| {
            if let Some(s) = serial_of(payload) {
                serials.push(s);
                if first_storm.is_none() && memchr_find(payload, quoted.as_bytes()).is_some() {
                    first_storm = Some(s);
                }
            }
        });
        if read.is_err() {
            break;
        }
    }
    let set: BTreeSet<u64> = serials.into_iter().collect();
    println!("serials {} holes {}", set.len(), holes(&set, first_storm));
    drop(src);
}

/// An OTLP gRPC sink on the port in AUDEX_STORM_SINK_PORT: appends each record's
/// `audit.serial` and whether it carries the storm key to the file in
/// AUDEX_STORM_SINK_OUT (`serial key|-|lost:FIRST-LAST` lines) until SIGTERM.
fn otlp_sink() {
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
        LogsService, LogsServiceServer,
    };
    use opentelemetry_proto::tonic::collector::logs::v1::{
        ExportLogsServiceRequest, ExportLogsServiceResponse,
    };
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    struct Sink(std::sync::Mutex<std::io::BufWriter<File>>, String);
    #[tonic::async_trait]
    impl LogsService for Sink {
        async fn export(
            &self,
            r: tonic::Request<ExportLogsServiceRequest>,
        ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
            let mut out = self.0.lock().unwrap();
            for rec in r
                .get_ref()
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .flat_map(|s| &s.log_records)
            {
                let attr = |k: &str| {
                    rec.attributes
                        .iter()
                        .find(|a| a.key == k)
                        .and_then(|a| a.value.as_ref()?.value.clone())
                };
                let text = |v: Option<Value>| match v {
                    Some(Value::StringValue(s)) => s,
                    Some(Value::IntValue(i)) => i.to_string(),
                    Some(Value::ArrayValue(a)) => a
                        .values
                        .iter()
                        .filter_map(|v| match &v.value {
                            Some(Value::StringValue(s)) => Some(s.clone()),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => String::new(),
                };
                if rec.event_name.ends_with(".records-lost") {
                    let _ = writeln!(
                        out,
                        "lost:{}-{}",
                        text(attr("audit.lost.first_serial")),
                        text(attr("audit.lost.last_serial"))
                    );
                    continue;
                }
                let keys = text(attr("audit.keys"));
                let _ = writeln!(
                    out,
                    "{} {}",
                    text(attr("audit.serial")),
                    if keys.split(',').any(|k| k == self.1) {
                        "key"
                    } else {
                        "-"
                    }
                );
            }
            let _ = out.flush();
            Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
        }
    }
    let port: u16 = std::env::var("AUDEX_STORM_SINK_PORT")
        .unwrap()
        .parse()
        .unwrap();
    let out = std::env::var("AUDEX_STORM_SINK_OUT").unwrap();
    let key = key();
    let sink = Sink(
        std::sync::Mutex::new(std::io::BufWriter::new(File::create(out).unwrap())),
        key,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let server = tonic::transport::Server::builder()
            .add_service(
                LogsServiceServer::new(sink)
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                    .max_decoding_message_size(64 << 20),
            )
            .serve(([127, 0, 0, 1], port).into());
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        eprintln!("sink watching");
        tokio::select! {
            r = server => r.unwrap(),
            _ = term.recv() => {}
        }
    });
}

// ---- workloads ----

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    ExecFiles,
    Files,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::ExecFiles => "exec+files",
            Workload::Files => "files",
        }
    }
}

/// Runs `w` for `secs` at `rate` events/s in all (None: as fast as it goes);
/// returns the audited events it generated.
fn workload(w: Workload, dir: &Path, exe: &Path, rate: Option<u64>, secs: u64) -> u64 {
    let workers = if w == Workload::ExecFiles { 2 } else { 1 };
    let total = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..workers)
        .map(|i| {
            let (dir, exe, total) = (dir.join(format!("w{i}")), exe.to_path_buf(), total.clone());
            std::fs::create_dir_all(&dir).unwrap();
            let rate = rate.map(|r| r as f64 / workers as f64);
            std::thread::spawn(move || {
                let n = match w {
                    Workload::ExecFiles => exec_files(&dir, &exe, rate, secs, i),
                    Workload::Files => files(&dir, &exe, rate, secs),
                };
                total.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    total.load(Ordering::Relaxed)
}

/// Sleeps while `events` is ahead of `rate` (events/s since `start`).
fn pace(start: Instant, rate: Option<f64>, events: u64) {
    if let Some(r) = rate {
        while events as f64 > start.elapsed().as_secs_f64() * r {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

fn exec_files(dir: &Path, exe: &Path, rate: Option<f64>, secs: u64, worker: usize) -> u64 {
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let (mut events, mut i) = (0u64, 0u64);
    while Instant::now() < end {
        pace(start, rate, events);
        let _ = Command::new(exe)
            .args([
                "--storm",
                &format!("worker {worker}"),
                &format!("iteration {i}"),
            ])
            .status();
        let a = dir.join(format!("f{}", i % 64));
        let b = dir.join(format!("g{}", i % 64));
        if let Ok(mut f) = File::create(&a) {
            let _ = f.write_all(b"x");
        }
        let _ = std::fs::rename(&a, &b);
        let _ = std::fs::remove_file(&b);
        events += 4;
        i += 1;
    }
    events
}

fn files(dir: &Path, exe: &Path, rate: Option<f64>, secs: u64) -> u64 {
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let (mut events, mut i) = (0u64, 0u64);
    while Instant::now() < end {
        pace(start, rate, events);
        let p = dir.join(format!("f{}", i % 64));
        if let Ok(mut f) = File::create(&p) {
            let _ = f.write_all(b"x");
        }
        let _ = std::fs::remove_file(&p);
        events += 2;
        i += 1;
        if i.is_multiple_of(100) {
            let _ = Command::new(exe).status();
            events += 1;
        }
    }
    events
}

// ---- collectors ----

#[derive(Clone, Copy, PartialEq, Debug)]
enum Collector {
    /// The bare reader waking for every datagram (no batching wait).
    FloorEager,
    Floor,
    Auditd,
    Watch,
    RunJsonl,
    RunOtlp,
    /// `audex run` (jsonl) with the unlink filter applied in user space.
    RunDropUser,
    /// The same filter pushed down to the kernel.
    RunDropPushed,
}

impl Collector {
    fn name(self) -> &'static str {
        match self {
            Collector::FloorEager => "floor, eager (bare reader, a wake-up per record)",
            Collector::Floor => "floor (bare reader, audex's batching)",
            Collector::Auditd => "auditd (unicast, RAW log)",
            Collector::Watch => "audex watch (unicast)",
            Collector::RunJsonl => "audex run (unicast, spool, jsonl)",
            Collector::RunOtlp => "audex run (unicast, spool, OTLP gRPC)",
            Collector::RunDropUser => "audex run (jsonl), unlinks dropped in user space",
            Collector::RunDropPushed => "audex run (jsonl), unlinks dropped by a pushed never rule",
        }
    }
}

/// What one collector's output says: storm events seen, serials seen and the
/// holes among them (None where the output is filtered), false losses.
#[derive(Default)]
struct Seen {
    storm: u64,
    holes: Option<u64>,
    false_lost: u64,
}

/// What an output holds, tallied line by line.
#[derive(Default)]
struct Tally {
    serials: BTreeSet<u64>,
    lost: BTreeSet<u64>,
    storm: u64,
    /// The first storm event's serial (holes are counted from it).
    first: Option<u64>,
}

impl Tally {
    /// A delivered event (or record) with this serial; `storm` when it has the key.
    fn event(&mut self, serial: Option<u64>, storm: bool) {
        if let Some(s) = serial {
            self.serials.insert(s);
        }
        if storm {
            self.storm += 1;
            self.first = match (self.first, serial) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }

    /// A reported lost range.
    fn lost(&mut self, first: u64, last: u64) {
        self.lost.extend(first..=last.min(first + 1_000_000));
    }

    fn seen(self) -> Seen {
        Seen {
            storm: self.storm,
            holes: Some(holes(&self.serials, self.first)),
            false_lost: self.lost.intersection(&self.serials).count() as u64,
        }
    }
}

/// Counts an audex JSON-lines output.
fn count_jsonl(out: &Path) -> Seen {
    let key = key();
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let mut t = Tally::default();
    for l in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            continue;
        };
        let num = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<u64>().ok());
        if v["action"] == "records-lost" {
            if let (Some(a), Some(b)) = (
                num(&v["lost"]["first_serial"]),
                num(&v["lost"]["last_serial"]),
            ) {
                t.lost(a, b);
            }
            continue;
        }
        let storm = v["keys"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k.as_str() == Some(key.as_str())));
        t.event(num(&v["serial"]), storm);
    }
    t.seen()
}

/// Counts the OTLP sink's output.
fn count_sink(out: &Path) -> Seen {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let mut t = Tally::default();
    for l in text.lines() {
        if let Some(r) = l.strip_prefix("lost:") {
            if let Some((a, b)) = r.split_once('-') {
                if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
                    t.lost(a, b);
                }
            }
            continue;
        }
        let mut it = l.split(' ');
        let serial = it.next().and_then(|s| s.parse::<u64>().ok());
        t.event(serial, it.next() == Some("key"));
    }
    t.seen()
}

fn count_auditd(log: &Path) -> Seen {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut t = Tally::default();
    let key = format!("key=\"{}\"", key());
    for l in text.lines().filter(|l| !l.starts_with("type=DAEMON_")) {
        let storm = l.starts_with("type=SYSCALL") && l.contains(&key);
        t.event(serial_of(l.as_bytes()), storm);
    }
    t.seen()
}

fn spawn_ready(mut c: Command, out: &Path, ready: &str) -> Child {
    let err = out.with_extension("err");
    c.stdout(File::create(out).unwrap())
        .stderr(File::create(&err).unwrap())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    for _ in 0..200 {
        if std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains(ready)
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{c:?} did not start: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
}

/// The filter of the drop collectors: every unlink, by syscall alone (the
/// kernel can evaluate it: pushed down), or also by action (it cannot: the
/// same events, dropped in user space).
fn drop_filter(c: Collector) -> &'static str {
    match c {
        Collector::RunDropPushed => {
            "filters:\n  - {name: no-unlink, drop: {syscalls: [unlink, unlinkat]}}\n"
        }
        Collector::RunDropUser => {
            "filters:\n  - {name: no-unlink, drop: {syscalls: [unlink, unlinkat], actions: [deleted]}}\n"
        }
        _ => "",
    }
}

fn audex_run_config(base: &Path, dir: &Path, exporter: &str, filters: &str) -> PathBuf {
    let spool = base.join("run-spool");
    let _ = std::fs::remove_dir_all(&spool);
    let cfg = base.join("run.yaml");
    std::fs::write(
        &cfg,
        format!(
            "source: {{mode: unicast}}\nrules:\n  watch:\n    - {{path: {}, perm: rwxa, key: {}}}\n{filters}tenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {exporter}\nspool: {{dir: {}, max_bytes: 1073741824}}\n",
            dir.display(),
            key(),
            spool.display()
        ),
    )
    .unwrap();
    cfg
}

/// Copies a run's output and log where they outlive the bench, to look at the
/// serials a hole or a false loss names.
fn keep_evidence(files: &[&Path]) {
    let dir = std::env::temp_dir().join(format!(
        "audex-storm-evidence-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    ));
    let _ = std::fs::create_dir_all(&dir);
    for f in files {
        if let Some(name) = f.file_name() {
            let _ = std::fs::copy(f, dir.join(name));
        }
    }
    eprintln!("  output and log kept in {}", dir.display());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Row {
    workload: &'static str,
    collector: Collector,
    rate: String,
    secs: u64,
    generated: u64,
    seen: Seen,
    lost: u64,
    blocked: u64,
    cpu: f64,
}

impl Row {
    fn us_per_event(&self) -> f64 {
        self.cpu * 1e6 / self.generated.max(1) as f64
    }
}

/// One collector on one workload at one rate.
fn measure(
    c: Collector,
    w: Workload,
    rate: Option<u64>,
    secs: u64,
    base: &Path,
    dir: &Path,
    exe: &Path,
) -> Row {
    // AUDEX_STORM_AUDEX: another audex binary (an A/B comparison of two builds).
    let audex =
        std::env::var("AUDEX_STORM_AUDEX").unwrap_or_else(|_| env!("CARGO_BIN_EXE_audex").into());
    let audex = audex.as_str();
    sh("auditctl", &["-D"]);
    sh("auditctl", &["-b", "8192"]);
    let (lost0, blocked0) = (
        status_field("lost"),
        status_field("backlog_wait_time_actual"),
    );
    let d = dir.to_str().unwrap();
    RUN.fetch_add(1, Ordering::Relaxed);
    let key = key();
    let watch_rule = ["-w", d, "-p", "rwxa", "-k", &key];
    let out = base.join("out.txt");
    let _ = std::fs::remove_file(&out);
    let (generated, seen, cpu) = match c {
        Collector::Floor | Collector::FloorEager => {
            sh("auditctl", &["-e", "1"]);
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.env("AUDEX_STORM_ROLE", "floor")
                .env("AUDEX_STORM_KEY", &key);
            if c == Collector::FloorEager {
                cmd.env("AUDEX_STORM_FLOOR_WAIT_US", "0");
            }
            let child = spawn_ready(cmd, &out, "watching");
            sh("auditctl", &watch_rule);
            let g = workload(w, dir, exe, rate, secs);
            std::thread::sleep(Duration::from_secs(1));
            sh("auditctl", &["-D"]);
            signal(&child, libc::SIGTERM);
            let cpu = reap(child);
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let h = text
                .split("holes ")
                .nth(1)
                .and_then(|s| s.trim().parse().ok());
            // The floor does not tell events apart: every generated one counts.
            (
                g,
                Seen {
                    storm: g,
                    holes: h,
                    false_lost: 0,
                },
                cpu,
            )
        }
        Collector::Auditd => {
            let mut daemon = Auditd::start(base);
            sh("auditctl", &watch_rule);
            let g = workload(w, dir, exe, rate, secs);
            std::thread::sleep(Duration::from_secs(1));
            sh("auditctl", &["-D"]);
            let cpu = daemon.stop_cpu();
            let seen = count_auditd(&daemon.log);
            (g, seen, cpu)
        }
        Collector::Watch => {
            sh("auditctl", &["-e", "1"]);
            let mut cmd = Command::new(audex);
            cmd.args(["watch", d, "--json", "--key", &key, "--mode", "unicast"]);
            let child = spawn_ready(cmd, &out, "watching");
            let g = workload(w, dir, exe, rate, secs);
            std::thread::sleep(Duration::from_secs(1));
            signal(&child, libc::SIGINT);
            let cpu = reap(child);
            let mut seen = count_jsonl(&out);
            seen.holes = None; // watch prints only its key's events
            (g, seen, cpu)
        }
        Collector::RunJsonl
        | Collector::RunOtlp
        | Collector::RunDropUser
        | Collector::RunDropPushed => {
            sh("auditctl", &["-e", "1"]);
            let events = base.join("events.jsonl");
            let _ = std::fs::remove_file(&events);
            let sink_out = base.join("sink.txt");
            let mut sink = None;
            let exporter = if c != Collector::RunOtlp {
                format!("{{name: out, type: jsonl, path: {}}}", events.display())
            } else {
                let port = free_port();
                let mut cmd = Command::new(std::env::current_exe().unwrap());
                cmd.env("AUDEX_STORM_ROLE", "otlp-sink")
                    .env("AUDEX_STORM_KEY", &key)
                    .env("AUDEX_STORM_SINK_PORT", port.to_string())
                    .env("AUDEX_STORM_SINK_OUT", &sink_out);
                sink = Some(spawn_ready(cmd, &base.join("sink.log"), "watching"));
                format!("{{name: out, type: otlp_grpc, endpoint: \"http://127.0.0.1:{port}\"}}")
            };
            let cfg = audex_run_config(base, dir, &exporter, drop_filter(c));
            let mut cmd = Command::new(audex);
            cmd.args(["run", "--log-format", "text", "--config"])
                .arg(&cfg);
            let child = spawn_ready(cmd, &out, "watching");
            let g = workload(w, dir, exe, rate, secs);
            // Past the spool's sync interval and the delivery of the last batch.
            std::thread::sleep(Duration::from_secs(3));
            signal(&child, libc::SIGTERM);
            let cpu = reap(child);
            let mut seen = match sink {
                Some(s) => {
                    signal(&s, libc::SIGTERM);
                    reap(s);
                    count_sink(&sink_out)
                }
                None => count_jsonl(&events),
            };
            if !drop_filter(c).is_empty() {
                // The dropped events' serials are missing from the output on
                // purpose (user space), or never used (kernel).
                seen.holes = None;
            }
            if seen.holes.unwrap_or(0) > 0 || seen.false_lost > 0 {
                keep_evidence(&[&events, &sink_out, &out.with_extension("err")]);
            }
            (g, seen, cpu)
        }
    };
    Row {
        workload: w.name(),
        collector: c,
        rate: rate.map_or("max".into(), |r| r.to_string()),
        secs,
        generated,
        seen,
        lost: status_field("lost").saturating_sub(lost0),
        blocked: status_field("backlog_wait_time_actual").saturating_sub(blocked0),
        cpu,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    match std::env::var("AUDEX_STORM_ROLE").as_deref() {
        Ok("floor") => return floor_reader(),
        Ok("otlp-sink") => return otlp_sink(),
        _ => {}
    }
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the storm bench drives the kernel: run as root"
    );
    let lock = File::options()
        .create(true)
        .append(true)
        .open("/tmp/audex-kernel-tests.lock")
        .unwrap();
    // SAFETY: flock on our own descriptor.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    let saved_enabled = status_field("enabled");
    let saved_backlog = status_field("backlog_limit");
    let secs: u64 = std::env::var("AUDEX_STORM_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rates: Vec<Option<u64>> = std::env::var("AUDEX_STORM_RATES")
        .unwrap_or_else(|_| "2000,10000,max".into())
        .split(',')
        .map(|r| r.trim().parse().ok())
        .collect();
    let workloads: Vec<Workload> = std::env::var("AUDEX_STORM_WORKLOADS")
        .unwrap_or_else(|_| "exec+files,files".into())
        .split(',')
        .map(|w| match w.trim() {
            "files" => Workload::Files,
            _ => Workload::ExecFiles,
        })
        .collect();
    let all = [
        Collector::FloorEager,
        Collector::Floor,
        Collector::Auditd,
        Collector::Watch,
        Collector::RunJsonl,
        Collector::RunOtlp,
        Collector::RunDropUser,
        Collector::RunDropPushed,
    ];
    // AUDEX_STORM_COLLECTORS: a subset by number (0 eager floor, 1 floor, 2
    // auditd, 3 watch, 4 run jsonl, 5 run OTLP, 6 run with the unlink filter
    // in user space, 7 pushed down), e.g. "1,2,4".
    let collectors: Vec<Collector> = match std::env::var("AUDEX_STORM_COLLECTORS") {
        Ok(list) => list
            .split(',')
            .filter_map(|i| all.get(i.trim().parse::<usize>().ok()?).copied())
            .collect(),
        Err(_) => all[..6].to_vec(),
    };
    let base = std::env::temp_dir().join(format!("audex-storm-{}", std::process::id()));
    let dir = base.join("watched");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("watched-true");
    std::fs::copy("/bin/true", &exe).unwrap();
    let mut rows = Vec::new();
    for &w in &workloads {
        for rate in &rates {
            for &c in &collectors {
                let row = measure(c, w, *rate, secs, &base, &dir, &exe);
                eprintln!(
                    "{} @ {} {}: {} generated, {} seen, {:.2} CPU s",
                    row.workload,
                    row.rate,
                    c.name(),
                    row.generated,
                    row.seen.storm,
                    row.cpu
                );
                rows.push(row);
            }
        }
    }
    sh("auditctl", &["-D"]);
    sh("auditctl", &["-b", &saved_backlog.to_string()]);
    sh("auditctl", &["-e", &saved_enabled.to_string()]);
    let _ = std::fs::remove_dir_all(&base);
    println!("# kernel storm ({secs} s per run, backlog_limit 8192)\n");
    println!("| workload | collector | target ev/s | generated | achieved ev/s | storm events seen | serial gaps (from output) | false lost | kernel lost | blocked (jiffies) | CPU s | CPU µs/event | × auditd | × floor |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let peer = |c: Collector| {
            rows.iter()
                .find(|p| p.workload == r.workload && p.rate == r.rate && p.collector == c)
                .map(Row::us_per_event)
        };
        let ratio =
            |p: Option<f64>| p.map_or("".into(), |p| format!("{:.2}", r.us_per_event() / p));
        println!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {:.2} | {:.1} | {} | {} |",
            r.workload,
            r.collector.name(),
            r.rate,
            r.generated,
            r.generated as f64 / r.secs as f64,
            r.seen.storm,
            r.seen
                .holes
                .map_or("n/a (filtered)".into(), |h| h.to_string()),
            r.seen.false_lost,
            r.lost,
            r.blocked,
            r.cpu,
            r.us_per_event(),
            ratio(peer(Collector::Auditd)),
            ratio(peer(Collector::Floor)),
        );
    }
}
