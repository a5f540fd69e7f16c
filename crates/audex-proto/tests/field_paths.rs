//! The generated field paths reach what they name: on an event with every
//! field set, each text path visits a text, each path empties something, and
//! an emptied path has nothing left to visit.
use audex_proto::field_paths::{clear, text_list, visit_text, OTHER_PATHS, TEXT_PATHS};
use audex_proto::v1::AuditEvent;

fn full() -> AuditEvent {
    serde_json::from_value(serde_json::json!({
        "id": "n:1", "time": "2026-12-03T10:00:00.5Z", "serial": 7, "node": "n",
        "category": "file", "action": "opened", "outcome": "success", "access": "read",
        "keys": ["k"], "record_type": "SYSCALL", "data": {"a": "b"},
        "syscall": {"name": "openat", "number": 257, "arch": "x86_64", "exit": 3,
                    "errno": "EACCES", "args": ["0x1"]},
        "actor": {"auid": 1, "uid": 2, "euid": 3, "suid": 4, "fsuid": 5, "gid": 6,
                  "egid": 7, "sgid": 8, "fsgid": 9, "session": 10, "tty": "pts0",
                  "auid_name": "a", "uid_name": "b", "euid_name": "c", "suid_name": "d",
                  "fsuid_name": "e", "gid_name": "f", "egid_name": "g", "sgid_name": "h",
                  "fsgid_name": "i"},
        "process": {"pid": 1, "ppid": 2, "exe": "/x", "comm": "x", "cwd": "/",
                    "args": ["x"], "command_line": "x", "title": "x", "label": "l",
                    "parent": {"exe": "/y", "comm": "y", "args": ["y"]},
                    "peer": {"address": "10.0.0.1", "port": 22}, "labels": ["l"],
                    "args_cut": 1, "args_bytes_cut": 2},
        "repeat": {"count": 2, "first_time": "2026-12-03T10:00:00Z",
                   "last_time": "2026-12-03T10:00:01Z"},
        "files": [{"path": "/p", "name": "p", "nametype": "NORMAL", "inode": 1,
                   "dev": "fd:00", "mode": "0644", "ouid": 0, "ogid": 0,
                   "ouid_name": "root", "ogid_name": "root", "label": "l"}],
        "network": {"family": "inet", "address": "10.0.0.2", "port": 443, "path": "/s"},
        "container": {"id": "c", "runtime": "containerd"},
        "k8s": {"namespace": "ns", "pod": "p", "pod_uid": "u", "container": "c",
                "node": "n", "labels": {"app": "x"}},
        "lost": {"count": 1, "first_serial": 1, "last_serial": 1, "source": "kernel"},
        "records": [{"type": "SYSCALL", "text": "t"}]
    }))
    .expect("a full event")
}

#[test]
fn every_text_path_is_reached_and_every_path_empties() {
    for p in TEXT_PATHS {
        let mut ev = full();
        assert!(visit_text(&mut ev, p, &mut |s| !s.is_empty()), "{p}");
    }
    for p in TEXT_PATHS.iter().chain(OTHER_PATHS) {
        let mut ev = full();
        assert!(clear(&mut ev, p), "{p} held nothing");
        assert!(!clear(&mut ev, p), "{p} still holds something");
        assert!(!visit_text(&mut ev, p, &mut |s| !s.is_empty()), "{p}");
    }
    for p in [
        "keys",
        "syscall.args",
        "process.args",
        "process.parent.args",
        "process.labels",
    ] {
        assert_eq!(text_list(&mut full(), p).map(|l| l.len()), Some(1), "{p}");
    }
    assert!(!visit_text(&mut full(), "process.pid", &mut |_| true));
    assert!(!clear(&mut full(), "process.argz"));
}

#[test]
fn what_audex_sets_after_redaction_is_not_a_path() {
    for p in [
        "tenant",
        "redacted",
        "truncated",
        "record_count",
        "controls",
        "chain",
        "suppressed",
    ] {
        assert!(!TEXT_PATHS.contains(&p) && !OTHER_PATHS.contains(&p), "{p}");
    }
}
