//! Filters on the real kernel, under `audex run`: one shell opens a watched
//! file 500 times (`: < file`, a builtin: the same pid each time) while the
//! known-pid workload runs in the same directory. A filter suppressing that
//! shell's opens of the file, with `keep_first_per_process`, lets exactly one
//! of the 500 through with every workload event; its suppression exporter
//! gets the other 499 and nothing else; the metric and the stop say 499.
//! A tenant rate limit over the same shell counts what it holds back.
mod common;

use common::workload::{self, Names};
use serde_json::Value;
use std::path::Path;

fn opens_of(events: &[Value], pid: u64, path: &str) -> usize {
    events
        .iter()
        .filter(|e| {
            e["process"]["pid"].as_u64() == Some(pid)
                && e["action"] == "opened"
                && e["files"]
                    .as_array()
                    .is_some_and(|fs| fs.iter().any(|f| f["path"] == path))
        })
        .count()
}

/// One bash opening `hot` 500 times (`: < file`, a builtin: the same pid
/// each time), in a thread; joins to its pid.
fn noisy_shell(hot: &Path) -> std::thread::JoinHandle<u64> {
    let hot = hot.to_path_buf();
    std::thread::spawn(move || {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg("for i in $(seq 500); do : < \"$1\"; done; echo $$")
            .arg("noisy")
            .arg(&hot)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    })
}

/// `audex run` with `cfg` (installing `rules` rules): the noisy shell on
/// `hot` beside the known-pid workload in `work`, then the stop. The shell's
/// pid, the workload's actions, and the metrics page before the stop.
fn run_noisy_beside_workload(
    cfg: &Path,
    rules: usize,
    hot: &Path,
    work: &Path,
    metrics_port: u16,
) -> (u64, Vec<workload::Action>, String) {
    let (w, _rx, line) = common::watch::start_watch(&["run", "--config", cfg.to_str().unwrap()]);
    assert!(line.contains(&format!("{rules} rules")), "{line}");
    let noisy = noisy_shell(hot);
    let actions = common::watch::workload_actions(work);
    let noisy_pid = noisy.join().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let page = common::http::get(metrics_port, "/metrics").1;
    let (log, status) = common::watch::stop(w);
    assert!(status.success(), "{log}");
    (noisy_pid, actions, page)
}

#[test]
fn a_filter_keeps_the_first_open_of_a_noisy_shell_and_hands_the_rest_to_its_exporter() {
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let watched = kt.dir.join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    let hot = watched.join("hot.txt");
    std::fs::write(&hot, "x\n").unwrap();
    let mport = common::receiver::free_port();
    let cfg = kt.dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules:\n  watch:\n    - {{path: {w}, perm: rwxa, key: audex-filter-test}}\nenrich: {{peer_processes: []}}\nfilters:\n  - name: hot-reads\n    drop: {{exe: [bash], actions: [opened], paths: [\"{h}\"]}}\n    keep_first_per_process: true\n    exporters: [suppressed]\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\n  - {{name: suppressed, type: jsonl, path: {d}/suppressed.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\nmetrics: {{listen: \"127.0.0.1:{mport}\"}}\n",
            w = watched.display(),
            h = hot.display(),
            d = kt.dir.display()
        ),
    )
    .unwrap();
    let (noisy_pid, actions, page) = run_noisy_beside_workload(&cfg, 1, &hot, &watched, mport);

    let out = common::jsonl(&kt.dir.join("out.jsonl"));
    let suppressed = common::jsonl(&kt.dir.join("suppressed.jsonl"));
    let hot = hot.to_str().unwrap();
    assert_eq!(opens_of(&out, noisy_pid, hot), 1, "the first open passes");
    workload::check(&out, &actions, Names::Host, "the tenant's exporter");
    assert_eq!(suppressed.len(), 499, "the suppression exporter: the rest");
    assert_eq!(
        opens_of(&suppressed, noisy_pid, hot),
        499,
        "and nothing else"
    );
    // Suppressed events are the tenant's copies, whole.
    assert!(suppressed.iter().all(|e| e["tenant"] == "default"
        && e["keys"][0] == "audex-filter-test"
        && e["process"]["exe"]
            .as_str()
            .is_some_and(|x| x.ends_with("/bash"))));
    assert_eq!(
        common::http::metric(
            &page,
            "audex_events_dropped_total{stage=\"filter\",reason=\"hot-reads\"}"
        ),
        499.0,
        "{page}"
    );
    assert!(kt.rules_text().trim() == "No rules", "{}", kt.rules_text());
}

/// The same noisy shell under a tenant with `rate_limit: {events_per_s: 50}`
/// (its watch's key routes it there; the workload's goes to `default`): the
/// tenant's exporter gets the burst and what the rate refills, and
/// `events-throttled` markers whose counts add up with the kept opens to
/// exactly the 500 the shell made; the workload passes untouched; the metric
/// counts what the markers count.
#[test]
fn a_rate_limit_keeps_a_burst_and_counts_every_event_it_holds_back_in_markers() {
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let hot_dir = kt.dir.join("hot");
    let work = kt.dir.join("work");
    std::fs::create_dir_all(&hot_dir).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let hot = hot_dir.join("hot.txt");
    std::fs::write(&hot, "x\n").unwrap();
    let mport = common::receiver::free_port();
    let cfg = kt.dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules:\n  watch:\n    - {{path: {h}, perm: rwxa, key: audex-throttle-hot}}\n    - {{path: {w}, perm: rwxa, key: audex-throttle-work}}\nenrich: {{peer_processes: []}}\ntenants:\n  - name: noisy\n    match: {{keys: [audex-throttle-hot]}}\n    rate_limit: {{events_per_s: 50}}\n    exporters: [limited]\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\n  - {{name: limited, type: jsonl, path: {d}/limited.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\nmetrics: {{listen: \"127.0.0.1:{mport}\"}}\n",
            h = hot_dir.display(),
            w = work.display(),
            d = kt.dir.display()
        ),
    )
    .unwrap();
    let (noisy_pid, actions, page) = run_noisy_beside_workload(&cfg, 2, &hot, &work, mport);

    let out = common::jsonl(&kt.dir.join("out.jsonl"));
    let limited = common::jsonl(&kt.dir.join("limited.jsonl"));
    workload::check(&out, &actions, Names::Host, "the unlimited tenant");
    let hot = hot.to_str().unwrap();
    let kept = opens_of(&limited, noisy_pid, hot);
    let markers: Vec<&Value> = limited
        .iter()
        .filter(|e| e["action"] == "events-throttled")
        .collect();
    assert_eq!(
        kept + markers.len(),
        limited.len(),
        "the limited exporter holds the shell's opens and markers only"
    );
    let counted: u64 = markers
        .iter()
        .map(|m| {
            assert_eq!(m["category"], "audit");
            assert_eq!(m["tenant"], "noisy");
            assert_eq!(m["suppressed"]["reason"], "noisy");
            assert!(
                m["suppressed"]["first_time"].as_str() <= m["suppressed"]["last_time"].as_str()
            );
            m["suppressed"]["count"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        kept as u64 + counted,
        500,
        "kept + throttled = every open, exactly"
    );
    assert!(
        !markers.is_empty() && (50..500).contains(&kept),
        "kept {kept}"
    );
    assert_eq!(
        common::http::metric(
            &page,
            "audex_events_dropped_total{stage=\"throttle\",reason=\"noisy\"}"
        ),
        counted as f64,
        "{page}"
    );
    assert!(kt.rules_text().trim() == "No rules", "{}", kt.rules_text());
}
