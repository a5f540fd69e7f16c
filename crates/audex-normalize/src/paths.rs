//! Path resolution: relative PATH names against the CWD record, lexically.

/// `name` made absolute against `cwd` (when relative) and normalized lexically
/// (`.`, `..`, repeated `/`). Returns `name` unchanged when it is relative and no
/// cwd is known.
pub fn resolve(cwd: Option<&str>, name: &str) -> String {
    if name.starts_with('/') && is_clean(name) {
        return name.to_string();
    }
    let joined;
    let full = if name.starts_with('/') {
        name
    } else if let Some(cwd) = cwd.filter(|c| c.starts_with('/')) {
        joined = format!("{cwd}/{name}");
        &joined
    } else {
        return name.to_string();
    };
    let mut parts: Vec<&str> = Vec::with_capacity(8);
    for p in full.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = String::with_capacity(full.len());
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// No `//`, `/./`, `/../`, trailing `/`, `/.` or `/..`: nothing to normalize.
fn is_clean(p: &str) -> bool {
    let b = p.as_bytes();
    if b.len() > 1 && b[b.len() - 1] == b'/' {
        return false;
    }
    !(p.contains("//")
        || p.contains("/./")
        || p.contains("/../")
        || p.ends_with("/.")
        || p.ends_with("/.."))
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn resolves() {
        assert_eq!(
            resolve(Some("/srv/www"), "index.html"),
            "/srv/www/index.html"
        );
        assert_eq!(resolve(Some("/srv/www"), "../etc/./x"), "/srv/etc/x");
        assert_eq!(resolve(Some("/"), "."), "/");
        assert_eq!(resolve(None, "rel"), "rel");
        assert_eq!(resolve(Some("/a"), "/abs//b/"), "/abs/b");
        assert_eq!(resolve(Some("/a"), "../../.."), "/");
    }
}
