//! Path resolution: relative PATH names against the CWD record, lexically.

/// `name` made absolute against `cwd` (when relative) and normalized lexically
/// (`.`, `..`, repeated `/`). Returns `name` unchanged when it is relative and no
/// cwd is known.
///
/// One pass into the output, components pushed and `..` cutting back to the
/// last `/`, without joining `cwd` and `name` first or listing the components.
pub fn resolve(cwd: Option<&str>, name: &str) -> String {
    let base = if name.starts_with('/') {
        None
    } else if let Some(cwd) = cwd.filter(|c| c.starts_with('/')) {
        Some(cwd)
    } else {
        return name.to_string();
    };
    let mut out = String::with_capacity(base.map_or(0, |c| c.len() + 1) + name.len());
    if let Some(cwd) = base {
        push_components(&mut out, cwd);
    }
    push_components(&mut out, name);
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Appends `/component` for each component of `path`, skipping empty ones and
/// `.`, and taking the last one off for `..`.
fn push_components(out: &mut String, path: &str) {
    // A byte loop: components are a few bytes long, where `str::split`'s
    // search per component cost twice as much.
    let b = path.as_bytes();
    let mut start = 0;
    while start <= b.len() {
        let mut end = start;
        while end < b.len() && b[end] != b'/' {
            end += 1;
        }
        // Cut at ASCII '/' bytes only: always char boundaries.
        match &path[start..end] {
            "" | "." => {}
            ".." => {
                let cut = out.rfind('/').unwrap_or(0);
                out.truncate(cut);
            }
            p => {
                out.push('/');
                out.push_str(p);
            }
        }
        start = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use proptest::prelude::*;

    #[test]
    fn resolves() {
        assert_eq!(
            resolve(Some("/srv/www"), "index.html"),
            "/srv/www/index.html"
        );
        assert_eq!(resolve(Some("/srv/www"), "../etc/./x"), "/srv/etc/x");
        assert_eq!(resolve(Some("/"), "."), "/");
        assert_eq!(resolve(None, "rel"), "rel");
        assert_eq!(resolve(Some("rel"), "x/.."), "x/..");
        assert_eq!(resolve(Some("/a"), "/abs//b/"), "/abs/b");
        assert_eq!(resolve(Some("/a"), "../../.."), "/");
        assert_eq!(resolve(Some("/a/b"), "c/../../d/"), "/a/d");
        assert_eq!(resolve(None, "/x/./y/."), "/x/y");
    }

    /// Join, split into components, apply `.` and `..`, join again.
    fn by_components(cwd: Option<&str>, name: &str) -> String {
        let full = if name.starts_with('/') {
            name.to_string()
        } else if let Some(cwd) = cwd.filter(|c| c.starts_with('/')) {
            format!("{cwd}/{name}")
        } else {
            return name.to_string();
        };
        let mut parts: Vec<&str> = Vec::new();
        for p in full.split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        if parts.is_empty() {
            return "/".into();
        }
        parts.iter().map(|p| format!("/{p}")).collect()
    }

    proptest! {
        #[test]
        fn agrees_with_resolving_by_components(
            cwd in proptest::option::of("(/|[a.]{1,3}|/\\.\\.|é){0,6}"),
            name in "(/|[a.]{1,3}|/\\.\\.|é){0,8}",
        ) {
            prop_assert_eq!(resolve(cwd.as_deref(), &name), by_components(cwd.as_deref(), &name));
        }
    }
}
