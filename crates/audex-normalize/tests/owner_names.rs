//! File owners' names: from the user database, each id looked up once an
//! event (an owner with one of the actor's ids takes the name the actor's
//! lookup gave), and from the PATH record's ENRICHED fields when it has them.
use audex_correlate::{Config, Correlator, Output};
use audex_normalize::{Normalizer, UserDb};
use audex_proto::v1::AuditEvent;
use std::sync::atomic::{AtomicU64, Ordering};

/// uid/gid 0 is root, 1000 alice, 50 staff; counts its lookups.
#[derive(Default)]
struct Db {
    lookups: AtomicU64,
}

impl Db {
    fn look_up(&self, id: u32, names: &[(u32, &str)]) -> Option<String> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        names
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n.to_string())
    }
}

impl UserDb for Db {
    fn user_name(&self, uid: u32) -> Option<String> {
        self.look_up(uid, &[(0, "root"), (1000, "alice")])
    }
    fn group_name(&self, gid: u32) -> Option<String> {
        self.look_up(gid, &[(0, "root"), (50, "staff")])
    }
}

fn one(db: &Db, lines: &[String]) -> AuditEvent {
    let mut c = Correlator::new(Config {
        track_gaps: false,
        ..Config::default()
    });
    for l in lines {
        c.push(audex_parse::parse_line(l.as_bytes()).unwrap());
    }
    c.flush();
    let n = Normalizer::new(db, Default::default());
    let mut events: Vec<AuditEvent> = std::iter::from_fn(|| c.pop())
        .filter_map(|o| matches!(o, Output::Event(_)).then(|| n.normalize(&o)))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

fn syscall(enriched: &str) -> String {
    format!(
        "type=SYSCALL msg=audit(1700000000.000:7): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=1 a2=41 a3=1b6 items=2 ppid=1 pid=42 auid=1000 uid=1000 gid=50 euid=1000 suid=1000 fsuid=1000 egid=50 sgid=50 fsgid=50 tty=pts0 ses=3 comm=\"touch\" exe=\"/usr/bin/touch\" key=(null){enriched}"
    )
}

fn path(item: u32, ouid: u32, ogid: u32, enriched: &str) -> String {
    format!(
        "type=PATH msg=audit(1700000000.000:7): item={item} name=\"/tmp/f{item}\" inode=5 dev=fe:00 mode=0100644 ouid={ouid} ogid={ogid} rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0{enriched}"
    )
}

fn owners(ev: &AuditEvent) -> Vec<(String, String)> {
    ev.files
        .iter()
        .map(|f| (f.ouid_name.clone(), f.ogid_name.clone()))
        .collect()
}

#[test]
fn owners_with_the_actors_ids_take_its_names_and_others_are_looked_up() {
    let db = Db::default();
    let ev = one(
        &db,
        &[syscall(""), path(0, 1000, 50, ""), path(1, 0, 0, "")],
    );
    assert_eq!(
        owners(&ev),
        [
            ("alice".into(), "staff".into()),
            ("root".into(), "root".into())
        ]
    );
    // The actor: one user and one group lookup (its ids repeat); the first
    // file's owner is the actor's, the second's two more lookups.
    assert_eq!(db.lookups.load(Ordering::Relaxed), 4);
}

#[test]
fn enriched_names_on_the_path_record_win() {
    let db = Db::default();
    let enriched = "\u{1d}OUID=\"bob\" OGID=\"wheel\"";
    let ev = one(&db, &[syscall(""), path(0, 1000, 50, enriched)]);
    assert_eq!(owners(&ev), [("bob".into(), "wheel".into())]);
}

#[test]
fn enriched_actor_names_are_not_lent_to_owners() {
    // The actor's names are the log's (another host's database); the file's
    // owner, without ENRICHED fields, is named from this host's.
    let db = Db::default();
    let enriched = "\u{1d}AUID=\"carol\" UID=\"carol\" GID=\"ops\" EUID=\"carol\" SUID=\"carol\" FSUID=\"carol\" EGID=\"ops\" SGID=\"ops\" FSGID=\"ops\"";
    let ev = one(&db, &[syscall(enriched), path(0, 1000, 50, "")]);
    assert_eq!(ev.actor.as_ref().unwrap().uid_name, "carol");
    assert_eq!(owners(&ev), [("alice".into(), "staff".into())]);
}
