//! Drift defense (`rules.enforce`): the rules audex owns stay in the kernel.
//! Input: every event audex delivers (the kernel's CONFIG_CHANGE events tell
//! who removed rules or disabled audit: auid, uid, pid, exe), the rules audex
//! owns, the control socket, and the backlog. Output: the owned rules put back,
//! audit re-enabled when audex is responsible for it, and `category: audit`,
//! `action: rules-restored` events naming who removed them and what came back
//! (rate-limited; `audex_rules_restored_total`). Rules audex does not own are
//! never touched. Besides the events, the kernel's list is reconciled now and
//! then (every minute, never while the backlog is half full).
use audex_kernel::netlink::AuditSocket;
use audex_kernel::rules::{KernelRule, RuleSet};
use audex_proto::v1::{Actor, AuditEvent, Process};
use audex_proto::{Action, Category};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long after the last change record to look (a `-D` removes rules one
/// by one, each with its record).
const SETTLE: Duration = Duration::from_millis(300);
/// At most one restore this often (a loop deleting rules cannot make audex spin).
const MIN_GAP: Duration = Duration::from_secs(1);
/// Reconcile with the kernel's list this often without a change record.
const RECONCILE_EVERY: Duration = Duration::from_secs(60);
/// At most this many `rules-restored` events per minute; the others are counted
/// into the next one (`data.unreported`).
const EVENTS_PER_MINUTE: usize = 6;

/// Who changed the audit configuration, from the change event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changer {
    pub auid: Option<u32>,
    pub uid: Option<u32>,
    pub pid: Option<u32>,
    pub exe: String,
    /// What they did: `remove_rule`, `audit_enabled=0`, `audit_pid=N`.
    pub what: String,
}

/// What a delivered event says about someone else changing audit rules or
/// settings; None for anything else (and for audex's own changes).
pub fn change_of(ev: &AuditEvent, own_pid: u32) -> Option<Changer> {
    if !ev.in_category(Category::Audit) {
        return None;
    }
    let pid = ev.process.as_ref().and_then(|p| p.pid);
    if pid == Some(own_pid) {
        return None;
    }
    let get = |k: &str| {
        ev.data
            .get(&format!("config_change.{k}"))
            .map(String::as_str)
    };
    let what = if get("op").is_some_and(|op| op.contains("remove_rule")) {
        "remove_rule".to_string()
    } else if get("audit_enabled") == Some("0") {
        "audit_enabled=0".to_string()
    } else if let Some(p) = get("audit_pid").filter(|p| p.parse() != Ok(own_pid)) {
        format!("audit_pid={p}")
    } else {
        return None;
    };
    let actor = ev.actor.clone().unwrap_or_default();
    Some(Changer {
        auid: actor.auid,
        uid: actor.uid,
        pid,
        exe: ev
            .process
            .as_ref()
            .map(|p| p.exe.clone())
            .unwrap_or_default(),
        what,
    })
}

/// What a check of the kernel found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub restored: Vec<String>,
    pub failed: Vec<String>,
    pub reenabled: bool,
    /// Another process registered as the audit daemon (pid): audex does not fight it.
    pub daemon_replaced: Option<u32>,
}

/// The guard's state between ticks.
pub struct Guard {
    enforce: bool,
    /// Audex turned audit on or is the audit daemon: it turns audit back on.
    owns_audit: bool,
    is_daemon: bool,
    own_pid: u32,
    /// The latest change seen and when.
    suspect: Option<(Instant, Changer)>,
    last_check: Instant,
    last_restore: Option<Instant>,
    reported: VecDeque<Instant>,
    unreported: u64,
}

impl Guard {
    pub fn new(enforce: bool, owns_audit: bool, is_daemon: bool) -> Guard {
        Guard {
            enforce,
            owns_audit,
            is_daemon,
            own_pid: std::process::id(),
            suspect: None,
            last_check: Instant::now(),
            last_restore: None,
            reported: VecDeque::new(),
            unreported: 0,
        }
    }

    /// Looks at a delivered event.
    pub fn observe(&mut self, ev: &AuditEvent) {
        if !self.enforce {
            return;
        }
        if let Some(c) = change_of(ev, self.own_pid) {
            self.suspect = Some((Instant::now(), c));
        }
    }

    /// Whether to look at the kernel now.
    pub fn due(&self, now: Instant, backlog_busy: bool) -> bool {
        if !self.enforce {
            return false;
        }
        let gap_ok = self
            .last_restore
            .is_none_or(|t| now.duration_since(t) >= MIN_GAP);
        let settled = self
            .suspect
            .as_ref()
            .is_some_and(|(t, _)| now.duration_since(*t) >= SETTLE);
        gap_ok
            && (settled
                || (!backlog_busy && now.duration_since(self.last_check) >= RECONCILE_EVERY))
    }

    /// Checks the kernel when due; the `rules-restored` event to deliver, if any.
    pub fn tick(
        &mut self,
        ctl: &mut AuditSocket,
        owned: &RuleSet,
        node: &str,
    ) -> Option<AuditEvent> {
        let m = &crate::metrics::METRICS;
        let limit = m.backlog_limit.load(Ordering::Relaxed);
        let busy = limit > 0 && m.backlog.load(Ordering::Relaxed) >= limit / 2;
        let now = Instant::now();
        if !self.due(now, busy) {
            return None;
        }
        self.last_check = now;
        let changer = self.suspect.take().map(|(_, c)| c);
        let outcome = self.restore(ctl, owned.rules());
        if outcome == Outcome::default() {
            return None;
        }
        self.last_restore = Some(now);
        m.rules_restored
            .fetch_add(outcome.restored.len() as u64, Ordering::Relaxed);
        audex_log::warn!(
            "{} by {}: restored {} rule(s){}{}",
            changer.as_ref().map_or("drift found by reconciling", |c| c.what.as_str()),
            changer.as_ref().map_or("unknown".to_string(), describe),
            outcome.restored.len(),
            if outcome.reenabled { ", audit re-enabled" } else { "" },
            outcome
                .daemon_replaced
                .map(|p| format!("; pid {p} registered as the audit daemon: audex no longer receives records in unicast mode"))
                .unwrap_or_default()
        );
        for f in &outcome.failed {
            audex_log::error!("restoring a rule: {f}");
        }
        while self
            .reported
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
        {
            self.reported.pop_front();
        }
        if self.reported.len() >= EVENTS_PER_MINUTE {
            self.unreported += 1;
            return None;
        }
        self.reported.push_back(now);
        let unreported = std::mem::take(&mut self.unreported);
        Some(restored_event(node, changer.as_ref(), &outcome, unreported))
    }

    /// Puts back what is missing of `owned`; turns audit back on when audex owns it.
    fn restore(&self, ctl: &mut AuditSocket, owned: &[KernelRule]) -> Outcome {
        let mut out = Outcome::default();
        if let Ok(st) = ctl.status() {
            if st.enabled == 0 && self.owns_audit {
                match ctl.set_enabled(1) {
                    Ok(()) => out.reenabled = true,
                    Err(e) => out.failed.push(format!("re-enabling audit: {e}")),
                }
            }
            if self.is_daemon && st.pid != 0 && st.pid != self.own_pid {
                out.daemon_replaced = Some(st.pid);
            }
        }
        if owned.is_empty() {
            return out;
        }
        let present = match ctl.list_rules() {
            Ok(r) => r,
            Err(e) => {
                out.failed.push(format!("listing the kernel's rules: {e}"));
                return out;
            }
        };
        for r in missing(owned, &present) {
            match ctl.add_rule(r) {
                Ok(()) => out.restored.push(r.to_text()),
                Err(e) => out.failed.push(format!("{}: {e}", r.to_text())),
            }
        }
        out
    }
}

/// The owned rules the kernel no longer has. Compared as `auditctl -l` prints
/// them: the kernel hands a rule back with its syscall mask's last word cut to
/// the bits it uses, so the structs of the same rule differ.
pub fn missing<'a>(owned: &'a [KernelRule], present: &[KernelRule]) -> Vec<&'a KernelRule> {
    let present: Vec<String> = present.iter().map(KernelRule::to_text).collect();
    owned
        .iter()
        .filter(|r| !present.contains(&r.to_text()))
        .collect()
}

fn describe(c: &Changer) -> String {
    let n = |v: Option<u32>| v.map_or("?".to_string(), |v| v.to_string());
    format!(
        "pid {} ({}), auid {}, uid {}",
        n(c.pid),
        if c.exe.is_empty() { "?" } else { &c.exe },
        n(c.auid),
        n(c.uid)
    )
}

fn restored_event(
    node: &str,
    changer: Option<&Changer>,
    o: &Outcome,
    unreported: u64,
) -> AuditEvent {
    let mut data = BTreeMap::new();
    data.insert("restored".into(), o.restored.join("\n"));
    data.insert("restored_count".into(), o.restored.len().to_string());
    data.insert(
        "change".into(),
        changer.map_or("found by reconciling with the kernel's list".into(), |c| {
            c.what.clone()
        }),
    );
    if o.reenabled {
        data.insert("audit_reenabled".into(), "true".into());
    }
    if let Some(p) = o.daemon_replaced {
        data.insert("audit_daemon_pid".into(), p.to_string());
    }
    if !o.failed.is_empty() {
        data.insert("failed".into(), o.failed.join("\n"));
    }
    if unreported > 0 {
        data.insert("unreported".into(), unreported.to_string());
    }
    let mut ev = audex_export::notes::audit_event(
        node,
        format!(
            "{node}:rules-restored:{}",
            audex_export::notes::since_epoch().as_millis()
        ),
        Action::RulesRestored,
        if o.failed.is_empty() {
            audex_proto::Outcome::Success
        } else {
            audex_proto::Outcome::Failure
        },
        data,
    );
    ev.actor = changer.map(|c| Actor {
        auid: c.auid,
        uid: c.uid,
        ..Default::default()
    });
    ev.process = changer.map(|c| Process {
        pid: c.pid,
        exe: c.exe.clone(),
        ..Default::default()
    });
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(pid: u32, data: &[(&str, &str)]) -> AuditEvent {
        AuditEvent {
            category: "audit".into(),
            action: audex_proto::Action::ChangedAuditRules.as_str().into(),
            actor: Some(Actor {
                auid: Some(1000),
                uid: Some(0),
                ..Default::default()
            }),
            process: Some(Process {
                pid: Some(pid),
                exe: "/usr/sbin/auditctl".into(),
                ..Default::default()
            }),
            data: data
                .iter()
                .map(|(k, v)| (format!("config_change.{k}"), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn others_removing_rules_or_disabling_audit_are_changes_audex_own_are_not() {
        let c = change_of(&change(42, &[("op", "remove_rule")]), 7).unwrap();
        assert_eq!(
            (c.pid, c.auid, c.exe.as_str(), c.what.as_str()),
            (Some(42), Some(1000), "/usr/sbin/auditctl", "remove_rule")
        );
        assert!(change_of(&change(7, &[("op", "remove_rule")]), 7).is_none());
        assert!(change_of(&change(42, &[("op", "add_rule")]), 7).is_none());
        let off = change_of(&change(42, &[("op", "set"), ("audit_enabled", "0")]), 7);
        assert_eq!(off.unwrap().what, "audit_enabled=0");
        assert!(change_of(&change(42, &[("op", "set"), ("audit_enabled", "1")]), 7).is_none());
        let pid = change_of(&change(42, &[("op", "set"), ("audit_pid", "99")]), 7);
        assert_eq!(pid.unwrap().what, "audit_pid=99");
        let mut file = change(42, &[("op", "remove_rule")]);
        file.category = "file".into();
        assert!(change_of(&file, 7).is_none());
    }

    #[test]
    fn a_check_waits_for_the_changes_to_settle_and_is_rate_limited() {
        let mut g = Guard::new(true, true, true);
        let t0 = Instant::now();
        assert!(!g.due(t0, false), "nothing seen, not a minute yet");
        g.observe(&change(42, &[("op", "remove_rule")]));
        let seen = g.suspect.as_ref().unwrap().0;
        assert!(!g.due(seen, false), "a -D is still removing rules");
        assert!(g.due(seen + SETTLE, false));
        g.last_restore = Some(seen + SETTLE);
        assert!(
            !g.due(seen + SETTLE + MIN_GAP / 2, false),
            "at most one restore a second"
        );
        assert!(g.due(seen + SETTLE + MIN_GAP, false));
        g.suspect = None;
        g.last_check = t0;
        assert!(
            g.due(t0 + RECONCILE_EVERY + MIN_GAP * 2, false),
            "reconciles now and then"
        );
        assert!(
            !g.due(t0 + RECONCILE_EVERY + MIN_GAP * 2, true),
            "but not while the backlog is full"
        );
        let mut off = Guard::new(false, true, true);
        off.observe(&change(42, &[("op", "remove_rule")]));
        assert!(
            !off.due(t0 + RECONCILE_EVERY * 2, false),
            "rules.enforce: false"
        );
    }

    #[test]
    fn only_owned_rules_that_are_gone_are_restored() {
        let a = KernelRule::default();
        let mut b = KernelRule::default();
        b.add_syscall(2);
        let mut other = KernelRule::default();
        other.add_syscall(59);
        assert_eq!(
            missing(&[a.clone(), b.clone()], &[a.clone(), other.clone()]),
            vec![&b]
        );
        assert!(missing(std::slice::from_ref(&a), &[other, a.clone()]).is_empty());
    }
}
