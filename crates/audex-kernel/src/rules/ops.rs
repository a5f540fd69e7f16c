//! Rules on the kernel: add, delete, list (AUDIT_ADD_RULE, AUDIT_DEL_RULE, AUDIT_LIST_RULES).
use super::kernel_rule::KernelRule;
use super::syntax::{Directive, Parsed, RuleOp};
use crate::netlink::{AuditSocket, KernelError};

pub const AUDIT_ADD_RULE: u16 = 1011;
pub const AUDIT_DEL_RULE: u16 = 1012;
pub const AUDIT_LIST_RULES: u16 = 1013;

/// What a load did, line by line.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Rules the kernel took (to remove later).
    pub applied: Vec<(RuleOp, KernelRule)>,
    /// `file:line: reason` of every rule the kernel refused.
    pub refused: Vec<String>,
    /// Control lines not applied (`-D`, `-b`, ... are the config's business).
    pub skipped_controls: Vec<String>,
}

/// Rules audex added, to be removed when it stops.
#[derive(Debug, Default)]
pub struct RuleSet {
    added: Vec<KernelRule>,
}

impl RuleSet {
    pub fn track(&mut self, r: KernelRule) {
        self.added.push(r);
    }

    pub fn rules(&self) -> &[KernelRule] {
        &self.added
    }

    /// Makes the tracked rules `want` (each with where it came from): deletes the
    /// tracked ones no longer wanted, adds the new ones, keeps the rest in place
    /// (so an unchanged watch never leaves a gap). Returns each failure, named.
    pub fn change_to(
        &mut self,
        sock: &mut AuditSocket,
        want: &[(String, KernelRule)],
    ) -> Vec<String> {
        let mut errs = Vec::new();
        let mut kept = Vec::new();
        for r in std::mem::take(&mut self.added) {
            if want.iter().any(|(_, w)| *w == r) {
                kept.push(r);
            } else if let Err(e) = sock.delete_rule(&r) {
                if e.errno() != Some(libc::ENOENT) {
                    errs.push(format!(
                        "removing a rule no longer configured: {}",
                        describe(&e, RuleOp::Delete)
                    ));
                    kept.push(r);
                }
            }
        }
        self.added = kept;
        for (from, w) in want {
            if self.added.contains(w) {
                continue;
            }
            match sock.add_rule(w) {
                Ok(()) => self.added.push(w.clone()),
                Err(e) => errs.push(format!(
                    "{from}: the kernel refused it: {}",
                    describe(&e, RuleOp::Add)
                )),
            }
        }
        errs
    }

    /// Deletes every tracked rule (newest first); returns the errors.
    pub fn remove_all(&mut self, sock: &mut AuditSocket) -> Vec<KernelError> {
        let mut errs = Vec::new();
        while let Some(r) = self.added.pop() {
            if let Err(e) = sock.delete_rule(&r) {
                // Already gone (someone ran auditctl -D) is fine.
                if e.errno() != Some(libc::ENOENT) {
                    errs.push(e);
                }
            }
        }
        errs
    }
}

fn describe(e: &KernelError, op: RuleOp) -> String {
    match e.errno() {
        Some(libc::ENOENT) if op != RuleOp::Delete => {
            "the kernel cannot find the watched path's parent (ENOENT)".into()
        }
        Some(libc::EEXIST) => "the rule exists already".into(),
        Some(libc::EPERM) => format!("not permitted: {}", crate::caps::control_refusal()),
        Some(libc::EINVAL) => {
            "the kernel refused it as invalid (EINVAL: a field this kernel does not support?)"
                .into()
        }
        Some(libc::ENOENT) => "no such rule (ENOENT)".into(),
        _ => e.to_string(),
    }
}

impl AuditSocket {
    pub fn add_rule(&mut self, r: &KernelRule) -> Result<(), KernelError> {
        self.request_ack(AUDIT_ADD_RULE, &r.encode())
    }

    /// Without the prepend flag of `-A`: the kernel clears it once the rule
    /// is in its list, and finds no rule that still has it (ENOENT).
    pub fn delete_rule(&mut self, r: &KernelRule) -> Result<(), KernelError> {
        let listed = KernelRule {
            flags: r.list(),
            ..r.clone()
        };
        self.request_ack(AUDIT_DEL_RULE, &listed.encode())
    }

    pub fn list_rules(&mut self) -> Result<Vec<KernelRule>, KernelError> {
        let replies = self.request_replies(AUDIT_LIST_RULES, &[], AUDIT_LIST_RULES, false)?;
        replies
            .iter()
            .map(|b| KernelRule::decode(b).ok_or(KernelError::Malformed("short audit_rule_data")))
            .collect()
    }

    /// Applies parsed rule lines in order, going on past refusals (as `auditctl -c`).
    pub fn apply(&mut self, parsed: &[Parsed]) -> LoadReport {
        let mut rep = LoadReport::default();
        for p in parsed {
            match &p.directive {
                Directive::Control(c) => rep
                    .skipped_controls
                    .push(format!("{}:{}: {c}", p.file, p.line)),
                Directive::Rule { op, rule } => {
                    let r = match op {
                        RuleOp::Add | RuleOp::Prepend => self.add_rule(rule),
                        RuleOp::Delete => self.delete_rule(rule),
                    };
                    match r {
                        Ok(()) => rep.applied.push((*op, rule.clone())),
                        Err(e) => rep.refused.push(format!(
                            "{}:{}: {}: {}",
                            p.file,
                            p.line,
                            p.text,
                            describe(&e, *op)
                        )),
                    }
                }
            }
        }
        rep
    }
}
