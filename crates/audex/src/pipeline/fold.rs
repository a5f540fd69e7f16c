//! The repeat-folding stage: each tenant's `fold_repeats` over the events
//! its own exporters would get (after its filters, before its rate limit).
//! Takes routed events; gives whether each passes, and the repeat events due
//! (one standing for each run of held-back identical events, with
//! `repeat.{count, first_time, last_time}`), which are redacted and exported
//! like any event of the tenant. Held-back events are counted in
//! `audex_events_dropped_total{stage="fold",reason=<tenant>}`.
use super::clock::Clock;
use crate::metrics::METRICS;
use audex_policy::Folder;
use audex_proto::v1::AuditEvent;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Folding {
    folder: Folder,
    held: Arc<AtomicU64>,
}

/// The folding of a config's tenants.
pub struct Folds {
    /// Per tenant (policy index); None: no folding.
    tenants: Vec<Option<Folding>>,
    clock: Clock,
    latest_ns: i64,
    /// Repeat events due, with their tenant, oldest first.
    due: Vec<(usize, AuditEvent)>,
}

impl Folds {
    /// Per tenant: its name and its window (ms), if it folds.
    pub fn new(tenants: Vec<(String, Option<u64>)>, clock: Clock) -> Folds {
        Folds {
            tenants: tenants
                .into_iter()
                .map(|(name, w)| {
                    w.map(|ms| Folding {
                        folder: Folder::new(ms),
                        held: METRICS.drop_counter("fold", &name),
                    })
                })
                .collect(),
            clock,
            latest_ns: 0,
            due: Vec::new(),
        }
    }

    /// Whether `ev` passes tenant `tenant`'s folding (always, without it).
    pub fn admit(&mut self, tenant: usize, ev: &AuditEvent) -> bool {
        // The wall clock is read only for a tenant that has a limit.
        let limited = matches!(self.tenants.get(tenant), Some(Some(_)));
        if limited || self.clock == Clock::Event {
            let now = self.clock.now_ns(Some(ev), self.latest_ns);
            self.latest_ns = self.latest_ns.max(now);
        }
        let now = self.latest_ns;
        let Some(Some(f)) = self.tenants.get_mut(tenant) else {
            return true;
        };
        let mut made = Vec::new();
        let pass = f.folder.admit(ev, now, &mut made);
        if !pass {
            f.held.fetch_add(1, Ordering::Relaxed);
        }
        self.due.extend(made.into_iter().map(|m| (tenant, m)));
        pass
    }

    /// Closes the runs whose window has passed.
    pub fn tick(&mut self) {
        let now = self.clock.now_ns(None, self.latest_ns);
        self.each(|f, out| f.tick(now, out));
    }

    /// Closes every run (end of input, reload, stop).
    pub fn flush(&mut self) {
        self.each(|f, out| f.flush(out));
    }

    fn each(&mut self, g: impl Fn(&mut Folder, &mut Vec<AuditEvent>)) {
        let mut made = Vec::new();
        for (i, f) in self.tenants.iter_mut().enumerate() {
            if let Some(f) = f {
                g(&mut f.folder, &mut made);
                self.due.extend(made.drain(..).map(|m| (i, m)));
            }
        }
    }

    /// The repeat events due, with their tenant, oldest first.
    pub fn take_due(&mut self) -> Vec<(usize, AuditEvent)> {
        std::mem::take(&mut self.due)
    }
}
