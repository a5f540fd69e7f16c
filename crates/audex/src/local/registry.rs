//! The local socket's subscriptions and the kernel watches they share. Takes
//! subscribe/unsubscribe requests (from connection threads) and every event
//! the daemon delivers (from its read loop, [`Registry::offer`]); gives each
//! subscriber the events under its watched paths that it may see, and the
//! daemon its `watch-*` events ([`Registry::take_notes`]).
//!
//! - Placing: each path is resolved as the user ([`audex_io::access::reach`]:
//!   search on every directory, read on the target); one kernel rule per
//!   distinct (path, perm), key [`KEY`](super::KEY), shared and counted,
//!   removed with its last subscriber.
//! - Delivering: an event goes to the subscribers of every watched path that
//!   is one of its paths' ancestors (a hash lookup per ancestor, not a scan
//!   of the subscribers), if the user could reach its objects when it
//!   happened (its PATH records' modes and owners); whole to the acting user
//!   and admins, redacted to others; within the user's rate; the two views
//!   are encoded once per event, not per subscriber.
//! - Revoking: a refused event or any mode/owner change under a watch marks
//!   the subscriber due, and every subscriber is due once a second; the
//!   socket's accept thread walks the due ones' paths again as the user
//!   ([`Registry::due_walks`], [`Walk::run`], [`Registry::walked`]): outside
//!   the registry's lock and off the daemon's read loop, which never touches
//!   the filesystem (a hung mount stalls only that thread). Once a path
//!   cannot be reached, the watch ends and the client is told.
//! - Placing walks too, before the lock ([`resolve_all`]).
use super::mailbox::{Line, Mailbox};
use super::notes::watch_event;
use super::protocol::{event_line, reply_line, Reply, WatchInfo};
use audex_io::access::{reach, Credentials};
use audex_io::peer::Peer;
use audex_kernel::netlink::AuditSocket;
use audex_kernel::rules::syntax::watch_rule;
use audex_kernel::rules::KernelRule;
use audex_policy::local_view::{acts_as, others_view};
use audex_policy::reach::Objects;
use audex_policy::{HoldBack, RateLimitSpec, Throttle};
use audex_proto::v1::AuditEvent;
use audex_proto::Action;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Adds and deletes the shared kernel watches (the audit socket; a fake in
/// tests and the bench).
pub trait RuleControl: Send {
    fn add(&mut self, rule: &KernelRule) -> Result<(), String>;
    fn delete(&mut self, rule: &KernelRule) -> Result<(), String>;
}

impl RuleControl for AuditSocket {
    fn add(&mut self, rule: &KernelRule) -> Result<(), String> {
        self.add_rule(rule).map_err(|e| e.to_string())
    }

    fn delete(&mut self, rule: &KernelRule) -> Result<(), String> {
        self.delete_rule(rule).map_err(|e| e.to_string())
    }
}

/// Kernel rules kept in memory instead of the kernel, as text (`-w PATH
/// -p PERM -k KEY`): for tests and the fan-out bench.
#[derive(Debug, Clone, Default)]
pub struct InMemoryRules(pub Arc<std::sync::Mutex<Vec<String>>>);

impl InMemoryRules {
    pub fn rules(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl RuleControl for InMemoryRules {
    fn add(&mut self, rule: &KernelRule) -> Result<(), String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rule.to_text());
        Ok(())
    }

    fn delete(&mut self, rule: &KernelRule) -> Result<(), String> {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let text = rule.to_text();
        let i = v
            .iter()
            .position(|r| *r == text)
            .ok_or_else(|| format!("no such rule: {text}"))?;
        v.remove(i);
        Ok(())
    }
}

/// The `local:` limits and who sees everything.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_watches_per_user: usize,
    pub max_events_per_s_per_user: u32,
    /// Members of these groups (primary or supplementary) are admins.
    pub admin_gids: Vec<u32>,
}

/// A connected client asking to watch.
pub struct Subscriber {
    pub peer: Peer,
    /// Holds CAP_AUDIT_READ or is in an admin group: sees every event whole.
    pub admin: bool,
    pub mailbox: Arc<Mailbox>,
}

/// A subscription's handle: its slot and its unique id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubId {
    slot: usize,
    id: u64,
}

/// Time between two walks of a subscriber's paths (sooner when marked due).
const RECHECK_NS: i64 = 1_000_000_000;

struct Watched {
    root: PathBuf,
    perm: String,
}

struct Sub {
    id: u64,
    peer: Peer,
    admin: bool,
    mailbox: Arc<Mailbox>,
    watches: Vec<Watched>,
    /// Events the mailbox had no room for, since the last marker.
    overflow: u64,
    checked_ns: i64,
    /// An event said its paths may have changed: walk them at the next check.
    due: bool,
    /// The last event that matched it (to count it once per event).
    seen: u64,
}

struct Shared {
    rule: KernelRule,
    subscribers: usize,
}

struct User {
    watches: usize,
    throttle: Throttle,
    slots: Vec<usize>,
}

pub struct Registry {
    node: String,
    limits: Limits,
    control: Box<dyn RuleControl>,
    subs: Vec<Option<Sub>>,
    free: Vec<usize>,
    next_id: u64,
    /// Watched path -> the slots watching it.
    by_path: HashMap<PathBuf, Vec<usize>>,
    rules: HashMap<(PathBuf, String), Shared>,
    users: HashMap<u32, User>,
    notes: Vec<AuditEvent>,
    closed: bool,
    /// Events offered (marks which subscribers one matched).
    offered: u64,
    matched: Vec<usize>,
    markers: Vec<AuditEvent>,
}

impl Registry {
    pub fn new(node: &str, limits: Limits, control: Box<dyn RuleControl>) -> Registry {
        Registry {
            node: node.to_string(),
            limits,
            control,
            subs: Vec::new(),
            free: Vec::new(),
            next_id: 1,
            by_path: HashMap::new(),
            rules: HashMap::new(),
            users: HashMap::new(),
            notes: Vec::new(),
            closed: false,
            offered: 0,
            matched: Vec::new(),
            markers: Vec::new(),
        }
    }

    /// Whether `peer` is in an admin group.
    pub fn in_admin_group(&self, peer: &Peer) -> bool {
        let g = &self.limits.admin_gids;
        g.contains(&peer.cred.gid) || peer.cred.groups.iter().any(|x| g.contains(x))
    }

    /// Kernel watches in place (distinct path and perm).
    pub fn kernel_rules(&self) -> usize {
        self.rules.len()
    }

    /// Places the watches of `who` on the paths [`resolve_all`] gave (or
    /// records why they were refused); the resolved paths, or why not
    /// (nothing is placed then; a refusal is on record).
    pub fn subscribe(
        &mut self,
        who: Subscriber,
        resolved: Resolved,
        perm: &str,
    ) -> Result<(SubId, Vec<PathBuf>), String> {
        let refuse = |reg: &mut Registry, path: &Path, why: String| {
            reg.notes.push(watch_event(
                &reg.node,
                Action::WatchSubscribed,
                &who.peer,
                &path.to_string_lossy(),
                perm,
                Some(&why),
            ));
            Err(why)
        };
        if self.closed {
            return Err("the daemon is stopping".into());
        }
        let resolved = match resolved {
            Ok(r) => r,
            Err((path, why)) => return refuse(self, &path, why),
        };
        let first = resolved.first().map_or(Path::new(""), |p| p.as_path());
        if resolved.is_empty() {
            return refuse(self, first, "no path to watch".into());
        }
        if audex_kernel::rules::fields::perm_bits(perm).is_none() {
            return refuse(
                self,
                first,
                format!("--perm {perm:?}: use a combination of r, w, x and a"),
            );
        }
        let uid = who.peer.cred.uid;
        let has = self.users.get(&uid).map_or(0, |u| u.watches);
        let max = self.limits.max_watches_per_user;
        if has + resolved.len() > max {
            let why = format!(
                "limit: uid {uid} would watch {} paths; at most {max} per user (local.max_watches_per_user)",
                has + resolved.len()
            );
            return refuse(self, first, why);
        }
        for (i, r) in resolved.iter().enumerate() {
            if let Err(why) = self.hold_rule(r, perm) {
                for done in &resolved[..i] {
                    self.release_rule(done, perm);
                }
                return refuse(self, r, why);
            }
        }
        Ok(self.insert(who, &resolved, perm))
    }

    /// The subscription made: slot, path index, user, notes.
    fn insert(
        &mut self,
        who: Subscriber,
        resolved: &[PathBuf],
        perm: &str,
    ) -> (SubId, Vec<PathBuf>) {
        let id = self.next_id;
        self.next_id += 1;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.subs.push(None);
            self.subs.len() - 1
        });
        for r in resolved {
            self.by_path.entry(r.clone()).or_default().push(slot);
            self.notes.push(watch_event(
                &self.node,
                Action::WatchSubscribed,
                &who.peer,
                &r.to_string_lossy(),
                perm,
                None,
            ));
        }
        let uid = who.peer.cred.uid;
        let rate = f64::from(self.limits.max_events_per_s_per_user);
        let user = self.users.entry(uid).or_insert_with(|| User {
            watches: 0,
            throttle: Throttle::new(
                RateLimitSpec {
                    events_per_s: rate,
                    burst: rate as u64,
                    per_key: false,
                },
                "local.max_events_per_s_per_user",
                &self.node,
            )
            .expect("the config checks the rate is above 0"),
            slots: Vec::new(),
        });
        user.watches += resolved.len();
        user.slots.push(slot);
        self.subs[slot] = Some(Sub {
            id,
            peer: who.peer,
            admin: who.admin,
            mailbox: who.mailbox,
            watches: resolved
                .iter()
                .map(|r| Watched {
                    root: r.clone(),
                    perm: perm.to_string(),
                })
                .collect(),
            overflow: 0,
            checked_ns: 0,
            due: false,
            seen: 0,
        });
        (SubId { slot, id }, resolved.to_vec())
    }

    /// One more subscriber of the kernel watch on (`path`, `perm`), adding it
    /// if it is the first.
    fn hold_rule(&mut self, path: &Path, perm: &str) -> Result<(), String> {
        let k = (path.to_path_buf(), perm.to_string());
        if let Some(s) = self.rules.get_mut(&k) {
            s.subscribers += 1;
            return Ok(());
        }
        let ps = path.to_string_lossy();
        let rule = watch_rule(&ps, perm, super::KEY).map_err(|e| format!("{ps}: {e}"))?;
        self.control
            .add(&rule)
            .map_err(|e| format!("adding the kernel watch for {ps}: {e}"))?;
        self.rules.insert(
            k,
            Shared {
                rule,
                subscribers: 1,
            },
        );
        Ok(())
    }

    /// One subscriber fewer; the kernel watch goes with the last.
    fn release_rule(&mut self, path: &Path, perm: &str) {
        let k = (path.to_path_buf(), perm.to_string());
        let Some(s) = self.rules.get_mut(&k) else {
            return;
        };
        s.subscribers -= 1;
        if s.subscribers == 0 {
            let s = self.rules.remove(&k).expect("present");
            if let Err(e) = self.control.delete(&s.rule) {
                audex_log::warn!("removing the local watch on {}: {e}", path.display());
            }
        }
    }

    /// The client of `sub` left: its watches end.
    pub fn unsubscribe(&mut self, sub: SubId) {
        let Some(s) = self
            .subs
            .get_mut(sub.slot)
            .filter(|s| s.as_ref().is_some_and(|s| s.id == sub.id))
        else {
            return;
        };
        let s = s.take().expect("checked");
        for w in &s.watches {
            self.unindex(sub.slot, &w.root);
            self.release_rule(&w.root, &w.perm);
            self.notes.push(watch_event(
                &self.node,
                Action::WatchUnsubscribed,
                &s.peer,
                &w.root.to_string_lossy(),
                &w.perm,
                None,
            ));
        }
        if let Some(u) = self.users.get_mut(&s.peer.cred.uid) {
            u.watches -= s.watches.len();
            u.slots.retain(|&x| x != sub.slot);
            if u.slots.is_empty() {
                self.users.remove(&s.peer.cred.uid);
            }
        }
        s.mailbox.close();
        self.free.push(sub.slot);
    }

    fn unindex(&mut self, slot: usize, root: &Path) {
        if let Some(v) = self.by_path.get_mut(root) {
            v.retain(|&x| x != slot);
            if v.is_empty() {
                self.by_path.remove(root);
            }
        }
    }

    /// The watches of the user `uid` (every connection of it).
    pub fn list(&self, uid: u32) -> Vec<WatchInfo> {
        self.subs
            .iter()
            .flatten()
            .filter(|s| s.peer.cred.uid == uid)
            .flat_map(|s| {
                s.watches.iter().map(|w| WatchInfo {
                    path: w.root.to_string_lossy().into_owned(),
                    perm: w.perm.clone(),
                    pid: s.peer.pid,
                })
            })
            .collect()
    }

    /// Subscriptions open now.
    pub fn subscribers(&self) -> usize {
        self.subs.iter().flatten().count()
    }

    /// Whether no watch is in place (nothing to offer events to).
    pub fn idle(&self) -> bool {
        self.closed || self.by_path.is_empty()
    }

    /// `ev` to every subscriber that watches one of its paths and may see
    /// it, at wall time `now_ns`.
    pub fn offer(&mut self, ev: &AuditEvent, now_ns: i64) {
        if self.idle() {
            return;
        }
        if ev.lost.is_some() {
            // Every watch may have missed something: everyone is told.
            let line: Line = event_line(ev).into();
            for s in self.subs.iter().flatten() {
                s.mailbox.push_control(line.clone());
            }
            return;
        }
        self.offered += 1;
        self.match_subscribers(ev);
        if self.matched.is_empty() {
            return;
        }
        let (mut whole, mut redacted): (Option<Line>, Option<Line>) = (None, None);
        let objects = Objects::of(ev);
        let recheck = ev.is(Action::ChangedMode) || ev.is(Action::ChangedOwner);
        let matched = std::mem::take(&mut self.matched);
        for &slot in &matched {
            let s = self.subs[slot].as_mut().expect("indexed slots are live");
            if !s.admin && !objects.reachable_by(&s.peer.cred) {
                s.due = true;
                continue;
            }
            let uid = s.peer.cred.uid;
            let user = self.users.get_mut(&uid).expect("a subscriber's user");
            let pass = user.throttle.admit(ev, now_ns, &mut self.markers);
            self.send_markers(uid);
            if !pass {
                continue;
            }
            let s = self.subs[slot].as_mut().expect("live");
            let line = if s.admin || acts_as(ev, uid) {
                whole.get_or_insert_with(|| event_line(ev).into())
            } else {
                redacted.get_or_insert_with(|| event_line(&others_view(ev)).into())
            };
            if !s.mailbox.push_event(line) {
                s.overflow += 1;
            }
            s.due |= recheck;
        }
        self.matched = matched;
    }

    /// The slots whose watched paths hold one of `ev`'s paths, each once.
    fn match_subscribers(&mut self, ev: &AuditEvent) {
        self.matched.clear();
        for f in &ev.files {
            if !f.path.starts_with('/') {
                continue;
            }
            for dir in Path::new(&f.path).ancestors() {
                let Some(slots) = self.by_path.get(dir) else {
                    continue;
                };
                for &slot in slots {
                    let s = self.subs[slot].as_mut().expect("indexed slots are live");
                    if s.seen != self.offered {
                        s.seen = self.offered;
                        self.matched.push(slot);
                    }
                }
            }
        }
    }

    /// The markers the throttle of `uid` made, to each of its connections.
    fn send_markers(&mut self, uid: u32) {
        if self.markers.is_empty() {
            return;
        }
        let slots = self
            .users
            .get(&uid)
            .map(|u| u.slots.clone())
            .unwrap_or_default();
        for m in self.markers.drain(..) {
            let line: Line = event_line(&m).into();
            for &slot in &slots {
                if let Some(s) = self.subs[slot].as_ref() {
                    s.mailbox.push_control(line.clone());
                }
            }
        }
    }

    /// The walks due at `now_ns` (marked due, or a second since the last),
    /// to run without the registry: admins are never walked.
    pub fn due_walks(&mut self, now_ns: i64) -> Vec<Walk> {
        let mut walks = Vec::new();
        for (slot, s) in self.subs.iter_mut().enumerate() {
            let Some(s) = s.as_mut().filter(|s| !s.admin) else {
                continue;
            };
            if s.due || now_ns - s.checked_ns >= RECHECK_NS {
                s.due = false;
                s.checked_ns = now_ns;
                walks.push(Walk {
                    sub: SubId { slot, id: s.id },
                    cred: s.peer.cred.clone(),
                    roots: s.watches.iter().map(|w| w.root.clone()).collect(),
                });
            }
        }
        walks
    }

    /// What the walks found: each watched path its user can no longer
    /// reach is revoked (unless the subscription ended meanwhile).
    pub fn walked(&mut self, done: Vec<Walked>) {
        for w in done {
            for (root, why) in w.lost {
                let Some(s) = self.subs[w.sub.slot].as_ref().filter(|s| s.id == w.sub.id) else {
                    break;
                };
                if let Some(i) = s.watches.iter().position(|x| x.root == root) {
                    self.revoke(w.sub.slot, i, &why);
                }
            }
        }
    }

    /// The due walks run here, under the registry (tests: the socket runs
    /// them unlocked).
    #[cfg(test)]
    pub fn check_paths(&mut self, now_ns: i64) {
        let done = self.due_walks(now_ns).into_iter().map(Walk::run).collect();
        self.walked(done);
    }

    /// Ends watch `i` of `slot`, telling the client and the record.
    fn revoke(&mut self, slot: usize, i: usize, why: &str) {
        let s = self.subs[slot].as_mut().expect("live");
        let w = s.watches.remove(i);
        let path = w.root.to_string_lossy().into_owned();
        s.mailbox.push_control(
            reply_line(&Reply::Revoked {
                path: path.clone(),
                reason: why.to_string(),
            })
            .into(),
        );
        let (peer, uid) = (s.peer.clone(), s.peer.cred.uid);
        if s.watches.is_empty() {
            s.mailbox.close();
        }
        self.notes.push(watch_event(
            &self.node,
            Action::WatchRevoked,
            &peer,
            &path,
            &w.perm,
            Some(why),
        ));
        self.unindex(slot, &w.root);
        self.release_rule(&w.root, &w.perm);
        if let Some(u) = self.users.get_mut(&uid) {
            u.watches -= 1;
        }
    }

    /// Periodic work at `now_ns`: throttle markers due, the slow readers'
    /// markers.
    pub fn tick(&mut self, now_ns: i64) {
        let uids: Vec<u32> = self.users.keys().copied().collect();
        for uid in uids {
            if let Some(u) = self.users.get_mut(&uid) {
                u.throttle.tick(now_ns, &mut self.markers);
            }
            self.send_markers(uid);
        }
        for s in self.subs.iter_mut().flatten() {
            if s.overflow > 0 {
                let m = slow_reader_marker(&self.node, s.overflow, now_ns);
                s.mailbox.push_control(event_line(&m).into());
                s.overflow = 0;
            }
        }
    }

    /// The `watch-*` events made since the last call, for the daemon's stream.
    pub fn take_notes(&mut self) -> Vec<AuditEvent> {
        std::mem::take(&mut self.notes)
    }

    /// The daemon stops: every client is told, every kernel watch removed.
    pub fn close(&mut self, reason: &str) {
        // What the rate limits still hold back, summarised first.
        let uids: Vec<u32> = self.users.keys().copied().collect();
        for uid in uids {
            if let Some(u) = self.users.get_mut(&uid) {
                u.throttle.flush(&mut self.markers);
            }
            self.send_markers(uid);
        }
        self.closed = true;
        let line: Line = reply_line(&Reply::Stopping {
            reason: reason.to_string(),
        })
        .into();
        for s in self.subs.iter().flatten() {
            s.mailbox.push_control(line.clone());
            s.mailbox.close();
        }
        for (_, s) in self.rules.drain() {
            if let Err(e) = self.control.delete(&s.rule) {
                audex_log::warn!("removing a local watch: {e}");
            }
        }
        self.by_path.clear();
    }
}

/// Paths resolved for a subscription, or the first that is refused and why.
pub type Resolved = Result<Vec<PathBuf>, (PathBuf, String)>;

/// Resolves `paths` for `who` (each once): as the user, never as the daemon,
/// unless an admin. Walks the filesystem: call it without the registry.
pub fn resolve_all(paths: &[PathBuf], who: &Subscriber) -> Resolved {
    let mut resolved = Vec::with_capacity(paths.len());
    for p in paths {
        let r = if who.admin {
            std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))
        } else {
            reach(p, &who.peer.cred).map_err(|d| d.to_string())
        };
        match r {
            Ok(r) if !resolved.contains(&r) => resolved.push(r),
            Ok(_) => {}
            Err(why) => return Err((p.clone(), why)),
        }
    }
    Ok(resolved)
}

/// A subscriber's watched paths to walk again as its user.
pub struct Walk {
    sub: SubId,
    cred: Credentials,
    roots: Vec<PathBuf>,
}

/// The paths of a [`Walk`] its user can no longer reach, and why.
pub struct Walked {
    sub: SubId,
    lost: Vec<(PathBuf, String)>,
}

impl Walk {
    /// Walks the filesystem: run it without the registry.
    pub fn run(self) -> Walked {
        let lost = self
            .roots
            .into_iter()
            .filter_map(|root| match reach(&root, &self.cred) {
                Ok(r) if r == root => None,
                Ok(r) => {
                    let why = format!("{} now leads to {}", root.display(), r.display());
                    Some((root, why))
                }
                Err(why) => Some((root, why.to_string())),
            })
            .collect();
        Walked {
            sub: self.sub,
            lost,
        }
    }
}

/// `events-throttled` for events a client's mailbox had no room for.
fn slow_reader_marker(node: &str, count: u64, now_ns: i64) -> AuditEvent {
    let t = audex_proto::Timestamp {
        seconds: now_ns.div_euclid(1_000_000_000),
        nanos: now_ns.rem_euclid(1_000_000_000) as i32,
    };
    let mut ev = audex_export::notes::audit_event(
        node,
        format!("{node}:local-slow-reader:{now_ns}"),
        Action::EventsThrottled,
        audex_proto::Outcome::Success,
        Default::default(),
    );
    ev.suppressed = Some(audex_proto::v1::Suppressed {
        count,
        first_time: None,
        last_time: Some(t),
        reason: "local: the client reads too slowly".into(),
    });
    ev
}

/// A subscriber's credentials (for tests and the bench).
pub fn credentials(uid: u32, gid: u32) -> Credentials {
    Credentials {
        uid,
        gid,
        groups: Vec::new(),
    }
}
