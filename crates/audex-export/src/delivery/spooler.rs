//! The producer side of one exporter's spool: events go in encoded the
//! exporter's way, are on disk within `sync_every` (1 s by default), and when
//! the size bound drops old entries, a `records-lost` event (source `spool`)
//! goes into the stream in their place, so the loss reaches the SIEM.
//!
//! When the spool cannot be written (a full disk, an I/O error), entries are
//! held in memory, in order, and written first once it can again (retried on
//! every [`tick`](Spooler::tick)); past [`HOLD_BYTES`] the spooler asks for
//! intake to pause ([`paused`](Spooler::paused)), so records wait in the
//! kernel, whose backlog counts what it cannot hold as lost. Every step is
//! logged with the spool's directory.
use super::DeliveryStats;
use crate::encoding::Encoder;
use crate::notes::records_lost_now;
use crate::spool::{Dropped, Spool};
use audex_proto::v1::AuditEvent;
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Encoded entries held in memory while the spool cannot be written, before
/// intake pauses.
pub const HOLD_BYTES: usize = 16 << 20;

/// The scratch buffer's capacity kept across events (an exec with a long
/// command line is a few KiB; a larger one is encoded into a fresh buffer).
const SCRATCH_KEPT: usize = 256 << 10;

/// An entry not written: its bytes and the count it carries if a loss report.
type Held = (Vec<u8>, Option<u64>);

/// Appends events to a spool shared with a delivery loop.
pub struct Spooler {
    spool: Arc<Mutex<Spool>>,
    /// The exporter's spool encoding (its transport reads these entries).
    encoder: Box<dyn Encoder>,
    node: String,
    sync_every: Duration,
    last_sync: Instant,
    unsynced: u64,
    /// Where events are encoded (keeps the largest entry's capacity).
    scratch: Vec<u8>,
    /// Events the bound dropped so far (reported as records-lost events).
    pub dropped: u64,
    /// Where the drops are counted too, across this spooler's life (metrics).
    stats: Option<Arc<DeliveryStats>>,
    /// Loss reports still in the spool: seq → the count they carry. A report the
    /// bound drops in turn hands its count on to the next report.
    reports: std::collections::BTreeMap<u64, u64>,
    /// Entries the spool refused, in order, each with the count it carries when
    /// it is a loss report.
    held: VecDeque<Held>,
    held_bytes: usize,
    hold_limit: usize,
    /// Intake is asked to pause: set when the held bytes reach the limit,
    /// cleared when they fall under half of it (no flapping).
    pausing: bool,
    /// Since when writes fail (logged once per episode).
    stalled: Option<Instant>,
    /// The last sync failed (logged once until one succeeds).
    sync_failing: bool,
}

impl Spooler {
    /// A spooler writing `encoder`'s entries (the exporter's
    /// [`encoder`](super::Exporter::encoder)).
    pub fn new(spool: Arc<Mutex<Spool>>, encoder: Box<dyn Encoder>, node: &str) -> Spooler {
        Spooler {
            spool,
            encoder,
            node: node.to_string(),
            sync_every: Duration::from_secs(1),
            last_sync: Instant::now(),
            unsynced: 0,
            scratch: Vec::new(),
            dropped: 0,
            stats: None,
            reports: std::collections::BTreeMap::new(),
            held: VecDeque::new(),
            held_bytes: 0,
            hold_limit: HOLD_BYTES,
            pausing: false,
            stalled: None,
            sync_failing: false,
        }
    }

    pub fn with_sync_every(mut self, d: Duration) -> Spooler {
        self.sync_every = d;
        self
    }

    /// Counts what the bound drops in `stats.spool_dropped` too (the stats
    /// outlive a reload's new spooler).
    pub fn with_stats(mut self, stats: Arc<DeliveryStats>) -> Spooler {
        self.stats = Some(stats);
        self
    }

    /// `n` events more that the spool did not keep.
    fn count_dropped(&mut self, n: u64) {
        self.dropped += n;
        if let Some(s) = &self.stats {
            s.spool_dropped
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Bytes held in memory before intake pauses (default [`HOLD_BYTES`]).
    pub fn with_hold_bytes(mut self, n: usize) -> Spooler {
        self.hold_limit = n;
        self
    }

    /// The spool's directory, for messages.
    fn dir(&self) -> String {
        self.spool.lock().unwrap().dir().display().to_string()
    }

    /// An event encoded for the spool, in a buffer of exactly its size (the
    /// spool keeps it as its in-memory copy). Encoded into a scratch buffer
    /// first: a buffer guessed from the last entry's size grew (a realloc and
    /// a copy) whenever an exec followed smaller events, and the guess's spare
    /// room stayed allocated in the spool's tail.
    fn encode(&mut self, ev: &AuditEvent) -> Vec<u8> {
        self.scratch.clear();
        self.encoder.encode(ev, &mut self.scratch);
        if self.scratch.capacity() > SCRATCH_KEPT {
            // One huge event's buffer is not kept: it becomes the entry.
            return std::mem::take(&mut self.scratch);
        }
        self.scratch.clone()
    }

    /// Writes one entry (`report`: the count it carries when it is a loss
    /// report), or holds it behind those already held.
    fn put(&mut self, buf: Vec<u8>, report: Option<u64>) {
        if !self.held.is_empty() {
            self.hold(buf, report);
        } else if let Err((buf, report)) = self.write_one(buf, report) {
            self.hold(buf, report);
        }
    }

    /// Writes one entry, or gives it back when the spool refuses it. What the
    /// size bound drops for it is reported right after it (held first in line
    /// when that report cannot be written).
    fn write_one(&mut self, buf: Vec<u8>, report: Option<u64>) -> Result<(), Held> {
        let written = self.spool.lock().unwrap().try_append(buf);
        match written {
            Ok((seq, dropped)) => {
                self.unsynced += 1;
                if let Some(n) = report {
                    self.reports.insert(seq, n);
                }
                if let Some(d) = dropped {
                    let n = self.loss_in(d);
                    let b = self.encode(&records_lost_now(&self.node, "spool", n));
                    if let Err((b, r)) = self.write_one(b, Some(n)) {
                        self.held_bytes += b.len();
                        self.held.push_front((b, r));
                    }
                }
                Ok(())
            }
            Err(refused) => {
                self.stall(&refused.error);
                Err((refused.payload, report))
            }
        }
    }

    /// The events a dropped range cost, with the counts of the reports inside
    /// it handed on (reports are not lost events themselves).
    fn loss_in(&mut self, d: Dropped) -> u64 {
        let inside: Vec<u64> = self
            .reports
            .range(d.first_seq..=d.last_seq)
            .map(|(&s, _)| s)
            .collect();
        let carried: u64 = inside
            .iter()
            .map(|s| self.reports.remove(s).unwrap_or(0))
            .sum();
        let events_lost = d.count() - inside.len() as u64;
        self.count_dropped(events_lost);
        events_lost + carried
    }

    fn hold(&mut self, buf: Vec<u8>, report: Option<u64>) {
        self.held_bytes += buf.len();
        self.held.push_back((buf, report));
        self.pausing |= self.held_bytes >= self.hold_limit;
    }

    fn stall(&mut self, e: &io::Error) {
        if self.stalled.is_none() {
            self.stalled = Some(Instant::now());
            audex_log::error!(
                "spool {}: cannot write ({e}); events are held in memory (up to {} KiB), then intake pauses until the spool can be written",
                self.dir(),
                self.hold_limit >> 10
            );
        }
    }

    /// Writes the held entries, in order, while the spool takes them.
    fn write_held(&mut self) {
        while let Some((buf, report)) = self.held.pop_front() {
            self.held_bytes -= buf.len();
            if let Err((buf, report)) = self.write_one(buf, report) {
                self.held_bytes += buf.len();
                self.held.push_front((buf, report));
                self.pausing &= self.held_bytes >= self.hold_limit / 2;
                return;
            }
        }
        self.pausing = false;
        if let Some(since) = self.stalled.take() {
            audex_log::info!(
                "spool {}: writes work again after {:.1} s; the held events are in the spool",
                self.dir(),
                since.elapsed().as_secs_f64()
            );
        }
    }

    /// Appends one event; syncs when `sync_every` has passed since the last sync.
    /// An event the spool cannot take is held (see the module doc).
    pub fn append(&mut self, ev: &AuditEvent) -> io::Result<()> {
        let buf = self.encode(ev);
        self.put(buf, None);
        // Reports delivered (acked) no longer need remembering (usually there are
        // none: then the spool is not locked a second time per event).
        if !self.reports.is_empty() {
            let acked = self.spool.lock().unwrap().acked();
            self.reports = self.reports.split_off(&(acked + 1));
        }
        if self.last_sync.elapsed() >= self.sync_every {
            self.sync()?;
        }
        Ok(())
    }

    /// Puts a `records-lost` event (source `spool`) for `count` events that
    /// damage to the spool cost (see `Recovery::lost`) into the stream.
    pub fn report_lost(&mut self, count: u64) -> io::Result<()> {
        self.count_dropped(count);
        let buf = self.encode(&records_lost_now(&self.node, "spool", count));
        self.put(buf, Some(count));
        self.sync()
    }

    /// Events held in memory because the spool cannot be written.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Intake should pause: the spool cannot be written and the held entries
    /// reached the hold limit ([`HOLD_BYTES`]); until they fall under half of it.
    pub fn paused(&self) -> bool {
        self.pausing
    }

    /// Writes held entries, and syncs when `sync_every` has passed (call on a
    /// tick, so an idle stream is still on disk within the interval).
    pub fn tick(&mut self) -> io::Result<()> {
        if !self.held.is_empty() {
            self.write_held();
        }
        if self.last_sync.elapsed() >= self.sync_every {
            self.sync()?;
        }
        Ok(())
    }

    /// Makes everything appended (and acknowledged) durable now. A sync that
    /// fails (a full disk) is logged and tried again on the next tick; entries
    /// stay in memory meanwhile, and delivery goes on.
    pub fn sync(&mut self) -> io::Result<()> {
        let mut spool = self.spool.lock().unwrap();
        if self.unsynced > 0 || spool.needs_sync() {
            match spool.sync() {
                Ok(()) => {
                    self.unsynced = 0;
                    if std::mem::take(&mut self.sync_failing) {
                        audex_log::info!("spool {}: synced again", spool.dir().display());
                    }
                }
                Err(e) => {
                    if !self.sync_failing {
                        audex_log::error!(
                            "spool {}: cannot sync ({e}); retrying; what is spooled is not durable until then",
                            spool.dir().display()
                        );
                        self.sync_failing = true;
                    }
                }
            }
        }
        drop(spool);
        self.last_sync = Instant::now();
        Ok(())
    }

    /// A last attempt to write the held entries: the number that could not be
    /// (lost when the process ends; logged).
    pub fn finish(&mut self) -> u64 {
        self.write_held();
        let _ = self.sync();
        let left = self.held.len() as u64;
        if left > 0 {
            audex_log::error!(
                "spool {}: {left} events could not be written and are lost",
                self.dir()
            );
            self.count_dropped(left);
        }
        left
    }
}
