//! `audex rules plan --config FILE`: which top-level filters become kernel
//! `never` rules (absolute programs, uid/auid ranges, syscalls, outcome; one
//! rule per combination of their lists; user-space record types as exclude
//! rules) and, for every other filter, the
//! reason it stays in user space. The rules it prints parse as auditctl
//! syntax (`audex rules check`).
mod common;

const CONFIG: &str = "\
filters:
  - name: no-touch
    drop: {exe: [/usr/bin/touch]}
  - name: cron-failures
    drop: {auids: [\"1000-1999\", \"0\"], syscalls: [openat, unlink], outcome: failure}
  - name: shells
    drop: {exe: [bash]}
  - name: first
    drop: {exe: [/usr/bin/cat]}
    keep_first_per_process: true
  - name: sink
    drop: {exe: [/usr/bin/cat]}
    exporters: [out]
  - name: keeper
    keep: {keys: [x]}
  - name: by-path
    drop: {paths: [/tmp], actions: [opened]}
  - name: pam-accounting
    drop: {record_types: [USER_ACCT, CRYPTO_KEY_USER]}
  - name: syscall-records
    drop: {record_types: [SYSCALL]}
tenants:
  - name: default
    exporters: [out]
    filters:
      - {name: t1, drop: {exe: [/usr/bin/ls]}}
exporters:
  - {name: out, type: jsonl, path: \"-\"}
";

#[test]
fn plan_says_what_is_pushed_down_and_why_the_rest_is_not() {
    let d = common::out_dir("rules-plan");
    let cfg = d.join("audex.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let out = common::audex()
        .args(["rules", "plan", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let want = [
        "filter no-touch: pushed down to the kernel as 1 rule(s):",
        "  -A never,exit -F exe=/usr/bin/touch -k audex-pushdown:no-touch",
        "filter cron-failures: pushed down to the kernel as 2 rule(s):",
        "  -A never,exit -F arch=b64 -S openat -S unlink -F auid>=1000 -F auid<=1999 -F success=0 -k audex-pushdown:cron-failures",
        "  -A never,exit -F arch=b64 -S openat -S unlink -F auid=0 -F success=0 -k audex-pushdown:cron-failures",
        "filter shells: stays in user space: `exe: bash` is not an absolute program path",
        "filter first: stays in user space: `keep_first_per_process` needs the events",
        "filter sink: stays in user space: its exporters (out) receive what it drops",
        "filter keeper: stays in user space: a `keep` filter",
        "filter by-path: stays in user space: the kernel cannot evaluate `paths`, `actions`",
        "filter pam-accounting: pushed down to the kernel as 2 rule(s):",
        "  -A always,exclude -F msgtype=USER_ACCT",
        "  -A always,exclude -F msgtype=CRYPTO_KEY_USER",
        "filter syscall-records: stays in user space: `SYSCALL` is not a user-space message type",
        "filter t1 (tenant default): stays in user space: the kernel cannot tell an event's tenant",
    ];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), want.len(), "{text}");
    for (got, want) in lines.iter().zip(want) {
        assert!(got.starts_with(want), "{got}\n  wanted: {want}");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 of 9 top-level filters pushed down"));
    // What it prints is auditctl syntax the rule parser takes.
    let rules = d.join("pushed.rules");
    let pushed: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("  -A "))
        .map(|l| l.trim())
        .collect();
    std::fs::write(&rules, pushed.join("\n") + "\n").unwrap();
    let check = common::audex()
        .args(["rules", "check"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn a_config_with_label_rules_pushes_nothing() {
    let d = common::out_dir("rules-plan-labels");
    let cfg = d.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!("labels:\n  - {{name: l, exe: [make]}}\n{CONFIG}"),
    )
    .unwrap();
    let out = common::audex()
        .args(["rules", "plan", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("filter no-touch: stays in user space: the config labels processes"),
        "{text}"
    );
    assert!(!text.contains("pushed down to the kernel"), "{text}");
}
