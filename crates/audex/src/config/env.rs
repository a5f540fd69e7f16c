//! `${VAR}` and `${VAR:-default}` in the config text, from the environment.
//! Substitution is per line, so line numbers stay those of the file.

/// The text with variables substituted, and (line, message) for each unset
/// variable without a default.
pub fn substitute(
    text: &str,
    get: impl Fn(&str) -> Option<String>,
) -> (String, Vec<(usize, String)>) {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                errors.push((n + 1, "`${` without a closing `}`".to_string()));
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let expr = &after[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            match (get(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    errors.push((n + 1, format!("environment variable {name} is not set (write ${{{name}:-default}} for a default)")));
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    (out, errors)
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
        );
        assert_eq!(t, "a: n1\nb: \"\"\nc: d\nd: \n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, 4);
    }
}
