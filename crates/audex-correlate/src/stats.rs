//! Counters: every record pushed is accounted for by exactly one of them.

/// Running counts of the correlator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records pushed.
    pub records: u64,
    /// Records delivered inside events.
    pub records_in_events: u64,
    /// EOE records consumed (closing an event or alone).
    pub eoe: u64,
    /// Records dropped because their event hit a cap.
    pub dropped_by_cap: u64,
    /// Records whose event had already completed (duplicates, or too late).
    pub late: u64,
    /// Records that were exact copies of a record already in their event (or
    /// of a single-record event just delivered): dropped, not delivered twice.
    pub duplicates: u64,
    /// Of `late`: records of serials already reported lost (dropped, so that no
    /// serial is both delivered and reported lost).
    pub after_lost: u64,
    /// Events emitted.
    pub events: u64,
    /// Events completed by eviction (too many in flight, or too many bytes).
    pub evicted: u64,
    /// Of `evicted`: completed because events in flight held more than
    /// `max_in_flight_bytes`.
    pub evicted_for_bytes: u64,
    /// Records whose serial was implausibly far ahead of their node's sequence
    /// (a forged or corrupt serial): delivered, but neither moving the sequence
    /// nor counted as loss.
    pub implausible_serials: u64,
    /// New serial sequences after the first of a node (a reboot, another log).
    pub new_sequences: u64,
    /// Of `new_sequences`: those that began more than a second before the
    /// node's newest record (an older log after a newer one: the input was not
    /// in time order, and its events are delivered in input order).
    pub went_back: u64,
    /// Lost ranges emitted and the serials they cover.
    pub lost_ranges: u64,
    pub lost_serials: u64,
}
