//! `audex replay FILE --config`: events go through tenants to the configured
//! exporters (an independent OTLP receiver, a protobuf archive, JSON lines) and
//! the command exits once they are acknowledged. With the receiver down it says
//! how many were not and keeps them in the spool; kill -9 loses nothing; a later
//! run delivers them. Configs asking for redaction are refused, not leaked.
mod common;

use common::receiver::{free_port, Receiver};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("audex-rc-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn config(dir: &Path, port: u16) -> PathBuf {
    let f = dir.join("audex.yaml");
    std::fs::write(
        &f,
        format!(
            "tenants:\n  - name: default\n    exporters: [siem, archive, debug]\nexporters:\n  - {{name: siem, type: otlp_grpc, endpoint: \"http://127.0.0.1:{port}\", timeout_ms: 2000}}\n  - {{name: archive, type: protobuf_file, path: {0}/archive}}\n  - {{name: debug, type: jsonl, path: {0}/events.jsonl}}\nspool: {{dir: {0}/spool, max_bytes: 67108864}}\n",
            dir.display()
        ),
    )
    .unwrap();
    f
}

fn golden() -> PathBuf {
    repo().join("tests/golden/kernel-enriched.log")
}

fn expected_ids() -> HashSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q", "--no-names"])
        .arg(golden())
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn replay(input: &Path, cfg: &Path, deadline: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_audex"))
        .args([
            "replay",
            "-q",
            "--no-names",
            "--deadline-s",
            &deadline.to_string(),
            "--config",
        ])
        .arg(cfg)
        .arg(input)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn replay_through_configured_exporters() {
    let dir = tmp("ok");
    let port = free_port();
    let rcv = Receiver::start(&dir, port);
    let out = replay(&golden(), &config(&dir, port), 30)
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let want = expected_ids();
    let got = rcv.ids();
    assert_eq!(got.len(), want.len(), "once each");
    assert_eq!(
        got.iter().map(|(id, _)| id.clone()).collect::<HashSet<_>>(),
        want
    );
    assert!(
        got.iter().all(|(_, t)| t == "default"),
        "tagged with the tenant"
    );
    // The node's resource on every ResourceLogs.
    for r in rcv.resources() {
        assert_eq!(r["service.name"], "audex");
        assert!(!r["host.name"].as_str().unwrap_or("").is_empty());
        if let Ok(id) = std::fs::read_to_string("/etc/machine-id") {
            assert_eq!(r["host.id"].as_str().unwrap_or(""), id.trim());
        }
    }
    // The archive reads back with replay --input proto; the JSON lines are the contract.
    let seg = std::fs::read_dir(dir.join("archive"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let back = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q", "--input", "proto"])
        .arg(&seg)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&back.stdout).lines().count(),
        want.len()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("events.jsonl"))
            .unwrap()
            .lines()
            .count(),
        want.len()
    );
    assert!(
        err.contains("exporter siem:") && err.contains("0 not delivered"),
        "{err}"
    );
}

#[test]
fn receiver_down_then_kill_9_then_recovery_loses_nothing() {
    let dir = tmp("down");
    let port = free_port();
    let cfg = config(&dir, port);
    // 1. Receiver down: exit 2, saying how many were not acknowledged.
    let out = replay(&golden(), &cfg, 1).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let n = expected_ids().len();
    assert!(
        err.contains(&format!(
            "{n} events not acknowledged within 1 s; they stay in the spool"
        )),
        "{err}"
    );
    // 2. Again, and kill -9 while it waits for the receiver.
    let mut c = replay(&golden(), &cfg, 30);
    std::thread::sleep(Duration::from_millis(1500));
    c.kill().unwrap();
    let _ = c.wait();
    // 3. Receiver up; a run with no new input delivers what the spool holds.
    let rcv = Receiver::start(&dir, port);
    let out = replay(Path::new("/dev/null"), &cfg, 30)
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: HashSet<String> = rcv.ids().into_iter().map(|(id, _)| id).collect();
    assert_eq!(got, expected_ids(), "every event arrives (at least once)");
}

#[test]
fn redaction_is_refused_rather_than_leaked() {
    let dir = tmp("redact");
    let f = dir.join("audex.yaml");
    std::fs::write(&f, format!("tenants:\n  - name: default\n    redact: {{drop: [process.args]}}\n    exporters: [debug]\nexporters:\n  - {{name: debug, type: jsonl, path: {}/x.jsonl}}\nspool: {{dir: {}/spool}}\n", dir.display(), dir.display())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q", "--config"])
        .arg(&f)
        .arg(golden())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to send its events unredacted"));
    assert!(
        !dir.join("x.jsonl").exists()
            || std::fs::read_to_string(dir.join("x.jsonl"))
                .unwrap()
                .is_empty()
    );
}
