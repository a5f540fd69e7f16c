//! deploy/otel-collector: the Elastic and Splunk Collector configs and their
//! overlays (file-backed queues, Kubernetes metadata), checked offline against
//! the Collector's own option sets (../shared/corpora/otel-collector/OPTIONS.md,
//! read from its config structs; no Collector binary runs here):
//! - every file parses, alone and merged over its base as `--config a --config
//!   b` merges (maps deeply, lists replaced);
//! - every key of every component is one of its options, none deprecated;
//! - pipelines use only defined components, no batch processor (it answers
//!   before the export), every exporter's queue waits for the backend;
//! - the receivers require client certificates; the Kubernetes overlay
//!   associates pods by `k8s.pod.uid` (audex runs on the host network);
//! - transform statements read only attributes audex sends.
mod common;

use saphyr::{LoadableYamlNode, Yaml};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json(y: &Yaml) -> Value {
    if let Some(m) = y.as_mapping() {
        let mut o = Map::new();
        for (k, v) in m {
            let key = k
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| k.as_integer().map(|i| i.to_string()).expect("string keys"));
            o.insert(key, json(v));
        }
        Value::Object(o)
    } else if let Some(v) = y.as_vec() {
        Value::Array(v.iter().map(json).collect())
    } else if let Some(b) = y.as_bool() {
        Value::Bool(b)
    } else if let Some(i) = y.as_integer() {
        Value::from(i)
    } else if let Some(s) = y.as_str() {
        Value::from(s)
    } else {
        Value::Null
    }
}

fn load(file: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("deploy/otel-collector").join(file)).unwrap();
    let docs = Yaml::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(docs.len(), 1, "{file}: one document");
    json(&docs[0])
}

/// What `otelcol --config base --config overlay` runs: maps merged deeply,
/// everything else replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Leaf paths of a component's config (sequences are leaves).
fn leaves(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, v, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

/// The options of OPTIONS.md: per bullet (named by its first backticked
/// token, or its first words), the backticked option names with `a.{b, c}`
/// expanded, and which of them are marked deprecated. Tokens said not to
/// exist ("there is no `x`"), defaults and quoted values are left out.
struct Options {
    allowed: BTreeMap<String, BTreeSet<String>>,
    deprecated: BTreeMap<String, BTreeSet<String>>,
}

fn options() -> Options {
    let text =
        std::fs::read_to_string(common::corpora().join("otel-collector/OPTIONS.md")).unwrap();
    let mut bullets: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(b) = line.strip_prefix("- ") {
            bullets.push(b.to_string());
        } else if line.starts_with("  ") && !bullets.is_empty() {
            let last = bullets.last_mut().unwrap();
            last.push(' ');
            last.push_str(line.trim());
        } else if line.starts_with('#') || line.is_empty() {
            // A heading or a blank line ends the bullet.
            bullets.push(String::new());
        }
    }
    let mut allowed = BTreeMap::new();
    let mut deprecated = BTreeMap::new();
    for b in bullets.iter().filter(|b| !b.is_empty()) {
        let parts: Vec<&str> = b.split('`').collect();
        // Odd parts are inside backticks.
        let name = if b.starts_with('`') {
            parts[1].to_string()
        } else {
            b.split(" (").next().unwrap().to_string()
        };
        let (mut ok, mut old) = (BTreeSet::new(), BTreeSet::new());
        for i in (1..parts.len()).step_by(2) {
            if i == 1 && b.starts_with('`') {
                continue;
            }
            let before = parts[i - 1];
            let after = parts.get(i + 1).copied().unwrap_or("");
            // Not options: what is said not to exist, defaults' names,
            // values, headers and paths quoted in the prose.
            if before.ends_with("there is no ") || before.ends_with("default ") {
                continue;
            }
            let is_old = after.starts_with(" (deprecated")
                || after.starts_with(" deprecated")
                || before.ends_with("deprecated ");
            for key in expand(parts[i]) {
                if key.starts_with(['.', '{'])
                    || key.contains(['[', '*', ' ', '-', '{'])
                    || key.chars().any(|c| c.is_uppercase())
                {
                    continue;
                }
                if is_old {
                    old.insert(key.clone());
                }
                ok.insert(key);
            }
        }
        allowed.insert(name.clone(), ok);
        deprecated.insert(name, old);
    }
    Options {
        allowed,
        deprecated,
    }
}

/// `a.{b, c}` → `a.b`, `a.c`; `x` → `x`.
fn expand(token: &str) -> Vec<String> {
    let token = token.split_whitespace().collect::<Vec<_>>().join(" ");
    match token.split_once(".{") {
        Some((head, rest)) => rest
            .trim_end_matches('}')
            .split(',')
            .map(|k| format!("{head}.{}", k.trim()))
            .collect(),
        None => vec![token],
    }
}

impl Options {
    fn set(&self, bullet: &str) -> &BTreeSet<String> {
        self.allowed
            .get(bullet)
            .unwrap_or_else(|| panic!("OPTIONS.md has no `{bullet}`: {:?}", self.allowed.keys()))
    }

    /// Problems with one option path of a component described by `bullet`.
    fn check(&self, what: &str, bullet: &str, path: &str, problems: &mut Vec<String>) {
        // Shared option groups, as OPTIONS.md lists them once.
        for (group, shared) in [
            ("tls.", "TLS server"),
            ("sending_queue.", "Every exporterhelper queue"),
            ("retry_on_failure.", "Retry for exporterhelper users"),
        ] {
            if let Some(rest) = path.strip_prefix(group) {
                if !self.set(bullet).contains(group.trim_end_matches('.')) {
                    problems.push(format!("{what}: `{group}` is not an option of {bullet}"));
                }
                return self.check(what, shared, rest, problems);
            }
        }
        if !self.set(bullet).contains(path) {
            problems.push(format!("{what}: `{path}` is not an option of {bullet}"));
        } else if self.deprecated[bullet].contains(path) {
            problems.push(format!("{what}: `{path}` is deprecated in {bullet}"));
        }
    }
}

/// Options of components OPTIONS.md does not describe, read from contrib's
/// config structs (extension/storage/filestorage/config.go,
/// processor/k8sattributesprocessor/config.go): only the keys used here.
fn other_options(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "file_storage" => Some(&[
            "directory",
            "timeout",
            "create_directory",
            "directory_permissions",
            "fsync",
            "recreate",
        ]),
        "k8sattributes" => Some(&[
            "auth_type",
            "passthrough",
            "pod_association",
            "extract.metadata",
            "extract.labels",
            "extract.annotations",
            "filter.node_from_env_var",
            "wait_for_metadata",
        ]),
        _ => None,
    }
}

/// Problems with every component of a (merged) config.
fn check_options(file: &str, c: &Value, opts: &Options) -> Vec<String> {
    let mut problems = Vec::new();
    for section in ["receivers", "processors", "exporters", "extensions"] {
        let Some(m) = c[section].as_object() else {
            continue;
        };
        for (id, cfg) in m {
            let kind = id.split('/').next().unwrap();
            let what = format!("{file}: {section}.{id}");
            let mut paths = Vec::new();
            leaves("", cfg, &mut paths);
            if let Some(keys) = other_options(kind) {
                for p in paths {
                    if !keys.contains(&p.as_str()) {
                        problems.push(format!("{what}: `{p}` is not an option of {kind}"));
                    }
                }
                continue;
            }
            for p in paths {
                if kind == "otlp" && section == "receivers" {
                    match p.split_once('.').and_then(|(a, rest)| {
                        let (proto, rest) = rest.split_once('.')?;
                        Some((a, proto, rest))
                    }) {
                        Some(("protocols", proto @ ("grpc" | "http"), rest)) => {
                            opts.check(&what, &format!("protocols.{proto}"), rest, &mut problems)
                        }
                        _ => problems.push(format!("{what}: `{p}` is not an option of otlp")),
                    }
                } else {
                    opts.check(&what, kind, &p, &mut problems);
                }
            }
        }
    }
    problems
}

/// Pipelines, queues and receivers of a (merged) config.
fn check_pipelines(file: &str, c: &Value) {
    let logs = &c["service"]["pipelines"]["logs"];
    assert!(logs.is_object(), "{file}: a logs pipeline");
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    for (key, section) in [
        ("receivers", "receivers"),
        ("processors", "processors"),
        ("exporters", "exporters"),
    ] {
        for id in ids(&logs[key]) {
            assert!(
                c[section].get(&id).is_some(),
                "{file}: the pipeline uses {section} `{id}`, which is not defined"
            );
            if section == "processors" {
                assert!(
                    id != "batch" && !id.starts_with("batch/"),
                    "{file}: a batch processor acknowledges before the export"
                );
            }
        }
    }
    for id in ids(&c["service"]["extensions"]) {
        assert!(c["extensions"].get(&id).is_some(), "{file}: extension {id}");
    }
    assert_eq!(
        ids(&logs["processors"]).first().map(String::as_str),
        Some("memory_limiter")
    );
    let exporters = ids(&logs["exporters"]);
    assert!(!exporters.is_empty(), "{file}: exporters");
    for id in &exporters {
        let q = &c["exporters"][id]["sending_queue"];
        assert_eq!(q["enabled"], true, "{file}: {id} queue");
        assert_eq!(
            q["wait_for_result"], true,
            "{file}: {id} answers before the backend does"
        );
        if let Some(storage) = q["storage"].as_str() {
            assert!(storage.starts_with("file_storage"), "{file}: {storage}");
            assert!(c["extensions"].get(storage).is_some(), "{file}: {storage}");
            assert!(
                ids(&c["service"]["extensions"]).contains(&storage.to_string()),
                "{file}: {storage} is not enabled in service.extensions"
            );
        }
    }
    for proto in ["grpc", "http"] {
        let tls = &c["receivers"]["otlp"]["protocols"][proto]["tls"];
        for k in ["cert_file", "key_file", "client_ca_file"] {
            assert!(
                tls[k].is_string(),
                "{file}: {proto} receiver without tls.{k}"
            );
        }
    }
}

/// Attribute keys audex puts on log records in either naming (the events of
/// the golden logs and peer corpora), plus what routing adds.
fn audex_attributes() -> HashSet<String> {
    let events = common::replayed_events();
    let mut keys: HashSet<String> = ["audit.tenant", "auditd.tenant"]
        .into_iter()
        .map(String::from)
        .collect();
    use audex_export::otlp::{export_request, Attributes, Body, Resource, Shape};
    for attributes in [Attributes::Semconv, Attributes::Ecs] {
        let shape = Shape {
            body: Body::Line,
            attributes,
        };
        let req = export_request(&events, &Resource::default(), 1, shape);
        for rl in req.resource_logs {
            for sl in rl.scope_logs {
                for r in sl.log_records {
                    keys.extend(r.attributes.into_iter().map(|kv| kv.key));
                }
            }
        }
    }
    keys
}

/// Every attribute a statement reads (not one it sets) is one audex sends; a
/// resource attribute read is one a tenant may set.
fn check_statements(file: &str, c: &Value, attrs: &HashSet<String>) {
    let tenant_resource = ["data_stream.namespace", "com.splunk.index"];
    for (id, p) in c["processors"].as_object().unwrap() {
        let Some(statements) = p["log_statements"].as_array() else {
            continue;
        };
        let statements: Vec<&str> = statements.iter().map(|s| s.as_str().unwrap()).collect();
        let set: HashSet<&str> = statements
            .iter()
            .filter_map(|s| s.strip_prefix("set(log.attributes[\""))
            .filter_map(|r| r.split('"').next())
            .collect();
        for s in &statements {
            assert!(
                s.contains("log.") || s.contains("resource."),
                "{file}: {id}: paths carry their context: {s}"
            );
            for (i, read) in s.split("log.attributes[\"").enumerate().skip(1) {
                let key = read.split('"').next().unwrap();
                let target = i == 1 && s.starts_with("set(log.attributes[\"");
                assert!(
                    target || attrs.contains(key) || set.contains(key),
                    "{file}: {id} reads attribute `{key}`, which audex does not send"
                );
            }
            for read in s.split("resource.attributes[\"").skip(1) {
                let key = read.split('"').next().unwrap();
                assert!(
                    tenant_resource.contains(&key),
                    "{file}: {id} reads resource {key}"
                );
            }
        }
    }
}

#[test]
fn collector_configs_load_and_wait_for_the_backend() {
    let opts = options();
    // OPTIONS.md read right: what the issue found must be caught.
    assert!(opts.set("elasticsearch").contains("retry.max_retries"));
    assert!(!opts.set("elasticsearch").contains("retry.max_elapsed_time"));
    assert!(opts.deprecated["elasticsearch"].contains("mapping.mode"));
    assert!(opts.deprecated["elasticsearch"].contains("logs_dynamic_index.enabled"));
    assert!(opts
        .set("Every exporterhelper queue")
        .contains("wait_for_result"));
    assert!(opts
        .set("Retry for exporterhelper users")
        .contains("max_elapsed_time"));
    assert!(opts
        .set("splunk_hec")
        .contains("otel_attrs_to_hec_metadata.index"));
    assert!(opts.set("TLS server").contains("client_ca_file"));
    let attrs = audex_attributes();
    assert!(attrs.contains("process.pid") && attrs.contains("auditd.serial"));
    for (base, exporter) in [
        ("elastic.yaml", "elasticsearch"),
        ("splunk.yaml", "splunk_hec"),
    ] {
        let b = load(base);
        let mut variants = vec![(base.to_string(), b.clone())];
        let queue = base.replace(".yaml", ".file-queue.yaml");
        for overlays in [
            vec![queue.as_str()],
            vec!["kubernetes.yaml"],
            vec![queue.as_str(), "kubernetes.yaml"],
        ] {
            let mut merged = b.clone();
            for o in &overlays {
                merge(&mut merged, &load(o));
            }
            variants.push((format!("{base} + {}", overlays.join(" + ")), merged));
        }
        for (name, c) in &variants {
            let problems = check_options(name, c, &opts);
            assert!(problems.is_empty(), "{problems:#?}");
            check_pipelines(name, c);
            check_statements(name, c, &attrs);
            let exporters = c["service"]["pipelines"]["logs"]["exporters"].clone();
            assert_eq!(exporters, serde_json::json!([exporter]), "{name}");
        }
        // The file-queue variant does put the queue on disk.
        let (_, with_queue) = &variants[1];
        assert!(with_queue["exporters"][exporter]["sending_queue"]["storage"].is_string());
        // The Kubernetes variant associates by pod uid, and keeps the rest.
        let (name, k8s) = &variants[2];
        let procs = &k8s["service"]["pipelines"]["logs"]["processors"];
        assert!(
            procs
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "k8sattributes"),
            "{name}"
        );
        assert!(
            procs
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "transform/audex"),
            "{name}"
        );
        let assoc = &k8s["processors"]["k8sattributes"]["pod_association"];
        assert_eq!(
            assoc[0]["sources"][0]["from"], "resource_attribute",
            "{name}"
        );
        assert_eq!(assoc[0]["sources"][0]["name"], "k8s.pod.uid", "{name}");
    }
}

#[test]
fn the_old_mistakes_are_caught() {
    // The configs this repository shipped before: each mistake the check
    // must name (a check that passes everything proves nothing).
    let opts = options();
    let old = serde_json::json!({
        "exporters": {
            "elasticsearch": {
                "endpoints": ["x"], "mapping": {"mode": "ecs"},
                "logs_dynamic_index": {"enabled": true},
                "sending_queue": {"enabled": true, "queue_size": 1000},
                "retry": {"enabled": true, "max_elapsed_time": "5m"}
            }
        }
    });
    let problems = check_options("old", &old, &opts).join("\n");
    for needle in [
        "`mapping.mode` is deprecated",
        "`logs_dynamic_index.enabled` is deprecated",
        "`retry.max_elapsed_time` is not an option of elasticsearch",
    ] {
        assert!(problems.contains(needle), "{needle}: {problems}");
    }
    let mut c = load("splunk.yaml");
    c["processors"]["batch"] = serde_json::json!({"timeout": "1s"});
    c["service"]["pipelines"]["logs"]["processors"] =
        serde_json::json!(["memory_limiter", "batch"]);
    let r = std::panic::catch_unwind(|| check_pipelines("batched", &c));
    assert!(r.is_err(), "a batch processor must be refused");
    let mut c = load("splunk.yaml");
    c["exporters"]["splunk_hec"]["sending_queue"]["wait_for_result"] = Value::Bool(false);
    let r = std::panic::catch_unwind(|| check_pipelines("early ack", &c));
    assert!(r.is_err(), "a queue that answers first must be refused");
}

/// Fields of CIM's Endpoint data model datasets (Splunk Common Information
/// Model 5.x/6.x, Endpoint.Processes and Endpoint.Filesystem).
const CIM_ENDPOINT: &[&str] = &[
    "action",
    "dest",
    "file_acl",
    "file_name",
    "file_path",
    "parent_process",
    "parent_process_exec",
    "parent_process_id",
    "parent_process_name",
    "parent_process_path",
    "process",
    "process_current_directory",
    "process_exec",
    "process_id",
    "process_name",
    "process_path",
    "user",
    "user_id",
    "vendor_product",
];

#[test]
fn the_splunk_cim_snippet_reads_what_audex_sends() {
    let attrs = audex_attributes();
    let dir = repo().join("deploy/splunk");
    let props = std::fs::read_to_string(dir.join("props.conf")).unwrap();
    let mut targets = BTreeSet::new();
    let mut reads = BTreeSet::new();
    for line in props.lines().filter(|l| !l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("FIELDALIAS-") {
            let (_, aliases) = rest.split_once('=').unwrap();
            let words: Vec<&str> = aliases.split_whitespace().collect();
            for w in words.windows(3).filter(|w| w[1] == "AS") {
                reads.insert(w[0].trim_matches('"').to_string());
                targets.insert(w[2].to_string());
            }
        } else if let Some(rest) = line.strip_prefix("EVAL-") {
            let (name, expr) = rest.split_once(" = ").unwrap();
            targets.insert(name.to_string());
            // 'field' is a field in eval; "text" a string.
            for (i, part) in expr.split('\'').enumerate() {
                if i % 2 == 1 {
                    reads.insert(part.to_string());
                }
            }
            if name == "action" {
                // case(cond, value, cond, value, ...): the values are CIM's.
                let args = expr
                    .trim()
                    .strip_prefix("case(")
                    .unwrap()
                    .strip_suffix(')')
                    .unwrap();
                let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
                for (i, c) in args.char_indices() {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        ',' if depth == 0 => {
                            parts.push(args[start..i].trim());
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                parts.push(args[start..].trim());
                assert!(parts.len() >= 10 && parts.len() % 2 == 0, "{parts:?}");
                for v in parts.iter().skip(1).step_by(2) {
                    let v = v.trim_matches('"');
                    assert!(
                        [
                            "created",
                            "deleted",
                            "read",
                            "acl_modified",
                            "modified",
                            "allowed",
                            "blocked"
                        ]
                        .contains(&v),
                        "action {v} is not a CIM Endpoint action"
                    );
                }
            }
        }
    }
    for t in &targets {
        assert!(
            CIM_ENDPOINT.contains(&t.as_str()),
            "{t} is not a CIM Endpoint field"
        );
    }
    for r in &reads {
        assert!(
            r == "host" || attrs.contains(r),
            "props.conf reads {r}, which audex does not send"
        );
    }
    for needed in [
        "process_id",
        "process_path",
        "process_name",
        "user",
        "file_path",
        "action",
        "dest",
    ] {
        assert!(targets.contains(needed), "{needed}");
    }
    let eventtypes = std::fs::read_to_string(dir.join("eventtypes.conf")).unwrap();
    assert!(eventtypes.contains("\"audit.category\"=process") && attrs.contains("audit.category"));
    let tags = std::fs::read_to_string(dir.join("tags.conf")).unwrap();
    for tag in [
        "process = enabled",
        "report = enabled",
        "endpoint = enabled",
        "filesystem = enabled",
    ] {
        assert!(tags.contains(tag), "{tag}");
    }
}
