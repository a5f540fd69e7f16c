//! The correlator: groups records into events and notices lost serials.
use crate::assembled::{Assembled, EndReason, LostRange, Output};
use crate::config::Config;
use crate::gaps::{GapTracker, Limits, Missing, Seen};
use crate::stats::Stats;
use audex_parse::{AuditTime, Record, RecordType};
use rustc_hash::FxBuildHasher as FxBuild;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

type Key = (u32, u64);

/// Records that must follow an event's first one before record time may call
/// it stale: on several CPUs the next record can carry a time seconds later
/// (another event's) or earlier (a syscall that blocked) than this one's.
const STALE_AFTER_RECORDS: u64 = 64;

struct Pending {
    has_syscall: bool,
    gen: u64,
    time: AuditTime,
    /// Wall clock at its first record (live mode).
    arrived_ms: u64,
    /// The node's newest record time at its first record, or its own if later:
    /// staleness counts from here, so an event stamped long ago (a syscall that
    /// blocked) is not cut while its records are still coming.
    arrived_rec_ms: u64,
    /// Records pushed before its first one: it is stale only once
    /// [`STALE_AFTER_RECORDS`] more have come (one record's time alone, old or
    /// new, proves nothing).
    arrived_at_record: u64,
    bytes: usize,
    /// What its records hold in memory (see `Record::mem_bytes`).
    mem: usize,
    records: Vec<Record>,
    /// Content hashes of `records`, filled only once a record of the same type
    /// and length as an earlier one arrives (empty until then, 0: not computed).
    hashes: Vec<u64>,
    dropped: u32,
}

/// Single-record events remembered to drop an exact copy that follows, where
/// the gap tracker (whose serial ring already catches copies) does not judge.
const RECENT_SINGLES: usize = 1024;

/// A record's hash, an equality pre-filter for the copies above (a collision
/// only costs a comparison of the bytes, so no keyed hash is needed: SipHash
/// here was 0.8 % of `replay`'s instructions on the auditd storm capture,
/// where an event's PATH records often have one length; cachegrind).
fn content_hash(r: &Record) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    r.raw().hash(&mut h);
    h.finish() | 1
}

struct Node {
    name: Option<Arc<str>>,
    /// Newest record time seen on this node (ms).
    newest_ms: u64,
    /// Wall clock of its last record (live mode).
    last_arrival_ms: u64,
    gaps: GapTracker,
}

impl Node {
    fn new(name: Option<Arc<str>>, cfg: &Config) -> Node {
        Node {
            name,
            newest_ms: 0,
            last_arrival_ms: 0,
            gaps: GapTracker::new(
                cfg.reorder_window,
                Limits {
                    timeout_ms: cfg.timeout_ms,
                    margin: cfg.gap_margin,
                    max_open: cfg.max_open_gaps,
                },
            ),
        }
    }
}

/// Groups [`Record`]s by (node, serial) into [`Assembled`] events.
///
/// Drive it with [`push`](Correlator::push), take results with
/// [`pop`](Correlator::pop), call [`expire_wall`](Correlator::expire_wall) on a
/// tick in live mode and [`flush`](Correlator::flush) at the end of input.
pub struct Correlator {
    cfg: Config,
    nodes: Vec<Node>,
    node_index: HashMap<Box<str>, u32>,
    in_flight: HashMap<Key, Pending, FxBuild>,
    /// Keys in arrival order (entries of completed events are skipped lazily).
    order: VecDeque<(Key, u64)>,
    next_gen: u64,
    now_ms: u64,
    ready: VecDeque<Output>,
    missing: Vec<Missing>,
    stats: Stats,
    /// Live mode (the wall clock was set): missing ranges age by the wall clock.
    live: bool,
    /// Memory held by events in flight.
    in_flight_mem: usize,
    /// (node, serial, content hash) of the last single-record events the gap
    /// tracker did not see, in arrival order and as a set.
    recent_singles: VecDeque<(u32, u64, u64)>,
    recent_set: std::collections::HashSet<(u32, u64, u64), FxBuild>,
}

impl Correlator {
    pub fn new(cfg: Config) -> Self {
        let first = Node::new(None, &cfg);
        Correlator {
            cfg,
            nodes: vec![first],
            node_index: HashMap::new(),
            in_flight: HashMap::with_capacity_and_hasher(1024, FxBuild),
            order: VecDeque::with_capacity(1024),
            next_gen: 0,
            now_ms: 0,
            ready: VecDeque::new(),
            missing: Vec::new(),
            stats: Stats::default(),
            live: false,
            in_flight_mem: 0,
            recent_singles: VecDeque::new(),
            recent_set: Default::default(),
        }
    }

    /// Bytes held by the events in flight (bounded by `max_in_flight_bytes`).
    pub fn in_flight_bytes(&self) -> usize {
        self.in_flight_mem
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Events currently in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Sets the wall clock used to stamp arrivals and age missing serials (live
    /// mode); replay never calls it and ages them by record time.
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.live = true;
    }

    fn node_id(&mut self, rec: &Record) -> u32 {
        match rec.node() {
            None => 0,
            Some(n) => {
                if let Some(&id) = self.node_index.get(n) {
                    return id;
                }
                let id = self.nodes.len() as u32;
                self.nodes.push(Node::new(Some(Arc::from(n)), &self.cfg));
                self.node_index.insert(n.into(), id);
                id
            }
        }
    }

    /// Adds one record. Completed events and lost ranges become available to [`pop`](Self::pop).
    pub fn push(&mut self, rec: Record) {
        self.stats.records += 1;
        let node = self.node_id(&rec);
        let key = (node, rec.serial);
        let t_ms = rec.time.as_millis();
        let is_eoe = rec.rtype == RecordType::EOE;

        if let Some(p) = self.in_flight.get_mut(&key) {
            if is_eoe {
                self.stats.eoe += 1;
                self.complete(key, EndReason::Eoe, true);
            } else {
                // The kernel writes PROCTITLE last (before EOE) in audit_log_exit: a
                // syscall event is complete with it, without waiting for EOE or timeout.
                let closes = rec.rtype == RecordType::PROCTITLE && p.has_syscall;
                p.has_syscall |= rec.rtype == RecordType::SYSCALL;
                self.in_flight_mem += Self::append(&self.cfg, &mut self.stats, p, rec);
                if closes {
                    self.complete(key, EndReason::Proctitle, false);
                } else {
                    self.keep_budget(key);
                }
            }
        } else {
            let tracked = self.cfg.track_gaps && rec.rtype.has_kernel_serial();
            let mut seen = if tracked {
                let n = &mut self.nodes[node as usize];
                let clock = if self.live { self.now_ms } else { n.newest_ms };
                n.gaps
                    .observe(rec.serial, t_ms, clock, n.newest_ms, &mut self.missing)
            } else {
                Seen::Fresh
            };
            match seen {
                Seen::Implausible => {
                    self.stats.implausible_serials += 1;
                    seen = Seen::Fresh;
                }
                Seen::Restart { went_back } => {
                    self.stats.new_sequences += 1;
                    self.stats.went_back += u64::from(went_back);
                    seen = Seen::Fresh;
                }
                _ => {}
            }
            if is_eoe {
                // EOE of an event already complete (or whose records were lost).
                self.stats.eoe += 1;
            } else if seen != Seen::Fresh {
                self.stats.late += 1;
                if seen == Seen::AfterLost {
                    self.stats.after_lost += 1;
                }
            } else if rec.rtype.is_single_record() {
                if !tracked && self.seen_single(node, &rec) {
                    self.stats.duplicates += 1;
                    return self.after_push(node, t_ms);
                }
                self.stats.records_in_events += 1;
                let time = rec.time;
                self.emit(
                    node,
                    rec.serial,
                    time,
                    vec![rec],
                    0,
                    EndReason::Single,
                    false,
                );
            } else {
                let gen = self.next_gen;
                self.next_gen += 1;
                let mut p = Pending {
                    has_syscall: rec.rtype == RecordType::SYSCALL,
                    gen,
                    time: rec.time,
                    arrived_ms: self.now_ms,
                    arrived_rec_ms: t_ms.max(self.nodes[node as usize].newest_ms),
                    arrived_at_record: self.stats.records,
                    bytes: 0,
                    mem: 0,
                    records: Vec::with_capacity(8),
                    hashes: Vec::new(),
                    dropped: 0,
                };
                self.in_flight_mem += Self::append(&self.cfg, &mut self.stats, &mut p, rec);
                self.in_flight.insert(key, p);
                self.order.push_back((key, gen));
                if self.in_flight.len() > self.cfg.max_in_flight {
                    self.evict_oldest();
                }
                self.keep_budget(key);
            }
        }
        self.after_push(node, t_ms);
    }

    /// Remembers a single-record event the gap tracker does not judge (gaps
    /// off, or no kernel serial); true when an exact copy came just before.
    fn seen_single(&mut self, node: u32, rec: &Record) -> bool {
        let k = (node, rec.serial, content_hash(rec));
        if !self.recent_set.insert(k) {
            return true;
        }
        self.recent_singles.push_back(k);
        if self.recent_singles.len() > RECENT_SINGLES {
            if let Some(old) = self.recent_singles.pop_front() {
                self.recent_set.remove(&old);
            }
        }
        false
    }

    /// Evicts the oldest events (other than `keep`, unless it is the only one)
    /// while those in flight hold more than the byte budget.
    fn keep_budget(&mut self, keep: Key) {
        while self.in_flight_mem > self.cfg.max_in_flight_bytes {
            let Some((key, _)) = self.front_live() else {
                break;
            };
            if key == keep && self.in_flight.len() > 1 {
                // The newest event goes last: rotate it behind the others.
                let e = self.order.pop_front().unwrap();
                self.order.push_back(e);
                continue;
            }
            self.order.pop_front();
            self.stats.evicted_for_bytes += 1;
            self.complete(key, EndReason::Evicted, false);
        }
    }

    fn after_push(&mut self, node: u32, t_ms: u64) {
        if t_ms > self.nodes[node as usize].newest_ms {
            self.nodes[node as usize].newest_ms = t_ms;
            self.expire_stale(node);
        }
        let n = &mut self.nodes[node as usize];
        n.last_arrival_ms = self.now_ms;
        self.take_missing(node);
    }

    /// Adds `rec` to `p` unless a cap is reached or it is a copy of one of
    /// its records; returns the memory added.
    fn append(cfg: &Config, stats: &mut Stats, p: &mut Pending, rec: Record) -> usize {
        if p.records.len() >= cfg.max_records_per_event
            || p.bytes + rec.len_bytes() > cfg.max_bytes_per_event
        {
            p.dropped += 1;
            stats.dropped_by_cap += 1;
            return 0;
        }
        // An exact copy (a record written twice) is dropped. Hashes are
        // computed only for records of the same type and length, so the usual
        // event (types or lengths differ) pays one comparison per record.
        let mut h = 0;
        for i in 0..p.records.len() {
            let o = &p.records[i];
            if o.rtype != rec.rtype || o.len_bytes() != rec.len_bytes() {
                continue;
            }
            if h == 0 {
                h = content_hash(&rec);
                p.hashes.resize(p.records.len(), 0);
            }
            if p.hashes[i] == 0 {
                p.hashes[i] = content_hash(o);
            }
            if p.hashes[i] == h && o.raw() == rec.raw() {
                stats.duplicates += 1;
                return 0;
            }
        }
        let mem = rec.mem_bytes();
        p.bytes += rec.len_bytes();
        p.mem += mem;
        stats.records_in_events += 1;
        p.records.push(rec);
        if !p.hashes.is_empty() {
            p.hashes.push(h);
        }
        mem
    }

    fn complete(&mut self, key: Key, end: EndReason, saw_eoe: bool) {
        if let Some(p) = self.in_flight.remove(&key) {
            self.in_flight_mem -= p.mem;
            self.emit(key.0, key.1, p.time, p.records, p.dropped, end, saw_eoe);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        node: u32,
        serial: u64,
        time: AuditTime,
        records: Vec<Record>,
        dropped: u32,
        end: EndReason,
        saw_eoe: bool,
    ) {
        self.stats.events += 1;
        if end == EndReason::Evicted {
            self.stats.evicted += 1;
        }
        self.ready.push_back(Output::Event(Assembled {
            node: self.nodes[node as usize].name.clone(),
            serial,
            time,
            records,
            end,
            dropped_records: dropped,
            saw_eoe,
        }));
    }

    fn front_live(&mut self) -> Option<(Key, u64)> {
        while let Some(&(key, gen)) = self.order.front() {
            match self.in_flight.get(&key) {
                Some(p) if p.gen == gen => return Some((key, gen)),
                _ => {
                    self.order.pop_front();
                }
            }
        }
        None
    }

    fn evict_oldest(&mut self) {
        if let Some((key, _)) = self.front_live() {
            self.order.pop_front();
            self.complete(key, EndReason::Evicted, false);
        }
    }

    /// Completes events of `node` that are older than the timeout relative to its newest record.
    fn expire_stale(&mut self, node: u32) {
        let cutoff = self.nodes[node as usize]
            .newest_ms
            .saturating_sub(self.cfg.timeout_ms);
        // Arrival order approximates time order; stop at the first live event that is not stale
        // (of any node), so a quiet node does not hold others back beyond eviction.
        let mut skipped: Vec<(Key, u64)> = Vec::new();
        while let Some((key, gen)) = self.front_live() {
            let p = &self.in_flight[&key];
            if key.0 != node {
                // Another node's event: look past it, keep its place.
                self.order.pop_front();
                skipped.push((key, gen));
                if skipped.len() > 64 {
                    break;
                }
                continue;
            }
            if p.arrived_rec_ms < cutoff
                && self.stats.records - p.arrived_at_record >= STALE_AFTER_RECORDS
            {
                self.order.pop_front();
                self.complete(key, EndReason::Stale, false);
            } else {
                break;
            }
        }
        for e in skipped.into_iter().rev() {
            self.order.push_front(e);
        }
        if self.cfg.track_gaps && !self.live {
            let n = &mut self.nodes[node as usize];
            if n.gaps.has_open() {
                n.gaps.expire(n.newest_ms, false, &mut self.missing);
            }
        }
    }

    /// Emits the missing ranges just closed for `node`.
    fn take_missing(&mut self, node: u32) {
        if self.missing.is_empty() {
            return;
        }
        for m in std::mem::take(&mut self.missing) {
            self.emit_lost(node, m);
        }
    }

    fn emit_lost(&mut self, node: u32, m: Missing) {
        let count = m.last - m.first + 1;
        self.stats.lost_ranges += 1;
        self.stats.lost_serials += count;
        self.ready.push_back(Output::Lost(LostRange {
            node: self.nodes[node as usize].name.clone(),
            first_serial: m.first,
            last_serial: m.last,
            time: AuditTime {
                secs: m.noticed_ms / 1000,
                nanos: ((m.noticed_ms % 1000) * 1_000_000) as u32,
            },
        }));
    }

    /// Completes events that arrived more than the timeout before `now_ms` (wall clock),
    /// and reports gaps open that long.
    pub fn expire_wall(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.live = true;
        let cutoff = now_ms.saturating_sub(self.cfg.timeout_ms);
        while let Some((key, _)) = self.front_live() {
            if self.in_flight[&key].arrived_ms < cutoff {
                self.order.pop_front();
                self.complete(key, EndReason::WallClock, false);
            } else {
                break;
            }
        }
        if self.cfg.track_gaps {
            // A node quiet for the timeout will not fill its gaps any more.
            for id in 0..self.nodes.len() {
                let n = &mut self.nodes[id];
                if n.gaps.has_open() {
                    let quiet = n.last_arrival_ms < cutoff;
                    n.gaps.expire(now_ms, quiet, &mut self.missing);
                }
                self.take_missing(id as u32);
            }
        }
    }

    /// Completes everything in flight and reports every open gap (end of input).
    pub fn flush(&mut self) {
        while let Some((key, _)) = self.front_live() {
            self.order.pop_front();
            self.complete(key, EndReason::Flush, false);
        }
        for id in 0..self.nodes.len() {
            self.nodes[id].gaps.drain_all(&mut self.missing);
            self.take_missing(id as u32);
        }
    }

    /// The next completed event or lost range, oldest first.
    pub fn pop(&mut self) -> Option<Output> {
        self.ready.pop_front()
    }
}
