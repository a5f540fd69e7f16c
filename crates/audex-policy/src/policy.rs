//! The tenants of a config, in order: routing (first match wins, else
//! `default`, else none) and each tenant's redaction.
use crate::matcher::Matcher;
use crate::redact::{RedactSpec, Redaction};
use audex_proto::v1::AuditEvent;

/// One tenant as configured.
#[derive(Debug, Clone, Default)]
pub struct TenantSpec {
    pub name: String,
    pub matcher: Matcher,
    pub redact: RedactSpec,
}

#[derive(Debug, Clone)]
struct Tenant {
    name: String,
    matcher: Matcher,
    redaction: Redaction,
}

/// Compiled tenants.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    tenants: Vec<Tenant>,
    default: Option<usize>,
}

impl Policy {
    /// Errors name the tenant and what is wrong with its redaction.
    pub fn new(specs: &[TenantSpec]) -> Result<Policy, String> {
        let mut tenants = Vec::new();
        for s in specs {
            let redaction = Redaction::compile(&s.redact, &s.matcher)
                .map_err(|e| format!("tenant `{}`: {e}", s.name))?;
            tenants.push(Tenant {
                name: s.name.clone(),
                matcher: s.matcher.clone(),
                redaction,
            });
        }
        let default = tenants.iter().position(|t| t.name == "default");
        Ok(Policy { tenants, default })
    }

    /// The index of the tenant `ev` belongs to.
    pub fn route(&self, ev: &AuditEvent) -> Option<usize> {
        (0..self.tenants.len())
            .find(|&i| Some(i) != self.default && self.tenants[i].matcher.matches(ev))
            .or(self.default)
    }

    pub fn name(&self, tenant: usize) -> &str {
        &self.tenants[tenant].name
    }

    /// The tenant's copy of `ev`: tagged with the tenant, redacted; None when
    /// the tenant's visibility rule holds it back.
    pub fn copy_for(&self, tenant: usize, ev: &AuditEvent) -> Option<AuditEvent> {
        self.redact(tenant, ev.clone())
    }

    /// As [`copy_for`](Policy::copy_for), consuming the event (no copy).
    pub fn redact(&self, tenant: usize, mut ev: AuditEvent) -> Option<AuditEvent> {
        let t = &self.tenants[tenant];
        ev.tenant.clone_from(&t.name);
        t.redaction.apply(&mut ev, &t.matcher).then_some(ev)
    }

    /// Route and redact in one step: (tenant index, its copy).
    pub fn process(&self, ev: &AuditEvent) -> Option<(usize, AuditEvent)> {
        let t = self.route(ev)?;
        Some((t, self.copy_for(t, ev)?))
    }

    /// Route and redact, consuming the event.
    pub fn process_owned(&self, ev: AuditEvent) -> Option<(usize, AuditEvent)> {
        let t = self.route(&ev)?;
        Some((t, self.redact(t, ev)?))
    }
}
