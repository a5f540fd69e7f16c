//! Reading rendered YAML (Helm output, Collector configs) in tests.
#![allow(dead_code)]
use saphyr::Yaml;

/// The strings of a YAML sequence (empty when it is not one).
pub fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
