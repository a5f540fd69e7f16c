//! The registry against a fake kernel (rules recorded, not added) and real
//! directories whose modes the tests set: shared rules, limits, who sees
//! what, event-time refusal and revocation, the rate limit's accounting, a
//! slow reader's marker.
use super::mailbox::{Mailbox, Pop};
use super::protocol::{parse, Message, Reply};
use super::registry::{
    credentials, resolve_all, InMemoryRules, Limits, Registry, SubId, Subscriber,
};
use audex_io::peer::Peer;
use audex_proto::v1::{Actor, AuditEvent, File, Process};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const A: u32 = 61001;
const B: u32 = 61002;

struct Fixture {
    dir: PathBuf,
    shared: PathBuf,
    kernel: InMemoryRules,
    reg: Registry,
}

fn fixture(rate: u32) -> Fixture {
    let dir =
        std::env::temp_dir().join(format!("audex-registry-{}-{}", std::process::id(), rand()));
    let shared = dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let kernel = InMemoryRules::default();
    let limits = Limits {
        max_watches_per_user: 2,
        max_events_per_s_per_user: rate,
        admin_gids: vec![4000],
    };
    let reg = Registry::new("n1", limits, Box::new(kernel.clone()));
    Fixture {
        dir,
        shared,
        kernel,
        reg,
    }
}

fn rand() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.shared, std::fs::Permissions::from_mode(0o777));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn who(uid: u32, groups: Vec<u32>) -> (Subscriber, Arc<Mailbox>) {
    let mailbox = Arc::new(Mailbox::default());
    let mut cred = credentials(uid, uid);
    cred.groups = groups;
    let admin = false;
    (
        Subscriber {
            peer: Peer { pid: uid + 1, cred },
            admin,
            mailbox: mailbox.clone(),
        },
        mailbox,
    )
}

impl Fixture {
    fn subscribe(&mut self, uid: u32, paths: &[&Path]) -> Result<(SubId, Arc<Mailbox>), String> {
        let (mut w, m) = who(uid, vec![]);
        w.admin = self.reg.in_admin_group(&w.peer);
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.to_path_buf()).collect();
        let resolved = resolve_all(&paths, &w);
        self.reg.subscribe(w, resolved, "wa").map(|(id, _)| (id, m))
    }

    fn subscribe_admin(&mut self) -> Arc<Mailbox> {
        let (mut w, m) = who(62000, vec![4000]);
        assert!(self.reg.in_admin_group(&w.peer));
        w.admin = true;
        self.reg
            .subscribe(w, Ok(vec![self.shared.clone()]), "wa")
            .unwrap();
        m
    }

    fn rules(&self) -> Vec<String> {
        self.kernel.rules()
    }

    /// A write by `uid` to `name` in the shared directory, its PATH records
    /// as the kernel would write them with the directory's mode now.
    fn write_by(&self, uid: u32, name: &str, dir_mode: &str, dir_owner: u32) -> AuditEvent {
        AuditEvent {
            category: "file".into(),
            action: "opened".into(),
            outcome: "success".into(),
            access: "write".into(),
            actor: Some(Actor {
                uid: Some(uid),
                euid: Some(uid),
                fsuid: Some(uid),
                ..Default::default()
            }),
            process: Some(Process {
                pid: Some(uid + 7),
                exe: "/usr/bin/tee".into(),
                ..Default::default()
            }),
            files: vec![
                File {
                    path: self.shared.to_string_lossy().into(),
                    nametype: "PARENT".into(),
                    mode: dir_mode.into(),
                    ouid: Some(dir_owner),
                    ogid: Some(dir_owner),
                    ..Default::default()
                },
                File {
                    path: self.shared.join(name).to_string_lossy().into(),
                    nametype: "CREATE".into(),
                    mode: "0100644".into(),
                    ouid: Some(uid),
                    ogid: Some(uid),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }
}

/// Every line in the mailbox now, parsed.
fn drain(m: &Mailbox) -> Vec<Message> {
    let mut out = Vec::new();
    while let Pop::Line(l) = m.pop(Duration::ZERO) {
        out.push(parse(&l).unwrap());
    }
    out
}

fn events(msgs: &[Message]) -> Vec<&AuditEvent> {
    msgs.iter()
        .filter_map(|m| match m {
            Message::Event(e) => Some(&**e),
            _ => None,
        })
        .collect()
}

#[test]
fn users_watching_one_path_share_one_kernel_rule_until_the_last_leaves() {
    let mut f = fixture(1000);
    let shared = f.shared.clone();
    let (a, _) = f.subscribe(A, &[&shared]).unwrap();
    let (b, _) = f.subscribe(B, &[&shared]).unwrap();
    assert_eq!(f.rules().len(), 1, "{:?}", f.rules());
    assert!(f.rules()[0].contains("-k audex-local"), "{:?}", f.rules());
    f.reg.unsubscribe(a);
    assert_eq!(f.rules().len(), 1);
    f.reg.unsubscribe(b);
    assert!(f.rules().is_empty());
    // Unsubscribing twice (a stale handle) changes nothing.
    f.reg.unsubscribe(b);
    let notes = f.reg.take_notes();
    let actions: Vec<&str> = notes.iter().map(|n| n.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "watch-subscribed",
            "watch-subscribed",
            "watch-unsubscribed",
            "watch-unsubscribed"
        ]
    );
    assert_eq!(notes[0].actor.as_ref().unwrap().uid, Some(A));
    assert_eq!(notes[0].files[0].path, shared.to_string_lossy());
}

#[test]
fn placing_is_checked_as_the_user_and_limited_per_user() {
    let mut f = fixture(1000);
    let private = f.dir.join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let readable = private.join("world-readable");
    std::fs::write(&readable, "x").unwrap();
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = f.subscribe(A, &[&readable]).unwrap_err();
    assert_eq!(err, format!("permission denied: {}", private.display()));
    let refused = f.reg.take_notes();
    assert_eq!(refused[0].action, "watch-subscribed");
    assert_eq!(refused[0].outcome, "failure");
    assert!(refused[0].data["watch.reason"].contains("permission denied"));
    assert!(f.rules().is_empty());
    // Two watches per user (over connections), not three.
    let (one, two) = (f.dir.clone(), f.shared.clone());
    f.subscribe(A, &[&one]).unwrap();
    f.subscribe(A, &[&two]).unwrap();
    let err = f.subscribe(A, &[&two]).unwrap_err();
    assert!(err.contains("at most 2 per user"), "{err}");
    assert_eq!(f.rules().len(), 2);
    // Another user has its own allowance.
    f.subscribe(B, &[&two]).unwrap();
    assert_eq!(f.rules().len(), 2);
}

#[test]
fn the_acting_user_and_admins_see_the_whole_event_others_what_happened() {
    let mut f = fixture(1000);
    let shared = f.shared.clone();
    let (_, a) = f.subscribe(A, &[&shared]).unwrap();
    let admin = f.subscribe_admin();
    f.reg.offer(&f.write_by(B, "b.txt", "040777", 0), 1);
    f.reg.offer(&f.write_by(A, "a.txt", "040777", 0), 2);
    let seen = drain(&a);
    let evs = events(&seen);
    assert_eq!(evs.len(), 2, "{seen:?}");
    assert!(
        evs[0].process.is_none() && evs[0].actor.is_none(),
        "{:?}",
        evs[0]
    );
    assert!(evs[0].redacted.iter().any(|r| r == "process"));
    assert!(evs[0].files[1].path.ends_with("b.txt"));
    assert_eq!(evs[1].process.as_ref().unwrap().pid, Some(A + 7));
    let seen = drain(&admin);
    let evs = events(&seen);
    assert_eq!(evs[0].process.as_ref().unwrap().pid, Some(B + 7));
    // An event elsewhere reaches nobody.
    let mut elsewhere = f.write_by(B, "x", "040777", 0);
    for file in &mut elsewhere.files {
        file.path = file.path.replace("/shared", "/other");
    }
    f.reg.offer(&elsewhere, 3);
    assert!(drain(&a).is_empty());
}

#[test]
fn once_root_takes_the_directory_away_events_stop_and_the_watch_is_revoked() {
    let mut f = fixture(1000);
    let shared = f.shared.clone();
    let (_, a) = f.subscribe(A, &[&shared]).unwrap();
    f.reg.offer(&f.write_by(B, "before", "040777", 0), 1);
    assert_eq!(events(&drain(&a)).len(), 1);
    // chown root; chmod 700 (root owns it already).
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o700)).unwrap();
    f.reg
        .offer(&f.write_by(0, "after", "040700", 0), 500_000_000);
    // The refused event made the subscriber due (a second has not passed):
    // the next check walks it.
    f.reg.check_paths(500_000_001);
    let seen = drain(&a);
    assert!(events(&seen).is_empty(), "{seen:?}");
    assert!(
        seen.contains(&Message::Reply(Reply::Revoked {
            path: shared.to_string_lossy().into(),
            reason: format!("permission denied: {}", shared.display()),
        })),
        "{seen:?}"
    );
    assert!(a.is_closed());
    assert!(f.rules().is_empty());
    let notes = f.reg.take_notes();
    assert!(
        notes.iter().any(|n| n.action == "watch-revoked"),
        "{notes:?}"
    );
}

#[test]
fn a_mode_change_without_a_parent_record_is_caught_by_the_walk() {
    let mut f = fixture(1000);
    let shared = f.shared.clone();
    let (_, a) = f.subscribe(A, &[&shared]).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o700)).unwrap();
    // A write to an existing file: the kernel writes the object's record only.
    let mut ev = f.write_by(0, "existing", "040700", 0);
    ev.files.remove(0);
    f.reg.offer(&ev, 10);
    // The walk a second later revokes it.
    f.reg.check_paths(2_000_000_000);
    let seen = drain(&a);
    assert!(
        seen.iter()
            .any(|m| matches!(m, Message::Reply(Reply::Revoked { .. }))),
        "{seen:?}"
    );
}

#[test]
fn the_rate_limit_counts_every_event_it_holds_back() {
    let mut f = fixture(10);
    let shared = f.shared.clone();
    let (_, a) = f.subscribe(A, &[&shared]).unwrap();
    for i in 0..100 {
        f.reg
            .offer(&f.write_by(A, &format!("f{i}"), "040777", 0), 1_000 + i);
    }
    f.reg.tick(3_000_000_000);
    let seen = drain(&a);
    let evs = events(&seen);
    let kept = evs.iter().filter(|e| e.suppressed.is_none()).count() as u64;
    let counted: u64 = evs
        .iter()
        .filter_map(|e| e.suppressed.as_ref())
        .map(|s| s.count)
        .sum();
    assert_eq!(kept, 10, "{evs:?}");
    assert_eq!(kept + counted, 100);
}

#[test]
fn a_client_that_reads_too_slowly_is_told_how_many_it_missed() {
    let mut f = fixture(1_000_000);
    let shared = f.shared.clone();
    let (_, a) = f.subscribe(A, &[&shared]).unwrap();
    let n = super::mailbox::MAX_QUEUED_EVENTS as i64 + 25;
    for i in 0..n {
        f.reg.offer(&f.write_by(A, "f", "040777", 0), 1_000 + i);
    }
    f.reg.tick(1_000 + n);
    let seen = drain(&a);
    let evs = events(&seen);
    let marker = evs
        .iter()
        .find_map(|e| e.suppressed.as_ref())
        .expect("a marker");
    assert_eq!(marker.count, 25);
    assert!(marker.reason.contains("too slowly"));
}

#[test]
fn closing_tells_every_client_and_removes_every_rule() {
    let mut f = fixture(1000);
    let shared = f.shared.clone();
    let (_, a) = f.subscribe(A, &[&shared]).unwrap();
    f.reg.close("audex run is stopping");
    assert!(f.rules().is_empty());
    let seen = drain(&a);
    assert_eq!(
        seen,
        [Message::Reply(Reply::Stopping {
            reason: "audex run is stopping".into()
        })]
    );
    assert!(f.subscribe(B, &[&shared]).is_err());
}
