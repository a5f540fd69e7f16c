//! The event at each boundary after normalize, one type per step, so the order
//! enrich → controls → filter → route → filter → redact is a compiler fact:
//! [`Enriched`] leaves the [`Stages`](super::Stages) (or is a note audex makes
//! itself), [`Routed`] has its controls, its tenant and the filter that
//! suppressed it if one did ([`Router::route`]), and only an [`Outbound`]
//! ([`Router::redact`]) reaches an exporter's spool: its tenant's exporters,
//! or a suppressing filter's.
//!
//! [`Router::route`]: super::Router::route
//! [`Router::redact`]: super::Router::redact
use audex_proto::v1::AuditEvent;

/// Normalized and enriched: what the stages give a [`Sink`](super::Sink).
#[derive(Debug, Clone, PartialEq)]
pub struct Enriched {
    event: AuditEvent,
    /// Made by audex itself (loss reports are known by their `lost` too):
    /// never filtered.
    note: bool,
}

impl Enriched {
    pub(super) fn new(event: AuditEvent) -> Enriched {
        Enriched { event, note: false }
    }

    /// An event audex makes itself (records-lost, rule drift, an archive's
    /// checkpoint): there is nothing to enrich, and no filter takes it.
    pub fn note(event: AuditEvent) -> Enriched {
        Enriched { event, note: true }
    }

    /// An event read back from an archive (`replay --input proto`): it was
    /// enriched before it was written.
    pub fn replayed(event: AuditEvent) -> Enriched {
        Enriched { event, note: false }
    }

    pub fn event(&self) -> &AuditEvent {
        &self.event
    }

    /// Whether audex made it (a loss report, a checkpoint): filters let it pass.
    pub fn is_note(&self) -> bool {
        self.note || self.event.lost.is_some()
    }

    pub(super) fn into_inner(self) -> AuditEvent {
        self.event
    }
}

/// Which filter suppressed an event: a top-level one (`tenant` None) or one
/// of its tenant's, by index in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterId {
    pub tenant: Option<usize>,
    pub index: usize,
}

/// Tagged with its compliance controls (from the rule keys as the kernel gave
/// them), routed to the tenant at `tenant` (policy index), and suppressed by
/// a filter or not.
#[derive(Debug)]
pub struct Routed {
    pub(super) tenant: usize,
    pub(super) event: AuditEvent,
    pub(super) suppressed: Option<FilterId>,
}

/// Redacted for its tenant (and tagged with it): the only form an exporter
/// spools.
#[derive(Debug)]
pub struct Outbound {
    pub(super) tenant: usize,
    pub(super) event: AuditEvent,
    pub(super) suppressed: Option<FilterId>,
}

impl Outbound {
    pub fn tenant(&self) -> usize {
        self.tenant
    }

    /// The filter that suppressed it: then only that filter's exporters get it.
    pub fn suppressed(&self) -> Option<FilterId> {
        self.suppressed
    }

    pub fn event(&self) -> &AuditEvent {
        &self.event
    }
}
