//! A config is read into typed data and built into a plan that reads each
//! key file once; a reload compares plans: moving lines or changing rules
//! keeps the exporters, changing an exporter, a tenant or a key's content
//! does not.
use audex::config::{load_bytes, plan_bytes, Plan};
use std::path::PathBuf;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("audex-plan-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn plan(yaml: &str) -> Plan {
    let d = dir();
    let text = yaml.replace("@DIR@", d.to_str().unwrap());
    plan_bytes("audex.yaml", text.as_bytes(), |_| None).unwrap_or_else(|e| panic!("{e:?}"))
}

const BASE: &str = "rules:\n  watch: [{path: /etc/shadow, perm: wa, key: identity}]\ntenants:\n  - name: default\n    redact: {hash: [actor.uid_name], hash_key_file: @DIR@/hash.key}\n    exporters: [archive]\nexporters:\n  - {name: archive, type: protobuf_file, path: /var/lib/audex/archive, chain_key_file: @DIR@/chain.key}\n";

#[test]
fn reload_compares_plans() {
    let d = dir();
    std::fs::write(d.join("hash.key"), "a key of thirty-two bytes length").unwrap();
    std::fs::write(d.join("chain.key"), "another key of thirty-two bytes.").unwrap();
    let base = plan(BASE);
    assert_eq!(base.config.tenants.len(), 1);
    assert!(base.chain_keys.contains_key("archive"));
    assert_eq!(base.config.rules.watch[0].perm.as_str(), "wa");

    // Lines moved (positions differ), rules changed: same exporters.
    let moved = plan(&format!(
        "# a comment\n\n{}",
        BASE.replace("perm: wa", "perm: w")
    ));
    assert!(moved.same_outputs(&base));
    assert_ne!(moved.config.rules, base.config.rules);

    // An exporter or a tenant changed: not the same.
    assert!(!plan(&BASE.replace("/var/lib/audex/archive", "/srv/archive")).same_outputs(&base));
    assert!(!plan(&BASE.replace("actor.uid_name", "actor.auid_name")).same_outputs(&base));

    // The same paths, a rotated key: not the same.
    std::fs::write(d.join("hash.key"), "a rotated key, thirty-two bytes.").unwrap();
    assert!(!plan(BASE).same_outputs(&base));
}

#[test]
fn key_files_are_checked_where_they_are_named() {
    let d = dir().join("keys");
    std::fs::create_dir_all(&d).unwrap();
    let yaml = BASE.replace("@DIR@", d.to_str().unwrap());
    // On the node, a key file that is not there is named at its line.
    let errors = load_bytes("audex.yaml", yaml.as_bytes(), |_| None).expect_err("no key files");
    assert!(
        errors
            .iter()
            .any(|e| e.line == 5 && e.message.contains("hash_key_file")),
        "{errors:?}"
    );
    // A key too short: the config is fine, its plan is not, at the key's line.
    std::fs::write(d.join("hash.key"), "short").unwrap();
    std::fs::write(d.join("chain.key"), "another key of thirty-two bytes.").unwrap();
    assert!(load_bytes("audex.yaml", yaml.as_bytes(), |_| None).is_ok());
    let errors = plan_bytes("audex.yaml", yaml.as_bytes(), |_| None)
        .err()
        .expect("a short key");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 5);
    assert!(
        errors[0].message.contains("a key needs at least 16"),
        "{errors:?}"
    );
}

#[test]
fn the_plan_holds_the_kernel_rules_and_names_a_bad_rules_file_at_its_line() {
    let d = dir().join("rules");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("good.rules"), "-w /etc/passwd -p wa -k identity\n").unwrap();
    let yaml = format!(
        "rules:\n  files: [\"{0}/*.rules\"]\n  watch: [{{path: /etc/shadow, perm: wa, key: identity}}]\ntenants:\n  - {{name: default, exporters: [x]}}\nexporters:\n  - {{name: x, type: jsonl, path: \"-\"}}\n",
        d.display()
    );
    let plan = plan(&yaml);
    let from: Vec<&str> = plan.rules.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(from.len(), 2, "{from:?}");
    assert!(from[0].contains("good.rules:1:"), "{from:?}");
    assert_eq!(from[1], "watch /etc/shadow");
    std::fs::write(d.join("more.rules"), "-w /etc/group -p wq\n").unwrap();
    let errors = plan_bytes("audex.yaml", yaml.as_bytes(), |_| None)
        .err()
        .expect("a bad rule");
    assert!(
        errors
            .iter()
            .any(|e| e.line == 2 && e.message.contains("more.rules:1")),
        "{errors:?}"
    );
}
