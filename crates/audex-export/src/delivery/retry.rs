//! Exponential backoff with full jitter, bounded, honouring a server's hint.
use std::time::Duration;

/// The longest server retry hint obeyed (a larger one is taken as this).
pub const MAX_HINT: Duration = Duration::from_secs(600);

/// How retries wait.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based): the server's hint when it
    /// gave one (at most [`MAX_HINT`]), else a random time between half and all of
    /// initial * 2^attempt, capped at `max`.
    pub fn delay(&self, attempt: u32, hint: Option<Duration>, rng: &mut Jitter) -> Duration {
        if let Some(h) = hint {
            return h.min(MAX_HINT);
        }
        let ceiling = self
            .initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let nanos = ceiling.as_nanos() as u64;
        Duration::from_nanos(nanos / 2 + rng.next() % (nanos / 2 + 1))
    }
}

/// A small xorshift generator for jitter (no cryptographic need).
pub struct Jitter(u64);

impl Jitter {
    pub fn seeded() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Jitter(t | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_and_caps() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        let mut j = Jitter(42);
        for attempt in 0..20 {
            let d = p.delay(attempt, None, &mut j);
            let ceiling = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_secs(2));
            assert!(d >= ceiling / 2 && d <= ceiling, "{attempt}: {d:?}");
        }
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(1)), &mut j),
            Duration::from_secs(1)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(60)), &mut j),
            Duration::from_secs(60),
            "hints beat our ceiling"
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(86400)), &mut j),
            MAX_HINT
        );
    }
}
