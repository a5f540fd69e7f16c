//! Any bytes as a config file, with `${VAR}`s that carry YAML: never panics,
//! and a substituted value never adds structure (an exporter appears only
//! when the text itself names one).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let env = |k: &str| match k {
        "EVIL" => Some("x\"}\n  - {name: evil, type: jsonl, path: \"/tmp/evil\"}\n#'".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    if let Ok(cfg) = audex::config::load_bytes("fuzz.yaml", data, env) {
        let text = String::from_utf8_lossy(data);
        for e in &cfg.exporters {
            assert!(
                text.contains(&e.name) || e.name.is_empty(),
                "exporter {} comes from a substituted value",
                e.name
            );
        }
    }
});
