//! Filter pushdown on the real kernel: a top-level filter dropping one
//! program (by absolute path, no exporters) becomes a `never` rule at the
//! head of the exit list while `audex run` runs; `audex status` lists it; the
//! program's writes in the watched directory never arrive (not even at the
//! user-space filter, whose counter stays 0), another program's do; after
//! SIGTERM no rule is left.
mod common;

use std::process::Command;

#[test]
fn a_pushed_down_filter_is_a_kernel_rule_while_run_runs_and_its_events_never_arrive() {
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let w = kt.dir.join("w");
    let bin = kt.dir.join("bin");
    std::fs::create_dir_all(&w).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    let quiet = bin.join("quiet-touch");
    let loud = bin.join("loud-touch");
    std::fs::copy("/usr/bin/touch", &quiet).unwrap();
    std::fs::copy("/usr/bin/touch", &loud).unwrap();
    let mport = common::receiver::free_port();
    let cfg = kt.dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules:\n  watch:\n    - {{path: {w}, perm: wa, key: audex-pushdown-test}}\nenrich: {{peer_processes: []}}\nfilters:\n  - name: quiet\n    drop: {{exe: [{q}]}}\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\nmetrics: {{listen: \"127.0.0.1:{mport}\"}}\n",
            w = w.display(),
            q = quiet.display(),
            d = kt.dir.display()
        ),
    )
    .unwrap();
    let plan = common::audex()
        .args(["rules", "plan", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let plan_text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan_text.contains("filter quiet: pushed down to the kernel as 1 rule(s)"),
        "{plan_text}"
    );
    let (run, _rx, line) = common::watch::start_watch(&["run", "--config", cfg.to_str().unwrap()]);
    assert!(line.contains("2 rules"), "{line}");
    let rules = kt.rules_text();
    let first = rules.lines().next().unwrap_or_default();
    assert!(
        first.contains("-a never,exit")
            && first.contains(&format!("exe={}", quiet.display()))
            && first.contains("audex-pushdown:quiet"),
        "the never rule heads the list: {rules}"
    );
    // The daemon writes what `status` shows about once a second.
    let mut status = String::new();
    for _ in 0..30 {
        let out = common::audex().arg("status").output().unwrap();
        status = String::from_utf8_lossy(&out.stdout).into_owned();
        if status.contains("pushed down") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        status.contains("pushed down") && status.contains("audex-pushdown:quiet"),
        "{status}"
    );

    let (q, l) = (w.join("q"), w.join("l"));
    assert!(Command::new(&quiet).arg(&q).status().unwrap().success());
    assert!(Command::new(&loud).arg(&l).status().unwrap().success());
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let page = common::http::get(mport, "/metrics").1;
    let (log, st) = common::watch::stop(run);
    assert!(st.success(), "{log}");

    let out = common::jsonl(&kt.dir.join("out.jsonl"));
    let of = |exe: &std::path::Path| {
        out.iter()
            .filter(|e| e["process"]["exe"] == exe.to_str().unwrap())
            .count()
    };
    assert!(
        of(&loud) >= 1,
        "the other program's events arrive: {out:#?}"
    );
    assert_eq!(of(&quiet), 0, "the excluded program's never do: {out:#?}");
    assert_eq!(
        common::http::metric(
            &page,
            "audex_events_dropped_total{stage=\"filter\",reason=\"quiet\"}"
        ),
        0.0,
        "the kernel excluded them, not the user-space filter: {page}"
    );
    assert!(kt.rules_text().trim() == "No rules", "{}", kt.rules_text());
}

/// A filter of a user-space record type alone becomes an `exclude` rule:
/// `su` (PAM) still reports its other steps, never its accounting step.
#[test]
fn a_record_type_filter_is_an_exclude_rule_and_the_type_never_arrives() {
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let w = kt.dir.join("w");
    std::fs::create_dir_all(&w).unwrap();
    let mport = common::receiver::free_port();
    let cfg = kt.dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules:\n  watch:\n    - {{path: {w}, perm: wa, key: audex-pushdown-test}}\nenrich: {{peer_processes: []}}\nfilters:\n  - name: no-pam-accounting\n    drop: {{record_types: [USER_ACCT]}}\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\nmetrics: {{listen: \"127.0.0.1:{mport}\"}}\n",
            w = w.display(),
            d = kt.dir.display()
        ),
    )
    .unwrap();
    let (run, _rx, _line) = common::watch::start_watch(&["run", "--config", cfg.to_str().unwrap()]);
    let rules = kt.rules_text();
    assert!(
        rules.contains("-a always,exclude -F msgtype=USER_ACCT"),
        "{rules}"
    );
    for _ in 0..3 {
        let st = Command::new("su")
            .args(["-s", "/bin/true", "nobody"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let page = common::http::get(mport, "/metrics").1;
    let (log, st) = common::watch::stop(run);
    assert!(st.success(), "{log}");
    let out = common::jsonl(&kt.dir.join("out.jsonl"));
    let of_type = |t: &str| out.iter().filter(|e| e["record_type"] == t).count();
    assert!(
        of_type("CRED_ACQ") + of_type("USER_START") >= 3,
        "su's other PAM steps arrive: {out:#?}"
    );
    assert_eq!(of_type("USER_ACCT"), 0, "{out:#?}");
    assert_eq!(
        common::http::metric(
            &page,
            "audex_events_dropped_total{stage=\"filter\",reason=\"no-pam-accounting\"}"
        ),
        0.0,
        "{page}"
    );
    assert!(kt.rules_text().trim() == "No rules", "{}", kt.rules_text());
}
