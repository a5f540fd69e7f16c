//! What a valid config may still get wrong: key files others can read, names
//! hashed while their numeric ids stay plain. Input: a loaded [`Config`].
//! Output: one sentence per warning, naming the file or tenant and the fix
//! (`validate` prints them, `run` logs them at start).
use super::schema::Config;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

impl Config {
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.tenants {
            let names = t
                .redact
                .hash
                .iter()
                .any(|h| h.ends_with("_name") || h.contains('*'));
            let ids_dropped = t
                .redact
                .drop
                .iter()
                .any(|d| d == "actor" || d == "actor.uid");
            if names && !t.redact.hash_ids && !ids_dropped {
                out.push(format!(
                    "tenant `{}` hashes user or group names but leaves their numeric ids (actor.uid, files[].ouid...): an id names the user as well as the name does; set `redact.hash_ids: true`",
                    t.name
                ));
            }
        }
        let mut key_files: Vec<(String, &Path)> = Vec::new();
        for t in &self.tenants {
            if let Some(p) = &t.redact.hash_key_file {
                key_files.push((format!("tenant `{}`: hash key file", t.name), p));
            }
        }
        for e in &self.exporters {
            if let Some(p) = &e.chain_key_file {
                key_files.push((format!("exporter `{}`: chain key file", e.name), p));
            }
            if let Some(p) = &e.client_key_file {
                key_files.push((format!("exporter `{}`: client key file", e.name), p));
            }
        }
        for (what, p) in key_files {
            let Ok(meta) = std::fs::metadata(p) else {
                continue;
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
        }
        out
    }
}
