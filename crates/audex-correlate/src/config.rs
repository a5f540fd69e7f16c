//! Correlator limits.

/// Limits of the correlator; [`Config::default`] suits a busy host.
#[derive(Debug, Clone)]
pub struct Config {
    /// An event whose records are this much older (record time) than the newest
    /// record of its node is complete; also the wall-clock timeout in live mode.
    pub timeout_ms: u64,
    /// Events in flight at once; beyond it the oldest is completed as evicted.
    pub max_in_flight: usize,
    /// Records kept per event; later ones are counted and dropped (event marked truncated).
    pub max_records_per_event: usize,
    /// Bytes kept per event, likewise.
    pub max_bytes_per_event: usize,
    /// Memory all events in flight may hold together (records' text, field
    /// tables and structs); beyond it the oldest are completed as evicted
    /// (counted in `Stats::evicted_for_bytes`), so a flood of huge open events
    /// cannot grow memory past it.
    pub max_in_flight_bytes: usize,
    /// Report serial gaps as lost ranges.
    pub track_gaps: bool,
    /// Missing serial ranges remembered at once; beyond it the oldest is reported.
    pub max_open_gaps: usize,
    /// Serials remembered (with their times) below the newest, to tell a straggler
    /// or duplicate from a new sequence; 8 bytes each per node (see `gaps`).
    pub reorder_window: usize,
    /// A missing range is declared lost only once serials this far past its end
    /// arrived (or five timeouts passed, or the node went quiet, or input ended).
    pub gap_margin: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout_ms: 2000,
            max_in_flight: 4096,
            max_records_per_event: 4096,
            max_bytes_per_event: 4 << 20,
            max_in_flight_bytes: 32 << 20,
            track_gaps: true,
            max_open_gaps: 1024,
            reorder_window: 16384,
            gap_margin: 1024,
        }
    }
}
