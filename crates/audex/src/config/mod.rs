//! The config file: `${VAR}` substitution, YAML with positions, the schema.
//! Input: a path. Output: [`Config`] or every error as `file:line:col: message`.

mod env;
pub mod schema;
mod tree;
mod warnings;

pub use schema::Config;
pub use tree::ConfigError;

/// Loads and checks a config file; all errors at once.
pub fn load(path: &std::path::Path) -> Result<Config, Vec<ConfigError>> {
    let file = path.display().to_string();
    let errs = tree::Errors::new(&file);
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errs.at_line(0, 0, format!("cannot read the config: {e}"));
            return Err(errs.list.into_inner());
        }
    };
    let (text, env_errors) = env::substitute(&text, |k| std::env::var(k).ok());
    for (line, m) in env_errors {
        errs.at_line(line, 0, m);
    }
    let cfg = match tree::parse(&text, &errs) {
        Some(root) => schema::read(&root, &errs),
        None => Config::default(),
    };
    if errs.is_empty() {
        Ok(cfg)
    } else {
        let mut list = errs.list.into_inner();
        list.sort_by_key(|e| (e.line, e.col));
        Err(list)
    }
}
