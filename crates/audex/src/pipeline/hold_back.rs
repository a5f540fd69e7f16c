//! The per-tenant stages that hold events back and stand for them with
//! events of their own: repeat folding (`fold_repeats`, then) the rate limit
//! (`rate_limit`), over the events a tenant's own exporters would get (after
//! its filters, before redaction), by the router's clock (event time in
//! replay, wall time live). Takes routed events and the time; gives whether
//! each goes on, and the events due (repeat events, `events-throttled`
//! markers) for the tenant's exporters, tagged with the tenant. What is held
//! back is counted in `audex_events_dropped_total{stage,reason=<tenant>}`.
use crate::metrics::METRICS;
use audex_policy::{Folder, HoldBack, Throttle};
use audex_proto::v1::AuditEvent;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Held<T> {
    name: String,
    stage: T,
    counter: Arc<AtomicU64>,
}

/// One kind of hold-back stage for every tenant that has it.
pub struct PerTenant<T> {
    /// Per tenant (policy index); None: the tenant does not have it.
    tenants: Vec<Option<Held<T>>>,
    /// Events due, with their tenant, oldest first.
    due: Vec<(usize, AuditEvent)>,
}

/// Repeat folding per tenant.
pub type Folds = PerTenant<Folder>;
/// Rate limits per tenant.
pub type Throttles = PerTenant<Throttle>;

impl<T: HoldBack> PerTenant<T> {
    /// Per tenant: its name and its stage, if it has one; held-back events
    /// are counted under `metric_stage`.
    pub fn new(tenants: Vec<(String, Option<T>)>, metric_stage: &'static str) -> PerTenant<T> {
        PerTenant {
            tenants: tenants
                .into_iter()
                .map(|(name, t)| {
                    t.map(|stage| Held {
                        counter: METRICS.drop_counter(metric_stage, &name),
                        name,
                        stage,
                    })
                })
                .collect(),
            due: Vec::new(),
        }
    }

    /// Whether any tenant has the stage (and so it needs the time).
    pub fn any(&self) -> bool {
        self.tenants.iter().any(Option::is_some)
    }

    /// Whether `ev` goes on past tenant `tenant`'s stage at `now_ns` (always,
    /// without one); events due before it are queued first.
    pub fn admit(&mut self, tenant: usize, ev: &AuditEvent, now_ns: i64) -> bool {
        let Some(Some(h)) = self.tenants.get_mut(tenant) else {
            return true;
        };
        let mut made = Vec::new();
        let pass = h.stage.admit(ev, now_ns, &mut made);
        if !pass {
            h.counter.fetch_add(1, Ordering::Relaxed);
        }
        self.due
            .extend(made.into_iter().map(|m| (tenant, tagged(m, &h.name))));
        pass
    }

    /// Queues what is due at `now_ns` (live: a storm that stopped is
    /// reported without waiting for the next event).
    pub fn tick(&mut self, now_ns: i64) {
        self.each(|t, out| t.tick(now_ns, out));
    }

    /// Queues everything still held back (end of input, reload, stop).
    pub fn flush(&mut self) {
        self.each(|t, out| t.flush(out));
    }

    fn each(&mut self, f: impl Fn(&mut T, &mut Vec<AuditEvent>)) {
        let mut made = Vec::new();
        for (i, h) in self.tenants.iter_mut().enumerate() {
            if let Some(h) = h {
                f(&mut h.stage, &mut made);
                self.due
                    .extend(made.drain(..).map(|m| (i, tagged(m, &h.name))));
            }
        }
    }

    /// The events due, with their tenant, oldest first.
    pub fn take_due(&mut self) -> Vec<(usize, AuditEvent)> {
        std::mem::take(&mut self.due)
    }
}

/// A stage's own event, tagged with its tenant (a marker is exported as it
/// is; a repeat event is redacted, which tags it again).
fn tagged(mut m: AuditEvent, tenant: &str) -> AuditEvent {
    m.tenant = tenant.to_string();
    m
}
