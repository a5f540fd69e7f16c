//! The field names audex sends, checked against the schemas their readers use,
//! over the golden logs and every peer corpus log (replayed by the binary):
//! - OTLP (semantic conventions, the default): every attribute outside
//!   `audit.*`, record and resource, is in ../shared/corpora/semantic-conventions
//!   (not deprecated, same type); the executable name is the executable's base
//!   name, `file.mode` has no file-type bits, a bind's address is the local one,
//!   sudo's command is `audit.command`, every failure has `error.type`.
//! - ECS (`attributes: ecs`, `format: ecs`): every field is in ECS's
//!   `ecs_flat.yml` with a compatible type, or under `auditd.*`;
//!   `event.category`/`event.type` are allowed values and expected pairs.
mod common;

use audex_export::ecs::{ecs_document, visit_ecs, Context};
use audex_export::otlp::{export_request, Attributes, Body, Resource, Shape};
use audex_proto::v1::{AuditEvent, Container, Kubernetes};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use saphyr::{LoadableYamlNode, Yaml};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Every event audex makes of the inputs, plus copies placed in a pod (so the
/// container and Kubernetes resource attributes are checked too).
fn events() -> Vec<AuditEvent> {
    let mut events = common::replayed_events();
    assert!(events.len() > 400, "only {} events", events.len());
    let in_pod: Vec<AuditEvent> = events
        .iter()
        .filter(|e| e.action == "executed")
        .take(5)
        .cloned()
        .map(|mut e| {
            e.container = Some(Container {
                id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
                runtime: "containerd".into(),
            });
            e.k8s = Some(Kubernetes {
                namespace: "payments".into(),
                pod: "api-7d9f".into(),
                pod_uid: "2b1c7e9a-1111-4222-8333-944455556666".into(),
                container: "api".into(),
                node: "node-1".into(),
                labels: [("app".to_string(), "api".to_string())].into(),
            });
            e.tenant = "payments".into();
            e.id.push_str("-pod");
            e
        })
        .collect();
    events.extend(in_pod);
    // And a bind (the corpora have none with an address): a connect's socket
    // bound instead.
    let mut bound = events
        .iter()
        .find(|e| e.action == "connected" && e.network.as_ref().is_some_and(|n| n.port.is_some()))
        .cloned()
        .expect("a connect in the corpora");
    bound.action = "bound".into();
    bound.id.push_str("-bound");
    events.push(bound);
    events
}

fn resource() -> Resource {
    Resource {
        host_name: "node-1".into(),
        host_id: "4c4c4544004d3510804bb4c04f4d4d32".into(),
        k8s_node_name: "node-1".into(),
        service_version: "0.1.0".into(),
        ..Default::default()
    }
}

/// A mapping's value at `key`.
fn get<'a>(y: &'a Yaml<'a>, key: &str) -> Option<&'a Yaml<'a>> {
    y.as_mapping_get(key)
}

/// One attribute value's kind in semantic-conventions terms.
fn kind(v: &AnyValue) -> String {
    match &v.value {
        Some(Any::StringValue(_)) => "string".into(),
        Some(Any::IntValue(_)) => "int".into(),
        Some(Any::BoolValue(_)) => "boolean".into(),
        Some(Any::DoubleValue(_)) => "double".into(),
        Some(Any::ArrayValue(a)) => {
            let inner: BTreeSet<String> = a.values.iter().map(kind).collect();
            match inner.iter().next() {
                Some(k) if inner.len() == 1 => format!("{k}[]"),
                _ => "string[]".into(),
            }
        }
        _ => "other".into(),
    }
}

fn string(v: &AnyValue) -> Option<&str> {
    match &v.value {
        Some(Any::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// The semantic-conventions registry: key → (type, deprecated). Reads both
/// file formats (v1 `groups[].attributes[].id`, v2 `attributes[].key`) line
/// by line (saphyr refuses some of their multi-line flow sequences): an
/// attribute is a `- id:`/`- key:` item at the indentation of the first item
/// under an `attributes:` key; its `type:` and `deprecated:` sit two deeper;
/// an enum's type is that of its members' `value:`s.
fn registry() -> HashMap<String, (String, bool)> {
    let mut files = Vec::new();
    common::files_under(
        &common::corpora().join("semantic-conventions/model"),
        &mut files,
    );
    let mut reg = HashMap::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        let in_deprecated = f.to_string_lossy().contains("/deprecated/");
        let mut items: Option<usize> = None; // indentation of attribute items
        let mut after_attributes = false;
        let mut current: Option<(String, String, bool)> = None;
        let mut in_enum = false;
        let mut finish = |c: &mut Option<(String, String, bool)>| {
            if let Some((k, t, d)) = c.take() {
                reg.insert(k, (t, d || in_deprecated));
            }
        };
        for line in text.lines() {
            let body = line.trim_start();
            let indent = line.len() - body.len();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if body == "attributes:" {
                after_attributes = true;
                finish(&mut current);
                items = None;
                continue;
            }
            if after_attributes && body.starts_with("- ") {
                items = Some(indent);
                after_attributes = false;
            }
            let Some(at) = items else { continue };
            if indent < at {
                finish(&mut current);
                items = None;
                continue;
            }
            if indent == at {
                finish(&mut current);
                in_enum = false;
                let name = body
                    .strip_prefix("- id:")
                    .or_else(|| body.strip_prefix("- key:"));
                if let Some(name) = name {
                    current = Some((name.trim().to_string(), "string".into(), false));
                }
                continue;
            }
            let Some(cur) = current.as_mut() else {
                continue;
            };
            if indent == at + 2 {
                in_enum = false;
                if let Some(t) = body.strip_prefix("type:") {
                    let t = t.trim();
                    if t.is_empty() {
                        in_enum = true;
                    } else {
                        cur.1 = t.to_string();
                    }
                } else if body.starts_with("deprecated:") {
                    cur.2 = true;
                }
            } else if in_enum {
                if let Some(v) = body.strip_prefix("value:") {
                    let v = v.trim();
                    if v.parse::<i64>().is_ok() {
                        cur.1 = "int".into();
                    }
                    in_enum = false;
                }
            }
        }
        finish(&mut current);
    }
    assert!(reg.len() > 200, "the registry has {} attributes", reg.len());
    for (k, ty) in [
        ("process.pid", "int"),
        ("server.address", "string"),
        ("file.mode", "string"),
        ("host.ip", "string[]"),
        ("process.command_args", "string[]"),
    ] {
        assert_eq!(reg.get(k).map(|t| t.0.as_str()), Some(ty), "registry: {k}");
    }
    assert_eq!(reg.get("net.sock.host.port").map(|t| t.1), Some(true));
    reg
}

/// Record and resource attributes of `events` as OTLP in one attribute naming.
fn otlp(events: &[AuditEvent], attributes: Attributes) -> (Vec<Vec<KeyValue>>, Vec<KeyValue>) {
    let mut res = resource();
    res.extra
        .push(("data_stream.namespace".into(), "payments".into()));
    let shape = Shape {
        body: Body::Line,
        attributes,
    };
    let (mut records, mut resources) = (Vec::new(), Vec::new());
    for chunk in events.chunks(256) {
        let req = export_request(chunk, &res, 1, shape);
        for rl in req.resource_logs {
            resources.extend(rl.resource.unwrap().attributes);
            for sl in rl.scope_logs {
                records.extend(sl.log_records.into_iter().map(|r| r.attributes));
            }
        }
    }
    (records, resources)
}

fn attr<'a>(rec: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    rec.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

#[test]
fn semantic_convention_attributes_exist_with_their_types() {
    let reg = registry();
    let events = events();
    let (records, resources) = otlp(&events, Attributes::Semconv);
    let mut problems = BTreeSet::new();
    let mut seen = BTreeSet::new();
    // Attributes the Elastic and Splunk exporters route by, which are not
    // semantic conventions by design (documented in the README).
    let routing = ["data_stream.namespace"];
    for kv in records.iter().flatten().chain(&resources) {
        if kv.key.starts_with("audit.") || routing.contains(&kv.key.as_str()) {
            continue;
        }
        let got = kind(kv.value.as_ref().unwrap());
        seen.insert(kv.key.clone());
        match reg.get(&kv.key) {
            None => problems.insert(format!("{} is not in the registry", kv.key)),
            Some((_, true)) => problems.insert(format!("{} is deprecated", kv.key)),
            Some((ty, false)) if *ty != got => problems.insert(format!(
                "{} is {ty} in the registry, audex sends {got}",
                kv.key
            )),
            _ => false,
        };
    }
    assert!(problems.is_empty(), "{problems:#?}");
    for k in [
        "process.pid",
        "process.executable.name",
        "process.command_args",
        "file.path",
        "file.mode",
        "user.name",
        "error.type",
        "network.peer.address",
        "network.local.port",
        "container.id",
        "k8s.pod.uid",
        "host.name",
    ] {
        assert!(seen.contains(k), "the corpora never gave {k}: {seen:?}");
    }
}

#[test]
fn semantic_convention_values() {
    let events = events();
    let (records, _) = otlp(&events, Attributes::Semconv);
    // Records come grouped by resource: pair them with their events by id.
    let by_id: HashMap<&str, &Vec<KeyValue>> = records
        .iter()
        .map(|r| (attr(r, "audit.event_id").and_then(string).unwrap(), r))
        .collect();
    assert_eq!(by_id.len(), events.len(), "event ids are unique");
    let records: Vec<&Vec<KeyValue>> = events.iter().map(|e| by_id[e.id.as_str()]).collect();
    let (mut names, mut modes, mut binds, mut sudo, mut failures) = (0, 0, 0, 0, 0);
    for (ev, rec) in events.iter().zip(records.iter().copied()) {
        let id = &ev.id;
        if let Some(path) = attr(rec, "process.executable.path").and_then(string) {
            let name = attr(rec, "process.executable.name").and_then(string);
            assert_eq!(
                name,
                path.rsplit('/').next(),
                "{id}: executable name of {path}"
            );
            names += 1;
        }
        if let Some(mode) = attr(rec, "file.mode").and_then(string) {
            assert!(
                mode.len() == 4 && mode.bytes().all(|b| (b'0'..=b'7').contains(&b)),
                "{id}: file.mode {mode}"
            );
            modes += 1;
        }
        if ev.action == "bound" && ev.network.as_ref().is_some_and(|n| !n.address.is_empty()) {
            assert!(attr(rec, "network.local.address").is_some(), "{id}");
            assert!(attr(rec, "network.peer.address").is_none(), "{id}");
            binds += 1;
        }
        if ev.action == "ran-command" {
            let cmd = ev.process.as_ref().map(|p| p.command_line.as_str());
            assert_eq!(attr(rec, "audit.command").and_then(string), cmd, "{id}");
            assert!(attr(rec, "process.command_line").is_none(), "{id}");
            assert!(attr(rec, "process.command_args").is_none(), "{id}");
            sudo += 1;
        }
        if ev.outcome == "failure" {
            assert!(
                attr(rec, "error.type").is_some(),
                "{id}: a failure without error.type"
            );
            failures += 1;
        }
    }
    assert!(
        names > 50 && modes > 20 && binds > 0 && sudo > 0 && failures > 10,
        "names {names}, modes {modes}, binds {binds}, sudo {sudo}, failures {failures}"
    );
    // The kernel's comm differs from the executable's name: dash runs as `sh`.
    let dash = events
        .iter()
        .zip(records.iter().copied())
        .find(|(e, _)| e.process.as_ref().is_some_and(|p| p.exe.ends_with("/dash")));
    if let Some((ev, rec)) = dash {
        assert_eq!(
            attr(rec, "process.executable.name").and_then(string),
            Some("dash")
        );
        assert_eq!(
            attr(rec, "audit.comm").and_then(string),
            Some(ev.process.as_ref().unwrap().comm.as_str())
        );
    }
}

/// ECS's fields: flat name → (type, allowed values by name → expected types).
struct Ecs {
    types: HashMap<String, String>,
    categories: HashMap<String, Vec<String>>,
    event_types: BTreeSet<String>,
}

fn ecs() -> Ecs {
    let path = common::corpora().join("ecs/generated/ecs/ecs_flat.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let doc = &Yaml::load_from_str(&text).unwrap()[0];
    let mut types = HashMap::new();
    for (k, v) in doc.as_mapping().unwrap() {
        if let (Some(k), Some(t)) = (k.as_str(), get(v, "type").and_then(|t| t.as_str())) {
            types.insert(k.to_string(), t.to_string());
        }
    }
    let names = |field: &str| -> Vec<(String, Vec<String>)> {
        get(doc, field)
            .and_then(|f| get(f, "allowed_values"))
            .and_then(|a| a.as_vec())
            .unwrap()
            .iter()
            .map(|a| {
                let expected = get(a, "expected_event_types")
                    .map(common::yaml::strings)
                    .unwrap_or_default();
                let name = get(a, "name").and_then(|n| n.as_str()).unwrap();
                (name.to_string(), expected)
            })
            .collect()
    };
    Ecs {
        types,
        categories: names("event.category").into_iter().collect(),
        event_types: names("event.type").into_iter().map(|(n, _)| n).collect(),
    }
}

/// Dotted paths and leaf values of a nested document.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

/// Whether a JSON leaf fits an ECS field type.
fn fits(ty: &str, v: &Value) -> bool {
    match v {
        Value::Array(xs) => !xs.is_empty() && xs.iter().all(|x| fits(ty, x)),
        Value::String(s) => match ty {
            "keyword" | "wildcard" | "match_only_text" | "constant_keyword" | "flattened" => true,
            "ip" => s.parse::<std::net::IpAddr>().is_ok(),
            "date" => s.len() >= 20 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T',
            _ => false,
        },
        Value::Number(n) => n.is_i64() && matches!(ty, "long" | "integer"),
        Value::Bool(_) => ty == "boolean",
        _ => false,
    }
}

fn check_ecs_fields(
    ecs: &Ecs,
    what: &str,
    fields: &[(String, Value)],
    problems: &mut BTreeSet<String>,
) {
    for (k, v) in fields {
        if k.starts_with("auditd.") {
            continue;
        }
        match ecs.types.get(k) {
            None => problems.insert(format!("{what}: {k} is not an ECS field")),
            Some(ty) if !fits(ty, v) => {
                problems.insert(format!("{what}: {k} is {ty} in ECS; audex sends {v}"))
            }
            _ => false,
        };
    }
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    let list = |v: Option<Value>| -> Vec<String> {
        match v {
            Some(Value::Array(xs)) => xs
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            Some(Value::String(s)) => vec![s],
            _ => vec![],
        }
    };
    let categories = list(get("event.category"));
    let types = list(get("event.type"));
    if categories.is_empty() || types.is_empty() {
        problems.insert(format!("{what}: no event.category or event.type"));
    }
    for c in &categories {
        let Some(expected) = ecs.categories.get(c) else {
            problems.insert(format!("{what}: event.category {c} is not allowed"));
            continue;
        };
        for t in &types {
            if !ecs.event_types.contains(t) {
                problems.insert(format!("{what}: event.type {t} is not allowed"));
            } else if !expected.contains(t) {
                problems.insert(format!("{what}: event.type {t} is not expected for {c}"));
            }
        }
    }
}

/// A key/value list as JSON leaves (OTLP attributes in ECS naming).
fn kv_fields(rec: &[KeyValue]) -> Vec<(String, Value)> {
    fn json(v: &AnyValue) -> Value {
        match &v.value {
            Some(Any::StringValue(s)) => Value::from(s.as_str()),
            Some(Any::IntValue(i)) => Value::from(*i),
            Some(Any::BoolValue(b)) => Value::from(*b),
            Some(Any::ArrayValue(a)) => Value::Array(a.values.iter().map(json).collect()),
            _ => Value::Null,
        }
    }
    rec.iter()
        .map(|kv| (kv.key.clone(), json(kv.value.as_ref().unwrap())))
        .collect()
}

#[test]
fn ecs_fields_exist_with_compatible_types() {
    let ecs = ecs();
    let events = events();
    let mut problems = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for ev in &events {
        let mut fields = Vec::new();
        flatten("", &ecs_document(ev), &mut fields);
        for (k, _) in &fields {
            *seen.entry(k.clone()).or_default() += 1;
        }
        check_ecs_fields(&ecs, &format!("document {}", ev.id), &fields, &mut problems);
    }
    let (records, _) = otlp(&events, Attributes::Ecs);
    assert_eq!(records.len(), events.len());
    for rec in &records {
        let fields = kv_fields(rec);
        let id = fields
            .iter()
            .find(|(k, _)| k == "event.id")
            .map(|(_, v)| v.clone());
        check_ecs_fields(&ecs, &format!("record {id:?}"), &fields, &mut problems);
    }
    assert!(problems.is_empty(), "{problems:#?}");
    for k in [
        "@timestamp",
        "message",
        "event.kind",
        "event.action",
        "event.outcome",
        "process.pid",
        "process.executable",
        "process.name",
        "process.args",
        "process.working_directory",
        "process.parent.pid",
        "process.user.id",
        "user.id",
        "user.name",
        "file.path",
        "file.inode",
        "file.mode",
        "file.uid",
        "file.gid",
        "destination.ip",
        "destination.port",
        "server.port",
        "host.name",
        "container.id",
        "orchestrator.namespace",
        "orchestrator.resource.name",
        "auditd.serial",
        "auditd.keys",
        "auditd.record_type",
    ] {
        assert!(seen.contains_key(k), "the corpora never gave {k}: {seen:?}");
    }
}

#[test]
fn ecs_values() {
    for ev in events() {
        let mut fields = Vec::new();
        visit_ecs(&ev, Context::Document, &mut Collect(&mut fields));
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        if let Some(exe) = get("process.executable") {
            assert_eq!(get("process.name"), exe.rsplit('/').next(), "{}", ev.id);
        }
        if let Some(mode) = get("file.mode") {
            assert!(mode.len() == 4, "{}: {mode}", ev.id);
        }
        if ev.action == "ran-command" {
            assert!(get("process.command_line").is_none() && get("auditd.command").is_some());
        }
        assert_eq!(get("event.action"), Some(ev.action.as_str()));
    }
}

struct Collect<'a>(&'a mut Vec<(String, String)>);

impl audex_export::otlp::AttrSink for Collect<'_> {
    fn str(&mut self, key: &str, v: &str) {
        self.0.push((key.into(), v.into()));
    }
    fn int(&mut self, key: &'static str, v: i64) {
        self.0.push((key.into(), v.to_string()));
    }
    fn strs(&mut self, key: &'static str, v: &[String]) {
        self.0.push((key.into(), v.join(" ")));
    }
}
