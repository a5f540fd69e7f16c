//! A valid config turned into what the daemon runs, with every file it
//! names read once: the kernel rules (filters pushed down, rule files,
//! packs, watches), the
//! tenants compiled for audex-policy (hash keys read), the archives' chain
//! keys. `run` starts from a plan, and a
//! reload builds a new one and compares it part by part with the running one
//! (exporters that did not change keep running). Input: a [`Config`].
//! Output: a [`Plan`], or what could not be read, at the value that names it.
use super::de::Spanned;
use super::schema::{read_key, Config, ExporterCfg};
use super::tree::Errors;
use audex_export::archive::chain::ChainKey;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct Plan {
    pub config: Config,
    /// The kernel rules it asks for, each with where it came from: first
    /// the `pushed` rules of filters pushed down.
    pub rules: Vec<super::kernel_rules::Rule>,
    pub pushed: usize,
    /// The tenants compiled for routing and redaction (hash keys in).
    policy: audex_policy::Policy,
    /// The top-level filters, then each tenant's, compiled.
    filters: (Vec<audex_policy::Filter>, Vec<Vec<audex_policy::Filter>>),
    /// The process label rules, compiled.
    labels: audex_policy::Labels,
    /// Each chained archive's key, by exporter name.
    pub chain_keys: BTreeMap<String, ChainKey>,
    /// The key files' contents as read (tenants' hash keys, then the
    /// archives' chain keys, in config order): a key rotated under the same
    /// path is a change on reload.
    keys: Vec<Option<Vec<u8>>>,
}

impl Config {
    /// The plan of this config, checked on its node (`node_checks`); each
    /// key file is read here, once, and a key that cannot be used is reported
    /// at the value that names it (beside the config's other mistakes: a plan
    /// comes only when there is none).
    pub fn build(&self, errs: &Errors) -> Option<Plan> {
        let mut keys = Vec::new();
        let read = |p: &Option<Spanned<PathBuf>>, what: &str| -> Option<Vec<u8>> {
            // A file that is not there was reported by the node checks.
            let p = p.as_ref().filter(|p| p.is_file())?;
            read_key(p, what).map_err(|why| errs.at_value(p, why)).ok()
        };
        let mut tenants = Vec::new();
        for t in &self.tenants {
            let key = read(&t.redact.hash_key_file, "hash key file");
            tenants.push(t.spec_with(key.as_deref().map(audex_policy::HashKey::new)));
            keys.push(key);
        }
        let mut chain_keys = BTreeMap::new();
        for e in &self.exporters {
            let key = read(&e.chain_key_file, "chain key file");
            if let Some(k) = &key {
                chain_keys.insert(e.name.clone(), ChainKey::from_bytes(k));
            }
            keys.push(key);
        }
        // Pushed-down filters first (they are prepended in the kernel anyway).
        let mut rules = self.pushed_rules();
        let pushed = rules.len();
        rules.extend(self.kernel_rules(errs));
        if !errs.is_empty() {
            return None;
        }
        let policy = match audex_policy::Policy::new(&tenants) {
            Ok(p) => p,
            Err(why) => {
                errs.at_line(1, 0, why);
                return None;
            }
        };
        let compile = |fs: &[Spanned<super::schema::FilterCfg>]| -> Option<Vec<_>> {
            fs.iter()
                .map(|f| {
                    audex_policy::Filter::compile(&f.spec())
                        .map_err(|why| errs.at_value(f, why))
                        .ok()
                })
                .collect()
        };
        let specs: Vec<_> = self.labels.iter().map(|l| l.spec()).collect();
        let labels = match audex_policy::Labels::compile(&specs) {
            Ok(l) => l,
            Err(why) => {
                errs.at_line(1, 0, why);
                return None;
            }
        };
        let top = compile(&self.filters)?;
        let per_tenant = self
            .tenants
            .iter()
            .map(|t| compile(&t.filters))
            .collect::<Option<Vec<_>>>()?;
        Some(Plan {
            config: self.clone(),
            rules,
            pushed,
            policy,
            filters: (top, per_tenant),
            labels,
            chain_keys,
            keys,
        })
    }
}

impl Plan {
    /// The tenants compiled for routing and redaction (compiled once, when
    /// the plan was built).
    pub fn policy(&self) -> audex_policy::Policy {
        self.policy.clone()
    }

    /// The filters, compiled when the plan was built, with no memory yet:
    /// the top-level ones and each tenant's (policy order).
    pub fn filters(&self) -> (Vec<audex_policy::Filter>, Vec<Vec<audex_policy::Filter>>) {
        self.filters.clone()
    }

    /// The process label rules (for the enrichment of `run` and `replay
    /// --config`).
    pub fn labels(&self) -> audex_policy::Labels {
        self.labels.clone()
    }

    /// The chain key of exporter `e`, if it is a chained archive.
    pub fn chain_key(&self, e: &ExporterCfg) -> Option<ChainKey> {
        self.chain_keys.get(&e.name).cloned()
    }

    /// Whether the exporters this plan runs (tenants with their routes,
    /// filters and redaction, exporters, spool, the key -> control table, the keys'
    /// contents) are the ones `other` runs.
    pub fn same_outputs(&self, other: &Plan) -> bool {
        let (a, b) = (&self.config, &other.config);
        a.tenants == b.tenants
            && a.filters == b.filters
            && a.max_args == b.max_args
            && a.max_argv_bytes == b.max_argv_bytes
            && a.exporters == b.exporters
            && a.spool == b.spool
            && a.rules.controls == b.rules.controls
            && self.keys == other.keys
    }
}
