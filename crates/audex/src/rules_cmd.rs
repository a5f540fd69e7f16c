//! `audex rules check|load|delete [FILE...] [--pack NAME...]`, `audex rules list`
//! and `audex rules packs [NAME]`.
use crate::cli::{RuleSources, RulesCommand};
use anyhow::{Context, Result};
use audex_compliance::controls::ControlMap;
use audex_compliance::packs;
use audex_kernel::rules::syntax::{Directive, Names, Parsed, RuleOp};
use audex_kernel::rules::{parse_file_text, RuleError};
use audex_kernel::AuditSocket;
use std::process::ExitCode;

fn parse_files(src: &RuleSources) -> Result<(Vec<Parsed>, Vec<RuleError>)> {
    if src.files.is_empty() && src.packs.is_empty() {
        anyhow::bail!("no rule files or --pack given");
    }
    let names = Names::from_host();
    let (mut all, mut errs) = (Vec::new(), Vec::new());
    for f in &src.files {
        let text = audex::config::kernel_rules::read_rules_file(f)?;
        let (p, e) = parse_file_text(&f.display().to_string(), &text, &names);
        all.extend(p);
        errs.extend(e);
    }
    for name in &src.packs {
        let pack = packs::pack(name).map_err(anyhow::Error::msg)?;
        let (p, e) = parse_file_text(&format!("pack:{name}"), pack.rules, &names);
        all.extend(p);
        errs.extend(e);
    }
    Ok((all, errs))
}

/// `audex rules packs [NAME]`.
fn show_packs(name: Option<&str>) -> Result<ExitCode> {
    let Some(name) = name else {
        println!("{:<10} {:>5}  {:>4}  summary", "pack", "rules", "keys");
        for p in packs::PACKS {
            println!(
                "{:<10} {:>5}  {:>4}  {}",
                p.name,
                p.rule_count(),
                p.keys().len(),
                p.summary()
            );
        }
        println!("\nUse one with `audex rules load --pack NAME`, or `rules: {{packs: [NAME]}}` in the config.");
        return Ok(ExitCode::SUCCESS);
    };
    let pack = packs::pack(name).map_err(anyhow::Error::msg)?;
    print!("{}", pack.rules);
    let table = ControlMap::builtin();
    println!("\n## keys -> controls");
    for k in pack.keys() {
        println!("## {k}: {}", table.get(k).unwrap_or_default().join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

fn open_control() -> Result<AuditSocket> {
    let s = AuditSocket::open().context("opening the audit netlink socket")?;
    s.set_read_timeout(5000)?;
    Ok(s)
}

pub fn run(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::Packs { name } => show_packs(name.as_deref()),
        RulesCommand::Check(src) => {
            let (parsed, errs) = parse_files(&src)?;
            for e in &errs {
                eprintln!("{e}");
            }
            let rules = parsed
                .iter()
                .filter(|p| matches!(p.directive, Directive::Rule { .. }))
                .count();
            let controls = parsed.len() - rules;
            eprintln!(
                "audex: {rules} rules, {controls} control lines, {} errors",
                errs.len()
            );
            Ok(if errs.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        RulesCommand::Load(src) => apply(&src, false),
        RulesCommand::Delete(src) => apply(&src, true),
        RulesCommand::Plan { config } => plan(&config),
        RulesCommand::List => {
            let mut s = open_control()?;
            let rules = s
                .list_rules()
                .map_err(|e| anyhow::anyhow!("listing rules: {}", e.explained()))?;
            if rules.is_empty() {
                println!("No rules");
            }
            for r in rules {
                println!("{}", r.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `audex rules plan --config FILE`: each top-level filter, pushed down (its
/// rules) or kept in user space (why); then the tenants' filters, which stay.
fn plan(path: &std::path::Path) -> Result<ExitCode> {
    use audex::config::pushdown::Decision;
    let cfg = match audex::config::load(path) {
        Ok(c) => c,
        Err(errs) => {
            for e in &errs {
                eprintln!("{e}");
            }
            eprintln!("audex: {} is not a valid config", path.display());
            return Ok(ExitCode::from(1));
        }
    };
    let decisions = cfg.pushdown();
    let pushed = decisions
        .iter()
        .filter(|(_, d)| matches!(d, Decision::Pushed(_)))
        .count();
    for (name, d) in &decisions {
        match d {
            Decision::Pushed(rules) => {
                println!(
                    "filter {name}: pushed down to the kernel as {} rule(s):",
                    rules.len()
                );
                for (text, _) in rules {
                    println!("  {text}");
                }
            }
            Decision::Kept(why) => println!("filter {name}: stays in user space: {why}"),
        }
    }
    for t in &cfg.tenants {
        for f in &t.filters {
            println!(
                "filter {} (tenant {}): stays in user space: the kernel cannot tell an event's tenant",
                f.name, t.name
            );
        }
    }
    eprintln!(
        "audex: {pushed} of {} top-level filters pushed down",
        decisions.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn apply(src: &RuleSources, delete: bool) -> Result<ExitCode> {
    let (mut parsed, errs) = parse_files(src)?;
    for e in &errs {
        eprintln!("{e}");
    }
    if delete {
        for p in &mut parsed {
            if let Directive::Rule { op, .. } = &mut p.directive {
                *op = RuleOp::Delete;
            }
        }
    }
    let mut s = open_control()?;
    let rep = s.apply(&parsed);
    for r in &rep.refused {
        eprintln!("{r}");
    }
    for c in &rep.skipped_controls {
        eprintln!("{c}: control line not applied (audit settings belong in the audex config)");
    }
    eprintln!(
        "audex: {} rules {}, {} refused by the kernel, {} with errors",
        rep.applied.len(),
        if delete { "deleted" } else { "loaded" },
        rep.refused.len(),
        errs.len()
    );
    Ok(if rep.refused.is_empty() && errs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
