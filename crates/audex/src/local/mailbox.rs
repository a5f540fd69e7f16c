//! One subscriber's queue of lines, between the fan-out (the daemon's read
//! loop, which must never wait on a client) and the connection thread that
//! writes to the socket. Events take a bounded share (a client that reads
//! too slowly loses events, which the registry counts into a marker);
//! control lines (revoked, stopping, markers) always fit, so what a client
//! is told cannot be crowded out. Closing wakes the writer.
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A line shared by every subscriber it goes to.
pub type Line = Arc<[u8]>;

/// Events queued for one client at most.
pub const MAX_QUEUED_EVENTS: usize = 4096;

#[derive(Debug, Default)]
struct State {
    lines: VecDeque<(Line, bool)>,
    events: usize,
    closed: bool,
    /// The writer waits for a line: only then is it woken (a wake-up is a
    /// futex syscall; per line to 100 subscribers it was most of the
    /// fan-out's cost in `benches/local_fanout.rs`).
    waiting: bool,
}

#[derive(Debug, Default)]
pub struct Mailbox {
    state: Mutex<State>,
    ready: Condvar,
}

/// What the writer finds.
pub enum Pop {
    Line(Line),
    /// Nothing within the wait.
    Empty,
    /// Closed and drained.
    Closed,
}

impl Mailbox {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an event line; false (not queued) when the client already has
    /// [`MAX_QUEUED_EVENTS`] waiting or the mailbox is closed.
    pub fn push_event(&self, line: &Line) -> bool {
        let mut s = self.state();
        if s.closed || s.events >= MAX_QUEUED_EVENTS {
            return false;
        }
        s.events += 1;
        s.lines.push_back((line.clone(), true));
        let wake = s.waiting;
        drop(s);
        if wake {
            self.ready.notify_one();
        }
        true
    }

    /// Queues a line the client must get (unless the mailbox is closed).
    pub fn push_control(&self, line: Line) {
        let mut s = self.state();
        if !s.closed {
            s.lines.push_back((line, false));
        }
        drop(s);
        self.ready.notify_one();
    }

    /// No more lines go in; the writer drains what is there, then stops.
    pub fn close(&self) {
        self.state().closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// The next line, waiting up to `wait` for one.
    pub fn pop(&self, wait: Duration) -> Pop {
        let mut s = self.state();
        if s.lines.is_empty() && !s.closed && !wait.is_zero() {
            s.waiting = true;
            s = self
                .ready
                .wait_timeout(s, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            s.waiting = false;
        }
        match s.lines.pop_front() {
            Some((l, event)) => {
                s.events -= usize::from(event);
                Pop::Line(l)
            }
            None if s.closed => Pop::Closed,
            None => Pop::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_bounded_and_control_lines_always_fit() {
        let m = Mailbox::default();
        let l: Line = Arc::from(&b"x\n"[..]);
        for _ in 0..MAX_QUEUED_EVENTS {
            assert!(m.push_event(&l));
        }
        assert!(!m.push_event(&l));
        m.push_control(Arc::from(&b"revoked\n"[..]));
        let mut n = 0;
        let mut last = None;
        while let Pop::Line(x) = m.pop(Duration::ZERO) {
            n += 1;
            last = Some(x);
        }
        assert_eq!(n, MAX_QUEUED_EVENTS + 1);
        assert_eq!(&*last.unwrap(), b"revoked\n");
        assert!(m.push_event(&l));
        m.close();
        assert!(!m.push_event(&l));
        assert!(matches!(m.pop(Duration::ZERO), Pop::Line(_)));
        assert!(matches!(m.pop(Duration::ZERO), Pop::Closed));
    }
}
