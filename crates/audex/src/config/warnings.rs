//! What a valid config may still get wrong: key files others can read. Input:
//! a loaded [`Config`]. Output: one sentence per warning, naming the file and
//! the fix (`validate` prints them, `run` logs them at start).
use super::schema::Config;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

impl Config {
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut key = |what: String, p: &Path| {
            let Ok(meta) = std::fs::metadata(p) else {
                return;
            };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                out.push(format!(
                    "{what} {} can be read by other users (mode {mode:04o}): whoever reads it can {}; `chmod 600 {}`",
                    p.display(),
                    if what.contains("chain") {
                        "forge the archive's chain"
                    } else if what.contains("hash") {
                        "reverse the tenant's pseudonyms by trying names"
                    } else {
                        "impersonate this collector to the SIEM"
                    },
                    p.display()
                ));
            }
        };
        for t in &self.tenants {
            if let Some(p) = &t.hash_key_file {
                key(format!("tenant `{}`: hash key file", t.name), p);
            }
        }
        for e in &self.exporters {
            if let Some(p) = &e.chain_key_file {
                key(format!("exporter `{}`: chain key file", e.name), p);
            }
            if let Some(p) = &e.client_key_file {
                key(format!("exporter `{}`: client key file", e.name), p);
            }
        }
        out
    }
}
