//! Property tests: every record ends in exactly one event or is counted; events
//! keep their records; serials that never arrive are reported as lost, exactly.
mod common;
use audex_correlate::{Config, Correlator, EndReason, Output};
use audex_parse::{parse_line, Record};
use common::run;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// One generated event: serial, whether it is a single-record user message,
/// how many body records, whether EOE follows.
#[derive(Debug, Clone)]
struct Ev {
    serial: u64,
    single: bool,
    body: usize,
    eoe: bool,
}

fn record(serial: u64, secs: u64, kind: &str, i: usize) -> Record {
    let line = match kind {
        "SYSCALL" => format!("type=SYSCALL msg=audit({secs}.000:{serial}): arch=c000003e syscall=2 success=yes exit=3 pid={i}"),
        "PATH" => format!("type=PATH msg=audit({secs}.000:{serial}): item={i} name=\"/tmp/f{i}\""),
        "EOE" => format!("type=EOE msg=audit({secs}.000:{serial}): "),
        "PROCTITLE" => format!("type=PROCTITLE msg=audit({secs}.000:{serial}): proctitle=6C73"),
        _ => format!("type=USER_LOGIN msg=audit({secs}.000:{serial}): pid=1 uid=0 msg='op=login res=success'"),
    };
    parse_line(line.as_bytes()).unwrap()
}

fn records_of(e: &Ev, secs: u64) -> Vec<Record> {
    if e.single {
        return vec![record(e.serial, secs, "USER_LOGIN", 0)];
    }
    let mut v = vec![record(e.serial, secs, "SYSCALL", 0)];
    for i in 0..e.body {
        v.push(record(e.serial, secs, "PATH", i));
    }
    // Syscall events usually end with PROCTITLE (which completes them) before EOE.
    if e.body % 2 == 1 {
        v.push(record(e.serial, secs, "PROCTITLE", 0));
    }
    if e.eoe {
        v.push(record(e.serial, secs, "EOE", 0));
    }
    v
}

fn events() -> impl Strategy<Value = Vec<(Ev, bool)>> {
    // (event, dropped entirely)
    prop::collection::vec(
        (
            any::<bool>(),
            0usize..5,
            any::<bool>(),
            prop::bool::weighted(0.1),
        ),
        1..120,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (single, body, eoe, dropped))| {
                (
                    Ev {
                        serial: 100 + i as u64,
                        single,
                        body,
                        eoe,
                    },
                    dropped,
                )
            })
            .collect()
    })
}

/// Shuffles records within windows of `w`, keeping the first record in place so
/// the watermark starts at the first serial.
fn shuffle_windows<T>(v: &mut [T], w: usize, seed: u64) {
    let mut s = seed | 1;
    let mut i = 1;
    while i < v.len() {
        let end = (i + w).min(v.len());
        for j in (i + 1..end).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let k = i + (s as usize % (j - i + 1));
            v.swap(j, k);
        }
        i = end;
    }
}

fn accounting_holds(out: &[Output], st: &audex_correlate::Stats, pushed: u64) {
    let in_events: u64 = out
        .iter()
        .map(|o| match o {
            Output::Event(a) => a.records.len() as u64,
            _ => 0,
        })
        .sum();
    assert_eq!(st.records, pushed);
    assert_eq!(in_events, st.records_in_events);
    assert_eq!(
        st.records,
        st.records_in_events + st.eoe + st.dropped_by_cap + st.late + st.duplicates,
        "{st:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// In order (as auditd writes, with or without EOE): each kept event comes out
    /// once with all its records, and dropped serials come out as lost ranges.
    #[test]
    fn in_order_events_complete_and_gaps_are_exact(evs in events()) {
        let mut recs = Vec::new();
        let mut kept = BTreeMap::new();
        let mut lost = BTreeSet::new();
        for (i, (e, dropped)) in evs.iter().enumerate() {
            // The first event is never dropped: a gap needs a watermark below it.
            if *dropped && i > 0 { lost.insert(e.serial); continue; }
            let rs = records_of(e, 1000 + i as u64 / 10);
            kept.insert(e.serial, rs.iter().filter(|r| r.rtype.0 != 1320).count());
            recs.extend(rs);
        }
        // Trailing dropped events leave no gap (nothing newer shows them missing).
        let max_kept = *kept.keys().max().unwrap();
        lost.retain(|s| *s < max_kept);
        let pushed = recs.len() as u64;
        let (out, st) = run(Config::default(), recs);
        accounting_holds(&out, &st, pushed);
        let mut got = BTreeMap::new();
        let mut got_lost = BTreeSet::new();
        for o in &out {
            match o {
                Output::Event(a) => { prop_assert!(got.insert(a.serial, a.records.len()).is_none(), "serial {} twice", a.serial); }
                Output::Lost(l) => { for s in l.first_serial..=l.last_serial { prop_assert!(got_lost.insert(s)); } }
            }
        }
        prop_assert_eq!(got, kept);
        prop_assert_eq!(got_lost, lost);
        prop_assert_eq!(st.late, 0);
    }

    /// Interleaved within a window and with duplicated records: accounting always
    /// holds, no serial is emitted twice unless a duplicate arrived after its event
    /// completed (then it is counted late), and nothing is reported lost that arrived.
    #[test]
    fn interleaved_and_duplicated(evs in events(), w in 1usize..12, seed in any::<u64>(), dups in prop::collection::vec(any::<prop::sample::Index>(), 0..10)) {
        let mut recs = Vec::new();
        for (i, (e, _)) in evs.iter().enumerate() {
            recs.extend(records_of(e, 1000 + i as u64 / 10));
        }
        for d in &dups {
            let r = recs[d.index(recs.len())].clone();
            recs.push(r);
        }
        shuffle_windows(&mut recs, w, seed);
        let pushed = recs.len() as u64;
        let (out, st) = run(Config::default(), recs);
        accounting_holds(&out, &st, pushed);
        let mut seen = BTreeSet::new();
        for o in &out {
            match o {
                Output::Event(a) => { prop_assert!(seen.insert(a.serial), "serial {} twice", a.serial); }
                Output::Lost(l) => {
                    for s in l.first_serial..=l.last_serial {
                        prop_assert!(!evs.iter().any(|(e, _)| e.serial == s), "serial {} arrived but was reported lost", s);
                    }
                }
            }
        }
    }

    /// Tiny caps: events are cut, never lost; the cut records are counted.
    #[test]
    fn caps_and_eviction_account_for_everything(evs in events(), max_in_flight in 1usize..6, max_records in 1usize..4) {
        let cfg = Config { max_in_flight, max_records_per_event: max_records, ..Config::default() };
        let mut recs = Vec::new();
        for (i, (e, _)) in evs.iter().enumerate() { recs.extend(records_of(e, 1000 + i as u64)); }
        let pushed = recs.len() as u64;
        let (out, st) = run(cfg, recs);
        accounting_holds(&out, &st, pushed);
        for o in &out {
            if let Output::Event(a) = o {
                prop_assert!(a.records.len() <= max_records);
                if a.end == EndReason::Evicted { prop_assert!(st.evicted > 0); }
            }
        }
    }
}

#[test]
fn stale_events_complete_by_record_time() {
    let mut c = Correlator::new(Config::default());
    c.push(record(1, 1000, "SYSCALL", 0));
    c.push(record(1, 1000, "PATH", 0));
    assert!(c.pop().is_none(), "no EOE: waits");
    c.push(record(2, 1001, "SYSCALL", 0));
    assert!(c.pop().is_none(), "1 s later is within the 2 s timeout");
    c.push(record(3, 1003, "SYSCALL", 0));
    assert!(
        c.pop().is_none(),
        "one newer record alone does not make it stale (it may be another CPU's)"
    );
    for s in 4..70 {
        c.push(record(s, 1003, "USER_LOGIN", 0));
    }
    c.push(record(70, 1004, "USER_LOGIN", 0));
    let first = std::iter::from_fn(|| c.pop()).find_map(|o| match o {
        Output::Event(a) if a.serial == 1 => Some(a),
        _ => None,
    });
    match first {
        Some(a) => assert_eq!((a.records.len(), a.end), (2, EndReason::Stale)),
        None => panic!("event 1 was not completed as stale"),
    }
}

#[test]
fn wall_clock_timeout_in_live_mode() {
    let mut c = Correlator::new(Config::default());
    c.set_now(10_000);
    c.push(record(7, 1000, "SYSCALL", 0));
    c.expire_wall(11_000);
    assert!(c.pop().is_none());
    c.expire_wall(12_500);
    match c.pop() {
        Some(Output::Event(a)) => assert_eq!((a.serial, a.end), (7, EndReason::WallClock)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn new_boot_resets_watermark_without_false_loss() {
    let mut c = Correlator::new(Config::default());
    c.push(record(5000, 1000, "USER_LOGIN", 0));
    c.push(record(1, 2000, "USER_LOGIN", 0));
    c.push(record(2, 2000, "USER_LOGIN", 0));
    c.flush();
    let mut n = 0;
    while let Some(o) = c.pop() {
        assert!(matches!(o, Output::Event(_)), "{o:?}");
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn proctitle_completes_a_syscall_event() {
    let mut c = Correlator::new(Config::default());
    c.push(record(9, 1000, "SYSCALL", 0));
    c.push(record(9, 1000, "PATH", 0));
    assert!(c.pop().is_none());
    c.push(record(9, 1000, "PROCTITLE", 0));
    match c.pop() {
        Some(Output::Event(a)) => assert_eq!(
            (a.serial, a.records.len(), a.end),
            (9, 3, EndReason::Proctitle)
        ),
        other => panic!("{other:?}"),
    }
    // The EOE that follows is consumed, not an event of its own.
    c.push(record(9, 1000, "EOE", 0));
    assert!(c.pop().is_none());
    assert_eq!(c.stats().eoe, 1);
    // A PROCTITLE without a SYSCALL (filtered out) does not close anything.
    c.push(record(10, 1000, "PROCTITLE", 0));
    assert!(c.pop().is_none());
}

/// Regression (fuzz/correlate crash f48cf67f): a 19-digit seconds field overflowed
/// the millisecond conversion.
#[test]
fn huge_timestamps_do_not_overflow() {
    // Seconds past year 9999 are refused at the parser's edge now.
    let past = "type=SYSCALL msg=audit(9999999999999999999.999:1): arch=c000003e syscall=2";
    assert_eq!(
        parse_line(past.as_bytes()).unwrap_err().kind,
        audex_parse::ParseErrorKind::TimeOutOfRange
    );
    let mut c = Correlator::new(Config::default());
    for line in [
        "type=SYSCALL msg=audit(253402300799.999:1): arch=c000003e syscall=2",
        "type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=2",
        "type=USER_LOGIN msg=audit(253402300799.999:9999999999999999999): pid=1",
    ] {
        c.push(parse_line(line.as_bytes()).unwrap());
    }
    c.flush();
    let mut n = 0;
    while c.pop().is_some() {
        n += 1;
    }
    assert!(n >= 3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// The byte budget: however many large events are open at once, the
    /// records held stay under `max_in_flight_bytes` (plus the record just
    /// pushed), evictions are counted, and every record is still accounted for.
    #[test]
    fn in_flight_memory_stays_under_the_budget(
        sizes in prop::collection::vec((1usize..4, 100usize..20_000), 1..200),
    ) {
        let budget = 256 << 10;
        let mut c = Correlator::new(Config { max_in_flight_bytes: budget, ..Config::default() });
        let mut out = Vec::new();
        let mut pushed = 0u64;
        let mut biggest = 0usize;
        let mut total = 0usize;
        for (i, (paths, len)) in sizes.iter().enumerate() {
            let serial = 100 + i as u64;
            let mut recs = vec![record(serial, 10, "SYSCALL", 0)];
            for p in 0..*paths {
                let line = format!(
                    "type=PATH msg=audit(10.000:{serial}): item={p} name=\"/tmp/{}\"",
                    "x".repeat(*len)
                );
                recs.push(parse_line(line.as_bytes()).unwrap());
            }
            for r in recs {
                biggest = biggest.max(r.mem_bytes());
                total += r.mem_bytes();
                c.push(r);
                pushed += 1;
                prop_assert!(c.in_flight_bytes() <= budget + biggest, "{} > {budget}", c.in_flight_bytes());
                while let Some(o) = c.pop() {
                    out.push(o);
                }
            }
        }
        c.flush();
        while let Some(o) = c.pop() {
            out.push(o);
        }
        prop_assert_eq!(c.in_flight_bytes(), 0);
        let st = c.stats().clone();
        accounting_holds(&out, &st, pushed);
        prop_assert!(st.evicted_for_bytes <= st.evicted);
        // Nothing completes these events but the budget (and the end of input).
        if total > 2 * budget {
            prop_assert!(st.evicted_for_bytes > 0);
        }
    }
}
