//! Rules that defend themselves, on the real kernel: while `audex run` holds a
//! watch, `auditctl -D` from a test child removes every rule; within a few
//! seconds audex's watch is back (another owner's rule is not), a
//! `rules-restored` event names the child's pid and exe, and a write after the
//! restore is delivered. A targeted removal of audex's rule alone leaves the
//! other owner's rule in place. `rules.enforce: false` leaves the kernel alone.
//! A watch under a directory only another user may search comes back too.
mod common;

use common::http::{get, metric};
use common::receiver::free_port;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const KEY: &str = "audex-drift-test";
const OTHER: &str = "audex-drift-other";

fn config(dir: &Path, watched: &Path, metrics: u16, enforce: bool) -> PathBuf {
    let f = dir.join("audex.yaml");
    std::fs::write(
        &f,
        format!(
            "rules:\n  enforce: {enforce}\n  watch:\n    - {{path: {w}, perm: rwxa, key: {KEY}}}\nenrich: {{peer_processes: []}}\ntenants:\n  - name: default\n    exporters: [debug]\nexporters:\n  - {{name: debug, type: jsonl, path: {d}/events.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\nmetrics: {{listen: \"127.0.0.1:{metrics}\"}}\n",
            w = watched.display(),
            d = dir.display()
        ),
    )
    .unwrap();
    f
}

/// Runs auditctl as a child of the test; its pid.
fn auditctl_child(args: &[&str]) -> u32 {
    let mut c = Command::new("auditctl").args(args).spawn().unwrap();
    let pid = c.id();
    assert!(c.wait().unwrap().success(), "auditctl {args:?}");
    pid
}

fn has_key(rules: &str, key: &str) -> bool {
    rules.lines().any(|l| l.ends_with(&format!("-k {key}")))
}

/// Waits (5 s at most) for the kernel's rules to satisfy `ok`.
fn wait_rules(kt: &common::KernelTest, ok: impl Fn(&str) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if ok(&kt.rules_text()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn auditctl_exe() -> String {
    let out = Command::new("sh")
        .args(["-c", "readlink -f \"$(command -v auditctl)\""])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn rules_removed_under_the_daemon_come_back_and_name_who_removed_them() {
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let watched = kt.dir.join("watched");
    let other = kt.dir.join("other");
    std::fs::create_dir_all(&watched).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let other_rule = ["-w", other.to_str().unwrap(), "-p", "w", "-k", OTHER];
    auditctl_child(&other_rule);
    let mport = free_port();
    let cfg = config(&kt.dir, &watched, mport, true);
    let runtime = kt.dir.join("run");
    let mut cmd = common::audex();
    cmd.env("AUDEX_RUNTIME_DIR", &runtime)
        .args(["run", "--config", cfg.to_str().unwrap()]);
    let (w, _rx, line) = common::watch::start_command(cmd);
    assert!(line.contains("1 rules"), "{line}");
    assert!(has_key(&kt.rules_text(), KEY));

    // Everything removed, by a child of this test.
    let remover = auditctl_child(&["-D"]);
    assert!(
        wait_rules(&kt, |r| has_key(r, KEY)),
        "audex's watch is back: {}",
        kt.rules_text()
    );
    assert!(
        !has_key(&kt.rules_text(), OTHER),
        "another owner's rule is not audex's to restore"
    );
    let after = watched.join("after-restore.txt");
    std::fs::write(&after, b"x").unwrap();

    // Only audex's rule removed: the other owner's stays as it is.
    auditctl_child(&other_rule);
    let w_rule = ["-W", watched.to_str().unwrap(), "-p", "rwxa", "-k", KEY];
    std::thread::sleep(Duration::from_millis(1200)); // past the one-restore-a-second limit
    let second = auditctl_child(&w_rule);
    assert!(wait_rules(&kt, |r| has_key(r, KEY)), "{}", kt.rules_text());
    assert!(has_key(&kt.rules_text(), OTHER), "{}", kt.rules_text());
    std::thread::sleep(Duration::from_millis(1500));
    let page = get(mport, "/metrics").1;
    assert!(metric(&page, "audex_rules_restored_total") >= 2.0, "{page}");
    // `audex status` shows the daemon's side: rules owned, restores, backlog.
    let st = common::audex()
        .env("AUDEX_RUNTIME_DIR", &runtime)
        .arg("status")
        .output()
        .unwrap();
    let st = String::from_utf8_lossy(&st.stdout).into_owned();
    assert!(
        st.contains("1 rules owned, enforce on, 2 restored") && st.contains("backlog high water"),
        "{st}"
    );
    let (_, status) = common::watch::stop_with(w, libc::SIGTERM);
    assert!(status.success(), "{status:?}");
    assert!(
        !runtime.join("status.json").exists(),
        "the daemon's state goes with it"
    );
    assert!(!has_key(&kt.rules_text(), KEY), "removed on exit");
    assert!(
        has_key(&kt.rules_text(), OTHER),
        "never touched: {}",
        kt.rules_text()
    );

    let evs = events(&kt.dir);
    let restored: Vec<&Value> = evs
        .iter()
        .filter(|e| e["action"] == "rules-restored")
        .collect();
    let exe = auditctl_exe();
    for pid in [remover, second] {
        let e = restored
            .iter()
            .find(|e| e["process"]["pid"].as_u64() == Some(pid as u64))
            .unwrap_or_else(|| panic!("a rules-restored event names pid {pid}: {restored:#?}"));
        assert_eq!(e["category"], "audit");
        assert_eq!(e["process"]["exe"], exe.as_str());
        assert_eq!(e["data"]["change"], "remove_rule");
        assert!(e["data"]["restored"].as_str().unwrap().contains(KEY), "{e}");
        assert!(
            !e["data"]["restored"].as_str().unwrap().contains(OTHER),
            "{e}"
        );
    }
    assert!(
        evs.iter().any(|e| e["files"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["path"] == after.to_str().unwrap()))),
        "the write after the restore is delivered"
    );
}

#[test]
fn with_enforce_off_removed_rules_stay_removed() {
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let watched = kt.dir.join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    let cfg = config(&kt.dir, &watched, free_port(), false);
    let (w, _rx, _) = common::watch::start_watch(&["run", "--config", cfg.to_str().unwrap()]);
    assert!(has_key(&kt.rules_text(), KEY));
    auditctl_child(&["-D"]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(!has_key(&kt.rules_text(), KEY), "{}", kt.rules_text());
    let (_, status) = common::watch::stop_with(w, libc::SIGTERM);
    assert!(status.success(), "{status:?}");
    assert!(events(&kt.dir)
        .iter()
        .all(|e| e["action"] != "rules-restored"));
}

/// A watch under a 0700 directory of another user: audex (root here) reaches it
/// only through CAP_DAC_READ_SEARCH, which it must keep past its capability drop
/// to put the watch back (it did not: "Permission denied", and the guarded
/// directory stayed unwatched).
#[test]
fn a_watch_under_a_guarded_directory_comes_back() {
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let guarded = kt.dir.join("guarded");
    let watched = guarded.join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    std::os::unix::fs::chown(&guarded, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(
        &guarded,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let cfg = config(&kt.dir, &watched, free_port(), true);
    let mut cmd = common::audex();
    cmd.env("AUDEX_RUNTIME_DIR", kt.dir.join("run")).args([
        "run",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let (w, _rx, line) = common::watch::start_command(cmd);
    assert!(line.contains("1 rules"), "{line}");
    auditctl_child(&["-D"]);
    let back = wait_rules(&kt, |r| has_key(r, KEY));
    let (_, status) = common::watch::stop_with(w, libc::SIGTERM);
    assert!(back, "the guarded watch is back: {}", kt.rules_text());
    assert!(status.success(), "{status:?}");
    assert!(!has_key(&kt.rules_text(), KEY), "removed at exit");
}
