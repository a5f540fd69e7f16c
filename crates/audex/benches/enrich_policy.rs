//! Enrichment and redaction cost per event, and the process cache in a fork/exec
//! storm.
//!
//!   cargo bench -p audex --bench enrich_policy
//!   sudo cargo bench -p audex --bench enrich_policy   (adds the real-kernel storm)
//!
//! In process, one thread, nanoseconds per event:
//! - enrichment on cache hits: the Enricher over events of 1,000 processes in
//!   Kubernetes pods (a fake host /proc with their status and cgroup files, a pod
//!   index of 100 pods) after their first sight;
//! - enrichment on misses: the first sight of each (reads /proc, parses the cgroup);
//! - redaction: route + the tenant's copy with a five-tenant policy (namespace
//!   globs, pod labels, uid ranges, paths, keys; drop, keyed hash, built-in
//!   secret masks, pid same-owner);
//! - both together, on hits (the goal: under 1 µs).
//!
//! Then the cache hit rate of a synthetic fork/exec storm (shells exec'ing
//! children that each touch files), and, as root, of a real one: `audex run`
//! over a watched directory where 20 shells each exec 50 watched binaries, read
//! from its /metrics.
use audex_enrich::kubernetes::{PodIndex, PodMeta};
use audex_enrich::{EnrichOptions, Enricher};
use audex_policy::{HashKey, MaskSpec, Matcher, PidPolicy, Policy, RedactSpec, TenantSpec};
use audex_proto::v1::{Actor, AuditEvent, File, Process};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// As the audex binary does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One event in `SECRET_EVERY` carries a password on its command line.
static SECRET_EVERY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

fn event(pid: u32, ppid: u32, i: usize, action: &str) -> AuditEvent {
    let secret = i.is_multiple_of(SECRET_EVERY.load(std::sync::atomic::Ordering::Relaxed));
    let pw = if secret {
        "--password=hunter2"
    } else {
        "--database=orders"
    };
    AuditEvent {
        id: format!("n:1800000000.{i}:{i}"),
        node: "node-1".into(),
        category: "file".into(),
        action: action.into(),
        outcome: "success".into(),
        keys: vec![["pci", "identity", "exec", "web"][i % 4].into()],
        time: Some(audex_proto::Timestamp {
            seconds: 1_800_000_000 + (i / 1000) as i64,
            nanos: 0,
        }),
        actor: Some(Actor {
            uid: Some(1000 + (i % 3000) as u32),
            auid: Some(1000 + (i % 3000) as u32),
            uid_name: "alice".into(),
            auid_name: "alice".into(),
            ..Default::default()
        }),
        process: Some(Process {
            pid: Some(pid),
            ppid: Some(ppid),
            exe: "/usr/bin/mysql".into(),
            comm: "mysql".into(),
            args: vec!["mysql".into(), "-u".into(), "app".into(), pw.into()],
            command_line: format!("mysql -u app {pw}"),
            title: format!("mysql -u app {pw}"),
            ..Default::default()
        }),
        files: vec![File {
            path: format!("/srv/{}/data-{i}.db", ["payments", "web", "tmp"][i % 3]),
            name: format!("data-{i}.db"),
            nametype: "NORMAL".into(),
            mode: "0100640".into(),
            ouid: Some(1000),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn uid_of(n: u32) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", n, n)
}

/// A fake host root: /proc/<pid> of `procs` processes (parents 100000+), each
/// in a pod's containerd cgroup; and the index of those pods.
fn fake_host(procs: u32) -> (PathBuf, Arc<PodIndex>) {
    let root = std::env::temp_dir().join(format!("audex-bench-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let index = Arc::new(PodIndex::new(Duration::from_secs(300)));
    for pod in 0..100u32 {
        let uid = uid_of(pod);
        index.apply(PodMeta {
            uid: uid.clone(),
            namespace: format!("ns-{}", pod % 10),
            name: format!("pod-{pod}"),
            node: "node-1".into(),
            labels: [("app".to_string(), format!("app-{}", pod % 7))]
                .into_iter()
                .collect(),
            containers: vec![(format!("{:064x}", pod), "main".into())],
        });
    }
    for pid in (1..=procs).chain(100_001..=100_000 + procs) {
        let pod = pid % 100;
        let d = root.join(format!("proc/{pid}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("cgroup"),
            format!(
                "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{:064x}.scope\n",
                uid_of(pod).replace('-', "_"),
                pod
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("status"),
            format!(
                "Name:\tmysql\nPPid:\t{}\nUid:\t1000\t1000\t1000\t1000\n",
                100_000 + pid % procs + 1
            ),
        )
        .unwrap();
        std::fs::write(d.join("cmdline"), "mysql\0-u\0app\0").unwrap();
    }
    (root, index)
}

fn policy() -> Policy {
    let key = HashKey::new(b"bench hash key, thirty-two bytes");
    let secrets = |f: &str| MaskSpec {
        field: f.into(),
        builtin: Some("secrets".into()),
        ..Default::default()
    };
    let t = |name: &str, m: Matcher, r: RedactSpec| TenantSpec {
        name: name.into(),
        matcher: m,
        redact: r,
    };
    Policy::new(&[
        t(
            "payments",
            Matcher {
                k8s_namespaces: vec!["ns-1*".into()],
                keys: vec!["pci".into()],
                ..Default::default()
            },
            RedactSpec {
                mask: vec![secrets("process.command_line")],
                hash: vec!["actor.uid_name".into(), "actor.auid_name".into()],
                hash_key: Some(key.clone()),
                pid: PidPolicy::SameOwner,
                ..Default::default()
            },
        ),
        t(
            "web",
            Matcher {
                pod_labels: vec![[("app".to_string(), "app-3".to_string())]
                    .into_iter()
                    .collect()],
                paths: vec!["/srv/web/".into()],
                ..Default::default()
            },
            RedactSpec {
                drop: vec!["process.args".into()],
                pid: PidPolicy::Never,
                ..Default::default()
            },
        ),
        t(
            "team-a",
            Matcher {
                uids: vec![(1000, 1999)],
                ..Default::default()
            },
            RedactSpec {
                mask: vec![secrets("process.args")],
                ..Default::default()
            },
        ),
        t(
            "identity",
            Matcher {
                keys: vec!["identity".into()],
                ..Default::default()
            },
            RedactSpec {
                hash: vec!["files[].path".into()],
                hash_key: Some(key),
                ..Default::default()
            },
        ),
        t("default", Matcher::default(), RedactSpec::default()),
    ])
    .unwrap()
}

fn best_of(n: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..n).map(|_| f()).fold(f64::MAX, f64::min)
}

fn ns_per(n: usize, d: Duration) -> f64 {
    d.as_nanos() as f64 / n as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let procs = 1000u32;
    let (root, index) = fake_host(procs);
    println!("| stage | ns/event, a secret in every argv | ns/event, a secret in 1 of 20 |");
    println!("|---|---:|---:|");
    let rows = [1usize, 20].map(|every| {
        SECRET_EVERY.store(every, std::sync::atomic::Ordering::Relaxed);
        measure(&root, &index, procs)
    });
    let names = [
        "enrichment, cache miss (reads /proc status, cmdline, cgroup; parent too)",
        "enrichment, cache hit (parent, container, pod, labels)",
        "redaction, five tenants (route + the tenant's redacted copy)",
        "enrichment + redaction on hits",
    ];
    for (i, n) in names.iter().enumerate() {
        println!("| {n} | {:.0} | {:.0} |", rows[0].0[i], rows[1].0[i]);
    }
    println!("{}", rows[0].1);
    // A synthetic fork/exec storm: 200 shells (exec'd first), each execs 50
    // children, each child touches 3 files.
    let mut e2 = Enricher::new(
        EnrichOptions {
            live: false,
            peer_processes: Vec::new(),
            ..Default::default()
        },
        None,
    );
    let mut i = 0;
    let mut pid = 10_000u32;
    for shell in 0..200u32 {
        let shell_pid = 5000 + shell;
        let mut ev = event(shell_pid, 1, i, "executed");
        e2.enrich(&mut ev);
        for _ in 0..50 {
            pid += 1;
            let mut ex = event(pid, shell_pid, i, "executed");
            e2.enrich(&mut ex);
            for _ in 0..3 {
                i += 1;
                let mut f = event(pid, shell_pid, i, "opened");
                e2.enrich(&mut f);
            }
        }
    }
    let (h, m) = e2.cache_counts();
    println!(
        "synthetic fork/exec storm (200 shells x 50 execs x 3 files): cache hit rate {:.1}% ({h} hits, {m} misses)",
        100.0 * h as f64 / (h + m).max(1) as f64
    );
    let _ = std::fs::remove_dir_all(&root);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0
        && std::env::var("AUDEX_BENCH_KERNEL").map_or(true, |v| v != "0")
    {
        real_storm();
    } else {
        println!("(not root: the real-kernel storm is skipped)");
    }
}

/// `audex run` over a watched directory while 20 shells each exec a watched
/// binary 50 times; the process cache counters from its /metrics.
fn real_storm() {
    let lock = std::fs::File::options()
        .create(true)
        .append(true)
        .open("/tmp/audex-kernel-tests.lock")
        .unwrap();
    // SAFETY: flock on our own descriptor.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    let dir = std::env::temp_dir().join(format!("audex-bench-storm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("w")).unwrap();
    std::fs::copy("/bin/true", dir.join("w/tool")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules:\n  watch: [{{path: {d}/w, perm: rwxa, key: storm}}]\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/events.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\nmetrics: {{listen: \"127.0.0.1:{port}\"}}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["run", "--log-format", "text", "--config"])
        .arg(&cfg)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let metrics = || -> String {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return String::new();
        };
        let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let t = Instant::now();
    while !metrics().contains("audex_process_cache_hits_total") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "audex run did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let script = format!(
        "for s in $(seq 20); do (for i in $(seq 50); do {d}/w/tool; echo x > {d}/w/f-$s-$i; done) & done; wait",
        d = dir.display()
    );
    let t = Instant::now();
    std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    let storm = t.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    let text = metrics();
    let get = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or(0)
    };
    let (h, m) = (
        get("audex_process_cache_hits_total"),
        get("audex_process_cache_misses_total"),
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let events = std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .count();
    let with_parent = std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"parent\""))
        .count();
    println!(
        "real fork/exec storm ({:.1} s, 1,000 execs + 1,000 writes by 20 shells): {events} events, {with_parent} with a parent; cache hit rate {:.1}% ({h} hits, {m} misses)",
        storm.as_secs_f64(),
        100.0 * h as f64 / (h + m).max(1) as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// ([miss, hit, redact, both] ns/event, cache counts line) for the events of
/// `procs` processes in the fake host's pods.
fn measure(root: &Path, index: &Arc<PodIndex>, procs: u32) -> ([f64; 4], String) {
    let mut enricher = Enricher::new(
        EnrichOptions {
            host_root: root.to_path_buf(),
            live: true,
            peer_processes: Vec::new(),
            ..Default::default()
        },
        Some(index.clone()),
    );
    let events: Vec<AuditEvent> = (0..200_000usize)
        .map(|i| {
            let pid = (i as u32 % procs) + 1;
            event(pid, 100_000 + pid % procs + 1, i, "opened")
        })
        .collect();
    // Misses: the first sight of each process (and its parent).
    let t = Instant::now();
    for e in &events[..procs as usize] {
        let mut e = e.clone();
        enricher.enrich(&mut e);
    }
    let miss = ns_per(procs as usize, t.elapsed());
    let (h0, m0) = enricher.cache_counts();
    // Each measured loop copies its event first, as the pipeline's own event
    // would be fresh: the copy is timed alone and taken off. Events are dropped
    // as they go (a pipeline keeps none), so memory stays flat.
    let clone_cost = best_of(3, || {
        let t = Instant::now();
        for e in &events {
            std::hint::black_box(e.clone());
        }
        ns_per(events.len(), t.elapsed())
    });
    let hit = best_of(3, || {
        let t = Instant::now();
        for e in &events {
            let mut c = e.clone();
            enricher.enrich(&mut c);
            std::hint::black_box(&c);
        }
        ns_per(events.len(), t.elapsed())
    }) - clone_cost;
    let (h1, m1) = enricher.cache_counts();
    let mut sample = events[..20_000].to_vec();
    for e in &mut sample {
        enricher.enrich(e);
    }
    assert!(
        sample[5].k8s.as_ref().is_some_and(|k| !k.pod.is_empty()),
        "enriched"
    );
    let p = policy();
    let enriched_clone = best_of(3, || {
        let t = Instant::now();
        for e in &sample {
            std::hint::black_box(e.clone());
        }
        ns_per(sample.len(), t.elapsed())
    });
    let mut kept = 0usize;
    let redact = best_of(3, || {
        let t = Instant::now();
        for e in &sample {
            if let Some((_, c)) = p.process_owned(e.clone()) {
                kept += c.redacted.len();
            }
        }
        ns_per(sample.len(), t.elapsed())
    }) - enriched_clone;
    let both = best_of(3, || {
        let t = Instant::now();
        for e in &events {
            let mut c = e.clone();
            enricher.enrich(&mut c);
            if let Some((_, c)) = p.process_owned(c) {
                kept += c.redacted.len();
            }
        }
        ns_per(events.len(), t.elapsed())
    }) - clone_cost;
    std::hint::black_box(kept);
    (
        [miss, hit, redact, both],
        format!(
            "cache over the hit passes: {} hits, {} misses; over the miss pass: {} hits, {} misses",
            h1 - h0,
            m1 - m0,
            h0,
            m0
        ),
    )
}
