//! The filter stage: the config's top-level filters (after enrichment, before
//! routing) and each tenant's (after routing, before redaction), in config
//! order, the first that suppresses an event taking it. Takes events; gives
//! for each the filter that suppressed it, if one did, and counts it in
//! `audex_events_dropped_total{stage="filter",reason=<filter name>}`.
//! Enrichment ran before: a suppressed event has already taught the process
//! cache its process (parents, programs), so later events keep their context.
use super::event::FilterId;
use crate::metrics::METRICS;
use audex_policy::{EventView, Filter};
use audex_proto::v1::AuditEvent;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Counted {
    filter: Filter,
    suppressed: Arc<AtomicU64>,
}

/// The compiled filters of a config, with their per-process memory.
#[derive(Default)]
pub struct Filters {
    top: Vec<Counted>,
    /// Per tenant (policy index).
    tenants: Vec<Vec<Counted>>,
}

fn counted(filters: Vec<Filter>) -> Vec<Counted> {
    filters
        .into_iter()
        .map(|filter| Counted {
            suppressed: METRICS.drop_counter("filter", filter.name()),
            filter,
        })
        .collect()
}

fn first(list: &mut [Counted], ev: &AuditEvent) -> Option<usize> {
    if list.is_empty() {
        return None;
    }
    let view = EventView::new(ev);
    let i = list
        .iter_mut()
        .position(|c| c.filter.suppresses_view(&view))?;
    list[i].suppressed.fetch_add(1, Ordering::Relaxed);
    Some(i)
}

impl Filters {
    pub fn new(top: Vec<Filter>, tenants: Vec<Vec<Filter>>) -> Filters {
        Filters {
            top: counted(top),
            tenants: tenants.into_iter().map(counted).collect(),
        }
    }

    /// The top-level filter that suppresses `ev`, if any.
    pub fn before_routing(&mut self, ev: &AuditEvent) -> Option<FilterId> {
        first(&mut self.top, ev).map(|index| FilterId {
            tenant: None,
            index,
        })
    }

    /// The filter of tenant `tenant` that suppresses `ev`, if any.
    pub fn after_routing(&mut self, tenant: usize, ev: &AuditEvent) -> Option<FilterId> {
        let list = self.tenants.get_mut(tenant)?;
        first(list, ev).map(|index| FilterId {
            tenant: Some(tenant),
            index,
        })
    }
}
