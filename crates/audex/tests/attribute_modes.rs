//! The two namings of one event stream: `audex replay --config` of the golden
//! log to the independent Python OTLP receiver through two exporters, one with
//! `attributes: semconv` (the default) and one with `attributes: ecs`, carries
//! the same records (time, severity, name, body, resource, every value; only
//! attribute names differ, and the ECS scope says `elastic.mapping.mode: ecs`);
//! a `jsonl` exporter with `format: ecs` writes one ECS document per event that
//! two JSON parsers (serde and Python's) read back, the same documents as
//! `audex replay --format ecs`.
mod common;

use common::receiver::{free_port, Receiver};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn golden() -> PathBuf {
    common::repo().join("tests/golden/kernel-enriched.log")
}

fn replay_config(dir: &Path, yaml: &str, args: &[&str]) {
    let cfg = dir.join("audex.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q", "--config"])
        .arg(&cfg)
        .args(args)
        .arg(golden())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The ECS name of each semantic-conventions (or `audit.*`) attribute.
const ECS_NAME: &[(&str, &str)] = &[
    ("audit.access", "auditd.access"),
    ("audit.action", "event.action"),
    ("audit.auid", "auditd.user.audit.id"),
    ("audit.category", "auditd.category"),
    ("audit.comm", "auditd.comm"),
    ("audit.command", "auditd.command"),
    ("audit.controls", "auditd.controls"),
    ("audit.event_id", "event.id"),
    ("audit.exit", "auditd.syscall.exit"),
    ("audit.file_paths", "auditd.paths"),
    ("audit.fsuid", "auditd.user.filesystem.id"),
    ("audit.keys", "auditd.keys"),
    ("audit.outcome", "event.outcome"),
    ("audit.parent.comm", "auditd.parent.comm"),
    ("audit.parent.command_args", "process.parent.args"),
    ("audit.parent.executable.name", "process.parent.name"),
    ("audit.parent.executable.path", "process.parent.executable"),
    ("audit.record_type", "auditd.record_type"),
    ("audit.redacted", "auditd.redacted"),
    ("audit.serial", "auditd.serial"),
    ("audit.session", "auditd.session"),
    ("audit.socket.family", "auditd.socket.family"),
    ("audit.socket.path", "auditd.socket.path"),
    ("audit.syscall", "auditd.syscall.name"),
    ("audit.tenant", "auditd.tenant"),
    ("audit.tty", "auditd.tty"),
    ("error.type", "error.code"),
    ("file.inode", "file.inode"),
    ("file.mode", "file.mode"),
    ("file.owner.id", "file.uid"),
    ("file.owner.name", "file.owner"),
    ("file.path", "file.path"),
    ("network.local.address", "server.address"),
    ("network.local.port", "server.port"),
    ("network.peer.address", "destination.address"),
    ("network.peer.port", "destination.port"),
    ("process.command_args", "process.args"),
    ("process.command_line", "process.command_line"),
    ("process.executable.name", "process.name"),
    ("process.executable.path", "process.executable"),
    ("process.parent_pid", "process.parent.pid"),
    ("process.pid", "process.pid"),
    ("process.real_user.id", "process.real_user.id"),
    ("process.real_user.name", "process.real_user.name"),
    ("process.title", "process.title"),
    ("process.user.id", "process.user.id"),
    ("process.user.name", "process.user.name"),
    ("process.working_directory", "process.working_directory"),
    ("user.id", "user.id"),
    ("user.name", "user.name"),
];

/// A value as text (ids are ints in one naming, keyword strings in the other).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Records of one exporter (by its `x-audex-mode` header), keyed by event id,
/// each with its resource and scope attributes.
fn records(rx: &Receiver, mode: &str, id_key: &str) -> BTreeMap<String, (Value, Value, Value)> {
    let mut out = BTreeMap::new();
    for req in rx.requests() {
        if req["headers"]["x-audex-mode"] != mode {
            continue;
        }
        for res in req["resources"].as_array().unwrap() {
            for r in res["records"].as_array().unwrap() {
                let id = r["attributes"][id_key].as_str().unwrap().to_string();
                let prev = out.insert(
                    id.clone(),
                    (r.clone(), res["attributes"].clone(), res["scope"].clone()),
                );
                assert!(prev.is_none(), "{mode}: {id} delivered twice");
            }
        }
    }
    out
}

#[test]
fn otlp_carries_the_same_records_in_both_attribute_modes() {
    let dir = common::out_dir("modes-otlp");
    let port = free_port();
    let rx = Receiver::start(&dir, port);
    let exporter = |name: &str, extra: &str| {
        format!(
            "  - {{name: {name}, type: otlp_grpc, endpoint: \"http://127.0.0.1:{port}\", headers: {{x-audex-mode: {name}}}{extra}}}\n"
        )
    };
    let yaml = format!(
        "tenants:\n  - name: default\n    exporters: [semconv, ecs]\nexporters:\n{}{}spool: {{dir: {}/spool}}\n",
        exporter("semconv", ""),
        exporter("ecs", ", attributes: ecs"),
        dir.display()
    );
    replay_config(&dir, &yaml, &[]);
    let sem = records(&rx, "semconv", "audit.event_id");
    let ecs = records(&rx, "ecs", "event.id");
    assert!(sem.len() > 30, "{} records", sem.len());
    assert_eq!(
        sem.keys().collect::<Vec<_>>(),
        ecs.keys().collect::<Vec<_>>(),
        "the same events"
    );
    let names: BTreeMap<&str, &str> = ECS_NAME.iter().copied().collect();
    let mut compared = BTreeSet::new();
    for (id, (s, s_res, s_scope)) in &sem {
        let (e, e_res, e_scope) = &ecs[id];
        for k in ["time_unix_nano", "severity_number", "event_name", "body"] {
            assert_eq!(s[k], e[k], "{id}: {k}");
        }
        assert_eq!(s_res, e_res, "{id}: the resource");
        assert_eq!(s_scope.get("elastic.mapping.mode"), None, "{id}");
        assert_eq!(
            e_scope["elastic.mapping.mode"], "ecs",
            "{id}: the ECS scope"
        );
        for (k, v) in s["attributes"].as_object().unwrap() {
            let Some(ecs_key) = names.get(k.as_str()) else {
                panic!("{id}: semantic-conventions attribute {k} has no ECS name here");
            };
            if k == "error.type" && v == "_OTHER" {
                // A failure without an errno: ECS has event.outcome only.
                assert_eq!(e["attributes"]["event.outcome"], "failure", "{id}");
                continue;
            }
            let got = &e["attributes"][*ecs_key];
            assert_eq!(text(v), text(got), "{id}: {k} vs ECS {ecs_key}");
            compared.insert(k.clone());
        }
    }
    for k in [
        "process.pid",
        "file.path",
        "file.mode",
        "user.name",
        "audit.serial",
    ] {
        assert!(compared.contains(k), "{k} never compared: {compared:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn jsonl_ecs_documents_round_trip() {
    let dir = common::out_dir("modes-jsonl");
    let file = dir.join("events.ecs.jsonl");
    let yaml = format!(
        "tenants:\n  - name: default\n    exporters: [elastic_agent]\nexporters:\n  - {{name: elastic_agent, type: jsonl, format: ecs, path: {}}}\nspool: {{dir: {}/spool}}\n",
        file.display(),
        dir.display()
    );
    replay_config(&dir, &yaml, &[]);
    let text = std::fs::read_to_string(&file).unwrap();
    let docs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect();
    // What the same log gives as events, for the count and the ids.
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q"])
        .arg(golden())
        .output()
        .unwrap();
    let ids: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(docs.len(), ids.len());
    let doc_ids: BTreeSet<String> = docs
        .iter()
        .map(|d| d["event"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(doc_ids, ids);
    for d in &docs {
        // Round trip: written again and read again, the same document.
        let again: Value = serde_json::from_str(&serde_json::to_string(d).unwrap()).unwrap();
        assert_eq!(&again, d);
        assert!(
            d["@timestamp"].is_string() && d["message"].is_string(),
            "{d}"
        );
        assert_eq!(d["auditd"]["tenant"], "default");
    }
    // An independent parser reads every line too.
    let py = Command::new("python3")
        .args([
            "-c",
            "import json,sys; n=sum(1 for l in open(sys.argv[1]) if isinstance(json.loads(l), dict)); print(n)",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        docs.len().to_string()
    );
    // `replay --format ecs` writes the same documents (without the routing's tenant).
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q", "--format", "ecs"])
        .arg(golden())
        .output()
        .unwrap();
    let direct: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(direct.len(), docs.len());
    for (a, b) in direct.iter().zip(&docs) {
        let mut b = b.clone();
        b["auditd"].as_object_mut().unwrap().remove("tenant");
        assert_eq!(a, &b);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
