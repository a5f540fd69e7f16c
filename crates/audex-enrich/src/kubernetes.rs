//! Kubernetes: pod UID → namespace, pod name, labels, node and container names,
//! from a watch of the pods on this node (kube-rs, field selector
//! `spec.nodeName=NODE`). A deleted pod stays resolvable for a grace period, so
//! that events still in flight when it goes are attributed. Input: the API
//! server. Output: a shared [`PodIndex`].
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// What the index keeps of a pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodMeta {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub node: String,
    pub labels: BTreeMap<String, String>,
    /// (container id without the `runtime://` prefix, container name).
    pub containers: Vec<(String, String)>,
}

impl PodMeta {
    pub fn container_name(&self, id: &str) -> Option<&str> {
        self.containers
            .iter()
            .find(|(cid, _)| cid == id)
            .map(|(_, n)| n.as_str())
    }
}

#[derive(Default)]
struct Inner {
    pods: rustc_hash::FxHashMap<String, (Arc<PodMeta>, Option<Instant>)>,
    /// UIDs seen in the relist in progress.
    relist: Option<HashSet<String>>,
}

/// The pods of this node by UID, deleted ones kept for `grace`.
pub struct PodIndex {
    inner: RwLock<Inner>,
    grace: Duration,
}

impl PodIndex {
    pub fn new(grace: Duration) -> PodIndex {
        PodIndex {
            inner: RwLock::new(Inner::default()),
            grace,
        }
    }

    // A poisoned lock still holds a usable index: a panicking writer leaves
    // whole entries behind.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn apply(&self, pod: PodMeta) {
        let mut g = self.write();
        if let Some(seen) = &mut g.relist {
            seen.insert(pod.uid.clone());
        }
        g.pods.insert(pod.uid.clone(), (Arc::new(pod), None));
    }

    /// The pod is gone; it resolves until `now + grace`.
    pub fn delete(&self, uid: &str, now: Instant) {
        let mut g = self.write();
        if let Some((_, gone)) = g.pods.get_mut(uid) {
            gone.get_or_insert(now);
        }
    }

    /// A full relist starts: pods it does not name are deleted when it ends.
    pub fn relist_start(&self) {
        self.write().relist = Some(HashSet::new());
    }

    pub fn relist_done(&self, now: Instant) {
        let mut g = self.write();
        if let Some(seen) = g.relist.take() {
            for (uid, (_, gone)) in g.pods.iter_mut() {
                if !seen.contains(uid) {
                    gone.get_or_insert(now);
                }
            }
        }
    }

    /// The pod, if live or deleted less than `grace` before `now`.
    pub fn lookup(&self, uid: &str, now: Instant) -> Option<Arc<PodMeta>> {
        let g = self.read();
        let (pod, gone) = g.pods.get(uid)?;
        match gone {
            Some(t) if now.duration_since(*t) > self.grace => None,
            _ => Some(pod.clone()),
        }
    }

    /// Forgets pods deleted more than `grace` ago.
    pub fn expire(&self, now: Instant) {
        let grace = self.grace;
        let mut g = self.write();
        g.pods
            .retain(|_, (_, gone)| gone.is_none_or(|t| now.duration_since(t) <= grace));
    }

    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .pods
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The index's view of a Pod object.
pub fn pod_meta(p: &k8s_openapi::api::core::v1::Pod) -> Option<PodMeta> {
    let md = &p.metadata;
    let mut containers = Vec::new();
    if let Some(st) = &p.status {
        let lists = [
            st.container_statuses.as_ref(),
            st.init_container_statuses.as_ref(),
            st.ephemeral_container_statuses.as_ref(),
        ];
        for cs in lists.into_iter().flatten().flatten() {
            if let Some(id) = &cs.container_id {
                let id = id.split_once("://").map_or(id.as_str(), |(_, i)| i);
                containers.push((id.to_string(), cs.name.clone()));
            }
        }
    }
    Some(PodMeta {
        uid: md.uid.clone()?,
        namespace: md.namespace.clone().unwrap_or_default(),
        name: md.name.clone().unwrap_or_default(),
        node: p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        labels: md.labels.clone().unwrap_or_default(),
        containers,
    })
}

/// Where to reach the API server and what to watch.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    pub node_name: String,
    /// An explicit API server URL (tests, `kubectl proxy`); None: the in-cluster
    /// service account, else the kubeconfig.
    pub api_server: Option<String>,
}

/// Watches this node's pods into `index` until the task is dropped; API errors
/// are logged and retried with backoff, never fatal.
pub async fn watch_pods(opts: KubeOptions, index: Arc<PodIndex>) -> Result<(), String> {
    use futures::TryStreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::{watcher, WatchStreamExt};

    let config = match &opts.api_server {
        Some(url) => kube::Config::new(
            url.parse()
                .map_err(|e| format!("kubernetes api server `{url}`: {e}"))?,
        ),
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("kubernetes: no in-cluster service account or kubeconfig: {e}"))?,
    };
    let client = kube::Client::try_from(config).map_err(|e| format!("kubernetes client: {e}"))?;
    let pods: kube::Api<Pod> = kube::Api::all(client);
    let wc = watcher::Config::default().fields(&format!("spec.nodeName={}", opts.node_name));
    let stream = watcher(pods, wc).default_backoff();
    futures::pin_mut!(stream);
    let mut errors = 0u64;
    loop {
        match stream.try_next().await {
            Ok(Some(ev)) => {
                errors = 0;
                match ev {
                    watcher::Event::Init => index.relist_start(),
                    watcher::Event::InitApply(p) | watcher::Event::Apply(p) => {
                        if let Some(m) = pod_meta(&p) {
                            index.apply(m);
                        }
                    }
                    watcher::Event::InitDone => index.relist_done(Instant::now()),
                    watcher::Event::Delete(p) => {
                        if let Some(uid) = &p.metadata.uid {
                            index.delete(uid, Instant::now());
                        }
                    }
                }
                index.expire(Instant::now());
            }
            Ok(None) => return Ok(()),
            Err(e) => {
                errors += 1;
                // The first error, then every 100th: the watch retries with backoff.
                if errors == 1 || errors.is_multiple_of(100) {
                    audex_log::warn!("kubernetes pod watch: {e} (retrying)");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str) -> PodMeta {
        PodMeta {
            uid: uid.into(),
            name: format!("pod-{uid}"),
            ..Default::default()
        }
    }

    #[test]
    fn deleted_pods_resolve_for_the_grace_period() {
        let idx = PodIndex::new(Duration::from_secs(10));
        let t0 = Instant::now();
        idx.apply(pod("a"));
        idx.apply(pod("b"));
        idx.delete("a", t0);
        assert!(idx.lookup("a", t0 + Duration::from_secs(9)).is_some());
        assert!(idx.lookup("a", t0 + Duration::from_secs(11)).is_none());
        idx.expire(t0 + Duration::from_secs(11));
        assert_eq!(idx.len(), 1);
        // A relist that no longer names b deletes it (with the same grace).
        idx.relist_start();
        idx.apply(pod("c"));
        idx.relist_done(t0);
        assert!(idx.lookup("b", t0 + Duration::from_secs(5)).is_some());
        assert!(idx.lookup("b", t0 + Duration::from_secs(20)).is_none());
        assert!(idx.lookup("c", t0 + Duration::from_secs(20)).is_some());
    }
}
