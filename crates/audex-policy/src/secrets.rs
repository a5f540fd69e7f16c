//! Built-in mask patterns for secrets that show up in command lines and
//! user-space messages: passwords (`key=value`, `key = value`, `--flag value`,
//! JSON `"password": "x"`, `PGPASSWORD=`, `--db-password=`, `-u user:pw`, URL
//! userinfo, mysql's `-pSECRET`), tokens and API keys (incl. `X-Auth-Token:`
//! headers and GitHub `ghp_` tokens), bearer/basic credentials, AWS access keys,
//! private-key blocks. Each is (name, regex, replacement): the replacement keeps
//! the key and separators and replaces only the secret. `secrets` names them all.

pub const BUILTIN: &[(&str, &str, &str)] = &[
    // key=value, key = value, key: value, "key": "value", PGPASSWORD=, --db-password=
    (
        "passwords",
        r#"(?i)((?:^|[\s&?;,{("'])[\w.-]*(?:password|passwd|passphrase|pass|pwd|secret)["']?\s*[=:]\s*["']?)([^\s&;,"']+)"#,
        "$1***",
    ),
    // --password value, --passphrase value, -pass value
    (
        "passwords",
        r"(?i)((?:^|\s)--?[\w-]*(?:password|passwd|passphrase|pass|pwd|secret)\s+)([^\s-][^\s]*)",
        "$1***",
    ),
    // curl -u user:pw, --user user:pw
    (
        "passwords",
        r"((?:^|\s)(?:-u|--user|--proxy-user)\s+[^\s:]+:)([^\s]+)",
        "$1***",
    ),
    // scheme://user:pw@host
    (
        "passwords",
        r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s/:@]+:)([^\s/@]+)(@)",
        "$1***$3",
    ),
    // mysql -pSECRET (the password glued to -p), only after a MySQL client
    (
        "passwords",
        r"(?i)(\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mariadb|mariadb-dump)\b[^\n]*?\s-p)([^\s]+)",
        "$1***",
    ),
    // token=..., X-Auth-Token: ..., --api-key ...
    (
        "tokens",
        r#"(?i)((?:^|[\s&?;,{("'])[\w-]*(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|private[_-]?token|token)["']?\s*[=:]\s*["']?)([^\s&;,"']+)"#,
        "$1***",
    ),
    (
        "tokens",
        r"(?i)((?:^|\s)--?[\w-]*(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|private[_-]?token|token)\s+)([^\s-][^\s]*)",
        "$1***",
    ),
    // GitHub tokens
    ("tokens", r"\b(gh[pousr]_)[A-Za-z0-9]{30,}\b", "$1***"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(s: &str) -> String {
        let mut out = s.to_string();
        for (p, r) in patterns("secrets").unwrap() {
            out = regex::Regex::new(p)
                .unwrap()
                .replace_all(&out, r)
                .into_owned();
        }
        out
    }

    #[test]
    fn each_form_loses_only_its_secret() {
        let cases = [
            ("login password = hunter2 now", "login password = *** now"),
            ("password=hunter2", "password=***"),
            ("mysql -u root -phunter2 shop", "mysql -u root -p*** shop"),
            (
                "curl -u admin:hunter2 https://x",
                "curl -u admin:*** https://x",
            ),
            (
                "git clone https://bob:hunter2@example.com/r.git",
                "git clone https://bob:***@example.com/r.git",
            ),
            ("PGPASSWORD=hunter2 psql", "PGPASSWORD=*** psql"),
            ("app --db-password=hunter2 -v", "app --db-password=*** -v"),
            ("gpg --passphrase hunter2 -d f", "gpg --passphrase *** -d f"),
            (
                r#"{"user":"bob","password":"hunter2"}"#,
                r#"{"user":"bob","password":"***"}"#,
            ),
            (
                "curl -H X-Auth-Token: abc123def",
                "curl -H X-Auth-Token: ***",
            ),
            (
                "push ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                "push ghp_***",
            ),
            ("token=abc --api-key k1", "token=*** --api-key ***"),
            (
                "Authorization: Bearer abcdefghij",
                "Authorization: Bearer ***",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(mask(input), want, "{input}");
        }
    }

    #[test]
    fn ordinary_command_lines_stay_as_they_are() {
        for s in [
            "cp -pr a b",
            "mkdir -p /srv/x",
            "ssh -p 2222 host",
            "tar -pxvf a.tar",
            "cat /etc/passwd",
            "passwd alice",
            "ls --color=auto",
            "curl https://example.com/a:b",
        ] {
            assert_eq!(mask(s), s);
        }
    }
}
