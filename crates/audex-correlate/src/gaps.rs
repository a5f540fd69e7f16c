//! Per-node serial tracking: which serials arrived, which are missing, and when a
//! missing one may be declared lost.
//!
//! The kernel takes an event's serial when it logs the event's first record and
//! queues that record a moment later; on several CPUs two events can swap places
//! in that moment, and an event's later records can wait for backlog room while
//! other events pass. So serials arrive out of order (and their timestamps, taken
//! at syscall entry, are not in serial order either). A serial above the highest
//! seen (`hi`) opens a missing range; the range is *declared lost* only once
//! nothing can fill it any more:
//!
//! - the gap clock (the node's newest record time in replay, the wall clock
//!   live) has moved `timeout` past the moment the range was noticed, and
//! - serials at least `margin` above its end have arrived, or the clock has moved
//!   `5 × timeout` past it, or (live) the node was quiet for `timeout`, or the
//!   input ended.
//!
//! A late record is told apart from a new sequence (a reboot, another log) by a
//! ring of the last `window` serials with their timestamps: the same serial with
//! the same time is a duplicate of an event already seen; with another time, a
//! new sequence. A serial declared lost is marked in the ring, so if it turns up
//! after all its records are dropped and counted (`late`, `after_lost`), never
//! delivered: a serial is never both delivered and reported lost. A serial
//! further ahead than the kernel could have counted since the newest record
//! (a million a second) is not believed: delivered, flagged, not a gap. Memory: 8
//! bytes per ring slot (the default window of 16,384 serials is 128 KiB per
//! node, allocated at the node's first record) plus the open ranges
//! (`max_open_gaps`).
use std::collections::BTreeMap;

/// What a serial not in flight means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// New: above the watermark, or filling a known gap, or the start of a new sequence.
    Fresh,
    /// Already seen (its event completed): a duplicate or a straggler.
    Late,
    /// A serial that was declared lost before this record came: dropped so that
    /// it is not also delivered.
    AfterLost,
    /// Far above the watermark, further than the kernel could have counted in
    /// the time since (see [`plausible_jump`]): a forged or corrupt serial. The
    /// record is delivered, but the sequence and its gaps are left as they were.
    Implausible,
    /// The start of a new sequence (a reboot, another log): fresh. `went_back`
    /// when its record is more than a second older than the node's newest (an
    /// older log after a newer one: the input is not in time order there).
    Restart { went_back: bool },
}

/// The largest serial jump believed for `elapsed_ms` of record time: a million
/// serials a second (several times what a busy kernel logs), plus a million.
pub(crate) fn plausible_jump(elapsed_ms: u64) -> u64 {
    (elapsed_ms / 1000 + 1).saturating_mul(1 << 20)
}

/// A missing range `[first, last]`, noticed when the node's newest record time
/// was `noticed_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Missing {
    pub first: u64,
    pub last: u64,
    pub noticed_ms: u64,
}

/// An open range: its end, the gap clock and the record time when it was noticed.
#[derive(Debug, Clone, Copy)]
struct Open {
    last: u64,
    clock: u64,
    rec_ms: u64,
}

/// When open ranges are declared lost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub timeout_ms: u64,
    pub margin: u64,
    pub max_open: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Low 32 bits of the serial in this slot.
    serial: u32,
    /// 0: empty; LOST: declared lost; else a tag of the record time.
    tag: u32,
}

const LOST: u32 = u32::MAX;

fn time_tag(time_ms: u64) -> u32 {
    (time_ms % (u32::MAX as u64 - 1)) as u32 + 1
}

#[derive(Debug)]
pub(crate) struct GapTracker {
    hi: Option<u64>,
    /// Lowest serial of the current sequence seen so far.
    start: u64,
    /// first serial -> the open range
    missing: BTreeMap<u64, Open>,
    ring: Vec<Slot>,
    window: u64,
    lim: Limits,
}

impl GapTracker {
    /// `window` is rounded up to a power of two (at least 64).
    pub fn new(window: usize, lim: Limits) -> Self {
        GapTracker {
            hi: None,
            start: 0,
            missing: BTreeMap::new(),
            ring: Vec::new(),
            window: window.max(64).next_power_of_two() as u64,
            lim,
        }
    }

    fn slot(&mut self, serial: u64) -> &mut Slot {
        if self.ring.is_empty() {
            self.ring = vec![Slot::default(); self.window as usize];
        }
        let i = (serial & (self.window - 1)) as usize;
        &mut self.ring[i]
    }

    fn mark(&mut self, serial: u64, tag: u32) {
        *self.slot(serial) = Slot {
            serial: serial as u32,
            tag,
        };
    }

    fn lookup(&mut self, serial: u64) -> Option<u32> {
        let s = *self.slot(serial);
        (s.tag != 0 && s.serial == serial as u32).then_some(s.tag)
    }

    fn begin(&mut self, serial: u64, time_ms: u64) -> Seen {
        self.hi = Some(serial);
        self.start = serial;
        self.mark(serial, time_tag(time_ms));
        Seen::Fresh
    }

    /// Observes a serial whose event is not in flight. `clock` is the gap clock now
    /// (stamped on a range it opens); `newest_ms` the node's newest record time.
    /// Ranges it closes for good (on a new sequence) are appended to `done`.
    pub fn observe(
        &mut self,
        serial: u64,
        time_ms: u64,
        clock: u64,
        newest_ms: u64,
        done: &mut Vec<Missing>,
    ) -> Seen {
        let Some(hi) = self.hi else {
            return self.begin(serial, time_ms);
        };
        if serial > hi {
            if serial - hi > plausible_jump(time_ms.saturating_sub(newest_ms)) {
                return Seen::Implausible;
            }
            if serial > hi + 1 {
                let open = Open {
                    last: serial - 1,
                    clock,
                    rec_ms: newest_ms.max(time_ms),
                };
                self.missing.insert(hi + 1, open);
            }
            self.hi = Some(serial);
            self.mark(serial, time_tag(time_ms));
            return Seen::Fresh;
        }
        // At or below the watermark: inside a missing range?
        if let Some((&first, &open)) = self.missing.range(..=serial).next_back() {
            if serial <= open.last {
                self.missing.remove(&first);
                if first < serial {
                    let before = Open {
                        last: serial - 1,
                        ..open
                    };
                    self.missing.insert(first, before);
                }
                if serial < open.last {
                    self.missing.insert(serial + 1, open);
                }
                self.mark(serial, time_tag(time_ms));
                return Seen::Fresh;
            }
        }
        let restart = Seen::Restart {
            went_back: time_ms.saturating_add(1000) < newest_ms,
        };
        if hi - serial >= self.window {
            // Too far back to be a straggler: a new sequence.
            self.drain_all(done);
            self.begin(serial, time_ms);
            return restart;
        }
        if serial < self.start {
            // Below the first serial seen: a straggler from just before it (within
            // the margin), or a new sequence. (Times cannot tell: a syscall that
            // blocked carries the time it started.)
            if self.start - serial > self.lim.margin {
                self.drain_all(done);
                self.begin(serial, time_ms);
                return restart;
            }
            if serial + 1 < self.start {
                let open = Open {
                    last: self.start - 1,
                    clock,
                    rec_ms: newest_ms.max(time_ms),
                };
                self.missing.insert(serial + 1, open);
            }
            self.start = serial;
            self.mark(serial, time_tag(time_ms));
            return Seen::Fresh;
        }
        match self.lookup(serial) {
            Some(LOST) => Seen::AfterLost,
            Some(tag) if tag == time_tag(time_ms) => Seen::Late,
            Some(_) => {
                // The same serial with another time: a new boot or another log.
                self.drain_all(done);
                self.begin(serial, time_ms);
                restart
            }
            None => Seen::Late,
        }
    }

    /// Declares lost the open ranges nothing can fill any more (see the module
    /// doc); `quiet` says the node sent nothing for the timeout (live).
    pub fn expire(&mut self, clock: u64, quiet: bool, done: &mut Vec<Missing>) {
        let (hi, lim) = (self.hi.unwrap_or(0), self.lim);
        let mut expired: Vec<u64> = Vec::new();
        for (&first, open) in &self.missing {
            let waited = clock.saturating_sub(open.clock);
            if waited >= lim.timeout_ms
                && (quiet
                    || hi >= open.last.saturating_add(lim.margin)
                    || waited >= lim.timeout_ms.saturating_mul(5))
            {
                expired.push(first);
            }
        }
        let over = self
            .missing
            .len()
            .saturating_sub(expired.len())
            .saturating_sub(lim.max_open);
        if over > 0 {
            // Memory bound: the oldest ranges go first.
            let mut rest: Vec<(u64, u64)> = self
                .missing
                .iter()
                .filter(|(s, _)| !expired.contains(s))
                .map(|(&s, o)| (o.clock, s))
                .collect();
            rest.sort_unstable();
            expired.extend(rest.into_iter().take(over).map(|(_, s)| s));
        }
        expired.sort_unstable();
        for first in expired {
            if let Some(open) = self.missing.remove(&first) {
                self.declare(first, open, done);
            }
        }
    }

    fn declare(&mut self, first: u64, open: Open, done: &mut Vec<Missing>) {
        let hi = self.hi.unwrap_or(open.last);
        let from = first.max(hi.saturating_sub(self.window - 1));
        for s in from..=open.last {
            self.mark(s, LOST);
        }
        done.push(Missing {
            first,
            last: open.last,
            noticed_ms: open.rec_ms,
        });
    }

    pub fn has_open(&self) -> bool {
        !self.missing.is_empty()
    }

    /// Declares every open range lost (end of input, a new sequence).
    pub fn drain_all(&mut self, done: &mut Vec<Missing>) {
        for (first, open) in std::mem::take(&mut self.missing) {
            self.declare(first, open, done);
        }
    }
}
