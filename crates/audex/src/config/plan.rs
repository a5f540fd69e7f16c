//! A valid config turned into what the daemon runs, with every file it names
//! read once: the tenants for audex-policy (hash keys read), the archives'
//! chain keys, the live enrichment options. `run` starts from a plan, and a
//! reload builds a new one and compares it part by part with the running one
//! (exporters that did not change keep running). Input: a [`Config`].
//! Output: a [`Plan`], or what could not be read.
use super::schema::{read_key, Config, ExporterCfg};
use audex_export::archive::chain::ChainKey;
use std::collections::BTreeMap;

pub struct Plan {
    pub config: Config,
    /// The tenants, in config order, as audex-policy takes them.
    pub tenants: Vec<audex_policy::TenantSpec>,
    /// Each chained archive's key, by exporter name.
    pub chain_keys: BTreeMap<String, ChainKey>,
    pub enrich: audex_enrich::EnrichOptions,
    /// The key files' contents as read (tenants' hash keys, then the
    /// archives' chain keys, in config order): a key rotated under the same
    /// path is a change on reload.
    keys: Vec<Option<Vec<u8>>>,
}

impl Config {
    /// The plan of this (valid) config; each key file is read here, once.
    pub fn build(&self) -> Result<Plan, String> {
        if self.tenants.is_empty() {
            return Err(
                "the config has no tenants: name a `default` tenant with the exporters to send to"
                    .into(),
            );
        }
        let mut keys = Vec::new();
        let mut tenants = Vec::new();
        for t in &self.tenants {
            let key = match &t.redact.hash_key_file {
                Some(p) => Some(read_key(p, "hash key file")?),
                None => None,
            };
            tenants.push(t.spec_with(key.as_deref().map(audex_policy::HashKey::new)));
            keys.push(key);
        }
        audex_policy::Policy::new(&tenants)?;
        let mut chain_keys = BTreeMap::new();
        for e in &self.exporters {
            let key = match &e.chain_key_file {
                Some(p) => Some(read_key(p, "chain key file")?),
                None => None,
            };
            if let Some(k) = &key {
                chain_keys.insert(e.name.clone(), ChainKey::from_bytes(k));
            }
            keys.push(key);
        }
        Ok(Plan {
            config: self.clone(),
            tenants,
            chain_keys,
            enrich: self.enrich.options(),
            keys,
        })
    }
}

impl Plan {
    /// The tenants compiled for routing and redaction.
    pub fn policy(&self) -> audex_policy::Policy {
        audex_policy::Policy::new(&self.tenants).expect("checked when the plan was built")
    }

    /// The chain key of exporter `e`, if it is a chained archive.
    pub fn chain_key(&self, e: &ExporterCfg) -> Option<ChainKey> {
        self.chain_keys.get(&e.name).cloned()
    }

    /// Whether the exporters this plan runs (tenants with their routes and
    /// redaction, exporters, spool, the key -> control table, the keys'
    /// contents) are the ones `other` runs.
    pub fn same_outputs(&self, other: &Plan) -> bool {
        let (a, b) = (&self.config, &other.config);
        a.tenants == b.tenants
            && a.exporters == b.exporters
            && a.spool == b.spool
            && a.rules.controls == b.rules.controls
            && self.keys == other.keys
    }
}
