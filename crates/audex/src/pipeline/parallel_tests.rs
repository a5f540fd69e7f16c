//! The stages on several threads give what they give on one: the same
//! events (loss reports included) in the same order, as a property over
//! generated logs (neighbouring events interleaved as two CPUs write them,
//! the later one's EOE first; EOE records missing; serials skipped; a
//! reboot that starts the serials again; children of earlier execs, so the
//! enrichment's process tree matters) and over where the batches split them
//! (batch sizes from 1) and how many threads run; and on the golden logs.
use super::{parallel, Enriched, Stages};
use audex_compliance::controls::ControlMap;
use audex_normalize::NoNames;
use audex_parse::Record;
use proptest::prelude::*;

/// One syscall event: (pid, ppid, exec?, serials skipped before it, EOE?,
/// its records split around the next event's?, ms later).
type Ev = (u32, u32, bool, u64, bool, bool, u64);

fn records(serial: u64, ms: u64, ev: &Ev) -> Vec<String> {
    let &(pid, ppid, exec, _, eoe, _, _) = ev;
    let stamp = format!("{}.{:03}:{serial}", ms / 1000, ms % 1000);
    let (nr, exe) = if exec {
        (59, "/usr/bin/make")
    } else {
        (257, "/usr/bin/bash")
    };
    let mut v = vec![format!("type=SYSCALL msg=audit({stamp}): arch=c000003e syscall={nr} success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid={ppid} pid={pid} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"x\" exe=\"{exe}\" key=\"k\"")];
    if exec {
        v.push(format!(
            "type=EXECVE msg=audit({stamp}): argc=2 a0=\"make\" a1=\"all\""
        ));
    }
    v.push(format!("type=CWD msg=audit({stamp}): cwd=\"/src\""));
    v.push(format!("type=PATH msg=audit({stamp}): item=0 name=\"f{serial}\" inode=6 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"));
    v.push(format!(
        "type=PROCTITLE msg=audit({stamp}): proctitle=6D616B65"
    ));
    if eoe {
        v.push(format!("type=EOE msg=audit({stamp}):"));
    }
    v
}

/// The log's lines: serials from 100 (less the skipped ones), from 1 again
/// after `reboot` (a later time), neighbours interleaved where asked.
fn log(evs: &[Ev], reboot: Option<usize>) -> Vec<String> {
    let (mut serial, mut ms) = (100u64, 1_700_000_000_000u64);
    let mut each = Vec::new();
    for (i, ev) in evs.iter().enumerate() {
        if reboot == Some(i) {
            serial = 1;
            ms += 600_000;
        }
        serial += ev.3;
        ms += ev.6;
        each.push(records(serial, ms, ev));
        serial += 1;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < each.len() {
        if evs[i].5 && i + 1 < each.len() && reboot != Some(i + 1) {
            // The next event's records (its EOE among them) between this
            // one's first record and the rest.
            out.push(each[i][0].clone());
            out.extend(each[i + 1].iter().cloned());
            out.extend(each[i][1..].iter().cloned());
            i += 2;
        } else {
            out.extend(each[i].iter().cloned());
            i += 1;
        }
    }
    out
}

fn stages() -> Stages<NoNames> {
    super::accounting_tests::stages_with(Some(ControlMap::builtin()))
}

fn parsed(lines: &[String]) -> Vec<Record> {
    lines
        .iter()
        .filter_map(|l| audex_parse::parse_line(l.as_bytes()).ok())
        .collect()
}

fn one_thread(recs: &[Record]) -> Vec<Enriched> {
    let mut st = stages();
    let mut out = Vec::new();
    for r in recs {
        st.push(r.clone());
        st.drain_with(&mut |e| {
            out.push(e);
            Ok::<(), ()>(())
        })
        .unwrap();
    }
    st.flush();
    st.drain_with(&mut |e| {
        out.push(e);
        Ok::<(), ()>(())
    })
    .unwrap();
    out
}

fn threaded(recs: &[Record], threads: usize, batch: usize) -> Vec<Enriched> {
    let mut st = stages();
    let mut out = Vec::new();
    parallel::run(
        &mut st,
        threads,
        batch,
        |push| {
            for r in recs {
                push(r.clone())?;
            }
            Ok(())
        },
        &mut |e| {
            out.push(e);
            Ok(())
        },
    )
    .unwrap();
    out
}

fn ev() -> impl Strategy<Value = Ev> {
    (
        1u32..6,
        1u32..6,
        any::<bool>(),
        prop_oneof![8 => Just(0u64), 1 => 1u64..4],
        prop::bool::weighted(0.6),
        prop::bool::weighted(0.3),
        prop_oneof![Just(0u64), 1u64..30, 1500u64..4000],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    #[test]
    fn several_threads_give_what_one_gives(
        evs in prop::collection::vec(ev(), 1..120),
        reboot in prop::option::of(0usize..120),
        threads in 2usize..5,
        batch in 1usize..40,
    ) {
        let recs = parsed(&log(&evs, reboot));
        let want = one_thread(&recs);
        let got = threaded(&recs, threads, batch);
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(g, w);
        }
    }
}

#[test]
fn the_generated_logs_hold_what_the_property_is_about() {
    // Gaps, a reboot and interleaving in one log: loss reports come out,
    // children name their parent, and the threads agree.
    let evs: Vec<Ev> = (0..60)
        .map(|i| {
            let pid = 2 + i % 4;
            (
                pid,
                pid - 1,
                i % 3 == 0,
                u64::from(i % 17 == 5),
                i % 5 != 0,
                i % 4 == 1,
                7,
            )
        })
        .collect();
    let recs = parsed(&log(&evs, Some(40)));
    let want = one_thread(&recs);
    assert!(
        want.iter().any(|e| e.event().lost.is_some()),
        "gaps reported"
    );
    assert!(
        want.iter().any(|e| e
            .event()
            .process
            .as_ref()
            .is_some_and(|p| p.parent.is_some())),
        "parents from earlier execs"
    );
    assert_eq!(threaded(&recs, 3, 7), want);
}

#[test]
fn the_golden_logs_replay_alike_on_several_threads() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/golden");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<String> = text.lines().map(String::from).collect();
            let recs = parsed(&lines);
            let want = one_thread(&recs);
            assert!(!want.is_empty(), "{}", path.display());
            for (threads, batch) in [(2, 1), (2, 48), (4, 5)] {
                assert_eq!(threaded(&recs, threads, batch), want, "{}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 3, "golden logs found: {n}");
}

/// 600 events in batches of 4, the reader slowed every 20 records (about a
/// batch) or the writer every 50 events: what each kind of thread normalized, and
/// whether the events are one thread's.
fn shared(threads: usize, slow_reader: bool) -> (parallel::Shares, bool) {
    let evs: Vec<Ev> = (0..600)
        .map(|i| (2 + i % 4, 1 + i % 4, i % 3 == 0, 0, true, i % 4 == 1, 3))
        .collect();
    let recs = parsed(&log(&evs, None));
    let want = one_thread(&recs);
    let pause = || std::thread::sleep(std::time::Duration::from_millis(2));
    let shares = parallel::Shares::default();
    let mut st = stages();
    let mut got = Vec::new();
    parallel::run_sharing(
        &mut st,
        threads,
        4,
        &shares,
        |push| {
            for (i, r) in recs.iter().enumerate() {
                if slow_reader && i % 20 == 0 {
                    pause();
                }
                push(r.clone())?;
            }
            Ok(())
        },
        &mut |e| {
            if !slow_reader && got.len() % 50 == 0 {
                pause();
            }
            got.push(e);
            Ok(())
        },
    )
    .unwrap();
    (shares, got == want)
}

#[test]
fn a_reader_ahead_normalizes_what_it_hands_on() {
    let (s, same) = shared(2, false);
    assert!(same);
    // The writer sleeps: the queue fills and the reader takes its share.
    assert!(s.reader.into_inner() > 0, "the reader normalized nothing");
    assert_eq!(s.helpers.into_inner(), 0);
}

#[test]
fn a_writer_ahead_normalizes_what_it_gets() {
    let (s, same) = shared(2, true);
    assert!(same);
    // The reader sleeps after each batch: the queue does not fill (unless
    // the writer is kept off its core for 8 of them), the writer does it all.
    let (reader, writer) = (s.reader.into_inner(), s.writer.into_inner());
    assert!(
        writer > 0 && reader * 10 <= writer,
        "reader {reader}, writer {writer}"
    );
}

#[test]
fn helper_threads_normalize_past_two_threads() {
    let (s, same) = shared(4, false);
    assert!(same);
    assert!(s.helpers.into_inner() > 0, "the helpers normalized nothing");
}

#[test]
fn an_error_of_the_writer_is_the_one_returned() {
    let recs = parsed(&log(&[(2, 1, true, 0, true, false, 3); 300], None));
    for threads in [2, 4] {
        let mut n = 0;
        let err = parallel::run(
            &mut stages(),
            threads,
            4,
            |push| {
                for r in &recs {
                    push(r.clone())?;
                }
                Ok(())
            },
            &mut |_| {
                n += 1;
                if n == 20 {
                    anyhow::bail!("the output is gone");
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "the output is gone", "{threads} threads");
    }
}
