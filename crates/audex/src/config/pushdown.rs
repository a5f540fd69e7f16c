//! Kernel pushdown of filters: a top-level `drop` filter whose selector the
//! kernel can evaluate (absolute programs, uid and auid ranges, syscalls,
//! outcome; or user-space record types alone) and whose dropped events
//! nobody needs (no `exporters`, no `keep_first_per_process`, no label rules
//! that learn from execs) becomes `never` rules, prepended (`-A`) to the exit
//! list so they come before any other rule (or `exclude` rules for record
//! types): the kernel never sends those records. The filter stays
//! in user space too, for what the kernel cannot exclude (user-space
//! messages). Input: a [`Config`]. Output: per filter, its rules or why it
//! stays in user space; `audex rules plan` prints it, `run` installs the
//! rules with its own (never rules keyed `audex-pushdown:<filter>`; removed
//! on exit).
use super::kernel_rules::Rule;
use super::schema::{Config, FilterCfg};
use audex_kernel::rules::kernel_rule::KernelRule;
use audex_kernel::rules::syntax::{parse_file_text, Directive, Names};

/// Kernel rules one filter may become at most (its lists multiply).
pub const MAX_RULES_PER_FILTER: usize = 32;

/// What happens to one top-level filter.
#[derive(Debug, Clone)]
pub enum Decision {
    /// The rules: each in auditctl syntax and parsed.
    Pushed(Vec<(String, KernelRule)>),
    /// Why it stays in user space only.
    Kept(String),
}

/// The key of the rules pushed for filter `name`.
pub fn key_of(name: &str) -> String {
    format!("audex-pushdown:{name}")
}

/// `a-b` as kernel fields on `field`.
fn range_fields(field: &str, (a, b): (u32, u32)) -> String {
    if a == b {
        format!("-F {field}={a}")
    } else {
        format!("-F {field}>={a} -F {field}<={b}")
    }
}

/// The rule lines of `f`, or why it has none.
fn rule_lines(cfg: &Config, f: &FilterCfg) -> Result<Vec<String>, String> {
    if f.keep.is_some() {
        return Err(
            "a `keep` filter takes what its selector misses: no kernel rule says that".into(),
        );
    }
    if f.fold_repeats.is_some() {
        return Err("it folds repeats: the kernel cannot".into());
    }
    if f.keep_first_per_process {
        return Err("`keep_first_per_process` needs the events to pick the first".into());
    }
    if !f.exporters.is_empty() {
        return Err(format!(
            "its exporters ({}) receive what it drops",
            f.exporters.join(", ")
        ));
    }
    if !cfg.labels.is_empty() {
        return Err(
            "the config labels processes: their events must reach the process cache".into(),
        );
    }
    let Some(sel) = f.drop.as_ref() else {
        return Err("no `drop` selector".into());
    };
    let spec = sel.spec();
    if !spec.record_types.is_empty() {
        return exclude_lines(&spec);
    }
    never_lines(&f.name, &spec)
}

/// The criteria of `spec` a `never` rule cannot say.
fn not_kernel(spec: &audex_policy::SelectorSpec) -> Vec<&'static str> {
    let mut not_kernel = Vec::new();
    for (name, given) in [
        ("keys", !spec.keys.is_empty() || spec.no_key),
        ("comm", !spec.comm.is_empty()),
        ("paths", !spec.paths.is_empty()),
        ("actions", !spec.actions.is_empty()),
        ("categories", !spec.categories.is_empty()),
        ("k8s_namespaces", !spec.k8s_namespaces.is_empty()),
        ("pod_labels", !spec.pod_labels.is_empty()),
        ("container", spec.container.is_some()),
        ("addresses", !spec.addresses.is_empty()),
        ("ports", !spec.ports.is_empty()),
        ("labels", !spec.labels.is_empty()),
    ] {
        if given {
            not_kernel.push(name);
        }
    }
    not_kernel
}

/// A selector of programs, ids, syscalls and outcome as `never` rules.
fn never_lines(name: &str, spec: &audex_policy::SelectorSpec) -> Result<Vec<String>, String> {
    let not_kernel = not_kernel(spec);
    if !not_kernel.is_empty() {
        return Err(format!(
            "the kernel cannot evaluate `{}`",
            not_kernel.join("`, `")
        ));
    }
    if let Some(x) = spec
        .exe
        .iter()
        .find(|x| !x.starts_with('/') || x.contains(['*', '?', '[']))
    {
        return Err(format!(
            "`exe: {x}` is not an absolute program path (the kernel matches exact paths, no globs or base names)"
        ));
    }
    let outcome = match spec.outcome.as_deref() {
        None => String::new(),
        Some("success") => " -F success=1".into(),
        Some("failure") => " -F success=0".into(),
        Some(o) => return Err(format!("`outcome: {o}` has no kernel equivalent")),
    };
    let syscalls: String = if spec.syscalls.is_empty() {
        String::new()
    } else {
        format!(
            " -F arch=b64{}",
            spec.syscalls
                .iter()
                .map(|s| format!(" -S {s}"))
                .collect::<String>()
        )
    };
    // Each list is an "any of": one rule per combination.
    let options = |v: Vec<String>| if v.is_empty() { vec![String::new()] } else { v };
    let exes = options(spec.exe.iter().map(|x| format!(" -F exe={x}")).collect());
    let uids = options(
        spec.uids
            .iter()
            .map(|r| format!(" {}", range_fields("uid", *r)))
            .collect(),
    );
    let auids = options(
        spec.auids
            .iter()
            .map(|r| format!(" {}", range_fields("auid", *r)))
            .collect(),
    );
    let count = exes.len() * uids.len() * auids.len();
    if count > MAX_RULES_PER_FILTER {
        return Err(format!(
            "it would take {count} kernel rules (at most {MAX_RULES_PER_FILTER})"
        ));
    }
    let mut lines = Vec::new();
    for x in &exes {
        for u in &uids {
            for a in &auids {
                lines.push(format!(
                    "-A never,exit{syscalls}{x}{u}{a}{outcome} -k {}",
                    key_of(name)
                ));
            }
        }
    }
    Ok(lines)
}

/// A selector of record types alone, as exclude rules (the kernel drops
/// those records before they are sent); only user-space message types,
/// whose events are one record: excluding a syscall event's record type
/// would leave the rest of its records.
fn exclude_lines(spec: &audex_policy::SelectorSpec) -> Result<Vec<String>, String> {
    let alone = audex_policy::SelectorSpec {
        record_types: spec.record_types.clone(),
        ..Default::default()
    };
    if *spec != alone {
        return Err(
            "`record_types` is pushed down alone (an exclude rule sees the record type only)"
                .into(),
        );
    }
    let mut lines = Vec::new();
    for t in &spec.record_types {
        let n = audex_parse::RecordType::from_name(t.as_bytes())
            .map(|r| r.0)
            .ok_or_else(|| format!("`{t}` is not a record type"))?;
        // USER (1005), the user-space message blocks 1100-1199 and 2100-2999.
        if n != 1005 && !(1100..=1199).contains(&n) && !(2100..=2999).contains(&n) {
            return Err(format!(
                "`{t}` is not a user-space message type: excluding it would cut events apart"
            ));
        }
        // No key: the kernel's exclude list gives up on a rule with a field it
        // does not evaluate there (a key among them) and lets the record through.
        lines.push(format!("-A always,exclude -F msgtype={t}"));
    }
    Ok(lines)
}

impl Config {
    /// Per top-level filter (config order): pushed rules or why not. Tenant
    /// filters are never pushed: the kernel cannot tell an event's tenant.
    pub fn pushdown(&self) -> Vec<(String, Decision)> {
        let names = Names::from_host();
        self.filters
            .iter()
            .map(|f| {
                let decision = match rule_lines(self, f) {
                    Err(why) => Decision::Kept(why),
                    Ok(lines) => {
                        let text = lines.join("\n");
                        let file = format!("filter {}", f.name);
                        let (parsed, problems) = parse_file_text(&file, &text, &names);
                        match problems.first() {
                            Some(p) => Decision::Kept(format!("its rule does not parse: {p}")),
                            None => Decision::Pushed(
                                parsed
                                    .into_iter()
                                    .filter_map(|p| match p.directive {
                                        Directive::Rule { rule, .. } => Some((p.text, rule)),
                                        _ => None,
                                    })
                                    .collect(),
                            ),
                        }
                    }
                };
                (f.name.clone(), decision)
            })
            .collect()
    }

    /// The pushed-down rules, all filters together, each with where it came
    /// from (`filter NAME (pushed down): \`RULE\``).
    pub fn pushed_rules(&self) -> Vec<Rule> {
        self.pushdown()
            .into_iter()
            .flat_map(|(name, d)| match d {
                Decision::Pushed(rules) => rules
                    .into_iter()
                    .map(|(text, rule)| (format!("filter {name} (pushed down): `{text}`"), rule))
                    .collect(),
                Decision::Kept(_) => Vec::new(),
            })
            .collect()
    }
}
