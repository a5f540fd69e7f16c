//! Which events belong to a tenant: rule keys, paths (a path and what is under
//! it, by whole components: `/home/alice` is not `/home/alice2`), uid ranges
//! (auid when set, else uid), Kubernetes namespace globs, pod label selectors,
//! process labels.
//! Any one criterion that matches is enough.
use audex_proto::v1::AuditEvent;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Matcher {
    pub keys: Vec<String>,
    pub paths: Vec<String>,
    /// Inclusive ranges.
    pub uids: Vec<(u32, u32)>,
    pub k8s_namespaces: Vec<String>,
    /// Each selector matches when the pod has all its labels.
    pub pod_labels: Vec<BTreeMap<String, String>>,
    /// Process labels (`process.labels[]`).
    pub labels: Vec<String>,
}

impl Matcher {
    pub fn matches(&self, ev: &AuditEvent) -> bool {
        let uid = ev.actor.as_ref().and_then(|a| a.auid.or(a.uid));
        let k8s = ev.k8s.as_ref();
        let ns = k8s.map_or("", |k| k.namespace.as_str());
        self.keys.iter().any(|k| ev.keys.contains(k))
            || self
                .paths
                .iter()
                .any(|p| ev.files.iter().any(|f| within(&f.path, p)))
            || uid.is_some_and(|u| self.owns_uid(u))
            || (!ns.is_empty() && self.k8s_namespaces.iter().any(|g| glob(g, ns)))
            || k8s.is_some_and(|k| pod_selected(&self.pod_labels, &k.labels))
            || (!self.labels.is_empty()
                && ev
                    .process
                    .as_ref()
                    .is_some_and(|p| p.labels.iter().any(|l| self.labels.contains(l))))
    }

    pub fn owns_uid(&self, u: u32) -> bool {
        in_ranges(Some(u), &self.uids)
    }
}

/// `v` is in one of the inclusive `ranges`.
pub(crate) fn in_ranges(v: Option<u32>, ranges: &[(u32, u32)]) -> bool {
    v.is_some_and(|v| ranges.iter().any(|&(a, b)| a <= v && v <= b))
}

/// A pod with `labels` has every label of one of the (non-empty) `selectors`.
pub(crate) fn pod_selected(
    selectors: &[BTreeMap<String, String>],
    labels: &BTreeMap<String, String>,
) -> bool {
    selectors
        .iter()
        .any(|sel| !sel.is_empty() && sel.iter().all(|(l, v)| labels.get(l) == Some(v)))
}

/// `path` is `dir` or under it, by whole components.
pub fn within(path: &str, dir: &str) -> bool {
    if !crate::selector::starts_with(path, dir) {
        return false;
    }
    let rest = &path[dir.len()..];
    rest.is_empty() || dir.ends_with('/') || rest.starts_with('/')
}

/// `*` matches any run of characters (Kubernetes namespace patterns,
/// redaction field paths). Kept by hand: it runs per event on the routing
/// path, allocates nothing, and is linear in `s` for each star (the classic
/// backtrack-to-last-star walk, O(len(s) * len(pattern)) at worst; a
/// recursive version was exponential in the number of stars).
pub fn glob(pattern: &str, s: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    // Where the last star was, and where in `s` it is now taken to end.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            // The star takes one byte more.
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob;
    use proptest::prelude::*;

    /// The meaning of a pattern, as a regex.
    fn oracle(pattern: &str, s: &str) -> bool {
        let re = pattern
            .split('*')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join(".*");
        regex::Regex::new(&format!("^(?s:{re})$"))
            .unwrap()
            .is_match(s)
    }

    proptest! {
        #[test]
        fn glob_means_what_a_regex_means(p in "[ab*é]{0,8}", s in "[abé]{0,12}") {
            prop_assert_eq!(glob(&p, &s), oracle(&p, &s), "{} {}", p, s);
        }
    }

    #[test]
    fn a_tenant_matches_process_labels() {
        use audex_proto::v1::{AuditEvent, Process};
        let m = super::Matcher {
            labels: vec!["backup".into()],
            ..Default::default()
        };
        let ev = |labels: &[&str]| AuditEvent {
            process: Some(Process {
                labels: labels.iter().map(|l| l.to_string()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(m.matches(&ev(&["shell", "backup"])));
        assert!(!m.matches(&ev(&["shell"])) && !m.matches(&AuditEvent::default()));
    }

    #[test]
    fn many_stars_stay_cheap() {
        // Exponential for a recursive matcher: 30 stars over 200 bytes.
        let p = "*a".repeat(30) + "b";
        assert!(!glob(&p, &"a".repeat(200)));
        assert!(glob(&p, &("a".repeat(200) + "b")));
        assert!(glob("payments-*", "payments-eu") && !glob("payments-*", "payment"));
        assert!(glob("*", "") && glob("", "") && !glob("", "x"));
    }
}
