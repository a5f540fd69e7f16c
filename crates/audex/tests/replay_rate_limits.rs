//! Rate limits through `audex replay --config`, by the events' own clock: a
//! tenant's limit keeps its burst and its rate, `events-throttled` markers
//! count the rest (kept + markers + what its filter handed to a sink = every
//! event of the tenant, exactly), another tenant is untouched, a replay gives
//! the same bytes twice, and the summary names the count. Repeat folding:
//! runs of identical events pass their first and stand in one repeat event.
mod common;

use serde_json::Value;
use std::fmt::Write;

/// `n` opens by pid 700, 10 ms apart from t=1700000000, of /data/<i>; every
/// tenth by auid 0 (the other tenant's), every seventh failed.
fn opens(n: usize) -> String {
    let mut log = String::new();
    for i in 0..n {
        let (s, ms) = (1_700_000_000 + i / 100, (i % 100) * 10);
        let auid = if i % 10 == 0 { 0 } else { 1000 };
        let ok = if i % 7 == 0 {
            "success=no exit=-13"
        } else {
            "success=yes exit=3"
        };
        let serial = 100 + i;
        writeln!(log, "type=SYSCALL msg=audit({s}.{ms:03}:{serial}): arch=c000003e syscall=257 {ok} a0=ffffff9c a1=2 a2=0 a3=0 items=1 ppid=1 pid=700 auid={auid} uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=\"data\"").unwrap();
        writeln!(log, "type=PATH msg=audit({s}.{ms:03}:{serial}): item=0 name=\"/data/{i}\" inode=6 dev=fe:00 mode=0100644 ouid=1000 ogid=1000 rdev=00:00 nametype=NORMAL").unwrap();
        writeln!(log, "type=EOE msg=audit({s}.{ms:03}:{serial}):").unwrap();
    }
    log
}

fn count(m: &Value) -> u64 {
    m["suppressed"]["count"].as_str().unwrap().parse().unwrap()
}

#[test]
fn kept_markers_and_sinks_add_up_to_every_event_and_replay_is_repeatable() {
    let d = common::out_dir("rate-limits");
    let input = d.join("audit.log");
    std::fs::write(&input, opens(1000)).unwrap();
    let mut outputs = Vec::new();
    for run in 0..2 {
        let r = d.join(format!("run{run}"));
        std::fs::create_dir_all(&r).unwrap();
        let err = common::replay_config(
            &r,
            &format!(
                "tenants:\n  - name: root\n    match: {{uids: [\"0\"]}}\n    exporters: [root]\n  - name: default\n    rate_limit: {{events_per_s: 20, burst: 5}}\n    filters:\n      - name: failures\n        drop: {{outcome: failure}}\n        exporters: [failures]\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\n  - {{name: root, type: jsonl, path: {d}/root.jsonl}}\n  - {{name: failures, type: jsonl, path: {d}/failures.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\n",
                d = r.display()
            ),
            &input,
        );
        let (kept, root, failures) = (
            common::jsonl(&r.join("out.jsonl")),
            common::jsonl(&r.join("root.jsonl")),
            common::jsonl(&r.join("failures.jsonl")),
        );
        // The uid-0 tenant has no limit: all 100 of its events.
        assert_eq!(root.len(), 100);
        // The default tenant's: 900, of which the failures (i % 7 == 0, uid
        // 1000) go to the filter's sink, untouched by the limit.
        let want_failures = (0..1000).filter(|i| i % 10 != 0 && i % 7 == 0).count();
        assert_eq!(failures.len(), want_failures);
        let (markers, events): (Vec<&Value>, Vec<&Value>) =
            kept.iter().partition(|e| e["action"] == "events-throttled");
        let throttled: u64 = markers.iter().map(|m| count(m)).sum();
        assert_eq!(
            events.len() as u64 + throttled + failures.len() as u64,
            900,
            "kept + throttled + filtered = the tenant's events"
        );
        // 10 s of events: the burst and 20/s, give or take the edges.
        assert!((195..=210).contains(&events.len()), "kept {}", events.len());
        assert!(events.iter().all(|e| e["outcome"] == "success"));
        // Markers come in time order, each after the events it counts and
        // before the next kept one; a long storm is reported every second.
        assert!(markers.len() >= 9, "{}", markers.len());
        let mut last = String::new();
        for e in &kept {
            let t = if e["action"] == "events-throttled" {
                assert_eq!(e["suppressed"]["reason"], "default");
                let (f, l) = (
                    e["suppressed"]["first_time"].as_str().unwrap(),
                    e["suppressed"]["last_time"].as_str().unwrap(),
                );
                assert!(f <= l && last.as_str() <= f, "{e}");
                l.to_string()
            } else {
                e["time"].as_str().unwrap().to_string()
            };
            assert!(last <= t, "{last} then {t}");
            last = t;
        }
        let line = err
            .lines()
            .find(|l| l.starts_with("audex: rate limit of tenant default: "))
            .unwrap_or_else(|| panic!("{err}"));
        assert_eq!(
            line.split_whitespace().nth(6).unwrap(),
            throttled.to_string(),
            "{line}"
        );
        outputs.push(std::fs::read(r.join("out.jsonl")).unwrap());
    }
    assert_eq!(outputs[0], outputs[1], "the event clock replays the same");
}

#[test]
fn validate_names_a_bad_rate_limit_at_its_line() {
    let (code, err) = common::validate_text(
        "rate-limits-validate",
        "tenants:\n  - name: default\n    exporters: [out]\n    rate_limit: {events_per_s: 0}\nexporters:\n  - {name: out, type: jsonl, path: \"-\"}\n",
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(":4:") && err.contains("`rate_limit.events_per_s` must be a number above 0"),
        "{err}"
    );
}

/// `n` identical failed opens of /etc/shadow by pid 800, 10 ms apart.
fn same_opens(n: usize) -> String {
    let mut log = String::new();
    for i in 0..n {
        let (s, ms) = (1_700_000_000 + i / 100, (i % 100) * 10);
        let serial = 100 + i;
        writeln!(log, "type=SYSCALL msg=audit({s}.{ms:03}:{serial}): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=2 a2=0 a3=0 items=1 ppid=1 pid=800 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=\"shadow\"").unwrap();
        writeln!(log, "type=PATH msg=audit({s}.{ms:03}:{serial}): item=0 name=\"/etc/shadow\" inode=6 dev=fe:00 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL").unwrap();
        writeln!(log, "type=EOE msg=audit({s}.{ms:03}:{serial}):").unwrap();
    }
    log
}

#[test]
fn folded_repeats_stand_for_every_identical_event() {
    let d = common::out_dir("fold-repeats");
    let input = d.join("audit.log");
    // 3 s of the same failed open, 100 a second.
    std::fs::write(&input, same_opens(300)).unwrap();
    let err = common::replay_config(
        &d,
        &format!(
            "tenants:\n  - name: default\n    fold_repeats: {{window_ms: 1000}}\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\n",
            d = d.display()
        ),
        &input,
    );
    let evs = common::jsonl(&d.join("out.jsonl"));
    let (repeats, firsts): (Vec<&Value>, Vec<&Value>) =
        evs.iter().partition(|e| e.get("repeat").is_some());
    // A run per second: its first passes at once, the other 99 stand in one
    // repeat event (the first of them, with the span of all).
    assert_eq!(firsts.len(), 3, "{evs:#?}");
    assert_eq!(repeats.len(), 3, "{evs:#?}");
    let folded: u64 = repeats
        .iter()
        .map(|r| {
            assert_eq!(r["action"], "opened");
            assert_eq!(r["files"][0]["path"], "/etc/shadow");
            assert!(r["repeat"]["first_time"].as_str() < r["repeat"]["last_time"].as_str());
            r["repeat"]["count"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(firsts.len() as u64 + folded, 300, "passed + folded = seen");
    assert!(
        err.contains("repeat folding (default): 297 events stand in repeat events"),
        "{err}"
    );
}

#[test]
fn a_folding_filter_folds_what_it_takes_and_lets_the_rest_by() {
    let d = common::out_dir("fold-filter");
    let input = d.join("audit.log");
    let mut log = same_opens(300);
    // One more event the filter does not take (another path).
    log.push_str(
        &same_opens(1)
            .replace("/etc/shadow", "/etc/hosts")
            .replace("1700000000.000:100", "1700000003.000:400"),
    );
    std::fs::write(&input, log).unwrap();
    let err = common::replay_config(
        &d,
        &format!(
            "filters:\n  - name: shadow-reads\n    drop: {{paths: [/etc/shadow]}}\n    fold_repeats: {{window_ms: 1000}}\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\n",
            d = d.display()
        ),
        &input,
    );
    let evs = common::jsonl(&d.join("out.jsonl"));
    let shadow: Vec<&Value> = evs
        .iter()
        .filter(|e| e["files"][0]["path"] == "/etc/shadow")
        .collect();
    let folded: u64 = shadow
        .iter()
        .filter_map(|e| e["repeat"]["count"].as_str())
        .map(|c| c.parse::<u64>().unwrap())
        .sum();
    let firsts = shadow.iter().filter(|e| e.get("repeat").is_none()).count();
    assert_eq!((firsts, folded), (3, 297), "{evs:#?}");
    assert!(shadow.iter().all(|e| e["tenant"] == "default"));
    assert_eq!(evs.len(), 3 + 3 + 1, "the other path passes untouched");
    assert!(
        err.contains("repeat folding (shadow-reads): 297 events stand in repeat events"),
        "{err}"
    );
}
