//! protobuf_file rotates by size and age and every segment decodes back to the
//! events, in order; jsonl appends the event contract; both survive a reopen.
mod common;
use audex_export::delivery::Exporter;
use audex_export::{JsonLinesFile, ProtobufFile};
use audex_proto::v1::AuditEvent;
use common::*;
use prost::Message;
use std::time::Duration;

fn read_archive(dir: &std::path::Path) -> (usize, Vec<AuditEvent>) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "pb")),
        "closed segments only: {files:?}"
    );
    let mut out = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let mut b = data.as_slice();
        while !b.is_empty() {
            out.push(AuditEvent::decode_length_delimited(&mut b).unwrap());
        }
    }
    (files.len(), out)
}

#[test]
fn archive_rotates_and_reads_back_in_order() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tmp("archive");
    let events = golden_events();
    {
        let mut a =
            ProtobufFile::new("archive", &dir, 4096, Duration::from_secs(3600), None).unwrap();
        for chunk in events.chunks(5) {
            rt.block_on(a.export(chunk)).unwrap();
        }
    }
    let (segments, back) = read_archive(&dir);
    assert!(segments > 2, "rotated by size: {segments}");
    assert_eq!(back, events);
    // Age: every batch after the age passes opens a new segment.
    let dir2 = tmp("archive-age");
    {
        let mut a =
            ProtobufFile::new("archive", &dir2, 1 << 30, Duration::from_millis(1), None).unwrap();
        for chunk in events.chunks(10) {
            std::thread::sleep(Duration::from_millis(5));
            rt.block_on(a.export(chunk)).unwrap();
        }
    }
    let (segments, back) = read_archive(&dir2);
    assert_eq!(segments, events.len().div_ceil(10));
    assert_eq!(back, events);
}

/// A restart in the same millisecond as the last run's newest segment (or
/// with the clock behind it) still names its segments after that one: here
/// the last run's segment is renamed far into the future.
#[test]
fn a_restart_names_its_segments_after_the_last_runs() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tmp("archive-restart");
    let events = golden_events();
    let (first, rest) = events.split_at(events.len() / 2);
    let open = || ProtobufFile::new("archive", &dir, 1 << 30, Duration::from_secs(3600), None);
    {
        let mut a = open().unwrap();
        rt.block_on(a.export(first)).unwrap();
    }
    let (segments, _) = read_archive(&dir);
    assert_eq!(segments, 1);
    let old = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::rename(&old, dir.join("audex-9999999999999-000001.pb")).unwrap();
    {
        let mut a = open().unwrap();
        rt.block_on(a.export(rest)).unwrap();
    }
    let (segments, back) = read_archive(&dir);
    assert_eq!(segments, 2);
    assert_eq!(
        back, events,
        "the restart's segment sorts after the last run's"
    );
}

#[test]
fn jsonl_appends_the_contract() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = tmp("jsonl").join("events.jsonl");
    let events = golden_events();
    for half in events.chunks(events.len() / 2 + 1) {
        let mut j = JsonLinesFile::new("debug", &f).unwrap();
        rt.block_on(j.export(half)).unwrap();
    }
    let text = std::fs::read_to_string(&f).unwrap();
    let back: Vec<AuditEvent> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, events);
    assert!(
        JsonLinesFile::new("x", std::path::Path::new("/nonexistent/dir/f.jsonl"))
            .err()
            .unwrap()
            .contains("/nonexistent/dir/f.jsonl")
    );
}

/// jsonl spools finished lines; delivery writes them as they are, and a protobuf
/// entry (spooled by an older audex) is still written as its JSON line.
#[test]
fn jsonl_spooled_lines_equal_exported_lines() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = tmp("jsonl-spooled");
    let events = golden_events();
    let direct = dir.join("direct.jsonl");
    rt.block_on(JsonLinesFile::new("d", &direct).unwrap().export(&events))
        .unwrap();
    let spooled = dir.join("spooled.jsonl");
    let mut j = JsonLinesFile::new("s", &spooled).unwrap();
    let mut entries: Vec<(u64, bytes::Bytes)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut b = Vec::new();
            j.encoder().encode(e, &mut b);
            assert_eq!(b.first(), Some(&b'{'), "a JSON line is spooled");
            (i as u64, b.into())
        })
        .collect();
    // An entry from an older spool: the AuditEvent protobuf.
    entries[0].1 = events[0].encode_to_vec().into();
    let acc = rt.block_on(j.export_spooled(&entries)).unwrap();
    assert_eq!(acc.rejected, 0);
    assert_eq!(
        std::fs::read_to_string(&spooled).unwrap(),
        std::fs::read_to_string(&direct).unwrap()
    );
}
