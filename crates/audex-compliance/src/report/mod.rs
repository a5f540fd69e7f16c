//! `audex report`: what an auditor asks of an audit trail, from archives.
//! Input: archive segments (events in `audex.v1.AuditEvent` form) and a time
//! window. Output: a [`Report`] (serialized as JSON) rendered to a
//! self-contained HTML page ([`html`]) or Markdown ([`markdown`]).
//!
//! One pass over the events; memory grows with distinct users, programs,
//! controls and active minutes, not with events.
pub mod html;
pub mod markdown;
mod svg;

use crate::time::rfc3339;
use audex_export::archive::reader::SegmentStream;
use audex_export::archive::SEAL_ACTION;
use audex_proto::v1::AuditEvent;
use audex_proto::{Action, Category, Outcome};
use prost::Message;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// What to report on.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only events at or after (seconds since the epoch).
    pub from: Option<i64>,
    /// Only events before.
    pub to: Option<i64>,
    /// A host silent this long is listed as possible collector downtime.
    pub quiet_gap_s: i64,
    /// Examples kept per section.
    pub examples: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            from: None,
            to: None,
            quiet_gap_s: 15 * 60,
            examples: 5,
        }
    }
}

/// A name and how many events it has.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Count {
    pub name: String,
    pub events: u64,
}

/// One event, in a line.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub time: String,
    pub host: String,
    pub user: String,
    pub action: String,
    pub outcome: String,
    /// The file, command or account concerned.
    pub what: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlEvidence {
    pub control: String,
    pub events: u64,
    pub failures: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub keys: Vec<String>,
    pub hosts: Vec<String>,
    pub examples: Vec<Example>,
}

/// Events of one kind: how many, failures among them, examples.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Section {
    pub events: u64,
    pub failures: u64,
    /// Most frequent files (or operations).
    pub top: Vec<Count>,
    /// Most frequent users.
    pub by_user: Vec<Count>,
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Logins {
    pub succeeded: u64,
    pub failed: u64,
    /// Failed authentication steps (USER_AUTH and USER_ERR failures).
    pub failed_authentications: u64,
    pub by_user: Vec<UserLogins>,
    pub failures: Vec<Example>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserLogins {
    pub user: String,
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Privileged {
    /// sudo and other USER_CMD records.
    pub sudo: u64,
    /// Programs run with uid != euid (setuid).
    pub setuid: u64,
    /// Programs run as root (euid 0) by a person logged in as someone else.
    pub as_root_by_login_user: u64,
    pub top_commands: Vec<Count>,
    pub examples: Vec<Example>,
}

/// A `records-lost` event: records that never reached the archive.
#[derive(Debug, Clone, Serialize)]
pub struct Loss {
    pub time: String,
    pub host: String,
    pub count: u64,
    pub source: String,
    pub first_serial: u64,
    pub last_serial: u64,
}

/// A period without events from a host, or an unclean collector stop.
#[derive(Debug, Clone, Serialize)]
pub struct Silence {
    pub host: String,
    pub from: String,
    pub to: String,
    pub seconds: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Timeline {
    pub start: String,
    pub bucket_seconds: i64,
    pub events: Vec<u64>,
    pub failures: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub events: u64,
    pub failures: u64,
    pub segments: usize,
    pub hosts: usize,
    pub first_event: String,
    pub last_event: String,
    /// Events of the archives outside the time window (not counted above).
    pub outside_window: u64,
    /// Records that could not be decoded (see `audex verify`).
    pub unreadable: u64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub title: String,
    pub generated_at: String,
    pub window_from: Option<String>,
    pub window_to: Option<String>,
    pub summary: Summary,
    pub by_category: Vec<Count>,
    pub controls: Vec<ControlEvidence>,
    /// Controls of the frameworks seen that have no evidence at all.
    pub controls_without_evidence: Vec<String>,
    pub logins: Logins,
    pub privileged: Privileged,
    pub identity_changes: Section,
    pub audit_changes: Section,
    pub failed_access: Section,
    pub tenants: Vec<Count>,
    pub hosts: Vec<Count>,
    pub lost_records: u64,
    pub loss: Vec<Loss>,
    pub silences: Vec<Silence>,
    pub top_users: Vec<Count>,
    pub top_programs: Vec<Count>,
    pub timeline: Timeline,
    /// Whether the archive was verified, and what verify found.
    pub integrity: Integrity,
}

/// The report's integrity statement: `verified` only when `report --key-file`
/// ran `verify` over the same segments.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Integrity {
    pub verified: bool,
    pub intact: bool,
    /// verify's findings, one line each (at most 50; `problems` counts them all).
    pub findings: Vec<String>,
    pub problems: usize,
    /// Segments sealed after a collector crash (listed, not tampering).
    pub recovered: usize,
}

impl Integrity {
    /// The statement for a verdict.
    pub fn of(v: &crate::verify::Verdict) -> Integrity {
        Integrity {
            verified: true,
            intact: v.intact,
            findings: v.problem_lines().into_iter().take(50).collect(),
            problems: v.problems.len(),
            recovered: v.recovered.len(),
        }
    }

    /// One sentence for a reader of the report.
    pub fn sentence(&self) -> String {
        if !self.verified {
            "NOT VERIFIED: this report was built without the archive's chain key, so nothing here shows the archive is complete and unaltered (run `audex report --key-file` or `audex verify`).".into()
        } else if self.intact {
            format!(
                "Verified with the chain key: the archive is intact{}.",
                if self.recovered > 0 {
                    format!(
                        " ({} segment(s) sealed after a collector crash)",
                        self.recovered
                    )
                } else {
                    String::new()
                }
            )
        } else {
            format!(
                "NOT INTACT: verify found {} problem(s) in the archive; counts below may include altered, duplicated or missing events.",
                self.problems
            )
        }
    }
}

const IDENTITY_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/security/opasswd",
    "/etc/sudoers",
    "/etc/login.defs",
    "/etc/nsswitch.conf",
];
const AUDIT_CONFIG_DIRS: &[&str] = &["/etc/audit/", "/etc/audex/"];
const TOP: usize = 10;

fn user_of(ev: &AuditEvent) -> String {
    let Some(a) = &ev.actor else {
        return ev.data.get("acct").cloned().unwrap_or_else(|| "-".into());
    };
    if !a.auid_name.is_empty() {
        a.auid_name.clone()
    } else if let Some(u) = a.auid {
        u.to_string()
    } else if let Some(acct) = ev.data.get("acct") {
        acct.clone()
    } else if !a.uid_name.is_empty() {
        a.uid_name.clone()
    } else {
        a.uid.map_or("-".into(), |u| u.to_string())
    }
}

fn what_of(ev: &AuditEvent) -> String {
    if let Some(f) = ev
        .files
        .iter()
        .find(|f| f.nametype != "PARENT")
        .or(ev.files.first())
    {
        return f.path.clone();
    }
    if let Some(p) = &ev.process {
        if !p.command_line.is_empty() {
            return p.command_line.clone();
        }
        if !p.title.is_empty() {
            return p.title.clone();
        }
    }
    for k in ["cmd", "acct", "op"] {
        if let Some(v) = ev.data.get(k) {
            return format!("{k}={v}");
        }
    }
    ev.process
        .as_ref()
        .map(|p| p.exe.clone())
        .unwrap_or_default()
}

fn example(ev: &AuditEvent, secs: i64) -> Example {
    Example {
        time: rfc3339(secs),
        host: ev.node.clone(),
        user: user_of(ev),
        action: ev.action.clone(),
        outcome: ev.outcome.clone(),
        what: what_of(ev),
    }
}

fn top(m: HashMap<String, u64>, n: usize) -> Vec<Count> {
    let mut v: Vec<Count> = m
        .into_iter()
        .map(|(name, events)| Count { name, events })
        .collect();
    v.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.name.cmp(&b.name)));
    v.truncate(n);
    v
}

#[derive(Default)]
struct SectionAcc {
    events: u64,
    failures: u64,
    top: HashMap<String, u64>,
    users: HashMap<String, u64>,
    examples: Vec<Example>,
}

impl SectionAcc {
    fn add(&mut self, ev: &AuditEvent, secs: i64, top_key: String, keep: usize) {
        self.events += 1;
        let failed = ev.failed();
        self.failures += u64::from(failed);
        *self.top.entry(top_key).or_default() += 1;
        *self.users.entry(user_of(ev)).or_default() += 1;
        // Failures first in the examples: they are what an auditor looks for.
        if self.examples.len() < keep {
            self.examples.push(example(ev, secs));
        } else if failed {
            if let Some(i) = self
                .examples
                .iter()
                .position(|e| e.outcome != Outcome::Failure.as_str())
            {
                self.examples[i] = example(ev, secs);
            }
        }
    }

    fn done(self) -> Section {
        Section {
            events: self.events,
            failures: self.failures,
            top: top(self.top, TOP),
            by_user: top(self.users, TOP),
            examples: self.examples,
        }
    }
}

#[derive(Default)]
struct ControlAcc {
    events: u64,
    failures: u64,
    first: i64,
    last: i64,
    keys: BTreeSet<String>,
    hosts: BTreeSet<String>,
    examples: Vec<Example>,
}

/// Everything gathered in the pass over the events.
#[derive(Default)]
struct Acc {
    opts: Options,
    summary: Summary,
    first: Option<i64>,
    last: Option<i64>,
    categories: HashMap<String, u64>,
    controls: BTreeMap<String, ControlAcc>,
    login_users: BTreeMap<String, (u64, u64)>,
    logins: Logins,
    privileged: Privileged,
    commands: HashMap<String, u64>,
    identity: SectionAcc,
    audit: SectionAcc,
    failed: SectionAcc,
    tenants: HashMap<String, u64>,
    hosts: HashMap<String, u64>,
    users: HashMap<String, u64>,
    programs: HashMap<String, u64>,
    loss: Vec<Loss>,
    lost_records: u64,
    /// Per host, the minutes with events.
    active: HashMap<String, BTreeSet<i64>>,
    /// Per minute: (events, failures).
    minutes: BTreeMap<i64, (u64, u64)>,
    unclean: Vec<Silence>,
}

impl Acc {
    fn add(&mut self, ev: &AuditEvent) {
        let secs = ev.time.as_ref().map_or(0, |t| t.seconds);
        if self.opts.from.is_some_and(|f| secs < f) || self.opts.to.is_some_and(|t| secs >= t) {
            self.summary.outside_window += 1;
            return;
        }
        let keep = self.opts.examples;
        let failed = ev.failed();
        self.summary.events += 1;
        self.summary.failures += u64::from(failed);
        self.first = Some(self.first.map_or(secs, |f| f.min(secs)));
        self.last = Some(self.last.map_or(secs, |l| l.max(secs)));
        *self.categories.entry(ev.category.clone()).or_default() += 1;
        *self.hosts.entry(ev.node.clone()).or_default() += 1;
        let tenant = if ev.tenant.is_empty() {
            "(none)"
        } else {
            &ev.tenant
        };
        *self.tenants.entry(tenant.to_string()).or_default() += 1;
        let user = user_of(ev);
        *self.users.entry(user.clone()).or_default() += 1;
        if let Some(p) = ev.process.as_ref().filter(|p| !p.exe.is_empty()) {
            *self.programs.entry(p.exe.clone()).or_default() += 1;
        }
        let minute = secs.div_euclid(60);
        let m = self.minutes.entry(minute).or_default();
        m.0 += 1;
        m.1 += u64::from(failed);
        self.active
            .entry(ev.node.clone())
            .or_default()
            .insert(minute);

        for c in &ev.controls {
            let acc = self
                .controls
                .entry(c.clone())
                .or_insert_with(|| ControlAcc {
                    first: secs,
                    last: secs,
                    ..Default::default()
                });
            acc.events += 1;
            acc.failures += u64::from(failed);
            acc.first = acc.first.min(secs);
            acc.last = acc.last.max(secs);
            acc.keys.extend(ev.keys.iter().cloned());
            if !acc.hosts.contains(&ev.node) {
                acc.hosts.insert(ev.node.clone());
            }
            if acc.examples.len() < keep {
                acc.examples.push(example(ev, secs));
            }
        }

        match (ev.category.as_str(), ev.action.as_str()) {
            ("authentication", "logged-in") => {
                let u = self.login_users.entry(user.clone()).or_default();
                if failed {
                    self.logins.failed += 1;
                    u.1 += 1;
                    if self.logins.failures.len() < keep * 4 {
                        self.logins.failures.push(example(ev, secs));
                    }
                } else {
                    self.logins.succeeded += 1;
                    u.0 += 1;
                }
            }
            ("authentication", "authenticated" | "failed") if failed => {
                self.logins.failed_authentications += 1;
                if self.logins.failures.len() < keep * 4 {
                    self.logins.failures.push(example(ev, secs));
                }
            }
            ("audit", "records-lost") => {
                let l = ev.lost.clone().unwrap_or_default();
                self.lost_records += l.count;
                self.loss.push(Loss {
                    time: rfc3339(secs),
                    host: ev.node.clone(),
                    count: l.count,
                    source: l.source,
                    first_serial: l.first_serial,
                    last_serial: l.last_serial,
                });
            }
            ("audit", "changed-audit-config" | "changed-audit-rules") => {
                let op = ev
                    .data
                    .get("op")
                    .cloned()
                    .unwrap_or_else(|| ev.action.clone());
                self.audit.add(ev, secs, op, keep);
            }
            _ => {}
        }

        let a = ev.actor.as_ref();
        let exec = ev.is(Action::Executed);
        let cmd = || {
            ev.process
                .as_ref()
                .map(|p| {
                    if p.exe.is_empty() {
                        p.command_line.clone()
                    } else {
                        p.exe.clone()
                    }
                })
                .or_else(|| ev.data.get("cmd").cloned())
                .unwrap_or_default()
        };
        let sudo = ev.is(Action::RanCommand);
        let setuid =
            exec && a.is_some_and(|a| a.uid.is_some() && a.euid.is_some() && a.uid != a.euid);
        let as_root =
            exec && a.is_some_and(|a| a.euid == Some(0) && a.auid.is_some_and(|u| u != 0));
        if sudo || setuid || as_root {
            self.privileged.sudo += u64::from(sudo);
            self.privileged.setuid += u64::from(setuid);
            self.privileged.as_root_by_login_user += u64::from(as_root);
            *self.commands.entry(cmd()).or_default() += 1;
            if self.privileged.examples.len() < keep {
                self.privileged.examples.push(example(ev, secs));
            }
        }

        let modifies = ev.in_category(Category::File)
            && (!ev.is(Action::Opened) || ev.access == "write" || ev.access == "read-write");
        if modifies || ev.in_category(Category::Account) {
            let hit = ev.files.iter().find(|f| {
                IDENTITY_FILES.contains(&f.path.as_str()) || f.path.starts_with("/etc/sudoers.d/")
            });
            if let Some(f) = hit {
                self.identity.add(ev, secs, f.path.clone(), keep);
            } else if ev.in_category(Category::Account) {
                self.identity.add(ev, secs, ev.action.clone(), keep);
            }
            if let Some(f) = ev
                .files
                .iter()
                .find(|f| AUDIT_CONFIG_DIRS.iter().any(|d| f.path.starts_with(d)))
            {
                self.audit.add(ev, secs, f.path.clone(), keep);
            }
        }
        if ev.in_category(Category::File) && failed {
            let path = ev
                .files
                .iter()
                .find(|f| f.nametype != "PARENT")
                .or(ev.files.first());
            self.failed.add(
                ev,
                secs,
                path.map(|f| f.path.clone()).unwrap_or_default(),
                keep,
            );
        }
    }

    fn finish(self, title: String) -> Report {
        let mut r = Report {
            title,
            generated_at: rfc3339(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64),
            ),
            window_from: self.opts.from.map(rfc3339),
            window_to: self.opts.to.map(rfc3339),
            ..Default::default()
        };
        r.summary = self.summary;
        r.summary.hosts = self.hosts.len();
        r.summary.first_event = self.first.map(rfc3339).unwrap_or_default();
        r.summary.last_event = self.last.map(rfc3339).unwrap_or_default();
        r.by_category = top(self.categories, usize::MAX);
        let table = crate::controls::ControlMap::builtin();
        let frameworks: BTreeSet<&str> = self
            .controls
            .keys()
            .filter_map(|c| c.split(':').next())
            .collect();
        r.controls_without_evidence = table
            .all_controls()
            .into_iter()
            .filter(|c| {
                c.split(':').next().is_some_and(|f| frameworks.contains(f))
                    && !self.controls.contains_key(c)
            })
            .collect();
        r.controls = self
            .controls
            .into_iter()
            .map(|(control, a)| ControlEvidence {
                control,
                events: a.events,
                failures: a.failures,
                first_seen: rfc3339(a.first),
                last_seen: rfc3339(a.last),
                keys: a.keys.into_iter().collect(),
                hosts: a.hosts.into_iter().collect(),
                examples: a.examples,
            })
            .collect();
        r.logins = self.logins;
        r.logins.by_user = self
            .login_users
            .into_iter()
            .map(|(user, (s, f))| UserLogins {
                user,
                succeeded: s,
                failed: f,
            })
            .collect();
        r.privileged = self.privileged;
        r.privileged.top_commands = top(self.commands, TOP);
        r.identity_changes = self.identity.done();
        r.audit_changes = self.audit.done();
        r.failed_access = self.failed.done();
        r.tenants = top(self.tenants, usize::MAX);
        r.hosts = top(self.hosts, usize::MAX);
        r.lost_records = self.lost_records;
        r.loss = self.loss;
        r.top_users = top(self.users, TOP);
        r.top_programs = top(self.programs, TOP);
        let gap_min = (self.opts.quiet_gap_s / 60).max(1);
        let mut silences = self.unclean;
        let mut hosts: Vec<_> = self.active.into_iter().collect();
        hosts.sort_by(|a, b| a.0.cmp(&b.0));
        for (host, mins) in hosts {
            let mut prev: Option<i64> = None;
            for m in mins {
                if let Some(p) = prev {
                    if m - p > gap_min {
                        silences.push(Silence {
                            host: host.clone(),
                            from: rfc3339((p + 1) * 60),
                            to: rfc3339(m * 60),
                            seconds: (m - p - 1) * 60,
                            reason: "no events: the collector was down or the host idle".into(),
                        });
                    }
                }
                prev = Some(m);
            }
        }
        r.silences = silences;
        r.timeline = timeline(&self.minutes);
        r
    }
}

/// Events per bucket: at most 96 buckets of a round size.
fn timeline(minutes: &BTreeMap<i64, (u64, u64)>) -> Timeline {
    let (Some((&first, _)), Some((&last, _))) =
        (minutes.first_key_value(), minutes.last_key_value())
    else {
        return Timeline::default();
    };
    // i128: forged times at the ends of i64 must not overflow; past a century
    // per bucket the size grows so that there are never more than 96 buckets.
    let span = i128::from(last) - i128::from(first) + 1;
    let sizes = [1, 5, 15, 60, 360, 1440, 10_080, 43_200, 525_600];
    let size = sizes
        .iter()
        .copied()
        .find(|&s| (span + i128::from(s) - 1) / i128::from(s) <= 96)
        .unwrap_or_else(|| i64::try_from(span / 95 + 1).unwrap_or(i64::MAX));
    let start = first.div_euclid(size).saturating_mul(size);
    let n = ((i128::from(last) - i128::from(start)) / i128::from(size) + 1) as usize;
    let (mut events, mut failures) = (vec![0; n], vec![0; n]);
    for (m, (e, f)) in minutes {
        let i = (((i128::from(*m) - i128::from(start)) / i128::from(size)) as usize).min(n - 1);
        events[i] += e;
        failures[i] += f;
    }
    Timeline {
        start: rfc3339(start.saturating_mul(60)),
        bucket_seconds: size.saturating_mul(60),
        events,
        failures,
    }
}

/// Reads the segments and builds the report.
pub fn build(files: &[PathBuf], opts: Options, title: &str) -> Result<Report, String> {
    let mut acc = Acc {
        opts,
        ..Default::default()
    };
    acc.summary.segments = files.len();
    for path in files {
        let mut stream = SegmentStream::open(path).map_err(|e| e.to_string())?;
        let mut last_in_segment: HashMap<String, i64> = HashMap::new();
        while let Some(rec) = stream.next() {
            let Ok(rec) = rec else {
                acc.summary.unreadable += 1;
                break;
            };
            let Ok(mut ev) = AuditEvent::decode(rec.bytes) else {
                acc.summary.unreadable += 1;
                continue;
            };
            let secs = ev.time.as_ref().map_or(0, |t| t.seconds);
            if ev.action == SEAL_ACTION && ev.in_category(Category::Audit) {
                if ev.data.get("recovered").is_some_and(|v| v == "true") {
                    let from = last_in_segment.get(&ev.node).copied().unwrap_or(secs);
                    acc.unclean.push(Silence {
                        host: ev.node.clone(),
                        from: rfc3339(from),
                        to: rfc3339(secs),
                        seconds: secs - from,
                        reason: "the collector stopped without closing its archive (crash or kill); events in this period may be missing".into(),
                    });
                }
                continue;
            }
            ev.chain = None;
            last_in_segment.insert(ev.node.clone(), secs);
            acc.add(&ev);
        }
        if let Some(e) = stream.io_error {
            return Err(format!("{}: {e}", path.display()));
        }
    }
    Ok(acc.finish(title.to_string()))
}
