//! The filter stage's cost per event with 20 filters, in process, one thread:
//!
//!   cargo bench -p audex --bench filter_stage
//!
//! The filters are what a node might carry: exe and comm globs, path prefixes
//! and globs, rule keys (and no key), actions and outcome, uid and auid
//! ranges, namespace globs, pod labels, a CIDR with ports, keep filters, one
//! with `keep_first_per_process`. Rows: events no filter takes (every filter
//! is asked: the common case, goal < 200 ns), events only the last filter
//! takes, and events the first takes. Best of 7 runs of 200,000 events, 1,000
//! distinct ones over and over: in the pipeline the event was just built, so
//! it is in the cache (200,000 distinct events measured memory, not filters).
use audex_policy::{EventView, Filter, FilterSpec, SelectorSpec, Take};
use audex_proto::v1::{Actor, AuditEvent, File, Kubernetes, Network, Process, Syscall};
use std::time::Instant;

/// As the audex binary does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn drop(name: &str, f: impl FnOnce(&mut SelectorSpec)) -> FilterSpec {
    let mut s = SelectorSpec::default();
    f(&mut s);
    FilterSpec {
        name: name.into(),
        drop: Some(s),
        ..Default::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Twenty filters; the last takes events of `/opt/last/tool`.
fn filters() -> Vec<Filter> {
    let mut specs = vec![
        drop("cron", |s| {
            s.exe = strings(&["/usr/sbin/cron", "/usr/bin/crontab"])
        }),
        drop("shells-reading-profile", |s| {
            s.exe = strings(&["bash", "dash", "zsh"]);
            s.paths = strings(&["/etc/profile.d", "/home/*/.bashrc"]);
        }),
        drop("python-caches", |s| {
            s.paths = strings(&["/usr/lib/python3*/**/__pycache__/*.pyc"])
        }),
        drop("unkeyed", |s| {
            s.no_key = true;
            s.actions = strings(&["opened"]);
        }),
        drop("node-exporter", |s| s.comm = strings(&["node_export*"])),
        drop("system-uids", |s| {
            s.uids = vec![(100, 999)];
            s.outcome = Some("success".into());
        }),
        drop("kube-system", |s| s.k8s_namespaces = strings(&["kube-*"])),
        drop("canary-pods", |s| {
            s.pod_labels = vec![[("track".to_string(), "canary".to_string())].into()]
        }),
        drop("dns", |s| {
            s.addresses = strings(&["10.96.0.0/12", "fd00::/8"]);
            s.ports = vec![(53, 53)];
        }),
        drop("logrotate", |s| s.exe = strings(&["/usr/sbin/logrotate"])),
        drop("package-db", |s| {
            s.paths = strings(&["/var/lib/dpkg", "/var/cache/apt"])
        }),
        drop("failed-stats", |s| {
            s.syscalls = strings(&["stat", "newfstatat", "statx"]);
            s.outcome = Some("failure".into());
        }),
        drop("daemon-auids", |s| s.auids = vec![(1, 99)]),
        drop("tmp-churn", |s| {
            s.paths = strings(&["/tmp/*.tmp"]);
            s.categories = strings(&["file"]);
        }),
        drop("backup-agent", |s| s.exe = strings(&["/opt/backup/**"])),
        drop("monitoring-keys", |s| {
            s.keys = strings(&["monitoring", "heartbeat"])
        }),
        drop("containers-sshd", |s| {
            s.container = Some(true);
            s.comm = strings(&["sshd"]);
        }),
        drop("editor-swap", |s| s.paths = strings(&["*.swp"])),
        drop("systemd", |s| s.exe = strings(&["/usr/lib/systemd/*"])),
        drop("last", |s| s.exe = strings(&["/opt/last/tool"])),
    ];
    specs[19].keep_first_per_process = true;
    assert_eq!(specs.len(), 20);
    specs.iter().map(|s| Filter::compile(s).unwrap()).collect()
}

fn event(i: u32, exe: &str) -> AuditEvent {
    AuditEvent {
        category: "file".into(),
        action: "opened".into(),
        outcome: "success".into(),
        keys: vec!["web-content".into()],
        syscall: Some(Syscall {
            name: "openat".into(),
            ..Default::default()
        }),
        actor: Some(Actor {
            auid: Some(1000 + i % 50),
            uid: Some(1000 + i % 50),
            ..Default::default()
        }),
        process: Some(Process {
            pid: Some(2000 + i % 500),
            exe: exe.into(),
            comm: exe.rsplit('/').next().unwrap().into(),
            ..Default::default()
        }),
        files: vec![
            File {
                path: "/srv/www/site".into(),
                ..Default::default()
            },
            File {
                path: format!("/srv/www/site/page-{i}.html"),
                ..Default::default()
            },
        ],
        network: Some(Network {
            family: "inet".into(),
            address: "192.168.1.20".into(),
            port: Some(443),
            path: String::new(),
        }),
        k8s: Some(Kubernetes {
            namespace: "payments".into(),
            labels: [("app".to_string(), "api".to_string())].into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Nanoseconds per event through the filters in order, first that suppresses
/// wins (as the pipeline does); how many were suppressed.
fn run(filters: &mut [Filter], events: &[AuditEvent], n: usize) -> (f64, usize) {
    let t = Instant::now();
    let mut suppressed = 0;
    for e in events.iter().cycle().take(n) {
        // One view of the event for all the filters, as the pipeline does.
        let view = EventView::new(std::hint::black_box(e));
        let mut due = Vec::new();
        if filters
            .iter_mut()
            .any(|f| f.take(&view, 0, &mut due) == Take::Suppress)
        {
            suppressed += 1;
        }
    }
    (t.elapsed().as_nanos() as f64 / n as f64, suppressed)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    const N: u32 = 200_000;
    let rows = [
        ("no filter takes it (all 20 asked)", "/usr/bin/nginx", 0),
        (
            "the last filter takes it (keep_first_per_process)",
            "/opt/last/tool",
            N as usize - 500,
        ),
        ("the first filter takes it", "/usr/sbin/cron", N as usize),
    ];
    println!("| events | ns/event, 20 filters | suppressed |");
    println!("|---|---:|---:|");
    for (what, exe, expect) in rows {
        let events: Vec<AuditEvent> = (0..1000).map(|i| event(i, exe)).collect();
        let mut best = f64::MAX;
        for _ in 0..7 {
            let mut fs = filters();
            let (ns, n) = run(&mut fs, &events, N as usize);
            assert_eq!(n, expect, "{what}");
            best = best.min(ns);
        }
        println!("| {what} | {best:.0} | {expect} of {N} |");
    }
}
