//! The clock folding filters, repeat folding and rate limits go by: the
//! events' own times in replay (a log replays the same at any speed), the
//! wall clock live. The router reads it once per event and hands the time to
//! each of them; it never goes back (reordered event times keep the latest).
use audex_proto::v1::AuditEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The events' own times (replay).
    Event,
    /// Now (live).
    Wall,
}

/// A [`Clock`] with the latest time it gave.
#[derive(Debug)]
pub(super) struct Now {
    clock: Clock,
    latest_ns: i64,
}

impl Now {
    pub(super) fn new(clock: Clock) -> Now {
        Now {
            clock,
            latest_ns: 0,
        }
    }

    /// The time at `ev` (ns since the epoch).
    pub(super) fn at(&mut self, ev: &AuditEvent) -> i64 {
        let t = match self.clock {
            Clock::Event => event_time_ns(ev),
            Clock::Wall => wall_ns(),
        };
        self.latest_ns = self.latest_ns.max(t);
        self.latest_ns
    }

    /// The time without a new event (a tick): now live, the latest event's
    /// time in replay.
    pub(super) fn tick(&mut self) -> i64 {
        if self.clock == Clock::Wall {
            self.latest_ns = self.latest_ns.max(wall_ns());
        }
        self.latest_ns
    }
}

/// An event's time in ns since the epoch (0 without one).
fn event_time_ns(ev: &AuditEvent) -> i64 {
    ev.time.as_ref().map_or(0, |t| {
        t.seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(t.nanos))
    })
}

fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
