//! The archive's tail as a user meets it through the CLI: a chained archive
//! beside a JSON-lines exporter gets the archive's checkpoints in its stream;
//! `audex verify --checkpoints` passes the intact archive and, with exit 1, names
//! the range of a cut newest segment even with chain-heads deleted; a
//! checkpoints file that is not JSON is exit 2; `audex report` states whether
//! it verified; archive and spool files are private; `validate` warns about a
//! key file others can read.
mod common;

use common::{audex, out_dir, repo};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Replays the compliance capture into DIR/archive (chained, small segments,
/// checkpoints at each seal) and DIR/siem.jsonl; the config's path.
fn replay(dir: &Path) -> PathBuf {
    let key = dir.join("chain.key");
    std::fs::write(&key, b"0123456789abcdef0123456789abcdef\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "tenants:\n  - name: default\n    exporters: [archive, siem]\n\
             exporters:\n  - {{name: archive, type: protobuf_file, path: {0}/archive, max_segment_bytes: 8192, chain_key_file: {0}/chain.key, checkpoint_interval_s: 0}}\n\
             \x20 - {{name: siem, type: jsonl, path: {0}/siem.jsonl}}\n\
             spool: {{dir: {0}/spool, max_bytes: 67108864}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let out = audex()
        .args(["replay", "-q", "--node", "pci-host-1", "--config"])
        .arg(&cfg)
        .arg(repo().join("tests/golden/compliance.log"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    cfg
}

fn verify(dir: &Path, checkpoints: bool) -> Output {
    let mut c = audex();
    c.args(["verify", "--key-file"]).arg(dir.join("chain.key"));
    if checkpoints {
        c.arg("--checkpoints").arg(dir.join("siem.jsonl"));
    }
    c.arg(dir.join("archive")).output().unwrap()
}

fn checkpoints(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("siem.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["action"] == "archive-checkpoint")
        .collect()
}

fn segments(archive: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pb"))
        .collect();
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn checkpoints_reach_the_siem_and_verify_measures_a_cut_with_them() {
    let dir = out_dir("archive-tail-cut");
    replay(&dir);
    let cps = checkpoints(&dir);
    let archive = dir.join("archive");
    assert!(segments(&archive).len() >= 4, "several segments");
    assert!(
        cps.len() >= segments(&archive).len(),
        "a checkpoint per seal"
    );
    let heads = std::fs::read_to_string(archive.join("chain-heads")).unwrap();
    let head: u64 = heads.split(' ').nth(1).unwrap().parse().unwrap();
    let last_cp: u64 = cps.last().unwrap()["data"]["sequence"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(last_cp, head, "the last checkpoint is the head at the end");
    assert_eq!(cps.last().unwrap()["node"], "pci-host-1");

    let ok = verify(&dir, true);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(
        text(&ok).contains(&format!(
            "checkpoints: {0} given, {0} authentic, {0} match",
            cps.len()
        )),
        "{}",
        text(&ok)
    );

    // Private files: the archive, its heads, the spool.
    assert_eq!(mode(&archive), 0o700);
    assert_eq!(mode(&archive.join("chain-heads")), 0o600);
    for s in segments(&archive) {
        assert_eq!(mode(&s), 0o600, "{}", s.display());
    }
    assert_eq!(mode(&dir.join("spool/archive")), 0o700);
    for e in std::fs::read_dir(dir.join("spool/siem")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }

    // The newest segment and chain-heads deleted.
    let files = segments(&archive);
    let newest = files.last().unwrap();
    let before = &files[files.len() - 2];
    std::fs::remove_file(newest).unwrap();
    std::fs::remove_file(archive.join("chain-heads")).unwrap();
    let without = verify(&dir, false);
    assert_eq!(without.status.code(), Some(1), "{}", text(&without));
    assert!(
        text(&without).contains("chain-heads file is missing"),
        "{}",
        text(&without)
    );
    let with = verify(&dir, true);
    assert_eq!(with.status.code(), Some(1), "{}", text(&with));
    // The range runs from just after the kept segment to the last checkpoint.
    let kept_last = {
        let o = audex()
            .args(["verify", "--json", "--key-file"])
            .arg(dir.join("chain.key"))
            .arg(before)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["chains"][0]["last_seq"].as_u64().unwrap()
    };
    assert!(
        text(&with).contains(&format!(
            "TRUNCATED  node pci-host-1 seq {}..{head}",
            kept_last + 1
        )),
        "{}",
        text(&with)
    );

    // The report says it is not intact.
    let rep = dir.join("report.json");
    let o = audex()
        .args(["report", "--format", "json", "--input"])
        .arg(&archive)
        .arg("--key-file")
        .arg(dir.join("chain.key"))
        .arg("-o")
        .arg(&rep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&rep).unwrap()).unwrap();
    assert_eq!(r["integrity"]["verified"], true);
    assert_eq!(r["integrity"]["intact"], false);
    assert!(r["integrity"]["findings"][0]
        .as_str()
        .unwrap()
        .contains("TRUNCATED"));
}

#[test]
fn a_checkpoints_file_that_is_not_json_cannot_be_checked() {
    let dir = out_dir("archive-tail-bad-json");
    replay(&dir);
    let f = dir.join("siem.jsonl");
    let mut t = std::fs::read_to_string(&f).unwrap();
    t.push_str("{\"action\": \"archive-checkpoint\", \n");
    std::fs::write(&f, t).unwrap();
    let o = verify(&dir, true);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not a JSON event"), "{}", text(&o));
}

#[test]
fn a_report_says_whether_it_verified() {
    let dir = out_dir("archive-tail-report");
    replay(&dir);
    let html = dir.join("report.html");
    let report = |key: bool| {
        let mut c = audex();
        c.args(["report", "--input"]).arg(dir.join("archive"));
        if key {
            c.arg("--key-file").arg(dir.join("chain.key"));
        }
        let o = c.arg("-o").arg(&html).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        (text(&o), std::fs::read_to_string(&html).unwrap())
    };
    let (said, page) = report(false);
    assert!(said.contains("NOT VERIFIED"), "{said}");
    assert!(page.contains("NOT VERIFIED"), "the report itself warns");
    let (_, page) = report(true);
    assert!(page.contains("Verified with the chain key: the archive is intact"));
    assert!(!page.contains("NOT VERIFIED"));
}

#[test]
fn validate_warns_about_a_key_file_others_can_read() {
    let dir = out_dir("archive-tail-validate");
    let cfg = replay(&dir);
    let key = dir.join("chain.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let validate = || {
        audex()
            .arg("validate")
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap()
    };
    let o = validate();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("chain key file") && text(&o).contains("mode 0644"),
        "{}",
        text(&o)
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = validate();
    assert!(!text(&o).contains("warning"), "{}", text(&o));
}
