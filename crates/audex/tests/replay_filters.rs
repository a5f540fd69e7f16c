//! Filters through `audex replay --config`: what a filter suppresses goes to
//! its exporters only, the tenant's exporters get the rest, and the two add up
//! to every event (per tenant, for top-level and tenant filters alike); a
//! suppressed exec still teaches the process cache its program, so a later
//! event of its child names it as the parent; the summary and `validate` say
//! what filters did and what is wrong with them, at the line.
mod common;

use serde_json::Value;
use std::path::Path;

fn all_events(input: &Path) -> Vec<Value> {
    let out = common::audex()
        .args(["replay", "-q", "--no-names"])
        .arg(input)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(evs: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = evs
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn kept_and_suppressed_add_up_to_every_event_for_every_tenant() {
    let input = common::repo().join("tests/golden/kernel-enriched.log");
    let every = all_events(&input);
    let d = common::out_dir("filters-sum");
    let err = common::replay_config(
        &d,
        &format!(
            "filters:\n  - name: no-exec\n    drop: {{actions: [executed]}}\n    exporters: [quiet]\n  - name: no-shells\n    drop: {{exe: [dash, \"/usr/sbin/audit*\"]}}\n    exporters: [quiet]\ntenants:\n  - name: secrets\n    match: {{paths: [\"/tmp\"]}}\n    filters:\n      - name: no-failures\n        drop: {{outcome: failure}}\n        exporters: [secrets-quiet]\n    exporters: [secrets-out]\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\n  - {{name: quiet, type: jsonl, path: {d}/quiet.jsonl}}\n  - {{name: secrets-out, type: jsonl, path: {d}/secrets-out.jsonl}}\n  - {{name: secrets-quiet, type: jsonl, path: {d}/secrets-quiet.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\n",
            d = d.display()
        ),
        &input,
    );
    let read = |n: &str| common::jsonl(&d.join(n));
    let (out, quiet, s_out, s_quiet) = (
        read("out.jsonl"),
        read("quiet.jsonl"),
        read("secrets-out.jsonl"),
        read("secrets-quiet.jsonl"),
    );
    let mut got = ids(&out);
    got.extend(ids(&quiet));
    got.extend(ids(&s_out));
    got.extend(ids(&s_quiet));
    got.sort();
    assert_eq!(got, ids(&every), "each event once, kept or suppressed");
    // What each filter took is what its selector says, and nothing else.
    let quiet_exe = |e: &Value| {
        let x = e["process"]["exe"].as_str().unwrap_or("");
        x.ends_with("/dash") || x.starts_with("/usr/sbin/audit")
    };
    for e in &quiet {
        assert!(e["action"] == "executed" || quiet_exe(e), "{e}");
    }
    for e in out.iter().chain(&s_out) {
        assert!(e["action"] != "executed" && !quiet_exe(e), "{e}");
    }
    for e in &s_quiet {
        assert!(e["tenant"] == "secrets" && e["outcome"] == "failure", "{e}");
    }
    for e in &s_out {
        assert!(e["tenant"] == "secrets" && e["outcome"] != "failure", "{e}");
    }
    assert!(
        !out.is_empty() && !quiet.is_empty() && !s_quiet.is_empty() && !s_out.is_empty(),
        "every sink has events: {} {} {} {}",
        out.len(),
        quiet.len(),
        s_out.len(),
        s_quiet.len()
    );
    // Top-level suppression keeps the tenant: each copy is its tenant's.
    assert!(quiet.iter().any(|e| e["tenant"] == "secrets"));
    // The summary counts each filter; the counts are the sinks' lines.
    let count = |name: &str| -> usize {
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("audex: filter {name}: ")))
            .unwrap_or_else(|| panic!("no summary for {name}: {err}"));
        line.split_whitespace().nth(3).unwrap().parse().unwrap()
    };
    assert_eq!(count("no-exec") + count("no-shells"), quiet.len(), "{err}");
    assert_eq!(count("no-failures"), s_quiet.len(), "{err}");
}

/// An exec by pid 500 (make), then pid 501, its child, opening a file.
const FAMILY: &str = "\
type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=1 pid=500 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"make\" exe=\"/usr/bin/make\" key=\"build\"
type=EXECVE msg=audit(1700000000.100:10): argc=2 a0=\"make\" a1=\"all\"
type=PATH msg=audit(1700000000.100:10): item=0 name=\"/usr/bin/make\" inode=5 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL
type=EOE msg=audit(1700000000.100:10):
type=SYSCALL msg=audit(1700000000.200:11): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=2 a2=0 a3=0 items=1 ppid=500 pid=501 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"cc\" exe=\"/usr/bin/cc\" key=\"build\"
type=PATH msg=audit(1700000000.200:11): item=0 name=\"/src/main.c\" inode=6 dev=fe:00 mode=0100644 ouid=1000 ogid=1000 rdev=00:00 nametype=NORMAL
type=EOE msg=audit(1700000000.200:11):
";

#[test]
fn a_suppressed_exec_still_names_the_parent_of_later_events() {
    let d = common::out_dir("filters-context");
    let input = d.join("family.log");
    std::fs::write(&input, FAMILY).unwrap();
    let err = common::replay_config(
        &d,
        &format!(
            "filters:\n  - name: no-exec\n    drop: {{actions: [executed], exe: [\"/usr/bin/*\"]}}\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\n",
            d = d.display()
        ),
        &input,
    );
    let out = common::jsonl(&d.join("out.jsonl"));
    assert_eq!(out.len(), 1, "the exec is suppressed: {out:?}");
    assert_eq!(out[0]["process"]["pid"], 501);
    assert_eq!(
        out[0]["process"]["parent"]["exe"], "/usr/bin/make",
        "{}",
        out[0]
    );
    assert!(
        err.contains("audex: filter no-exec: 1 events suppressed"),
        "{err}"
    );
}

#[test]
fn validate_names_what_is_wrong_in_a_filter_at_its_line() {
    let (code, err) = common::validate_text(
        "filters-validate",
        "filters:\n  - name: a\n    drop: {exe: [\"/usr/[bin\"]}\n  - name: b\n    drop: {addresses: [10.0.0.0/33]}\n  - name: c\n    drop: {actions: [opend]}\n  - name: d\n    drop: {exee: [x]}\n  - name: e\n    drop: {}\n  - name: f\n    drop: {uids: [0]}\n    keep: {uids: [1]}\n  - name: a\n    drop: {ports: [70000]}\n    exporters: [nowhere]\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {name: out, type: jsonl, path: /tmp/x.jsonl}\n",
    );
    assert_eq!(code, Some(1), "{err}");
    for (at, what) in [
        (
            ":3:18:",
            "filter `a`: `drop.exe`: `/usr/[bin` is not a valid glob",
        ),
        (
            ":5:24:",
            "filter `b`: `drop.addresses`: `10.0.0.0/33` is not an address or a CIDR block",
        ),
        (
            ":7:22:",
            "filter `c`: `drop.actions`: `opend` is not one of the event actions: opened,",
        ),
        (
            ":9:12:",
            "unknown key `filters[].drop.exee` (known here: keys, no_key, exe,",
        ),
        (":11:11:", "filter `e`: `drop` needs at least one selector"),
        (":14:11:", "filter `f`: give `drop` or `keep`, not both"),
        (":15:5:", "filter `a` is defined twice"),
        (
            ":15:5:",
            "filter `a` names exporter `nowhere`, which is not defined",
        ),
        (
            ":16:20:",
            "filter `a`: `drop.ports`: `70000` is not a number or a range",
        ),
    ] {
        assert!(
            err.lines().any(|l| l.contains(at) && l.contains(what)),
            "{at} {what}: {err}"
        );
    }
}

#[test]
fn validate_names_a_bad_label_rule_at_its_line_and_takes_label_selectors() {
    let (code, err) = common::validate_text(
        "labels-validate",
        "labels:\n  - {name: backup, argv: [\"rsync (\"]}\n  - {name: shell}\n  - {name: ok, exe: [bash], keys: [k]}\nfilters:\n  - name: a\n    drop: {labels: [ok]}\n  - name: b\n    drop: {record_types: [USER_ACCT, NOPE]}\ntenants:\n  - name: ops\n    match: {labels: [ok]}\n    exporters: [out]\n  - name: default\n    exporters: [out]\nexporters:\n  - {name: out, type: jsonl, path: /tmp/x.jsonl}\n",
    );
    assert_eq!(code, Some(1), "{err}");
    for (at, what) in [
        (
            ":2:5:",
            "label `backup`: `argv`: `rsync (` is not a valid regex: unclosed group",
        ),
        (":3:5:", "label `shell`: give `exe`, `argv` or `keys`"),
        (
            ":9:38:",
            "filter `b`: `drop.record_types`: `NOPE` is not a record type",
        ),
    ] {
        assert!(
            err.lines().any(|l| l.contains(at) && l.contains(what)),
            "{at} {what}: {err}"
        );
    }
    assert!(err.contains("has 3 errors"), "only those three: {err}");
}
