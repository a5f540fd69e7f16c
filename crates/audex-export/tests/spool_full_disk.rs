//! A spool on a filesystem that fills up (a 64 KiB tmpfs, mounted by the test
//! and grown by remounting it): appends never fail, events are held in
//! memory in order, intake is asked to pause past the hold bound, and once
//! there is room again every event is written, in order, with no torn frame
//! (reopened, the spool finds nothing to cut and everything pending).
//! Needs root (mount); `AUDEX_SKIP_KERNEL_TESTS=1` skips it elsewhere.
mod common;
use audex_export::delivery::Spooler;
use audex_export::spool::{Spool, SpoolConfig};
use audex_proto::v1::AuditEvent;
use common::*;
use prost::Message;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A tmpfs mounted for the test, unmounted when dropped (even on failure).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success(), "remounting the tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmpfs_or_skip(tag: &str) -> Option<Tmpfs> {
    let dir = tmp(tag);
    match Tmpfs::mount(&dir, "64k") {
        Some(t) => Some(t),
        None if std::env::var("AUDEX_SKIP_KERNEL_TESTS").as_deref() == Ok("1") => {
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            None
        }
        None => panic!(
            "cannot mount a tmpfs at {}: this test needs root (AUDEX_SKIP_KERNEL_TESTS=1 skips it)",
            dir.display()
        ),
    }
}

#[test]
fn a_full_disk_holds_events_then_writes_them_all_in_order() {
    let Some(fs) = tmpfs_or_skip("spool-full-disk") else {
        return;
    };
    let dir = fs.0.join("spool");
    let (spool, _) = Spool::open(SpoolConfig::new(&dir, 1 << 30)).unwrap();
    let spool = Arc::new(Mutex::new(spool));
    let mut sp = Spooler::new(
        spool.clone(),
        Box::new(audex_export::encoding::ProtobufEncoding),
        "node-1",
    )
    .with_hold_bytes(256 << 10);
    let base = golden_events();
    let mut sent = Vec::new();
    let mut i = 0;
    // Fill the disk, then past the hold bound.
    while !sp.paused() {
        let mut e = base[i % base.len()].clone();
        e.id = format!("e{i}");
        sp.append(&e)
            .expect("an append never fails for a full disk");
        sent.push(e);
        i += 1;
        assert!(i < 100_000, "the 64 KiB filesystem never filled");
    }
    assert!(sp.held() > 0, "events are held while the disk is full");
    // Still full: a tick moves at most a write buffer's worth into the spool.
    let held = sp.held();
    sp.tick().unwrap();
    assert!(
        sp.held() > 0 && sp.held() <= held,
        "{held} then {}",
        sp.held()
    );

    // Room again: the next tick writes what was held.
    fs.resize("64m");
    sp.tick().unwrap();
    assert_eq!(
        sp.held(),
        0,
        "everything held is written once there is room"
    );
    assert!(!sp.paused());
    sp.sync().unwrap();
    let got: Vec<AuditEvent> = spool
        .lock()
        .unwrap()
        .next_batch(usize::MAX, usize::MAX)
        .unwrap()
        .iter()
        .map(|(_, b)| AuditEvent::decode(&b[..]).unwrap())
        .collect();
    let ids = |v: &[AuditEvent]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&got), ids(&sent), "every event, in order, once");
    assert_eq!(sp.dropped, 0);

    // On disk: no torn frame (a frame cut by the full disk would read back
    // as damage), everything pending.
    drop(sp);
    drop(spool);
    let (reopened, rec) = Spool::open(SpoolConfig::new(&dir, 1 << 30)).unwrap();
    assert_eq!(rec.truncated_bytes, 0, "{rec:?}");
    assert!(rec.lost.is_empty(), "{rec:?}");
    assert_eq!(rec.pending, sent.len() as u64);
    drop(reopened);
}

#[test]
fn an_entry_larger_than_the_write_buffer_is_whole_or_absent() {
    let Some(fs) = tmpfs_or_skip("spool-full-disk-big") else {
        return;
    };
    let dir = fs.0.join("spool");
    let (mut spool, _) = Spool::open(SpoolConfig::new(&dir, 1 << 30)).unwrap();
    // 100 KiB entries (past the 64 KiB write buffer) until one is refused.
    let big = |n: u8| vec![n; 100 << 10];
    let mut written = 0u64;
    let refused = loop {
        match spool.try_append(big(written as u8)) {
            Ok(_) => written += 1,
            Err(r) => break r,
        }
        assert!(written < 100, "the filesystem never filled");
    };
    assert_eq!(
        refused.payload,
        big(written as u8),
        "the refused entry comes back whole"
    );
    drop(spool);
    let (_, rec) = Spool::open(SpoolConfig::new(&dir, 1 << 30)).unwrap();
    assert_eq!(
        rec.truncated_bytes, 0,
        "no part of the refused entry is on disk: {rec:?}"
    );
    assert_eq!(rec.pending, written);
}
