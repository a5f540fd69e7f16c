//! Kernel storm: a bounded workload against the real kernel, collected by
//! Debian's auditd as the unicast daemon, by audex as the unicast daemon (`watch
//! --json`), by audex in multicast mode beside auditd, and by the `audex run`
//! daemon (unicast; events through tenant routing and the disk spool to a jsonl
//! exporter).
//!
//!   sudo cargo bench -p audex --bench kernel_storm
//!
//! Workers create+write+close+unlink files in a watched directory (2 audited
//! events per iteration) and exec a watched binary every 100 iterations, at
//! fixed rates (AUDEX_STORM_RATES, events/s, default "2000,10000,max") for
//! AUDEX_STORM_SECS (default 10) each, with backlog_limit 8192. Per run it
//! reports events generated and seen, serial gaps, the kernel's `lost`, the time
//! audited processes were blocked (`backlog_wait_time_actual`, jiffies), and the
//! collector's CPU seconds. Holds the kernel-test lock and restores audit state.
#![allow(clippy::zombie_processes)] // children are reaped with wait4 (for their rusage)
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

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

#[path = "../tests/common/auditd.rs"]
#[allow(dead_code)]
mod auditd;
use auditd::Auditd;

/// Runs the workload for `secs` at `rate` events/s (None: as fast as it goes).
fn workload(dir: &Path, exe: &Path, rate: Option<u64>, secs: u64) -> u64 {
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut iters = 0u64;
    let mut events = 0u64;
    while Instant::now() < end {
        if let Some(r) = rate {
            let due = (start.elapsed().as_secs_f64() * r as f64 / 2.0) as u64;
            if iters >= due {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
        }
        let p = dir.join(format!("f{}", iters % 64));
        if let Ok(mut f) = File::create(&p) {
            let _ = f.write_all(b"x");
        }
        let _ = std::fs::remove_file(&p);
        events += 2;
        iters += 1;
        if iters.is_multiple_of(100) {
            let _ = Command::new(exe).status();
            events += 1;
        }
    }
    events
}

struct Row {
    config: &'static str,
    rate: String,
    generated: u64,
    seen: u64,
    gaps: u64,
    lost: u64,
    blocked: u64,
    cpu: f64,
    secs: f64,
}

fn count_audex(out: &Path, key: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let mut seen = 0;
    let mut gaps = 0;
    for l in text.lines() {
        if l.contains(&format!("\"{key}\"")) {
            seen += 1;
        }
        if l.contains("\"serial-gap\"") {
            if let Some(c) = l
                .split("\"count\":\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
            {
                gaps += c.parse::<u64>().unwrap_or(0);
            }
        }
    }
    (seen, gaps)
}

fn count_auditd(log: &Path, key: &str, audex: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let seen = text
        .lines()
        .filter(|l| l.starts_with("type=SYSCALL") && l.contains(&format!("key=\"{key}\"")))
        .count() as u64;
    // Serial gaps in the daemon's own log (the full record stream).
    let out = Command::new(audex)
        .args(["replay", "--no-names", "-o", "/dev/null"])
        .arg(log)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stderr);
    let gaps = summary
        .split(" lost serials")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (seen, gaps)
}

fn start_audex(audex: &str, dir: &Path, key: &str, extra: &[&str], out: &Path) -> Child {
    let mut args = vec!["watch", dir.to_str().unwrap(), "--json", "--key", key];
    args.extend(extra);
    spawn_audex(audex, &args, out)
}

/// `audex run` with a config watching `dir`, all events to a jsonl file at `out`.
fn start_audex_run(audex: &str, dir: &Path, key: &str, out: &Path) -> Child {
    let base = out.parent().unwrap();
    let spool = base.join("run-spool");
    let _ = std::fs::remove_dir_all(&spool);
    let _ = std::fs::remove_file(out);
    let cfg = base.join("run.yaml");
    std::fs::write(
        &cfg,
        format!(
            "source: {{mode: unicast}}\nrules:\n  watch:\n    - {{path: {}, perm: rwxa, key: {key}}}\ntenants:\n  - name: default\n    exporters: [file]\nexporters:\n  - {{name: file, type: jsonl, path: {}}}\nspool: {{dir: {}, max_bytes: 1073741824}}\n",
            dir.display(),
            out.display(),
            spool.display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    spawn_audex(
        audex,
        &["run", "--log-format", "text", "--config", &cfg],
        &base.join("run.stdout"),
    )
}

fn spawn_audex(audex: &str, args: &[&str], out: &Path) -> Child {
    let err = out.with_extension("err");
    let mut c = Command::new(audex);
    c.args(args);
    c.stdout(File::create(out).unwrap())
        .stderr(File::create(&err).unwrap());
    let child = c.spawn().unwrap();
    for _ in 0..100 {
        if std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains("watching")
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "audex did not start: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
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
    let audex = env!("CARGO_BIN_EXE_audex");
    let secs: u64 = std::env::var("AUDEX_STORM_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rates: Vec<Option<u64>> = std::env::var("AUDEX_STORM_RATES")
        .unwrap_or_else(|_| "2000,10000,max".into())
        .split(',')
        .map(|r| r.trim().parse().ok())
        .collect();
    let base = std::env::temp_dir().join(format!("audex-storm-{}", std::process::id()));
    let dir = base.join("watched");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("watched-true");
    std::fs::copy("/bin/true", &exe).unwrap();
    let key = "audex-storm";
    let mut rows = Vec::new();
    for rate in &rates {
        let rate_s = rate.map_or("max".to_string(), |r| r.to_string());
        for config in [
            "auditd (unicast)",
            "audex (unicast)",
            "audex multicast + auditd",
            "audex run (unicast, jsonl via spool)",
        ] {
            sh("auditctl", &["-D"]);
            sh("auditctl", &["-b", "8192"]);
            let (lost0, blocked0) = (
                status_field("lost"),
                status_field("backlog_wait_time_actual"),
            );
            let out = base.join("audex.json");
            let t = Instant::now();
            let (generated, seen, gaps, cpu) = match config {
                "auditd (unicast)" => {
                    let mut d = Auditd::start(&base);
                    sh(
                        "auditctl",
                        &["-w", dir.to_str().unwrap(), "-p", "rwxa", "-k", key],
                    );
                    let g = workload(&dir, &exe, *rate, secs);
                    std::thread::sleep(Duration::from_secs(1));
                    sh("auditctl", &["-D"]);
                    let cpu = d.stop_cpu();
                    let (seen, gaps) = count_auditd(&d.log, key, audex);
                    (g, seen, gaps, cpu)
                }
                "audex (unicast)" => {
                    sh("auditctl", &["-e", "1"]);
                    let a = start_audex(audex, &dir, key, &["--mode", "unicast"], &out);
                    let g = workload(&dir, &exe, *rate, secs);
                    std::thread::sleep(Duration::from_secs(1));
                    signal(&a, libc::SIGINT);
                    let cpu = reap(a);
                    let (seen, gaps) = count_audex(&out, key);
                    (g, seen, gaps, cpu)
                }
                "audex run (unicast, jsonl via spool)" => {
                    sh("auditctl", &["-e", "1"]);
                    let a = start_audex_run(audex, &dir, key, &out);
                    let g = workload(&dir, &exe, *rate, secs);
                    // Past the spool's sync interval and the delivery of the last batch.
                    std::thread::sleep(Duration::from_secs(3));
                    signal(&a, libc::SIGTERM);
                    let cpu = reap(a);
                    let (seen, gaps) = count_audex(&out, key);
                    (g, seen, gaps, cpu)
                }
                _ => {
                    let mut d = Auditd::start(&base);
                    let a = start_audex(
                        audex,
                        &dir,
                        key,
                        &["--mode", "multicast", "--recv-buffer-bytes", "67108864"],
                        &out,
                    );
                    let g = workload(&dir, &exe, *rate, secs);
                    std::thread::sleep(Duration::from_secs(1));
                    signal(&a, libc::SIGINT);
                    let cpu = reap(a);
                    d.stop_cpu();
                    let (seen, gaps) = count_audex(&out, key);
                    (g, seen, gaps, cpu)
                }
            };
            let row = Row {
                config,
                rate: rate_s.clone(),
                generated,
                seen,
                gaps,
                lost: status_field("lost").saturating_sub(lost0),
                blocked: status_field("backlog_wait_time_actual").saturating_sub(blocked0),
                cpu,
                secs: t.elapsed().as_secs_f64(),
            };
            eprintln!(
                "{} @ {}: {} generated, {} seen",
                row.config, row.rate, row.generated, row.seen
            );
            rows.push(row);
        }
    }
    sh("auditctl", &["-D"]);
    sh("auditctl", &["-b", &saved_backlog.to_string()]);
    sh("auditctl", &["-e", &saved_enabled.to_string()]);
    let _ = std::fs::remove_dir_all(&base);
    println!("# kernel storm ({secs} s per run, backlog_limit 8192)\n");
    println!("| collector | target events/s | events generated | achieved events/s | events seen | serial gaps | kernel lost | blocked (jiffies) | collector CPU s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {:.2} |",
            r.config,
            r.rate,
            r.generated,
            r.generated as f64 / secs as f64,
            r.seen,
            r.gaps,
            r.lost,
            r.blocked,
            r.cpu
        );
        let _ = r.secs;
    }
}
