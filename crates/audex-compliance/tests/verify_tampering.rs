//! `verify` over archives written by the real `protobuf_file` exporter with a
//! chain key: intact archives pass (across restarts and a crash), and each kind
//! of tampering is found with the right sequence numbers.
mod common;

use audex_compliance::verify::{verify, Kind};
use audex_export::archive::chain::ChainKey;
use audex_export::archive::reader::segment_files;
use audex_export::ProtobufFile;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The second segment's path and layout (a middle segment).
fn second(dir: &Path) -> (PathBuf, Vec<(usize, usize, u64)>) {
    let files = segment_files(&[dir.to_path_buf()]).unwrap();
    assert!(
        files.len() >= 4,
        "want several segments, got {}",
        files.len()
    );
    (files[1].clone(), layout(&files[1]))
}

#[test]
fn intact_archive_passes_across_restarts_and_reports_loss_apart() {
    let dir = tmp("intact");
    let mut evs = events(120);
    evs.insert(50, lost_event(50));
    archive(&dir, &evs[..70]);
    archive(&dir, &evs[70..]); // a restart continues the chain
    let v = check(&dir);
    assert!(v.intact, "{}", v.to_text());
    assert_eq!(v.events, 121);
    assert!(v.segments >= 4 && v.seals as usize == v.segments);
    assert_eq!(v.chains.len(), 1);
    assert_eq!(v.chains[0].first_seq, 1);
    assert_eq!(v.chains[0].last_seq, 121 + v.seals);
    assert_eq!(v.lost.len(), 1);
    assert_eq!(v.lost[0].count, 7);
    assert!(v.to_text().contains("result: intact"));
    assert!(v.to_text().contains("not tampering"));
}

#[test]
fn a_crash_with_a_torn_open_segment_is_recovered_and_stays_intact() {
    let dir = tmp("crash");
    let mut x = ProtobufFile::new(
        "a",
        &dir,
        1 << 20,
        Duration::from_secs(3600),
        Some(ChainKey::from_bytes(KEY)),
    )
    .unwrap();
    x.write_batch(&events(30)).unwrap();
    std::mem::forget(x); // killed: the segment stays .partial, unsealed
    let partial = segment_files(std::slice::from_ref(&dir))
        .unwrap()
        .pop()
        .unwrap();
    assert!(partial.to_string_lossy().ends_with(".partial"));
    // Half a record the dead writer had not finished.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&partial)
        .unwrap()
        .write_all(&[0x90, 0x03, 1, 2, 3])
        .unwrap();
    let v = check(&dir);
    assert_eq!(v.open_segments.len(), 1);
    archive(&dir, &(30..40).map(event).collect::<Vec<_>>());
    let v = check(&dir);
    assert!(v.intact, "{}", v.to_text());
    assert_eq!(v.events, 40);
    assert!(v.open_segments.is_empty());
}

#[test]
fn a_flipped_byte_is_an_altered_event() {
    let dir = tmp("flip");
    archive(&dir, &events(200));
    let (path, recs) = second(&dir);
    let (off, end, seq) = recs[2];
    let mut b = std::fs::read(&path).unwrap();
    let at = (off + end) / 2 - 20; // inside the event's content, before its chain field
    b[at] ^= 0x20;
    std::fs::write(&path, b).unwrap();
    assert_eq!(only(&check(&dir)), (Kind::Altered, seq, seq));
}

#[test]
fn a_removed_event_is_a_gap_with_its_sequence_number() {
    let dir = tmp("remove");
    archive(&dir, &events(200));
    let (path, recs) = second(&dir);
    let (off, end, seq) = recs[3];
    let mut b = std::fs::read(&path).unwrap();
    b.drain(off..end);
    std::fs::write(&path, b).unwrap();
    assert_eq!(only(&check(&dir)), (Kind::Removed, seq, seq));
}

#[test]
fn swapped_events_are_a_reordering() {
    let dir = tmp("swap");
    archive(&dir, &events(200));
    let (path, recs) = second(&dir);
    let (o1, e1, s1) = recs[1];
    let (o2, e2, s2) = recs[2];
    assert_eq!(e1, o2);
    let b = std::fs::read(&path).unwrap();
    let mut out = b[..o1].to_vec();
    out.extend_from_slice(&b[o2..e2]);
    out.extend_from_slice(&b[o1..e1]);
    out.extend_from_slice(&b[e2..]);
    std::fs::write(&path, out).unwrap();
    let v = check(&dir);
    assert_eq!(only(&v), (Kind::Reordered, s1, s1));
    assert!(v.problems[0].detail.contains(&format!("after seq {s2}")));
}

#[test]
fn a_truncated_segment_names_the_events_it_lost() {
    let dir = tmp("truncate");
    archive(&dir, &events(200));
    let files = segment_files(std::slice::from_ref(&dir)).unwrap();
    let (path, recs) = second(&dir);
    let (off, end, _) = recs[4];
    let last_kept = recs[3].2;
    let next_first = layout(&files[2])[0].2;
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(((off + end) / 2) as u64).unwrap();
    assert_eq!(
        only(&check(&dir)),
        (Kind::Truncated, last_kept + 1, next_first - 1)
    );
}

#[test]
fn a_segment_from_another_chain_is_a_replacement() {
    let (a, b) = (tmp("replace-a"), tmp("replace-b"));
    archive(&a, &events(200));
    archive(&b, &events(200)); // same events, same key: another chain
    let (pa, ra) = second(&a);
    let (pb, rb) = second(&b);
    assert_eq!(
        ra.iter().map(|r| r.2).collect::<Vec<_>>(),
        rb.iter().map(|r| r.2).collect::<Vec<_>>()
    );
    std::fs::copy(&pb, &pa).unwrap();
    let v = check(&a);
    let (kind, first, last) = only(&v);
    assert_eq!(kind, Kind::Replaced);
    assert_eq!((first, last), (ra[0].2, ra[ra.len() - 1].2));
    assert!(v.problems[0]
        .segment
        .ends_with(pa.file_name().unwrap().to_str().unwrap()));
}

#[test]
fn the_wrong_key_fails_every_event() {
    let dir = tmp("key");
    archive(&dir, &events(20));
    let files = segment_files(std::slice::from_ref(&dir)).unwrap();
    let v = verify(
        &ChainKey::from_bytes(b"another key of 32 bytes length!!"),
        &files,
    )
    .unwrap();
    assert!(!v.intact);
    assert_eq!(v.authentic, 0);
    assert!(
        v.problems
            .iter()
            .filter(|p| p.kind == Kind::Altered)
            .count()
            >= 20
    );
    assert!(v.to_text().contains("wrong key"), "{}", v.to_text());
}

#[test]
fn an_archive_written_without_a_chain_key_is_named_once_per_segment() {
    let dir = tmp("plain");
    let mut x = ProtobufFile::new("a", &dir, 4096, Duration::from_secs(3600), None).unwrap();
    x.write_batch(&events(50)).unwrap();
    drop(x);
    let v = check(&dir);
    assert!(!v.intact);
    assert_eq!(v.problems.len(), v.segments, "{}", v.to_text());
    assert!(v.problems.iter().all(|p| p.kind == Kind::Unchained));
    assert!(
        v.problems[0]
            .detail
            .contains("event(s) without a chain field"),
        "{}",
        v.to_text()
    );
}
