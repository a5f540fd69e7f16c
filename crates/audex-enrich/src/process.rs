//! The process cache: what audex knows of each pid — exe, comm, argv, parent,
//! container — learnt from EXECVE events as they pass and from `/proc` when an
//! event names a pid it has not seen exec. Bounded in entries and in bytes (an
//! argv can be megabytes; a storm of such execs must not grow the cache with
//! it): the oldest entry goes first. Short-lived processes and their parents
//! stay known after they exit.
use crate::cgroup::ContainerRef;
use crate::Argv;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;

/// One process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcInfo {
    pub exe: String,
    pub comm: String,
    pub args: Argv,
    pub ppid: Option<u32>,
    pub container: Option<ContainerRef>,
    /// Audit time (s) at which this was learnt from /proc (None: from an exec
    /// event, which stays true until the pid execs again).
    pub read_at: Option<i64>,
    /// Its labels (its own and those inherited from its ancestors).
    pub labels: audex_policy::LabelSet,
}

impl ProcInfo {
    /// Bytes this entry holds (its strings and their headers).
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<ProcInfo>()
            + self.exe.len()
            + self.comm.len()
            + self.args.mem_bytes()
            + self.container.as_ref().map_or(0, |c| {
                c.id.len() + c.pod_uid.as_ref().map_or(0, String::len)
            })
    }
}

/// Bytes of entries the cache keeps at most (with the default capacity of
/// 16,384 entries, about 2 KiB each on average).
pub const MAX_BYTES: usize = 24 << 20;

/// pid → ProcInfo, at most `capacity` entries and [`MAX_BYTES`].
pub struct ProcessCache {
    map: FxHashMap<u32, (u64, Arc<ProcInfo>)>,
    order: VecDeque<(u32, u64)>,
    capacity: usize,
    bytes: usize,
    max_bytes: usize,
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
            bytes: 0,
            max_bytes: MAX_BYTES,
            stamp: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// The byte bound (default [`MAX_BYTES`]).
    pub fn with_max_bytes(mut self, n: usize) -> ProcessCache {
        self.max_bytes = n;
        self
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes the entries hold.
    pub fn bytes(&self) -> usize {
        self.bytes
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
        self.bytes += info.mem_bytes();
        if let Some((_, old)) = self.map.insert(pid, (self.stamp, info.clone())) {
            self.bytes -= old.mem_bytes();
        }
        self.order.push_back((pid, self.stamp));
        // The newest entry stays, however large.
        while self.map.len() > self.capacity || (self.bytes > self.max_bytes && self.map.len() > 1)
        {
            let Some((old, stamp)) = self.order.pop_front() else {
                break;
            };
            // Skip queue entries a newer insert of the same pid replaced.
            if self.map.get(&old).is_some_and(|(s, _)| *s == stamp) {
                if let Some((_, gone)) = self.map.remove(&old) {
                    self.bytes -= gone.mem_bytes();
                }
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

    #[test]
    fn bounded_in_bytes_too() {
        let mut c = ProcessCache::new(1000).with_max_bytes(1 << 20);
        let big = |pid: u32| ProcInfo {
            args: Argv::new([&*"x".repeat(100 << 10)]),
            comm: format!("p{pid}"),
            ..Default::default()
        };
        for pid in 1..=50 {
            c.insert(pid, big(pid));
            assert!(c.bytes() <= 1 << 20, "{} bytes after pid {pid}", c.bytes());
        }
        assert!(
            c.len() < 11 && c.len() >= 9,
            "{} entries of 100 KiB",
            c.len()
        );
        assert!(
            c.peek(50).is_some() && c.peek(1).is_none(),
            "the oldest went"
        );
        // Replacing an entry counts its bytes once.
        c.insert(50, ProcInfo::default());
        let sum: usize = c.map.values().map(|(_, p)| p.mem_bytes()).sum();
        assert_eq!(c.bytes(), sum);
        // One entry over the bound alone is kept (the newest).
        c.insert(
            99,
            ProcInfo {
                args: Argv::new([&*"y".repeat(2 << 20)]),
                ..Default::default()
            },
        );
        assert_eq!(c.len(), 1);
        assert!(c.peek(99).is_some());
    }
}
