//! Controls, routing and redaction: takes an [`Enriched`] event, gives a
//! [`Routed`] one (compliance controls from its rule keys, then the first
//! tenant that matches, else `default`), then its tenant's [`Outbound`] copy.
//! Events that match no tenant and events a tenant withholds are counted in
//! `audex_events_dropped_total` (`stage="route"` and `stage="redact"`).
use super::event::{Enriched, Outbound, Routed};
use crate::metrics::METRICS;
use audex_compliance::controls::ControlMap;
use audex_policy::Policy;
use std::sync::atomic::Ordering;

pub struct Router {
    policy: Policy,
    /// Rule key -> compliance controls, put on each event as `controls[]`.
    controls: ControlMap,
}

impl Router {
    pub fn new(policy: Policy, controls: ControlMap) -> Router {
        Router { policy, controls }
    }

    /// Controls come from the rule keys as the kernel gave them, before a
    /// tenant's redaction may hash or drop the keys; then the tenant. None
    /// (counted as unrouted) when no tenant takes it.
    pub fn route(&self, ev: Enriched) -> Option<Routed> {
        let mut event = ev.into_inner();
        self.controls.apply(&mut event);
        match self.policy.route(&event) {
            Some(tenant) => Some(Routed { tenant, event }),
            None => {
                METRICS.unrouted.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The tenant's copy; None (counted as withheld) when its redaction
    /// withholds the event.
    pub fn redact(&self, r: Routed) -> Option<Outbound> {
        match self.policy.redact(r.tenant, r.event) {
            Some(event) => Some(Outbound {
                tenant: r.tenant,
                event,
            }),
            None => {
                METRICS.withheld.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Both steps.
    pub fn route_and_redact(&self, ev: Enriched) -> Option<Outbound> {
        self.route(ev).and_then(|r| self.redact(r))
    }
}
