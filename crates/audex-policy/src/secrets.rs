//! Built-in mask patterns for secrets that show up in command lines and
//! user-space messages: passwords, tokens and API keys, bearer/basic
//! credentials, AWS access keys, private-key blocks. Each is (name, regex,
//! replacement); `secrets` names them all.

pub const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "passwords",
        r"(?i)((?:^|[\s&?;,])-{0,2}(?:password|passwd|pass|pwd|secret)(?:=|:|\s+))[^\s&;,]+",
        "$1***",
    ),
    (
        "tokens",
        r"(?i)((?:^|[\s&?;,])-{0,2}(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|token|private[_-]?token)(?:=|:|\s+))[^\s&;,]+",
        "$1***",
    ),
    (
        "bearer",
        r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}",
        "$1$2***",
    ),
    ("aws-keys", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", "***"),
    (
        "aws-keys",
        r"(?i)(aws_secret_access_key(?:=|:|\s+))[A-Za-z0-9/+=]{20,}",
        "$1***",
    ),
    (
        "private-keys",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
        "***PRIVATE KEY***",
    ),
];

/// The names a config may use: each group, and `secrets` for all of them.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&str> = BUILTIN.iter().map(|b| b.0).collect();
    v.dedup();
    v.push("secrets");
    v
}

/// The (pattern, replacement) pairs of a built-in name.
pub fn patterns(name: &str) -> Option<Vec<(&'static str, &'static str)>> {
    let v: Vec<_> = BUILTIN
        .iter()
        .filter(|b| name == "secrets" || b.0 == name)
        .map(|b| (b.1, b.2))
        .collect();
    (!v.is_empty()).then_some(v)
}
