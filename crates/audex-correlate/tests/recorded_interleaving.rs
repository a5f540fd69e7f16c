//! Regression: a recorded interleaving from this kernel (tests/storm/
//! interleaved-875.log, from a 2-worker storm captured by Debian's auditd). Event
//! 875 (stamped .068) came whole between the records of 874 (stamped .072); once
//! EOE records are placed where the kernel sends them, 874's EOE arrived after
//! 875's event had raised the watermark. The correlator took "serial back, time
//! on" for a new boot, reset, and then reported 875 lost although it had just
//! delivered it.
mod common;

use audex_correlate::{Config, Output};
use audex_parse::{parse_line, Record, RecordType};
use std::collections::{BTreeMap, BTreeSet};

fn recorded() -> Vec<Record> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/storm/interleaved-875.log"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| parse_line(l.as_bytes()).unwrap())
        .collect()
}

/// An EOE after each syscall event's last record, as the kernel sends them.
fn with_eoe(recs: Vec<Record>) -> Vec<Record> {
    let mut last = BTreeMap::new();
    for (i, r) in recs.iter().enumerate() {
        last.insert(r.serial, i);
    }
    let syscall: BTreeSet<u64> = recs
        .iter()
        .filter(|r| r.rtype == RecordType::SYSCALL)
        .map(|r| r.serial)
        .collect();
    let mut out = Vec::new();
    for (i, r) in recs.into_iter().enumerate() {
        let end = last[&r.serial] == i && syscall.contains(&r.serial);
        let eoe = format!(
            "type=EOE msg=audit({}.{:03}:{}): ",
            r.time.secs,
            r.time.nanos / 1_000_000,
            r.serial
        );
        out.push(r);
        if end {
            out.push(parse_line(eoe.as_bytes()).unwrap());
        }
    }
    out
}

#[test]
fn recorded_interleaving_loses_nothing_with_or_without_eoe() {
    let serials: BTreeSet<u64> = recorded().iter().map(|r| r.serial).collect();
    assert_eq!(serials, (872..=878).collect());
    for (name, recs) in [
        ("as logged", recorded()),
        ("with EOE", with_eoe(recorded())),
    ] {
        let (out, _) = common::run(Config::default(), recs);
        let lost: Vec<_> = out
            .iter()
            .filter(|o| matches!(o, Output::Lost(_)))
            .collect();
        assert!(lost.is_empty(), "{name}: {lost:?}");
        let events: Vec<u64> = out
            .iter()
            .filter_map(|o| match o {
                Output::Event(a) => Some(a.serial),
                _ => None,
            })
            .collect();
        assert_eq!(events.len(), 7, "{name}: {events:?}");
        assert_eq!(
            events.iter().copied().collect::<BTreeSet<_>>(),
            serials,
            "{name}"
        );
    }
}
