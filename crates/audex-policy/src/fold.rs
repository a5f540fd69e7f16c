//! Repeat folding (`tenants[].fold_repeats: {window_ms}`): the first of a run
//! of identical events (same actor, program, action, paths and outcome)
//! passes at once; the identical ones that follow within the window are held
//! back and, when the window closes, stand as one event (the first held
//! back, with `repeat.{count, first_time, last_time}` over all of them), as
//! syslog's "last message repeated N times". So the first event is never
//! delayed, and passed + the repeats' counts = seen. By the clock the caller
//! gives (event time in replay, wall time live). Input: events with the time
//! now. Output: whether each passes, and the repeat events due. Bounded: at
//! most [`MAX_OPEN_GROUPS`] runs are open; past that the oldest closes early.
use crate::HoldBack;
use audex_proto::v1::{AuditEvent, Repeat};
use audex_proto::Timestamp;
use rustc_hash::{FxHashMap, FxHasher};
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

/// Open runs of identical events at most.
pub const MAX_OPEN_GROUPS: usize = 4096;

#[derive(Debug, Clone)]
struct Group {
    opened_ns: i64,
    /// The first event held back (the repeat event, when the run closes).
    held: Option<AuditEvent>,
    count: u64,
    last: Option<Timestamp>,
}

/// One tenant's folding.
#[derive(Debug, Clone)]
pub struct Folder {
    window_ns: i64,
    open: FxHashMap<u64, Group>,
    /// Keys by opening time (a key may be here after its group closed; the
    /// opening time tells).
    order: VecDeque<(u64, i64)>,
}

/// What makes two events the same for folding.
fn identity(ev: &AuditEvent) -> u64 {
    let mut h = FxHasher::default();
    if let Some(a) = &ev.actor {
        (a.auid, a.uid, a.euid).hash(&mut h);
    }
    if let Some(p) = &ev.process {
        p.exe.hash(&mut h);
    }
    ev.category.hash(&mut h);
    ev.action.hash(&mut h);
    ev.outcome.hash(&mut h);
    for f in &ev.files {
        f.path.hash(&mut h);
    }
    h.finish()
}

impl Folder {
    pub fn new(window_ms: u64) -> Folder {
        Folder {
            window_ns: (window_ms as i64).saturating_mul(1_000_000),
            open: FxHashMap::default(),
            order: VecDeque::new(),
        }
    }

    fn close_oldest(&mut self, out: &mut Vec<AuditEvent>) {
        while let Some((key, opened)) = self.order.pop_front() {
            if self.close(key, opened, out) {
                return;
            }
        }
    }

    /// Closes `key`'s run if it is the one opened at `opened`; whether it was.
    fn close(&mut self, key: u64, opened: i64, out: &mut Vec<AuditEvent>) -> bool {
        if self.open.get(&key).is_none_or(|g| g.opened_ns != opened) {
            return false;
        }
        let g = self.open.remove(&key).expect("present");
        if let Some(mut ev) = g.held {
            ev.repeat = Some(Repeat {
                count: g.count,
                first_time: ev.time,
                last_time: g.last,
            });
            out.push(ev);
        }
        true
    }

    pub fn open_runs(&self) -> usize {
        self.open.len()
    }
}

impl HoldBack for Folder {
    /// Whether `ev` passes (the first of its run); repeat events due are
    /// pushed to `out` first.
    fn admit(&mut self, ev: &AuditEvent, now_ns: i64, out: &mut Vec<AuditEvent>) -> bool {
        self.tick(now_ns, out);
        let key = identity(ev);
        match self.open.get_mut(&key) {
            Some(g) => {
                g.count += 1;
                g.last = ev.time;
                if g.held.is_none() {
                    g.held = Some(ev.clone());
                }
                false
            }
            None => {
                if self.open.len() >= MAX_OPEN_GROUPS {
                    self.close_oldest(out);
                }
                self.open.insert(
                    key,
                    Group {
                        opened_ns: now_ns,
                        held: None,
                        count: 0,
                        last: None,
                    },
                );
                self.order.push_back((key, now_ns));
                true
            }
        }
    }

    /// Closes the runs whose window has passed at `now_ns`.
    fn tick(&mut self, now_ns: i64, out: &mut Vec<AuditEvent>) {
        while let Some(&(key, opened)) = self.order.front() {
            if now_ns.saturating_sub(opened) < self.window_ns {
                break;
            }
            self.order.pop_front();
            self.close(key, opened, out);
        }
    }

    /// Closes every open run (end of input, reload, stop).
    fn flush(&mut self, out: &mut Vec<AuditEvent>) {
        while let Some((key, opened)) = self.order.pop_front() {
            self.close(key, opened, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audex_proto::v1::{File, Process};

    fn ev(ms: i64, exe: &str, path: &str) -> AuditEvent {
        AuditEvent {
            time: Some(Timestamp {
                seconds: ms / 1000,
                nanos: (ms % 1000) as i32 * 1_000_000,
            }),
            action: "opened".into(),
            process: Some(Process {
                exe: exe.into(),
                ..Default::default()
            }),
            files: vec![File {
                path: path.into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_first_passes_and_one_event_stands_for_the_repeats() {
        let mut f = Folder::new(1000);
        let mut out = Vec::new();
        assert!(f.admit(&ev(0, "/bin/cat", "/a"), 0, &mut out));
        for ms in 1..=9 {
            assert!(!f.admit(&ev(ms * 10, "/bin/cat", "/a"), ms * 10_000_000, &mut out));
        }
        // Another path is another run.
        assert!(f.admit(&ev(95, "/bin/cat", "/b"), 95_000_000, &mut out));
        assert!(out.is_empty());
        f.tick(1_000_000_000, &mut out);
        assert_eq!(out.len(), 1);
        let r = out[0].repeat.as_ref().unwrap();
        assert_eq!(r.count, 9);
        assert_eq!(
            (r.first_time, r.last_time),
            (ev(10, "", "").time, ev(90, "", "").time)
        );
        // After the window a new run begins: it passes again.
        assert!(f.admit(&ev(1500, "/bin/cat", "/a"), 1_500_000_000, &mut out));
        f.flush(&mut out);
        // The /b run and the new /a run had no repeats: no repeat event.
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn open_runs_are_bounded() {
        let mut f = Folder::new(60_000);
        let mut out = Vec::new();
        for i in 0..(MAX_OPEN_GROUPS + 10) {
            let p = format!("/f{i}");
            assert!(f.admit(&ev(0, "x", &p), 0, &mut out));
            assert!(!f.admit(&ev(0, "x", &p), 0, &mut out));
        }
        assert_eq!(f.open_runs(), MAX_OPEN_GROUPS);
        // The oldest were closed early, each with its repeat.
        assert_eq!(out.len(), 10);
    }

    use proptest::prelude::*;

    proptest! {
        /// passed + the repeat events' counts = seen; every repeat event
        /// stands for at least one held-back event.
        #[test]
        fn passed_and_repeats_add_up(steps in proptest::collection::vec((0usize..3, 0usize..3, 0i64..400), 0..200),
                                     window in 1u64..2000) {
            let mut f = Folder::new(window);
            let mut out = Vec::new();
            let (mut now, mut passed) = (0i64, 0u64);
            for (x, p, dt) in &steps {
                now += dt;
                let e = ev(now, ["a", "b", "c"][*x], ["/1", "/2", "/3"][*p]);
                if f.admit(&e, now * 1_000_000, &mut out) { passed += 1; }
            }
            f.flush(&mut out);
            let folded: u64 = out.iter().map(|e| e.repeat.as_ref().unwrap().count).sum();
            prop_assert!(out.iter().all(|e| e.repeat.as_ref().unwrap().count >= 1));
            prop_assert_eq!(passed + folded, steps.len() as u64);
        }
    }
}
