//! The rate-limit stage: each tenant's `rate_limit` over the events its own
//! exporters would get (after its filters, before redaction), by event time
//! ([`Clock::Event`], replay) or wall time ([`Clock::Wall`], live). Takes
//! routed events; gives whether each passes, and the `events-throttled`
//! markers due (for the tenant's exporters; never throttled, never
//! redacted: they hold counts and times only). Suppressed events are counted
//! in `audex_events_dropped_total{stage="throttle",reason=<tenant>}`.
use super::clock::Clock;
use crate::metrics::METRICS;
use audex_policy::Throttle;
use audex_proto::v1::AuditEvent;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Limited {
    name: String,
    throttle: Throttle,
    suppressed: Arc<AtomicU64>,
}

/// The rate limits of a config's tenants.
pub struct Throttles {
    /// Per tenant (policy index); None: no limit.
    tenants: Vec<Option<Limited>>,
    clock: Clock,
    /// The latest event time seen (the event clock's now, for `tick`).
    latest_ns: i64,
    /// Markers due, with their tenant, oldest first.
    markers: Vec<(usize, AuditEvent)>,
}

/// A marker goes to its tenant's exporters as it is (redaction has nothing
/// of an event's to take from it): tagged with the tenant here.
fn tagged(mut m: AuditEvent, tenant: &str) -> AuditEvent {
    m.tenant = tenant.to_string();
    m
}

impl Throttles {
    /// Per tenant: its name and its limit, if it has one.
    pub fn new(tenants: Vec<(String, Option<Throttle>)>, clock: Clock) -> Throttles {
        Throttles {
            tenants: tenants
                .into_iter()
                .map(|(name, t)| {
                    t.map(|throttle| Limited {
                        suppressed: METRICS.drop_counter("throttle", &name),
                        name,
                        throttle,
                    })
                })
                .collect(),
            clock,
            latest_ns: 0,
            markers: Vec::new(),
        }
    }

    /// Whether tenant `tenant`'s limit lets `ev` through (always, without a
    /// limit); markers due before it are queued first.
    pub fn admit(&mut self, tenant: usize, ev: &AuditEvent) -> bool {
        // The wall clock is read only for a tenant that has a limit.
        let limited = matches!(self.tenants.get(tenant), Some(Some(_)));
        if limited || self.clock == Clock::Event {
            let now = self.clock.now_ns(Some(ev), self.latest_ns);
            self.latest_ns = self.latest_ns.max(now);
        }
        let now = self.latest_ns;
        let Some(Some(l)) = self.tenants.get_mut(tenant) else {
            return true;
        };
        let mut made = Vec::new();
        let pass = l.throttle.admit(ev, now, &mut made);
        if !pass {
            l.suppressed.fetch_add(1, Ordering::Relaxed);
        }
        self.markers
            .extend(made.into_iter().map(|m| (tenant, tagged(m, &l.name))));
        pass
    }

    /// Queues the markers of summaries a period old (live: a storm that
    /// stopped is reported without waiting for the next event).
    pub fn tick(&mut self) {
        let now = self.clock.now_ns(None, self.latest_ns);
        self.each(|t, made| t.tick(now, made));
    }

    /// Queues a marker for every open summary (end of input, reload, stop).
    pub fn flush(&mut self) {
        self.each(|t, made| t.flush(made));
    }

    fn each(&mut self, f: impl Fn(&mut Throttle, &mut Vec<AuditEvent>)) {
        let mut made = Vec::new();
        for (i, l) in self.tenants.iter_mut().enumerate() {
            if let Some(l) = l {
                f(&mut l.throttle, &mut made);
                self.markers
                    .extend(made.drain(..).map(|m| (i, tagged(m, &l.name))));
            }
        }
    }

    /// The markers queued, with their tenant, oldest first.
    pub fn take_markers(&mut self) -> Vec<(usize, AuditEvent)> {
        std::mem::take(&mut self.markers)
    }
}
