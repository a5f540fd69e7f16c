//! What the node must have for a valid config to run: the files it names
//! readable (TLS files holding a certificate or a key), the host root a
//! directory. Key files are only opened here: their content is read once,
//! when the plan is built (`plan`). Plain `audex validate` and every start
//! run these; `--no-environment` does not. Input: a [`Config`]. Output:
//! errors in [`Errors`].
use super::de::Spanned;
use super::schema::Config;
use super::tree::Errors;
use std::path::{Path, PathBuf};

impl Config {
    pub fn check_node(&self, errs: &Errors) {
        let root = &self.enrich.host_root;
        if !root.is_dir() {
            errs.at_value(
                root,
                format!("`enrich.host_root`: {} is not a directory", root.display()),
            );
        }
        if let Some(l) = &self.local {
            for g in &l.admin_groups {
                let malformed = g.trim().is_empty() || g.contains(':');
                if !malformed
                    && g.parse::<u32>().is_err()
                    && group_id(&root.join("etc/group"), g).is_none()
                {
                    errs.at_value(
                        g,
                        format!(
                            "`local.admin_groups`: no group `{}` in {}",
                            g.value,
                            root.join("etc/group").display()
                        ),
                    );
                }
            }
        }
        for t in &self.tenants {
            if let Some(p) = &t.redact.hash_key_file {
                readable(p, "tenants[].redact.hash_key_file", errs);
            }
        }
        for e in &self.exporters {
            for (key, f) in [
                ("ca_file", &e.ca_file),
                ("client_cert_file", &e.client_cert_file),
                ("client_key_file", &e.client_key_file),
            ] {
                if let Some(p) = f {
                    let path = format!("exporters[].{key}");
                    if readable(p, &path, errs) {
                        if let Err(why) = audex_export::pem::check(p, key) {
                            errs.at_value(p, format!("`{path}`: {why}"));
                        }
                    }
                }
            }
            if let Some(p) = &e.chain_key_file {
                readable(p, "exporters[].chain_key_file", errs);
            }
        }
    }
}

/// Whether the file `p` can be opened for reading (a regular file); if not,
/// why, at its value.
fn readable(p: &Spanned<PathBuf>, key: &str, errs: &Errors) -> bool {
    let path: &Path = p;
    if let Err(e) = std::fs::metadata(path) {
        errs.at_value(p, format!("`{key}`: cannot read {}: {e}", path.display()));
        return false;
    }
    if let Err(e) = audex_io::open_regular(path, "file") {
        errs.at_value(p, format!("`{key}`: cannot read: {e}"));
        return false;
    }
    path.is_file()
}

/// The gid of group `name` in a group file (`name:x:gid:members`).
pub fn group_id(group_file: &Path, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(group_file).ok()?;
    text.lines().find_map(|l| {
        let mut it = l.split(':');
        (it.next()? == name).then_some(())?;
        it.nth(1)?.trim().parse().ok()
    })
}
