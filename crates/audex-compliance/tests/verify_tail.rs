//! The tail of a chained archive cannot be cut unnoticed: each way of removing
//! the newest events (delete, empty or cut the newest segment, call it still
//! open, replace the archive with an empty one, roll back or delete the
//! chain-heads file, and launder a cut through a restart) is reported with the
//! missing sequence numbers, and checkpoints kept off the host measure a cut
//! even when chain-heads went with it. Clean restarts and crash recovery stay
//! intact.
mod common;

use audex_compliance::verify::Kind;
use audex_export::archive::chain::ChainKey;
use audex_export::archive::heads::{self, Heads};
use audex_export::archive::CHECKPOINT_ACTION;
use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The head the chain-heads file names for host-a.
fn head(dir: &Path) -> u64 {
    match heads::read(dir, &ChainKey::from_bytes(KEY)).unwrap() {
        Heads::Read(hs) => hs.iter().find(|h| h.node == "host-a").unwrap().sequence,
        other => panic!("chain-heads: {other:?}"),
    }
}

/// The last sequence number in a segment.
fn last_seq(path: &Path) -> u64 {
    layout(path).last().unwrap().2
}

fn newest(dir: &Path) -> PathBuf {
    segments(dir).pop().unwrap()
}

/// The problems of a verdict as (kind, first, last), sorted.
fn found(v: &audex_compliance::verify::Verdict) -> Vec<(Kind, u64, u64)> {
    assert!(!v.intact, "{}", v.to_text());
    v.problems
        .iter()
        .map(|p| (p.kind, p.first_seq, p.last_seq))
        .collect()
}

#[test]
fn deleting_the_newest_segment_is_a_truncation_to_the_head() {
    let dir = tmp("tail-delete");
    archive(&dir, &events(200));
    let h = head(&dir);
    let files = segments(&dir);
    let kept = last_seq(&files[files.len() - 2]);
    std::fs::remove_file(files.last().unwrap()).unwrap();
    let v = check(&dir);
    assert_eq!(only(&v), (Kind::Truncated, kept + 1, h));
    assert!(v.to_text().contains("TRUNCATED"), "{}", v.to_text());
}

#[test]
fn emptying_the_newest_segment_is_a_truncation() {
    let dir = tmp("tail-empty");
    archive(&dir, &events(200));
    let h = head(&dir);
    let files = segments(&dir);
    let kept = last_seq(&files[files.len() - 2]);
    std::fs::write(files.last().unwrap(), b"").unwrap();
    let v = check(&dir);
    // The empty closed segment, and the head beyond the archive.
    assert_eq!(
        found(&v),
        vec![
            (Kind::Truncated, kept + 1, kept + 1),
            (Kind::Truncated, kept + 1, h)
        ]
    );
}

#[test]
fn a_cut_segment_renamed_open_is_not_proof() {
    let dir = tmp("tail-partial");
    archive(&dir, &events(200));
    let h = head(&dir);
    let kept = cut_to_open(&dir);
    let v = check(&dir);
    assert_eq!(v.open_segments.len(), 1);
    assert_eq!(only(&v), (Kind::Truncated, kept + 1, h));
}

#[test]
fn an_archive_replaced_by_one_empty_segment_is_truncated_whole() {
    let dir = tmp("tail-replaced");
    archive(&dir, &events(200));
    let h = head(&dir);
    for f in segments(&dir) {
        std::fs::remove_file(f).unwrap();
    }
    std::fs::write(dir.join("audex-0000000000001-000001.pb"), b"").unwrap();
    let v = check(&dir);
    assert_eq!(v.events, 0);
    assert_eq!(
        found(&v),
        vec![(Kind::Truncated, 1, 1), (Kind::Truncated, 1, h)]
    );
    assert!(
        v.problems.iter().any(|p| p.node.is_empty()),
        "{}",
        v.to_text()
    );
}

#[test]
fn a_rolled_back_chain_heads_file_is_named() {
    let dir = tmp("tail-rollback");
    archive(&dir, &events(100));
    let old = std::fs::read(dir.join(heads::HEADS_FILE)).unwrap();
    let old_head = head(&dir);
    archive(&dir, &(100..200).map(event).collect::<Vec<_>>());
    let new_head = head(&dir);
    std::fs::write(dir.join(heads::HEADS_FILE), old).unwrap();
    assert_eq!(
        only(&check(&dir)),
        (Kind::RolledBack, old_head + 1, new_head)
    );
}

#[test]
fn a_garbled_or_missing_chain_heads_file_is_named() {
    let dir = tmp("tail-garbled");
    archive(&dir, &events(100));
    let h = head(&dir);
    let file = dir.join(heads::HEADS_FILE);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(&format!(" {h} "), &format!(" {} ", h + 50)),
    )
    .unwrap();
    let v = check(&dir);
    assert_eq!(only(&v), (Kind::Altered, 0, 0));
    assert!(v.problems[0].detail.contains("tag"), "{}", v.to_text());
    std::fs::remove_file(&file).unwrap();
    let v = check(&dir);
    assert_eq!(only(&v), (Kind::Truncated, h + 1, h + 1));
    assert!(v.problems[0].detail.contains("missing"), "{}", v.to_text());
}

/// Cuts the newest segment to its first record and calls it open (as if the
/// collector had died while writing it); the sequence number kept.
fn cut_to_open(dir: &Path) -> u64 {
    let path = newest(dir);
    let recs = layout(&path);
    assert!(recs.len() >= 2, "an event and its seal");
    let (_, end, kept) = recs[0];
    let b = std::fs::read(&path).unwrap();
    std::fs::write(path.with_extension("pb.partial"), &b[..end]).unwrap();
    std::fs::remove_file(&path).unwrap();
    kept
}

#[test]
fn a_cut_laundered_through_a_restart_without_chain_heads_is_reported() {
    let dir = tmp("tail-launder");
    archive(&dir, &events(200));
    let kept = cut_to_open(&dir);
    std::fs::remove_file(dir.join(heads::HEADS_FILE)).unwrap();
    // The collector starts again: it recovers the "open" segment and seals it.
    archive(&dir, &(200..230).map(event).collect::<Vec<_>>());
    let v = check(&dir);
    assert_eq!(v.recovered.len(), 1, "{}", v.to_text());
    assert_eq!(v.recovered[0].last_seq, kept);
    assert_eq!(v.recovered[0].cut_bytes, Some(0));
    assert_eq!(v.resumed.len(), 1);
    assert_eq!(v.resumed[0].reason, "heads-missing");
    // The recovery seal is kept + 1; the chain was taken up after it.
    assert_eq!(v.resumed[0].continued_from, kept + 1);
    assert_eq!(only(&v), (Kind::Truncated, kept + 2, kept + 2));
    let text = v.to_text();
    assert!(text.contains("recovered  node host-a"), "{text}");
    assert!(text.contains("without trusting its chain-heads"), "{text}");
}

#[test]
fn a_crash_and_a_clean_restart_stay_intact_and_list_the_recovery() {
    let dir = tmp("tail-crash");
    archive(&dir, &events(50));
    let mut x = writer(&dir);
    x.write_batch(&(50..60).map(event).collect::<Vec<_>>())
        .unwrap();
    std::mem::forget(x); // killed with the segment open
    archive(&dir, &(60..90).map(event).collect::<Vec<_>>());
    let v = check(&dir);
    assert!(v.intact, "{}", v.to_text());
    assert_eq!(v.events, 90);
    assert_eq!(v.recovered.len(), 1);
    assert!(v.resumed.is_empty());
    assert!(v.to_text().contains("recovered"));
}

/// A writer that sends its checkpoints as JSON lines to `out` (as a jsonl
/// exporter in the live stream would hold them).
fn archive_with_checkpoints(dir: &Path, events: &[audex_proto::v1::AuditEvent], out: &Path) {
    let (tx, rx) = std::sync::mpsc::sync_channel(1024);
    let mut x = writer(dir).with_checkpoints(tx, Duration::ZERO);
    for batch in events.chunks(10) {
        x.write_batch(batch).unwrap();
    }
    drop(x);
    let mut text = std::fs::read_to_string(out).unwrap_or_default();
    for ev in rx.try_iter() {
        // Other events of the live stream are in the same file.
        text.push_str(&serde_json::to_string(&event(0)).unwrap());
        text.push('\n');
        text.push_str(&serde_json::to_string(&ev).unwrap());
        text.push('\n');
    }
    std::fs::write(out, text).unwrap();
}

#[test]
fn checkpoints_off_the_host_measure_a_cut_even_without_chain_heads() {
    let dir = tmp("tail-checkpoints");
    let cps = dir.with_extension("checkpoints.jsonl");
    archive_with_checkpoints(&dir, &events(200), &cps);
    let h = head(&dir);
    let text = std::fs::read_to_string(&cps).unwrap();
    assert!(text.contains(CHECKPOINT_ACTION));
    // Intact: every checkpoint matches.
    let v = check_with(&dir, Some(&cps));
    assert!(v.intact, "{}", v.to_text());
    let sum = v.evidence.checkpoints.clone().unwrap();
    assert!(sum.matched > 5 && sum.matched == sum.authentic, "{sum:?}");

    // Cut the newest segment, delete chain-heads, restart the collector.
    let kept = cut_to_open(&dir);
    std::fs::remove_file(dir.join(heads::HEADS_FILE)).unwrap();
    archive(&dir, &(200..260).map(event).collect::<Vec<_>>());
    let v = check_with(&dir, Some(&cps));
    let t: Vec<_> = found(&v);
    // The restart's own note, and the checkpoints' measure of the cut: the
    // chain was written again over seq kept+1.. and the last checkpoint is h.
    assert!(
        t.contains(&(Kind::Truncated, kept + 2, kept + 2)),
        "{}",
        v.to_text()
    );
    assert!(
        v.problems
            .iter()
            .any(|p| p.kind == Kind::Truncated && p.segment == "checkpoints" && p.last_seq == h),
        "{}",
        v.to_text()
    );

    // Without a restart, and with chain-heads rolled back to match the cut,
    // only the checkpoints can tell: they name the whole missing range.
    let dir = tmp("tail-checkpoints-rollback");
    let cps = dir.with_extension("checkpoints.jsonl");
    let _ = std::fs::remove_file(&cps);
    archive_with_checkpoints(&dir, &events(100), &cps);
    let old = std::fs::read(dir.join(heads::HEADS_FILE)).unwrap();
    let before = segments(&dir);
    let old_head = head(&dir);
    archive_with_checkpoints(&dir, &(100..200).map(event).collect::<Vec<_>>(), &cps);
    let h = head(&dir);
    for f in segments(&dir) {
        if !before.contains(&f) {
            std::fs::remove_file(f).unwrap();
        }
    }
    std::fs::write(dir.join(heads::HEADS_FILE), old).unwrap();
    assert!(
        check(&dir).intact,
        "without checkpoints the rollback is consistent"
    );
    assert_eq!(
        only(&check_with(&dir, Some(&cps))),
        (Kind::Truncated, old_head + 1, h)
    );
}

#[test]
fn a_forged_checkpoint_and_a_bad_checkpoints_file_are_named() {
    let dir = tmp("tail-forged");
    let cps = dir.with_extension("checkpoints.jsonl");
    let _ = std::fs::remove_file(&cps);
    archive_with_checkpoints(&dir, &events(50), &cps);
    let text = std::fs::read_to_string(&cps).unwrap();
    let forged: String = text
        .lines()
        .map(|l| {
            if l.contains(CHECKPOINT_ACTION) {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                let s: u64 = v["data"]["sequence"].as_str().unwrap().parse().unwrap();
                v["data"]["sequence"] = (s + 1000).to_string().into();
                v.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&cps, forged).unwrap();
    let v = check_with(&dir, Some(&cps));
    assert!(!v.problems.is_empty());
    assert!(
        v.problems.iter().all(|p| p.kind == Kind::Altered),
        "forged checkpoints are not evidence of a cut: {}",
        v.to_text()
    );
    std::fs::write(&cps, "{\"action\":\"archive-checkpoint\"\n").unwrap();
    let err =
        audex_compliance::verify::read_checkpoints(&ChainKey::from_bytes(KEY), &cps).unwrap_err();
    assert!(err.contains("line 1"), "{err}");
}
