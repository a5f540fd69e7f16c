//! Names the backends route by, set per tenant in `resource_attributes`:
//! Splunk's `com.splunk.index` and Elastic's `data_stream.dataset` and
//! `data_stream.namespace`. A name the backend refuses would have every event
//! of the tenant refused at the end of the line, after audex and the Collector
//! acknowledged it; `audex validate` says so up front. Input: an attribute and
//! its value. Output: why the backend would refuse it, if it would.

/// Why `value` is not a valid name for resource attribute `key`, or None.
pub fn problem(key: &str, value: &str) -> Option<String> {
    match key {
        "com.splunk.index" => splunk_index(value),
        "data_stream.namespace" => data_stream_part(value, false),
        "data_stream.dataset" => data_stream_part(value, true),
        _ => None,
    }
    .map(|why| format!("`{key}: {value}` {why}"))
}

/// Splunk: lowercase letters, digits, `_` and `-`, not first `_` or `-`, no
/// `kvstore`, at most 80 characters.
fn splunk_index(v: &str) -> Option<String> {
    let ok_chars = v
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if v.is_empty() || v.len() > 80 {
        Some("is not a Splunk index name (1 to 80 characters)".into())
    } else if !ok_chars {
        Some("is not a Splunk index name (lowercase letters, digits, `_` and `-` only)".into())
    } else if v.starts_with(['_', '-']) {
        Some("is not a Splunk index name (it may not begin with `_` or `-`)".into())
    } else if v.contains("kvstore") {
        Some("is not a Splunk index name (it may not contain `kvstore`)".into())
    } else {
        None
    }
}

/// Elastic data stream parts: lowercase, none of `\ / * ? " < > | , # : -`
/// or spaces (a dataset may hold `.`), at most 100 bytes, not first `_`,
/// `+` or `.`.
fn data_stream_part(v: &str, dataset: bool) -> Option<String> {
    let what = if dataset { "dataset" } else { "namespace" };
    let bad = v.chars().find(|c| {
        c.is_uppercase()
            || c.is_whitespace()
            || "\\/*?\"<>|,#:-".contains(*c)
            || (!dataset && *c == '.')
    });
    if v.is_empty() || v.len() > 100 {
        Some(format!("is not a data stream {what} (1 to 100 bytes)"))
    } else if let Some(c) = bad {
        Some(format!("is not a data stream {what} (`{c}` is not allowed; use lowercase letters, digits and `_`)"))
    } else if v.starts_with(['_', '+', '.']) {
        Some(format!(
            "is not a data stream {what} (it may not begin with `_`, `+` or `.`)"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn names_the_backends_accept() {
        for (k, v) in [
            ("com.splunk.index", "audex_payments"),
            ("com.splunk.index", "team-a"),
            ("data_stream.namespace", "payments"),
            ("data_stream.dataset", "audex.payments"),
            ("x.other", "Anything Goes"),
        ] {
            assert_eq!(problem(k, v), None, "{k}: {v}");
        }
        for (k, v) in [
            ("com.splunk.index", "Payments"),
            ("com.splunk.index", "_internal"),
            ("com.splunk.index", "my kvstore"),
            ("com.splunk.index", "a.b"),
            ("data_stream.namespace", "team-a"),
            ("data_stream.namespace", "a.b"),
            ("data_stream.dataset", "Audex"),
            ("data_stream.dataset", ""),
        ] {
            assert!(problem(k, v).is_some(), "{k}: {v}");
        }
    }
}
