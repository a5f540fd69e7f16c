//! `audex run --config` on the real kernel: it installs the configured watch,
//! the workload's events reach both exporters (an independent OTLP receiver and
//! JSON lines) tagged with their tenant, and on SIGTERM it drains, removes its
//! rule and leaves kernel audit as it found it. Settings it cannot carry out are
//! refused before the kernel is touched.
mod common;

use common::http::{get, metric};
use common::receiver::{free_port, Receiver};
use common::workload::{self, Names};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

fn config(dir: &Path, watched: &Path, port: u16, metrics: u16) -> std::path::PathBuf {
    let f = dir.join("audex.yaml");
    std::fs::write(
        &f,
        format!(
            "rules:\n  watch:\n    - {{path: {w}, perm: rwxa, key: audex-run-test}}\nenrich: {{peer_processes: []}}\ntenants:\n  - name: team-a\n    match: {{paths: [\"{w}/\"]}}\n    exporters: [siem, debug]\n  - name: default\n    exporters: [debug]\nexporters:\n  - {{name: siem, type: otlp_grpc, endpoint: \"http://127.0.0.1:{port}\", timeout_ms: 2000}}\n  - {{name: debug, type: jsonl, path: {d}/events.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\nmetrics: {{listen: \"127.0.0.1:{metrics}\"}}\n",
            w = watched.display(),
            d = dir.display()
        ),
    )
    .unwrap();
    f
}

#[test]
fn run_delivers_the_workload_and_cleans_up() {
    let Some((kt, watched)) = kernel_and_watched_dir() else {
        return;
    };
    let port = free_port();
    let rcv = Receiver::start(&kt.dir, port);
    let mport = free_port();
    let cfg = config(&kt.dir, &watched, port, mport);
    let cfg_s = cfg.to_str().unwrap();
    let (w, rx, line) = common::watch::start_watch(&["run", "--config", cfg_s]);
    assert!(line.contains("1 rules"), "{line}");
    let installed = kt.rules_text();
    assert!(
        installed.contains(&*watched.to_string_lossy()) && installed.contains("audex-run-test"),
        "the configured watch is in the kernel: {installed}"
    );
    let actions = common::watch::workload_actions(&watched);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // Every thread holds at most what it still needs: CAP_AUDIT_CONTROL to remove
    // its rule at exit (and CAP_AUDIT_READ in multicast mode), CAP_DAC_READ_SEARCH
    // to put its watch back wherever it is; no other (with no peer_processes, not
    // CAP_SYS_PTRACE either).
    let threads = thread_caps(w.id());
    assert!(threads.len() > 2, "reader and exporter threads are running");
    let allowed = AUDIT_CONTROL | AUDIT_READ | DAC_READ_SEARCH;
    for (eff, prm, bnd) in threads {
        assert_eq!(eff & !allowed, 0, "CapEff {eff:#x}");
        assert_eq!(prm & !allowed, 0, "CapPrm {prm:#x}");
        assert_eq!(bnd & !allowed, 0, "CapBnd {bnd:#x}");
        assert_ne!(eff & AUDIT_CONTROL, 0);
        assert_ne!(eff & DAC_READ_SEARCH, 0, "a watch to defend");
    }

    // /metrics counts what went through; /readyz and /healthz say it is up.
    assert!(get(mport, "/readyz").0.contains("200"));
    assert!(get(mport, "/healthz").0.contains("200"));
    assert!(get(mport, "/nope").0.contains("404"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let page = loop {
        let page = get(mport, "/metrics").1;
        if metric(&page, "audex_spool_pending_events{exporter=\"siem\"}") == 0.0
            || std::time::Instant::now() > deadline
        {
            break page;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        metric(&page, "audex_records_received_total{type=\"SYSCALL\"}") > 0.0,
        "{page}"
    );
    let emitted: f64 = page
        .lines()
        .filter(|l| l.starts_with("audex_events_emitted_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(emitted >= actions.len() as f64, "{page}");
    assert_eq!(
        metric(&page, "audex_exported_total{exporter=\"siem\"}") as usize,
        rcv.ids().len(),
        "exported as the receiver counts it: {page}"
    );
    assert!(
        metric(
            &page,
            "audex_export_latency_seconds_count{exporter=\"siem\"}"
        ) > 0.0
    );
    assert!(
        page.contains("# TYPE audex_export_latency_seconds histogram")
            && page.contains("audex_export_latency_seconds_bucket{exporter=\"siem\",le=\"0.1\"}"),
        "a real histogram: {page}"
    );
    // One drop family, every stage there (zero here: nothing was dropped).
    for (stage, reason) in [
        ("parse", "malformed"),
        ("correlate", "cap"),
        ("correlate", "evicted"),
        ("route", "unrouted"),
        ("redact", "withheld"),
        ("spool", "full"),
    ] {
        let sample =
            format!("audex_events_dropped_total{{stage=\"{stage}\",reason=\"{reason}\"}} ");
        assert!(page.contains(&sample), "{sample}: {page}");
    }
    // The exposition as Prometheus's own checker reads it.
    assert_eq!(common::http::promtool_check(&page), "", "{page}");

    // SIGHUP with a broken config: refused, the running rule stays.
    // SAFETY: signalling our own child.
    let hup = || unsafe { libc::kill(w.id() as i32, libc::SIGHUP) };
    std::fs::write(
        &cfg,
        "tenants:\n  - name: default\n    exporterz: [debug]\n",
    )
    .unwrap();
    hup();
    wait_for(&rx, "reload refused");
    assert!(has_key(&kt.rules_text(), "audex-run-test"));
    // SIGHUP with a changed watch: the old rule goes, the new one works.
    let watched2 = kt.dir.join("watched2");
    std::fs::create_dir_all(&watched2).unwrap();
    let new_cfg = config(&kt.dir, &watched2, port, mport);
    let text = std::fs::read_to_string(&new_cfg)
        .unwrap()
        .replace("audex-run-test", "audex-run-test2");
    std::fs::write(&cfg, text).unwrap();
    hup();
    wait_for(&rx, "reloaded: 1 rules");
    let now = kt.rules_text();
    assert!(
        has_key(&now, "audex-run-test2") && !has_key(&now, "audex-run-test"),
        "{now}"
    );
    let after = watched2.join("after-reload.txt");
    std::fs::write(&after, b"x").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));

    let (_, status) = common::watch::stop_with(w, libc::SIGTERM);
    assert!(status.success(), "audex run exit: {status:?}");
    assert!(
        !kt.rules_text().contains("audex-run-test"),
        "its rules are removed on exit"
    );

    let events: Vec<Value> = std::fs::read_to_string(kt.dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    workload::check(&events, &actions, Names::Host, "audex run (jsonl)");
    // Events under the watched directory belong to team-a; the receiver got
    // exactly team-a's, each once.
    let team_a: HashSet<String> = events
        .iter()
        .filter(|e| e["tenant"] == "team-a")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!team_a.is_empty(), "some events routed to team-a");
    assert!(
        events.iter().any(|e| e["tenant"] == "team-a"
            && e["keys"][0] == "audex-run-test2"
            && e["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["path"] == after.to_str().unwrap())),
        "the reloaded watch and tenant are in force"
    );
    let got = rcv.ids();
    assert_eq!(got.len(), team_a.len(), "each team-a event once");
    assert!(got
        .iter()
        .all(|(id, t)| t == "team-a" && team_a.contains(id)));
}

#[test]
fn run_refuses_what_it_cannot_do_before_touching_the_kernel() {
    let dir = std::env::temp_dir().join(format!("audex-run-refuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    for (yaml, want) in [
        (
            "rules:\n  packs: [hipaa]\ntenants: [{name: default}]\n".to_string(),
            "no rule pack named `hipaa`",
        ),
        (
            format!("metrics:\n  listen: \"{taken_addr}\"\ntenants: [{{name: default}}]\n"),
            "metrics.listen",
        ),
        ("source: {mode: multicast}\n".into(), "no tenants"),
        (
            "tenants:\n  - name: default\n    redact: {drop: [process.argz]}\n".into(),
            "`process.argz` is not a field of the event contract",
        ),
        (
            "rules:\n  files: [/nonexistent/audex.rules]\ntenants: [{name: default}]\n".into(),
            "/nonexistent/audex.rules",
        ),
        (
            "exporters:\n  - {name: x, type: carrier_pigeon}\n".to_string(),
            "carrier_pigeon",
        ),
    ] {
        let f = dir.join("c.yaml");
        std::fs::write(&f, &yaml).unwrap();
        let out = common::audex()
            .args(["run", "--config"])
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{yaml}: {err}");
        assert!(err.contains(want), "{yaml}: {err}");
        assert!(err.contains("nothing was changed in the kernel"), "{err}");
        // Its own log lines are JSON objects by default.
        for l in err.lines() {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert!(v["ts"].is_f64() && v["msg"].is_string(), "{l}");
            assert_eq!(v["level"], "error", "{l}");
        }
    }
    // ... and text on request.
    let out = common::audex()
        .args(["run", "--log-format", "text", "--config"])
        .arg(dir.join("c.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().all(|l| l.starts_with("audex: ")), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// GET `path` from the metrics listener: status line and body.
/// The kernel for this test, its rules cleared, and an empty directory to watch.
fn kernel_and_watched_dir() -> Option<(common::KernelTest, std::path::PathBuf)> {
    let kt = common::kernel()?;
    kt.clear_rules();
    let watched = kt.dir.join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    Some((kt, watched))
}

/// Waits (15 s at most) for a stderr line of audex containing `what`.
fn wait_for(rx: &std::sync::mpsc::Receiver<String>, what: &str) {
    loop {
        match rx.recv_timeout(std::time::Duration::from_secs(15)) {
            Ok(l) if l.contains(what) => return,
            Ok(l) => eprintln!("audex: {l}"),
            Err(_) => panic!("audex never said {what:?}"),
        }
    }
}

/// Whether `auditctl -l` output has a rule with exactly this key.
fn has_key(rules: &str, key: &str) -> bool {
    rules.lines().any(|l| {
        l.split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0] == "-k" && w[1] == key)
            || l.contains(&format!("key={key}"))
    })
}

/// Capability bits of every thread of `pid` (CapEff, CapPrm, CapBnd).
fn thread_caps(pid: u32) -> Vec<(u64, u64, u64)> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .map(|t| {
            let st = std::fs::read_to_string(t.path().join("status")).unwrap();
            let get = |k: &str| {
                st.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
                    .unwrap()
            };
            (get("CapEff:"), get("CapPrm:"), get("CapBnd:"))
        })
        .collect()
}

const AUDIT_CONTROL: u64 = 1 << 30;
const AUDIT_READ: u64 = 1 << 37;
const DAC_READ_SEARCH: u64 = 1 << 2;

/// The collector as uid 65534 with only CAP_AUDIT_READ (or nothing), multicast.
fn unprivileged(cfg: &Path, with_audit_read: bool) -> std::process::Command {
    let caps = if with_audit_read {
        "-all,+audit_read"
    } else {
        "-all"
    };
    let mut c = std::process::Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        &format!("--inh-caps={caps}"),
        &format!("--ambient-caps={caps}"),
        &format!("--bounding-set={caps}"),
        "--",
        env!("CARGO_BIN_EXE_audex"),
        "run",
        "--config",
    ])
    .arg(cfg);
    c
}

fn auditctl(args: &[&str]) {
    let out = std::process::Command::new("auditctl")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "auditctl {args:?}: {out:?}");
}

#[test]
fn run_as_nobody_with_only_audit_read_receives_events() {
    let Some((kt, watched)) = kernel_and_watched_dir() else {
        return;
    };
    // What the host (auditd, or an admin) would have done: audit on, a watch.
    let open = kt.dir.join("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    auditctl(&["-e", "1"]);
    auditctl(&[
        "-w",
        watched.to_str().unwrap(),
        "-p",
        "wa",
        "-k",
        "audex-nobody",
    ]);
    let cfg = kt.dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "source: {{mode: multicast}}\ntenants:\n  - name: default\n    exporters: [debug]\nexporters:\n  - {{name: debug, type: jsonl, path: {o}/events.jsonl}}\nspool: {{dir: {o}/spool, max_bytes: 16777216}}\n",
            o = open.display()
        ),
    )
    .unwrap();

    // Without the capability: a clear refusal naming it.
    let out = unprivileged(&cfg, false).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("CAP_AUDIT_READ"), "{err}");

    let (w, _rx, line) = common::watch::start_command(unprivileged(&cfg, true));
    assert!(line.contains("multicast mode"), "{line}");
    for (eff, prm, _) in thread_caps(w.id()) {
        assert_eq!((eff, prm), (AUDIT_READ, AUDIT_READ), "only CAP_AUDIT_READ");
    }
    let target = watched.join("by-root.txt");
    std::fs::write(&target, b"hello").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    for (eff, prm, _) in thread_caps(w.id()) {
        assert_eq!((eff, prm), (AUDIT_READ, AUDIT_READ), "every thread");
    }
    let (_, status) = common::watch::stop_with(w, libc::SIGTERM);
    assert!(status.success(), "{status:?}");
    let events: Vec<Value> = std::fs::read_to_string(open.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let e = events
        .iter()
        .find(|e| {
            e["keys"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "audex-nobody"))
                && e["files"]
                    .as_array()
                    .is_some_and(|fs| fs.iter().any(|f| f["path"] == target.to_str().unwrap()))
        })
        .unwrap_or_else(|| panic!("the write reached the unprivileged collector: {events:?}"));
    assert_eq!(e["action"], "created");
    assert_eq!(e["process"]["pid"], std::process::id());
}

/// kill -9 while the SIEM is down loses nothing: the events are in the spool, and
/// the next `audex run` delivers them. (A killed daemon cannot remove its rules:
/// the operator's restart finds them; here the test clears them, as the guard would.)
#[test]
fn kill_9_while_the_siem_is_down_loses_nothing() {
    let Some((kt, watched)) = kernel_and_watched_dir() else {
        return;
    };
    let port = free_port(); // nothing listens yet
    let cfg = kt.dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules:\n  watch:\n    - {{path: {w}, perm: wa, key: audex-kill9}}\ntenants:\n  - name: default\n    exporters: [siem]\nexporters:\n  - {{name: siem, type: otlp_grpc, endpoint: \"http://127.0.0.1:{port}\", timeout_ms: 1000}}\nspool: {{dir: {d}/spool, max_bytes: 16777216}}\n",
            w = watched.display(),
            d = kt.dir.display()
        ),
    )
    .unwrap();
    let cfg_s = cfg.to_str().unwrap();
    let (w, _rx, _) = common::watch::start_watch(&["run", "--config", cfg_s]);
    let files: Vec<String> = (0..20)
        .map(|i| {
            let p = watched.join(format!("f{i}.txt"));
            std::fs::write(&p, b"x").unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect();
    // Past the spool's 1 s sync interval, then no chance to clean up.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // SAFETY: killing our own child.
    unsafe { libc::kill(w.id() as i32, libc::SIGKILL) };
    drop(w);
    kt.clear_rules();

    let rcv = Receiver::start(&kt.dir, port);
    let (w, _rx, _) = common::watch::start_watch(&["run", "--config", cfg_s]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let missing = loop {
        let got: std::collections::HashSet<String> = rcv.values("file.path").into_iter().collect();
        let missing: Vec<&String> = files.iter().filter(|f| !got.contains(*f)).collect();
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break missing.len();
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let (_, status) = common::watch::stop_with(w, libc::SIGTERM);
    assert!(status.success());
    assert_eq!(missing, 0, "every write before the kill reached the SIEM");
}

/// SIGHUP while files are being written: the exporters are replaced three times
/// (a changed exporter setting each time) and every write still arrives.
#[test]
fn reloads_under_load_lose_nothing() {
    let Some((kt, watched)) = kernel_and_watched_dir() else {
        return;
    };
    let cfg = kt.dir.join("audex.yaml");
    let write_cfg = |n: u32| {
        std::fs::write(
            &cfg,
            format!(
                "rules:\n  watch:\n    - {{path: {w}, perm: wa, key: audex-reload}}\ntenants:\n  - name: default\n    exporters: [debug]\nexporters:\n  - {{name: debug, type: jsonl, path: {d}/events.jsonl, timeout_ms: {t}}}\nspool: {{dir: {d}/spool, max_bytes: 16777216}}\n",
                w = watched.display(),
                d = kt.dir.display(),
                t = 1000 + n
            ),
        )
        .unwrap()
    };
    write_cfg(0);
    let (w, rx, _) = common::watch::start_watch(&["run", "--config", cfg.to_str().unwrap()]);
    let writer = {
        let watched = watched.clone();
        std::thread::spawn(move || {
            (0..300)
                .map(|i| {
                    let p = watched.join(format!("f{i}.txt"));
                    std::fs::write(&p, b"x").unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    p.to_str().unwrap().to_string()
                })
                .collect::<Vec<_>>()
        })
    };
    for n in 1..=3 {
        std::thread::sleep(std::time::Duration::from_millis(300));
        write_cfg(n);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(w.id() as i32, libc::SIGHUP) };
        wait_for(&rx, "reloaded");
    }
    let files = writer.join().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (_, status) = common::watch::stop_with(w, libc::SIGTERM);
    assert!(status.success());
    let text = std::fs::read_to_string(kt.dir.join("events.jsonl")).unwrap();
    let created: std::collections::HashSet<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "created")
        .flat_map(|e| {
            e["files"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["nametype"] == "CREATE")
                .map(|f| f["path"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let missing: Vec<&String> = files.iter().filter(|f| !created.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "{} of 300 writes missing: {missing:?}",
        missing.len()
    );
}
