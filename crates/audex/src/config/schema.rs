//! The audex config (DESIGN.md "Config") as plain data, read from the positioned
//! tree with every mistake collected: unknown keys, wrong types, bad values,
//! unknown exporter names, bad regexes, missing files, bad endpoints.
use super::tree::{boolean, map, seq, string, strings, uint, Errors, Node};
use std::collections::HashSet;
use std::path::PathBuf;

#[derive(Debug, Default, Clone)]
pub struct Config {
    pub source: SourceCfg,
    pub rules: RulesCfg,
    pub enrich: EnrichCfg,
    pub tenants: Vec<TenantCfg>,
    pub exporters: Vec<ExporterCfg>,
    pub spool: SpoolCfg,
    pub metrics: MetricsCfg,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceCfg {
    pub mode: String,
    pub backlog_limit: Option<u32>,
    pub rate_limit: Option<u32>,
    pub backlog_wait_time: Option<u32>,
    pub failure: Option<u32>,
    pub recv_buffer_bytes: Option<u64>,
}

impl Default for SourceCfg {
    fn default() -> Self {
        SourceCfg {
            mode: "auto".into(),
            backlog_limit: None,
            rate_limit: None,
            backlog_wait_time: None,
            failure: None,
            recv_buffer_bytes: None,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct WatchCfg {
    pub path: String,
    pub perm: String,
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct RulesCfg {
    pub files: Vec<String>,
    pub watch: Vec<WatchCfg>,
    pub packs: Vec<String>,
    /// Rule key -> compliance controls, added to (or replacing) the packs' table.
    pub controls: Vec<(String, Vec<String>)>,
    /// Put back the rules audex owns when someone removes them (and audit when
    /// it is disabled under audex). Default on.
    pub enforce: bool,
    /// Set the kernel's immutable flag after loading the rules (until reboot).
    pub lock: bool,
}

impl Default for RulesCfg {
    fn default() -> Self {
        RulesCfg {
            files: Vec::new(),
            watch: Vec::new(),
            packs: Vec::new(),
            controls: Vec::new(),
            enforce: true,
            lock: false,
        }
    }
}

impl RulesCfg {
    /// The packs' key -> control table with this config's lines applied.
    pub fn control_map(&self) -> audex_compliance::controls::ControlMap {
        let mut m = audex_compliance::controls::ControlMap::builtin();
        for (k, cs) in &self.controls {
            m.set(k, cs.clone());
        }
        m
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnrichCfg {
    pub host_root: PathBuf,
    pub kubernetes_enabled: bool,
    pub node_name: String,
    /// The API server (None: in-cluster service account, else kubeconfig).
    pub api_server: Option<String>,
    /// How long a deleted pod still resolves.
    pub deletion_grace_s: u64,
    pub process_cache_size: usize,
    /// Server processes whose TCP peer is recorded (`process.peer`).
    pub peer_processes: Vec<String>,
}

impl EnrichCfg {
    /// The live enrichment options of this config.
    pub fn options(&self) -> audex_enrich::EnrichOptions {
        audex_enrich::EnrichOptions {
            host_root: self.host_root.clone(),
            live: true,
            cache_capacity: self.process_cache_size,
            peer_processes: self.peer_processes.clone(),
            node_name: self.node_name.clone(),
        }
    }
}

impl Default for EnrichCfg {
    fn default() -> Self {
        EnrichCfg {
            host_root: "/".into(),
            kubernetes_enabled: false,
            node_name: String::new(),
            api_server: None,
            deletion_grace_s: 300,
            process_cache_size: 16_384,
            peer_processes: vec!["smbd".into(), "sshd".into()],
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct MaskCfg {
    pub field: String,
    pub pattern: String,
    pub replace: String,
    /// A built-in pattern set instead of `pattern` (audex_policy::secrets).
    pub builtin: String,
}

#[derive(Debug, Default, Clone)]
pub struct TenantCfg {
    pub name: String,
    pub k8s_namespaces: Vec<String>,
    /// Inclusive uid ranges.
    pub uids: Vec<(u32, u32)>,
    pub paths: Vec<String>,
    pub keys: Vec<String>,
    pub drop: Vec<String>,
    pub hash: Vec<String>,
    pub hash_key_file: Option<PathBuf>,
    /// Pseudonymise numeric user and group ids too.
    pub hash_ids: bool,
    pub mask: Vec<MaskCfg>,
    pub pid: String,
    /// `dac`: file events only when the tenant's uids could list the directory.
    pub visibility: Option<String>,
    pub pod_labels: Vec<std::collections::BTreeMap<String, String>>,
    pub exporters: Vec<String>,
    /// Added to each of the tenant's exporters' requests (e.g. X-Scope-OrgID).
    pub headers: Vec<(String, String)>,
    /// Added to the OTLP resource of the tenant's events (e.g. data_stream.namespace).
    pub resource_attributes: Vec<(String, String)>,
}

#[derive(Debug, Default, Clone)]
pub struct ExporterCfg {
    pub name: String,
    pub kind: String,
    pub endpoint: Option<String>,
    pub path: Option<PathBuf>,
    pub headers: Vec<(String, String)>,
    pub gzip: bool,
    pub timeout_ms: Option<u64>,
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    pub body: Option<String>,
    /// OTLP exporters: how record attributes are named, `semconv` (default) or
    /// `ecs` (Elastic Common Schema; the scope then says `elastic.mapping.mode: ecs`).
    pub attributes: Option<String>,
    /// jsonl exporter: `json` (audex's event JSON, default) or `ecs` (one ECS
    /// document per line, for Elastic Agent or Filebeat).
    pub format: Option<String>,
    pub max_segment_bytes: Option<u64>,
    pub max_segment_age_s: Option<u64>,
    /// protobuf_file: chain the archive's events with this key (tamper evidence).
    pub chain_key_file: Option<PathBuf>,
    /// protobuf_file with a chain key: seconds between `archive-checkpoint`
    /// events sent to the other exporters (0: only at each seal). Default 60.
    pub checkpoint_interval_s: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct SpoolCfg {
    pub dir: PathBuf,
    pub max_bytes: u64,
}

impl Default for SpoolCfg {
    fn default() -> Self {
        SpoolCfg {
            dir: "/var/lib/audex/spool".into(),
            max_bytes: 1 << 30,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct MetricsCfg {
    pub listen: Option<String>,
}

const NETWORK: &[&str] = &["otlp_grpc", "otlp_http", "protobuf_grpc"];
const FILES: &[&str] = &["protobuf_file", "jsonl"];

fn u32_of(n: &Node, path: &str, errs: &Errors) -> Option<u32> {
    let v = uint(n, path, errs)?;
    match u32::try_from(v) {
        Ok(v) => Some(v),
        Err(_) => {
            errs.at(n, format!("`{path}` is too large"));
            None
        }
    }
}

fn one_of(n: &Node, path: &str, allowed: &[&str], errs: &Errors) -> Option<String> {
    let s = string(n, path, errs)?;
    if allowed.contains(&s.as_str()) {
        Some(s)
    } else {
        errs.at(
            n,
            format!(
                "`{path}` is `{s}`; it must be one of: {}",
                allowed.join(", ")
            ),
        );
        None
    }
}

/// A file the config names, read-checked unless checks may not look at this
/// machine (then it must be an absolute path).
fn readable_file(n: &Node, path: &str, errs: &Errors) -> Option<PathBuf> {
    let p = PathBuf::from(string(n, path, errs)?);
    if !errs.environment {
        if !p.is_absolute() {
            errs.at(
                n,
                format!("`{path}` must be an absolute path, not {}", p.display()),
            );
        }
        return Some(p);
    }
    match std::fs::metadata(&p) {
        Err(e) => errs.at(n, format!("`{path}`: cannot read {}: {e}", p.display())),
        Ok(_) => {
            if let Err(e) = audex_io::open_regular(&p, "file") {
                errs.at(n, format!("`{path}`: cannot read: {e}"));
            }
        }
    }
    Some(p)
}

/// A TLS file that must hold what its key names (a certificate, a private key).
fn tls_file(n: &Node, path: &str, key: &str, errs: &Errors) -> Option<PathBuf> {
    let p = readable_file(n, path, errs)?;
    if errs.environment && p.is_file() {
        if let Err(why) = audex_export::pem::check(&p, key) {
            errs.at(n, format!("`{path}`: {why}"));
        }
    }
    Some(p)
}

/// Reads the whole config; `errs` receives every mistake.
pub fn read(root: &Node, errs: &Errors) -> Config {
    let mut c = Config::default();
    let top = [
        "source",
        "rules",
        "enrich",
        "tenants",
        "exporters",
        "spool",
        "metrics",
    ];
    let mut tenant_nodes = Vec::new();
    let mut exporter_nodes = Vec::new();
    for (k, v) in map(root, "", &top, errs) {
        match k {
            "source" => c.source = source(v, errs),
            "rules" => c.rules = rules(v, errs),
            "enrich" => c.enrich = enrich(v, errs),
            "tenants" => {
                for t in seq(v, "tenants", errs) {
                    tenant_nodes.push(t);
                    c.tenants.push(tenant(t, errs));
                }
            }
            "exporters" => {
                for e in seq(v, "exporters", errs) {
                    exporter_nodes.push(e);
                    c.exporters.push(exporter(e, errs));
                }
            }
            "spool" => {
                for (k, v) in map(v, "spool", &["dir", "max_bytes"], errs) {
                    match k {
                        "dir" => {
                            c.spool.dir = string(v, "spool.dir", errs).unwrap_or_default().into()
                        }
                        _ => {
                            if let Some(b) = uint(v, "spool.max_bytes", errs) {
                                if b < 1 << 20 {
                                    errs.at(
                                        v,
                                        "`spool.max_bytes` must be at least 1 MiB (1048576)",
                                    );
                                }
                                c.spool.max_bytes = b;
                            }
                        }
                    }
                }
            }
            _ => {
                for (_, v) in map(v, "metrics", &["listen"], errs) {
                    if let Some(l) = string(v, "metrics.listen", errs) {
                        if l.parse::<std::net::SocketAddr>().is_err() {
                            errs.at(v, format!("`metrics.listen` is `{l}`; give an address and port, e.g. 127.0.0.1:9464"));
                        }
                        c.metrics.listen = Some(l);
                    }
                }
            }
        }
    }
    // Names: unique, and every tenant's exporters defined.
    let mut names = HashSet::new();
    for (e, n) in c.exporters.iter().zip(&exporter_nodes) {
        if !e.name.is_empty() && !names.insert(e.name.clone()) {
            errs.at(n, format!("exporter `{}` is defined twice", e.name));
        }
    }
    let mut tenants = HashSet::new();
    for (t, n) in c.tenants.iter().zip(&tenant_nodes) {
        if !t.name.is_empty() && !tenants.insert(t.name.clone()) {
            errs.at(n, format!("tenant `{}` is defined twice", t.name));
        }
        for x in &t.exporters {
            if !names.contains(x) {
                let known: Vec<&str> = c.exporters.iter().map(|e| e.name.as_str()).collect();
                errs.at(
                    n,
                    format!(
                        "tenant `{}` names exporter `{x}`, which is not defined (exporters: {})",
                        t.name,
                        known.join(", ")
                    ),
                );
            }
        }
    }
    c
}

fn source(n: &Node, errs: &Errors) -> SourceCfg {
    let mut s = SourceCfg::default();
    let keys = [
        "mode",
        "backlog_limit",
        "rate_limit",
        "backlog_wait_time",
        "failure",
        "recv_buffer_bytes",
    ];
    for (k, v) in map(n, "source", &keys, errs) {
        let path = format!("source.{k}");
        match k {
            "mode" => {
                s.mode =
                    one_of(v, &path, &["auto", "multicast", "unicast"], errs).unwrap_or_default()
            }
            "backlog_limit" => s.backlog_limit = u32_of(v, &path, errs),
            "rate_limit" => s.rate_limit = u32_of(v, &path, errs),
            "backlog_wait_time" => s.backlog_wait_time = u32_of(v, &path, errs),
            "failure" => {
                s.failure = u32_of(v, &path, errs);
                if s.failure.is_some_and(|f| f > 2) {
                    errs.at(v, "`source.failure` is 0 (silent), 1 (printk) or 2 (panic)");
                }
            }
            _ => s.recv_buffer_bytes = uint(v, &path, errs),
        }
    }
    s
}

fn rules(n: &Node, errs: &Errors) -> RulesCfg {
    let mut r = RulesCfg::default();
    let keys = ["files", "watch", "packs", "controls", "enforce", "lock"];
    for (k, v) in map(n, "rules", &keys, errs) {
        match k {
            "files" => {
                r.files = strings(v, "rules.files", errs);
                for f in &r.files {
                    if let Err(e) = glob::Pattern::new(f) {
                        errs.at(v, format!("`rules.files`: {f} is not a glob pattern ({e})"));
                    } else if !f.starts_with('/') {
                        errs.at(v, format!("`rules.files`: {f} must be an absolute path"));
                    }
                }
            }
            "enforce" => r.enforce = boolean(v, "rules.enforce", errs).unwrap_or(true),
            "lock" => r.lock = boolean(v, "rules.lock", errs).unwrap_or(false),
            "packs" => {
                r.packs = strings(v, "rules.packs", errs);
                for name in &r.packs {
                    if let Err(e) = audex_compliance::packs::pack(name) {
                        errs.at(v, format!("`rules.packs`: {e}"));
                    }
                }
            }
            "controls" => {
                if let saphyr::YamlData::Mapping(m) = &v.data {
                    for (key, cs) in m.iter() {
                        let Some(key) = key.data.as_str() else {
                            errs.at(key, "`rules.controls` keys are rule keys (strings)");
                            continue;
                        };
                        let list = strings(cs, &format!("rules.controls.{key}"), errs);
                        if list.is_empty() {
                            errs.at(cs, format!("`rules.controls.{key}` names no control"));
                        }
                        r.controls.push((key.to_string(), list));
                    }
                } else {
                    errs.at(
                        v,
                        "`rules.controls` must map rule keys to lists of control ids",
                    );
                }
            }
            _ => {
                for w in seq(v, "rules.watch", errs) {
                    let mut wc = WatchCfg {
                        perm: "rwxa".into(),
                        ..Default::default()
                    };
                    for (k, v) in map(w, "rules.watch[]", &["path", "perm", "key"], errs) {
                        let path = format!("rules.watch[].{k}");
                        let Some(s) = string(v, &path, errs) else {
                            continue;
                        };
                        match k {
                            "path" if !s.starts_with('/') => {
                                errs.at(v, format!("`{path}` must be absolute, not `{s}`"))
                            }
                            "perm" if s.is_empty() || !s.chars().all(|c| "rwxa".contains(c)) => {
                                errs.at(v, format!("`{path}` is `{s}`; use letters of r, w, x, a"))
                            }
                            _ => {}
                        }
                        match k {
                            "path" => wc.path = s,
                            "perm" => wc.perm = s,
                            _ => wc.key = s,
                        }
                    }
                    if wc.path.is_empty() {
                        errs.at(w, "a watch needs a `path`");
                    }
                    r.watch.push(wc);
                }
            }
        }
    }
    r
}

fn enrich(n: &Node, errs: &Errors) -> EnrichCfg {
    let mut e = EnrichCfg::default();
    let keys = [
        "host_root",
        "kubernetes",
        "process_cache_size",
        "peer_processes",
    ];
    for (k, v) in map(n, "enrich", &keys, errs) {
        match k {
            "host_root" => {
                if let Some(s) = string(v, "enrich.host_root", errs) {
                    if errs.environment && !std::path::Path::new(&s).is_dir() {
                        errs.at(v, format!("`enrich.host_root`: {s} is not a directory"));
                    }
                    e.host_root = s.into();
                }
            }
            "process_cache_size" => {
                if let Some(n) = uint(v, "enrich.process_cache_size", errs) {
                    if n == 0 {
                        errs.at(v, "`enrich.process_cache_size` must be at least 1");
                    }
                    e.process_cache_size = n as usize;
                }
            }
            "peer_processes" => e.peer_processes = strings(v, "enrich.peer_processes", errs),
            _ => {
                let keys = ["enabled", "node_name", "api_server", "deletion_grace_s"];
                for (k, v) in map(v, "enrich.kubernetes", &keys, errs) {
                    let path = format!("enrich.kubernetes.{k}");
                    match k {
                        "enabled" => {
                            e.kubernetes_enabled = boolean(v, &path, errs).unwrap_or(false)
                        }
                        "api_server" => {
                            e.api_server = string(v, &path, errs);
                            if let Some(u) = &e.api_server {
                                if !(u.starts_with("http://") || u.starts_with("https://")) {
                                    errs.at(v, format!("`{path}` is `{u}`; give a URL like https://10.0.0.1:6443"));
                                }
                            }
                        }
                        "deletion_grace_s" => {
                            e.deletion_grace_s = uint(v, &path, errs).unwrap_or(e.deletion_grace_s)
                        }
                        _ => e.node_name = string(v, &path, errs).unwrap_or_default(),
                    }
                }
            }
        }
    }
    if e.kubernetes_enabled && e.node_name.is_empty() {
        errs.at(n, "`enrich.kubernetes.enabled` needs `node_name` (e.g. \"${NODE_NAME}\" from the downward API)");
    }
    e
}

fn uid_range(s: &str) -> Option<(u32, u32)> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => s.trim().parse().ok().map(|u| (u, u)),
    }
}

/// A mapping of strings to strings (`headers`, `pod_labels`, ...).
fn string_map(v: &Node, path: &str, errs: &Errors) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let saphyr::YamlData::Mapping(m) = &v.data {
        for (hk, hv) in m.iter() {
            match (
                hk.data.as_str(),
                string(hv, &format!("{path} values"), errs),
            ) {
                (Some(k), Some(val)) => out.push((k.to_string(), val)),
                (None, _) => errs.at(hk, format!("`{path}` keys must be strings")),
                _ => {}
            }
        }
    } else {
        errs.at(v, format!("`{path}` must be a mapping of names to values"));
    }
    out
}

fn tenant(n: &Node, errs: &Errors) -> TenantCfg {
    let errors_before = errs.list.borrow().len();
    let mut t = TenantCfg {
        pid: "always".into(),
        ..Default::default()
    };
    let keys = [
        "name",
        "match",
        "redact",
        "exporters",
        "headers",
        "resource_attributes",
    ];
    for (k, v) in map(n, "tenants[]", &keys, errs) {
        match k {
            "name" => t.name = string(v, "tenants[].name", errs).unwrap_or_default(),
            "exporters" => t.exporters = strings(v, "tenants[].exporters", errs),
            "headers" => t.headers = string_map(v, "tenants[].headers", errs),
            "resource_attributes" => {
                t.resource_attributes = string_map(v, "tenants[].resource_attributes", errs);
                for (k, val) in &t.resource_attributes {
                    if let Some(why) = super::backend_names::problem(k, val) {
                        errs.at(v, format!("`tenants[].resource_attributes`: {why}"));
                    }
                }
            }
            "match" => {
                let keys = ["k8s_namespaces", "pod_labels", "uids", "paths", "keys"];
                for (k, v) in map(v, "tenants[].match", &keys, errs) {
                    let path = format!("tenants[].match.{k}");
                    match k {
                        "k8s_namespaces" => t.k8s_namespaces = strings(v, &path, errs),
                        "paths" => t.paths = strings(v, &path, errs),
                        "keys" => t.keys = strings(v, &path, errs),
                        "pod_labels" => {
                            // One selector (a mapping) or a list of them.
                            let sels: Vec<&Node> = match &v.data {
                                saphyr::YamlData::Sequence(items) => items.iter().collect(),
                                _ => vec![v],
                            };
                            for sel in sels {
                                t.pod_labels
                                    .push(string_map(sel, &path, errs).into_iter().collect());
                            }
                        }
                        _ => {
                            for u in seq(v, &path, errs) {
                                match string(u, &path, errs).as_deref().map(|s| (s, uid_range(s))) {
                                    Some((_, Some(r))) => t.uids.push(r),
                                    Some((s, None)) => errs.at(u, format!("`{path}`: `{s}` is not a uid or a range like 1000-1999")),
                                    None => {}
                                }
                            }
                        }
                    }
                }
            }
            _ => {
                let keys = [
                    "drop",
                    "hash",
                    "hash_ids",
                    "hash_key_file",
                    "mask",
                    "pid",
                    "visibility",
                ];
                for (k, v) in map(v, "tenants[].redact", &keys, errs) {
                    let path = format!("tenants[].redact.{k}");
                    match k {
                        "drop" => t.drop = strings(v, &path, errs),
                        "hash" => t.hash = strings(v, &path, errs),
                        "hash_ids" => t.hash_ids = boolean(v, &path, errs).unwrap_or(false),
                        "hash_key_file" => {
                            t.hash_key_file = readable_file(v, &path, errs);
                            if let Some(Err(why)) = t
                                .hash_key_file
                                .as_deref()
                                .filter(|p| errs.environment && p.is_file())
                                .map(|p| read_key(p, "hash key file"))
                            {
                                errs.at(v, why);
                            }
                        }
                        "pid" => {
                            t.pid = one_of(v, &path, &["always", "same-owner", "never"], errs)
                                .unwrap_or_default()
                        }
                        "visibility" => t.visibility = one_of(v, &path, &["all", "dac"], errs),
                        _ => {
                            for m in seq(v, &path, errs) {
                                t.mask.push(mask(m, errs));
                            }
                        }
                    }
                }
            }
        }
    }
    if t.name.is_empty() {
        errs.at(n, "a tenant needs a `name`");
    }
    if (!t.hash.is_empty() || t.hash_ids) && t.hash_key_file.is_none() {
        errs.at(
            n,
            format!(
                "tenant `{}` hashes fields but has no `redact.hash_key_file`",
                t.name
            ),
        );
    } else if errs.list.borrow().len() == errors_before {
        // Nothing wrong in its own keys: then what the pipeline will compile
        // (field paths, masks, visibility) is checked too.
        // Away from the node the key file is not read: a stand-in key.
        let spec = if errs.environment {
            t.spec()
        } else {
            let stand_in = t
                .hash_key_file
                .as_ref()
                .map(|_| audex_policy::HashKey::new(&[0u8; 32]));
            Ok(t.spec_with(stand_in))
        };
        if let Err(e) = spec.and_then(|s| audex_policy::Policy::new(&[s])) {
            errs.at(n, e);
        }
    }
    t
}

fn mask(m: &Node, errs: &Errors) -> MaskCfg {
    let mut mc = MaskCfg::default();
    let keys = ["field", "pattern", "replace", "builtin"];
    for (k, v) in map(m, "tenants[].redact.mask[]", &keys, errs) {
        let p = format!("tenants[].redact.mask[].{k}");
        let s = string(v, &p, errs).unwrap_or_default();
        match k {
            "field" => mc.field = s,
            "pattern" => {
                if let Err(e) = regex::Regex::new(&s) {
                    let first = e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    errs.at(v, format!("`{p}` is not a valid regex: {first}"));
                }
                mc.pattern = s;
            }
            "builtin" => {
                let names = audex_policy::secrets::names();
                if !names.contains(&s.as_str()) {
                    errs.at(
                        v,
                        format!("`{p}` is `{s}`; it must be one of: {}", names.join(", ")),
                    );
                }
                mc.builtin = s;
            }
            _ => mc.replace = s,
        }
    }
    if mc.field.is_empty() || (mc.pattern.is_empty() == mc.builtin.is_empty()) {
        errs.at(
            m,
            "a mask needs a `field` and either a `pattern` or a `builtin`",
        );
    }
    if mc.replace.is_empty() {
        mc.replace = "***".into();
    }
    mc
}

/// A key file's bytes (a trailing newline is not part of the key); at least 16.
pub fn read_key(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    audex_export::archive::chain::read_key_file(path, what)
}

impl TenantCfg {
    /// The tenant for audex-policy: its matcher and redaction (the hash key read).
    pub fn spec(&self) -> Result<audex_policy::TenantSpec, String> {
        let hash_key = match &self.hash_key_file {
            Some(p) => Some(audex_policy::HashKey::new(&read_key(p, "hash key file")?)),
            None => None,
        };
        Ok(self.spec_with(hash_key))
    }

    /// The tenant for audex-policy with this hash key.
    pub fn spec_with(&self, hash_key: Option<audex_policy::HashKey>) -> audex_policy::TenantSpec {
        use audex_policy::{MaskSpec, Matcher, PidPolicy, RedactSpec, TenantSpec};
        TenantSpec {
            name: self.name.clone(),
            matcher: Matcher {
                keys: self.keys.clone(),
                paths: self.paths.clone(),
                uids: self.uids.clone(),
                k8s_namespaces: self.k8s_namespaces.clone(),
                pod_labels: self.pod_labels.clone(),
            },
            redact: RedactSpec {
                drop: self.drop.clone(),
                hash: self.hash.clone(),
                hash_key,
                hash_ids: self.hash_ids,
                mask: self
                    .mask
                    .iter()
                    .map(|m| MaskSpec {
                        field: m.field.clone(),
                        pattern: (!m.pattern.is_empty()).then(|| m.pattern.clone()),
                        replace: m.replace.clone(),
                        builtin: (!m.builtin.is_empty()).then(|| m.builtin.clone()),
                    })
                    .collect(),
                pid: match self.pid.as_str() {
                    "never" => PidPolicy::Never,
                    "same-owner" => PidPolicy::SameOwner,
                    _ => PidPolicy::Always,
                },
                visibility_dac: self.visibility.as_deref() == Some("dac"),
            },
        }
    }
}

fn exporter(n: &Node, errs: &Errors) -> ExporterCfg {
    let mut e = ExporterCfg::default();
    let keys = [
        "name",
        "type",
        "endpoint",
        "path",
        "headers",
        "gzip",
        "timeout_ms",
        "ca_file",
        "client_cert_file",
        "client_key_file",
        "body",
        "attributes",
        "format",
        "max_segment_bytes",
        "max_segment_age_s",
        "chain_key_file",
        "checkpoint_interval_s",
    ];
    let mut endpoint_node = None;
    let mut chain_node = None;
    let mut checkpoint_node = None;
    let mut attributes_node = None;
    let mut format_node = None;
    for (k, v) in map(n, "exporters[]", &keys, errs) {
        let path = format!("exporters[].{k}");
        match k {
            "name" => e.name = string(v, &path, errs).unwrap_or_default(),
            "type" => {
                let all: Vec<&str> = NETWORK.iter().chain(FILES).copied().collect();
                e.kind = one_of(v, &path, &all, errs).unwrap_or_default()
            }
            "endpoint" => {
                e.endpoint = string(v, &path, errs);
                endpoint_node = Some(v);
            }
            "path" => e.path = string(v, &path, errs).map(PathBuf::from),
            "headers" => {
                if let saphyr::YamlData::Mapping(m) = &v.data {
                    for (hk, hv) in m.iter() {
                        match (
                            hk.data.as_str(),
                            string(hv, &format!("{path} values"), errs),
                        ) {
                            (Some(k), Some(val)) => e.headers.push((k.to_string(), val)),
                            (None, _) => errs.at(hk, "header names must be strings"),
                            _ => {}
                        }
                    }
                } else {
                    errs.at(
                        v,
                        format!("`{path}` must be a mapping of header names to values"),
                    );
                }
            }
            "gzip" => e.gzip = boolean(v, &path, errs).unwrap_or(false),
            "timeout_ms" => e.timeout_ms = uint(v, &path, errs),
            "ca_file" => e.ca_file = tls_file(v, &path, k, errs),
            "client_cert_file" => e.client_cert_file = tls_file(v, &path, k, errs),
            "client_key_file" => e.client_key_file = tls_file(v, &path, k, errs),
            "body" => e.body = one_of(v, &path, &["line", "map"], errs),
            "attributes" => {
                e.attributes = one_of(v, &path, &["semconv", "ecs"], errs);
                attributes_node = Some(v);
            }
            "format" => {
                e.format = one_of(v, &path, &["json", "ecs"], errs);
                format_node = Some(v);
            }
            "max_segment_bytes" => e.max_segment_bytes = uint(v, &path, errs),
            "chain_key_file" => {
                e.chain_key_file = readable_file(v, &path, errs);
                if let Some(Err(why)) = e
                    .chain_key_file
                    .as_deref()
                    .filter(|p| errs.environment && p.is_file())
                    .map(audex_export::archive::chain::ChainKey::from_file)
                {
                    errs.at(v, why);
                }
                chain_node = Some(v);
            }
            "checkpoint_interval_s" => {
                e.checkpoint_interval_s = uint(v, &path, errs);
                checkpoint_node = Some(v);
            }
            _ => e.max_segment_age_s = uint(v, &path, errs),
        }
    }
    if let Some(node) = checkpoint_node {
        if e.chain_key_file.is_none() && chain_node.is_none() {
            errs.at(
                node,
                format!(
                    "exporter `{}`: `checkpoint_interval_s` needs a `chain_key_file` (checkpoints are of the chain's heads)",
                    e.name
                ),
            );
        }
    }
    // Keys only some exporter types take.
    let kind = e.kind.as_str();
    for (node, fits, why) in [
        (
            chain_node,
            kind == "protobuf_file",
            format!("`chain_key_file` is for protobuf_file archives, not {kind}"),
        ),
        (
            attributes_node,
            kind.starts_with("otlp_"),
            format!("`attributes` names OTLP log record attributes; {kind} has none (a jsonl exporter takes `format: ecs`)"),
        ),
        (
            format_node,
            kind == "jsonl",
            format!("`format` is for jsonl exporters, not {kind} (OTLP exporters take `attributes: ecs`)"),
        ),
    ] {
        if let Some(node) = node.filter(|_| !fits && !kind.is_empty()) {
            errs.at(node, format!("exporter `{}`: {why}", e.name));
        }
    }
    if e.name.is_empty() {
        errs.at(n, "an exporter needs a `name`");
    }
    if NETWORK.contains(&e.kind.as_str()) {
        match (&e.endpoint, endpoint_node) {
            (Some(ep), Some(node)) => {
                if let Err(why) = audex_export::delivery::parse_endpoint(ep, 4317) {
                    errs.at(node, format!("exporter `{}`: {why}", e.name));
                }
            }
            _ => errs.at(
                n,
                format!(
                    "exporter `{}` of type {} needs an `endpoint`",
                    e.name, e.kind
                ),
            ),
        }
    }
    if FILES.contains(&e.kind.as_str()) && e.path.is_none() {
        errs.at(
            n,
            format!("exporter `{}` of type {} needs a `path`", e.name, e.kind),
        );
    }
    if e.kind.is_empty() && !e.name.is_empty() {
        errs.at(n, format!("exporter `{}` needs a `type`", e.name));
    }
    e
}
