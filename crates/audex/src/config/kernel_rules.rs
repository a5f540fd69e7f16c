//! The kernel rules a config asks for: its rule files (glob patterns
//! expanded), its compliance packs, its watches, parsed in auditctl syntax
//! (user and group names resolved on this host). Part of the [`Plan`]; a
//! file or syntax error is reported at the config value that named it.
//! Input: a [`Config`]. Output: rules, each with where it came from.
//!
//! [`Plan`]: super::Plan
use super::schema::Config;
use super::tree::Errors;
use audex_kernel::rules::kernel_rule::KernelRule;
use audex_kernel::rules::syntax::{parse_file_text, watch_rule, Directive, Names};
use std::path::PathBuf;

/// A rule and where it came from (`file:line: \`text\``, `watch PATH`).
pub type Rule = (String, KernelRule);

/// A rules file's text (bounded, UTF-8), or why not.
pub fn read_rules_file(f: &std::path::Path) -> anyhow::Result<String> {
    let bytes = audex_io::read_limited(f, audex_io::FileKind::Rules, "rules file")?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "rules file {}: not UTF-8 at byte offset {}",
            f.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// The files one `rules.files` entry names: a glob pattern's matches sorted
/// (the `glob` crate: `*`, `?`, `[...]` in any component); a name without a
/// pattern as written (a missing file is reported when it is read).
fn files_of(pattern: &str) -> Vec<PathBuf> {
    if !pattern.contains(['*', '?', '[']) {
        return vec![PathBuf::from(pattern)];
    }
    let mut found: Vec<PathBuf> = glob::glob(pattern)
        .map(|paths| paths.flatten().filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

impl Config {
    /// The kernel rules of this config (rule files, packs, then watches);
    /// every file or syntax error goes to `errs`, so nothing is half-applied.
    pub fn kernel_rules(&self, errs: &Errors) -> Vec<Rule> {
        let names = Names::from_host();
        let mut want = Vec::new();
        let mut parse = |file: &str, text: &str, at: &dyn Fn(String)| {
            let (parsed, problems) = parse_file_text(file, text, &names);
            for p in problems {
                at(p.to_string());
            }
            for p in parsed {
                if let Directive::Rule { rule, .. } = p.directive {
                    want.push((format!("{}:{}: `{}`", p.file, p.line, p.text), rule));
                }
            }
        };
        // What `validate` rejected (a relative file, a bad watch) is not
        // reported twice.
        for pattern in self.rules.files.iter().filter(|f| f.starts_with('/')) {
            let at = |m: String| errs.at_value(pattern, format!("`rules.files`: {m}"));
            for f in files_of(pattern) {
                match read_rules_file(&f) {
                    Ok(text) => parse(&f.display().to_string(), &text, &at),
                    Err(e) => at(format!("{e:#}")),
                }
            }
        }
        for name in &self.rules.packs {
            // Unknown names were reported by `validate`.
            if let Ok(pack) = audex_compliance::packs::pack(name) {
                let at = |m: String| errs.at_value(name, format!("`rules.packs`: {m}"));
                parse(&format!("pack:{}", name.value), pack.rules, &at);
            }
        }
        for w in self
            .rules
            .watch
            .iter()
            .filter(|w| w.path_ok() && w.perm_ok())
        {
            match watch_rule(&w.path, &w.perm, &w.key) {
                Ok(rule) => want.push((format!("watch {}", w.path), rule)),
                Err(e) => errs.at_value(w, format!("watch {}: {e}", w.path)),
            }
        }
        want
    }
}
