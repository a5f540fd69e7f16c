//! Audex's own events, not the kernel's (archive seals and checkpoints, resumed
//! starts, restored rules, spool loss): `category: audit`, stamped now. Input:
//! node, id, action, outcome, `data`. Output: an [`AuditEvent`] the caller may
//! fill further.
use audex_proto::v1::AuditEvent;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the epoch, now.
pub fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// `since_epoch()` as an event time.
pub fn timestamp(t: Duration) -> audex_proto::Timestamp {
    audex_proto::Timestamp {
        seconds: t.as_secs() as i64,
        nanos: t.subsec_nanos() as i32,
    }
}

pub fn audit_event(
    node: &str,
    id: String,
    action: &str,
    outcome: &str,
    data: BTreeMap<String, String>,
) -> AuditEvent {
    AuditEvent {
        id,
        time: Some(timestamp(since_epoch())),
        node: node.to_string(),
        category: "audit".into(),
        action: action.into(),
        outcome: outcome.into(),
        data,
        ..Default::default()
    }
}
