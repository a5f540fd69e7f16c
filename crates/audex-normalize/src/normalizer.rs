//! Assembled records → AuditEvent.
use crate::actions::{access_of_flags, record_action, syscall_action, OpenFlagsArg, O_CREAT};
use crate::paths::resolve;
use crate::tables::{errno_name, Arch};
use crate::userdb::UserDb;
use crate::view::{num, num32, text, PathView, SubjectView};
use crate::{execve, sockaddr};
use audex_correlate::{Assembled, LostRange, Output};
use audex_parse::{AuditTime, Origin, Record, RecordType, ValueKind};
use audex_proto::v1::{Actor, AuditEvent, File, Lost, Process, RawRecord, Syscall};
use audex_proto::{Action, Category, Outcome, Timestamp};
use std::sync::atomic::{AtomicU64, Ordering};

/// Normalizer options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Node name for records without a `node=` prefix (the host name when live).
    pub default_node: Option<String>,
    /// Keep the raw records in `records[]`.
    pub include_records: bool,
}

/// Turns correlator output into events.
pub struct Normalizer<U> {
    users: U,
    opts: Options,
    /// Values out of range or not numbers where ids belong (left out of the
    /// events, named in `data.invalid_values`).
    invalid: AtomicU64,
}

impl<U: UserDb> Normalizer<U> {
    pub fn new(users: U, opts: Options) -> Self {
        Normalizer {
            users,
            opts,
            invalid: AtomicU64::new(0),
        }
    }

    /// Ids left out so far because they were not 32-bit numbers.
    pub fn invalid_values(&self) -> u64 {
        self.invalid.load(Ordering::Relaxed)
    }

    /// The event for one correlator output.
    pub fn normalize(&self, out: &Output) -> AuditEvent {
        match out {
            Output::Event(a) => self.event(a),
            Output::Lost(l) => self.lost(l),
        }
    }

    fn node_of(&self, node: Option<&str>) -> String {
        node.map(str::to_string)
            .or_else(|| self.opts.default_node.clone())
            .unwrap_or_default()
    }

    fn base(&self, node: Option<&str>, time: AuditTime, serial: u64) -> AuditEvent {
        let node = self.node_of(node);
        let mut id = String::with_capacity(node.len() + 32);
        if !node.is_empty() {
            id.push_str(&node);
            id.push(':');
        }
        id.push_str(itoa::Buffer::new().format(time.secs));
        id.push('.');
        let ms = time.nanos / 1_000_000;
        id.push((b'0' + (ms / 100) as u8) as char);
        id.push((b'0' + (ms / 10 % 10) as u8) as char);
        id.push((b'0' + (ms % 10) as u8) as char);
        id.push(':');
        id.push_str(itoa::Buffer::new().format(serial));
        AuditEvent {
            id,
            time: Some(Timestamp {
                seconds: time.secs as i64,
                nanos: time.nanos as i32,
            }),
            serial,
            node,
            ..Default::default()
        }
    }

    fn lost(&self, l: &LostRange) -> AuditEvent {
        let base = self.base(l.node.as_deref(), l.time, l.first_serial);
        audex_proto::records_lost(
            base.id + "-lost",
            base.node,
            base.time.unwrap_or_default(),
            Lost {
                count: l.count(),
                first_serial: l.first_serial,
                last_serial: l.last_serial,
                source: "serial-gap".into(),
            },
        )
    }

    fn event(&self, a: &Assembled) -> AuditEvent {
        let mut ev = self.base(a.node.as_deref(), a.time, a.serial);
        ev.truncated = a.truncated();
        ev.record_count = a.records.len() as u32 + a.saw_eoe as u32 + a.dropped_records;
        let syscall = a.records.iter().find(|r| r.rtype == RecordType::SYSCALL);
        let primary = syscall.or(a.records.first());
        let Some(primary) = primary else {
            ev.set_kind(Category::Other, Action::Other);
            ev.set_outcome(Outcome::Unknown);
            return ev;
        };
        ev.record_type = primary
            .rtype
            .name()
            .map_or_else(|| primary.rtype.to_string(), str::to_string);

        // Borrowed from the record (unless hex-encoded): copied once, into the event.
        let cwd = a
            .records
            .iter()
            .find(|r| r.rtype == RecordType::CWD)
            .and_then(|r| r.text("cwd"));
        let view = SubjectView::of(primary);
        let mut bad = Vec::new();
        let mut names = DbNames::default();
        self.actor(primary, &view, &mut names, &mut ev, &mut bad);
        self.process(a, primary, &view, cwd.as_deref(), &mut ev, &mut bad);
        self.files(a, cwd.as_deref(), &mut names, &mut ev, &mut bad);
        if !bad.is_empty() {
            self.invalid.fetch_add(bad.len() as u64, Ordering::Relaxed);
            ev.data.insert("invalid_values".into(), bad.join(" "));
        }
        if let Some(s) = a.records.iter().find(|r| r.rtype == RecordType::SOCKADDR) {
            if let Some(b) = s.get("saddr").and_then(|v| audex_parse::decode_hex(v.raw)) {
                ev.network = sockaddr::decode(&b);
            }
        }
        ev.keys = keys(&view);

        if let Some(sc) = syscall {
            self.syscall_event(a, sc, &view, &mut ev);
        } else {
            self.record_event(primary, &mut ev);
        }
        // Secondary records that carry their own meaning (CONFIG_CHANGE, AVC, LOGIN, ...).
        for r in &a.records {
            if std::ptr::eq(r, primary) || is_plumbing(r.rtype) {
                continue;
            }
            let prefix = match r.rtype.name() {
                Some(n) => n.to_ascii_lowercase(),
                None => r.rtype.to_string().to_ascii_lowercase(),
            };
            add_data(r, Some(&prefix), &mut ev);
            if syscall.is_some() {
                self.refine_by_secondary(r, &mut ev);
            }
        }
        if self.opts.include_records {
            ev.records = a
                .records
                .iter()
                .map(|r| RawRecord {
                    r#type: r.rtype.to_string(),
                    text: String::from_utf8_lossy(r.body()).into_owned(),
                })
                .collect();
        }
        ev
    }

    fn syscall_event(&self, a: &Assembled, sc: &Record, v: &SubjectView<'_>, ev: &mut AuditEvent) {
        let arch = sc
            .get("arch")
            .and_then(|v| v.as_hex_u64())
            .map(|id| Arch::from_audit(id as u32));
        let nr = sc.u64("syscall").map(|n| n as u32);
        let mut s = Syscall::default();
        if let Some(arch) = arch {
            s.arch = arch.name();
        }
        s.number = nr;
        s.name = match (arch, nr) {
            (Some(arch), Some(nr)) => arch.syscall_name(nr).map(str::to_string),
            _ => None,
        }
        .or_else(|| {
            sc.get_enriched("SYSCALL")
                .and_then(|v| v.text())
                .map(|c| c.into_owned())
        })
        .unwrap_or_default();
        s.exit = v.exit.and_then(|v| v.as_i64());
        let success = v.success.map(|v| v.raw == b"yes");
        ev.set_outcome(match success {
            Some(true) => Outcome::Success,
            Some(false) => Outcome::Failure,
            None => Outcome::Unknown,
        });
        if success == Some(false) {
            if let Some(e) = s.exit.filter(|e| *e < 0) {
                s.errno = errno_name((-e) as u32)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("E{}", -e));
            }
        }
        let args = [v.a0, v.a1, v.a2, v.a3];
        for a in args.iter().flatten() {
            s.args.push(a.raw_str().into_owned());
        }

        let act = syscall_action(&s.name);
        let has_paths = !ev.files.is_empty();
        match act {
            Some(act) => {
                ev.set_kind(act.category, act.action);
                if act.action == Action::Opened {
                    let flags = match act.open_flags {
                        OpenFlagsArg::Arg(i) => args[i].and_then(|v| v.as_hex_u64()),
                        OpenFlagsArg::None => a
                            .records
                            .iter()
                            .find(|r| r.rtype.name() == Some("OPENAT2"))
                            .and_then(|r| r.get("oflag"))
                            .and_then(|v| v.as_hex_u64()),
                    };
                    let created = ev.files.iter().any(|f| f.nametype == "CREATE");
                    if created && flags.is_none_or(|f| f & O_CREAT != 0) {
                        ev.set_action(Action::Created);
                    }
                    if let Some(f) = flags {
                        ev.access = access_of_flags(f).into();
                    }
                }
            }
            None if has_paths => ev.set_kind(Category::File, Action::Other),
            None => ev.set_kind(Category::Process, Action::Other),
        }
        ev.syscall = Some(s);
    }

    /// A syscall event whose secondary record says more than the syscall does.
    fn refine_by_secondary(&self, r: &Record, ev: &mut AuditEvent) {
        match r.rtype.name() {
            Some("CONFIG_CHANGE") => {
                let op = r.text("op").unwrap_or_default();
                let action = if op.contains("rule") || r.get("list").is_some() {
                    Action::ChangedAuditRules
                } else {
                    Action::ChangedAuditConfig
                };
                ev.set_kind(Category::Audit, action);
            }
            Some("KERN_MODULE") => {
                ev.set_kind(Category::System, Action::LoadedModule);
            }
            Some("AVC") if r.text("seresult").as_deref() == Some("denied") => {
                ev.set_kind(Category::Mac, Action::AccessDenied);
            }
            Some("LOGIN") if ev.is(Action::Other) => {
                ev.set_kind(Category::Authentication, Action::ChangedLoginId);
            }
            _ => {}
        }
    }

    fn record_event(&self, r: &Record, ev: &mut AuditEvent) {
        let name = r.rtype.to_string();
        let (category, mut action) = record_action(&name, r.rtype.0);
        // Outcome from user-space `res=` or AVC result.
        let res = r.text("res");
        let outcome = match res.as_deref() {
            Some("success" | "1" | "yes") => Outcome::Success,
            Some("failed" | "0" | "no" | "failure") => Outcome::Failure,
            _ => match r.text("seresult").as_deref() {
                Some("denied") => Outcome::Failure,
                Some("granted") => Outcome::Success,
                _ => Outcome::Unknown,
            },
        };
        ev.set_outcome(outcome);
        if category == Category::Mac {
            let denied = r.text("seresult").as_deref() == Some("denied")
                || r.text("apparmor")
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("denied"))
                || name == "SELINUX_ERR";
            if denied {
                action = Action::AccessDenied;
            } else if r.text("seresult").as_deref() == Some("granted") {
                action = Action::AccessGranted;
            }
        }
        if name == "CONFIG_CHANGE" {
            let op = r.text("op").unwrap_or_default();
            if op.contains("rule") || r.get("list").is_some() {
                action = Action::ChangedAuditRules;
            }
            if outcome == Outcome::Unknown {
                ev.set_outcome(Outcome::Success);
            }
        }
        ev.set_kind(category, action);
        add_data(r, None, ev);
        if name == "USER_CMD" {
            if let Some(cmd) = r.text("cmd") {
                let p = ev.process.get_or_insert_with(Default::default);
                p.command_line = cmd.into_owned();
            }
        }
    }

    fn actor(
        &self,
        r: &Record,
        v: &SubjectView<'_>,
        names: &mut DbNames,
        ev: &mut AuditEvent,
        bad: &mut Vec<String>,
    ) {
        let mut a = Actor {
            auid: num32(&v.auid, "auid", bad),
            uid: num32(&v.uid, "uid", bad),
            euid: num32(&v.euid, "euid", bad),
            suid: num32(&v.suid, "suid", bad),
            fsuid: num32(&v.fsuid, "fsuid", bad),
            gid: num32(&v.gid, "gid", bad),
            egid: num32(&v.egid, "egid", bad),
            sgid: num32(&v.sgid, "sgid", bad),
            fsgid: num32(&v.fsgid, "fsgid", bad),
            session: num32(&v.ses, "ses", bad),
            tty: text(&v.tty).filter(|t| t != "(none)").unwrap_or_default(),
            ..Default::default()
        };
        if a == Actor::default() {
            return;
        }
        let ids = [
            (a.auid, false, "AUID"),
            (a.uid, false, "UID"),
            (a.euid, false, "EUID"),
            (a.suid, false, "SUID"),
            (a.fsuid, false, "FSUID"),
            (a.gid, true, "GID"),
            (a.egid, true, "EGID"),
            (a.sgid, true, "SGID"),
            (a.fsgid, true, "FSGID"),
        ];
        let [auid, uid, euid, suid, fsuid, gid, egid, sgid, fsgid] =
            ids.map(|(id, group, key)| self.name_of(r, key, id, group, names));
        a.auid_name = auid;
        a.uid_name = uid;
        a.euid_name = euid;
        a.suid_name = suid;
        a.fsuid_name = fsuid;
        a.gid_name = gid;
        a.egid_name = egid;
        a.sgid_name = sgid;
        a.fsgid_name = fsgid;
        ev.actor = Some(a);
    }

    /// ENRICHED name on the record, else the user database (through `names`).
    fn name_of(
        &self,
        r: &Record,
        enriched_key: &str,
        id: Option<u32>,
        group: bool,
        names: &mut DbNames,
    ) -> String {
        let Some(id) = id else { return String::new() };
        if r.has_enriched() {
            if let Some(n) = r.get_enriched(enriched_key).and_then(|v| v.text()) {
                if n != "unset" && !n.starts_with("unknown(") {
                    return n.into_owned();
                }
            }
        }
        names.get_or(id, group, || {
            if group {
                self.users.group_name(id)
            } else {
                self.users.user_name(id)
            }
            .unwrap_or_default()
        })
    }

    fn process(
        &self,
        a: &Assembled,
        primary: &Record,
        v: &SubjectView<'_>,
        cwd: Option<&str>,
        ev: &mut AuditEvent,
        bad: &mut Vec<String>,
    ) {
        let mut p = Process {
            pid: num32(&v.pid, "pid", bad),
            ppid: num32(&v.ppid, "ppid", bad),
            exe: text(&v.exe).unwrap_or_default(),
            comm: text(&v.comm).unwrap_or_default(),
            cwd: cwd.map(str::to_string).unwrap_or_default(),
            label: text(&v.subj).unwrap_or_default(),
            ..Default::default()
        };
        if primary.rtype.is_single_record() && p.cwd.is_empty() {
            p.cwd = text(&v.cwd).unwrap_or_default();
        }
        let mut execs = a
            .records
            .iter()
            .filter(|r| r.rtype == RecordType::EXECVE)
            .peekable();
        if execs.peek().is_some() {
            p.args = execve::argv(execs);
            p.command_line = p.args.join(" ");
        }
        if let Some(t) = a.records.iter().find(|r| r.rtype == RecordType::PROCTITLE) {
            if let Some(b) = t.get("proctitle").and_then(|v| v.bytes()) {
                // Decoded once (its own buffer when hex), NULs made spaces in
                // place, without a branch per byte (the compiler makes it SIMD;
                // the filter before was 0.5 % of replay's instructions on the
                // storm capture, cachegrind).
                let mut b = b.into_owned();
                for c in b.iter_mut() {
                    *c = if *c == 0 { b' ' } else { *c };
                }
                let mut s = audex_parse::utf8_owned(b);
                s.truncate(s.trim_end().len());
                p.title = s;
            }
        }
        if p != Process::default() {
            ev.process = Some(p);
        }
    }

    fn files(
        &self,
        a: &Assembled,
        cwd: Option<&str>,
        names: &mut DbNames,
        ev: &mut AuditEvent,
        bad: &mut Vec<String>,
    ) {
        let mut paths: Vec<(PathView<'_>, &Record)> = a
            .records
            .iter()
            .filter(|r| r.rtype == RecordType::PATH)
            .map(|r| (PathView::of(r), r))
            .collect();
        paths.sort_by_key(|(v, _)| num(&v.item).unwrap_or(u64::MAX));
        ev.files.reserve_exact(paths.len());
        for (v, r) in &paths {
            let name = text(&v.name).unwrap_or_default();
            let ouid = num32(&v.ouid, "ouid", bad);
            let ogid = num32(&v.ogid, "ogid", bad);
            let ouid_name = self.name_of(r, "OUID", ouid, false, names);
            let ogid_name = self.name_of(r, "OGID", ogid, true, names);
            ev.files.push(File {
                path: if name.is_empty() {
                    String::new()
                } else {
                    resolve(cwd, &name)
                },
                nametype: text(&v.nametype).unwrap_or_default(),
                inode: num(&v.inode),
                dev: text(&v.dev).unwrap_or_default(),
                mode: text(&v.mode).unwrap_or_default(),
                ouid,
                ogid,
                ouid_name,
                ogid_name,
                label: text(&v.obj).unwrap_or_default(),
                name,
            });
        }
    }
}

/// The names the user database gave for one event's ids, so that each (id,
/// user or group) is looked up once however many fields name it: uid, euid,
/// suid and fsuid are usually one id, and file owners usually the actor's
/// (each lookup takes a lock, a hash and a copy; the PATH owners' alone were
/// 0.8 % of `replay`'s instructions on the auditd storm capture, cachegrind).
/// ENRICHED names never go in: they are the log's, not this host's. Held in
/// place, not in a `Vec` (an allocation an event); past [`DB_NAMES`] ids an
/// event looks the rest up each time.
#[derive(Default)]
struct DbNames([Option<(u32, bool, String)>; DB_NAMES]);

/// Distinct ids an event's [`DbNames`] holds: an actor's user and group, and
/// two other owners.
const DB_NAMES: usize = 4;

impl DbNames {
    fn get_or(&mut self, id: u32, group: bool, lookup: impl FnOnce() -> String) -> String {
        for slot in &mut self.0 {
            match slot {
                Some((i, g, n)) if *i == id && *g == group => return n.clone(),
                Some(_) => {}
                None => {
                    let n = lookup();
                    *slot = Some((id, group, n.clone()));
                    return n;
                }
            }
        }
        lookup()
    }
}

/// Records whose content goes to dedicated fields.
fn is_plumbing(t: RecordType) -> bool {
    matches!(
        t,
        RecordType::SYSCALL
            | RecordType::PATH
            | RecordType::SOCKADDR
            | RecordType::CWD
            | RecordType::EXECVE
            | RecordType::EOE
            | RecordType::PROCTITLE
    )
}

/// Fields with a dedicated place in the event are not repeated in `data`.
fn is_mapped(key: &[u8]) -> bool {
    matches!(
        key,
        b"pid"
            | b"ppid"
            | b"uid"
            | b"auid"
            | b"euid"
            | b"suid"
            | b"fsuid"
            | b"gid"
            | b"egid"
            | b"sgid"
            | b"fsgid"
            | b"ses"
            | b"tty"
            | b"exe"
            | b"comm"
            | b"subj"
            | b"key"
            | b"msg"
            | b"res"
            | b"cmd"
    )
}

fn add_data(r: &Record, prefix: Option<&str>, ev: &mut AuditEvent) {
    for (key, val, origin) in r.fields() {
        if origin == Origin::Enriched || val.kind == ValueKind::Nested || is_mapped(key) {
            continue;
        }
        let Some(text) = val.text() else { continue };
        let key = audex_parse::utf8(key);
        // Built by hand: `format!` here was 3% of `replay`'s instructions on the
        // auditd storm capture (callgrind; a BPRM_FCAPS record per exec).
        let key = match prefix {
            Some(p) => {
                let mut k = String::with_capacity(p.len() + 1 + key.len());
                k.push_str(p);
                k.push('.');
                k.push_str(&key);
                k
            }
            None => key.into_owned(),
        };
        ev.data.entry(key).or_insert_with(|| text.into_owned());
    }
}

/// Rule keys, split on the kernel's 0x01 separator.
fn keys(v: &SubjectView<'_>) -> Vec<String> {
    let Some(b) = v.key.and_then(|v| v.bytes()) else {
        return Vec::new();
    };
    b.split(|&c| c == 0x01)
        .filter(|k| !k.is_empty())
        .map(|k| audex_parse::utf8(k).into_owned())
        .collect()
}
