//! An event as Elastic Common Schema fields: `event.*` with ECS's allowed
//! categories and types, `process.*`, `user.*`, `file.*`, `source.*`/
//! `destination.*`/`server.*`, `error.code`, and `auditd.*` for what ECS has
//! no field for (serial, keys, record type, syscall, session, the raw
//! `data`), as Auditbeat does. Input: an AuditEvent. Output: flat dotted
//! fields to an [`AttrSink`]: the log record attributes of an OTLP exporter with
//! `attributes: ecs`, or (with [`Context::Document`]) a whole ECS document for
//! the `jsonl` exporter's `format: ecs`.
use crate::otlp::AttrSink;
use audex_proto::v1::{AuditEvent, File};
use audex_proto::{Action, Category};

/// The ECS version the documents follow (every field they use is checked
/// against ECS's own field list by crates/audex/tests/schemas.rs).
pub const ECS_VERSION: &str = "9.0.0";

/// What the fields are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Log record attributes: host, container and pod travel in the OTLP
    /// resource (the Elasticsearch exporter's ECS mode renames those).
    Record,
    /// A document of its own: host, container and orchestrator fields too.
    Document,
}

/// ECS `event.category` and `event.type` of an audex action (the pairs are
/// among ECS's expected ones); by the event's category for actions not named.
pub fn category_and_type(
    category: &str,
    action: &str,
) -> (&'static [&'static str], &'static [&'static str]) {
    use Action as A;
    match Action::parse(action).unwrap_or(A::Other) {
        A::Opened => (&["file"], &["access"]),
        A::Created | A::Linked => (&["file"], &["creation"]),
        A::Deleted => (&["file"], &["deletion"]),
        A::Renamed
        | A::ChangedMode
        | A::ChangedOwner
        | A::ChangedAttributes
        | A::ChangedTimestamps
        | A::Truncated => (&["file"], &["change"]),
        A::Mounted
        | A::Unmounted
        | A::ChangedHostname
        | A::ChangedTime
        | A::ChangedConfig
        | A::ChangedRunlevel => (&["host"], &["change"]),
        A::Booted | A::StartedService => (&["host"], &["start"]),
        A::Rebooted | A::ShutDown | A::StoppedService => (&["host"], &["end"]),
        A::Executed | A::RanCommand => (&["process"], &["start"]),
        A::SentSignal | A::Traced | A::ChangedIdentity => (&["process"], &["change"]),
        A::Connected | A::Accepted => (&["network"], &["connection", "start"]),
        A::Bound | A::Listened => (&["network"], &["start"]),
        A::ChangedFirewall => (&["configuration"], &["change"]),
        A::LoggedIn => (&["authentication", "session"], &["start"]),
        A::LoggedOut => (&["authentication", "session"], &["end"]),
        A::StartedSession => (&["session"], &["start"]),
        A::EndedSession => (&["session"], &["end"]),
        A::Authenticated
        | A::Authorized
        | A::Failed
        | A::AcquiredCredentials
        | A::DisposedCredentials
        | A::RefreshedCredentials
        | A::ChangedLoginId
        | A::UsedCrypto => (&["authentication"], &["info"]),
        A::ChangedPassword
        | A::ChangedUser
        | A::LockedAccount
        | A::UnlockedAccount
        | A::ChangedRole => (&["iam"], &["user", "change"]),
        A::ChangedGroupPassword | A::ChangedGroup => (&["iam"], &["group", "change"]),
        A::AddedUser => (&["iam"], &["user", "creation"]),
        A::DeletedUser => (&["iam"], &["user", "deletion"]),
        A::AddedGroup => (&["iam"], &["group", "creation"]),
        A::DeletedGroup => (&["iam"], &["group", "deletion"]),
        A::ChangedAuditConfig | A::ChangedAuditRules | A::RulesRestored => {
            (&["configuration"], &["change"])
        }
        A::LoadedModule => (&["driver"], &["start"]),
        A::UnloadedModule => (&["driver"], &["end"]),
        A::UpdatedSoftware => (&["package"], &["change"]),
        A::AccessDenied => (&["intrusion_detection"], &["denied"]),
        A::AccessGranted => (&["intrusion_detection"], &["allowed"]),
        _ => match Category::parse(category).unwrap_or(Category::Other) {
            Category::File => (&["file"], &["info"]),
            Category::Process => (&["process"], &["info"]),
            Category::Network => (&["network"], &["info"]),
            Category::Authentication => (&["authentication"], &["info"]),
            Category::Account => (&["iam"], &["info"]),
            Category::Audit => (&["configuration"], &["info"]),
            Category::Mac | Category::Anomaly => (&["intrusion_detection"], &["info"]),
            _ => (&["host"], &["info"]),
        },
    }
}

/// The last component of a path (`/usr/bin/dash` → `dash`).
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A file mode's permission bits (and setuid, setgid, sticky) as four octal
/// digits, without the file type: `0100644` → `0644` (ECS and semantic
/// conventions); None for a mode that is not octal. On the per-event export
/// path: no allocation.
pub fn permissions(mode: &str) -> Option<Permissions> {
    let m = u32::from_str_radix(mode, 8).ok()?;
    let digit = |shift: u32| b'0' + ((m >> shift) & 7) as u8;
    Some(Permissions([digit(9), digit(6), digit(3), digit(0)]))
}

/// Four octal digits (see [`permissions`]).
pub struct Permissions([u8; 4]);

impl Permissions {
    pub fn as_str(&self) -> &str {
        // Octal digits only: always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// ECS `file.type` of a mode's type bits.
fn file_type(mode: &str) -> Option<&'static str> {
    let m = u32::from_str_radix(mode, 8).ok()?;
    match m & 0o170000 {
        0o100000 => Some("file"),
        0o040000 => Some("dir"),
        0o120000 => Some("symlink"),
        _ => None,
    }
}

/// The file an event is about: the first that is not the parent directory.
pub fn subject_file(ev: &AuditEvent) -> Option<&File> {
    ev.files
        .iter()
        .find(|f| f.nametype != "PARENT")
        .or(ev.files.first())
}

fn id(v: u32) -> String {
    itoa::Buffer::new().format(v).to_string()
}

/// Visits `ev` as ECS fields (see the module doc).
pub fn visit_ecs(ev: &AuditEvent, context: Context, sink: &mut impl AttrSink) {
    let (categories, types) = category_and_type(&ev.category, &ev.action);
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    sink.str("ecs.version", ECS_VERSION);
    sink.str("event.kind", "event");
    sink.strs("event.category", &strs(categories));
    sink.strs("event.type", &strs(types));
    sink.str("event.action", &ev.action);
    if !ev.outcome.is_empty() {
        sink.str("event.outcome", &ev.outcome);
    }
    sink.str("event.id", &ev.id);
    sink.str("event.module", "audex");
    if ev.serial != 0 {
        sink.int("event.sequence", ev.serial as i64);
    }
    if !ev.keys.is_empty() {
        sink.strs("tags", &ev.keys);
    }
    if context == Context::Document {
        if !ev.node.is_empty() {
            sink.str("host.name", &ev.node);
        }
        if let Some(c) = &ev.container {
            sink.str("container.id", &c.id);
            if !c.runtime.is_empty() {
                sink.str("container.runtime", &c.runtime);
            }
        }
        if let Some(k) = &ev.k8s {
            sink.str("orchestrator.type", "kubernetes");
            for (key, v) in [
                ("orchestrator.namespace", &k.namespace),
                ("orchestrator.resource.name", &k.pod),
                ("orchestrator.resource.id", &k.pod_uid),
                ("container.name", &k.container),
                ("auditd.kubernetes.node", &k.node),
            ] {
                if !v.is_empty() {
                    sink.str(key, v);
                }
            }
            if !k.pod.is_empty() {
                sink.str("orchestrator.resource.type", "pod");
            }
            if !k.labels.is_empty() {
                let labels: Vec<String> =
                    k.labels.iter().map(|(a, b)| format!("{a}={b}")).collect();
                sink.strs("orchestrator.resource.label", &labels);
            }
        }
    }
    process(ev, sink);
    actor(ev, sink);
    files(ev, sink);
    network(ev, sink);
    audit(ev, sink);
}

fn process(ev: &AuditEvent, sink: &mut impl AttrSink) {
    let Some(p) = &ev.process else { return };
    if let Some(pid) = p.pid {
        sink.int("process.pid", i64::from(pid));
    }
    if let Some(ppid) = p.ppid {
        sink.int("process.parent.pid", i64::from(ppid));
    }
    if !p.exe.is_empty() {
        sink.str("process.executable", &p.exe);
        sink.str("process.name", base_name(&p.exe));
    } else if !p.comm.is_empty() {
        sink.str("process.name", &p.comm);
    }
    if !p.comm.is_empty() {
        sink.str("auditd.comm", &p.comm);
    }
    if ev.is(Action::RanCommand) {
        // sudo's USER_CMD: the command sudo runs, not sudo's own command line.
        if !p.command_line.is_empty() {
            sink.str("auditd.command", &p.command_line);
        }
    } else {
        if !p.args.is_empty() {
            sink.strs("process.args", &p.args);
            // The count before `max_args` cut some (one marker stands for them).
            let count = match p.args_cut {
                0 => p.args.len(),
                cut => p.args.len() - 1 + cut as usize,
            };
            sink.int("process.args_count", count as i64);
        }
        if !p.command_line.is_empty() {
            sink.str("process.command_line", &p.command_line);
        }
    }
    if !p.title.is_empty() {
        sink.str("process.title", &p.title);
    }
    if !p.cwd.is_empty() {
        sink.str("process.working_directory", &p.cwd);
    }
    if let Some(pp) = &p.parent {
        if !pp.exe.is_empty() {
            sink.str("process.parent.executable", &pp.exe);
            sink.str("process.parent.name", base_name(&pp.exe));
        } else if !pp.comm.is_empty() {
            sink.str("process.parent.name", &pp.comm);
        }
        if !pp.comm.is_empty() {
            sink.str("auditd.parent.comm", &pp.comm);
        }
        if !pp.args.is_empty() {
            sink.strs("process.parent.args", &pp.args);
            sink.int("process.parent.args_count", pp.args.len() as i64);
        }
    }
    if !p.labels.is_empty() {
        sink.strs("auditd.process.labels", &p.labels);
    }
    if p.args_cut > 0 {
        sink.int("auditd.process.args_cut", i64::from(p.args_cut));
        sink.int("auditd.process.args_bytes_cut", p.args_bytes_cut as i64);
    }
    if let Some(peer) = &p.peer {
        if !peer.address.is_empty() {
            sink.str("client.address", &peer.address);
            sink.str("client.ip", &peer.address);
        }
        if let Some(port) = peer.port {
            sink.int("client.port", i64::from(port));
        }
    }
}

fn actor(ev: &AuditEvent, sink: &mut impl AttrSink) {
    let Some(a) = &ev.actor else { return };
    let mut pair = |id_key: &str, name_key: &str, v: Option<u32>, name: &str| {
        if let Some(v) = v {
            sink.str(id_key, &id(v));
        }
        if !name.is_empty() {
            sink.str(name_key, name);
        }
    };
    // The person: the login user when set, else the real user (as the
    // semantic-conventions mapping does).
    let (uid, name) = if a.auid.is_some() {
        (a.auid, &a.auid_name)
    } else {
        (a.uid, &a.uid_name)
    };
    pair("user.id", "user.name", uid, name);
    pair(
        "user.effective.id",
        "user.effective.name",
        a.euid,
        &a.euid_name,
    );
    pair("process.user.id", "process.user.name", a.euid, &a.euid_name);
    pair(
        "process.real_user.id",
        "process.real_user.name",
        a.uid,
        &a.uid_name,
    );
    pair(
        "process.saved_user.id",
        "process.saved_user.name",
        a.suid,
        &a.suid_name,
    );
    pair(
        "process.group.id",
        "process.group.name",
        a.egid,
        &a.egid_name,
    );
    pair(
        "process.real_group.id",
        "process.real_group.name",
        a.gid,
        &a.gid_name,
    );
    pair(
        "auditd.user.audit.id",
        "auditd.user.audit.name",
        a.auid,
        &a.auid_name,
    );
    pair(
        "auditd.user.filesystem.id",
        "auditd.user.filesystem.name",
        a.fsuid,
        &a.fsuid_name,
    );
    if let Some(s) = a.session {
        sink.int("auditd.session", i64::from(s));
    }
    if !a.tty.is_empty() {
        sink.str("auditd.tty", &a.tty);
    }
    let mut related: Vec<String> = Vec::new();
    for n in [&a.auid_name, &a.uid_name, &a.euid_name] {
        if !n.is_empty() && !related.contains(n) {
            related.push(n.clone());
        }
    }
    if !related.is_empty() {
        sink.strs("related.user", &related);
    }
}

fn files(ev: &AuditEvent, sink: &mut impl AttrSink) {
    if let Some(f) = subject_file(ev) {
        if !f.path.is_empty() {
            sink.str("file.path", &f.path);
            sink.str("file.name", base_name(&f.path));
            if let Some((dir, _)) = f.path.rsplit_once('/') {
                sink.str("file.directory", if dir.is_empty() { "/" } else { dir });
            }
        }
        if let Some(ino) = f.inode {
            sink.str("file.inode", itoa::Buffer::new().format(ino));
        }
        if let Some(m) = permissions(&f.mode) {
            sink.str("file.mode", m.as_str());
        }
        if let Some(t) = file_type(&f.mode) {
            sink.str("file.type", t);
        }
        if !f.dev.is_empty() {
            sink.str("file.device", &f.dev);
        }
        if let Some(o) = f.ouid {
            sink.str("file.uid", &id(o));
        }
        if !f.ouid_name.is_empty() {
            sink.str("file.owner", &f.ouid_name);
        }
        if let Some(g) = f.ogid {
            sink.str("file.gid", &id(g));
        }
        if !f.ogid_name.is_empty() {
            sink.str("file.group", &f.ogid_name);
        }
    }
    if ev.files.len() > 1 {
        let paths: Vec<String> = ev
            .files
            .iter()
            .filter(|f| !f.path.is_empty())
            .map(|f| f.path.clone())
            .collect();
        sink.strs("auditd.paths", &paths);
    }
}

/// Whether a socket address is an IP address (ECS `*.ip` holds only those).
fn is_ip(a: &str) -> bool {
    a.parse::<std::net::IpAddr>().is_ok()
}

fn network(ev: &AuditEvent, sink: &mut impl AttrSink) {
    let Some(n) = &ev.network else { return };
    // The address of a bind is the local end; of an accept the remote client;
    // of everything else (connect, sendto) the remote end.
    let side = match ev.action.as_str() {
        "bound" | "listened" => "server",
        "accepted" => "source",
        _ => "destination",
    };
    if !n.address.is_empty() {
        let key = |what: &str| -> &'static str {
            match (side, what) {
                ("server", "address") => "server.address",
                ("server", _) => "server.ip",
                ("source", "address") => "source.address",
                ("source", _) => "source.ip",
                (_, "address") => "destination.address",
                _ => "destination.ip",
            }
        };
        sink.str(key("address"), &n.address);
        if is_ip(&n.address) {
            sink.str(key("ip"), &n.address);
        }
    }
    // Only IP sockets have ports (a netlink address's "port" is a pid).
    let ip = matches!(n.family.as_str(), "inet" | "inet6");
    if let Some(p) = n.port.filter(|_| ip) {
        let key = match side {
            "server" => "server.port",
            "source" => "source.port",
            _ => "destination.port",
        };
        sink.int(key, i64::from(p));
    }
    match n.family.as_str() {
        "inet" => sink.str("network.type", "ipv4"),
        "inet6" => sink.str("network.type", "ipv6"),
        _ => {}
    }
    if !n.family.is_empty() {
        sink.str("auditd.socket.family", &n.family);
    }
    if !n.path.is_empty() {
        sink.str("auditd.socket.path", &n.path);
    }
}

fn audit(ev: &AuditEvent, sink: &mut impl AttrSink) {
    // audex's own category (ECS's is in event.category).
    if !ev.category.is_empty() {
        sink.str("auditd.category", &ev.category);
    }
    if ev.serial != 0 {
        sink.int("auditd.serial", ev.serial as i64);
    }
    if !ev.record_type.is_empty() {
        sink.str("auditd.record_type", &ev.record_type);
    }
    if !ev.keys.is_empty() {
        sink.strs("auditd.keys", &ev.keys);
    }
    if !ev.access.is_empty() {
        sink.str("auditd.access", &ev.access);
    }
    if !ev.tenant.is_empty() {
        sink.str("auditd.tenant", &ev.tenant);
    }
    if !ev.controls.is_empty() {
        sink.strs("auditd.controls", &ev.controls);
    }
    if !ev.redacted.is_empty() {
        sink.strs("auditd.redacted", &ev.redacted);
    }
    if let Some(sc) = &ev.syscall {
        if !sc.name.is_empty() {
            sink.str("auditd.syscall.name", &sc.name);
        }
        if let Some(nr) = sc.number {
            sink.int("auditd.syscall.number", i64::from(nr));
        }
        if !sc.arch.is_empty() {
            sink.str("auditd.syscall.arch", &sc.arch);
        }
        if let Some(exit) = sc.exit {
            sink.int("auditd.syscall.exit", exit);
        }
        if !sc.errno.is_empty() {
            sink.str("error.code", &sc.errno);
        }
    }
    if let Some(l) = &ev.lost {
        sink.int("auditd.lost.count", l.count as i64);
        sink.int("auditd.lost.first_serial", l.first_serial as i64);
        sink.int("auditd.lost.last_serial", l.last_serial as i64);
        if !l.source.is_empty() {
            sink.str("auditd.lost.source", &l.source);
        }
    }
    crate::otlp::mapping::summaries(ev, sink, &ECS_SUMMARY);
    if ev.truncated {
        sink.str("auditd.truncated", "true");
    }
    for (k, v) in &ev.data {
        let key = format!("auditd.data.{}", k.replace('.', "_"));
        sink.str(&key, v);
    }
}

/// A marker's or a repeat's span is the ECS event's start and end.
const ECS_SUMMARY: crate::otlp::mapping::SummaryKeys = crate::otlp::mapping::SummaryKeys {
    suppressed: [
        "auditd.suppressed.count",
        "auditd.suppressed.reason",
        "event.start",
        "event.end",
    ],
    repeat: ["auditd.repeat.count", "event.start", "event.end"],
};

#[cfg(test)]
mod tests {
    use super::permissions;

    #[test]
    fn permission_bits_without_the_file_type() {
        let p = |m: &str| permissions(m).map(|p| p.as_str().to_string());
        assert_eq!(p("0100644").as_deref(), Some("0644"));
        assert_eq!(p("0104755").as_deref(), Some("4755"));
        assert_eq!(p("040700").as_deref(), Some("0700"));
        assert_eq!(p("rw-r--r--"), None);
    }
}
