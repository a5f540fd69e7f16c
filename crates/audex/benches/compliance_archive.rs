//! Compliance benchmark: writing a hash-chained archive, then `audex verify` and
//! `audex report` over it, as whole processes (wall time, CPU time, peak RSS).
//!
//!   cargo bench -p audex --bench compliance_archive
//!
//! The archive holds AUDEX_BENCH_EVENTS (default 1,000,000) events: the events
//! captured from the real kernel (tests/golden/compliance.log, kernel-enriched.log)
//! repeated with fresh ids, serials and times (3 ms apart), written by the
//! `protobuf_file` exporter with a chain key into bench-out/compliance/ (64 MiB
//! segments). Writing is also timed without the chain, for the cost of chaining.
use audex_export::archive::chain::ChainKey;
use audex_export::ProtobufFile;
use audex_proto::v1::AuditEvent;
use prost::Message;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn base_events() -> Vec<AuditEvent> {
    let mut out = Vec::new();
    for log in [
        "tests/golden/compliance.log",
        "tests/golden/kernel-enriched.log",
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_audex"))
            .args(["replay", "-q", "--format", "proto"])
            .arg(repo().join(log))
            .output()
            .unwrap();
        assert!(o.status.success());
        let mut s = &o.stdout[..];
        while !s.is_empty() {
            out.push(AuditEvent::decode_length_delimited(&mut s).unwrap());
        }
    }
    out
}

/// Writes `n` events; returns the seconds it took.
fn write_archive(dir: &Path, base: &[AuditEvent], n: u64, key: Option<ChainKey>) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let mut x =
        ProtobufFile::new("bench", dir, 64 << 20, Duration::from_secs(86_400), key).unwrap();
    let t0 = 1_800_000_000i64;
    let mut batch = Vec::with_capacity(1000);
    let start = Instant::now();
    for i in 0..n {
        let mut e = base[(i % base.len() as u64) as usize].clone();
        let ms = i as i64 * 3;
        e.serial = 1000 + i;
        e.node = "bench-host".into();
        e.id = format!("bench-host:{}:{}", t0 + ms / 1000, e.serial);
        e.time = Some(audex_proto::Timestamp {
            seconds: t0 + ms / 1000,
            nanos: (ms % 1000) as i32 * 1_000_000,
        });
        batch.push(e);
        if batch.len() == 1000 {
            x.write_batch(&batch).unwrap();
            batch.clear();
        }
    }
    x.write_batch(&batch).unwrap();
    drop(x);
    start.elapsed().as_secs_f64()
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// (wall s, cpu s, peak RSS MiB, exit code) of a whole `audex` process.
fn measure(args: &[&str]) -> (f64, f64, f64, i32) {
    let start = Instant::now();
    // Reaped by wait4 below, which also gives its rusage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 waits for our own child and fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    (
        start.elapsed().as_secs_f64(),
        tv(ru.ru_utime) + tv(ru.ru_stime),
        ru.ru_maxrss as f64 / 1024.0,
        libc::WEXITSTATUS(status),
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("AUDEX_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let out = repo().join("bench-out/compliance");
    std::fs::create_dir_all(&out).unwrap();
    let key_file = out.join("chain.key");
    std::fs::write(&key_file, b"bench chain key: 32 bytes long!!").unwrap();
    let base = base_events();
    let plain = write_archive(&out.join("plain"), &base, n, None);
    let archive = out.join("archive");
    let chained = write_archive(
        &archive,
        &base,
        n,
        Some(ChainKey::from_file(&key_file).unwrap()),
    );
    let bytes: u64 = std::fs::read_dir(&archive)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    println!(
        "archive: {n} events ({} base events repeated), {:.0} MiB, {:.0} bytes/event",
        base.len(),
        bytes as f64 / 1048576.0,
        bytes as f64 / n as f64
    );
    println!("write (in process, 1 thread): plain {:.0} events/s, chained {:.0} events/s ({:+.0}% time for the chain)", n as f64 / plain, n as f64 / chained, (chained / plain - 1.0) * 100.0);
    println!();
    println!("| command | wall s | CPU s | events/s (wall) | peak RSS MiB | exit |");
    println!("|---|---:|---:|---:|---:|---:|");
    let a = archive.to_str().unwrap();
    let k = key_file.to_str().unwrap();
    let rows: Vec<(&str, Vec<String>)> = vec![
        (
            "audex verify",
            vec!["verify".into(), "--key-file".into(), k.into(), a.into()],
        ),
        (
            "audex report --format json",
            vec![
                "report".into(),
                "--input".into(),
                a.into(),
                "--format".into(),
                "json".into(),
                "-o".into(),
                out.join("report.json").to_string_lossy().into(),
            ],
        ),
        (
            "audex report --format html",
            vec![
                "report".into(),
                "--input".into(),
                a.into(),
                "--format".into(),
                "html".into(),
                "-o".into(),
                out.join("report.html").to_string_lossy().into(),
            ],
        ),
    ];
    for (name, args) in rows {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (wall, cpu, rss, code) = measure(&args);
        println!(
            "| {name} | {wall:.2} | {cpu:.2} | {:.0} | {rss:.0} | {code} |",
            n as f64 / wall
        );
    }
}
