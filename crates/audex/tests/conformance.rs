//! Conformance with peer corpora in ../shared/corpora (read in place, never copied):
//! - every line of every log there parses or is rejected with an error, no panic;
//! - go-libaudit's auparse goldens agree with us per line (record type, serial,
//!   timestamp, syscall name, arch, errno name on failure, unset auid), for the log
//!   line and for its netlink form (`raw_msg`);
//! - auparse_test.ref's event grouping (and each record's fields) agrees for tests
//!   4, 5, 10 and 11.
mod common;

use audex_correlate::{Config, Correlator, Output};
use audex_normalize::tables::{errno_name, Arch};
use audex_parse::{parse_line, parse_netlink, Origin, Record, RecordType, ValueKind};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpora() -> PathBuf {
    let p = std::env::var_os("AUDEX_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"));
    assert!(
        p.is_dir(),
        "peer corpora not found at {} (set AUDEX_CORPORA)",
        p.display()
    );
    p
}

#[test]
fn every_corpus_line_parses_or_is_rejected() {
    let mut files = Vec::new();
    common::files_under(&corpora(), &mut files);
    let logs: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            (s.ends_with(".log") || (s.contains("testdata") && s.ends_with(".txt")))
                && !s.contains("README")
        })
        .collect();
    assert!(
        logs.len() >= 40,
        "expected the corpora's logs, found {}",
        logs.len()
    );
    let (mut ok, mut rejected, mut events) = (0u64, 0u64, 0u64);
    for log in &logs {
        let bytes = std::fs::read(log).unwrap();
        let mut c = Correlator::new(Config::default());
        let norm = audex_normalize::Normalizer::new(audex_normalize::NoNames, Default::default());
        for line in bytes.split(|&b| b == b'\n') {
            match parse_line(line) {
                Ok(r) => {
                    ok += 1;
                    // Every field value can be read and decoded without panicking.
                    for (_, v, _) in r.fields() {
                        let _ = (v.text(), v.bytes(), v.as_u64(), v.as_i64(), v.as_hex_u64());
                    }
                    c.push(r);
                }
                Err(e) => {
                    rejected += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
            while let Some(o) = c.pop() {
                let _ = norm.normalize(&o);
                events += 1;
            }
        }
        c.flush();
        while let Some(o) = c.pop() {
            let _ = norm.normalize(&o);
            events += 1;
        }
    }
    eprintln!(
        "{} files: {ok} records parsed, {rejected} lines rejected, {events} events",
        logs.len()
    );
    assert!(
        ok > 500 && events > 200,
        "too few records: the corpora changed?"
    );
}

/// Go's RFC3339Nano (`2007-01-28T22:00:01.34Z`) of an audit time.
fn go_time(secs: u64, nanos: u32) -> String {
    let mut s = audex_compliance::time::rfc3339(secs as i64);
    s.pop(); // the `Z`, after the fraction
    if nanos > 0 {
        let f = format!("{nanos:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

fn check_against_go(r: &Record, g: &Value, ctx: &str) {
    assert_eq!(
        r.rtype.to_string().to_ascii_lowercase(),
        g["record_type"].as_str().unwrap().to_ascii_lowercase(),
        "{ctx}: type"
    );
    assert_eq!(r.serial, g["sequence"].as_u64().unwrap(), "{ctx}: serial");
    assert_eq!(
        go_time(r.time.secs, r.time.nanos),
        g["@timestamp"].as_str().unwrap(),
        "{ctx}: time"
    );
    let data = &g["data"];
    if r.rtype == RecordType::SYSCALL {
        let arch = Arch::from_audit(r.get("arch").unwrap().as_hex_u64().unwrap() as u32);
        assert_eq!(arch.name(), data["arch"].as_str().unwrap(), "{ctx}: arch");
        let nr = r.u64("syscall").unwrap() as u32;
        if let Some(name) = arch.syscall_name(nr) {
            assert_eq!(name, data["syscall"].as_str().unwrap(), "{ctx}: syscall");
        }
        if data["result"] == "fail" {
            let exit = r.get("exit").unwrap().as_i64().unwrap();
            if exit < 0 {
                assert_eq!(
                    errno_name((-exit) as u32).unwrap(),
                    data["exit"].as_str().unwrap(),
                    "{ctx}: errno"
                );
            }
        }
    }
    if let Some(auid) = data.get("auid").and_then(|v| v.as_str()) {
        assert_eq!(
            auid == "unset",
            r.u64("auid") == Some(4294967295),
            "{ctx}: unset auid"
        );
    }
    // Decoded string fields agree where go-libaudit decodes them too.
    for key in ["comm", "exe", "cwd", "name", "key", "acct", "cmd"] {
        if let (Some(ours), Some(theirs)) = (r.text(key), data.get(key).and_then(|v| v.as_str())) {
            assert_eq!(ours, theirs, "{ctx}: {key}");
        }
    }
}

#[test]
fn go_libaudit_auparse_goldens_agree() {
    let dir = corpora().join("go-libaudit/auparse/testdata");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let golden = e.unwrap().path();
        if golden.extension().is_none_or(|x| x != "golden") {
            continue;
        }
        let log = golden.with_extension("");
        let entries: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&golden).unwrap()).unwrap();
        let text = std::fs::read(&log).unwrap();
        let lines: Vec<&[u8]> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            entries.len(),
            "{}: one golden entry per line",
            golden.display()
        );
        for (i, (line, g)) in lines.iter().zip(&entries).enumerate() {
            let ctx = format!("{}:{}", log.display(), i + 1);
            if g.is_null() {
                continue; // rejected by go-libaudit; we may do either
            }
            let r = parse_line(line).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            check_against_go(&r, g, &ctx);
            // The netlink form of the same record.
            let raw = g["raw_msg"].as_str().unwrap();
            let n = parse_netlink(r.rtype.0 as u16, raw.as_bytes())
                .unwrap_or_else(|e| panic!("{ctx} netlink: {e}"));
            check_against_go(&n, g, &format!("{ctx} (netlink)"));
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} golden lines checked");
}

/// auparse_test.ref: per test, events as lists of (record type, [field=value]).
fn auparse_ref(test: u32) -> Vec<Vec<(u32, Vec<String>)>> {
    let text =
        std::fs::read_to_string(corpora().join("audit-userspace/auparse/test/auparse_test.ref"))
            .unwrap();
    let start = format!("Starting Test {test},");
    let mut events: Vec<Vec<(u32, Vec<String>)>> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Starting Test") {
            inside = line.starts_with(&start);
            continue;
        }
        if !inside {
            continue;
        }
        let t = line.trim();
        if t.starts_with("event ") && t.contains(" has ") {
            events.push(Vec::new());
        } else if let Some(rest) = t.strip_prefix("record ") {
            let ty = rest
                .split("of type ")
                .nth(1)
                .unwrap()
                .split('(')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            events.last_mut().unwrap().push((ty, Vec::new()));
        } else if line.starts_with("        ") && t.contains('=') && !t.starts_with("type=") {
            events
                .last_mut()
                .unwrap()
                .last_mut()
                .unwrap()
                .1
                .push(t.to_string());
        }
    }
    events
}

/// Our fields of a record in auparse's uninterpreted notation (`comm="pickup"`).
fn our_fields(r: &Record) -> Vec<String> {
    r.fields()
        .filter(|(_, v, o)| *o != Origin::Enriched && v.kind != ValueKind::Nested)
        .map(|(k, v, _)| {
            let k = String::from_utf8_lossy(k);
            match v.kind {
                ValueKind::Quoted => format!("{k}=\"{}\"", v.raw_str()),
                ValueKind::Braced => format!(
                    "{k}={}",
                    v.raw_str().split_whitespace().collect::<Vec<_>>().join(",")
                ),
                _ => format!("{k}={}", v.raw_str()),
            }
        })
        .collect()
}

fn our_grouping(file: &str) -> Vec<(u64, u64, Vec<Record>)> {
    let text = std::fs::read(corpora().join("audit-userspace/auparse/test").join(file)).unwrap();
    let mut c = Correlator::new(Config {
        track_gaps: false,
        ..Config::default()
    });
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        c.push(parse_line(line).unwrap());
    }
    c.flush();
    let mut evs = Vec::new();
    while let Some(o) = c.pop() {
        if let Output::Event(a) = o {
            evs.push((a.time.as_millis(), a.serial, a.records));
        }
    }
    // auparse walks in file order; we emit in completion order.
    evs.sort_by_key(|e| (e.0, e.1));
    evs
}

#[test]
fn auparse_event_grouping_agrees() {
    for (test, files) in [
        (4, &["test.log"][..]),
        (5, &["test2.log", "test.log"]),
        (10, &["test.log"]),
        (11, &["test4.log"]),
    ] {
        let expected = auparse_ref(test);
        let ours: Vec<(u64, u64, Vec<Record>)> =
            files.iter().flat_map(|f| our_grouping(f)).collect();
        assert_eq!(ours.len(), expected.len(), "test {test}: number of events");
        for (i, ((_, serial, recs), exp)) in ours.iter().zip(&expected).enumerate() {
            let types: Vec<u32> = recs.iter().map(|r| r.rtype.0).collect();
            let exp_types: Vec<u32> = exp.iter().map(|(t, _)| *t).collect();
            assert_eq!(
                types,
                exp_types,
                "test {test} event {} (serial {serial}): record types",
                i + 1
            );
            for (r, (_, exp_fields)) in recs.iter().zip(exp) {
                // Test 10 prints only the first record's fields in full; compare where listed.
                if exp_fields.is_empty() {
                    continue;
                }
                let ours = our_fields(r);
                let n = exp_fields.len().min(ours.len());
                assert_eq!(
                    ours[..n],
                    exp_fields[..n],
                    "test {test} event {} serial {serial} {}",
                    i + 1,
                    r.rtype
                );
                assert_eq!(
                    ours.len(),
                    exp_fields.len(),
                    "test {test} event {} serial {serial} {}: field count",
                    i + 1,
                    r.rtype
                );
            }
        }
    }
}
