//! The kernel's reordering, modelled: events take their serial when their first
//! record is logged, on one of two CPUs, and the records of the two CPUs reach
//! the reader interleaved (one event's records split around another's, a later
//! serial's EOE before an earlier one's records). Timestamps are taken at
//! syscall entry, so they are not in serial order, and a syscall that blocked
//! carries a time seconds old. True gaps (serials taken but never delivered) are
//! mixed in. Every serial must end in exactly one delivered event or in exactly
//! one lost range, never both; lost counts must equal the true gaps; no record
//! may be cut from its event. Run in replay (record time) and live (wall clock).
mod common;

use audex_correlate::{Config, Correlator, Output};
use audex_parse::{parse_line, Record};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
struct Ev {
    serial: u64,
    /// Milliseconds since the start of the stream.
    time_ms: u64,
    kind: Kind,
    dropped: bool,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A user-space message: one record.
    Single,
    /// SYSCALL, `paths` PATH records, then PROCTITLE or not.
    Syscall { paths: usize, proctitle: bool },
}

const BASE_S: u64 = 1_700_000_000;

fn line(ev: &Ev, text: &str) -> Record {
    let t = BASE_S * 1000 + ev.time_ms;
    let l = format!(
        "{text} msg=audit({}.{:03}:{}): ",
        t / 1000,
        t % 1000,
        ev.serial
    );
    let body = match text {
        "type=SYSCALL" => "arch=c000003e syscall=257 success=yes exit=3 pid=10",
        "type=PATH" => "item=0 name=\"/tmp/x\"",
        "type=PROCTITLE" => "proctitle=6C73",
        "type=USER_LOGIN" => "pid=1 uid=0 msg='op=login res=success'",
        _ => "",
    };
    parse_line(format!("{l}{body}").as_bytes()).unwrap()
}

/// The records the kernel sends for `ev`, in its order; EOE last when `eoe`.
fn records(ev: &Ev, eoe: bool) -> Vec<Record> {
    match ev.kind {
        Kind::Single => vec![line(ev, "type=USER_LOGIN")],
        Kind::Syscall { paths, proctitle } => {
            let mut v = vec![line(ev, "type=SYSCALL")];
            v.extend((0..paths).map(|_| line(ev, "type=PATH")));
            if proctitle {
                v.push(line(ev, "type=PROCTITLE"));
            }
            if eoe {
                v.push(line(ev, "type=EOE"));
            }
            v
        }
    }
}

/// A stream of `n` events about `step_ms` apart; serials in order, times taken
/// earlier than the serial by a jitter, now and then a blocked syscall's old time.
fn events() -> impl Strategy<Value = Vec<Ev>> {
    (
        prop::collection::vec(
            (
                0u64..40,                   // jitter (ms before the serial was taken)
                prop::bool::weighted(0.03), // a syscall that blocked for seconds
                prop::bool::weighted(0.2),  // single-record message
                0usize..4,                  // PATH records
                prop::bool::weighted(0.9),  // PROCTITLE
                prop::bool::weighted(0.08), // a true gap: never delivered
            ),
            2..160,
        ),
        5u64..120,
    )
        .prop_map(|(v, step)| {
            v.into_iter()
                .enumerate()
                .map(
                    |(i, (jitter, blocked, single, paths, proctitle, dropped))| {
                        let taken = 10_000 + i as u64 * step;
                        // (Not the very first event: with nothing before it in the
                        // stream, record time cannot tell that it blocked.)
                        let back = if blocked && i > 0 { 4_000 } else { jitter };
                        Ev {
                            serial: 5_000 + i as u64,
                            time_ms: taken - back,
                            kind: if single {
                                Kind::Single
                            } else {
                                Kind::Syscall { paths, proctitle }
                            },
                            // The first event is kept: a gap needs a serial below it.
                            dropped: dropped && i > 0,
                        }
                    },
                )
                .collect()
        })
}

/// Deals events to two CPUs and merges their record streams the way the reader
/// sees them: one record at a time from either CPU, the two never more than
/// `skew` events apart. Returns (record, emission index) pairs.
fn interleave(evs: &[Ev], eoe: bool, skew: usize, seed: u64) -> Vec<Record> {
    let mut s = seed | 1;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut cpus: [Vec<(usize, Vec<Record>)>; 2] = [Vec::new(), Vec::new()];
    for (i, e) in evs.iter().enumerate() {
        if !e.dropped {
            let c = (rnd() % 2) as usize;
            cpus[c].push((i, records(e, eoe)));
        }
    }
    for c in &mut cpus {
        c.reverse();
        for (_, r) in c.iter_mut() {
            r.reverse();
        }
    }
    let mut out = Vec::new();
    loop {
        let heads: Vec<Option<usize>> = cpus.iter().map(|c| c.last().map(|(i, _)| *i)).collect();
        let c = match (heads[0], heads[1]) {
            (None, None) => break,
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (Some(a), Some(b)) if a > b + skew => 1,
            (Some(a), Some(b)) if b > a + skew => 0,
            _ => (rnd() % 2) as usize,
        };
        let (_, recs) = cpus[c].last_mut().unwrap();
        out.push(recs.pop().unwrap());
        if recs.is_empty() {
            cpus[c].pop();
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Clock {
    /// Replay: record time only.
    Record,
    /// Live: a wall clock that moves `ms_per_record` per record, ticked every 50 records.
    Wall { ms_per_record: u64 },
}

fn correlate(recs: Vec<Record>, clock: Clock) -> (Vec<Output>, audex_correlate::Stats) {
    let Clock::Wall { ms_per_record } = clock else {
        return common::run(Config::default(), recs);
    };
    let mut c = Correlator::new(Config::default());
    let mut out = Vec::new();
    for (i, r) in recs.into_iter().enumerate() {
        let wall = i as u64 * ms_per_record;
        c.set_now(wall);
        c.push(r);
        if i % 50 == 0 {
            c.expire_wall(wall);
        }
        out.extend(std::iter::from_fn(|| c.pop()));
    }
    c.flush();
    out.extend(std::iter::from_fn(|| c.pop()));
    (out, c.stats().clone())
}

/// The invariant: each serial is one whole event or inside one lost range, never
/// both; lost serials are exactly the true gaps below the newest delivered one.
fn check(
    evs: &[Ev],
    out: &[Output],
    st: &audex_correlate::Stats,
    eoe: bool,
) -> Result<(), TestCaseError> {
    let mut delivered: BTreeMap<u64, usize> = BTreeMap::new();
    let mut lost: BTreeMap<u64, usize> = BTreeMap::new();
    for o in out {
        match o {
            Output::Event(a) => *delivered.entry(a.serial).or_default() += 1,
            Output::Lost(l) => {
                for s in l.first_serial..=l.last_serial {
                    *lost.entry(s).or_default() += 1;
                }
            }
        }
    }
    for (s, n) in &delivered {
        prop_assert_eq!(*n, 1, "serial {} delivered {} times", s, n);
        prop_assert!(
            !lost.contains_key(s),
            "serial {} delivered and reported lost",
            s
        );
    }
    for (s, n) in &lost {
        prop_assert_eq!(*n, 1, "serial {} in {} lost ranges", s, n);
    }
    let newest = evs
        .iter()
        .filter(|e| !e.dropped)
        .map(|e| e.serial)
        .max()
        .unwrap();
    let true_gaps: BTreeSet<u64> = evs
        .iter()
        .filter(|e| e.dropped && e.serial < newest)
        .map(|e| e.serial)
        .collect();
    let kept: BTreeSet<u64> = evs
        .iter()
        .filter(|e| !e.dropped)
        .map(|e| e.serial)
        .collect();
    prop_assert_eq!(lost.keys().copied().collect::<BTreeSet<_>>(), true_gaps);
    prop_assert_eq!(delivered.keys().copied().collect::<BTreeSet<_>>(), kept);
    prop_assert_eq!(st.late, 0, "records cut from their events: {:?}", st);
    let records: u64 = evs
        .iter()
        .filter(|e| !e.dropped)
        .map(|e| records(e, eoe).len() as u64)
        .sum();
    prop_assert_eq!(st.records, records);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn reordered_like_two_cpus_replay(evs in events(), eoe in any::<bool>(), skew in 1usize..8, seed in any::<u64>()) {
        let recs = interleave(&evs, eoe, skew, seed);
        let (out, st) = correlate(recs, Clock::Record);
        check(&evs, &out, &st, eoe)?;
    }

    #[test]
    fn reordered_like_two_cpus_live(evs in events(), eoe in any::<bool>(), skew in 1usize..8, seed in any::<u64>(), ms_per_record in 0u64..20) {
        let recs = interleave(&evs, eoe, skew, seed);
        let (out, st) = correlate(recs, Clock::Wall { ms_per_record });
        check(&evs, &out, &st, eoe)?;
    }
}
