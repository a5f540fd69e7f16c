//! The rule packs shipped with audex: auditctl-syntax rule files compiled into
//! the binary (`crates/audex-compliance/packs/*.rules`), used by name
//! (`rules: {packs: [pci-dss]}`, `audex rules load --pack pci-dss`).

/// One rule pack.
#[derive(Debug, Clone, Copy)]
pub struct Pack {
    pub name: &'static str,
    /// auditctl syntax.
    pub rules: &'static str,
}

pub const PACKS: &[Pack] = &[
    Pack {
        name: "pci-dss",
        rules: include_str!("../packs/pci-dss.rules"),
    },
    Pack {
        name: "stig",
        rules: include_str!("../packs/stig.rules"),
    },
    Pack {
        name: "cis",
        rules: include_str!("../packs/cis.rules"),
    },
    Pack {
        name: "k8s-node",
        rules: include_str!("../packs/k8s-node.rules"),
    },
];

impl Pack {
    /// The pack's one-line summary (its second header line).
    pub fn summary(&self) -> &'static str {
        self.rules
            .lines()
            .nth(1)
            .and_then(|l| l.strip_prefix("## "))
            .unwrap_or("")
    }

    /// The rule keys its rules use (`-k` / `-F key=`), in order, without repeats.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        for line in self
            .rules
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
        {
            let mut words = line.split_whitespace();
            while let Some(w) = words.next() {
                let k = match w {
                    "-k" => words.next(),
                    "-F" => words.next().and_then(|f| f.strip_prefix("key=")),
                    _ => None,
                };
                if let Some(k) = k {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
        }
        keys
    }

    /// How many rules it holds.
    pub fn rule_count(&self) -> usize {
        self.rules
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("-w") || l.starts_with("-a") || l.starts_with("-A"))
            .count()
    }
}

/// The pack named `name`, or an error listing the ones there are.
pub fn pack(name: &str) -> Result<&'static Pack, String> {
    PACKS.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<&str> = PACKS.iter().map(|p| p.name).collect();
        format!(
            "no rule pack named `{name}`; the packs are {}",
            names.join(", ")
        )
    })
}
