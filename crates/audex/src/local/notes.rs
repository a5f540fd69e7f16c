//! The daemon's own record of who watched what: `category: audit` events
//! `watch-subscribed` (outcome `failure` when refused, with the reason),
//! `watch-revoked` and `watch-unsubscribed`, each with the subscriber's uid
//! and gid (`actor`), its client's pid (`process.pid`) and the path
//! (`files[0].path`). They go to the daemon's exporters like any event.
use audex_io::peer::Peer;
use audex_proto::v1::{Actor, AuditEvent, File, Process};
use audex_proto::{Action, Outcome};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes ids unique within one daemon.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// One `watch-*` event about `peer` and `path`; `reason` when refused or revoked.
pub fn watch_event(
    node: &str,
    action: Action,
    peer: &Peer,
    path: &str,
    perm: &str,
    reason: Option<&str>,
) -> AuditEvent {
    let mut data = BTreeMap::new();
    data.insert("watch.perm".to_string(), perm.to_string());
    if let Some(r) = reason {
        data.insert("watch.reason".to_string(), r.to_string());
    }
    let refused = action == Action::WatchSubscribed && reason.is_some();
    let now = audex_export::notes::since_epoch();
    let mut ev = audex_export::notes::audit_event(
        node,
        format!(
            "{node}:{}:{}.{:09}:{}",
            action.as_str(),
            now.as_secs(),
            now.subsec_nanos(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ),
        action,
        if refused {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        data,
    );
    ev.actor = Some(Actor {
        uid: Some(peer.cred.uid),
        gid: Some(peer.cred.gid),
        ..Default::default()
    });
    ev.process = Some(Process {
        pid: Some(peer.pid),
        ..Default::default()
    });
    ev.files = vec![File {
        path: path.to_string(),
        ..Default::default()
    }];
    ev
}
