//! AuditEvent → OTLP LogRecord / ResourceLogs / ExportLogsServiceRequest.
use super::body::describe;
use crate::ecs::{base_name, permissions, subject_file};
use audex_proto::v1::AuditEvent;
use audex_proto::Action;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use std::collections::BTreeMap;

/// The node's resource attributes.
#[derive(Debug, Clone, Default)]
pub struct Resource {
    pub host_name: String,
    pub host_id: String,
    pub k8s_node_name: String,
    pub service_version: String,
    /// More attributes, e.g. a tenant's `data_stream.namespace` (Elastic) or
    /// `com.splunk.index` (Splunk).
    pub extra: Vec<(String, String)>,
    /// Attributes of the instrumentation scope (ECS mode sets
    /// `elastic.mapping.mode: ecs`, which the Elasticsearch exporter reads).
    pub scope: Vec<(String, String)>,
}

/// What the LogRecord body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The one-line human summary.
    Line,
    /// The whole event as a map (Elastic `bodymap`).
    Map,
}

/// How log record attributes are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attributes {
    /// OpenTelemetry semantic conventions, `audit.*` for the rest (the default).
    #[default]
    Semconv,
    /// Elastic Common Schema, `auditd.*` for the rest (see [`crate::ecs`]).
    Ecs,
}

/// The shape of a log record: its body and how its attributes are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub body: Body,
    pub attributes: Attributes,
}

impl From<Body> for Shape {
    fn from(body: Body) -> Shape {
        Shape {
            body,
            attributes: Attributes::Semconv,
        }
    }
}

/// The attributes of a log record in the chosen naming.
pub fn visit_record(ev: &AuditEvent, attributes: Attributes, sink: &mut impl AttrSink) {
    match attributes {
        Attributes::Semconv => visit_attributes(ev, sink),
        Attributes::Ecs => crate::ecs::visit_ecs(ev, crate::ecs::Context::Record, sink),
    }
}

/// Nanoseconds since the epoch, now.
pub fn now_unix_nano() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn s(v: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(v.into())),
    })
}
fn i(v: i64) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::IntValue(v)),
    })
}
fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value,
        ..Default::default()
    }
}
fn strings(v: &[String]) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::ArrayValue(ArrayValue {
            values: v.iter().map(|x| s(x.clone()).unwrap()).collect(),
        })),
    })
}

/// Receives the attributes of a log record, in order.
pub trait AttrSink {
    fn str(&mut self, key: &str, v: &str);
    fn int(&mut self, key: &'static str, v: i64);
    fn strs(&mut self, key: &'static str, v: &[String]);
}

/// The attributes of an event: semantic conventions where one exists, `audit.*`
/// for the rest. One list for the struct mapping and the byte encoder.
pub fn visit_attributes(ev: &AuditEvent, sink: &mut impl AttrSink) {
    sink.str("audit.event_id", &ev.id);
    sink.int("audit.serial", ev.serial as i64);
    sink.str("audit.category", &ev.category);
    sink.str("audit.action", &ev.action);
    sink.str("audit.outcome", &ev.outcome);
    if !ev.record_type.is_empty() {
        sink.str("audit.record_type", &ev.record_type);
    }
    if !ev.access.is_empty() {
        sink.str("audit.access", &ev.access);
    }
    if !ev.keys.is_empty() {
        sink.strs("audit.keys", &ev.keys);
    }
    if !ev.tenant.is_empty() {
        sink.str("audit.tenant", &ev.tenant);
    }
    if !ev.controls.is_empty() {
        sink.strs("audit.controls", &ev.controls);
    }
    if !ev.redacted.is_empty() {
        sink.strs("audit.redacted", &ev.redacted);
    }
    if let Some(p) = &ev.process {
        if let Some(pid) = p.pid {
            sink.int("process.pid", pid as i64);
        }
        if let Some(ppid) = p.ppid {
            sink.int("process.parent_pid", ppid as i64);
        }
        // Semantic conventions: the executable's base name (the kernel's
        // `comm` may differ: `sh` for /usr/bin/dash); `comm` under audit.*.
        if !p.exe.is_empty() {
            sink.str("process.executable.path", &p.exe);
            sink.str("process.executable.name", base_name(&p.exe));
        } else if !p.comm.is_empty() {
            sink.str("process.executable.name", &p.comm);
        }
        if !p.comm.is_empty() {
            sink.str("audit.comm", &p.comm);
        }
        if ev.is(Action::RanCommand) {
            // sudo's USER_CMD: the command sudo runs, not sudo's own command line.
            if !p.command_line.is_empty() {
                sink.str("audit.command", &p.command_line);
            }
        } else {
            if !p.args.is_empty() {
                sink.strs("process.command_args", &p.args);
            }
            // Semantic conventions: command_args or command_line, not both (argv can be large).
            if p.args.is_empty() && !p.command_line.is_empty() {
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
                sink.str("audit.parent.executable.path", &pp.exe);
                sink.str("audit.parent.executable.name", base_name(&pp.exe));
            } else if !pp.comm.is_empty() {
                sink.str("audit.parent.executable.name", &pp.comm);
            }
            if !pp.comm.is_empty() {
                sink.str("audit.parent.comm", &pp.comm);
            }
            if !pp.args.is_empty() {
                sink.strs("audit.parent.command_args", &pp.args);
            }
        }
        if !p.labels.is_empty() {
            sink.strs("audit.process.labels", &p.labels);
        }
        if p.args_cut > 0 {
            sink.int("audit.process.args_cut", i64::from(p.args_cut));
            sink.int("audit.process.args_bytes_cut", p.args_bytes_cut as i64);
        }
        // The client a server process (smbd, sshd) serves.
        if let Some(peer) = &p.peer {
            if !peer.address.is_empty() {
                sink.str("client.address", &peer.address);
            }
            if let Some(port) = peer.port {
                sink.int("client.port", i64::from(port));
            }
        }
    }
    if let Some(ac) = &ev.actor {
        if let Some(euid) = ac.euid {
            sink.int("process.user.id", euid as i64);
        }
        if !ac.euid_name.is_empty() {
            sink.str("process.user.name", &ac.euid_name);
        }
        if let Some(uid) = ac.uid {
            sink.int("process.real_user.id", uid as i64);
        }
        if !ac.uid_name.is_empty() {
            sink.str("process.real_user.name", &ac.uid_name);
        }
        // The person: the login user when set, else the real user.
        let (uid, name) = if ac.auid.is_some() {
            (ac.auid, &ac.auid_name)
        } else {
            (ac.uid, &ac.uid_name)
        };
        if let Some(uid) = uid {
            sink.str("user.id", itoa::Buffer::new().format(uid));
        }
        if !name.is_empty() {
            sink.str("user.name", name);
        }
        if let Some(auid) = ac.auid {
            sink.int("audit.auid", auid as i64);
        }
        if let Some(ses) = ac.session {
            sink.int("audit.session", ses as i64);
        }
        if let Some(fsuid) = ac.fsuid {
            sink.int("audit.fsuid", fsuid as i64);
        }
        if !ac.tty.is_empty() {
            sink.str("audit.tty", &ac.tty);
        }
    }
    let errno = ev.syscall.as_ref().map_or("", |s| s.errno.as_str());
    if let Some(sc) = &ev.syscall {
        if !sc.name.is_empty() {
            sink.str("audit.syscall", &sc.name);
        }
        if let Some(exit) = sc.exit {
            sink.int("audit.exit", exit);
        }
    }
    // Every failure carries error.type: the errno, else semconv's fallback.
    if !errno.is_empty() {
        sink.str("error.type", errno);
    } else if ev.failed() {
        sink.str("error.type", "_OTHER");
    }
    if let Some(f) = subject_file(ev) {
        if !f.path.is_empty() {
            sink.str("file.path", &f.path);
        }
        if let Some(ino) = f.inode {
            sink.str("file.inode", itoa::Buffer::new().format(ino));
        }
        // The permission bits, without the file type (`0100644` → `0644`).
        if let Some(m) = permissions(&f.mode) {
            sink.str("file.mode", m.as_str());
        }
        if let Some(o) = f.ouid {
            sink.str("file.owner.id", itoa::Buffer::new().format(o));
        }
        if !f.ouid_name.is_empty() {
            sink.str("file.owner.name", &f.ouid_name);
        }
    }
    if ev.files.len() > 1 {
        let paths: Vec<String> = ev
            .files
            .iter()
            .filter(|f| !f.path.is_empty())
            .map(|f| f.path.clone())
            .collect();
        sink.strs("audit.file_paths", &paths);
    }
    if let Some(n) = &ev.network {
        // A bind's address is the local end; the rest name the peer.
        let local = matches!(ev.action.as_str(), "bound" | "listened");
        if !n.address.is_empty() {
            let key = if local {
                "network.local.address"
            } else {
                "network.peer.address"
            };
            sink.str(key, &n.address);
        }
        // Only IP sockets have ports (a netlink address's "port" is a pid).
        let ip = matches!(n.family.as_str(), "inet" | "inet6");
        if let Some(p) = n.port.filter(|_| ip) {
            let key = if local {
                "network.local.port"
            } else {
                "network.peer.port"
            };
            sink.int(key, p as i64);
        }
        if !n.family.is_empty() {
            sink.str("audit.socket.family", &n.family);
        }
        if !n.path.is_empty() {
            sink.str("audit.socket.path", &n.path);
        }
    }
    if let Some(l) = &ev.lost {
        sink.int("audit.lost.count", l.count as i64);
        sink.int("audit.lost.first_serial", l.first_serial as i64);
        sink.int("audit.lost.last_serial", l.last_serial as i64);
    }
    summaries(ev, sink, &SEMCONV_SUMMARY);
}

/// Where a rate limit's marker and a folded repeat put their counts, reason
/// and span (times in RFC 3339).
pub(crate) struct SummaryKeys {
    pub suppressed: [&'static str; 4],
    pub repeat: [&'static str; 3],
}

const SEMCONV_SUMMARY: SummaryKeys = SummaryKeys {
    suppressed: [
        "audit.suppressed.count",
        "audit.suppressed.reason",
        "audit.suppressed.first_time",
        "audit.suppressed.last_time",
    ],
    repeat: [
        "audit.repeat.count",
        "audit.repeat.first_time",
        "audit.repeat.last_time",
    ],
};

/// `suppressed` and `repeat` under `keys`; shared by the semconv and ECS
/// mappings.
pub(crate) fn summaries(ev: &AuditEvent, sink: &mut impl AttrSink, keys: &SummaryKeys) {
    fn time(sink: &mut impl AttrSink, key: &str, t: &Option<audex_proto::Timestamp>) {
        if let Some(v) = t.as_ref().and_then(audex_proto::json::rfc3339) {
            sink.str(key, &v);
        }
    }
    if let Some(x) = &ev.suppressed {
        let [count, reason, first, last] = keys.suppressed;
        time(sink, first, &x.first_time);
        time(sink, last, &x.last_time);
        sink.int(count, x.count as i64);
        sink.str(reason, &x.reason);
    }
    if let Some(r) = &ev.repeat {
        let [count, first, last] = keys.repeat;
        time(sink, first, &r.first_time);
        time(sink, last, &r.last_time);
        sink.int(count, r.count as i64);
    }
}

struct KvSink(Vec<KeyValue>);

impl AttrSink for KvSink {
    fn str(&mut self, key: &str, v: &str) {
        self.0.push(kv(key, s(v)));
    }
    fn int(&mut self, key: &'static str, v: i64) {
        self.0.push(kv(key, i(v)));
    }
    fn strs(&mut self, key: &'static str, v: &[String]) {
        self.0.push(kv(key, strings(v)));
    }
}

/// OTLP's `time_unix_nano` of an audit time: 0 ("unknown", as OTLP defines
/// it) for a time before 1970 or past what u64 nanoseconds hold (year 2554),
/// never a wrapped value. The event's own `time` (in the JSON body and
/// `audex.v1` exports) keeps the seconds.
pub fn unix_nanos(t: Option<&audex_proto::Timestamp>) -> u64 {
    t.and_then(|t| {
        u64::try_from(t.seconds)
            .ok()?
            .checked_mul(1_000_000_000)?
            .checked_add(u64::try_from(t.nanos).ok()?)
    })
    .unwrap_or(0)
}

/// The LogRecord of one event.
pub fn log_record(ev: &AuditEvent, observed_unix_nano: u64, shape: impl Into<Shape>) -> LogRecord {
    let Shape { body, attributes } = shape.into();
    let time = unix_nanos(ev.time.as_ref());
    let warn = ev.failed() || ev.is(Action::AccessDenied) || ev.is(Action::RecordsLost);
    let mut a = KvSink(Vec::with_capacity(24));
    visit_record(ev, attributes, &mut a);
    let a = a.0;
    let body = match body {
        Body::Line => s(describe(ev)),
        Body::Map => Some(json_to_any(&serde_json::to_value(ev).unwrap_or_default())),
    };
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: observed_unix_nano,
        severity_number: if warn {
            SeverityNumber::Warn as i32
        } else {
            SeverityNumber::Info as i32
        },
        severity_text: if warn { "WARN" } else { "INFO" }.into(),
        body,
        attributes: a,
        event_name: format!("audex.{}.{}", ev.category, ev.action),
        ..Default::default()
    }
}

pub(crate) fn json_to_any(v: &serde_json::Value) -> AnyValue {
    use serde_json::Value as J;
    let value = match v {
        J::Null => None,
        J::Bool(b) => Some(Value::BoolValue(*b)),
        J::Number(n) => match n.as_i64() {
            Some(x) => Some(Value::IntValue(x)),
            None => Some(Value::DoubleValue(n.as_f64().unwrap_or(0.0))),
        },
        J::String(x) => Some(Value::StringValue(x.clone())),
        J::Array(xs) => Some(Value::ArrayValue(ArrayValue {
            values: xs.iter().map(json_to_any).collect(),
        })),
        J::Object(m) => Some(Value::KvlistValue(KeyValueList {
            values: m
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(json_to_any(v)),
                    ..Default::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}

/// The (container, pod uid, pod, namespace) an event's ResourceLogs is keyed by.
pub(crate) fn resource_key(ev: &AuditEvent) -> (&str, &str, &str, &str) {
    let c = ev.container.as_ref().map_or("", |c| c.id.as_str());
    match &ev.k8s {
        Some(k) => (c, k.pod_uid.as_str(), k.pod.as_str(), k.namespace.as_str()),
        None => (c, "", "", ""),
    }
}

/// The resource attributes of one ResourceLogs: the node's, then the container's.
pub(crate) fn visit_resource(
    res: &Resource,
    key: (&str, &str, &str, &str),
    sink: &mut impl AttrSink,
) {
    sink.str("service.name", "audex");
    for (k, v) in [
        ("service.version", &res.service_version),
        ("host.name", &res.host_name),
        ("host.id", &res.host_id),
        ("k8s.node.name", &res.k8s_node_name),
    ] {
        if !v.is_empty() {
            sink.str(k, v);
        }
    }
    for (k, v) in &res.extra {
        sink.str(k, v);
    }
    let (container, pod_uid, pod, ns) = key;
    for (k, v) in [
        ("container.id", container),
        ("k8s.pod.uid", pod_uid),
        ("k8s.pod.name", pod),
        ("k8s.namespace.name", ns),
    ] {
        if !v.is_empty() {
            sink.str(k, v);
        }
    }
}

/// Event indices grouped by resource key (sorted by key; event order kept within).
pub(crate) fn group_by_resource(
    events: &[AuditEvent],
) -> BTreeMap<(&str, &str, &str, &str), Vec<usize>> {
    let mut groups: BTreeMap<(&str, &str, &str, &str), Vec<usize>> = BTreeMap::new();
    for (i, ev) in events.iter().enumerate() {
        groups.entry(resource_key(ev)).or_default().push(i);
    }
    groups
}

/// One request for a batch: one ResourceLogs per (container, pod), node resource on each.
pub fn export_request(
    events: &[AuditEvent],
    res: &Resource,
    observed: u64,
    shape: impl Into<Shape>,
) -> ExportLogsServiceRequest {
    let shape = shape.into();
    let resource_logs = group_by_resource(events)
        .into_iter()
        .map(|(key, idx)| {
            let mut attrs = KvSink(Vec::new());
            visit_resource(res, key, &mut attrs);
            ResourceLogs {
                resource: Some(OtlpResource {
                    attributes: attrs.0,
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "audex".into(),
                        version: res.service_version.clone(),
                        attributes: res.scope.iter().map(|(k, v)| kv(k, s(v.clone()))).collect(),
                        ..Default::default()
                    }),
                    log_records: idx
                        .into_iter()
                        .map(|i| log_record(&events[i], observed, shape))
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}
