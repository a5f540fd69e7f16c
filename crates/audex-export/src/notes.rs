//! Audex's own events, not the kernel's (archive seals and checkpoints, resumed
//! starts, restored rules, spool loss): `category: audit`, stamped now. Input:
//! node, id, action, outcome, `data`. Output: an [`AuditEvent`] the caller may
//! fill further.
use audex_proto::v1::AuditEvent;
use audex_proto::{Action, Category, Outcome};
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
    action: Action,
    outcome: Outcome,
    data: BTreeMap<String, String>,
) -> AuditEvent {
    AuditEvent {
        id,
        time: Some(timestamp(since_epoch())),
        node: node.to_string(),
        category: Category::Audit.as_str().into(),
        action: action.as_str().into(),
        outcome: outcome.as_str().into(),
        data,
        ..Default::default()
    }
}

/// A `records-lost` event stamped now: `count` events or records lost at
/// `source` (`kernel`, `enobufs`, `spool`), whose serials audex cannot know
/// (0). Its id is `<node>:<seconds>.<nanoseconds>:lost-<source>`.
pub fn records_lost_now(node: &str, source: &str, count: u64) -> AuditEvent {
    let now = since_epoch();
    audex_proto::records_lost(
        format!(
            "{node}:{}.{:09}:lost-{source}",
            now.as_secs(),
            now.subsec_nanos()
        ),
        node.to_string(),
        timestamp(now),
        audex_proto::v1::Lost {
            count,
            source: source.into(),
            ..Default::default()
        },
    )
}
