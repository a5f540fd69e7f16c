//! The enrichment stage: fills `process.parent`, `container`, `k8s` and
//! `process.peer` of events from the process cache, `/proc`, the cgroup of the
//! process and the pod index. Input: normalized events, in order. Output: the
//! same events, enriched in place; with label rules, `process.labels` from
//! the process and its ancestors (kept in the process cache). Live (reading `/proc`) or offline (replay:
//! only what the stream itself says, as `/proc` then describes other processes).
use crate::cgroup::{self, ContainerRef};
use crate::kubernetes::PodIndex;
use crate::peers::Peers;
use crate::process::{ProcInfo, ProcessCache};
use crate::procfs::ProcFs;
use crate::Argv;
use audex_policy::{LabelSet, Labels};
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
    /// Process label rules (`labels:`).
    pub labels: Labels,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        EnrichOptions {
            host_root: "/".into(),
            live: true,
            cache_capacity: 16_384,
            peer_processes: vec!["smbd".into(), "sshd".into()],
            node_name: String::new(),
            labels: Labels::default(),
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
    labels: Labels,
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
            labels: opts.labels,
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
        let labels = if self.labels.is_empty() {
            0
        } else {
            // Read again after a while: the labels stay with the same program.
            let kept = self
                .cache
                .peek(pid)
                .filter(|o| o.exe == r.exe)
                .map_or(0, |o| o.labels);
            kept | self.inherited(r.ppid)
                | self
                    .labels
                    .of_exec(&r.exe, r.args.iter().map(String::as_str))
        };
        Some(self.cache.insert(
            pid,
            ProcInfo {
                exe: r.exe,
                comm: r.comm,
                args: Argv::from(r.args.as_slice()),
                ppid: r.ppid,
                container,
                read_at: Some(now_s),
                labels,
            },
        ))
    }

    /// The labels of `ppid`'s entry, for a child.
    fn inherited(&self, ppid: Option<u32>) -> LabelSet {
        ppid.and_then(|pp| self.cache.peek(pp))
            .map_or(0, |p| p.labels)
    }

    /// `process.labels` of `ev`: its process's (or, unknown, its parent's),
    /// with what its rule keys add, which the process keeps from then on.
    fn label(
        &mut self,
        ev: &mut AuditEvent,
        pid: u32,
        me: Option<Arc<ProcInfo>>,
        parent: Option<&ProcInfo>,
        now_s: i64,
    ) -> Option<Arc<ProcInfo>> {
        let had = me
            .as_ref()
            .map_or_else(|| parent.map_or(0, |pp| pp.labels), |m| m.labels);
        let set = had | self.labels.of_keys(&ev.keys);
        let p = ev.process.as_mut().unwrap();
        let me = if set != had || me.is_none() && set != 0 {
            let info = match &me {
                Some(m) => ProcInfo {
                    labels: set,
                    ..(**m).clone()
                },
                // Not seen before (a replayed fork): what the event says.
                None => ProcInfo {
                    exe: p.exe.clone(),
                    comm: p.comm.clone(),
                    ppid: p.ppid,
                    read_at: self.proc.is_some().then_some(now_s),
                    labels: set,
                    ..ProcInfo::default()
                },
            };
            Some(self.cache.insert(pid, info))
        } else {
            me
        };
        p.labels = self.labels.names(set);
        me
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
            let args = if p.args.is_empty() {
                Argv::new(p.title.split(' '))
            } else {
                Argv::from(p.args.as_slice())
            };
            // An exec keeps the process's labels and its parent's, and adds
            // what the new program, argv and the event's keys give (so
            // `label` has nothing to add).
            let labels = if self.labels.is_empty() {
                0
            } else {
                self.cache.peek(pid).map_or(0, |o| o.labels)
                    | parent.as_ref().map_or(0, |pp| pp.labels)
                    | self.labels.of_exec(&p.exe, args.iter())
                    | self.labels.of_keys(&ev.keys)
            };
            Some(self.cache.insert(
                pid,
                ProcInfo {
                    exe: p.exe.clone(),
                    comm: p.comm.clone(),
                    args,
                    ppid,
                    container,
                    read_at: None,
                    labels,
                },
            ))
        } else {
            self.known(pid, now_s)
        };
        let me = if self.labels.is_empty() {
            me
        } else {
            self.label(ev, pid, me, parent.as_deref(), now_s)
        };
        let p = ev.process.as_ref().unwrap();
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
                    args: pp.args.to_vec(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use audex_policy::LabelSpec;
    use audex_proto::v1::Process;

    fn enricher(rules: &[LabelSpec]) -> Enricher {
        Enricher::new(
            EnrichOptions {
                live: false,
                peer_processes: Vec::new(),
                labels: Labels::compile(rules).unwrap(),
                ..EnrichOptions::default()
            },
            None,
        )
    }

    fn ev(action: &str, pid: u32, ppid: u32, exe: &str, args: &[&str], key: &str) -> AuditEvent {
        AuditEvent {
            action: action.into(),
            outcome: "success".into(),
            keys: if key.is_empty() {
                vec![]
            } else {
                vec![key.into()]
            },
            process: Some(Process {
                pid: Some(pid),
                ppid: Some(ppid),
                exe: exe.into(),
                args: args.iter().map(|a| a.to_string()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn labels_of(e: &mut Enricher, mut ev: AuditEvent) -> Vec<String> {
        e.enrich(&mut ev);
        ev.process.unwrap().labels
    }

    #[test]
    fn labels_come_from_exe_argv_and_keys_and_pass_to_descendants() {
        let mut e = enricher(&[
            LabelSpec {
                name: "backup".into(),
                argv: vec!["--delete".into()],
                ..Default::default()
            },
            LabelSpec {
                name: "admin".into(),
                keys: vec!["sudo".into()],
                ..Default::default()
            },
            LabelSpec {
                name: "shell".into(),
                exe: vec!["bash".into()],
                ..Default::default()
            },
        ]);
        // pid 10 execs rsync with --delete: backup.
        let rsync = ev(
            "executed",
            10,
            1,
            "/usr/bin/rsync",
            &["rsync", "--delete"],
            "",
        );
        assert_eq!(labels_of(&mut e, rsync), ["backup"]);
        // Its child (a fork, never seen exec) inherits it.
        assert_eq!(
            labels_of(&mut e, ev("opened", 11, 10, "/usr/bin/rsync", &[], "")),
            ["backup"]
        );
        // The child's event with the `sudo` key adds admin, kept from then on.
        assert_eq!(
            labels_of(&mut e, ev("opened", 11, 10, "/usr/bin/rsync", &[], "sudo")),
            ["backup", "admin"]
        );
        assert_eq!(
            labels_of(&mut e, ev("opened", 11, 10, "/usr/bin/rsync", &[], "")),
            ["backup", "admin"]
        );
        // An exec in the child keeps both and adds what the new program gives.
        assert_eq!(
            labels_of(&mut e, ev("executed", 11, 10, "/bin/bash", &["bash"], "")),
            ["backup", "admin", "shell"]
        );
        // Its child in turn.
        assert_eq!(
            labels_of(&mut e, ev("executed", 12, 11, "/bin/cat", &["cat"], "")),
            ["backup", "admin", "shell"]
        );
        // The parent never got what its child was given.
        assert_eq!(
            labels_of(&mut e, ev("opened", 10, 1, "/usr/bin/rsync", &[], "")),
            ["backup"]
        );
        // An unrelated process: none.
        assert!(labels_of(&mut e, ev("executed", 20, 1, "/bin/ls", &["ls"], "")).is_empty());
    }

    #[test]
    fn without_rules_no_label_and_no_cache_entry_is_made() {
        let mut e = enricher(&[]);
        assert!(labels_of(&mut e, ev("opened", 11, 10, "/x", &[], "sudo")).is_empty());
        assert!(e.cache.is_empty());
    }
}
