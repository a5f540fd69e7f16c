//! argv limits, controls, filters, routing, folding, rate limits and
//! redaction: takes an [`Enriched`] event, gives a [`Routed`] one (argv
//! trimmed to `max_args` / `max_argv_bytes`, compliance controls from its
//! rule keys, the top-level filters, then the first tenant that matches,
//! else `default`, then that tenant's filters, repeat folding and rate
//! limit), then its tenant's [`Outbound`] copy. Repeat events (of folding
//! filters and tenants) and rate-limit markers come out as [`Outbound`]
//! copies of their own ([`Router::take_markers`]). Events that match no
//! tenant and events a tenant withholds are counted in
//! `audex_events_dropped_total` (`stage="route"` and `stage="redact"`); a
//! suppressed event is routed and redacted like any other, for its filter's
//! exporters (see [`super::filter`]).
use super::clock::{Clock, Now};
use super::event::{Enriched, Outbound, Routed};
use super::filter::{Filters, Taken};
use super::hold_back::{Folds, Throttles};
use crate::metrics::METRICS;
use audex_compliance::controls::ControlMap;
use audex_policy::{ArgvLimit, Policy};
use audex_proto::v1::AuditEvent;
use std::sync::atomic::Ordering;

pub struct Router {
    policy: Policy,
    /// Rule key -> compliance controls, put on each event as `controls[]`.
    controls: ControlMap,
    filters: Filters,
    argv: ArgvLimit,
    folds: Folds,
    throttles: Throttles,
    /// Read once per event when a folding filter, tenant folding or a rate
    /// limit needs the time; never otherwise.
    now: Now,
    timed: bool,
}

impl Router {
    pub fn new(
        policy: Policy,
        controls: ControlMap,
        filters: Filters,
        argv: ArgvLimit,
        folds: Folds,
        throttles: Throttles,
        clock: Clock,
    ) -> Router {
        let timed = filters.fold() || folds.any() || throttles.any();
        Router {
            now: Now::new(clock),
            timed,
            policy,
            controls,
            filters,
            argv,
            folds,
            throttles,
        }
    }

    /// Controls come from the rule keys as the kernel gave them, before a
    /// tenant's redaction may hash or drop the keys; then the filters and the
    /// tenant, its filters, its folding and its rate limit. None when no
    /// tenant takes it (counted as unrouted) or a folding filter, the
    /// tenant's folding or its rate limit holds it back (counted in a repeat
    /// event or a marker). Notes audex makes (loss reports, checkpoints) pass
    /// every filter and limit.
    pub fn route(&mut self, ev: Enriched) -> Option<Routed> {
        let note = ev.is_note();
        let mut event = ev.into_inner();
        if let Some(p) = &mut event.process {
            self.argv.apply(p);
        }
        self.controls.apply(&mut event);
        let now = if self.timed && !note {
            self.now.at(&event)
        } else {
            0
        };
        let mut suppressed = match (!note).then(|| self.filters.before_routing(&event, now)) {
            Some(Some(Taken::Held(_))) => return None,
            Some(Some(Taken::Suppressed(id))) => Some(id),
            _ => None,
        };
        match self.policy.route(&event) {
            Some(tenant) => {
                if suppressed.is_none() && !note {
                    match self.filters.after_routing(tenant, &event, now) {
                        Some(Taken::Held(_)) => return None,
                        Some(Taken::Suppressed(id)) => suppressed = Some(id),
                        None => {
                            if !(self.folds.admit(tenant, &event, now)
                                && self.throttles.admit(tenant, &event, now))
                            {
                                return None;
                            }
                        }
                    }
                }
                Some(Routed {
                    tenant,
                    event,
                    suppressed,
                })
            }
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
                suppressed: r.suppressed,
            }),
            None => {
                METRICS.withheld.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The events due now besides the routed ones, for their tenants'
    /// exporters, in order (each before the event whose admission closed
    /// it): repeat events of folded runs (redacted for their tenant like any
    /// event), then the rate limits' markers (counts and times only: as they
    /// are).
    pub fn take_markers(&mut self) -> Vec<Outbound> {
        // A folding filter's repeat event goes to the tenant of the events
        // it stands for (past the filters that follow: they did not see them).
        let from_filters: Vec<(usize, AuditEvent)> = self
            .filters
            .take_due()
            .into_iter()
            .filter_map(|(id, ev)| {
                let tenant = id.tenant.or_else(|| self.policy.route(&ev));
                if tenant.is_none() {
                    METRICS.unrouted.fetch_add(1, Ordering::Relaxed);
                }
                Some((tenant?, ev))
            })
            .collect();
        let repeats = from_filters
            .into_iter()
            .chain(self.folds.take_due())
            .filter_map(|(tenant, ev)| {
                self.redact(Routed {
                    tenant,
                    event: ev,
                    suppressed: None,
                })
            });
        let mut out: Vec<Outbound> = repeats.collect();
        out.extend(
            self.throttles
                .take_due()
                .into_iter()
                .map(|(tenant, event)| Outbound {
                    tenant,
                    event,
                    suppressed: None,
                }),
        );
        out
    }

    /// Closes the folded runs and rate-limit summaries that are due (live).
    pub fn tick(&mut self) {
        if !self.timed {
            return;
        }
        let now = self.now.tick();
        self.filters.tick(now);
        self.folds.tick(now);
        self.throttles.tick(now);
    }

    /// Closes every folded run and open summary (end of input, reload, stop).
    pub fn flush(&mut self) {
        self.filters.flush();
        self.folds.flush();
        self.throttles.flush();
    }

    /// Both steps.
    pub fn route_and_redact(&mut self, ev: Enriched) -> Option<Outbound> {
        self.route(ev).and_then(|r| self.redact(r))
    }
}
