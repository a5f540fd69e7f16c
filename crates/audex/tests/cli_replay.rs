//! `audex replay` as a user runs it: formats, stdin, errors, summary.
use audex_proto::v1::AuditEvent;
use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn audex(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        sin.write_all(data).unwrap();
    }
    drop(sin);
    child.wait_with_output().unwrap()
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden")
        .join(name)
}

#[test]
fn proto_and_json_carry_the_same_events() {
    let log = golden("kernel-enriched.log");
    let log = log.to_str().unwrap();
    let json = audex(&["replay", "--no-names", "-q", log], None);
    let proto = audex(
        &["replay", "--no-names", "-q", "--format", "proto", log],
        None,
    );
    assert!(json.status.success() && proto.status.success());
    let mut buf = &proto.stdout[..];
    let mut from_proto = Vec::new();
    while !buf.is_empty() {
        from_proto.push(
            AuditEvent::decode_length_delimited(&mut buf).expect("length-delimited AuditEvent"),
        );
    }
    let from_json: Vec<AuditEvent> = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(from_json.len() > 20);
    assert_eq!(from_proto, from_json, "proto and JSON (parsed back) differ");
}

#[test]
fn json_follows_the_contract() {
    let out = audex(
        &[
            "replay",
            "--no-names",
            "-q",
            golden("kernel-enriched.log").to_str().unwrap(),
        ],
        None,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        // Absent fields are left out, never empty strings.
        fn no_empty(v: &serde_json::Value, path: &str) {
            match v {
                serde_json::Value::String(s) => assert!(
                    !s.is_empty() || path.starts_with("data."),
                    "empty string at {path}"
                ),
                serde_json::Value::Object(m) => m
                    .iter()
                    .for_each(|(k, x)| no_empty(x, &format!("{path}.{k}"))),
                serde_json::Value::Array(a) => a.iter().for_each(|x| no_empty(x, path)),
                _ => {}
            }
        }
        no_empty(&v, "");
        assert!(v["time"].as_str().unwrap().contains('T'), "RFC 3339 time");
        // uid 0 is present (proto3 optional), unset auid is absent.
        if let Some(actor) = v.get("actor") {
            if actor.get("uid").is_some() {
                assert!(actor["uid"].is_u64());
            }
            assert_ne!(actor.get("auid").and_then(|a| a.as_u64()), Some(4294967295));
        }
    }
    assert!(text.contains("\"uid\":0"), "root's uid 0 must be kept");
}

#[test]
fn otlp_json_lines_are_export_requests() {
    let out = audex(
        &[
            "replay",
            "--no-names",
            "-q",
            "--format",
            "otlp-json",
            golden("kernel-raw.log").to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let req: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let rl = &req["resourceLogs"][0];
    let res_attrs = rl["resource"]["attributes"].as_array().unwrap();
    assert!(res_attrs
        .iter()
        .any(|a| a["key"] == "service.name" && a["value"]["stringValue"] == "audex"));
    let recs = rl["scopeLogs"][0]["logRecords"].as_array().unwrap();
    assert!(recs.len() > 20);
    let opened = recs
        .iter()
        .find(|r| r["eventName"] == "audex.file.opened")
        .expect("an opened event");
    let keys: Vec<&str> = opened["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    for k in [
        "process.pid",
        "process.executable.path",
        "file.path",
        "audit.serial",
        "audit.syscall",
    ] {
        assert!(keys.contains(&k), "{k} missing in {keys:?}");
    }
    assert!(opened["body"]["stringValue"]
        .as_str()
        .unwrap()
        .contains(" opened /tmp/"));
}

#[test]
fn stdin_and_bad_lines() {
    let input = b"type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=87 success=yes exit=0 items=2 ppid=1 pid=42 auid=1000 uid=0 euid=0 comm=\"rm\" exe=\"/usr/bin/rm\" key=\"k1\"
garbage that is not audit
type=CWD msg=audit(1700000000.100:10): cwd=\"/srv/www\"
type=PATH msg=audit(1700000000.100:10): item=0 name=\"/srv/www\" inode=1 dev=fd:01 mode=040755 ouid=0 ogid=0 nametype=PARENT
type=PATH msg=audit(1700000000.100:10): item=1 name=\"index.html\" inode=2 dev=fd:01 mode=0100644 ouid=33 ogid=33 nametype=DELETE
type=EOE msg=audit(1700000000.100:10):
";
    let out = audex(&["replay", "--no-names", "-"], Some(input));
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: no type= field"), "{stderr}");
    assert!(
        stderr.contains("5 records -> 1 events") && stderr.contains("1 parse errors"),
        "{stderr}"
    );
    let ev: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ev["action"], "deleted");
    assert_eq!(ev["files"][1]["path"], "/srv/www/index.html");
    assert_eq!(ev["keys"][0], "k1");
    assert_eq!(ev["actor"]["auid"], 1000);
}

#[test]
fn unreadable_input_is_a_clear_error() {
    let out = audex(&["replay", "/nonexistent/audit.log"], None);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("cannot read /nonexistent/audit.log") && e.contains("No such file"),
        "{e}"
    );
    // A directory is a rotated set: without audit.log files it is named.
    let empty = std::env::temp_dir().join(format!("audex-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = audex(&["replay", empty.to_str().unwrap()], None);
    std::fs::remove_dir_all(&empty).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no audit.log files in this directory"));
}

#[test]
fn lost_serials_become_records_lost_events() {
    let input = b"type=USER_LOGIN msg=audit(1700000000.000:100): pid=1 uid=0 auid=0 ses=1 msg='op=login acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=h addr=10.0.0.1 terminal=ssh res=success'
type=USER_LOGIN msg=audit(1700000001.000:105): pid=1 uid=0 auid=0 ses=1 msg='op=login acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=h addr=10.0.0.2 terminal=ssh res=failed'
";
    let out = audex(&["replay", "--no-names", "-q", "-"], Some(input));
    let evs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lost = evs
        .iter()
        .find(|e| e["action"] == "records-lost")
        .expect("a records-lost event");
    assert_eq!(lost["category"], "audit");
    assert_eq!(lost["lost"]["count"], "4");
    assert_eq!(lost["lost"]["first_serial"], "101");
    assert_eq!(lost["lost"]["last_serial"], "104");
    let failed = evs.iter().find(|e| e["data"]["acct"] == "bob").unwrap();
    assert_eq!(
        (failed["action"].as_str(), failed["outcome"].as_str()),
        (Some("logged-in"), Some("failure"))
    );
    let out = audex(
        &["replay", "--no-names", "-q", "--ignore-gaps", "-"],
        Some(input),
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("records-lost"));
}

/// A serial declared lost (2 s and 1,024 serials past it) that turns up after all
/// is dropped and said so in the summary: never both delivered and reported lost.
#[test]
fn a_serial_reported_lost_that_comes_late_is_not_delivered_too() {
    let msg = |t: &str, s: u64| {
        format!("type=USER_LOGIN msg=audit({t}:{s}): pid=1 uid=0 auid=0 ses=1 msg='op=login acct=\"u{s}\" exe=\"/usr/sbin/sshd\" hostname=h addr=10.0.0.1 terminal=ssh res=success'\n")
    };
    let mut input = msg("1700000000.000", 100);
    for s in 102..1200u64 {
        let ms = 3000 + (s - 102);
        input.push_str(&msg(
            &format!("17000000{:02}.{:03}", ms / 1000, ms % 1000),
            s,
        ));
    }
    input.push_str(&msg("1700000000.500", 101));
    let out = audex(&["replay", "--no-names", "-"], Some(input.as_bytes()));
    let evs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lost: Vec<_> = evs
        .iter()
        .filter(|e| e["action"] == "records-lost")
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0]["lost"]["first_serial"], "101");
    assert_eq!(lost[0]["lost"]["last_serial"], "101");
    assert!(
        !evs.iter()
            .any(|e| e["serial"] == "101" && e["action"] != "records-lost"),
        "101 was reported lost: not delivered"
    );
    assert_eq!(evs.len(), 1 + 1 + 1098);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("1 late records (1 of serials reported lost before they came: dropped)"),
        "{summary}"
    );
}

#[test]
fn archives_replay_back_to_the_same_events() {
    let log = golden("kernel-enriched.log");
    let log = log.to_str().unwrap();
    let proto = audex(
        &["replay", "--no-names", "-q", "--format", "proto", log],
        None,
    );
    let json = audex(&["replay", "--no-names", "-q", log], None);
    let back = audex(
        &["replay", "-q", "--input", "proto", "-"],
        Some(&proto.stdout),
    );
    assert!(
        back.status.success(),
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
    assert_eq!(
        String::from_utf8(back.stdout).unwrap(),
        String::from_utf8(json.stdout).unwrap()
    );
    // A stream cut inside an event is a clear error, not a panic.
    let cut = &proto.stdout[..proto.stdout.len() - 3];
    let bad = audex(&["replay", "-q", "--input", "proto", "-"], Some(cut));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("input ends inside an event"));
}

#[test]
fn every_thread_count_gives_the_same_bytes_and_summary() {
    for name in [
        "kernel-raw.log",
        "kernel-enriched.log",
        "compliance.log",
        "tenant-alice.log",
    ] {
        let p = golden(name);
        let run = |threads: &str, format: &str| {
            let out = audex(
                &[
                    "replay",
                    "--no-names",
                    "--threads",
                    threads,
                    "--format",
                    format,
                    p.to_str().unwrap(),
                ],
                None,
            );
            assert!(out.status.success(), "{name}: {out:?}");
            let summary = String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
                .split(" in ")
                .next()
                .unwrap_or_default()
                .to_string();
            (out.stdout, summary)
        };
        for format in ["json", "proto"] {
            let one = run("1", format);
            assert!(!one.0.is_empty(), "{name}");
            assert!(one.1.contains("records ->"), "{name}: {}", one.1);
            for threads in ["2", "4"] {
                assert!(
                    run(threads, format) == one,
                    "{name} --threads {threads} --format {format}"
                );
            }
        }
    }
    let out = audex(&["replay", "--threads", "0", "-"], Some(b""));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--threads"),
        "{out:?}"
    );
}

#[test]
fn output_dash_is_standard_output() {
    let log = golden("kernel-enriched.log");
    let cwd = std::env::temp_dir().join(format!("audex-dash-out-{}", std::process::id()));
    std::fs::create_dir_all(&cwd).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_audex"))
            .args(["replay", "--no-names", "-q"])
            .args(extra)
            .arg(&log)
            .current_dir(&cwd)
            .output()
            .unwrap()
    };
    let plain = run(&[]);
    let dash = run(&["-o", "-"]);
    assert!(plain.status.success() && dash.status.success(), "{dash:?}");
    assert!(!plain.stdout.is_empty());
    assert_eq!(dash.stdout, plain.stdout);
    assert!(!cwd.join("-").exists(), "no file named '-' was written");
    std::fs::remove_dir_all(&cwd).unwrap();
}
