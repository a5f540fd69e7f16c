//! deploy/otel-collector/{elastic,splunk}.yaml: well-formed Collector configs whose
//! pipelines use only components they define, with the exporter each guide names,
//! and whose transform statements read only attributes audex actually sends.
//! (No Collector binary runs here: this checks structure, not the Collector.)
mod common;

use common::yaml::strings;
use saphyr::{LoadableYamlNode, Yaml};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Attribute keys audex puts on log records (an OTLP replay of the golden log),
/// plus `audit.tenant`, which routing adds.
fn audex_attributes() -> HashSet<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "-q", "--format", "otlp-json"])
        .arg(repo().join("tests/golden/kernel-enriched.log"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut keys: HashSet<String> = HashSet::from(["audit.tenant".to_string()]);
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for rl in v["resourceLogs"].as_array().unwrap() {
            for sl in rl["scopeLogs"].as_array().unwrap() {
                for r in sl["logRecords"].as_array().unwrap() {
                    for a in r["attributes"].as_array().unwrap() {
                        keys.insert(a["key"].as_str().unwrap().to_string());
                    }
                }
            }
        }
    }
    keys
}

fn check(file: &str, exporter: &str, attrs: &HashSet<String>) {
    let text = std::fs::read_to_string(repo().join("deploy/otel-collector").join(file)).unwrap();
    let docs = Yaml::load_from_str(&text).unwrap();
    let c = &docs[0];
    let logs = &c["service"]["pipelines"]["logs"];
    assert!(!logs.is_badvalue(), "{file}: a logs pipeline");
    for section in ["receivers", "processors", "exporters"] {
        let used = strings(&logs[section]);
        assert!(
            !used.is_empty() || section == "processors",
            "{file}: {section}"
        );
        for n in used {
            assert!(
                !c[section][n.as_str()].is_badvalue(),
                "{file}: pipeline uses {section} `{n}`, which is not defined"
            );
        }
    }
    assert_eq!(strings(&logs["exporters"]), [exporter], "{file}");
    assert!(!c["receivers"]["otlp"]["protocols"]["grpc"].is_badvalue());
    assert!(!c["receivers"]["otlp"]["protocols"]["http"].is_badvalue());
    // Every attribute a statement reads (not one it sets) is one audex sends.
    let mut set = HashSet::new();
    for line in text
        .lines()
        .filter(|l| l.trim_start().starts_with("- set("))
    {
        let target = line
            .split("attributes[\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        set.extend(target.map(String::from));
    }
    for line in text
        .lines()
        .filter(|l| l.trim_start().starts_with("- set("))
    {
        for read in line.split("attributes[\"").skip(2) {
            let key = read.split('"').next().unwrap();
            assert!(
                attrs.contains(key) || set.contains(key),
                "{file}: reads attribute `{key}`, which audex does not send"
            );
        }
    }
}

#[test]
fn collector_configs_are_consistent() {
    let attrs = audex_attributes();
    assert!(attrs.contains("process.pid"), "{attrs:?}");
    check("elastic.yaml", "elasticsearch", &attrs);
    check("splunk.yaml", "splunk_hec", &attrs);
}
