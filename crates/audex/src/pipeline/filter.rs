//! The filter stage: the config's top-level filters (after enrichment, before
//! routing) and each tenant's (after routing, before redaction), in config
//! order, the first that suppresses an event taking it. Takes events; gives
//! for each the filter that suppressed it, if one did, and counts it in
//! `audex_events_dropped_total{stage="filter",reason=<filter name>}`.
//! Enrichment ran before: a suppressed event has already taught the process
//! cache its process (parents, programs), so later events keep their context.
//! A filter with `fold_repeats` suppresses nothing: it folds what it takes
//! (the first of each run of identical events goes on, one repeat event
//! stands for the rest: `audex_events_dropped_total{stage="fold",reason=<filter>}`).
use super::event::FilterId;
use crate::metrics::METRICS;
use audex_policy::{EventView, Filter, Take};
use audex_proto::v1::AuditEvent;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Counted {
    filter: Filter,
    /// Suppressed (or, folding, held back) events.
    counter: Arc<AtomicU64>,
}

/// What a filter did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Suppressed by this filter (for its exporters).
    Suppressed(FilterId),
    /// Held back by this folding filter (a repeat event will stand for it).
    Held(FilterId),
}

/// The compiled filters of a config, with their per-process memory and
/// folding.
pub struct Filters {
    top: Vec<Counted>,
    /// Per tenant (policy index).
    tenants: Vec<Vec<Counted>>,
    /// Repeat events due from folding filters, with the filter, oldest first.
    due: Vec<(FilterId, AuditEvent)>,
}

fn counted(filters: Vec<Filter>) -> Vec<Counted> {
    filters
        .into_iter()
        .map(|filter| {
            let stage = if filter.folds() { "fold" } else { "filter" };
            Counted {
                counter: METRICS.drop_counter(stage, filter.name()),
                filter,
            }
        })
        .collect()
}

impl Filters {
    pub fn new(top: Vec<Filter>, tenants: Vec<Vec<Filter>>) -> Filters {
        Filters {
            top: counted(top),
            tenants: tenants.into_iter().map(counted).collect(),
            due: Vec::new(),
        }
    }

    /// Whether a filter folds (and so needs the time).
    pub fn fold(&self) -> bool {
        let mut all = self.top.iter().chain(self.tenants.iter().flatten());
        all.any(|c| c.filter.folds())
    }

    /// In order, the first filter of `list` (tenant `tenant`'s, or the top
    /// level's) that suppresses `ev` or, folding at `now_ns`, holds it back;
    /// a folding filter that lets it pass (the first of its run) hands it on.
    fn first(&mut self, tenant: Option<usize>, ev: &AuditEvent, now_ns: i64) -> Option<Taken> {
        let list = match tenant {
            None => &mut self.top,
            Some(t) => self.tenants.get_mut(t)?,
        };
        if list.is_empty() {
            return None;
        }
        let view = EventView::new(ev);
        let mut made = Vec::new();
        for (index, c) in list.iter_mut().enumerate() {
            let id = FilterId { tenant, index };
            let take = c.filter.take(&view, now_ns, &mut made);
            self.due.extend(made.drain(..).map(|m| (id, m)));
            let taken = match take {
                Take::Pass => continue,
                Take::Suppress => Taken::Suppressed(id),
                Take::Hold => Taken::Held(id),
            };
            c.counter.fetch_add(1, Ordering::Relaxed);
            return Some(taken);
        }
        None
    }

    /// What the top-level filters do with `ev` at `now_ns`.
    pub fn before_routing(&mut self, ev: &AuditEvent, now_ns: i64) -> Option<Taken> {
        self.first(None, ev, now_ns)
    }

    /// What tenant `tenant`'s filters do with `ev` at `now_ns`.
    pub fn after_routing(&mut self, tenant: usize, ev: &AuditEvent, now_ns: i64) -> Option<Taken> {
        self.first(Some(tenant), ev, now_ns)
    }

    fn each_filter(&mut self, f: impl Fn(&mut Filter, &mut Vec<AuditEvent>)) {
        let mut made = Vec::new();
        let lists = std::iter::once((None, &mut self.top)).chain(
            self.tenants
                .iter_mut()
                .enumerate()
                .map(|(t, l)| (Some(t), l)),
        );
        for (tenant, list) in lists {
            for (index, c) in list.iter_mut().enumerate() {
                f(&mut c.filter, &mut made);
                let id = FilterId { tenant, index };
                self.due.extend(made.drain(..).map(|m| (id, m)));
            }
        }
    }

    /// Closes the folding filters' runs whose window has passed at `now_ns`.
    pub fn tick(&mut self, now_ns: i64) {
        self.each_filter(|f, out| f.tick(now_ns, out));
    }

    /// Closes every run (end of input, reload, stop).
    pub fn flush(&mut self) {
        self.each_filter(|f, out| f.flush(out));
    }

    /// The repeat events due, with the filter that folded them.
    pub fn take_due(&mut self) -> Vec<(FilterId, AuditEvent)> {
        std::mem::take(&mut self.due)
    }
}
