//! Archives written by the real `protobuf_file` exporter, and `audex verify`
//! over them, for the verify tests.
#![allow(dead_code)]
use audex_compliance::verify::{read_checkpoints, verify_with, Evidence, Kind, Verdict};
use audex_export::archive::chain::{view, ChainKey};
use audex_export::archive::reader::{records, segment_files};
use audex_export::ProtobufFile;
use audex_proto::v1::{AuditEvent, File, Lost, Process};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const KEY: &[u8] = b"test chain key, 32 bytes long!!!";

pub fn event(i: u64) -> AuditEvent {
    AuditEvent {
        id: format!("host-a:{i}"),
        serial: 1000 + i,
        node: "host-a".into(),
        category: "file".into(),
        action: "opened".into(),
        outcome: "success".into(),
        keys: vec!["pci-identity".into()],
        process: Some(Process {
            pid: Some(4000 + i as u32),
            exe: "/usr/bin/cat".into(),
            command_line: format!("cat /etc/file-{i}"),
            ..Default::default()
        }),
        files: vec![File {
            path: format!("/etc/file-{i}"),
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn lost_event(i: u64) -> AuditEvent {
    AuditEvent {
        id: format!("host-a:lost:{i}"),
        node: "host-a".into(),
        category: "audit".into(),
        action: "records-lost".into(),
        lost: Some(Lost {
            count: 7,
            first_serial: 1000 + i,
            last_serial: 1006 + i,
            source: "kernel".into(),
        }),
        ..Default::default()
    }
}

/// The archive exporter as `run` starts it on `dir` (4 KiB segments).
pub fn writer(dir: &Path) -> ProtobufFile {
    ProtobufFile::new(
        "archive",
        dir,
        4096,
        Duration::from_secs(3600),
        Some(ChainKey::from_bytes(KEY)),
    )
    .unwrap()
}

/// One run of the exporter writing `events` in batches of 10, then stopping.
pub fn archive(dir: &Path, events: &[AuditEvent]) {
    let mut x = writer(dir);
    for batch in events.chunks(10) {
        x.write_batch(batch).unwrap();
    }
}

/// `audex verify DIR`: the segments and the directory's chain-heads file.
pub fn check(dir: &Path) -> Verdict {
    check_with(dir, None)
}

pub fn check_with(dir: &Path, checkpoints: Option<&Path>) -> Verdict {
    let key = ChainKey::from_bytes(KEY);
    let paths = [dir.to_path_buf()];
    let files = segment_files(&paths).unwrap();
    let evidence = Evidence {
        heads: Evidence::heads_of(&key, &paths).unwrap(),
        checkpoints: checkpoints.map(|p| read_checkpoints(&key, p).unwrap()),
    };
    verify_with(&key, &files, &evidence).unwrap()
}

pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("audex-verify-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// (offset, end, seq) of each record of a segment.
pub fn layout(path: &Path) -> Vec<(usize, usize, u64)> {
    let buf = std::fs::read(path).unwrap();
    records(&buf)
        .map(|r| {
            let r = r.unwrap();
            let seq = view(r.bytes).unwrap().chain.unwrap().0;
            (r.offset as usize, r.end as usize, seq)
        })
        .collect()
}

pub fn events(n: u64) -> Vec<AuditEvent> {
    (0..n).map(event).collect()
}

pub fn only(v: &Verdict) -> (Kind, u64, u64) {
    assert_eq!(v.problems.len(), 1, "{}", v.to_text());
    let p = &v.problems[0];
    assert!(!v.intact);
    (p.kind, p.first_seq, p.last_seq)
}

/// The archive's segment files, oldest first.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    segment_files(&[dir.to_path_buf()]).unwrap()
}
