//! `audex watch --json` on the real kernel: the workload's actions (known pids)
//! come back as events with the right action, paths, outcome, errno, ids and
//! names; Ctrl-C removes the watch rules and restores kernel audit.
mod common;
use common::watch::{start_watch, stop};
use common::workload::{self, Names};
use std::path::Path;
use std::process::Command;

#[test]
fn watch_sees_the_workload_and_cleans_up() {
    let Some(k) = common::kernel() else { return };
    let dir = k.dir.join("watched");
    std::fs::create_dir_all(&dir).unwrap();
    let key = format!("audex-kt-{}", std::process::id());
    let (child, _err, _) = start_watch(&["watch", dir.to_str().unwrap(), "--json", "--key", &key]);
    assert!(k.rules_text().contains(&key), "the watch rule is installed");
    let (events, actions) = common::watch::run_workload(child, &dir);
    workload::check(&events, &actions, Names::Host, "audex watch");
    for e in &events {
        assert!(
            e["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k2| k2 == key.as_str()),
            "only our rule's events: {e}"
        );
        assert!(
            !e["node"].as_str().unwrap_or("").is_empty(),
            "live events carry the host name"
        );
    }
    assert!(
        !k.rules_text().contains(&key),
        "watch rules removed on SIGINT"
    );
}

#[test]
fn watch_refuses_missing_path_and_missing_privilege() {
    let out = common::audex()
        .args(["watch", "/nonexistent/audex-path"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("cannot watch /nonexistent/audex-path") && e.contains("No such file"),
        "{e}"
    );
    // Without privilege: as nobody, with no capabilities.
    if unsafe { libc::geteuid() } == 0 && Path::new("/usr/bin/setpriv").exists() {
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ])
            .arg(env!("CARGO_BIN_EXE_audex"))
            .args(["watch", "/tmp"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("missing capability CAP_AUDIT_CONTROL"), "{e}");
    }
}

fn status_field(name: &str) -> String {
    let out = Command::new("auditctl").arg("-s").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name} "))
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        })
        .unwrap_or_default()
}

#[test]
fn kernel_settings_apply_while_watching_and_are_restored() {
    let Some(k) = common::kernel() else { return };
    let snapshot = || -> Vec<String> {
        [
            "backlog_limit",
            "rate_limit",
            "backlog_wait_time",
            "enabled",
            "pid",
        ]
        .iter()
        .map(|f| status_field(f))
        .collect()
    };
    let before = snapshot();
    let (child, _err, _) = start_watch(&[
        "watch",
        k.dir.to_str().unwrap(),
        "--backlog-limit",
        "4321",
        "--rate-limit",
        "5000",
        "--backlog-wait-time",
        "12345",
    ]);
    assert_eq!(status_field("backlog_limit"), "4321");
    assert_eq!(status_field("rate_limit"), "5000");
    assert_eq!(status_field("backlog_wait_time"), "12345");
    assert_eq!(status_field("enabled"), "1");
    assert_eq!(
        status_field("pid"),
        child.id().to_string(),
        "unicast: audex is the daemon"
    );
    let (_, status) = stop(child);
    assert!(status.success());
    let after = snapshot();
    assert_eq!(after, before, "kernel audit settings restored");
}
