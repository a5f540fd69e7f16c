//! The enrichment stage: fills `process.parent`, `container`, `k8s` and
//! `process.peer` of events from the process cache, `/proc`, the cgroup of the
//! process and the pod index. Input: normalized events, in order. Output: the
//! same events, enriched in place. Live (reading `/proc`) or offline (replay:
//! only what the stream itself says, as `/proc` then describes other processes).
use crate::cgroup::{self, ContainerRef};
use crate::kubernetes::PodIndex;
use crate::peers::Peers;
use crate::process::{ProcInfo, ProcessCache};
use crate::procfs::ProcFs;
use audex_proto::v1::{AuditEvent, Container, Kubernetes, Parent, Peer};
use audex_proto::Action;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// An entry read from `/proc` is re-read after this long (the pid may have
/// been reused without an exec audex saw).
const REREAD_AFTER_S: i64 = 60;

#[derive(Debug, Clone)]
pub struct EnrichOptions {
    pub host_root: PathBuf,
    /// Read `/proc` (live collection); false for replays.
    pub live: bool,
    pub cache_capacity: usize,
    /// Server processes whose TCP peer is looked up (default smbd, sshd).
    pub peer_processes: Vec<String>,
    /// Names the node in `k8s.node` when the pod does not.
    pub node_name: String,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        EnrichOptions {
            host_root: "/".into(),
            live: true,
            cache_capacity: 16_384,
            peer_processes: vec!["smbd".into(), "sshd".into()],
            node_name: String::new(),
        }
    }
}

pub struct Enricher {
    cache: ProcessCache,
    proc: Option<ProcFs>,
    peers: Option<Peers>,
    peer_names: Vec<String>,
    pods: Option<Arc<PodIndex>>,
    node: String,
    now: Instant,
    lookups: u64,
}

impl Enricher {
    pub fn new(opts: EnrichOptions, pods: Option<Arc<PodIndex>>) -> Enricher {
        let proc = opts.live.then(|| ProcFs::new(&opts.host_root));
        Enricher {
            cache: ProcessCache::new(opts.cache_capacity),
            peers: proc
                .clone()
                .filter(|_| !opts.peer_processes.is_empty())
                .map(Peers::new),
            proc,
            peer_names: opts.peer_processes,
            pods,
            node: opts.node_name,
            now: Instant::now(),
            lookups: 0,
        }
    }

    /// (hits, misses) of the process cache.
    pub fn cache_counts(&self) -> (u64, u64) {
        (self.cache.hits, self.cache.misses)
    }

    fn container_of_pid(&mut self, pid: u32) -> Option<ContainerRef> {
        let text = self.proc.as_ref()?.cgroup(pid)?;
        cgroup::parse(&text)
    }

    /// What the cache (or /proc, live) knows of `pid`; learnt from /proc on a
    /// miss and kept.
    fn known(&mut self, pid: u32, now_s: i64) -> Option<Arc<ProcInfo>> {
        if let Some(p) = self.cache.get(pid) {
            if p.read_at.is_none_or(|t| now_s - t < REREAD_AFTER_S) {
                return Some(p);
            }
        }
        let r = self.proc.as_ref()?.read(pid)?;
        let container = r.cgroup.as_deref().and_then(cgroup::parse);
        Some(self.cache.insert(
            pid,
            ProcInfo {
                exe: r.exe,
                comm: r.comm,
                args: r.args,
                ppid: r.ppid,
                container,
                read_at: Some(now_s),
            },
        ))
    }

    pub fn enrich(&mut self, ev: &mut AuditEvent) {
        let Some(p) = ev.process.as_ref() else {
            return;
        };
        let Some(pid) = p.pid else {
            return;
        };
        let now_s = ev.time.as_ref().map_or(0, |t| t.seconds);
        let ppid = p.ppid;
        let parent = ppid.and_then(|pp| self.known(pp, now_s));
        let me = if ev.is(Action::Executed) && !ev.failed() {
            // A new program in this pid: learn it from the event; its container
            // now (it may exit at once: then its parent's).
            let container = self
                .container_of_pid(pid)
                .or_else(|| parent.as_ref().and_then(|pp| pp.container.clone()));
            Some(self.cache.insert(
                pid,
                ProcInfo {
                    exe: p.exe.clone(),
                    comm: p.comm.clone(),
                    args: if p.args.is_empty() {
                        p.title.split(' ').map(String::from).collect()
                    } else {
                        p.args.clone()
                    },
                    ppid,
                    container,
                    read_at: None,
                },
            ))
        } else {
            self.known(pid, now_s)
        };
        // Borrowed from the cache entries held above: no copies until the event's.
        let container: Option<&ContainerRef> = me
            .as_deref()
            .and_then(|m| m.container.as_ref())
            .or_else(|| parent.as_deref().and_then(|pp| pp.container.as_ref()));
        let serves = |c: &str| self.peer_names.iter().any(|n| n == c);
        let peer_pid = if self.peers.is_none() {
            None
        } else if serves(&p.comm) {
            Some(pid)
        } else if parent.as_ref().is_some_and(|pp| serves(&pp.comm)) {
            ppid
        } else {
            None
        };
        let proc_ = ev.process.as_mut().unwrap();
        if proc_.parent.is_none() {
            if let Some(pp) = &parent {
                proc_.parent = Some(Parent {
                    exe: pp.exe.clone(),
                    comm: pp.comm.clone(),
                    args: pp.args.clone(),
                });
            }
        }
        if let (Some(peers), Some(w)) = (&mut self.peers, peer_pid) {
            if let Some((address, port)) = peers.peer(w) {
                proc_.peer = Some(Peer {
                    address,
                    port: Some(u32::from(port)),
                });
            }
        }
        let Some(c) = container else {
            return;
        };
        if ev.container.is_none() {
            ev.container = Some(Container {
                id: c.id.clone(),
                runtime: c.runtime.to_string(),
            });
        }
        let Some(uid) = &c.pod_uid else {
            return;
        };
        // The clock, read every 64 pod lookups: the grace is minutes long.
        self.lookups += 1;
        if self.lookups.is_multiple_of(64) {
            self.now = Instant::now();
        }
        let now = self.now;
        let pod = self.pods.as_ref().and_then(|idx| idx.lookup(uid, now));
        let k = ev.k8s.get_or_insert_with(Kubernetes::default);
        k.pod_uid.clone_from(uid);
        if k.node.is_empty() {
            k.node.clone_from(&self.node);
        }
        if let Some(pod) = pod {
            k.namespace.clone_from(&pod.namespace);
            k.pod.clone_from(&pod.name);
            k.labels.clone_from(&pod.labels);
            if !pod.node.is_empty() {
                k.node.clone_from(&pod.node);
            }
            if let Some(n) = pod.container_name(&c.id) {
                n.clone_into(&mut k.container);
            }
        }
    }
}
