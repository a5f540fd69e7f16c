//! `${VAR}` and `${VAR:-default}` in the config text, from the environment.
//! Substitution keeps line numbers (a value never adds a line) and keeps every
//! value one scalar: inside double quotes it is escaped, inside single quotes
//! its quotes are doubled, and unquoted it must not hold anything YAML would
//! read as structure (a newline, `: `, ` #`, a flow indicator, a leading
//! indicator). Comments are copied as they are, never substituted.

/// Where in the YAML text a `${...}` stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Plain,
    Double,
    Single,
}

/// The text with variables substituted, and (line, message) for each variable
/// that is unset without a default or whose value cannot stay one scalar there.
/// With `unset_stays` (checking a config away from its node) an unset
/// variable without a default stays as written (`${NODE_NAME}`), not an error.
pub fn substitute(
    text: &str,
    get: impl Fn(&str) -> Option<String>,
    unset_stays: bool,
) -> (String, Vec<(usize, String)>) {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut ctx = Context::Plain;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        let mut copied = 0;
        while i < b.len() {
            let c = b[i];
            let prev = if i == 0 { b' ' } else { b[i - 1] };
            match ctx {
                Context::Plain => {
                    if c == b'#' && (prev == b' ' || prev == b'\t' || i == 0) {
                        break; // a comment: the rest of the line as it is
                    }
                    if (c == b'"' || c == b'\'') && starts_scalar(prev) {
                        ctx = if c == b'"' {
                            Context::Double
                        } else {
                            Context::Single
                        };
                    }
                }
                Context::Double => {
                    if c == b'\\' {
                        i += 2;
                        continue;
                    }
                    if c == b'"' {
                        ctx = Context::Plain;
                    }
                }
                Context::Single => {
                    if c == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        ctx = Context::Plain;
                    }
                }
            }
            if c == b'$' && b.get(i + 1) == Some(&b'{') {
                out.push_str(&line[copied..i]);
                let mut report = |m: String| errors.push((n + 1, m));
                match expand(&line[i..], ctx, &get, unset_stays, &mut out, &mut report) {
                    Some(len) => {
                        i += len;
                        copied = i;
                        continue;
                    }
                    None => {
                        copied = i;
                        break;
                    }
                }
            }
            i += 1;
        }
        out.push_str(&line[copied..]);
    }
    (out, errors)
}

/// One `${NAME}` or `${NAME:-default}` at the start of `at`, written to
/// `out` as `ctx` needs it (or as written when unset and `unset_stays`); its
/// length in the text, or None when it has no closing `}`. Problems go to
/// `report`.
fn expand(
    at: &str,
    ctx: Context,
    get: &impl Fn(&str) -> Option<String>,
    unset_stays: bool,
    out: &mut String,
    report: &mut dyn FnMut(String),
) -> Option<usize> {
    let after = &at[2..];
    let Some(end) = after.find('}') else {
        report("`${` without a closing `}`".to_string());
        return None;
    };
    let expr = &after[..end];
    let (name, default) = match expr.split_once(":-") {
        Some((n, d)) => (n, Some(d.to_string())),
        None => (expr, None),
    };
    match get(name).or(default) {
        Some(v) => match render(&v, ctx) {
            Ok(r) => out.push_str(&r),
            Err(why) => report(format!("environment variable {name} {why}")),
        },
        // Kept as written: the YAML reads it as it is in the file.
        None if unset_stays => out.push_str(&at[..2 + end + 1]),
        None => report(format!(
            "environment variable {name} is not set (write ${{{name}:-default}} for a default)"
        )),
    }
    Some(2 + end + 1)
}

/// A quote opens a quoted scalar only where a scalar starts.
fn starts_scalar(prev: u8) -> bool {
    matches!(prev, b' ' | b'\t' | b':' | b'-' | b'[' | b'{' | b',')
}

/// The value as it must be written in `ctx` to stay one scalar.
fn render(v: &str, ctx: Context) -> Result<String, String> {
    match ctx {
        Context::Double => {
            let mut s = String::with_capacity(v.len());
            for c in v.chars() {
                match c {
                    '"' => s.push_str("\\\""),
                    '\\' => s.push_str("\\\\"),
                    '\n' => s.push_str("\\n"),
                    '\t' => s.push_str("\\t"),
                    '\r' => s.push_str("\\r"),
                    c if c.is_control() => s.push_str(&format!("\\u{:04x}", c as u32)),
                    c => s.push(c),
                }
            }
            Ok(s)
        }
        Context::Single => {
            if v.chars().any(char::is_control) {
                return Err("holds a newline or control character, which a single-quoted value cannot keep; use double quotes: \"${...}\"".into());
            }
            Ok(v.replace('\'', "''"))
        }
        Context::Plain => {
            let leading = v
                .chars()
                .next()
                .is_some_and(|c| "-?:,[]{}#&*!|>'\"%@` \t".contains(c));
            if v.chars().any(char::is_control)
                || leading
                || v.ends_with([' ', '\t', ':'])
                || v.contains(": ")
                || v.contains(" #")
                || v.contains(['[', ']', '{', '}', ','])
            {
                return Err("holds characters that would change the YAML structure here (a newline, `: `, ` #`, a bracket, comma or leading indicator); write it in double quotes: \"${...}\"".into());
            }
            Ok(v.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn vars_and_defaults() {
        let get = |k: &str| (k == "NODE").then(|| "n1".to_string());
        let (t, e) = substitute(
            "a: ${NODE}\nb: \"${MISSING:-}\"\nc: ${X:-d}\nd: ${GONE}\n",
            get,
            false,
        );
        assert_eq!(t, "a: n1\nb: \"\"\nc: d\nd: \n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, 4);
        // Away from the node: defaults apply, the rest stays as written.
        let (t, e) = substitute("c: ${X:-d}\nd: ${GONE}\n", |_| None, true);
        assert_eq!(t, "c: d\nd: ${GONE}\n");
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn values_stay_one_scalar() {
        let get = |k: &str| match k {
            "EVIL" => Some("x\nexporters:\n  - {name: leak}".to_string()),
            "Q" => Some("say \"hi\" \\ o'k".to_string()),
            _ => None,
        };
        // Quoted: escaped in place, one line still.
        let (t, e) = substitute("a: \"${EVIL}\"\nb: '${Q}'\nc: \"${Q}\"\n", get, false);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            t,
            "a: \"x\\nexporters:\\n  - {name: leak}\"\nb: 'say \"hi\" \\ o''k'\nc: \"say \\\"hi\\\" \\\\ o'k\"\n"
        );
        // Unquoted: refused with the variable's name.
        let (t, e) = substitute("a: ${EVIL}\n", get, false);
        assert_eq!(t.lines().count(), 1);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].1.contains("EVIL") && e[0].1.contains("double quotes"),
            "{e:?}"
        );
        // Single quotes cannot hold a newline.
        let (_, e) = substitute("a: '${EVIL}'\n", get, false);
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn comments_are_not_substituted() {
        let (t, e) = substitute(
            "a: 1 # ${UNSET}\n# ${ALSO}\nb: \"#${X:-v}\"\n",
            |_| None,
            false,
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(t, "a: 1 # ${UNSET}\n# ${ALSO}\nb: \"#v\"\n");
    }
}
