//! `audex run --config FILE`: the daemon. Checks the whole config before touching
//! the kernel; installs the configured rules (files and watches) and removes them
//! on exit; reads the kernel; routes events to tenants and their exporters
//! (spooled, delivered, at least once); on SIGTERM/SIGINT drains, removes its
//! rules and puts kernel audit back as it found it. Once its rules are in, it
//! drops every capability but CAP_AUDIT_READ (multicast) and CAP_AUDIT_CONTROL
//! (only while it has rules or settings to undo), before any thread starts; in
//! multicast mode it runs as a non-root uid holding CAP_AUDIT_READ alone.
use crate::config::schema::Config;
use crate::live::{self, LiveOptions};
use crate::outputs::{glob, Outputs};
use crate::signals;
use anyhow::{Context, Result};
use audex_kernel::caps;
use audex_kernel::rules::syntax::{parse_args, parse_file_text, Directive, Names};
use audex_kernel::rules::RuleSet;
use audex_kernel::source::{Mode, Source, SourceConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Rule files named by the config, globs (`*` in the file name) expanded, sorted.
fn rule_files(cfg: &Config) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in &cfg.rules.files {
        let p = Path::new(f);
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.contains('*') {
            out.push(p.to_path_buf());
            continue;
        }
        let dir = p.parent().unwrap_or(Path::new("/"));
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|q| {
                        q.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| glob(name, n))
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        out.extend(found);
    }
    out
}

/// Installs the configured rules; each refusal is reported and skipped.
fn install_rules(cfg: &Config, src: &mut Source, rules: &mut RuleSet) -> Result<()> {
    let names = Names::from_host();
    for f in rule_files(cfg) {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("rule file {}", f.display()))?;
        let (parsed, errs) = parse_file_text(&f.display().to_string(), &text, &names);
        for e in errs {
            eprintln!("audex: {e}");
        }
        for p in parsed {
            if let Directive::Rule { rule, .. } = p.directive {
                match src.control().add_rule(&rule) {
                    Ok(()) => rules.track(rule),
                    Err(e) => eprintln!(
                        "audex: {}:{}: the kernel refused `{}`: {e}",
                        p.file, p.line, p.text
                    ),
                }
            }
        }
    }
    for w in &cfg.rules.watch {
        let mut words = vec!["-w", w.path.as_str(), "-p", w.perm.as_str()];
        if !w.key.is_empty() {
            words.extend(["-k", w.key.as_str()]);
        }
        let Directive::Rule { rule, .. } =
            parse_args(&words, &names).map_err(|e| anyhow::anyhow!("watch {}: {e}", w.path))?
        else {
            continue;
        };
        src.control()
            .add_rule(&rule)
            .map_err(|e| anyhow::anyhow!("watch {}: the kernel refused it: {e}", w.path))?;
        rules.track(rule);
    }
    Ok(())
}

/// A setting this build accepts in the schema but does not carry out yet: refused,
/// never silently ignored.
fn not_built(cfg: &Config) -> Option<String> {
    if !cfg.rules.packs.is_empty() {
        return Some("`rules.packs` (compliance rule packs) is not in this build; list the rule files under `rules.files`".into());
    }
    if cfg.enrich.kubernetes_enabled {
        return Some(
            "`enrich.kubernetes.enabled` (pod and namespace enrichment) is not in this build"
                .into(),
        );
    }
    if cfg.metrics.listen.is_some() {
        return Some("`metrics.listen` (the metrics endpoint) is not in this build".into());
    }
    None
}

pub fn run(path: &Path) -> Result<ExitCode> {
    // Every config error before the kernel is touched.
    let cfg = match crate::config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "audex: {} has {} errors; nothing was changed in the kernel",
                path.display(),
                errors.len()
            );
            return Ok(ExitCode::from(1));
        }
    };
    if let Some(why) = not_built(&cfg) {
        eprintln!(
            "audex: {}: {why}; nothing was changed in the kernel",
            path.display()
        );
        return Ok(ExitCode::from(1));
    }
    let node = if cfg.enrich.node_name.is_empty() {
        live::hostname().unwrap_or_default()
    } else {
        cfg.enrich.node_name.clone()
    };
    signals::install();
    let mode: Mode = cfg
        .source
        .mode
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let mut src = Source::open(&SourceConfig {
        mode,
        recv_buffer_bytes: cfg.source.recv_buffer_bytes.unwrap_or(8 << 20) as usize,
        backlog_limit: cfg.source.backlog_limit,
        rate_limit: cfg.source.rate_limit,
        backlog_wait_time: cfg.source.backlog_wait_time,
        failure: cfg.source.failure,
        ..Default::default()
    })?;
    if !src.status_readable {
        eprintln!("audex: without CAP_AUDIT_CONTROL the kernel's status is unreadable: no lost-record counts, and kernel audit must be enabled by the host");
    }
    let mut rules = RuleSet::default();
    let mut outputs: Option<Outputs> = None;
    let result = (|| -> Result<()> {
        if !cfg.rules.files.is_empty() || !cfg.rules.watch.is_empty() {
            caps::require(&[(caps::CAP_AUDIT_CONTROL, "install the configured rules")])
                .map_err(anyhow::Error::msg)?;
        }
        install_rules(&cfg, &mut src, &mut rules)?;
        // Threads inherit capabilities, so drop before any starts.
        let mut keep = Vec::new();
        if src.mode == Mode::Multicast {
            keep.push(caps::CAP_AUDIT_READ);
        }
        if src.needs_control() || !rules.rules().is_empty() {
            keep.push(caps::CAP_AUDIT_CONTROL);
        }
        let kept =
            caps::keep_only(&keep).map_err(|e| anyhow::anyhow!("dropping capabilities: {e}"))?;
        eprintln!(
            "audex: capabilities kept: {}",
            if kept.is_empty() {
                "none".to_string()
            } else {
                kept.join(", ")
            }
        );
        let outputs = outputs.insert(Outputs::start(&cfg, &node)?);
        eprintln!(
            "audex: running, watching with {} rules ({} mode, {} tenants, {} exporters)",
            rules.rules().len(),
            if src.mode == Mode::Multicast {
                "multicast"
            } else {
                "unicast"
            },
            cfg.tenants.len(),
            cfg.exporters.len()
        );
        let opts = LiveOptions {
            host_root: cfg.enrich.host_root.clone(),
            node: Some(node.clone()),
        };
        let out = std::cell::RefCell::new(outputs);
        live::read_loop(
            &mut src,
            &opts,
            &mut |ev| out.borrow_mut().send(ev),
            &mut || out.borrow_mut().tick(),
        )
    })();
    for e in rules.remove_all(src.control()) {
        eprintln!("audex: removing a rule: {e}");
    }
    for e in src.close() {
        eprintln!("audex: {e}");
    }
    let mut code = ExitCode::SUCCESS;
    for r in match outputs {
        Some(o) => o.finish(Instant::now() + Duration::from_secs(10))?,
        None => Vec::new(),
    } {
        eprintln!(
            "audex: exporter {}: {} exported, {} rejected, {} refused for good, {} retries, {} dropped by the spool bound, {} still spooled",
            r.name, r.exported, r.rejected, r.failed, r.retries, r.dropped, r.pending
        );
    }
    if let Err(e) = result {
        eprintln!("audex: error: {e:#}");
        code = ExitCode::from(1);
    }
    eprintln!("audex: stopped; rules removed, kernel audit restored");
    Ok(code)
}
