//! Rule key -> control ids (`pci-dss:10.2.1.5`): the packs' table
//! (`packs/controls.map`), extended or overridden by the config, applied to
//! events as `controls[]`.
use audex_proto::v1::AuditEvent;
use rustc_hash::FxHashMap;

const BUILTIN: &str = include_str!("../packs/controls.map");

/// The key -> controls table. Fx, not SipHash: every event with a key looks
/// its keys up here, and SipHash of a miss was 0.5 % of `replay`'s instructions
/// on the auditd storm capture (callgrind); the keys are the configured rules'
/// and the table is built from the config, so no input chooses what collides.
#[derive(Debug, Clone, Default)]
pub struct ControlMap {
    by_key: FxHashMap<String, Vec<String>>,
}

impl ControlMap {
    /// The table shipped with the rule packs.
    pub fn builtin() -> ControlMap {
        ControlMap::parse(BUILTIN).expect("packs/controls.map is well-formed")
    }

    /// Lines of `KEY CONTROL [CONTROL ...]`; `#` starts a comment.
    pub fn parse(text: &str) -> Result<ControlMap, String> {
        let mut m = ControlMap::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let key = words.next().unwrap_or_default();
            let controls: Vec<String> = words.map(String::from).collect();
            if controls.is_empty() {
                return Err(format!("line {}: key `{key}` maps to no control", i + 1));
            }
            m.set(key, controls);
        }
        Ok(m)
    }

    /// Replaces what `key` maps to.
    pub fn set(&mut self, key: &str, controls: Vec<String>) {
        self.by_key.insert(key.to_string(), controls);
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.by_key.get(key).map(Vec::as_slice)
    }

    /// Every control id in the table, sorted, without repeats.
    pub fn all_controls(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_key.values().flatten().cloned().collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds the controls of the event's keys to `controls[]` (sorted, no repeats).
    pub fn apply(&self, ev: &mut AuditEvent) {
        if ev.keys.is_empty() || self.by_key.is_empty() {
            return;
        }
        let before = ev.controls.len();
        for k in &ev.keys {
            if let Some(cs) = self.by_key.get(k) {
                ev.controls.extend(cs.iter().cloned());
            }
        }
        if ev.controls.len() != before {
            ev.controls.sort_unstable();
            ev.controls.dedup();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packs::PACKS;

    #[test]
    fn every_pack_key_resolves_to_a_control() {
        let m = ControlMap::builtin();
        for p in PACKS {
            let keys = p.keys();
            assert!(!keys.is_empty(), "pack {} has no keys", p.name);
            for k in keys {
                let c = m
                    .get(k)
                    .unwrap_or_else(|| panic!("pack {}: key {k} has no control", p.name));
                assert!(c.iter().all(|c| c.contains(':')), "{k}: {c:?}");
            }
        }
    }

    #[test]
    fn keys_map_to_sorted_distinct_controls_and_config_overrides() {
        let mut m = ControlMap::builtin();
        let mut ev = AuditEvent {
            keys: vec![
                "pci-privilege".into(),
                "pci-identity".into(),
                "other".into(),
            ],
            ..Default::default()
        };
        m.apply(&mut ev);
        assert_eq!(ev.controls, ["pci-dss:10.2.1.2", "pci-dss:10.2.1.5"]);
        m.set("other", vec!["site:42".into()]);
        m.apply(&mut ev);
        assert_eq!(
            ev.controls,
            ["pci-dss:10.2.1.2", "pci-dss:10.2.1.5", "site:42"]
        );
        assert!(ControlMap::parse("lonely-key\n").is_err());
    }
}
