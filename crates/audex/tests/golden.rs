//! Golden files: logs captured from this machine's real kernel by
//! tests/golden/capture.sh, replayed and compared with the expected JSON.
//! `AUDEX_REGENERATE_GOLDEN=1 cargo test -p audex --test golden` rewrites them.
//!
//! Besides the snapshot, each workload action (tests/golden/*.workload.txt:
//! action, pid, path) is matched to its event by pid and checked for meaning.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

fn replay(log: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "--no-names", "--quiet"])
        .arg(log)
        .output()
        .expect("run audex replay");
    assert!(
        out.status.success(),
        "replay {} failed: {}",
        log.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn logs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 2,
        "golden logs missing in {}",
        golden_dir().display()
    );
    v
}

#[test]
fn replay_matches_golden_json() {
    let regenerate = std::env::var_os("AUDEX_REGENERATE_GOLDEN").is_some();
    for log in logs() {
        let got = replay(&log);
        let expected_path = log.with_extension("json");
        if regenerate {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with AUDEX_REGENERATE_GOLDEN=1)",
                expected_path.display()
            )
        });
        for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
            assert_eq!(g, e, "{}: event {} differs", log.display(), i + 1);
        }
        assert_eq!(
            got.lines().count(),
            expected.lines().count(),
            "{}: event count",
            log.display()
        );
    }
}

struct Action {
    action: String,
    pid: u64,
    path: String,
}

fn workload(log: &Path) -> Vec<Action> {
    let text = std::fs::read_to_string(log.with_extension("workload.txt")).unwrap();
    text.lines()
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            Action {
                action: it.next().unwrap().into(),
                pid: it.next().unwrap().parse().unwrap(),
                path: it.next().unwrap().into(),
            }
        })
        .collect()
}

fn events_of(pid: u64, events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["process"]["pid"].as_u64() == Some(pid))
        .collect()
}

fn has_file(e: &Value, path: &str, nametype: &str) -> bool {
    e["files"].as_array().is_some_and(|fs| {
        fs.iter()
            .any(|f| f["path"] == path && f["nametype"] == nametype)
    })
}

#[test]
fn workload_actions_are_understood() {
    for log in logs() {
        let enriched = log.to_string_lossy().contains("enriched");
        let events: Vec<Value> = replay(&log)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let actions = workload(&log);
        assert!(
            actions.len() >= 17,
            "workload incomplete in {}",
            log.display()
        );
        for a in &actions {
            let evs = events_of(a.pid, &events);
            let ctx = format!("{}: {} pid {} {}", log.display(), a.action, a.pid, a.path);
            assert!(!evs.is_empty(), "{ctx}: no event");
            let find = |action: &str| -> &Value {
                evs.iter()
                    .find(|e| e["action"] == action)
                    .copied()
                    .unwrap_or_else(|| panic!("{ctx}: no {action} event in {evs:?}"))
            };
            match a.action.as_str() {
                "created" | "created-relative" | "created-odd-name" => {
                    let e = find("created");
                    assert!(has_file(e, &a.path, "CREATE"), "{ctx}: {e}");
                    assert_eq!(e["outcome"], "success");
                    if a.action == "created-relative" {
                        let f = e["files"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|f| f["nametype"] == "CREATE")
                            .unwrap();
                        assert_eq!(
                            f["name"], "../rel.txt",
                            "{ctx}: the kernel's relative name is kept"
                        );
                    }
                }
                "opened-write" | "opened-read" => {
                    let e = find("opened");
                    assert_eq!(
                        e["access"],
                        if a.action == "opened-write" {
                            "write"
                        } else {
                            "read"
                        },
                        "{ctx}"
                    );
                    assert!(has_file(e, &a.path, "NORMAL"), "{ctx}");
                }
                "changed-mode" | "changed-owner" | "linked" | "truncated"
                | "changed-timestamps" | "changed-attributes" => {
                    let e = find(&a.action);
                    let paths: Vec<&str> = e["files"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f["path"].as_str().unwrap())
                        .collect();
                    assert!(
                        paths.contains(&a.path.as_str()) || a.action == "linked",
                        "{ctx}: {paths:?}"
                    );
                    assert_eq!(e["category"], "file");
                }
                "renamed" => {
                    let e = find("renamed");
                    let from = a.path.replace("renamed.txt", "created.txt");
                    assert!(has_file(e, &from, "DELETE"), "{ctx}: old name");
                    assert!(has_file(e, &a.path, "CREATE"), "{ctx}: new name");
                }
                "created-dir" => assert!(has_file(find("created"), &a.path, "CREATE"), "{ctx}"),
                "deleted-dir" | "deleted-odd-name" | "deleted" => {
                    assert!(has_file(find("deleted"), &a.path, "DELETE"), "{ctx}")
                }
                "executed" => {
                    let e = find("executed");
                    let args: Vec<&str> = e["process"]["args"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap())
                        .collect();
                    assert_eq!(args.len(), 405, "{ctx}: argc");
                    assert_eq!(args[0], a.path);
                    assert_eq!(args[1..4], ["first", "with space", "quote\"d"]);
                    assert_eq!(
                        args[4],
                        "x".repeat(9000),
                        "{ctx}: the split argument is joined"
                    );
                    assert_eq!(args[404], "400");
                    let cl = e["process"]["command_line"].as_str().unwrap();
                    assert!(cl.len() > 8192, "{ctx}: command line over 8 KiB");
                    assert!(has_file(e, &a.path, "NORMAL"));
                    assert!(
                        !e["process"]["title"].as_str().unwrap().is_empty(),
                        "{ctx}: proctitle"
                    );
                }
                "failed-open" => {
                    let e = find("opened");
                    assert_eq!(e["outcome"], "failure", "{ctx}");
                    assert_eq!(e["syscall"]["errno"], "EACCES", "{ctx}");
                    assert_eq!(e["syscall"]["exit"], "-13", "{ctx}");
                    assert_eq!(e["actor"]["auid"], 1000, "{ctx}");
                    assert_eq!(e["actor"]["uid"], 65534, "{ctx}");
                    assert_eq!(e["actor"]["euid"], 65534, "{ctx}");
                    if enriched {
                        assert_eq!(e["actor"]["uid_name"], "nobody", "{ctx}: ENRICHED name");
                        assert!(
                            !e["actor"]["auid_name"].as_str().unwrap_or("").is_empty(),
                            "{ctx}"
                        );
                    } else {
                        assert!(
                            e["actor"].get("uid_name").is_none(),
                            "{ctx}: --no-names on a RAW log"
                        );
                    }
                    // The loginuid write that preceded it.
                    let login = find("changed-login-id");
                    assert_eq!(login["actor"]["auid"], 1000);
                }
                other => panic!("{ctx}: unknown workload action {other}"),
            }
            for e in &evs {
                assert!(e["actor"].get("auid").is_none() || e["actor"]["auid"] != 4294967295u64);
                assert!(e["id"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!(":{}", e["serial"].as_str().unwrap())));
            }
        }
        // Nothing lost, nothing out of the vocabulary's shape.
        for e in &events {
            assert!(
                e.get("lost").is_none(),
                "{}: unexpected loss {e}",
                log.display()
            );
            assert!(!e["category"].as_str().unwrap().is_empty());
            assert!(!e["action"].as_str().unwrap().is_empty());
        }
    }
}
