//! The audex config (DESIGN.md "Config") as typed data: one struct per
//! section, an enum for every closed set, defaults in the `Default` impls
//! (and nowhere else), [`Spanned`] where a later check must point at the
//! value. Read by [`super::de`] (unknown keys, wrong types and unknown choices
//! are reported there); checked by `validate` (nothing read from disk) and
//! `node_checks` (what the node must have).
use super::de::Spanned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub source: SourceCfg,
    pub rules: RulesCfg,
    pub enrich: EnrichCfg,
    /// EXECVE argv kept per event at most (the middle is cut, with a
    /// marker): arguments, and bytes of them.
    pub max_args: Option<Spanned<usize>>,
    pub max_argv_bytes: Option<Spanned<usize>>,
    /// Process labels, kept by the process cache and inherited by children.
    pub labels: Vec<Spanned<LabelCfg>>,
    /// Applied after enrichment, before routing.
    pub filters: Vec<Spanned<FilterCfg>>,
    pub tenants: Vec<Spanned<TenantCfg>>,
    pub exporters: Vec<Spanned<ExporterCfg>>,
    pub spool: SpoolCfg,
    pub metrics: MetricsCfg,
    /// The local socket for unprivileged `audex watch`: served only when
    /// the section is there.
    pub local: Option<Spanned<LocalCfg>>,
}

/// How the kernel source subscribes (`source.mode`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceMode {
    #[default]
    Auto,
    Multicast,
    Unicast,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceCfg {
    pub mode: SourceMode,
    pub backlog_limit: Option<u32>,
    pub rate_limit: Option<u32>,
    pub backlog_wait_time: Option<u32>,
    /// 0 silent, 1 printk, 2 panic.
    pub failure: Option<Spanned<u32>>,
    pub recv_buffer_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchCfg {
    pub path: Spanned<String>,
    pub perm: Spanned<String>,
    pub key: String,
}

impl WatchCfg {
    /// The path is absolute (`validate` says so otherwise).
    pub fn path_ok(&self) -> bool {
        self.path.starts_with('/')
    }

    /// The permissions are letters of r, w, x, a (`validate` says so otherwise).
    pub fn perm_ok(&self) -> bool {
        !self.perm.is_empty() && self.perm.chars().all(|c| "rwxa".contains(c))
    }
}

impl Default for WatchCfg {
    fn default() -> Self {
        WatchCfg {
            path: Spanned::default(),
            perm: Spanned::new("rwxa".into()),
            key: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesCfg {
    pub files: Vec<Spanned<String>>,
    pub watch: Vec<Spanned<WatchCfg>>,
    pub packs: Vec<Spanned<String>>,
    /// Rule key -> compliance controls, added to (or replacing) the packs' table.
    pub controls: BTreeMap<String, Spanned<Vec<String>>>,
    /// Put back the rules audex owns when someone removes them (and audit when
    /// it is disabled under audex).
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
            controls: BTreeMap::new(),
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
            m.set(k, cs.value.clone());
        }
        m
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichCfg {
    pub host_root: Spanned<PathBuf>,
    pub kubernetes: Spanned<KubernetesCfg>,
    pub process_cache_size: Spanned<usize>,
    /// Server processes whose TCP peer is recorded (`process.peer`).
    pub peer_processes: Vec<String>,
}

impl Default for EnrichCfg {
    fn default() -> Self {
        EnrichCfg {
            host_root: Spanned::new("/".into()),
            kubernetes: Spanned::default(),
            process_cache_size: Spanned::new(16_384),
            peer_processes: vec!["smbd".into(), "sshd".into()],
        }
    }
}

impl EnrichCfg {
    /// The live enrichment options of this config, with the `labels` rules
    /// the plan compiled.
    pub fn options(&self, labels: audex_policy::Labels) -> audex_enrich::EnrichOptions {
        audex_enrich::EnrichOptions {
            host_root: self.host_root.value.clone(),
            live: true,
            cache_capacity: *self.process_cache_size,
            peer_processes: self.peer_processes.clone(),
            node_name: self.kubernetes.node_name.clone(),
            labels,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubernetesCfg {
    pub enabled: bool,
    pub node_name: String,
    /// The API server (None: in-cluster service account, else kubeconfig).
    pub api_server: Option<Spanned<String>>,
    /// How long a deleted pod still resolves.
    pub deletion_grace_s: u64,
}

impl Default for KubernetesCfg {
    fn default() -> Self {
        KubernetesCfg {
            enabled: false,
            node_name: String::new(),
            api_server: None,
            deletion_grace_s: 300,
        }
    }
}

/// Whether the tenant sees pids (`redact.pid`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PidCfg {
    #[default]
    Always,
    SameOwner,
    Never,
}

/// Which file events a tenant sees (`redact.visibility`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    All,
    /// Only when the tenant's uids could list the directory.
    Dac,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaskCfg {
    pub field: String,
    pub pattern: Option<Spanned<String>>,
    pub replace: String,
    /// A built-in pattern set instead of `pattern` (audex_policy::secrets).
    pub builtin: Option<Spanned<String>>,
}

impl Default for MaskCfg {
    fn default() -> Self {
        MaskCfg {
            field: String::new(),
            pattern: None,
            replace: "***".into(),
            builtin: None,
        }
    }
}

/// A mapping of names to values, in the order written (headers, resource
/// attributes).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pairs(pub Vec<(String, String)>);

impl std::ops::Deref for Pairs {
    type Target = Vec<(String, String)>;
    fn deref(&self) -> &Vec<(String, String)> {
        &self.0
    }
}

impl std::ops::DerefMut for Pairs {
    fn deref_mut(&mut self) -> &mut Vec<(String, String)> {
        &mut self.0
    }
}

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping of names to values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry()? {
                    out.push((k, v));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One pod-label selector (a mapping) or a list of them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Selectors(pub Vec<BTreeMap<String, String>>);

impl<'de> Deserialize<'de> for Selectors {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Selectors, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Selectors;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a label selector or a list of them")
            }
            fn visit_unit<E>(self) -> Result<Selectors, E> {
                Ok(Selectors::default())
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Selectors, A::Error> {
                let mut one = BTreeMap::new();
                while let Some((k, v)) = m.next_entry()? {
                    one.insert(k, v);
                }
                Ok(Selectors(vec![one]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<Selectors, A::Error> {
                let mut all = Vec::new();
                while let Some(one) = s.next_element()? {
                    all.push(one);
                }
                Ok(Selectors(all))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchCfg {
    pub k8s_namespaces: Vec<String>,
    pub pod_labels: Selectors,
    /// Uids and inclusive ranges (`1000-1999`).
    pub uids: Vec<Spanned<String>>,
    pub paths: Vec<String>,
    pub keys: Vec<String>,
    /// Process labels (`labels[].name`).
    pub labels: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactCfg {
    pub drop: Vec<String>,
    pub hash: Vec<String>,
    /// Pseudonymise numeric user and group ids too.
    pub hash_ids: bool,
    pub hash_key_file: Option<Spanned<PathBuf>>,
    pub mask: Vec<Spanned<MaskCfg>>,
    pub pid: PidCfg,
    pub visibility: Visibility,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantCfg {
    pub name: String,
    #[serde(rename = "match")]
    pub matches: MatchCfg,
    pub redact: RedactCfg,
    pub exporters: Vec<String>,
    /// Applied to the tenant's events after routing, before redaction.
    pub filters: Vec<Spanned<FilterCfg>>,
    /// Added to each of the tenant's exporters' requests (e.g. X-Scope-OrgID).
    pub headers: Pairs,
    /// Added to the OTLP resource of the tenant's events (e.g. data_stream.namespace).
    pub resource_attributes: Spanned<Pairs>,
    /// A token bucket over the events the tenant's exporters get; what it
    /// holds back is counted in `events-throttled` markers.
    pub rate_limit: Option<Spanned<RateLimitCfg>>,
    /// Identical events within the window after the first stand as one.
    pub fold_repeats: Option<Spanned<FoldCfg>>,
}

/// `tenants[].fold_repeats`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FoldCfg {
    pub window_ms: u64,
}

impl Default for FoldCfg {
    fn default() -> Self {
        FoldCfg { window_ms: 5000 }
    }
}

/// `tenants[].rate_limit`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitCfg {
    pub events_per_s: f64,
    /// Default: one second's worth (at least 1).
    pub burst: Option<u64>,
    /// A bucket per rule key.
    pub per_key: bool,
}

impl RateLimitCfg {
    pub fn spec(&self) -> audex_policy::RateLimitSpec {
        audex_policy::RateLimitSpec {
            events_per_s: self.events_per_s,
            burst: self
                .burst
                .unwrap_or_else(|| (self.events_per_s.ceil() as u64).max(1)),
            per_key: self.per_key,
        }
    }
}

/// A label rule (`labels[]`): the label `name` for a process that execs a
/// program matching `exe` (globs) or with an argv matching `argv` (regexes),
/// or whose event carries one of `keys`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelCfg {
    pub name: String,
    pub exe: Vec<String>,
    pub argv: Vec<String>,
    pub keys: Vec<String>,
}

impl LabelCfg {
    pub fn spec(&self) -> audex_policy::LabelSpec {
        audex_policy::LabelSpec {
            name: self.name.clone(),
            exe: self.exe.clone(),
            argv: self.argv.clone(),
            keys: self.keys.clone(),
        }
    }
}

/// A filter (`filters[]`, top level or per tenant): `drop` suppresses what its
/// selector matches, `keep` what it does not; the suppressed events still go
/// to the filter's `exporters` (and are counted).
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterCfg {
    pub name: String,
    pub drop: Option<Spanned<SelectorCfg>>,
    pub keep: Option<Spanned<SelectorCfg>>,
    pub keep_first_per_process: bool,
    pub exporters: Vec<String>,
    /// Fold what the filter takes instead of suppressing it.
    pub fold_repeats: Option<Spanned<FoldCfg>>,
}

/// What a filter takes: every criterion given must hold; in a list, any entry.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectorCfg {
    pub keys: Vec<String>,
    pub no_key: bool,
    pub exe: Vec<Spanned<String>>,
    pub comm: Vec<Spanned<String>>,
    pub paths: Vec<Spanned<String>>,
    pub syscalls: Vec<String>,
    pub actions: Vec<Spanned<String>>,
    pub categories: Vec<Spanned<String>>,
    pub outcome: Option<Spanned<String>>,
    /// Uids and inclusive ranges (`1000-1999`).
    pub uids: Vec<Spanned<String>>,
    pub auids: Vec<Spanned<String>>,
    pub k8s_namespaces: Vec<String>,
    pub pod_labels: Selectors,
    pub container: Option<bool>,
    /// Addresses and CIDR blocks.
    pub addresses: Vec<Spanned<String>>,
    /// Ports and inclusive ranges (`8000-8999`).
    pub ports: Vec<Spanned<String>>,
    /// Process labels (`labels[].name`).
    pub labels: Vec<String>,
    /// Record types that define the event (USER_ACCT, ...).
    pub record_types: Vec<Spanned<String>>,
}

impl SelectorCfg {
    /// The selector for audex-policy; entries that do not parse are left out
    /// (`validate` reports them).
    pub fn spec(&self) -> audex_policy::SelectorSpec {
        let strings = |v: &[Spanned<String>]| v.iter().map(|s| s.value.clone()).collect();
        let ranges = |v: &[Spanned<String>]| v.iter().filter_map(|u| uid_range(u)).collect();
        audex_policy::SelectorSpec {
            keys: self.keys.clone(),
            no_key: self.no_key,
            exe: strings(&self.exe),
            comm: strings(&self.comm),
            paths: strings(&self.paths),
            syscalls: self.syscalls.clone(),
            actions: strings(&self.actions),
            categories: strings(&self.categories),
            outcome: self.outcome.as_ref().map(|o| o.value.clone()),
            uids: ranges(&self.uids),
            auids: ranges(&self.auids),
            k8s_namespaces: self.k8s_namespaces.clone(),
            pod_labels: self.pod_labels.0.clone(),
            container: self.container,
            addresses: strings(&self.addresses),
            ports: ranges(&self.ports),
            labels: self.labels.clone(),
            record_types: strings(&self.record_types),
        }
    }
}

impl Config {
    /// The top-level filters, then each tenant's.
    pub fn all_filters(&self) -> impl Iterator<Item = &Spanned<FilterCfg>> {
        self.filters
            .iter()
            .chain(self.tenants.iter().flat_map(|t| &t.filters))
    }

    /// `max_args` and `max_argv_bytes`.
    pub fn argv_limit(&self) -> audex_policy::ArgvLimit {
        audex_policy::ArgvLimit {
            max_args: self.max_args.as_deref().copied(),
            max_bytes: self.max_argv_bytes.as_deref().copied(),
        }
    }
}

impl FilterCfg {
    /// The filter for audex-policy.
    pub fn spec(&self) -> audex_policy::FilterSpec {
        audex_policy::FilterSpec {
            name: self.name.clone(),
            drop: self.drop.as_ref().map(|d| d.spec()),
            keep: self.keep.as_ref().map(|k| k.spec()),
            keep_first_per_process: self.keep_first_per_process,
            fold_repeats_ms: self.fold_repeats.as_ref().map(|f| f.window_ms),
        }
    }
}

/// What an exporter is (`exporters[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExporterKind {
    OtlpGrpc,
    OtlpHttp,
    ProtobufGrpc,
    ProtobufFile,
    Jsonl,
}

impl ExporterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExporterKind::OtlpGrpc => "otlp_grpc",
            ExporterKind::OtlpHttp => "otlp_http",
            ExporterKind::ProtobufGrpc => "protobuf_grpc",
            ExporterKind::ProtobufFile => "protobuf_file",
            ExporterKind::Jsonl => "jsonl",
        }
    }

    /// Sends over the network (needs an `endpoint`); else writes files
    /// (needs a `path`).
    pub fn is_network(self) -> bool {
        matches!(
            self,
            ExporterKind::OtlpGrpc | ExporterKind::OtlpHttp | ExporterKind::ProtobufGrpc
        )
    }
}

/// An OTLP log record's body (`body`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyCfg {
    Line,
    Map,
}

/// How OTLP record attributes are named (`attributes`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributesCfg {
    #[default]
    Semconv,
    /// Elastic Common Schema; the scope then says `elastic.mapping.mode: ecs`.
    Ecs,
}

/// What a jsonl exporter writes (`format`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineFormat {
    /// audex's event JSON.
    #[default]
    Json,
    /// One ECS document per line, for Elastic Agent or Filebeat.
    Ecs,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExporterCfg {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<ExporterKind>,
    pub endpoint: Option<Spanned<String>>,
    pub path: Option<PathBuf>,
    pub headers: Pairs,
    pub gzip: bool,
    pub timeout_ms: Option<u64>,
    pub ca_file: Option<Spanned<PathBuf>>,
    pub client_cert_file: Option<Spanned<PathBuf>>,
    pub client_key_file: Option<Spanned<PathBuf>>,
    pub body: Option<BodyCfg>,
    /// OTLP exporters only.
    pub attributes: Option<Spanned<AttributesCfg>>,
    /// jsonl exporters only.
    pub format: Option<Spanned<LineFormat>>,
    pub max_segment_bytes: Option<u64>,
    pub max_segment_age_s: Option<u64>,
    /// protobuf_file: chain the archive's events with this key (tamper evidence).
    pub chain_key_file: Option<Spanned<PathBuf>>,
    /// protobuf_file with a chain key: seconds between `archive-checkpoint`
    /// events sent to the other exporters (0: only at each seal).
    pub checkpoint_interval_s: Option<Spanned<u64>>,
}

impl ExporterCfg {
    /// The archive's segment size bound (default 64 MiB).
    pub fn segment_bytes(&self) -> u64 {
        self.max_segment_bytes.unwrap_or(64 << 20)
    }

    /// The archive's segment age bound (default an hour).
    pub fn segment_age_s(&self) -> u64 {
        self.max_segment_age_s.unwrap_or(3600)
    }

    /// Seconds between checkpoints (default 60).
    pub fn checkpoint_every_s(&self) -> u64 {
        self.checkpoint_interval_s.as_deref().copied().unwrap_or(60)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolCfg {
    pub dir: PathBuf,
    pub max_bytes: Spanned<u64>,
}

impl Default for SpoolCfg {
    fn default() -> Self {
        SpoolCfg {
            dir: "/var/lib/audex/spool".into(),
            max_bytes: Spanned::new(1 << 30),
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsCfg {
    pub listen: Option<Spanned<String>>,
}

/// `local`: the daemon's socket for `audex watch` without privilege.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalCfg {
    pub socket: Spanned<PathBuf>,
    /// Paths one uid may watch at once, over all its connections.
    pub max_watches_per_user: Spanned<usize>,
    /// Events one uid is sent per second (then an `events-throttled` marker).
    pub max_events_per_s_per_user: Spanned<u32>,
    /// Groups (names from the host's group file, or gids) whose members see
    /// every event whole.
    pub admin_groups: Vec<Spanned<String>>,
}

impl Default for LocalCfg {
    fn default() -> Self {
        LocalCfg {
            socket: Spanned::new("/run/audex/audex.sock".into()),
            max_watches_per_user: Spanned::new(16),
            max_events_per_s_per_user: Spanned::new(1000),
            admin_groups: Vec::new(),
        }
    }
}

/// A key file's bytes (a trailing newline is not part of the key); at least 16.
pub fn read_key(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    audex_export::archive::chain::read_key_file(path, what)
}

/// A uid or an inclusive range (`1000-1999`).
pub fn uid_range(s: &str) -> Option<(u32, u32)> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => s.trim().parse().ok().map(|u| (u, u)),
    }
}

impl TenantCfg {
    /// The tenant for audex-policy with this hash key.
    pub fn spec_with(&self, hash_key: Option<audex_policy::HashKey>) -> audex_policy::TenantSpec {
        use audex_policy::{MaskSpec, Matcher, PidPolicy, RedactSpec, TenantSpec};
        let (m, r) = (&self.matches, &self.redact);
        TenantSpec {
            name: self.name.clone(),
            matcher: Matcher {
                keys: m.keys.clone(),
                paths: m.paths.clone(),
                uids: m.uids.iter().filter_map(|u| uid_range(u)).collect(),
                k8s_namespaces: m.k8s_namespaces.clone(),
                pod_labels: m.pod_labels.0.clone(),
                labels: m.labels.clone(),
            },
            redact: RedactSpec {
                drop: r.drop.clone(),
                hash: r.hash.clone(),
                hash_key,
                hash_ids: r.hash_ids,
                mask: r
                    .mask
                    .iter()
                    .map(|m| MaskSpec {
                        field: m.field.clone(),
                        pattern: m.pattern.as_ref().map(|p| p.value.clone()),
                        replace: m.replace.clone(),
                        builtin: m.builtin.as_ref().map(|b| b.value.clone()),
                    })
                    .collect(),
                pid: match r.pid {
                    PidCfg::Never => PidPolicy::Never,
                    PidCfg::SameOwner => PidPolicy::SameOwner,
                    PidCfg::Always => PidPolicy::Always,
                },
                visibility_dac: r.visibility == Visibility::Dac,
            },
        }
    }
}
