//! AuditEvent → OTLP LogRecord / ResourceLogs / ExportLogsServiceRequest.
use super::body::describe;
use audex_proto::v1::AuditEvent;
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
}

/// What the LogRecord body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The one-line human summary.
    Line,
    /// The whole event as a map (Elastic `bodymap`).
    Map,
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

/// The LogRecord of one event.
pub fn log_record(ev: &AuditEvent, observed_unix_nano: u64, body: Body) -> LogRecord {
    let time = ev
        .time
        .as_ref()
        .map(|t| t.seconds as u64 * 1_000_000_000 + t.nanos as u64)
        .unwrap_or(0);
    let warn =
        ev.outcome == "failure" || ev.action == "access-denied" || ev.action == "records-lost";
    let mut a: Vec<KeyValue> = Vec::with_capacity(24);
    a.push(kv("audit.event_id", s(&ev.id)));
    a.push(kv("audit.serial", i(ev.serial as i64)));
    a.push(kv("audit.category", s(&ev.category)));
    a.push(kv("audit.action", s(&ev.action)));
    a.push(kv("audit.outcome", s(&ev.outcome)));
    if !ev.record_type.is_empty() {
        a.push(kv("audit.record_type", s(&ev.record_type)));
    }
    if !ev.access.is_empty() {
        a.push(kv("audit.access", s(&ev.access)));
    }
    if !ev.keys.is_empty() {
        a.push(kv("audit.keys", strings(&ev.keys)));
    }
    if !ev.tenant.is_empty() {
        a.push(kv("audit.tenant", s(&ev.tenant)));
    }
    if let Some(p) = &ev.process {
        if let Some(pid) = p.pid {
            a.push(kv("process.pid", i(pid as i64)));
        }
        if let Some(ppid) = p.ppid {
            a.push(kv("process.parent_pid", i(ppid as i64)));
        }
        if !p.exe.is_empty() {
            a.push(kv("process.executable.path", s(&p.exe)));
        }
        if !p.comm.is_empty() {
            a.push(kv("process.executable.name", s(&p.comm)));
        }
        if !p.args.is_empty() {
            a.push(kv("process.command_args", strings(&p.args)));
        }
        if !p.command_line.is_empty() {
            a.push(kv("process.command_line", s(&p.command_line)));
        }
        if !p.title.is_empty() {
            a.push(kv("process.title", s(&p.title)));
        }
        if !p.cwd.is_empty() {
            a.push(kv("process.working_directory", s(&p.cwd)));
        }
    }
    if let Some(ac) = &ev.actor {
        if let Some(euid) = ac.euid {
            a.push(kv("process.user.id", i(euid as i64)));
        }
        if !ac.euid_name.is_empty() {
            a.push(kv("process.user.name", s(&ac.euid_name)));
        }
        if let Some(uid) = ac.uid {
            a.push(kv("process.real_user.id", i(uid as i64)));
        }
        if !ac.uid_name.is_empty() {
            a.push(kv("process.real_user.name", s(&ac.uid_name)));
        }
        // The person: the login user when set, else the real user.
        let (uid, name) = if ac.auid.is_some() {
            (ac.auid, &ac.auid_name)
        } else {
            (ac.uid, &ac.uid_name)
        };
        if let Some(uid) = uid {
            a.push(kv("user.id", s(uid.to_string())));
        }
        if !name.is_empty() {
            a.push(kv("user.name", s(name)));
        }
        if let Some(auid) = ac.auid {
            a.push(kv("audit.auid", i(auid as i64)));
        }
        if let Some(ses) = ac.session {
            a.push(kv("audit.session", i(ses as i64)));
        }
        if let Some(fsuid) = ac.fsuid {
            a.push(kv("audit.fsuid", i(fsuid as i64)));
        }
        if !ac.tty.is_empty() {
            a.push(kv("audit.tty", s(&ac.tty)));
        }
    }
    if let Some(sc) = &ev.syscall {
        if !sc.name.is_empty() {
            a.push(kv("audit.syscall", s(&sc.name)));
        }
        if !sc.errno.is_empty() {
            a.push(kv("error.type", s(&sc.errno)));
        }
        if let Some(exit) = sc.exit {
            a.push(kv("audit.exit", i(exit)));
        }
    }
    if let Some(f) = ev
        .files
        .iter()
        .find(|f| f.nametype != "PARENT")
        .or(ev.files.first())
    {
        if !f.path.is_empty() {
            a.push(kv("file.path", s(&f.path)));
        }
        if let Some(ino) = f.inode {
            a.push(kv("file.inode", s(ino.to_string())));
        }
        if !f.mode.is_empty() {
            a.push(kv("file.mode", s(&f.mode)));
        }
        if let Some(o) = f.ouid {
            a.push(kv("file.owner.id", s(o.to_string())));
        }
        if !f.ouid_name.is_empty() {
            a.push(kv("file.owner.name", s(&f.ouid_name)));
        }
    }
    if ev.files.len() > 1 {
        let paths: Vec<String> = ev
            .files
            .iter()
            .filter(|f| !f.path.is_empty())
            .map(|f| f.path.clone())
            .collect();
        a.push(kv("audit.file_paths", strings(&paths)));
    }
    if let Some(n) = &ev.network {
        if !n.address.is_empty() {
            a.push(kv("network.peer.address", s(&n.address)));
        }
        if let Some(p) = n.port {
            a.push(kv("network.peer.port", i(p as i64)));
        }
        if !n.family.is_empty() {
            a.push(kv("audit.socket.family", s(&n.family)));
        }
        if !n.path.is_empty() {
            a.push(kv("audit.socket.path", s(&n.path)));
        }
    }
    if let Some(l) = &ev.lost {
        a.push(kv("audit.lost.count", i(l.count as i64)));
        a.push(kv("audit.lost.first_serial", i(l.first_serial as i64)));
        a.push(kv("audit.lost.last_serial", i(l.last_serial as i64)));
    }
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

fn json_to_any(v: &serde_json::Value) -> AnyValue {
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

/// One request for a batch: one ResourceLogs per (container, pod), node resource on each.
pub fn export_request(
    events: &[AuditEvent],
    res: &Resource,
    observed: u64,
    body: Body,
) -> ExportLogsServiceRequest {
    let mut groups: BTreeMap<(String, String, String, String), Vec<LogRecord>> = BTreeMap::new();
    for ev in events {
        let c = ev
            .container
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_default();
        let (ns, pod, uid) = ev
            .k8s
            .as_ref()
            .map(|k| (k.namespace.clone(), k.pod.clone(), k.pod_uid.clone()))
            .unwrap_or_default();
        groups
            .entry((c, uid, pod, ns))
            .or_default()
            .push(log_record(ev, observed, body));
    }
    let resource_logs = groups
        .into_iter()
        .map(|((container, pod_uid, pod, ns), records)| {
            let mut attrs = vec![kv("service.name", s("audex"))];
            if !res.service_version.is_empty() {
                attrs.push(kv("service.version", s(&res.service_version)));
            }
            if !res.host_name.is_empty() {
                attrs.push(kv("host.name", s(&res.host_name)));
            }
            if !res.host_id.is_empty() {
                attrs.push(kv("host.id", s(&res.host_id)));
            }
            if !res.k8s_node_name.is_empty() {
                attrs.push(kv("k8s.node.name", s(&res.k8s_node_name)));
            }
            for (k, v) in [
                ("container.id", container),
                ("k8s.pod.uid", pod_uid),
                ("k8s.pod.name", pod),
                ("k8s.namespace.name", ns),
            ] {
                if !v.is_empty() {
                    attrs.push(kv(k, s(v)));
                }
            }
            ResourceLogs {
                resource: Some(OtlpResource {
                    attributes: attrs,
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "audex".into(),
                        version: res.service_version.clone(),
                        ..Default::default()
                    }),
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}
