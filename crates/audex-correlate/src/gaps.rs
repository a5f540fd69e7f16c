//! Per-node serial watermark and the missing ranges below it.
use std::collections::BTreeMap;

/// What a serial not in flight means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// New: above the watermark, or filling a known gap, or the start of a new sequence.
    Fresh,
    /// At or below the watermark and not missing: its event already completed.
    Late,
}

/// A missing range `[first, last]`, noticed at record time `noticed_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Missing {
    pub first: u64,
    pub last: u64,
    pub noticed_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct GapTracker {
    hi: Option<u64>,
    hi_ms: u64,
    /// start -> (last, noticed_ms)
    missing: BTreeMap<u64, (u64, u64)>,
}

/// A serial this far below the watermark starts a new sequence (reboot, another log).
const RESET_DISTANCE: u64 = 1_000_000;

impl GapTracker {
    /// Observes a serial whose event is not in flight. Gaps it closes for good
    /// (on a reset) are appended to `done`.
    pub fn observe(&mut self, serial: u64, time_ms: u64, done: &mut Vec<Missing>) -> Seen {
        let Some(hi) = self.hi else {
            self.hi = Some(serial);
            self.hi_ms = time_ms;
            return Seen::Fresh;
        };
        if serial > hi {
            if serial > hi + 1 {
                self.missing.insert(hi + 1, (serial - 1, time_ms));
            }
            self.hi = Some(serial);
            self.hi_ms = time_ms;
            return Seen::Fresh;
        }
        // At or below the watermark: inside a missing range?
        if let Some((&start, &(last, noticed))) = self.missing.range(..=serial).next_back() {
            if serial <= last {
                self.missing.remove(&start);
                if start < serial {
                    self.missing.insert(start, (serial - 1, noticed));
                }
                if serial < last {
                    self.missing.insert(serial + 1, (last, noticed));
                }
                return Seen::Fresh;
            }
        }
        if serial < hi && (time_ms > self.hi_ms || hi - serial > RESET_DISTANCE) {
            // Serials went back while time went on: a new boot or another log.
            self.drain_all(done);
            self.hi = Some(serial);
            self.hi_ms = time_ms;
            return Seen::Fresh;
        }
        Seen::Late
    }

    /// Moves missing ranges noticed before `cutoff_ms` (and the oldest beyond
    /// `max_open`) to `done`.
    pub fn expire(&mut self, cutoff_ms: u64, max_open: usize, done: &mut Vec<Missing>) {
        let mut expired: Vec<u64> = Vec::new();
        for (&start, &(_, noticed)) in &self.missing {
            if noticed < cutoff_ms {
                expired.push(start);
            }
        }
        let over = self
            .missing
            .len()
            .saturating_sub(expired.len())
            .saturating_sub(max_open);
        if over > 0 {
            let mut rest: Vec<(u64, u64)> = self
                .missing
                .iter()
                .filter(|(_, &(_, n))| n >= cutoff_ms)
                .map(|(&s, &(_, n))| (n, s))
                .collect();
            rest.sort_unstable();
            expired.extend(rest.into_iter().take(over).map(|(_, s)| s));
        }
        expired.sort_unstable();
        for start in expired {
            if let Some((last, noticed)) = self.missing.remove(&start) {
                done.push(Missing {
                    first: start,
                    last,
                    noticed_ms: noticed,
                });
            }
        }
    }

    pub fn has_open(&self) -> bool {
        !self.missing.is_empty()
    }

    pub fn drain_all(&mut self, done: &mut Vec<Missing>) {
        for (first, (last, noticed_ms)) in std::mem::take(&mut self.missing) {
            done.push(Missing {
                first,
                last,
                noticed_ms,
            });
        }
    }
}
