//! Process labels on the real kernel, under `audex run`: a shell labelled by
//! its program (`exe: [labelled-sh]`) runs `touch` (fork + exec) and another
//! shell that runs `touch` again; every one of their events carries the label
//! (inherited across fork and exec through the process cache), the same
//! programs run outside the labelled shell carry none, and a filter on the
//! label hands exactly the labelled events to its exporter.
mod common;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn labels(e: &Value) -> Vec<String> {
    e["process"]["labels"]
        .as_array()
        .map(|a| a.iter().map(|l| l.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Events of `exe` (a path under the watched directory) naming `path`.
fn of<'a>(events: &'a [Value], exe: &Path, path: &Path) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| {
            e["process"]["exe"] == exe.to_str().unwrap()
                && e["files"].as_array().is_some_and(|fs| {
                    fs.iter()
                        .any(|f| f["path"].as_str() == Some(path.to_str().unwrap()))
                })
        })
        .collect()
}

#[test]
fn a_labelled_shell_passes_its_label_to_children_and_grandchildren() {
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let w = kt.dir.join("w");
    std::fs::create_dir_all(&w).unwrap();
    // Copies of the programs, in the watched directory: their execs are
    // events (perm x), so the process tree is in the stream.
    let (lsh, sh, touch) = (w.join("labelled-sh"), w.join("sh"), w.join("touch"));
    for (from, to) in [
        ("/bin/dash", &lsh),
        ("/bin/dash", &sh),
        ("/usr/bin/touch", &touch),
    ] {
        std::fs::copy(from, to).unwrap();
    }
    let cfg = kt.dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules:\n  watch:\n    - {{path: {w}, perm: rwxa, key: audex-labels-test}}\nenrich: {{peer_processes: []}}\nlabels:\n  - {{name: marked, exe: [labelled-sh]}}\nfilters:\n  - name: marked-only\n    drop: {{labels: [marked]}}\n    exporters: [marked]\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\n  - {{name: marked, type: jsonl, path: {d}/marked.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\n",
            w = w.display(),
            d = kt.dir.display()
        ),
    )
    .unwrap();
    let (run, _rx, line) = common::watch::start_watch(&["run", "--config", cfg.to_str().unwrap()]);
    assert!(line.contains("1 rules"), "{line}");
    let (a, b, c) = (w.join("a"), w.join("b"), w.join("c"));
    let script = format!(
        "{t} {a}; {sh} -c '{t} {b}; true'; true",
        t = touch.display(),
        a = a.display(),
        b = b.display(),
        sh = sh.display()
    );
    let ok = Command::new(&lsh).arg("-c").arg(&script).status().unwrap();
    assert!(ok.success());
    let control = format!("{} {}; true", touch.display(), c.display());
    assert!(Command::new(&sh)
        .arg("-c")
        .arg(&control)
        .status()
        .unwrap()
        .success());
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let (log, status) = common::watch::stop(run);
    assert!(status.success(), "{log}");

    let out = common::jsonl(&kt.dir.join("out.jsonl"));
    let marked = common::jsonl(&kt.dir.join("marked.jsonl"));
    // The labelled shell's exec, its touch of a, its shell's exec and that
    // shell's touch of b: each with the label.
    let execs_of = |events: &[Value], exe: &Path| -> usize {
        events
            .iter()
            .filter(|e| e["action"] == "executed" && e["process"]["exe"] == exe.to_str().unwrap())
            .count()
    };
    assert_eq!(execs_of(&marked, &lsh), 1, "{marked:#?}");
    assert!(!of(&marked, &touch, &a).is_empty(), "child: {marked:#?}");
    assert_eq!(execs_of(&marked, &sh), 1, "grandchild shell: {marked:#?}");
    assert!(
        !of(&marked, &touch, &b).is_empty(),
        "grandchild: {marked:#?}"
    );
    assert!(
        marked.iter().all(|e| labels(e) == ["marked"]),
        "{marked:#?}"
    );
    // The same programs outside it: no label, not filtered.
    assert!(!of(&out, &touch, &c).is_empty(), "control: {out:#?}");
    assert_eq!(execs_of(&out, &sh), 1, "control shell: {out:#?}");
    assert!(out.iter().all(|e| labels(e).is_empty()), "{out:#?}");
    assert!(of(&out, &touch, &a).is_empty() && of(&out, &touch, &b).is_empty());
    assert!(kt.rules_text().trim() == "No rules", "{}", kt.rules_text());
}
