//! The workload of tests/kernel/workload.sh and what each of its actions must
//! look like as an event (used by the golden test and the live kernel test).
#![allow(dead_code)]
use serde_json::Value;

/// One action the workload reported: what, by which pid, on which path.
pub struct Action {
    pub action: String,
    pub pid: u64,
    pub path: String,
}

/// How actor names are expected.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// From the log's ENRICHED part.
    Enriched,
    /// None (RAW log replayed with --no-names).
    Absent,
    /// Resolved from this host's passwd (live `audex watch`, which shows only
    /// the events of its own rules).
    Host,
}

pub fn parse(text: &str) -> Vec<Action> {
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

fn host_user(uid: u32) -> Option<String> {
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
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

/// Checks every action against its events (matched by pid).
pub fn check(events: &[Value], actions: &[Action], names: Names, source: &str) {
    assert!(actions.len() >= 17, "{source}: workload incomplete");
    for a in actions {
        let evs = events_of(a.pid, events);
        let ctx = format!("{source}: {} pid {} {}", a.action, a.pid, a.path);
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
            "changed-mode" | "changed-owner" | "linked" | "truncated" | "changed-timestamps"
            | "changed-attributes" => {
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
                match names {
                    Names::Enriched => {
                        assert_eq!(e["actor"]["uid_name"], "nobody", "{ctx}: ENRICHED name");
                        assert!(
                            !e["actor"]["auid_name"].as_str().unwrap_or("").is_empty(),
                            "{ctx}"
                        );
                    }
                    Names::Absent => {
                        assert!(e["actor"].get("uid_name").is_none(), "{ctx}: no names")
                    }
                    Names::Host => {
                        assert_eq!(
                            e["actor"]["uid_name"].as_str().map(str::to_string),
                            host_user(65534),
                            "{ctx}"
                        );
                        assert_eq!(
                            e["actor"]["auid_name"].as_str().map(str::to_string),
                            host_user(1000),
                            "{ctx}"
                        );
                    }
                }
                // The loginuid write that preceded it (a LOGIN record outside any
                // rule: only in unfiltered sources such as auditd's log).
                if names != Names::Host {
                    let login = find("changed-login-id");
                    assert_eq!(login["actor"]["auid"], 1000);
                }
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
    for e in events {
        assert!(e.get("lost").is_none(), "{source}: unexpected loss {e}");
        assert!(!e["category"].as_str().unwrap().is_empty());
        assert!(!e["action"].as_str().unwrap().is_empty());
    }
}
