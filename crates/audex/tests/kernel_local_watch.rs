//! Unprivileged `audex watch` through a running `audex run`'s local socket,
//! on the real kernel, with users this test creates (and removes): user A
//! watches a shared 0777 directory; B's write reaches A without B's pid or
//! ids, A's own write shows A's pid, an admin-group member sees B's pid;
//! after root makes the directory 0700, a later write is not delivered and
//! A is told its watch was revoked; A's watch of /root is refused; a third
//! user neither sees A's subscription nor can watch A's private directory;
//! the watch limit holds, and the rate limit counts every event it holds
//! back; the daemon records who subscribed and what was revoked; stopping
//! it ends the client with a clear message and leaves no rule behind.
mod common;

use common::watch::{start_command, start_watch, stop, stop_with};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const USERS: [&str; 4] = ["audex-ta", "audex-tb", "audex-tc", "audex-td"];
const ADMINS: &str = "audex-tadmins";

/// The test's users and admin group, removed on drop.
struct Users;

impl Users {
    fn create() -> Users {
        Users::remove();
        let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
        ok(Command::new("groupadd").arg(ADMINS));
        for u in USERS {
            ok(Command::new("useradd").args(["--no-create-home", "--user-group", u]));
        }
        ok(Command::new("usermod").args(["-a", "-G", ADMINS, "audex-td"]));
        Users
    }

    fn remove() {
        for u in USERS {
            let _ = Command::new("userdel").arg(u).output();
        }
        let _ = Command::new("groupdel").arg(ADMINS).output();
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        Users::remove();
    }
}

fn uid(user: &str) -> u64 {
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// `args` run as `user` (its groups as login would give them).
fn as_user(user: &str, program: &str, args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        &format!("--reuid={user}"),
        &format!("--regid={user}"),
        "--init-groups",
        "--",
        program,
    ])
    .args(args)
    .env("HOME", "/");
    c
}

fn audex_bin() -> String {
    env!("CARGO_BIN_EXE_audex").to_string()
}

/// `audex watch ARGS` as `user` through the socket, to completion.
fn watch_once(user: &str, socket: &Path, args: &[&str]) -> Output {
    let mut all = vec!["watch", "--socket", socket.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut c = as_user(user, &audex_bin(), &all);
    c.output().unwrap()
}

/// `sh -c SCRIPT` as `user`, which must succeed.
fn shell(user: &str, script: &str) {
    let out = as_user(user, "/bin/sh", &["-c", script]).output().unwrap();
    assert!(out.status.success(), "{script}: {out:?}");
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Events naming a path that ends with `name`.
fn naming<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| {
            e["files"].as_array().is_some_and(|fs| {
                fs.iter()
                    .any(|f| f["path"].as_str().is_some_and(|p| p.ends_with(name)))
            })
        })
        .collect()
}

fn config(dir: &Path, socket: &Path) -> PathBuf {
    let cfg = dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "enrich: {{peer_processes: []}}\nlocal:\n  socket: {s}\n  max_watches_per_user: 2\n  max_events_per_s_per_user: 20\n  admin_groups: [{ADMINS}]\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\n",
            s = socket.display(),
            d = dir.display()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn unprivileged_watches_through_the_daemon_keep_the_permission_rules() {
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let _users = Users::create();
    let shared = kt.dir.join("shared");
    let private = kt.dir.join("a-private");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&kt.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(Command::new("chown")
        .args(["audex-ta:audex-ta", private.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = kt.dir.join("audex.sock");
    let cfg = config(&kt.dir, &socket);
    let (daemon, _drx, _) = start_watch(&["run", "--config", cfg.to_str().unwrap()]);
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o666);

    let sock = socket.to_str().unwrap();
    let shared_s = shared.to_str().unwrap();
    let bin = audex_bin();
    let (a, a_err, a_line) = start_command(as_user(
        "audex-ta",
        &bin,
        &["watch", "--socket", sock, "--json", shared_s],
    ));
    assert!(a_line.contains(shared_s), "{a_line}");
    let (d, d_err, d_line) = start_command(as_user(
        "audex-td",
        &bin,
        &["watch", "--socket", sock, "--json", shared_s],
    ));
    assert!(d_line.contains("as an admin"), "{d_line}");
    // One kernel rule for the path, whoever watches it.
    let rules = kt.rules_text();
    assert_eq!(rules.matches("audex-local").count(), 1, "{rules}");
    std::thread::sleep(Duration::from_millis(1200));
    let status = common::audex().arg("status").output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains(&format!(
            "local socket              {}: 2 subscription(s), 1 kernel watch(es)",
            socket.display()
        )),
        "{status}"
    );

    // The third user: no view of A's subscription, no watch of A's directory.
    let c_list = watch_once("audex-tc", &socket, &["--list"]);
    assert!(c_list.status.success(), "{c_list:?}");
    assert!(c_list.stdout.is_empty(), "{c_list:?}");
    let a_list = watch_once("audex-ta", &socket, &["--list"]);
    assert!(
        String::from_utf8_lossy(&a_list.stdout).contains(shared_s),
        "{a_list:?}"
    );
    let c_private = watch_once("audex-tc", &socket, &[private.to_str().unwrap()]);
    assert_eq!(c_private.status.code(), Some(1));
    let why = String::from_utf8_lossy(&c_private.stderr);
    assert!(
        why.contains(&format!("permission denied: {}", private.display())),
        "{why}"
    );
    // /root is refused with the reason.
    let root = watch_once("audex-ta", &socket, &["/root"]);
    assert_eq!(root.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&root.stderr).contains("permission denied: /root"),
        "{root:?}"
    );
    // A watches one path; two more would pass its limit of 2.
    let over = watch_once("audex-ta", &socket, &[kt.dir.to_str().unwrap(), "/tmp"]);
    assert_eq!(over.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&over.stderr).contains("at most 2 per user"),
        "{over:?}"
    );

    // B writes, A writes.
    shell("audex-tb", &format!("umask 022; echo b > {shared_s}/b.txt"));
    shell("audex-ta", &format!("umask 022; echo a > {shared_s}/a.txt"));
    std::thread::sleep(Duration::from_millis(1500));
    // Root takes the directory away, then writes in it.
    assert!(Command::new("chown")
        .args(["root:root", shared_s])
        .status()
        .unwrap()
        .success());
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(shared.join("after.txt"), "root").unwrap();
    // A burst the admin's rate limit (20/s) must account for.
    for i in 0..60 {
        std::fs::write(shared.join(format!("burst-{i}")), "x").unwrap();
    }
    std::thread::sleep(Duration::from_millis(2500));

    let told: Vec<String> = a_err.try_iter().collect();
    assert!(
        told.iter().any(|l| l.contains(&format!(
            "watch revoked: {shared_s} (permission denied: {shared_s})"
        ))),
        "{told:?}"
    );
    let (a_out, a_status) = stop(a);
    assert_eq!(a_status.code(), Some(1), "no watch left ends A's client");
    let a_events = lines(&a_out);
    let b_write = naming(&a_events, "/b.txt");
    assert!(!b_write.is_empty(), "{a_out}");
    for e in &b_write {
        assert!(
            e.get("process").is_none() && e.get("actor").is_none(),
            "{e}"
        );
        assert!(
            e["redacted"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "process"),
            "{e}"
        );
        assert!(!e.to_string().contains("audex-tb"), "{e}");
    }
    let a_write = naming(&a_events, "/a.txt");
    assert!(!a_write.is_empty(), "{a_out}");
    assert!(
        a_write
            .iter()
            .all(|e| e["process"]["pid"].as_u64().is_some()),
        "{a_out}"
    );
    assert!(a_write
        .iter()
        .all(|e| e["actor"]["uid"].as_u64() == Some(uid("audex-ta"))));
    assert!(naming(&a_events, "/after.txt").is_empty(), "{a_out}");
    assert!(naming(&a_events, "/burst-1").is_empty(), "{a_out}");

    // Stopping the daemon ends the admin's client, told why.
    let (log, status) = stop_with(daemon, libc::SIGTERM);
    assert!(status.success(), "{log}");
    let (d_out, d_status) = stop(d);
    assert_eq!(d_status.code(), Some(1));
    let told: Vec<String> = d_err.try_iter().collect();
    assert!(
        told.iter()
            .any(|l| l.contains("the daemon stopped (audex run is stopping); the watch ended")),
        "{told:?}"
    );
    let d_events = lines(&d_out);
    let b_seen = naming(&d_events, "/b.txt");
    assert!(
        b_seen
            .iter()
            .any(|e| e["process"]["pid"].as_u64().is_some()),
        "{d_out}"
    );
    assert!(b_seen
        .iter()
        .any(|e| e["actor"]["uid"].as_u64() == Some(uid("audex-tb"))));
    assert!(!naming(&d_events, "/after.txt").is_empty(), "{d_out}");
    // Kept + the markers' counts = every event the daemon had under the path
    // once the limit began to bite (the burst and what came before it).
    let out = common::jsonl(&kt.dir.join("out.jsonl"));
    let under: Vec<&Value> = naming(&out, "")
        .into_iter()
        .filter(|e| {
            e["keys"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "audex-local"))
        })
        .collect();
    let kept = d_events
        .iter()
        .filter(|e| e.get("suppressed").is_none() && e.get("lost").is_none())
        .count();
    let held: u64 = d_events
        .iter()
        .filter_map(|e| e["suppressed"]["count"].as_str()?.parse::<u64>().ok())
        .sum();
    assert!(held > 0, "the burst passed the limit: {d_out}");
    assert_eq!(kept as u64 + held, under.len() as u64, "{d_out}");

    // The daemon's own record of who watched what.
    let a_uid = uid("audex-ta");
    let of = |action: &str| -> Vec<&Value> {
        out.iter()
            .filter(|e| e["action"] == action && e["actor"]["uid"].as_u64() == Some(a_uid))
            .collect()
    };
    let subscribed = of("watch-subscribed");
    assert!(subscribed
        .iter()
        .any(|e| e["outcome"] == "success" && e["files"][0]["path"] == shared_s));
    assert!(subscribed
        .iter()
        .any(|e| e["outcome"] == "failure" && e["files"][0]["path"] == "/root"));
    assert!(
        of("watch-revoked")
            .iter()
            .any(|e| e["files"][0]["path"] == shared_s),
        "{out:?}"
    );
    assert!(kt.rules_text().trim() == "No rules", "{}", kt.rules_text());
    assert!(!socket.exists());
}
