//! The end of a live stream: on stop, a user message sent through the kernel
//! (type 1121, as `send_user_message` sends it) gets the newest serial; once it is read back, every
//! serial lost before it shows as a gap, so loss up to the very end is counted.
//! Resent while draining (a congested socket may drop it), given up after a
//! few tries or 5 s. Takes the [`Source`] (to send) and the records read (to
//! see it come back); gives "the drain is over".
use crate::source::Source;
use crate::status::AUDIT_TRUSTED_APP;
use std::time::{Duration, Instant};

/// A drain in progress.
pub struct Drain {
    text: String,
    /// Sending needs CAP_AUDIT_WRITE, which `run` does not keep (it would let
    /// audex forge user records): then loss is counted up to the last record read.
    can_send: bool,
    sent: u32,
    last_sent: Instant,
    seen: bool,
    since: Instant,
}

impl Drain {
    const TRIES: u32 = 4;
    const RESEND: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(5);

    /// Begins a drain now; the marker names this process and a nonce.
    pub fn begin() -> Drain {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let can_send = crate::caps::has(crate::caps::CAP_AUDIT_WRITE);
        Drain {
            text: format!(
                "op=audex-end-marker pid={} nonce={nonce}",
                std::process::id()
            ),
            can_send,
            sent: if can_send { 0 } else { Self::TRIES },
            last_sent: Instant::now(),
            seen: false,
            since: Instant::now(),
        }
    }

    /// Sends the marker (again) when due, until it is back or the tries run out.
    pub fn send_due(&mut self, src: &mut Source) {
        if self.seen
            || self.sent >= Self::TRIES
            || (self.sent > 0 && self.last_sent.elapsed() < Self::RESEND)
        {
            return;
        }
        self.sent += 1;
        self.last_sent = Instant::now();
        if let Err(e) = src.control().send_user_message(&self.text) {
            audex_log::error!(
                "could not send the end marker ({e}); loss after the last record may go uncounted"
            );
            self.sent = Self::TRIES;
        }
    }

    /// Notes the marker among the records read.
    pub fn look(&mut self, rtype: u16, payload: &[u8]) {
        if rtype == AUDIT_TRUSTED_APP
            && memchr::memmem::find(payload, self.text.as_bytes()).is_some()
        {
            self.seen = true;
        }
    }

    /// The drain is over: the marker came back, or the tries or the time ran out.
    pub fn done(&self) -> bool {
        let gave_up = self.sent >= Self::TRIES && self.last_sent.elapsed() > Self::RESEND;
        self.seen || gave_up || self.since.elapsed() > Self::MAX
    }

    /// Says (logs) when loss after the last record could not be counted.
    pub fn report(&self) {
        if !self.seen && self.can_send {
            audex_log::warn!(
                "the end marker did not come back; loss after the last record is not counted"
            );
        }
    }
}
