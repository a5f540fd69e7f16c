//! The checks a read config must pass, none of which looks at this machine
//! (so `validate --no-environment` runs them in CI): values in range,
//! patterns and regexes that compile, endpoints and addresses that parse,
//! names defined once and every exporter a tenant names defined, keys only
//! the right exporter types take, tenants audex-policy can compile. Input: a
//! [`Config`] with its positions. Output: errors in [`Errors`].
use super::de::Spanned;
use super::schema::{
    Config, ExporterCfg, ExporterKind, FilterCfg, FoldCfg, MaskCfg, SelectorCfg, TenantCfg,
};
use super::tree::Errors;
use std::collections::HashSet;

impl Errors {
    /// An error at a value's position.
    pub fn at_value<T>(&self, v: &Spanned<T>, message: impl Into<String>) {
        self.at_line(v.line, v.col, message);
    }
}

/// Where an optional value was written, if it was.
fn at<T>(v: &Option<Spanned<T>>) -> Option<(usize, usize)> {
    v.as_ref().map(|v| (v.line, v.col))
}

impl Config {
    /// Every mistake in the config's values; nothing is read from disk.
    pub fn validate(&self, errs: &Errors) {
        self.validate_source(errs);
        self.validate_rules(errs);
        self.validate_enrich(errs);
        self.validate_local(errs);
        for e in &self.exporters {
            validate_exporter(e, errs);
        }
        for t in &self.tenants {
            let before = errs.len();
            validate_tenant(t, errs);
            if errs.len() == before {
                // Nothing wrong in its own keys: then what the pipeline will
                // compile (field paths, masks, visibility) is checked too, with
                // a stand-in key (key files are not read here).
                let stand_in = t
                    .redact
                    .hash_key_file
                    .as_ref()
                    .map(|_| audex_policy::HashKey::new(&[0u8; 32]));
                if let Err(e) = audex_policy::Policy::new(&[t.spec_with(stand_in)]) {
                    errs.at_value(t, e);
                }
            }
        }
        for f in self.all_filters() {
            validate_filter(f, errs);
        }
        let mut names = HashSet::new();
        for l in &self.labels {
            if let Err(e) = audex_policy::Labels::compile(&[l.spec()]) {
                errs.at_value(l, e);
            }
            if names.insert(l.name.as_str()) && names.len() == audex_policy::MAX_LABELS + 1 {
                errs.at_value(
                    l,
                    format!(
                        "label `{}`: more than {} distinct labels",
                        l.name,
                        audex_policy::MAX_LABELS
                    ),
                );
            }
        }
        for (key, v) in [
            ("max_args", &self.max_args),
            ("max_argv_bytes", &self.max_argv_bytes),
        ] {
            if let Some(v) = v.as_ref().filter(|v| ***v == 0) {
                errs.at_value(
                    v,
                    format!("`{key}` must be at least 1 (leave it out for no limit)"),
                );
            }
        }
        self.validate_names(errs);
        if *self.spool.max_bytes < 1 << 20 {
            errs.at_value(
                &self.spool.max_bytes,
                "`spool.max_bytes` must be at least 1 MiB (1048576)",
            );
        }
        if let Some(l) = &self.metrics.listen {
            if l.parse::<std::net::SocketAddr>().is_err() {
                errs.at_value(
                    l,
                    format!(
                        "`metrics.listen` is `{}`; give an address and port, e.g. 127.0.0.1:9464",
                        l.value
                    ),
                );
            }
        }
    }

    fn validate_local(&self, errs: &Errors) {
        let Some(l) = &self.local else {
            return;
        };
        if !l.socket.is_absolute() {
            errs.at_value(
                &l.socket,
                format!(
                    "`local.socket`: {} must be an absolute path",
                    l.socket.display()
                ),
            );
        }
        if *l.max_watches_per_user == 0 {
            errs.at_value(
                &l.max_watches_per_user,
                "`local.max_watches_per_user` must be at least 1",
            );
        }
        if *l.max_events_per_s_per_user == 0 {
            errs.at_value(
                &l.max_events_per_s_per_user,
                "`local.max_events_per_s_per_user` must be at least 1",
            );
        }
        for g in &l.admin_groups {
            if g.trim().is_empty() || g.contains(':') {
                errs.at_value(
                    g,
                    format!(
                        "`local.admin_groups`: `{}` is not a group name or gid",
                        g.value
                    ),
                );
            }
        }
    }

    fn validate_source(&self, errs: &Errors) {
        if let Some(f) = self.source.failure.as_ref().filter(|f| f.value > 2) {
            errs.at_value(f, "`source.failure` is 0 (silent), 1 (printk) or 2 (panic)");
        }
    }

    fn validate_rules(&self, errs: &Errors) {
        for f in &self.rules.files {
            if let Err(e) = glob::Pattern::new(f) {
                errs.at_value(
                    f,
                    format!("`rules.files`: {} is not a glob pattern ({e})", f.value),
                );
            } else if !f.starts_with('/') {
                errs.at_value(
                    f,
                    format!("`rules.files`: {} must be an absolute path", f.value),
                );
            }
        }
        for name in &self.rules.packs {
            if let Err(e) = audex_compliance::packs::pack(name) {
                errs.at_value(name, format!("`rules.packs`: {e}"));
            }
        }
        for (key, cs) in &self.rules.controls {
            if cs.is_empty() {
                errs.at_value(cs, format!("`rules.controls.{key}` names no control"));
            }
        }
        for w in &self.rules.watch {
            if w.path.is_empty() {
                errs.at_value(w, "a watch needs a `path`");
            } else if !w.path_ok() {
                errs.at_value(
                    &w.path,
                    format!(
                        "`rules.watch[].path` must be absolute, not `{}`",
                        w.path.value
                    ),
                );
            }
            if !w.perm_ok() {
                errs.at_value(
                    &w.perm,
                    format!(
                        "`rules.watch[].perm` is `{}`; use letters of r, w, x, a",
                        w.perm.value
                    ),
                );
            }
        }
    }

    fn validate_enrich(&self, errs: &Errors) {
        let e = &self.enrich;
        if *e.process_cache_size == 0 {
            errs.at_value(
                &e.process_cache_size,
                "`enrich.process_cache_size` must be at least 1",
            );
        }
        let k = &e.kubernetes;
        if let Some(u) = &k.api_server {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                errs.at_value(
                    u,
                    format!(
                        "`enrich.kubernetes.api_server` is `{}`; give a URL like https://10.0.0.1:6443",
                        u.value
                    ),
                );
            }
        }
        if k.enabled && k.node_name.is_empty() {
            errs.at_value(
                k,
                "`enrich.kubernetes.enabled` needs `node_name` (e.g. \"${NODE_NAME}\" from the downward API)",
            );
        }
    }

    /// Names unique, and every exporter a tenant or a filter names defined.
    fn validate_names(&self, errs: &Errors) {
        let undefined = |who: &str, x: &str| {
            let known: Vec<&str> = self.exporters.iter().map(|e| e.name.as_str()).collect();
            format!(
                "{who} names exporter `{x}`, which is not defined (exporters: {})",
                known.join(", ")
            )
        };
        let mut names = HashSet::new();
        for e in &self.exporters {
            if !e.name.is_empty() && !names.insert(e.name.as_str()) {
                errs.at_value(e, format!("exporter `{}` is defined twice", e.name));
            }
        }
        let mut tenants = HashSet::new();
        for t in &self.tenants {
            if !t.name.is_empty() && !tenants.insert(t.name.as_str()) {
                errs.at_value(t, format!("tenant `{}` is defined twice", t.name));
            }
            for x in t.exporters.iter().filter(|x| !names.contains(x.as_str())) {
                errs.at_value(t, undefined(&format!("tenant `{}`", t.name), x));
            }
        }
        let mut filters = HashSet::new();
        for f in self.all_filters() {
            if !f.name.is_empty() && !filters.insert(f.name.as_str()) {
                errs.at_value(
                    f,
                    format!(
                        "filter `{}` is defined twice (its name labels its counters)",
                        f.name
                    ),
                );
            }
            for x in f.exporters.iter().filter(|x| !names.contains(x.as_str())) {
                errs.at_value(f, undefined(&format!("filter `{}`", f.name), x));
            }
        }
    }
}

/// A filter's own keys: a name, every selector entry that must parse (globs,
/// addresses, ranges, the event vocabulary) at its line, then what
/// audex-policy refuses in the whole (`drop` and `keep` both or neither, an
/// empty selector) at the selector.
fn validate_filter(f: &Spanned<FilterCfg>, errs: &Errors) {
    if f.name.is_empty() {
        errs.at_value(f, "a filter needs a `name`");
    }
    if let Some(w) = &f.fold_repeats {
        validate_fold(&format!("filter `{}`", f.name), w, errs);
        if !f.exporters.is_empty() {
            errs.at_value(
                w,
                format!(
                    "filter `{}`: a folding filter suppresses nothing for `exporters` to receive: give one of them",
                    f.name
                ),
            );
        }
    }
    let before = errs.len();
    if let Some(sel) = f.drop.as_ref().or(f.keep.as_ref()) {
        validate_selector(
            &f.name,
            if f.drop.is_some() { "drop" } else { "keep" },
            sel,
            errs,
        );
    }
    if errs.len() == before {
        if let Err(why) = audex_policy::Filter::compile(&f.spec()) {
            match f.keep.as_ref().or(f.drop.as_ref()) {
                Some(sel) => errs.at_value(sel, why),
                None => errs.at_value(f, why),
            }
        }
    }
}

/// A folding window (a filter's or a tenant's `fold_repeats`), for `who`.
fn validate_fold(who: &str, f: &Spanned<FoldCfg>, errs: &Errors) {
    if !(1..=3_600_000).contains(&f.window_ms) {
        errs.at_value(
            f,
            format!(
                "{who}: `fold_repeats.window_ms` must be 1 to 3600000 (an hour), not {}",
                f.window_ms
            ),
        );
    }
}

/// The entries of filter `name`'s `key` selector, each at its line.
fn validate_selector(name: &str, key: &str, sel: &SelectorCfg, errs: &Errors) {
    let at = |v: &Spanned<String>, r: Result<(), String>, what: &str| {
        if let Err(why) = r {
            errs.at_value(v, format!("filter `{name}`: `{key}.{what}`: {why}"));
        }
    };
    for (what, list) in [
        ("exe", &sel.exe),
        ("comm", &sel.comm),
        ("paths", &sel.paths),
    ] {
        for p in list {
            at(p, audex_policy::check_path_pattern(p), what);
        }
    }
    for (what, list) in [("actions", &sel.actions), ("categories", &sel.categories)] {
        for v in list {
            at(v, audex_policy::check_vocabulary(what, v), what);
        }
    }
    if let Some(o) = &sel.outcome {
        at(o, audex_policy::check_vocabulary("outcome", o), "outcome");
    }
    for a in &sel.addresses {
        at(a, audex_policy::check_address(a), "addresses");
    }
    for t in &sel.record_types {
        let known = audex_parse::RecordType::from_name(t.as_bytes()).is_some();
        let why = format!(
            "`{}` is not a record type (USER_ACCT, SYSCALL, AVC, ...)",
            t.value
        );
        at(t, if known { Ok(()) } else { Err(why) }, "record_types");
    }
    for (what, list, max) in [
        ("uids", &sel.uids, u32::MAX),
        ("auids", &sel.auids, u32::MAX),
        ("ports", &sel.ports, 65_535),
    ] {
        for v in list {
            let ok = super::schema::uid_range(v).is_some_and(|(_, b)| b <= max);
            if !ok {
                at(
                    v,
                    Err(format!(
                        "`{}` is not a number or a range like 1000-1999 (at most {max})",
                        v.value
                    )),
                    what,
                );
            }
        }
    }
}

fn validate_tenant(t: &Spanned<TenantCfg>, errs: &Errors) {
    if t.name.is_empty() {
        errs.at_value(t, "a tenant needs a `name`");
    }
    for u in &t.matches.uids {
        if super::schema::uid_range(u).is_none() {
            errs.at_value(
                u,
                format!(
                    "`tenants[].match.uids`: `{}` is not a uid or a range like 1000-1999",
                    u.value
                ),
            );
        }
    }
    for (k, val) in &t.resource_attributes.0 {
        if let Some(why) = super::backend_names::problem(k, val) {
            errs.at_value(
                &t.resource_attributes,
                format!("`tenants[].resource_attributes`: {why}"),
            );
        }
    }
    for m in &t.redact.mask {
        validate_mask(m, errs);
    }
    if let Some(f) = &t.fold_repeats {
        validate_fold(&format!("tenant `{}`", t.name), f, errs);
    }
    if let Some(r) = &t.rate_limit {
        if let Err(e) = audex_policy::Throttle::new(r.spec(), &t.name, "") {
            errs.at_value(r, format!("tenant `{}`: {e}", t.name));
        }
    }
    let r = &t.redact;
    if (!r.hash.is_empty() || r.hash_ids) && r.hash_key_file.is_none() {
        errs.at_value(
            t,
            format!(
                "tenant `{}` hashes fields but has no `redact.hash_key_file`",
                t.name
            ),
        );
    }
    if let Some(p) = &r.hash_key_file {
        absolute(p, "tenants[].redact.hash_key_file", errs);
    }
}

fn validate_mask(m: &Spanned<MaskCfg>, errs: &Errors) {
    let pattern = m.pattern.as_ref().filter(|p| !p.is_empty());
    let builtin = m.builtin.as_ref().filter(|b| !b.is_empty());
    if let Some(p) = pattern {
        if let Err(e) = regex::Regex::new(p) {
            let first = e.to_string();
            let first = first.lines().last().unwrap_or("").trim();
            errs.at_value(
                p,
                format!("`tenants[].redact.mask[].pattern` is not a valid regex: {first}"),
            );
        }
    }
    if let Some(b) = builtin {
        let names = audex_policy::secrets::names();
        if !names.contains(&b.as_str()) {
            errs.at_value(
                b,
                format!(
                    "`tenants[].redact.mask[].builtin` is `{}`; it must be one of: {}",
                    b.value,
                    names.join(", ")
                ),
            );
        }
    }
    if m.field.is_empty() || pattern.is_some() == builtin.is_some() {
        errs.at_value(
            m,
            "a mask needs a `field` and either a `pattern` or a `builtin`",
        );
    }
}

/// A file named in the config, away from the node (`--no-environment`):
/// it must be an absolute path (on the node it is read, see `node_checks`).
fn absolute(p: &Spanned<std::path::PathBuf>, key: &str, errs: &Errors) {
    if !errs.environment && !p.is_absolute() {
        errs.at_value(
            p,
            format!("`{key}` must be an absolute path, not {}", p.display()),
        );
    }
}

fn validate_exporter(e: &Spanned<ExporterCfg>, errs: &Errors) {
    if e.name.is_empty() {
        errs.at_value(e, "an exporter needs a `name`");
    }
    if let Some(c) = &e.checkpoint_interval_s {
        if e.chain_key_file.is_none() {
            errs.at_value(
                c,
                format!(
                    "exporter `{}`: `checkpoint_interval_s` needs a `chain_key_file` (checkpoints are of the chain's heads)",
                    e.name
                ),
            );
        }
    }
    let Some(kind) = e.kind else {
        if !e.name.is_empty() {
            errs.at_value(e, format!("exporter `{}` needs a `type`", e.name));
        }
        return;
    };
    let k = kind.as_str();
    // Keys only some exporter types take.
    let only = |at: Option<(usize, usize)>, fits: bool, why: String| {
        if let Some((line, col)) = at.filter(|_| !fits) {
            errs.at_line(line, col, format!("exporter `{}`: {why}", e.name));
        }
    };
    only(
        at(&e.chain_key_file),
        kind == ExporterKind::ProtobufFile,
        format!("`chain_key_file` is for protobuf_file archives, not {k}"),
    );
    only(
        at(&e.attributes),
        matches!(kind, ExporterKind::OtlpGrpc | ExporterKind::OtlpHttp),
        format!("`attributes` names OTLP log record attributes; {k} has none (a jsonl exporter takes `format: ecs`)"),
    );
    only(
        at(&e.format),
        kind == ExporterKind::Jsonl,
        format!("`format` is for jsonl exporters, not {k} (OTLP exporters take `attributes: ecs`)"),
    );
    if kind.is_network() {
        match &e.endpoint {
            Some(ep) => {
                if let Err(why) = audex_export::delivery::parse_endpoint(ep, 4317) {
                    errs.at_value(ep, format!("exporter `{}`: {why}", e.name));
                }
            }
            None => errs.at_value(
                e,
                format!("exporter `{}` of type {k} needs an `endpoint`", e.name),
            ),
        }
    } else if e.path.is_none() {
        errs.at_value(
            e,
            format!("exporter `{}` of type {k} needs a `path`", e.name),
        );
    }
    for (key, f) in [
        ("ca_file", &e.ca_file),
        ("client_cert_file", &e.client_cert_file),
        ("client_key_file", &e.client_key_file),
        ("chain_key_file", &e.chain_key_file),
    ] {
        if let Some(p) = f {
            absolute(p, &format!("exporters[].{key}"), errs);
        }
    }
}
