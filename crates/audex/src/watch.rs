//! `audex watch PATH...`: who touches these paths, live, in the terminal.
//!
//! Adds one watch rule per path (a directory covers its subtree), reads the
//! kernel, and prints the events of its own rules (and any lost records) until
//! Ctrl-C or SIGTERM; then removes its rules and puts kernel audit back.
use crate::cli::WatchArgs;
use crate::signals;
use anyhow::{bail, Context, Result};
use audex_correlate::{Config, Correlator};
use audex_enrich::PasswdDb;
use audex_kernel::caps;
use audex_kernel::rules::syntax::{parse_args, Directive, Names};
use audex_kernel::rules::RuleSet;
use audex_kernel::source::{Mode, RawRecord, Read, Source, SourceConfig};
use audex_normalize::{Normalizer, Options};
use audex_proto::v1::{AuditEvent, Lost};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Poll the kernel's `lost` counter this often (AUDIT_GET can stall while the
/// backlog is full, so rarely, and never while it is at its limit).
const STATUS_EVERY: Duration = Duration::from_secs(5);

pub fn run(args: WatchArgs) -> Result<ExitCode> {
    let mut paths = Vec::new();
    for p in &args.paths {
        let abs =
            std::fs::canonicalize(p).with_context(|| format!("cannot watch {}", p.display()))?;
        paths.push(abs);
    }
    if audex_kernel::rules::fields::perm_bits(&args.perm).is_none() {
        bail!("--perm {:?}: use a combination of r, w, x and a", args.perm);
    }
    let mode: Mode = args.mode.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    caps::require(&[(caps::CAP_AUDIT_CONTROL, "add watch rules")])
        .map_err(|e| anyhow::anyhow!(e))?;
    let key = args
        .key
        .clone()
        .unwrap_or_else(|| format!("audex-watch-{}", std::process::id()));

    signals::install();
    let mut src = Source::open(&SourceConfig {
        mode,
        recv_buffer_bytes: args.recv_buffer_bytes,
        backlog_limit: args.backlog_limit,
        rate_limit: args.rate_limit,
        backlog_wait_time: args.backlog_wait_time,
        failure: args.failure,
        ..Default::default()
    })?;
    let mut rules = RuleSet::default();
    let result = (|| -> Result<u64> {
        for p in &paths {
            let ps = p.to_string_lossy();
            let words = [
                "-w",
                ps.as_ref(),
                "-p",
                args.perm.as_str(),
                "-k",
                key.as_str(),
            ];
            let Directive::Rule { rule, .. } =
                parse_args(&words, &Names::default()).map_err(|e| anyhow::anyhow!("{ps}: {e}"))?
            else {
                unreachable!()
            };
            src.control()
                .add_rule(&rule)
                .map_err(|e| anyhow::anyhow!("adding the watch rule for {ps}: {e}"))?;
            rules.track(rule);
        }
        eprintln!(
            "audex: watching {} ({} mode, key {key}); Ctrl-C to stop",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            match src.mode {
                Mode::Multicast => "multicast",
                _ => "unicast",
            }
        );
        read_loop(&mut src, &key, args.json)
    })();
    // Always: remove our rules, then restore the kernel.
    for e in rules.remove_all(src.control()) {
        eprintln!("audex: removing a watch rule: {e}");
    }
    for e in src.close() {
        eprintln!("audex: {e}");
    }
    let printed = result?;
    eprintln!("audex: stopped; {printed} events shown; watch rules removed");
    Ok(ExitCode::SUCCESS)
}

/// What the reader thread hands over.
enum Batch {
    Records(Vec<RawRecord>),
    Overflow,
    Failed(String),
}

/// Batches in flight between the reader thread and the pipeline. When the
/// pipeline is slower than the kernel, the reader blocks, the socket buffer
/// fills, and the kernel reports ENOBUFS: loss is counted, memory stays bounded.
const CHANNEL_BATCHES: usize = 4096;

fn read_loop(src: &mut Source, key: &str, json: bool) -> Result<u64> {
    let start = Instant::now();
    let now_ms = || start.elapsed().as_millis() as u64;
    let mut corr = Correlator::new(Config::default());
    let host = hostname();
    let norm = Normalizer::new(
        PasswdDb::new("/"),
        Options {
            default_node: host,
            include_records: false,
        },
    );
    let stdout = std::io::stdout();
    let mut out = std::io::LineWriter::new(stdout.lock());
    let mut printed = 0u64;
    let mut last_status = Instant::now();
    let mut kernel_lost = src.status().map(|s| s.lost).unwrap_or(0);
    let mut backlog_high = false;
    let mut batches_since_poll = 0u64;
    let mut parse_errors = 0u64;

    let mut reader = src.take_reader().expect("the source's reader");
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::sync_channel::<Batch>(CHANNEL_BATCHES);
    let reader_done = done.clone();
    let reader_thread = std::thread::spawn(move || {
        let mut enobufs = 0u64;
        while !reader_done.load(Ordering::SeqCst) {
            let mut raw = Vec::new();
            let batch = match reader.read(&mut raw) {
                Ok(Read::Records) => Batch::Records(raw),
                Ok(Read::Idle) => continue,
                Ok(Read::Overflow) => {
                    enobufs += 1;
                    Batch::Overflow
                }
                Err(e) => Batch::Failed(e.to_string()),
            };
            let failed = matches!(batch, Batch::Failed(_));
            if tx.send(batch).is_err() || failed {
                break;
            }
        }
        enobufs
    });

    // After a stop request, keep reading: records already queued and a pending
    // ENOBUFS must not be abandoned. A marker message sent through the kernel gets
    // the newest serial; once it is back, every serial lost before it shows as a
    // gap, so loss at the end is counted too (resent: a congested socket may drop it).
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let marker = format!(
        "op=audex-end-marker pid={} nonce={nonce}",
        std::process::id()
    );
    let mut draining: Option<Instant> = None;
    let mut marker_seen = false;
    let mut markers_sent = 0u32;
    let mut last_marker = Instant::now();
    let mut failure: Option<String> = None;
    loop {
        if draining.is_none() && signals::stop_requested() {
            draining = Some(Instant::now());
        }
        if draining.is_some()
            && !marker_seen
            && markers_sent < 4
            && (markers_sent == 0 || last_marker.elapsed() >= Duration::from_millis(500))
        {
            markers_sent += 1;
            last_marker = Instant::now();
            if let Err(e) = src.control().send_user_message(&marker) {
                eprintln!("audex: could not send the end marker ({e}); loss after the last record may go uncounted");
                markers_sent = 4;
            }
        }
        let batch = rx.recv_timeout(Duration::from_millis(100));
        corr.set_now(now_ms());
        match batch {
            Ok(Batch::Records(raw)) => {
                batches_since_poll += 1;
                for rec in raw {
                    if rec.rtype == 1121
                        && rec
                            .payload
                            .windows(marker.len())
                            .any(|w| w == marker.as_bytes())
                    {
                        marker_seen = true;
                    }
                    match audex_parse::parse_netlink(rec.rtype, &rec.payload) {
                        Ok(p) => corr.push(p),
                        Err(e) => {
                            parse_errors += 1;
                            if parse_errors <= 10 {
                                eprintln!("audex: unparsable record of type {}: {e}", rec.rtype);
                            }
                        }
                    }
                }
            }
            Ok(Batch::Overflow) => printed += emit(&mut out, &lost_event("enobufs", 0), json)?,
            Ok(Batch::Failed(e)) => {
                failure = Some(e);
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(since) = draining {
                    let gave_up =
                        markers_sent >= 4 && last_marker.elapsed() > Duration::from_millis(500);
                    if marker_seen || gave_up || since.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        corr.expire_wall(now_ms());
        while let Some(o) = corr.pop() {
            let ev = norm.normalize(&o);
            if ev.lost.is_some() || ev.keys.iter().any(|k| k == key) {
                printed += emit(&mut out, &ev, json)?;
            }
        }
        // AUDIT_GET sent while the kernel backlog is full can park us among the
        // audited processes for backlog_wait_time: skip a poll while the last one
        // saw the backlog over half full, or while our own queue is backed up.
        let busy = backlog_high || batches_since_poll > 10_000;
        if draining.is_none() && last_status.elapsed() >= STATUS_EVERY && !busy {
            last_status = Instant::now();
            batches_since_poll = 0;
            if let Ok(st) = src.status() {
                backlog_high = st.backlog_limit > 0 && st.backlog >= st.backlog_limit / 2;
                if st.lost > kernel_lost {
                    printed += emit(
                        &mut out,
                        &lost_event("kernel", (st.lost - kernel_lost) as u64),
                        json,
                    )?;
                }
                kernel_lost = kernel_lost.max(st.lost);
            }
        } else if busy && last_status.elapsed() >= STATUS_EVERY * 6 {
            // Try again later, once things calmed down.
            backlog_high = false;
            batches_since_poll = 0;
        }
    }
    done.store(true, Ordering::SeqCst);
    // Take what the reader still hands over, then let it finish.
    while let Ok(b) = rx.recv_timeout(Duration::from_millis(300)) {
        if let Batch::Records(raw) = b {
            for rec in raw {
                if let Ok(p) = audex_parse::parse_netlink(rec.rtype, &rec.payload) {
                    corr.push(p);
                }
            }
        }
    }
    let enobufs = reader_thread.join().unwrap_or(0);
    if !marker_seen {
        eprintln!(
            "audex: the end marker did not come back; loss after the last record is not counted"
        );
    }
    if enobufs > 0 {
        eprintln!("audex: the socket overflowed {enobufs} times; lost records are reported as records-lost events");
    }
    corr.flush();
    while let Some(o) = corr.pop() {
        let ev = norm.normalize(&o);
        if ev.lost.is_some() || ev.keys.iter().any(|k| k == key) {
            printed += emit(&mut out, &ev, json)?;
        }
    }
    if let Some(e) = failure {
        bail!("reading the kernel: {e}");
    }
    Ok(printed)
}

fn lost_event(source: &str, count: u64) -> AuditEvent {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    AuditEvent {
        id: format!("{}.{:03}:lost-{source}", now.as_secs(), now.subsec_millis()),
        time: Some(audex_proto::Timestamp {
            seconds: now.as_secs() as i64,
            nanos: now.subsec_nanos() as i32,
        }),
        category: "audit".into(),
        action: "records-lost".into(),
        outcome: "failure".into(),
        lost: Some(Lost {
            count,
            source: source.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn emit(out: &mut impl Write, ev: &AuditEvent, json: bool) -> Result<u64> {
    let r = if json {
        serde_json::to_writer(&mut *out, ev)
            .map_err(std::io::Error::other)
            .and_then(|_| out.write_all(b"\n"))
    } else {
        writeln!(out, "{}", line(ev))
    };
    match r {
        Ok(()) => Ok(1),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            // The reader went away (`| head`): stop like Ctrl-C would.
            unsafe { libc::raise(libc::SIGTERM) };
            Ok(0)
        }
        Err(e) => Err(e.into()),
    }
}

/// One readable line: time, action, path(s), outcome, pid, ppid, program, user, login user.
pub fn line(ev: &AuditEvent) -> String {
    let t = ev.time.as_ref().map(|t| {
        let s = t.seconds.rem_euclid(86400);
        format!(
            "{:02}:{:02}:{:02}.{:03}Z",
            s / 3600,
            s % 3600 / 60,
            s % 60,
            t.nanos / 1_000_000
        )
    });
    let mut s = format!("{} {:<18}", t.unwrap_or_default(), ev.action);
    if let Some(l) = &ev.lost {
        s.push_str(&format!(" {} records lost ({})", l.count, l.source));
        return s;
    }
    let paths: Vec<&str> = ev
        .files
        .iter()
        .filter(|f| f.nametype != "PARENT")
        .map(|f| f.path.as_str())
        .collect();
    let paths = if ev.action == "renamed" && paths.len() >= 2 {
        format!("{} -> {}", paths[0], paths[paths.len() - 1])
    } else {
        paths.first().copied().unwrap_or("-").to_string()
    };
    s.push(' ');
    s.push_str(&paths);
    s.push_str(&format!("  {}", ev.outcome));
    if let Some(e) = ev.syscall.as_ref().filter(|c| !c.errno.is_empty()) {
        s.push_str(&format!(" ({})", e.errno));
    }
    if let Some(p) = &ev.process {
        s.push_str(&format!(
            "  pid={} ppid={} {}",
            p.pid.map_or("?".into(), |v| v.to_string()),
            p.ppid.map_or("?".into(), |v| v.to_string()),
            if p.exe.is_empty() { &p.comm } else { &p.exe }
        ));
    }
    if let Some(a) = &ev.actor {
        let who = |name: &str, id: Option<u32>| {
            if name.is_empty() {
                id.map_or("?".into(), |i| i.to_string())
            } else {
                name.to_string()
            }
        };
        s.push_str(&format!("  user={}", who(&a.uid_name, a.uid)));
        if a.auid.is_some() {
            s.push_str(&format!(" login={}", who(&a.auid_name, a.auid)));
        }
    }
    s
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
