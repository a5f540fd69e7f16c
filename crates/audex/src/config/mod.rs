//! The config file: `${VAR}` substitution, YAML with positions, read into
//! typed data ([`schema`], by [`de`]), checked (`validate`: nothing read from
//! disk; `node_checks`: what the node must have).
//! Input: a path. Output: [`Config`] or every error as `file:line:col: message`.

mod backend_names;
mod de;
mod env;
pub mod kernel_rules;
mod node_checks;
mod plan;
pub mod pushdown;
pub mod schema;
mod tree;
mod validate;
mod warnings;

pub use de::Spanned;
pub use node_checks::group_id;
pub use plan::Plan;
pub use schema::Config;
pub use tree::ConfigError;

/// Loads and checks a config file on its node; all errors at once.
pub fn load(path: &std::path::Path) -> Result<Config, Vec<ConfigError>> {
    read_then(path, |file, bytes| {
        load_bytes(file, bytes, |k| std::env::var(k).ok())
    })
}

/// Loads, checks and builds a config on its node: the [`Plan`] `run` and
/// `replay --config` start from (each key file read once, a key that cannot
/// be used reported with its line); all errors at once.
pub fn load_plan(path: &std::path::Path) -> Result<Plan, Vec<ConfigError>> {
    read_then(path, |file, bytes| {
        plan_bytes(file, bytes, |k| std::env::var(k).ok())
    })
}

/// Checks a config without its node (`audex validate --no-environment`, for
/// CI): no file it names is opened, no environment variable read (`${VAR}`
/// takes its default, else stays as written). Every other mistake is reported as
/// [`load`] reports it.
pub fn load_offline(path: &std::path::Path) -> Result<Config, Vec<ConfigError>> {
    read_then(path, |file, bytes| {
        let (cfg, errs) = check(file, bytes, |_| None, false);
        errs.finish().map(|()| cfg)
    })
}

/// The config file's bytes given to `then`, or why they cannot be read.
fn read_then<T>(
    path: &std::path::Path,
    then: impl FnOnce(&str, &[u8]) -> Result<T, Vec<ConfigError>>,
) -> Result<T, Vec<ConfigError>> {
    let file = path.display().to_string();
    match audex_io::read_limited(path, audex_io::FileKind::Config, "config") {
        Ok(bytes) => then(&file, &bytes),
        Err(e) => {
            let errs = tree::Errors::new(&file);
            errs.at_line(0, 0, format!("cannot read the config: {e}"));
            Err(errs.list.into_inner())
        }
    }
}

/// Checks a config's bytes on its node (`file` names it in messages; `env`
/// gives the values of `${VAR}`); all errors at once.
pub fn load_bytes(
    file: &str,
    bytes: &[u8],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, Vec<ConfigError>> {
    let (cfg, errs) = check(file, bytes, env, true);
    errs.finish().map(|()| cfg)
}

/// [`load_bytes`], then the plan built.
pub fn plan_bytes(
    file: &str,
    bytes: &[u8],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Plan, Vec<ConfigError>> {
    let (cfg, errs) = check(file, bytes, env, true);
    let plan = cfg.build(&errs);
    errs.finish()?;
    Ok(plan.expect("a plan when nothing went wrong"))
}

fn check(
    file: &str,
    bytes: &[u8],
    env: impl Fn(&str) -> Option<String>,
    environment: bool,
) -> (Config, tree::Errors) {
    let mut errs = tree::Errors::new(file);
    errs.environment = environment;
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            let good = &bytes[..at];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = at - good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            errs.at_line(
                line,
                col,
                format!(
                    "the config is not UTF-8: invalid byte 0x{:02x} at byte offset {at}",
                    bytes[at]
                ),
            );
            return (Config::default(), errs);
        }
    };
    let (text, env_errors) = env::substitute(text, env, !environment);
    for (line, m) in env_errors {
        errs.at_line(line, 0, m);
    }
    let root = tree::parse(&text, &errs);
    // A file that is not YAML gives its syntax error alone.
    let tree_read = root.is_some();
    let cfg: Config = match root {
        Some(root) => de::from_node(&root, &errs),
        None => Config::default(),
    };
    if errs.is_empty() || tree_read {
        cfg.validate(&errs);
        if environment {
            cfg.check_node(&errs);
        }
    }
    (cfg, errs)
}
