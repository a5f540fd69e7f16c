//! What a subscriber of the daemon's local socket may see of an event (the
//! rule the inotify thread argued for: a watcher learns who did the I/O only
//! if it is privileged or owns that process). Events of the subscriber's own
//! processes (uid, euid or fsuid its uid) and every event for an admin are
//! shown whole; of another user's process only the time, category, action,
//! access, outcome and the paths (name, type and mode of each), with every
//! removed part listed in `redacted[]`. Pure: takes the event and the
//! subscriber's uid, gives the view.
use audex_proto::v1::{AuditEvent, File};

/// Whether `uid` is the acting user of `ev` (real, effective or filesystem uid).
pub fn acts_as(ev: &AuditEvent, uid: u32) -> bool {
    ev.actor
        .as_ref()
        .is_some_and(|a| [a.uid, a.euid, a.fsuid].contains(&Some(uid)))
}

/// The view of `ev` for someone who may not see who did it.
pub fn others_view(ev: &AuditEvent) -> AuditEvent {
    let mut redacted = Vec::new();
    let mut gone = |present: bool, path: &str| {
        if present {
            redacted.push(path.to_string());
        }
    };
    gone(!ev.id.is_empty(), "id");
    gone(ev.serial != 0, "serial");
    gone(!ev.keys.is_empty(), "keys");
    gone(ev.syscall.is_some(), "syscall");
    gone(ev.actor.is_some(), "actor");
    gone(ev.process.is_some(), "process");
    gone(ev.network.is_some(), "network");
    gone(ev.container.is_some(), "container");
    gone(ev.k8s.is_some(), "k8s");
    gone(!ev.tenant.is_empty(), "tenant");
    gone(!ev.records.is_empty(), "records");
    gone(!ev.data.is_empty(), "data");
    gone(!ev.controls.is_empty(), "controls");
    let owners = ev
        .files
        .iter()
        .any(|f| f.ouid.is_some() || f.ogid.is_some());
    gone(owners, "files.ouid");
    gone(owners, "files.ogid");
    gone(ev.files.iter().any(|f| f.inode.is_some()), "files.inode");
    gone(ev.files.iter().any(|f| !f.dev.is_empty()), "files.dev");
    gone(ev.files.iter().any(|f| !f.label.is_empty()), "files.label");
    let files = ev
        .files
        .iter()
        .map(|f| File {
            path: f.path.clone(),
            name: f.name.clone(),
            nametype: f.nametype.clone(),
            mode: f.mode.clone(),
            ..Default::default()
        })
        .collect();
    redacted.extend(ev.redacted.iter().cloned());
    AuditEvent {
        time: ev.time,
        node: ev.node.clone(),
        category: ev.category.clone(),
        action: ev.action.clone(),
        outcome: ev.outcome.clone(),
        access: ev.access.clone(),
        record_type: ev.record_type.clone(),
        record_count: ev.record_count,
        truncated: ev.truncated,
        files,
        redacted,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audex_proto::v1::{Actor, Process};

    fn write_by(uid: u32, fsuid: u32) -> AuditEvent {
        AuditEvent {
            id: "n:1.0:7".into(),
            serial: 7,
            category: "file".into(),
            action: "opened".into(),
            outcome: "success".into(),
            access: "write".into(),
            keys: vec!["audex-local".into()],
            actor: Some(Actor {
                uid: Some(uid),
                euid: Some(uid),
                fsuid: Some(fsuid),
                uid_name: "bob".into(),
                ..Default::default()
            }),
            process: Some(Process {
                pid: Some(4242),
                ppid: Some(1),
                exe: "/usr/bin/vim".into(),
                command_line: "vim /srv/shared/index.html".into(),
                ..Default::default()
            }),
            files: vec![File {
                path: "/srv/shared/index.html".into(),
                nametype: "NORMAL".into(),
                mode: "0100644".into(),
                inode: Some(9),
                ouid: Some(uid),
                ogid: Some(uid),
                ouid_name: "bob".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_acting_user_is_any_of_uid_euid_fsuid() {
        assert!(acts_as(&write_by(1002, 1002), 1002));
        assert!(acts_as(&write_by(0, 1002), 1002));
        assert!(!acts_as(&write_by(1002, 1002), 1001));
        assert!(!acts_as(&AuditEvent::default(), 0));
    }

    #[test]
    fn another_users_event_keeps_what_happened_and_loses_who() {
        let v = others_view(&write_by(1002, 1002));
        assert_eq!((v.action.as_str(), v.access.as_str()), ("opened", "write"));
        assert_eq!(v.outcome, "success");
        assert_eq!(v.files[0].path, "/srv/shared/index.html");
        assert_eq!(v.files[0].mode, "0100644");
        assert!(v.process.is_none() && v.actor.is_none() && v.syscall.is_none());
        assert!(v.files[0].ouid.is_none() && v.files[0].ouid_name.is_empty());
        assert!(v.keys.is_empty() && v.id.is_empty() && v.serial == 0);
        for gone in ["process", "actor", "keys", "files.ouid", "files.inode"] {
            assert!(v.redacted.iter().any(|r| r == gone), "{gone}: {v:?}");
        }
        let text = format!("{v:?}");
        assert!(!text.contains("4242") && !text.contains("bob") && !text.contains("vim"));
    }
}
