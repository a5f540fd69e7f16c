//! The producer side of one exporter's spool: events go in encoded the
//! exporter's way, are on disk within `sync_every` (1 s by default), and when
//! the size bound drops old entries, a `records-lost` event (source `spool`)
//! goes into the stream in their place, so the loss reaches the SIEM.
use super::Exporter;
use crate::spool::{Dropped, Spool};
use audex_proto::v1::{AuditEvent, Lost};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Appends events to a spool shared with a delivery loop.
pub struct Spooler {
    spool: Arc<Mutex<Spool>>,
    /// Encodes like the exporter (its `spool_encode`), without owning it; none
    /// for the default encoding (the AuditEvent protobuf).
    encoder: Option<Box<dyn Exporter>>,
    node: String,
    sync_every: Duration,
    last_sync: Instant,
    unsynced: u64,
    /// Size of the last entry encoded.
    last_len: usize,
    /// Events the bound dropped so far (reported as records-lost events).
    pub dropped: u64,
    /// Loss reports still in the spool: seq → the count they carry. A report the
    /// bound drops in turn hands its count on to the next report.
    reports: std::collections::BTreeMap<u64, u64>,
}

impl Spooler {
    pub fn new(spool: Arc<Mutex<Spool>>, encoder: Box<dyn Exporter>, node: &str) -> Spooler {
        Spooler::encoding(spool, Some(encoder), node)
    }

    /// A spooler that keeps the AuditEvent protobuf, for exporters that do not
    /// change the spool encoding (and must not be opened twice, as an archive).
    pub fn plain(spool: Arc<Mutex<Spool>>, node: &str) -> Spooler {
        Spooler::encoding(spool, None, node)
    }

    fn encoding(
        spool: Arc<Mutex<Spool>>,
        encoder: Option<Box<dyn Exporter>>,
        node: &str,
    ) -> Spooler {
        Spooler {
            spool,
            encoder,
            node: node.to_string(),
            sync_every: Duration::from_secs(1),
            last_sync: Instant::now(),
            unsynced: 0,
            last_len: 1024,
            dropped: 0,
            reports: std::collections::BTreeMap::new(),
        }
    }

    pub fn with_sync_every(mut self, d: Duration) -> Spooler {
        self.sync_every = d;
        self
    }

    fn put(&mut self, ev: &AuditEvent) -> io::Result<(u64, Option<Dropped>)> {
        // A fresh buffer each time, sized like the last entry: the spool keeps
        // it as its in-memory copy.
        let mut buf = Vec::with_capacity(self.last_len + self.last_len / 4 + 64);
        match &self.encoder {
            Some(e) => e.spool_encode(ev, &mut buf),
            None => {
                use prost::Message;
                let _ = ev.encode(&mut buf);
            }
        }
        self.last_len = buf.len();
        let r = self.spool.lock().unwrap().append_owned(buf)?;
        self.unsynced += 1;
        Ok(r)
    }

    /// Appends one event; syncs when `sync_every` has passed since the last sync.
    pub fn append(&mut self, ev: &AuditEvent) -> io::Result<()> {
        let (_, mut dropped) = self.put(ev)?;
        // A loss report may itself push more old entries out; report those too.
        while let Some(d) = dropped {
            // Reports inside the dropped range pass their counts on; they are not
            // lost events themselves.
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
            self.dropped += events_lost;
            let (seq, next) = self.put(&lost_event(&self.node, events_lost + carried))?;
            self.reports.insert(seq, events_lost + carried);
            dropped = next;
        }
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
        self.dropped += count;
        let (seq, _) = self.put(&lost_event(&self.node, count))?;
        self.reports.insert(seq, count);
        self.sync()
    }

    /// Syncs if something waits and `sync_every` has passed (call on a tick, so an
    /// idle stream is still on disk within the interval).
    pub fn tick(&mut self) -> io::Result<()> {
        if self.last_sync.elapsed() >= self.sync_every {
            self.sync()?;
        }
        Ok(())
    }

    /// Makes everything appended (and acknowledged) durable now.
    pub fn sync(&mut self) -> io::Result<()> {
        let mut spool = self.spool.lock().unwrap();
        if self.unsynced > 0 || spool.needs_sync() {
            spool.sync()?;
            self.unsynced = 0;
        }
        drop(spool);
        self.last_sync = Instant::now();
        Ok(())
    }
}

/// The event that stands for `count` events the spool bound dropped.
pub fn lost_event(node: &str, count: u64) -> AuditEvent {
    let now = crate::notes::since_epoch();
    let mut ev = crate::notes::audit_event(
        node,
        format!(
            "{node}:{}.{:09}:spool-lost",
            now.as_secs(),
            now.subsec_nanos()
        ),
        "records-lost",
        "failure",
        Default::default(),
    );
    ev.time = Some(crate::notes::timestamp(now));
    ev.lost = Some(Lost {
        count,
        first_serial: 0,
        last_serial: 0,
        source: "spool".into(),
    });
    ev
}
