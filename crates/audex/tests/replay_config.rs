//! `audex replay FILE --config`: events go through tenants to the configured
//! exporters (an independent OTLP receiver, a protobuf archive, JSON lines) and
//! the command exits once they are acknowledged. With the receiver down it says
//! how many were not and keeps them in the spool; kill -9 loses nothing; a later
//! run delivers them. Tenants get their own events, redacted by their policy, with
//! pseudonyms stable across runs for one key.
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

/// `audex replay -q --config CFG` of the golden log, which must succeed.
fn replay_ok(cfg: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q", "--config"])
        .arg(cfg)
        .arg(golden())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

/// Replays the golden log through two tenants (one redacting, with per-tenant
/// headers) into JSON lines; the events of each tenant.
fn redacted_run(dir: &Path, key: &str) -> (Vec<Value>, Vec<Value>) {
    std::fs::write(dir.join("hash.key"), key).unwrap();
    let f = dir.join("audex.yaml");
    std::fs::write(
        &f,
        format!(
            "tenants:\n  - name: golden\n    match: {{keys: [audex-golden]}}\n    redact:\n      drop: [process.cwd]\n      hash: [actor.auid_name, \"files[].path\"]\n      hash_key_file: {0}/hash.key\n      mask: [{{field: process.title, builtin: secrets}}, {{field: process.title, pattern: 'setpriv', replace: SETPRIV}}]\n      pid: never\n    headers: {{X-Scope-OrgID: golden}}\n    exporters: [golden]\n  - name: default\n    exporters: [rest]\nexporters:\n  - {{name: golden, type: jsonl, path: {0}/golden.jsonl}}\n  - {{name: rest, type: jsonl, path: {0}/rest.jsonl}}\nspool: {{dir: {0}/spool}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.join("golden.jsonl"));
    let _ = std::fs::remove_file(dir.join("rest.jsonl"));
    replay_ok(&f);
    let read = |n: &str| -> Vec<Value> {
        std::fs::read_to_string(dir.join(n))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    (read("golden.jsonl"), read("rest.jsonl"))
}

#[test]
fn tenants_get_their_own_events_redacted_with_stable_pseudonyms() {
    let dir = tmp("redact");
    let (golden_a, rest) = redacted_run(&dir, "first key, long enough for hmac");
    assert!(!golden_a.is_empty() && !rest.is_empty());
    let all = expected_ids();
    let ids = |v: &[Value]| {
        v.iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect::<HashSet<_>>()
    };
    assert_eq!(
        ids(&golden_a).len() + ids(&rest).len(),
        all.len(),
        "each event to one tenant"
    );
    assert!(ids(&golden_a).is_disjoint(&ids(&rest)));
    for e in &golden_a {
        assert_eq!(e["tenant"], "golden");
        assert!(e["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "audex-golden"));
        let text = e.to_string();
        // Paths and the names the kernel logged are hashed (argv may still
        // name paths: a tenant hides those by masking or dropping argv).
        for f in e["files"].as_array().into_iter().flatten() {
            for k in ["path", "name"] {
                assert!(f[k].as_str().unwrap().starts_with("hmac:"), "{text}");
            }
        }
        assert!(
            e["process"].get("pid").is_none() && e["process"].get("cwd").is_none(),
            "{text}"
        );
        let redacted: Vec<&str> = e["redacted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(redacted.contains(&"process.pid"), "{redacted:?}");
        if let Some(n) = e["actor"].get("auid_name") {
            assert!(n.as_str().unwrap().starts_with("hmac:"), "{n}");
        }
        if let Some(t) = e["process"].get("title") {
            assert!(!t.as_str().unwrap().contains("setpriv"), "{t}");
        }
    }
    for e in &rest {
        assert_eq!(e["tenant"], "default");
        assert!(e.get("redacted").is_none());
    }
    // A second run (a restart) with the same key: the same pseudonyms.
    let (golden_b, _) = redacted_run(&dir, "first key, long enough for hmac\n");
    let pseudonyms = |v: &[Value]| -> Vec<String> {
        v.iter()
            .flat_map(|e| e["files"].as_array().cloned().unwrap_or_default())
            .map(|f| f["path"].to_string())
            .collect()
    };
    assert_eq!(pseudonyms(&golden_a), pseudonyms(&golden_b));
    // Another key: other pseudonyms.
    let (golden_c, _) = redacted_run(&dir, "another key, also long enough");
    assert_ne!(pseudonyms(&golden_a), pseudonyms(&golden_c));
    // A key file too short is refused before anything is sent.
    std::fs::write(dir.join("hash.key"), "short").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q", "--config"])
        .arg(dir.join("audex.yaml"))
        .arg(golden())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a key needs at least 16"));
}

#[test]
fn per_tenant_headers_and_resource_attributes_reach_the_receiver() {
    let dir = tmp("headers");
    let port = free_port();
    let rcv = Receiver::start(&dir, port);
    let f = dir.join("audex.yaml");
    std::fs::write(
        &f,
        format!(
            "tenants:\n  - name: golden\n    match: {{keys: [audex-golden]}}\n    headers: {{X-Scope-OrgID: team-golden}}\n    resource_attributes: {{data_stream.namespace: golden, com.splunk.index: golden_idx}}\n    exporters: [siem]\n  - name: default\n    exporters: [siem]\nexporters:\n  - {{name: siem, type: otlp_grpc, endpoint: \"http://127.0.0.1:{port}\", headers: {{X-Scope-OrgID: shared}}}}\nspool: {{dir: {0}/spool}}\n",
            dir.display()
        ),
    )
    .unwrap();
    replay_ok(&f);
    let (mut golden_reqs, mut shared_reqs) = (0, 0);
    for req in rcv.requests() {
        let org = req["headers"]["x-scope-orgid"]
            .as_str()
            .unwrap_or("")
            .to_string();
        for res in req["resources"].as_array().unwrap() {
            let ns = res["attributes"]["data_stream.namespace"].as_str();
            for r in res["records"].as_array().unwrap() {
                let tenant = r["attributes"]["audit.tenant"].as_str().unwrap();
                match tenant {
                    "golden" => {
                        assert_eq!(org, "team-golden");
                        assert_eq!(ns, Some("golden"));
                        assert_eq!(res["attributes"]["com.splunk.index"], "golden_idx");
                    }
                    _ => {
                        assert_eq!(org, "shared", "the exporter's own header for the others");
                        assert_eq!(ns, None);
                    }
                }
            }
        }
        if org == "team-golden" {
            golden_reqs += 1
        } else {
            shared_reqs += 1
        }
    }
    assert!(
        golden_reqs > 0 && shared_reqs > 0,
        "{golden_reqs} {shared_reqs}"
    );
    assert_eq!(rcv.ids().len(), expected_ids().len());
}
