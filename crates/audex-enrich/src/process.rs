//! The process cache: what audex knows of each pid — exe, comm, argv, parent,
//! container — learnt from EXECVE events as they pass and from `/proc` when an
//! event names a pid it has not seen exec. Bounded: the oldest entry goes first.
//! Short-lived processes and their parents stay known after they exit.
use crate::cgroup::ContainerRef;
use crate::fxhash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;

/// One process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcInfo {
    pub exe: String,
    pub comm: String,
    pub args: Vec<String>,
    pub ppid: Option<u32>,
    pub container: Option<ContainerRef>,
    /// Audit time (s) at which this was learnt from /proc (None: from an exec
    /// event, which stays true until the pid execs again).
    pub read_at: Option<i64>,
}

/// pid → ProcInfo, at most `capacity` entries.
pub struct ProcessCache {
    map: FxHashMap<u32, (u64, Arc<ProcInfo>)>,
    order: VecDeque<(u32, u64)>,
    capacity: usize,
    stamp: u64,
    pub hits: u64,
    pub misses: u64,
}

impl ProcessCache {
    pub fn new(capacity: usize) -> ProcessCache {
        ProcessCache {
            map: FxHashMap::with_capacity_and_hasher(capacity.min(1 << 16), Default::default()),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            stamp: 0,
            hits: 0,
            misses: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Counts a hit or a miss.
    pub fn get(&mut self, pid: u32) -> Option<Arc<ProcInfo>> {
        match self.map.get(&pid) {
            Some((_, p)) => {
                self.hits += 1;
                Some(p.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Without counting.
    pub fn peek(&self, pid: u32) -> Option<&Arc<ProcInfo>> {
        self.map.get(&pid).map(|(_, p)| p)
    }

    pub fn insert(&mut self, pid: u32, info: ProcInfo) -> Arc<ProcInfo> {
        self.stamp += 1;
        let info = Arc::new(info);
        self.map.insert(pid, (self.stamp, info.clone()));
        self.order.push_back((pid, self.stamp));
        while self.map.len() > self.capacity {
            let Some((old, stamp)) = self.order.pop_front() else {
                break;
            };
            // Skip queue entries a newer insert of the same pid replaced.
            if self.map.get(&old).is_some_and(|(s, _)| *s == stamp) {
                self.map.remove(&old);
            }
        }
        // Keep the queue from growing with replaced entries.
        if self.order.len() > self.capacity * 2 {
            let map = &self.map;
            self.order
                .retain(|(p, s)| map.get(p).is_some_and(|(cur, _)| cur == s));
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_oldest_first_and_replacement_keeps_the_newest() {
        let mut c = ProcessCache::new(3);
        for pid in 1..=3 {
            c.insert(
                pid,
                ProcInfo {
                    comm: format!("p{pid}"),
                    ..Default::default()
                },
            );
        }
        // pid 1 execs again: its new entry is the newest.
        c.insert(
            1,
            ProcInfo {
                comm: "p1b".into(),
                ..Default::default()
            },
        );
        c.insert(4, ProcInfo::default());
        assert!(c.peek(2).is_none(), "the oldest went");
        assert_eq!(c.peek(1).unwrap().comm, "p1b");
        assert!(c.peek(3).is_some() && c.peek(4).is_some());
        assert_eq!(c.len(), 3);
        for pid in 10..10_000 {
            c.insert(pid, ProcInfo::default());
        }
        assert_eq!(c.len(), 3);
        assert!(c.order.len() <= 6);
        assert!(c.get(9_999).is_some() && c.get(5).is_none());
        assert_eq!((c.hits, c.misses), (1, 1));
    }
}
