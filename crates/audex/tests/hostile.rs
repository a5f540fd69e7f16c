//! Hostile input and hostile surroundings, through the command line as an
//! attacker (or an unlucky operator) would meet it: one test per class of
//! issue 13. Inputs are generated here, bounded in size and time; every
//! command runs under a watchdog (a hang fails the test) and memory is the
//! child's own peak RSS (`VmHWM` of its address space, polled while it runs:
//! `wait4`'s maxrss would include this test process's size at the fork).
//!
//! - memory stays bounded: a 300 MiB line, events that never end, devices and
//!   oversized files where files are expected, a segment far larger than the
//!   memory goal;
//! - nothing hangs: FIFOs where files are expected, a receiver asking to wait
//!   for decades;
//! - one bad value spoils nothing: a time past what a date holds, an id past
//!   32 bits, a serial billions ahead;
//! - nothing is lost silently: an older log piped after a newer one, garbage,
//!   a closed stdout, receivers that answer 200 with a web page or redirect,
//!   and (as root) a spool whose disk fills up;
//! - no lies, no injections: exit codes of commands that could not check,
//!   receiver text with escape sequences, `${VAR}` carrying YAML, a second YAML
//!   document, EXECVE fragments out of order, names in a Markdown report.
#![allow(clippy::zombie_processes)] // children are reaped with wait4 (for the watchdog)
mod common;
use common::{audex, out_dir, repo};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run of the CLI gave.
struct Ran {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    peak_rss_mib: f64,
    secs: f64,
}

impl Ran {
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Writes a command's standard input on a thread of its own.
type Feeder = Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()> + Send>;

/// What goes to the command's standard input.
enum Stdin {
    Null,
    Bytes(Vec<u8>),
    /// Written by a thread (a broken pipe ends it quietly).
    Feed(Feeder),
}

/// `audex report --input ARCH [--format F] -o OUT` under the watchdog.
fn report(dir: &Path, arch: &Path, format: Option<&str>, out: &Path, limit: Duration) -> Ran {
    let mut args = vec!["report", "--input", arch.to_str().unwrap()];
    if let Some(f) = format {
        args.extend(["--format", f]);
    }
    args.extend(["-o", out.to_str().unwrap()]);
    run_in(dir, &args, Stdin::Null, limit)
}

/// An unchained archive (`dir/name`) of `log`, replayed from standard input
/// through a config that exports only to it; the replay must succeed.
fn archive_of(dir: &Path, name: &str, log: Vec<u8>, limit: Duration) -> PathBuf {
    let arch = dir.join(name);
    let cfg = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &cfg,
        format!(
            "tenants:\n  - name: default\n    exporters: [a]\nexporters:\n  - {{name: a, type: protobuf_file, path: {}}}\nspool: {{dir: {}}}\n",
            arch.display(),
            dir.join(format!("{name}-spool")).display()
        ),
    )
    .unwrap();
    let r = run_in(
        dir,
        &["replay", "-", "--config", cfg.to_str().unwrap()],
        Stdin::Bytes(log),
        limit,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    arch
}

/// Runs `audex args` with a watchdog: past `limit` the child is killed and the
/// test fails (a hang). Output goes through files in `dir`.
fn run_in(dir: &Path, args: &[&str], stdin: Stdin, limit: Duration) -> Ran {
    let (o, e) = (dir.join("stdout"), dir.join("stderr"));
    let mut cmd = audex();
    cmd.args(args)
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .stdin(match stdin {
            Stdin::Null => Stdio::null(),
            _ => Stdio::piped(),
        });
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let feeder = match stdin {
        Stdin::Null => None,
        Stdin::Bytes(b) => {
            let mut w = child.stdin.take().unwrap();
            Some(std::thread::spawn(move || {
                let _ = w.write_all(&b);
            }))
        }
        Stdin::Feed(f) => {
            let mut w = child.stdin.take().unwrap();
            Some(std::thread::spawn(move || {
                let _ = f(&mut w);
            }))
        }
    };
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let mut killed = false;
    let mut peak_kib = 0u64;
    loop {
        if let Some(k) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(k);
        }
        // SAFETY: our own child; WNOHANG polls without blocking.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break;
        }
        if started.elapsed() > limit && !killed {
            killed = true;
            // SAFETY: our own child, not reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(f) = feeder {
        let _ = f.join();
    }
    assert!(
        !killed,
        "audex {args:?} did not finish within {limit:?} (a hang); stderr: {}",
        std::fs::read_to_string(&e).unwrap_or_default()
    );
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ran {
        code,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read_to_string(&e).unwrap(),
        peak_rss_mib: peak_kib as f64 / 1024.0,
        secs: started.elapsed().as_secs_f64(),
    }
}

/// The peak resident size of `pid`'s address space since its exec (KiB).
fn vm_hwm_kib(pid: i32) -> Option<u64> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    st.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The memory goal for `replay`, `verify` and `report` on any of these inputs.
const MEMORY_GOAL_MIB: f64 = 128.0;

fn assert_small(r: &Ran, what: &str) {
    if r.peak_rss_mib == 0.0 {
        // Gone before the first sample (10 ms): a refusal before any reading.
        assert!(r.secs < 0.5, "{what}: no memory sample in {:.1} s", r.secs);
        eprintln!(
            "{what}: done in {:.0} ms, before a memory sample",
            r.secs * 1e3
        );
        return;
    }
    assert!(
        r.peak_rss_mib < MEMORY_GOAL_MIB,
        "{what}: peak RSS {:.0} MiB (goal < {MEMORY_GOAL_MIB} MiB); stderr: {}",
        r.peak_rss_mib,
        r.stderr
    );
    eprintln!(
        "{what}: peak RSS {:.1} MiB in {:.1} s",
        r.peak_rss_mib, r.secs
    );
}

fn golden(name: &str) -> PathBuf {
    repo().join("tests/golden").join(name)
}

/// `type=SYSCALL` + `PATH` + `PROCTITLE` of an `openat` by uid 1000, serial `s`.
fn open_event(s: u64, t: u64) -> String {
    format!(
        "type=SYSCALL msg=audit({t}.100:{s}): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=1 a2=0 a3=0 items=1 ppid=1 pid=4242 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=(none) ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=\"hostile\"\n\
         type=PATH msg=audit({t}.100:{s}): item=0 name=\"/srv/f{s}\" inode={s} dev=fe:00 mode=0100644 ouid=1000 ogid=1000 rdev=00:00 nametype=NORMAL\n\
         type=PROCTITLE msg=audit({t}.100:{s}): proctitle=636174\n"
    )
}

fn events_of(r: &Ran) -> Vec<serde_json::Value> {
    r.out()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is a whole JSON event"))
        .collect()
}

#[test]
fn memory_stays_bounded() {
    let dir = out_dir("hostile-memory");
    let limit = Duration::from_secs(120);

    // A 300 MiB line on stdin, then a record: read in bounded pieces, the
    // record after it still replayed.
    let r = run_in(
        &dir,
        &["replay", "-", "--format", "json", "--no-names"],
        Stdin::Feed(Box::new(|w| {
            w.write_all(b"type=SYSCALL msg=audit(1.000:1): a0=")?;
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..300 {
                w.write_all(&chunk)?;
            }
            w.write_all(b"\n")?;
            w.write_all(open_event(7, 1_700_000_000).as_bytes())
        })),
        limit,
    );
    assert_small(&r, "replay of a 300 MiB line");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let evs = events_of(&r);
    assert_eq!(evs.len(), 1, "the record after the long line is replayed");
    assert!(r.stderr.contains("1 parse errors"), "{}", r.stderr);

    // 240 events that never end (no EOE, no PROCTITLE), 800 KiB of EXECVE
    // each, all in the same millisecond (190 MiB in flight if nothing bounded
    // it): the byte budget evicts; on one thread and on many (batches in
    // flight are bounded by bytes as well as by count).
    for threads in ["1", "16"] {
        let r = run_in(
            &dir,
            &[
                "replay",
                "-",
                "--format",
                "json",
                "--no-names",
                "--threads",
                threads,
            ],
            Stdin::Feed(Box::new(|w| {
                let arg = "41".repeat(400 << 10);
                for s in 0..240u64 {
                    let t = 1_700_000_000;
                    writeln!(w, "type=SYSCALL msg=audit({t}.000:{}): arch=c000003e syscall=59 success=yes exit=0 items=1 ppid=1 pid={} auid=0 uid=0 comm=\"x\" exe=\"/x\"", s + 10, s + 100)?;
                    writeln!(
                        w,
                        "type=EXECVE msg=audit({t}.000:{}): argc=1 a0={arg}",
                        s + 10
                    )?;
                }
                Ok(())
            })),
            limit,
        );
        assert_small(
            &r,
            &format!("replay of 240 open events of 800 KiB, --threads {threads}"),
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let lines = r.stdout.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(lines, 240, "every event still comes out");
        assert!(
            r.stderr
                .contains("completed early (in-flight memory bound)"),
            "{}",
            r.stderr
        );
    }

    // Devices and oversized files where a file is expected: refused at once.
    let r = run_in(&dir, &["replay", "/dev/zero"], Stdin::Null, limit);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("/dev/zero") && r.stderr.contains("device"),
        "{}",
        r.stderr
    );
    let r = run_in(
        &dir,
        &["validate", "--config", "/dev/zero"],
        Stdin::Null,
        limit,
    );
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("/dev/zero"), "{}", r.stderr);
    let big = dir.join("big.yaml");
    let mut text = String::from("# padding\n");
    while text.len() < 10 << 20 {
        text.push_str("# ................................................................\n");
    }
    std::fs::write(&big, text).unwrap();
    let r = run_in(
        &dir,
        &["validate", "--config", big.to_str().unwrap()],
        Stdin::Null,
        limit,
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("larger than"),
        "a 10 MB config: {}",
        r.stderr
    );
    assert_small(&r, "validate of a 10 MB config");
    let cfg = dir.join("zero-key.yaml");
    std::fs::write(
        &cfg,
        "tenants:\n  - name: default\n    redact: {hash: [actor.uid_name], hash_key_file: /dev/zero}\n    exporters: [out]\nexporters:\n  - {name: out, type: jsonl, path: \"-\"}\n",
    )
    .unwrap();
    let r = run_in(
        &dir,
        &["validate", "--config", cfg.to_str().unwrap()],
        Stdin::Null,
        limit,
    );
    assert_eq!(r.code, Some(1), "a key file at /dev/zero: {}", r.stderr);
    assert!(r.stderr.contains("/dev/zero"), "{}", r.stderr);

    // A segment symlinked to /dev/zero: refused by verify and report.
    let arch = dir.join("archive-zero");
    std::fs::create_dir_all(&arch).unwrap();
    std::os::unix::fs::symlink("/dev/zero", arch.join("audex-0000000000001-000001.pb")).unwrap();
    let key = dir.join("chain.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let r = run_in(
        &dir,
        &[
            "verify",
            "--key-file",
            key.to_str().unwrap(),
            arch.to_str().unwrap(),
        ],
        Stdin::Null,
        limit,
    );
    assert_eq!(r.code, Some(2), "verify of a device segment: {}", r.stderr);
    assert_small(&r, "verify of a /dev/zero segment");
    let r = report(&dir, &arch, Some("json"), &dir.join("r.json"), limit);
    assert_ne!(r.code, Some(0), "report of a device segment: {}", r.stderr);
    assert_small(&r, "report of a /dev/zero segment");
    // A link to /dev/zero left behind would trap whatever copies target/tmp.
    std::fs::remove_dir_all(&arch).unwrap();

    // A 160 MiB segment (2,600 events of 64 KiB): streamed by verify and report.
    let arch = dir.join("archive-big");
    std::fs::create_dir_all(&arch).unwrap();
    {
        use prost::Message;
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(arch.join("audex-0000000000001-000001.pb")).unwrap(),
        );
        for i in 0..2600u64 {
            let mut ev = audex_proto::v1::AuditEvent {
                id: format!("n:{i}"),
                node: "n".into(),
                serial: i + 1,
                time: Some(audex_proto::Timestamp {
                    seconds: 1_700_000_000 + i as i64,
                    nanos: 0,
                }),
                category: "file".into(),
                action: "opened".into(),
                outcome: "success".into(),
                ..Default::default()
            };
            ev.data.insert("pad".into(), "p".repeat(64 << 10));
            f.write_all(&ev.encode_length_delimited_to_vec()).unwrap();
        }
    }
    let r = run_in(
        &dir,
        &[
            "verify",
            "--key-file",
            key.to_str().unwrap(),
            arch.to_str().unwrap(),
        ],
        Stdin::Null,
        limit,
    );
    assert_eq!(
        r.code,
        Some(1),
        "an unchained archive is a finding: {}",
        r.out()
    );
    assert_small(&r, "verify of a 160 MiB segment");
    let out = dir.join("big.json");
    let r = report(&dir, &arch, Some("json"), &out, limit);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_small(&r, "report of a 160 MiB segment");
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        rep["summary"]["events"], 2600,
        "every event counted: {}",
        rep["summary"]
    );
}

/// Makes a FIFO (nobody writes to it: reading it would wait forever).
fn fifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// An HTTP server answering every request with `answer` (until the test ends).
fn http_server(answer: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = vec![0u8; 1 << 20];
                let mut got = 0;
                // The request head and its body (Content-Length).
                loop {
                    let Ok(n) = s.read(&mut buf[got..]) else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    got += n;
                    let text = String::from_utf8_lossy(&buf[..got]).to_ascii_lowercase();
                    if let Some(h) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got >= h + 4 + len {
                            break;
                        }
                    }
                }
                let _ = s.write_all(answer.as_bytes());
            });
        }
    });
    port
}

/// A config sending everything to one OTLP/HTTP exporter, its spool in `dir`.
fn http_config(dir: &Path, port: u16) -> PathBuf {
    let cfg = dir.join(format!("http-{port}.yaml"));
    std::fs::write(
        &cfg,
        format!(
            "tenants:\n  - name: default\n    exporters: [siem]\nexporters:\n  - {{name: siem, type: otlp_http, endpoint: \"http://127.0.0.1:{port}\"}}\nspool: {{dir: {}, max_bytes: 67108864}}\n",
            dir.join(format!("spool-{port}")).display()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn nothing_hangs() {
    let dir = out_dir("hostile-hangs");
    let limit = Duration::from_secs(30);
    // FIFOs where a config, a key or a CA file is expected.
    let f = dir.join("fifo");
    fifo(&f);
    let fp = f.to_str().unwrap();
    let r = run_in(&dir, &["validate", "--config", fp], Stdin::Null, limit);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("not a regular file") || r.stderr.contains("FIFO"),
        "{}",
        r.stderr
    );
    for (what, yaml) in [
        (
            "hash key",
            format!("tenants:\n  - name: default\n    redact: {{hash: [actor.uid_name], hash_key_file: {fp}}}\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: \"-\"}}\n"),
        ),
        (
            "CA file",
            format!("tenants:\n  - name: default\n    exporters: [siem]\nexporters:\n  - {{name: siem, type: otlp_grpc, endpoint: \"https://127.0.0.1:4317\", ca_file: {fp}}}\n"),
        ),
        (
            "chain key",
            format!("tenants:\n  - name: default\n    exporters: [a]\nexporters:\n  - {{name: a, type: protobuf_file, path: {}, chain_key_file: {fp}}}\n", dir.join("a").display()),
        ),
    ] {
        let cfg = dir.join("fifo-cfg.yaml");
        std::fs::write(&cfg, yaml).unwrap();
        let r = run_in(&dir, &["validate", "--config", cfg.to_str().unwrap()], Stdin::Null, limit);
        assert_eq!(r.code, Some(1), "a FIFO as {what}: {}", r.stderr);
        assert!(r.stderr.contains(fp), "a FIFO as {what} is named: {}", r.stderr);
    }
    // A FIFO segment: verify and report refuse it.
    let arch = dir.join("archive");
    std::fs::create_dir_all(&arch).unwrap();
    fifo(&arch.join("audex-0000000000001-000001.pb"));
    let key = dir.join("chain.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let r = run_in(
        &dir,
        &[
            "verify",
            "--key-file",
            key.to_str().unwrap(),
            arch.to_str().unwrap(),
        ],
        Stdin::Null,
        limit,
    );
    assert_eq!(
        r.code,
        Some(2),
        "verify of a FIFO segment: {}{}",
        r.out(),
        r.stderr
    );
    let r = report(&dir, &arch, None, &dir.join("r.html"), limit);
    assert_ne!(r.code, Some(0), "report of a FIFO segment: {}", r.stderr);

    // A receiver asking to wait 31 years: the deadline holds.
    let port = http_server(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 999999999\r\nContent-Length: 0\r\n\r\n",
    );
    let cfg = http_config(&dir, port);
    let r = run_in(
        &dir,
        &[
            "replay",
            golden("kernel-raw.log").to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--deadline-s",
            "2",
        ],
        Stdin::Null,
        limit,
    );
    assert_eq!(
        r.code,
        Some(2),
        "not delivered by the deadline: {}",
        r.stderr
    );
    assert!(r.secs < 15.0, "the deadline of 2 s held: {:.1} s", r.secs);
    assert!(r.stderr.contains("not acknowledged"), "{}", r.stderr);
}

#[test]
fn one_bad_value_spoils_nothing() {
    let dir = out_dir("hostile-values");
    let limit = Duration::from_secs(30);
    let mut log = String::new();
    log.push_str(&open_event(100, 1_700_000_000));
    // A time past what a date holds, between good events.
    log.push_str("type=SYSCALL msg=audit(9223372036854775807.999:101): arch=c000003e syscall=257 success=yes exit=3 pid=1 uid=0\n");
    log.push_str(&open_event(102, 1_700_000_001));
    // An owner id past 32 bits (4294968296 = 2^32 + 1000).
    log.push_str(&open_event(103, 1_700_000_002).replace("ouid=1000", "ouid=4294968296"));
    // A serial billions ahead, then the sequence goes on.
    log.push_str(&open_event(9_000_000_000_000_000_000, 1_700_000_003));
    log.push_str(&open_event(104, 1_700_000_004));
    let r = run_in(
        &dir,
        &["replay", "-", "--format", "json"],
        Stdin::Bytes(log.into_bytes()),
        limit,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let evs = events_of(&r);
    let serials: Vec<&str> = evs.iter().filter_map(|e| e["serial"].as_str()).collect();
    for s in ["100", "102", "103", "104"] {
        assert!(serials.contains(&s), "event {s} delivered: {serials:?}");
    }
    assert!(
        r.stderr.contains("1 parse errors"),
        "the bad time is a counted parse error: {}",
        r.stderr
    );
    let e103 = evs.iter().find(|e| e["serial"] == "103").unwrap();
    let f = &e103["files"][0];
    assert!(
        f.get("ouid").is_none() && f.get("ouid_name").is_none(),
        "never wrapped: {f}"
    );
    assert!(
        e103["data"]["invalid_values"]
            .as_str()
            .unwrap_or("")
            .contains("ouid=4294968296"),
        "{e103}"
    );
    // Serial 101's only record did not parse: it is honestly missing (one
    // serial); the forged serial claims no loss at all.
    let lost: Vec<&serde_json::Value> = evs
        .iter()
        .filter(|e| e["action"] == "records-lost")
        .collect();
    assert_eq!(lost.len(), 1, "{}", r.out());
    assert_eq!(lost[0]["lost"]["first_serial"], "101");
    assert_eq!(lost[0]["lost"]["count"], "1", "a forged serial is no loss");
    assert!(r.stderr.contains("implausible"), "{}", r.stderr);

    // Events at the ends of time in an archive: the report copes.
    let mut log = open_event(1, 0);
    log.push_str(&open_event(2, 253_402_300_799));
    let arch = archive_of(&dir, "archive", log.into_bytes(), limit);
    let out = dir.join("r.json");
    let r = report(&dir, &arch, Some("json"), &out, limit);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_small(&r, "report over 8,000 years");
}

#[test]
fn nothing_is_lost_silently() {
    let dir = out_dir("hostile-loss");
    let limit = Duration::from_secs(60);
    // An older log piped after a newer one (`cat audit.log audit.log.1`):
    // every event, and it is said.
    let older: String = (1_000..1_500)
        .map(|s| open_event(s, 1_700_000_000 + s / 100))
        .collect();
    let newer: String = (50_000..50_500)
        .map(|s| open_event(s, 1_700_100_000 + s / 100))
        .collect();
    let r = run_in(
        &dir,
        &["replay", "-", "--format", "json", "--no-names"],
        Stdin::Bytes(format!("{newer}{older}").into_bytes()),
        limit,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let evs = events_of(&r);
    assert_eq!(evs.len(), 1000, "the older log is replayed too");
    assert!(
        evs.iter().all(|e| e["action"] != "records-lost"),
        "no loss claimed"
    );
    assert!(r.stderr.contains("went back in time once"), "{}", r.stderr);
    assert!(
        r.stderr.contains(" 0 late records"),
        "nothing dropped as late: {}",
        r.stderr
    );
    // A log split inside its serial window, halves swapped: stragglers, all kept.
    let text = std::fs::read_to_string(golden("kernel-raw.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let all = run_in(
        &dir,
        &[
            "replay",
            golden("kernel-raw.log").to_str().unwrap(),
            "--format",
            "json",
            "--no-names",
        ],
        Stdin::Null,
        limit,
    );
    let r = run_in(
        &dir,
        &["replay", "-", "--format", "json", "--no-names"],
        Stdin::Bytes(format!("{}\n{}\n", second.join("\n"), first.join("\n")).into_bytes()),
        limit,
    );
    let ids = |r: &Ran| {
        let mut v: Vec<String> = events_of(r)
            .iter()
            .filter(|e| e["action"] != "records-lost")
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&r), ids(&all), "the first half is replayed too");

    // Garbage: nothing parsed is a failure.
    let r = run_in(
        &dir,
        &["replay", "-"],
        Stdin::Bytes(b"<html>not an audit log</html>\n\x00\x01\x02\n".to_vec()),
        limit,
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);

    // A closed stdout: a non-zero status, quietly (no panic). The output is
    // far larger than a pipe holds, so the write fails however early the
    // reader closes.
    let many: String = (1..=3000).map(|s| open_event(s, 1_700_000_000)).collect();
    let input = dir.join("many.log");
    std::fs::write(&input, many).unwrap();
    let mut child = audex()
        .args(["replay", input.to_str().unwrap(), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");

    // A receiver that answers 200 with a web page, one that redirects: not
    // counted as delivered, kept for the next run.
    for (answer, says) in [
        (
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 35\r\n\r\n<html><body>Welcome!</body></html>\n",
            "content-type",
        ),
        (
            "HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/\r\nContent-Length: 0\r\n\r\n",
            "elsewhere.example",
        ),
    ] {
        let port = http_server(answer);
        let cfg = http_config(&dir, port);
        let r = run_in(
            &dir,
            &["replay", golden("kernel-raw.log").to_str().unwrap(), "--config", cfg.to_str().unwrap(), "--deadline-s", "2"],
            Stdin::Null,
            limit,
        );
        assert_eq!(r.code, Some(2), "{answer:?} is no delivery: {}", r.stderr);
        assert!(r.stderr.contains(" 0 exported"), "{}", r.stderr);
        assert!(r.stderr.to_ascii_lowercase().contains(says), "the cause is named: {}", r.stderr);
    }
}

/// A tmpfs for the test, unmounted when dropped (even on failure).
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_pauses_intake_and_it_recovers() {
    let dir = out_dir("hostile-full-disk");
    let mnt = dir.join("spool-fs");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        if std::env::var("AUDEX_SKIP_KERNEL_TESTS").as_deref() == Ok("1") {
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            return;
        }
        panic!("cannot mount a tmpfs: this test needs root (AUDEX_SKIP_KERNEL_TESTS=1 skips it)");
    }
    let fs = Tmpfs(mnt.clone());
    let out = dir.join("events.jsonl");
    let cfg = dir.join("cfg.yaml");
    std::fs::write(
        &cfg,
        format!(
            "tenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {}}}\nspool: {{dir: {}, max_bytes: 1073741824}}\n",
            out.display(),
            mnt.join("spool").display()
        ),
    )
    .unwrap();
    // 30,000 events (about 24 MiB of JSON lines, past the 16 MiB held in
    // memory): the 256 KiB filesystem fills at once, intake pauses (stdin is
    // not read on: the feeder gets stuck), and once the filesystem is grown
    // everything arrives.
    let n = 30_000u64;
    let fed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (grow, progress) = (mnt.clone(), fed.clone());
    // Grows the filesystem once the feeder is stuck behind the pause (no
    // progress for 2 s); says how far it got.
    let grower = std::thread::spawn(move || {
        let mut last = (0, Instant::now());
        let stalled_at = loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = progress.load(std::sync::atomic::Ordering::Relaxed);
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(2) || now >= n {
                break now;
            }
        };
        let st = Command::new("mount")
            .args(["-o", "remount,size=256m"])
            .arg(&grow)
            .status()
            .unwrap();
        (stalled_at, st)
    });
    let r = run_in(
        &dir,
        &[
            "replay",
            "-",
            "--config",
            cfg.to_str().unwrap(),
            "--deadline-s",
            "30",
        ],
        Stdin::Feed(Box::new(move |w| {
            for s in 1..=n {
                w.write_all(open_event(s, 1_700_000_000 + s / 1000).as_bytes())?;
                fed.store(s, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })),
        Duration::from_secs(180),
    );
    let (stalled_at, grown) = grower.join().unwrap();
    assert!(grown.success(), "remounting the tmpfs");
    assert!(
        stalled_at < n,
        "intake paused: the feeder was stuck at event {stalled_at} of {n}; {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("replay paused") && r.stderr.contains("replay resumed"),
        "{}",
        r.stderr
    );
    drop(fs);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot write"),
        "the full disk is reported: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(mnt.join("spool").to_str().unwrap()),
        "with the spool named: {}",
        r.stderr
    );
    assert!(r.stderr.contains("writes work again"), "{}", r.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    let serials: Vec<u64> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["serial"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(serials.len() as u64, n, "every event delivered once");
    assert!(serials.windows(2).all(|w| w[0] < w[1]), "in order");
}

#[test]
fn no_lies_and_no_injections() {
    let dir = out_dir("hostile-lies");
    let limit = Duration::from_secs(30);
    // Commands that could not check say so with 2, never 1 ("tampered").
    let arch = dir.join("archive");
    std::fs::create_dir_all(&arch).unwrap();
    let short = dir.join("short.key");
    std::fs::write(&short, b"abc").unwrap();
    for args in [
        vec![
            "verify",
            "--key-file",
            dir.join("missing.key").to_str().unwrap(),
            arch.to_str().unwrap(),
        ],
        vec![
            "verify",
            "--key-file",
            short.to_str().unwrap(),
            arch.to_str().unwrap(),
        ],
        vec![
            "verify",
            "--key-file",
            short.to_str().unwrap(),
            dir.join("nowhere").to_str().unwrap(),
        ],
    ] {
        let r = run_in(&dir, &args, Stdin::Null, limit);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
    }

    // A receiver's text reaches the terminal escaped.
    let port = http_server(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n\x1b[31mred\x1b[0m\naudex: forged log line\n",
    );
    let cfg = http_config(&dir, port);
    let r = run_in(
        &dir,
        &[
            "replay",
            golden("kernel-raw.log").to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--deadline-s",
            "2",
        ],
        Stdin::Null,
        limit,
    );
    assert!(
        !r.stderr.contains('\x1b'),
        "no raw escape sequence: {:?}",
        r.stderr
    );
    assert!(
        !r.stderr
            .lines()
            .any(|l| l.starts_with("audex: forged log line")),
        "no forged line: {}",
        r.stderr
    );

    // `${VAR}` carrying YAML stays one value; a second document is refused.
    let cfg = dir.join("env.yaml");
    std::fs::write(
        &cfg,
        "tenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {name: out, type: jsonl, path: \"${AUDEX_HOSTILE_PATH}\"}\n",
    )
    .unwrap();
    let r = audex()
        .args(["validate", "--config", cfg.to_str().unwrap()])
        .env(
            "AUDEX_HOSTILE_PATH",
            "/tmp/x\"}\n  - {name: evil, type: otlp_grpc, endpoint: \"http://attacker:4317\"}\n#",
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&r.stdout).to_string() + &String::from_utf8_lossy(&r.stderr);
    assert!(
        !text.contains("2 exporters"),
        "no exporter injected: {text}"
    );
    let cfg = dir.join("two-docs.yaml");
    std::fs::write(
        &cfg,
        "tenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {name: out, type: jsonl, path: \"-\"}\n---\ntenants: []\n",
    )
    .unwrap();
    let r = run_in(
        &dir,
        &["validate", "--config", cfg.to_str().unwrap()],
        Stdin::Null,
        limit,
    );
    assert_eq!(r.code, Some(1), "a second document: {}", r.stderr);

    // EXECVE parts out of order, one missing: assembled by index, the gap marked.
    let log = "type=SYSCALL msg=audit(1700000000.000:5): arch=c000003e syscall=59 success=yes exit=0 items=0 ppid=1 pid=9 uid=0 comm=\"x\" exe=\"/x\"\n\
               type=EXECVE msg=audit(1700000000.000:5): argc=2 a0=\"x\" a1_len=9 a1[2]=\"CCC\"\n\
               type=EXECVE msg=audit(1700000000.000:5): a1[0]=\"AAA\"\n\
               type=EXECVE msg=audit(1700000000.000:5): a1[1]=\"BBB\"\n\
               type=SYSCALL msg=audit(1700000000.000:6): arch=c000003e syscall=59 success=yes exit=0 items=0 ppid=1 pid=9 uid=0 comm=\"x\" exe=\"/x\"\n\
               type=EXECVE msg=audit(1700000000.000:6): argc=2 a0=\"x\" a1_len=6 a1[1]=\"BBB\"\n";
    let r = run_in(
        &dir,
        &["replay", "-", "--format", "json"],
        Stdin::Bytes(log.as_bytes().to_vec()),
        limit,
    );
    let evs = events_of(&r);
    assert_eq!(evs[0]["process"]["args"][1], "AAABBBCCC", "{}", r.out());
    let gap = evs[1]["process"]["args"][1].as_str().unwrap();
    assert!(
        gap.contains("[missing a1[0]]") && gap.contains("BBB"),
        "{gap}"
    );

    // Names in a Markdown report are escaped (a table cell cannot be broken).
    // The ENRICHED part carries the login name (auditd's format, after 0x1d).
    let ev = open_event(1, 1_700_000_000).replacen(
        " key=\"hostile\"\n",
        " key=\"hostile\"\x1dAUID=\"ev|il<b>`x`\" UID=\"ev|il\"\n",
        1,
    );
    let arch = archive_of(&dir, "md-archive", ev.into_bytes(), limit);
    let md = dir.join("r.md");
    let r = report(&dir, &arch, Some("md"), &md, limit);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("ev\\|il"), "the pipe is escaped: {text}");
    assert!(!text.contains("ev|il"), "no raw pipe in a name: {text}");
}
