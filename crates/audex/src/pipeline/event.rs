//! The event at each boundary after normalize, one type per step, so the order
//! enrich → controls → route → redact is a compiler fact: [`Enriched`] leaves
//! the [`Stages`](super::Stages) (or is a note audex makes itself),
//! [`Routed`] has its controls and its tenant ([`Router::route`]), and only an
//! [`Outbound`] ([`Router::redact`]) reaches an exporter's spool.
//!
//! [`Router::route`]: super::Router::route
//! [`Router::redact`]: super::Router::redact
use audex_proto::v1::AuditEvent;

/// Normalized and enriched: what the stages give a [`Sink`](super::Sink).
#[derive(Debug, Clone, PartialEq)]
pub struct Enriched(AuditEvent);

impl Enriched {
    pub(super) fn new(ev: AuditEvent) -> Enriched {
        Enriched(ev)
    }

    /// An event audex makes itself (records-lost, rule drift, an archive's
    /// checkpoint): there is nothing to enrich.
    pub fn note(ev: AuditEvent) -> Enriched {
        Enriched(ev)
    }

    /// An event read back from an archive (`replay --input proto`): it was
    /// enriched before it was written.
    pub fn replayed(ev: AuditEvent) -> Enriched {
        Enriched(ev)
    }

    pub fn event(&self) -> &AuditEvent {
        &self.0
    }

    /// The event for an output that neither routes nor redacts (`watch`'s
    /// terminal, `replay` without a config).
    pub fn into_local(self) -> AuditEvent {
        self.0
    }

    pub(super) fn into_inner(self) -> AuditEvent {
        self.0
    }
}

/// Tagged with its compliance controls (from the rule keys as the kernel gave
/// them) and routed to the tenant at `tenant` (policy index).
#[derive(Debug)]
pub struct Routed {
    pub(super) tenant: usize,
    pub(super) event: AuditEvent,
}

/// Redacted for its tenant (and tagged with it): the only form an exporter
/// spools.
#[derive(Debug)]
pub struct Outbound {
    pub(super) tenant: usize,
    pub(super) event: AuditEvent,
}

impl Outbound {
    pub fn tenant(&self) -> usize {
        self.tenant
    }

    pub fn event(&self) -> &AuditEvent {
        &self.event
    }
}
