//! Golden files: logs captured from this machine's real kernel by
//! tests/golden/capture.sh, replayed and compared with the expected JSON.
//! `AUDEX_REGENERATE_GOLDEN=1 cargo test -p audex --test golden` rewrites them.
//!
//! Besides the snapshot, each workload action (tests/golden/*.workload.txt:
//! action, pid, path) is matched to its event by pid and checked for meaning.
mod common;
use common::workload::{self, Names};
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

#[test]
fn workload_actions_are_understood() {
    // The kernel captures list each action with its pid; the compliance capture
    // (tests/golden/compliance.log) is checked by tests/compliance_report.rs.
    let with_actions: Vec<PathBuf> = logs()
        .into_iter()
        .filter(|l| l.with_extension("workload.txt").exists())
        .collect();
    assert!(with_actions.len() >= 2, "{with_actions:?}");
    for log in with_actions {
        let names = if log.to_string_lossy().contains("enriched") {
            Names::Enriched
        } else {
            Names::Absent
        };
        let events: Vec<Value> = replay(&log)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let actions =
            workload::parse(&std::fs::read_to_string(log.with_extension("workload.txt")).unwrap());
        workload::check(&events, &actions, names, &log.display().to_string());
    }
}
