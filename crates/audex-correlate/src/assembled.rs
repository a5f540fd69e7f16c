//! What the correlator gives: assembled events and lost serial ranges.
use audex_parse::{AuditTime, Record};
use std::sync::Arc;

/// Why an event was completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// An EOE record closed it.
    Eoe,
    /// Its PROCTITLE, which the kernel writes last in a syscall event, closed it.
    Proctitle,
    /// Its record type is complete in one record.
    Single,
    /// A newer record (record time) showed it stale.
    Stale,
    /// The wall-clock timeout passed (live mode).
    WallClock,
    /// Too many events were in flight; it was the oldest.
    Evicted,
    /// The input ended.
    Flush,
}

/// The records of one event (EOE itself is not kept).
#[derive(Debug, Clone)]
pub struct Assembled {
    pub node: Option<Arc<str>>,
    pub serial: u64,
    pub time: AuditTime,
    pub records: Vec<Record>,
    pub end: EndReason,
    /// Records dropped because the event hit its record or byte cap.
    pub dropped_records: u32,
    pub saw_eoe: bool,
}

impl Assembled {
    /// True when records were cut by a cap.
    pub fn truncated(&self) -> bool {
        self.dropped_records > 0
    }
}

/// A run of serials that never arrived: lost records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRange {
    pub node: Option<Arc<str>>,
    pub first_serial: u64,
    pub last_serial: u64,
    /// Record time at which the gap was noticed.
    pub time: AuditTime,
}

impl LostRange {
    pub fn count(&self) -> u64 {
        self.last_serial - self.first_serial + 1
    }
}

/// One output of the correlator.
#[derive(Debug, Clone)]
pub enum Output {
    Event(Assembled),
    Lost(LostRange),
}
