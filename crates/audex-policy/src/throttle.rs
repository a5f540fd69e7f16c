//! A tenant's rate limit (`rate_limit: {events_per_s, burst, per_key}`): a
//! token bucket (per rule key with `per_key`), by the clock the caller gives
//! (event time in replay, wall time live). Takes events with the time now;
//! gives for each whether it passes, and `events-throttled` markers that
//! summarise what did not: `suppressed.{count, first_time, last_time,
//! reason}`, every suppressed event counted in exactly one marker, so kept +
//! the markers' counts = seen. A marker is made before the next event its
//! bucket lets through, when its summary is a [`MARKER_PERIOD_NS`] old
//! ([`Throttle::tick`], or the next suppressed event), and at the end
//! ([`Throttle::flush`]). Markers are never throttled themselves.
use crate::HoldBack;
use audex_proto::v1::{AuditEvent, Suppressed};
use audex_proto::{Action, Category, Outcome, Timestamp};
use rustc_hash::FxHashMap;

/// A rate limit as configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitSpec {
    pub events_per_s: f64,
    /// Events that may pass at once after a quiet spell (at least 1).
    pub burst: u64,
    /// One bucket per rule key (the event's first; events without a key
    /// share one).
    pub per_key: bool,
}

/// How often at most a bucket that keeps suppressing reports it.
pub const MARKER_PERIOD_NS: i64 = 1_000_000_000;

/// Rule keys with a bucket of their own at most; events of further keys share
/// one more bucket (their markers carry no key).
pub const MAX_KEYED_BUCKETS: usize = 1024;

#[derive(Debug, Clone)]
struct Pending {
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// Clock at the first suppressed event.
    opened_ns: i64,
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    at_ns: i64,
    pending: Option<Pending>,
}

/// One tenant's limit, with its buckets and open summaries.
#[derive(Debug, Clone)]
pub struct Throttle {
    spec: RateLimitSpec,
    reason: String,
    node: String,
    /// With `per_key`: a bucket per rule key ("" for events without one).
    buckets: FxHashMap<String, Bucket>,
    /// Without `per_key`, and for keys past [`MAX_KEYED_BUCKETS`].
    shared: Option<Bucket>,
    /// Markers made so far (for unique ids).
    markers: u64,
}

impl Throttle {
    /// `reason` names the tenant in markers; `node` is put on them. Errors
    /// name what is wrong with the spec.
    pub fn new(spec: RateLimitSpec, reason: &str, node: &str) -> Result<Throttle, String> {
        if !(spec.events_per_s.is_finite() && spec.events_per_s > 0.0) {
            return Err(format!(
                "`rate_limit.events_per_s` must be a number above 0, not {}",
                spec.events_per_s
            ));
        }
        if spec.burst == 0 {
            return Err("`rate_limit.burst` must be at least 1".into());
        }
        Ok(Throttle {
            spec,
            reason: reason.to_string(),
            node: node.to_string(),
            buckets: FxHashMap::default(),
            shared: None,
            markers: 0,
        })
    }

    /// The bucket of `key` (None: the shared one), made full at `now_ns`;
    /// a key is copied only when its bucket is made.
    fn bucket(&mut self, key: Option<&str>, now_ns: i64) -> &mut Bucket {
        let full = Bucket {
            tokens: self.spec.burst as f64,
            at_ns: now_ns,
            pending: None,
        };
        match key {
            Some(k) if self.buckets.contains_key(k) => self.buckets.get_mut(k).expect("present"),
            Some(k) if self.buckets.len() < MAX_KEYED_BUCKETS => {
                self.buckets.entry(k.to_string()).or_insert(full)
            }
            _ => self.shared.get_or_insert(full),
        }
    }

    fn marker(&mut self, key: Option<&str>, p: Pending) -> AuditEvent {
        self.markers += 1;
        let keys = key
            .filter(|k| !k.is_empty())
            .map(String::from)
            .into_iter()
            .collect();
        let t = p.last.unwrap_or_default();
        AuditEvent {
            id: format!(
                "{}:{}.{:09}:throttled:{}:{}",
                self.node, t.seconds, t.nanos, self.reason, self.markers
            ),
            node: self.node.clone(),
            time: p.last,
            category: Category::Audit.as_str().into(),
            action: Action::EventsThrottled.as_str().into(),
            outcome: Outcome::Success.as_str().into(),
            keys,
            suppressed: Some(Suppressed {
                count: p.count,
                first_time: p.first,
                last_time: p.last,
                reason: self.reason.clone(),
            }),
            ..Default::default()
        }
    }
}

impl HoldBack for Throttle {
    /// Whether `ev` passes at clock `now_ns`; markers due before it (its
    /// bucket's summary, when it passes or when the summary is old) are
    /// pushed to `markers` first.
    fn admit(&mut self, ev: &AuditEvent, now_ns: i64, markers: &mut Vec<AuditEvent>) -> bool {
        let spec = self.spec;
        let wanted = spec
            .per_key
            .then(|| ev.keys.first().map_or("", String::as_str));
        let b = self.bucket(wanted, now_ns);
        // A clock that went back (reordered event times) refills nothing.
        let dt = (now_ns - b.at_ns).max(0) as f64 / 1e9;
        b.tokens = (b.tokens + dt * spec.events_per_s).min(spec.burst as f64);
        b.at_ns = b.at_ns.max(now_ns);
        let pass = b.tokens >= 1.0;
        let due = b
            .pending
            .as_ref()
            .is_some_and(|p| pass || now_ns - p.opened_ns >= MARKER_PERIOD_NS);
        let closed = if due { b.pending.take() } else { None };
        if pass {
            b.tokens -= 1.0;
        } else {
            let p = b.pending.get_or_insert(Pending {
                count: 0,
                first: ev.time,
                last: ev.time,
                opened_ns: now_ns,
            });
            p.count += 1;
            p.last = ev.time;
        }
        if let Some(p) = closed {
            // The key the bucket is of: none for the shared one.
            let key = wanted.filter(|k| self.buckets.contains_key(*k));
            markers.push(self.marker(key, p));
        }
        pass
    }

    /// Markers for summaries a [`MARKER_PERIOD_NS`] old at `now_ns` (live:
    /// a storm that stopped is reported within the period).
    fn tick(&mut self, now_ns: i64, markers: &mut Vec<AuditEvent>) {
        let old = |b: &mut Bucket| {
            b.pending
                .take_if(|p| now_ns - p.opened_ns >= MARKER_PERIOD_NS)
        };
        let mut due: Vec<(Option<String>, Pending)> = self
            .buckets
            .iter_mut()
            .filter_map(|(k, b)| Some((Some(k.clone()), old(b)?)))
            .collect();
        due.extend(self.shared.as_mut().and_then(old).map(|p| (None, p)));
        for (k, p) in due {
            markers.push(self.marker(k.as_deref(), p));
        }
    }

    /// Markers for every open summary (end of input, a reload, a stop).
    fn flush(&mut self, markers: &mut Vec<AuditEvent>) {
        self.tick(i64::MAX, markers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ms: i64, key: &str) -> AuditEvent {
        AuditEvent {
            time: Some(Timestamp {
                seconds: ms / 1000,
                nanos: (ms % 1000) as i32 * 1_000_000,
            }),
            keys: if key.is_empty() {
                vec![]
            } else {
                vec![key.into()]
            },
            ..Default::default()
        }
    }

    fn spec(per_s: f64, burst: u64, per_key: bool) -> RateLimitSpec {
        RateLimitSpec {
            events_per_s: per_s,
            burst,
            per_key,
        }
    }

    fn count(m: &[AuditEvent]) -> u64 {
        m.iter().map(|e| e.suppressed.as_ref().unwrap().count).sum()
    }

    #[test]
    fn a_burst_passes_then_the_rate_and_a_marker_counts_the_rest() {
        let mut t = Throttle::new(spec(10.0, 5, false), "payments", "n").unwrap();
        let mut markers = Vec::new();
        // 100 events in the same millisecond: the burst passes.
        let passed = (0..100)
            .filter(|_| t.admit(&ev(1000, ""), 1_000_000_000, &mut markers))
            .count();
        assert_eq!(passed, 5);
        assert!(markers.is_empty());
        // 100 ms later one token is back: the event passes after the marker.
        assert!(t.admit(&ev(1100, ""), 1_100_000_000, &mut markers));
        assert_eq!(markers.len(), 1);
        let m = &markers[0];
        assert_eq!(m.action, "events-throttled");
        assert_eq!(m.category, "audit");
        let s = m.suppressed.as_ref().unwrap();
        assert_eq!(
            (s.count, s.reason.as_str(), s.first_time, s.last_time),
            (95, "payments", ev(1000, "").time, ev(1000, "").time)
        );
    }

    #[test]
    fn a_long_storm_is_reported_every_period_and_at_the_end() {
        let mut t = Throttle::new(spec(1.0, 1, false), "t", "n").unwrap();
        let mut markers = Vec::new();
        let mut kept = 0;
        // 1000 events/s for 3.5 s.
        for i in 0..3500 {
            if t.admit(&ev(i, ""), i * 1_000_000, &mut markers) {
                kept += 1;
            }
        }
        assert!(markers.len() >= 3, "{}", markers.len());
        t.flush(&mut markers);
        assert_eq!(kept + count(&markers), 3500);
        assert!(kept <= 5, "{kept}");
    }

    #[test]
    fn tick_reports_a_storm_that_stopped() {
        let mut t = Throttle::new(spec(1.0, 1, false), "t", "n").unwrap();
        let mut markers = Vec::new();
        for _ in 0..10 {
            t.admit(&ev(0, ""), 0, &mut markers);
        }
        t.tick(500_000_000, &mut markers);
        assert!(markers.is_empty());
        t.tick(1_000_000_000, &mut markers);
        assert_eq!(count(&markers), 9);
    }

    #[test]
    fn per_key_buckets_and_their_markers_name_the_key() {
        let mut t = Throttle::new(spec(1.0, 1, true), "t", "n").unwrap();
        let mut markers = Vec::new();
        assert!(t.admit(&ev(0, "a"), 0, &mut markers));
        assert!(t.admit(&ev(0, "b"), 0, &mut markers));
        assert!(!t.admit(&ev(0, "a"), 0, &mut markers));
        t.flush(&mut markers);
        assert_eq!(markers.len(), 1);
        assert_eq!(markers[0].keys, ["a"]);
    }

    #[test]
    fn keys_past_the_bound_share_one_bucket_and_their_markers_carry_no_key() {
        let mut t = Throttle::new(spec(1.0, 1, true), "t", "n").unwrap();
        let mut markers = Vec::new();
        for i in 0..MAX_KEYED_BUCKETS {
            assert!(t.admit(&ev(0, &format!("k{i}")), 0, &mut markers));
        }
        // Two more keys: one shared bucket, whose one token the first takes.
        assert!(t.admit(&ev(0, "late-a"), 0, &mut markers));
        assert!(!t.admit(&ev(0, "late-b"), 0, &mut markers));
        assert!(!t.admit(&ev(0, "k0"), 0, &mut markers));
        t.flush(&mut markers);
        let mut keys: Vec<Vec<String>> = markers.iter().map(|m| m.keys.clone()).collect();
        keys.sort();
        assert_eq!(keys, [vec![], vec!["k0".to_string()]]);
        assert_eq!(t.buckets.len(), MAX_KEYED_BUCKETS);
    }

    #[test]
    fn bad_specs_are_named() {
        assert!(Throttle::new(spec(0.0, 1, false), "t", "n")
            .unwrap_err()
            .contains("events_per_s"));
        assert!(Throttle::new(spec(1.0, 0, false), "t", "n")
            .unwrap_err()
            .contains("burst"));
    }

    use proptest::prelude::*;

    proptest! {
        /// kept + the markers' counts = seen, per run; no more pass than the
        /// bucket allows over the span; markers cover disjoint, ordered spans.
        #[test]
        fn kept_and_markers_add_up(per_s in 0.5f64..50.0, burst in 1u64..10, per_key in any::<bool>(),
                                   steps in proptest::collection::vec((0i64..300, 0usize..3), 0..300)) {
            let mut t = Throttle::new(spec(per_s, burst, per_key), "t", "n").unwrap();
            let mut markers = Vec::new();
            let (mut now, mut kept) = (0i64, 0u64);
            for (dt, k) in &steps {
                now += dt;
                let e = ev(now, ["", "a", "b"][*k]);
                if t.admit(&e, now * 1_000_000, &mut markers) { kept += 1; }
                if dt % 7 == 0 { t.tick(now * 1_000_000, &mut markers); }
            }
            t.flush(&mut markers);
            prop_assert_eq!(kept + count(&markers), steps.len() as u64);
            let buckets = if per_key { 3.0 } else { 1.0 };
            let bound = buckets * (burst as f64 + per_s * now as f64 / 1000.0) + 1e-6;
            prop_assert!(kept as f64 <= bound, "{} kept > {}", kept, bound);
            prop_assert!(markers.iter().all(|m| m.suppressed.as_ref().unwrap().count > 0));
        }
    }
}
