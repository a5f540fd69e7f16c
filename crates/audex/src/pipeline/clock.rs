//! The clock rate limits and repeat folding go by: the events' own times in
//! replay (a log replays the same at any speed), the wall clock live.
use audex_policy::event_time_ns;
use audex_proto::v1::AuditEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The events' own times (replay).
    Event,
    /// Now (live).
    Wall,
}

impl Clock {
    /// Now, in ns since the epoch: at `ev` (the event clock), or without one
    /// the `latest` event time seen.
    pub fn now_ns(self, ev: Option<&AuditEvent>, latest: i64) -> i64 {
        match (self, ev) {
            (Clock::Wall, _) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64),
            (Clock::Event, Some(ev)) => event_time_ns(ev),
            (Clock::Event, None) => latest,
        }
    }
}
