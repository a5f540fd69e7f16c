//! Which events belong to a tenant: rule keys, paths (a path and what is under
//! it, by whole components: `/home/alice` is not `/home/alice2`), uid ranges
//! (auid when set, else uid), Kubernetes namespace globs, pod label selectors.
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
            || k8s.is_some_and(|k| {
                self.pod_labels.iter().any(|sel| {
                    !sel.is_empty() && sel.iter().all(|(l, v)| k.labels.get(l) == Some(v))
                })
            })
    }

    pub fn owns_uid(&self, u: u32) -> bool {
        self.uids.iter().any(|&(a, b)| a <= u && u <= b)
    }
}

/// `path` is `dir` or under it, by whole components.
pub fn within(path: &str, dir: &str) -> bool {
    match path.strip_prefix(dir) {
        Some(rest) => rest.is_empty() || dir.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

/// `*` matches any run of characters.
pub fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, rest)) => {
            s.starts_with(head)
                && (0..=s.len() - head.len())
                    .any(|i| s.is_char_boundary(head.len() + i) && glob(rest, &s[head.len() + i..]))
        }
    }
}
