//! Kernel pushdown of filters: a top-level `drop` filter whose selector the
//! kernel can evaluate (absolute programs, uid and auid ranges, syscalls,
//! outcome) and whose dropped events nobody needs (no `exporters`, no
//! `keep_first_per_process`, no label rules that learn from execs) becomes
//! `never` rules, prepended (`-A`) to the exit list so they come before any
//! other rule: the kernel never sends those syscall records. The filter stays
//! in user space too, for what the kernel cannot exclude (user-space
//! messages). Input: a [`Config`]. Output: per filter, its rules or why it
//! stays in user space; `audex rules plan` prints it, `run` installs the
//! rules with its own (keyed `audex-pushdown:<filter>`, removed on exit).
use super::kernel_rules::Rule;
use super::schema::{Config, FilterCfg};
use audex_kernel::rules::syntax::{parse_file_text, Directive, Names};

/// Kernel rules one filter may become at most (its lists multiply).
pub const MAX_RULES_PER_FILTER: usize = 32;

/// What happens to one top-level filter.
#[derive(Debug, Clone)]
pub enum Decision {
    /// The rules, in auditctl syntax and parsed.
    Pushed(Vec<Rule>),
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
                    key_of(&f.name)
                ));
            }
        }
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
                                        Directive::Rule { rule, .. } => Some((
                                            format!(
                                                "filter {} (pushed down): `{}`",
                                                f.name, p.text
                                            ),
                                            rule,
                                        )),
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

    /// The pushed-down rules, all filters together.
    pub fn pushed_rules(&self) -> Vec<Rule> {
        self.pushdown()
            .into_iter()
            .flat_map(|(_, d)| match d {
                Decision::Pushed(r) => r,
                Decision::Kept(_) => Vec::new(),
            })
            .collect()
    }
}
