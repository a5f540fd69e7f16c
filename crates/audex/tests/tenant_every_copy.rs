//! A tenant's redaction holds for every copy, end to end: a capture from this
//! kernel (Debian auditd, tests/golden/capture-tenant.sh) of a login user,
//! alice (uid 4711), writing and reading her own file in her home and running
//! commands with secrets in every built-in form, replayed through a tenant that
//! hashes `actor.uid_name` with `hash_ids` and masks `secrets`. Neither her name
//! nor her uid nor a secret is left anywhere in the tenant's JSON lines, nor in
//! the OTLP attributes and body an independent receiver got; a tenant without
//! redaction still sees them (the capture holds what the test looks for).
mod common;

use common::receiver::{free_port, Receiver};
use common::{out_dir, repo};
use regex::Regex;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Replays the capture through one tenant (`redact` as YAML, or none) to a
/// JSON-lines file and an OTLP receiver; (JSON lines, OTLP requests).
fn replay(dir: &Path, redact: Option<&str>) -> (String, String) {
    let key = dir.join("hash.key");
    std::fs::write(&key, b"alice's tenant key, 32 bytes long").unwrap();
    let port = free_port();
    let rcv = Receiver::start(dir, port);
    let redact = redact
        .map(|r| format!("    redact: {r}\n"))
        .unwrap_or_default()
        .replace("KEY", &key.display().to_string());
    let cfg = dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "tenants:\n  - name: team-a\n    match: {{uids: [\"4711\"]}}\n{redact}    exporters: [json, siem]\n  - name: default\n    exporters: []\n\
             exporters:\n  - {{name: json, type: jsonl, path: {0}/events.jsonl}}\n\
             \x20 - {{name: siem, type: otlp_grpc, endpoint: \"http://127.0.0.1:{port}\", timeout_ms: 5000}}\n\
             spool: {{dir: {0}/spool}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q", "--config"])
        .arg(&cfg)
        .arg(repo().join("tests/golden/tenant-alice.log"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let otlp: Vec<String> = rcv.requests().iter().map(Value::to_string).collect();
    (json, otlp.join("\n"))
}

/// The lines of `text` where `re` matches (for a readable failure).
fn hits(text: &str, re: &Regex) -> Vec<String> {
    text.lines()
        .filter(|l| re.is_match(l))
        .map(|l| l.chars().take(400).collect())
        .take(5)
        .collect()
}

#[test]
fn no_copy_of_her_name_her_uid_or_a_secret_reaches_the_tenant() {
    let name = Regex::new(r"\balice\b").unwrap();
    let uid = Regex::new(r"\b4711\b").unwrap();
    let secret = Regex::new("hunter2").unwrap();

    // Unredacted, the tenant sees all of it: the capture holds what is looked for.
    let plain = out_dir("every-copy-plain");
    let (json, otlp) = replay(&plain, None);
    for (what, text) in [("JSON", &json), ("OTLP", &otlp)] {
        for re in [&name, &uid, &secret] {
            assert!(re.is_match(text), "{what} without redaction has {re}");
        }
    }
    let events = json.lines().count();
    assert!(events > 20, "{events} events");
    assert!(json.contains("/alice/notes.txt"), "her own file");
    assert!(otlp.contains("(login alice)"), "the OTLP body names her");

    let dir = out_dir("every-copy-redacted");
    let (json, otlp) = replay(
        &dir,
        Some(
            "{hash: [actor.uid_name], hash_ids: true, hash_key_file: KEY, \
             mask: [{field: process.command_line, builtin: secrets}]}",
        ),
    );
    assert_eq!(json.lines().count(), events, "the same events, redacted");
    for (what, text) in [("JSON", &json), ("OTLP", &otlp)] {
        for re in [&name, &uid, &secret] {
            assert!(!re.is_match(text), "{what} has {re}: {:#?}", hits(text, re));
        }
    }
    // What stands in for her is stable, and the rest of the events stay useful.
    let evs: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pseudonyms: std::collections::BTreeSet<&str> = evs
        .iter()
        .filter_map(|e| e["actor"]["auid_name"].as_str())
        .collect();
    assert_eq!(pseudonyms.len(), 1, "{pseudonyms:?}");
    let p = *pseudonyms.iter().next().unwrap();
    assert!(p.starts_with("hmac:"));
    assert!(
        json.contains(&format!("/{p}/notes.txt")),
        "her file's path keeps its shape"
    );
    assert!(
        otlp.contains(&format!("(login {p})")),
        "the OTLP body names the pseudonym"
    );
    assert!(json.contains("-p***") && json.contains("password = ***"));
    assert!(json.contains("https://bob:***@example.com/r.git"));
}
