//! The [`Stages`] on several threads, giving the same events in the same
//! order as on one. A reader thread (the caller's `feed`: read and parse)
//! pushes records into the correlator, which is one sequence as on one
//! thread (its grouping, loss accounting and emission order are the
//! single-threaded run's by construction); completed events go in numbered
//! batches to normalizer threads (normalizing one event needs no other;
//! with `threads` cores asked for, `threads - 1` of them and at least two);
//! the calling thread takes the batches back in their order and enriches
//! (the process tree is one sequence too), tags and hands each event to
//! `each`. Memory stays bounded: a batch is at most [`BATCH`] events or
//! [`BATCH_BYTES`] of records (plus the one that passed it), and about
//! `3 × normalizers + 6` batches are in flight (queued, normalized or
//! waiting to be freed; at most [`MAX_NORMALIZERS`]), each waiting in order
//! in a queue of one-slot channels (no reordering map that a slow thread
//! could grow).
use super::{Enriched, Stages};
use anyhow::{anyhow, Result};
use audex_compliance::controls::ControlMap;
use audex_correlate::{Correlator, Output};
use audex_enrich::Enricher;
use audex_normalize::UserDb;
use audex_parse::Record;
use audex_proto::v1::AuditEvent;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// Completed events handed on at once. On the 1M-record storm capture
/// (`replay --threads 2`, this 2-core VM) batches of 8 cost a wake-up too
/// many, and batches of several hundred hold more records than stay in
/// cache until a normalizer reads them; 32 to 128 measured alike.
pub const BATCH: usize = 48;

/// A batch is handed on once its records hold this much, however few
/// events (800 KiB execs by the hundred must not multiply the constant
/// memory by the batches in flight).
pub const BATCH_BYTES: usize = 1 << 20;

/// Normalizer threads at most, whatever `threads` asks.
pub const MAX_NORMALIZERS: usize = 7;

/// How `feed` hands records to the correlator.
pub type Push<'a> = dyn FnMut(Record) -> Result<()> + 'a;

type Work = (Vec<Output>, SyncSender<Vec<AuditEvent>>);
/// Normalized batches go back to the reader to be freed where they were
/// allocated (a free on another thread is slower in mimalloc, and its owner
/// pays again to collect it).
type Spent = SyncSender<Vec<Output>>;
type Slot = Receiver<Vec<AuditEvent>>;

/// Runs `feed` on a reader thread and the stages over what it pushes, with
/// `threads - 1` normalizer threads (at least 2) and this one enriching and
/// handing on; `each` gets every event in order. Returns what
/// `feed` returned. An error of `each` stops the others and is returned.
pub fn run<U, R, F>(
    stages: &mut Stages<U>,
    threads: usize,
    batch: usize,
    feed: F,
    each: &mut dyn FnMut(Enriched) -> Result<()>,
) -> Result<R>
where
    U: UserDb + Sync,
    R: Send,
    F: FnOnce(&mut Push) -> Result<R> + Send,
{
    let Stages {
        correlator,
        normalizer,
        enricher,
        controls,
    } = stages;
    let normalizer = &*normalizer;
    // The reader and this thread each do less than a normalizer: on two
    // cores, reader + one normalizer + this one (0.62-0.8x the wall of one
    // thread in paired runs) beat the reader normalizing itself (0.83x), and
    // two normalizers beat one on two cores (medians of five series of 10-12
    // alternating runs on the storm capture: 0.75-0.78x against 0.79-0.83x,
    // one series alike; three normalizers 0.80x): while one waits for its
    // next batch or its turn in the order, the other keeps the core busy.
    // Past a few normalizers the one reader is the bound; more would only add
    // batches in flight.
    let workers = threads.saturating_sub(1).clamp(2, MAX_NORMALIZERS);
    let batch = batch.max(1);
    std::thread::scope(|s| {
        let (work_tx, work_rx) = sync_channel::<Work>(workers);
        let (order_tx, order_rx) = sync_channel::<Slot>(workers + 2);
        let (spent_tx, spent_rx) = sync_channel::<Vec<Output>>(2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        for _ in 0..workers {
            let rx = work_rx.clone();
            let spent: Spent = spent_tx.clone();
            s.spawn(move || {
                while let Ok((outs, done)) = next_work(&rx) {
                    let evs = outs.iter().map(|o| normalizer.normalize(o)).collect();
                    if done.send(evs).is_err() {
                        return;
                    }
                    // Freed here when the reader's queue is full.
                    let _ = spent.try_send(outs);
                }
            });
        }
        drop(spent_tx);
        drop(work_rx);
        let hand = Handoff {
            batch,
            bytes: 0,
            outs: Vec::with_capacity(batch),
            work_tx,
            order_tx,
            spent: spent_rx,
        };
        let reader = s.spawn(move || correlate(correlator, feed, hand));
        in_order(order_rx, enricher, controls.as_ref(), each)?;
        reader
            .join()
            .map_err(|_| anyhow!("the reader thread panicked"))?
    })
}

/// The reader thread: `feed`'s records through the correlator, completed
/// events handed on.
fn correlate<R>(
    correlator: &mut Correlator,
    feed: impl FnOnce(&mut Push) -> Result<R>,
    mut hand: Handoff,
) -> Result<R> {
    let r = feed(&mut |rec| {
        correlator.push(rec);
        while let Some(out) = correlator.pop() {
            hand.take(out)?;
        }
        Ok(())
    })?;
    correlator.flush();
    while let Some(out) = correlator.pop() {
        hand.take(out)?;
    }
    hand.send()?;
    Ok(r)
}

/// This thread: the normalized batches in their order, enriched and tagged,
/// to `each`.
fn in_order(
    order: Receiver<Slot>,
    enricher: &mut Enricher,
    controls: Option<&ControlMap>,
    each: &mut dyn FnMut(Enriched) -> Result<()>,
) -> Result<()> {
    for done in order {
        let evs = done
            .recv()
            .map_err(|_| anyhow!("a normalizer thread stopped"))?;
        for ev in evs {
            each(super::stages::finish(enricher, controls, ev))?;
        }
    }
    Ok(())
}

fn next_work(rx: &Mutex<Receiver<Work>>) -> Result<Work, std::sync::mpsc::RecvError> {
    rx.lock().unwrap_or_else(|e| e.into_inner()).recv()
}

/// The reader's side: completed events handed to the normalizers in
/// batches, each with its place in the order.
struct Handoff {
    batch: usize,
    /// Record bytes in `outs`.
    bytes: usize,
    outs: Vec<Output>,
    work_tx: SyncSender<Work>,
    order_tx: SyncSender<Slot>,
    spent: Receiver<Vec<Output>>,
}

impl Handoff {
    fn take(&mut self, out: Output) -> Result<()> {
        if let Output::Event(a) = &out {
            self.bytes += a.records.iter().map(|r| r.mem_bytes()).sum::<usize>();
        }
        self.outs.push(out);
        if self.outs.len() >= self.batch || self.bytes >= BATCH_BYTES {
            self.send()?;
        }
        Ok(())
    }

    /// The batch so far on its way, its slot in the order.
    fn send(&mut self) -> Result<()> {
        if self.outs.is_empty() {
            return Ok(());
        }
        let (done_tx, done_rx) = sync_channel(1);
        // Batches normalized since: freed here, their vector reused.
        let mut next = Vec::new();
        while let Ok(mut old) = self.spent.try_recv() {
            old.clear();
            next = old;
        }
        if next.capacity() < self.batch {
            next = Vec::with_capacity(self.batch);
        }
        let outs = std::mem::replace(&mut self.outs, next);
        self.bytes = 0;
        if self.work_tx.send((outs, done_tx)).is_err() || self.order_tx.send(done_rx).is_err() {
            return Err(anyhow!("the replay stopped"));
        }
        Ok(())
    }
}
