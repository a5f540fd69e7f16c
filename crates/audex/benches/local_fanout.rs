//! The local socket's fan-out: what the daemon's read loop pays per event to
//! hand it to N subscribers watching the same tree, in process, one thread:
//!
//!   cargo bench -p audex --bench local_fanout
//!
//! Each subscriber is its own unprivileged user watching the tree (so every
//! event is checked against its credentials from the PATH records, counted
//! against its rate limit, and given in the redacted view), except one, the
//! acting user, who gets the whole event. Events are file creations four
//! levels below the watched directory (a PARENT and a CREATE record), by a
//! process with a 6-argument command line, 2,000 distinct ones over and
//! over. Timed: `Registry::offer` only; the subscribers' mailboxes are
//! drained between batches, untimed (that is the connection threads' work,
//! one write per line, on other cores). Rows for 1, 10 and 100 subscribers
//! and for none (the cost of having the socket at all); goal at 100: under
//! 2 µs per event per subscriber. The kernel side is one rule, whatever N
//! (checked, and printed).
use audex::local::mailbox::{Mailbox, Pop};
use audex::local::registry::{
    credentials, resolve_all, InMemoryRules, Limits, Registry, Subscriber,
};
use audex_io::peer::Peer;
use audex_proto::v1::{Actor, AuditEvent, File, Process};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// As the audex binary does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACTING_UID: u32 = 70_000;
const EVENTS: usize = 20_000;
const BATCH: usize = 500;
const ROUNDS: usize = 5;

fn event(tree: &Path, i: usize) -> AuditEvent {
    let dir = tree.join("a/b/c");
    let file = dir.join(format!("file-{i}.txt"));
    AuditEvent {
        id: format!("vm:1700000000.{i:03}:{i}"),
        category: "file".into(),
        action: "created".into(),
        outcome: "success".into(),
        access: "write".into(),
        keys: vec!["audex-local".into()],
        actor: Some(Actor {
            uid: Some(ACTING_UID),
            euid: Some(ACTING_UID),
            fsuid: Some(ACTING_UID),
            auid: Some(ACTING_UID),
            uid_name: "web".into(),
            auid_name: "web".into(),
            ..Default::default()
        }),
        process: Some(Process {
            pid: Some(4242),
            ppid: Some(4200),
            exe: "/usr/bin/rsync".into(),
            command_line: "rsync -a --delete /srv/build/ /srv/www/ --exclude .git".into(),
            args: "rsync -a --delete /srv/build/ /srv/www/ --exclude .git"
                .split(' ')
                .map(String::from)
                .collect(),
            ..Default::default()
        }),
        files: vec![
            File {
                path: dir.to_string_lossy().into(),
                nametype: "PARENT".into(),
                mode: "040755".into(),
                ouid: Some(ACTING_UID),
                ogid: Some(ACTING_UID),
                inode: Some(77),
                ..Default::default()
            },
            File {
                path: file.to_string_lossy().into(),
                nametype: "CREATE".into(),
                mode: "0100644".into(),
                ouid: Some(ACTING_UID),
                ogid: Some(ACTING_UID),
                inode: Some(78 + i as u64),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// A registry with `n` subscribers of `tree` (the first is the acting user).
fn registry(tree: &Path, n: usize) -> (Registry, Vec<Arc<Mailbox>>, InMemoryRules) {
    let rules = InMemoryRules::default();
    let limits = Limits {
        max_watches_per_user: 4,
        max_events_per_s_per_user: 1_000_000_000,
        admin_gids: vec![],
    };
    let mut reg = Registry::new("vm", limits, Box::new(rules.clone()));
    let mut boxes = Vec::new();
    for k in 0..n as u32 {
        let mailbox = Arc::new(Mailbox::default());
        let uid = ACTING_UID + k;
        let who = Subscriber {
            peer: Peer {
                pid: 10_000 + k,
                cred: credentials(uid, uid),
            },
            admin: false,
            mailbox: mailbox.clone(),
        };
        let resolved = resolve_all(&[tree.to_path_buf()], &who);
        reg.subscribe(who, resolved, "wa")
            .expect("the tree is world-readable");
        boxes.push(mailbox);
    }
    (reg, boxes, rules)
}

/// Nanoseconds per event for `offer` with `n` subscribers (best of
/// [`ROUNDS`]), and the lines each subscriber got in the last round.
fn measure(tree: &Path, events: &[AuditEvent], n: usize) -> (f64, usize, usize) {
    let (mut reg, boxes, rules) = registry(tree, n);
    let mut best = Duration::MAX;
    let mut got = 0;
    for round in 0..ROUNDS {
        let mut spent = Duration::ZERO;
        got = 0;
        for (b, chunk) in events.chunks(BATCH).enumerate() {
            let now = (round * EVENTS + b * BATCH) as i64 * 1_000;
            let t = Instant::now();
            for ev in chunk {
                reg.offer(ev, now);
            }
            spent += t.elapsed();
            for m in &boxes {
                while let Pop::Line(_) = m.pop(Duration::ZERO) {
                    got += 1;
                }
            }
        }
        best = best.min(spent);
    }
    (
        best.as_nanos() as f64 / events.len() as f64,
        got / n.max(1),
        rules.rules().len(),
    )
}

fn main() {
    let tree: PathBuf = std::env::temp_dir().join(format!("audex-fanout-{}", std::process::id()));
    std::fs::create_dir_all(tree.join("a/b/c")).unwrap();
    let events: Vec<AuditEvent> = (0..EVENTS).map(|i| event(&tree, i % 2_000)).collect();
    println!("local socket fan-out, {EVENTS} events, best of {ROUNDS}:");
    println!(
        "{:>12} {:>14} {:>22} {:>14} {:>13}",
        "subscribers", "ns per event", "ns per event per sub", "lines per sub", "kernel rules"
    );
    for n in [0, 1, 10, 100] {
        let (ns, lines, rules) = measure(&tree, &events, n);
        let per = if n == 0 { 0.0 } else { ns / n as f64 };
        println!("{n:>12} {ns:>14.0} {per:>22.0} {lines:>14} {rules:>13}");
        assert!(
            n == 0 || lines == EVENTS,
            "every subscriber gets every event"
        );
        assert!(
            rules == usize::from(n > 0),
            "one kernel rule per path, not per user"
        );
    }
    let _ = std::fs::remove_dir_all(&tree);
}
