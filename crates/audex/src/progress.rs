//! A progress line on stderr (only when stderr is a terminal and the input a file).
use std::io::Write;
use std::time::{Duration, Instant};

pub struct Progress {
    total: u64,
    started: Instant,
    last: Instant,
    enabled: bool,
}

impl Progress {
    pub fn new(total: Option<u64>) -> Progress {
        // SAFETY: isatty only inspects the descriptor.
        let tty = unsafe { libc::isatty(2) } == 1;
        let now = Instant::now();
        Progress {
            total: total.unwrap_or(0),
            started: now,
            last: now,
            enabled: tty && total.is_some_and(|t| t > 0),
        }
    }

    /// Called often; draws at most 4 times a second.
    #[inline]
    pub fn update(&mut self, bytes: u64, records: u64) {
        if !self.enabled || !records.is_multiple_of(4096) {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < Duration::from_millis(250) {
            return;
        }
        self.last = now;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let pct = bytes as f64 * 100.0 / self.total as f64;
        let _ = write!(
            std::io::stderr(),
            "\r\x1b[2K{pct:5.1}%  {records} records  {:.0} records/s",
            records as f64 / secs
        );
    }

    pub fn finish(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
