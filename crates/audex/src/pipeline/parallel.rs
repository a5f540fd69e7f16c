//! The [`Stages`] on several threads, giving the same events in the same
//! order as on one. A reader thread (the caller's `feed`: read and parse)
//! pushes records into the correlator, which is one sequence as on one
//! thread (its grouping, loss accounting and emission order are the
//! single-threaded run's by construction); completed events go in numbered
//! batches, in their order, to the calling thread, which enriches (the
//! process tree is one sequence too), tags and hands each event to `each`.
//! Normalizing a batch needs no other, so whoever is free does it: the
//! calling thread when the batch reaches it still raw, the reader when the
//! queue to the calling thread is full (it is ahead), and with `threads`
//! above two, `threads - 2` helper threads (at most [`MAX_HELPERS`]). So two
//! threads share the work on two cores with no thread waiting for another
//! while there is work (the calling thread waits only for a batch a helper
//! is normalizing, or for the reader). Memory stays bounded: a batch is at
//! most [`BATCH`] events or [`BATCH_BYTES`] of records (plus the one that
//! passed it), and at most [`QUEUE`] + 5 batches are in flight (queued,
//! being built, normalized or written, or waiting to be freed).
use super::{Enriched, Stages};
use anyhow::{anyhow, Result};
use audex_compliance::controls::ControlMap;
use audex_correlate::{Correlator, Output};
use audex_enrich::Enricher;
use audex_normalize::{Normalizer, UserDb};
use audex_parse::Record;
use audex_proto::v1::AuditEvent;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Completed events handed on at once. On the 1M-record storm capture
/// (`replay --threads 2`, this 2-core VM) batches of 8 cost a wake-up too
/// many, and batches of several hundred hold more records than stay in
/// cache until they are normalized; 32 to 128 measured alike.
pub const BATCH: usize = 48;

/// A batch is handed on once its records hold this much, however few
/// events (800 KiB execs by the hundred must not multiply the constant
/// memory by the batches in flight).
pub const BATCH_BYTES: usize = 1 << 20;

/// Batches queued for the calling thread. Past this the reader normalizes
/// what it hands on: it is ahead. 4, 8 and 16 measured alike (`replay
/// --threads 2`, 486,000 records of the storm capture, 11 alternating runs
/// each: 0.30-0.31 s median wall); the fewest hold the least.
pub const QUEUE: usize = 4;

/// Helper threads at most, whatever `threads` asks.
pub const MAX_HELPERS: usize = 6;

/// How `feed` hands records to the correlator.
pub type Push<'a> = dyn FnMut(Record) -> Result<()> + 'a;

/// Batches normalized by each kind of thread (how the work was shared).
#[derive(Debug, Default)]
pub struct Shares {
    pub reader: AtomicU64,
    pub writer: AtomicU64,
    pub helpers: AtomicU64,
}

/// One batch on its way: its outputs until someone takes them to
/// normalize, then its events.
struct Batch {
    state: Mutex<State>,
    ready: Condvar,
}

enum State {
    Raw(Vec<Output>),
    /// A thread is normalizing it.
    Taken,
    Done(Vec<AuditEvent>),
    /// The thread normalizing it stopped.
    Lost,
}

impl Batch {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Its outputs, when no thread has taken them yet.
    fn take(&self) -> Option<Vec<Output>> {
        let mut st = self.lock();
        match std::mem::replace(&mut *st, State::Taken) {
            State::Raw(outs) => Some(outs),
            other => {
                *st = other;
                None
            }
        }
    }

    fn finish(&self, st: State) {
        *self.lock() = st;
        self.ready.notify_all();
    }
}

/// Marks a taken batch lost if its thread unwinds before finishing it, so
/// the calling thread does not wait for it forever (forgotten once done).
struct Taken<'a>(&'a Batch);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.0.finish(State::Lost);
    }
}

/// What a thread needs to normalize a batch, and where it counts those it did.
struct Work<'a, U> {
    normalizer: &'a Normalizer<U>,
    count: &'a AtomicU64,
}

impl<U: UserDb> Work<'_, U> {
    /// Normalizes `b` if no thread has taken it; gives back its outputs then.
    fn normalize(&self, b: &Batch) -> Option<Vec<Output>> {
        let outs = b.take()?;
        let guard = Taken(b);
        let evs = outs.iter().map(|o| self.normalizer.normalize(o)).collect();
        std::mem::forget(guard);
        b.finish(State::Done(evs));
        self.count.fetch_add(1, Ordering::Relaxed);
        Some(outs)
    }

    /// As [`Work::normalize`], the outputs sent back to the reader to be
    /// freed where they were allocated (a free on another thread is slower in
    /// mimalloc, and its owner pays again to collect it); freed here when the
    /// reader's queue of them is full.
    fn normalize_for(&self, b: &Batch, spent: &SyncSender<Vec<Output>>) {
        if let Some(outs) = self.normalize(b) {
            let _ = spent.try_send(outs);
        }
    }
}

/// Runs `feed` on a reader thread and the stages over what it pushes, this
/// thread enriching and handing on, and `threads - 2` helper threads; `each`
/// gets every event in order. Returns what `feed` returned. An error of
/// `each` stops the others and is returned.
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
    run_sharing(stages, threads, batch, &Shares::default(), feed, each)
}

/// [`run`], counting in `shares` who normalized each batch.
pub fn run_sharing<U, R, F>(
    stages: &mut Stages<U>,
    threads: usize,
    batch: usize,
    shares: &Shares,
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
    let helpers = threads.saturating_sub(2).min(MAX_HELPERS);
    std::thread::scope(|s| {
        let (order_tx, order_rx) = sync_channel::<Arc<Batch>>(QUEUE);
        let (work_tx, work_rx) = sync_channel::<Arc<Batch>>(helpers.max(1));
        let (spent_tx, spent_rx) = sync_channel::<Vec<Output>>(2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        for _ in 0..helpers {
            let rx = work_rx.clone();
            let spent = spent_tx.clone();
            s.spawn(move || {
                let work = Work {
                    normalizer,
                    count: &shares.helpers,
                };
                while let Ok(b) = next_work(&rx) {
                    work.normalize_for(&b, &spent);
                }
            });
        }
        drop(work_rx);
        let hand = Handoff {
            batch: batch.max(1),
            bytes: 0,
            outs: Vec::with_capacity(batch.max(1)),
            work_tx: (helpers > 0).then_some(work_tx),
            order_tx,
            spent: spent_rx,
            work: Work {
                normalizer,
                count: &shares.reader,
            },
        };
        let reader = s.spawn(move || correlate(correlator, feed, hand));
        let work = Work {
            normalizer,
            count: &shares.writer,
        };
        // On an error here the queue closes, and the reader stops at its next batch.
        in_order(order_rx, &work, &spent_tx, enricher, controls, each)?;
        reader
            .join()
            .map_err(|_| anyhow!("the reader thread panicked"))?
    })
}

/// The reader thread: `feed`'s records through the correlator, completed
/// events handed on.
fn correlate<R, U: UserDb>(
    correlator: &mut Correlator,
    feed: impl FnOnce(&mut Push) -> Result<R>,
    mut hand: Handoff<'_, U>,
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

/// This thread: the batches in their order, normalized here if no other
/// thread did, enriched and tagged, to `each`.
fn in_order<U: UserDb>(
    order: Receiver<Arc<Batch>>,
    work: &Work<'_, U>,
    spent: &SyncSender<Vec<Output>>,
    enricher: &mut Enricher,
    controls: &Option<ControlMap>,
    each: &mut dyn FnMut(Enriched) -> Result<()>,
) -> Result<()> {
    for b in order {
        work.normalize_for(&b, spent);
        // Taken by a helper: done when it has finished.
        let mut st = b
            .ready
            .wait_while(b.lock(), |st| matches!(st, State::Taken))
            .unwrap_or_else(|e| e.into_inner());
        let State::Done(evs) = std::mem::replace(&mut *st, State::Lost) else {
            return Err(anyhow!("a normalizer thread stopped"));
        };
        drop(st);
        for ev in evs {
            each(super::stages::finish(enricher, controls.as_ref(), ev))?;
        }
    }
    Ok(())
}

fn next_work(rx: &Mutex<Receiver<Arc<Batch>>>) -> Result<Arc<Batch>, std::sync::mpsc::RecvError> {
    rx.lock().unwrap_or_else(|e| e.into_inner()).recv()
}

/// The reader's side: completed events handed on in batches, in order.
struct Handoff<'a, U> {
    batch: usize,
    /// Record bytes in `outs`.
    bytes: usize,
    outs: Vec<Output>,
    /// To the helpers, when there are any.
    work_tx: Option<SyncSender<Arc<Batch>>>,
    order_tx: SyncSender<Arc<Batch>>,
    spent: Receiver<Vec<Output>>,
    /// To normalize a batch when the queue is full.
    work: Work<'a, U>,
}

impl<U: UserDb> Handoff<'_, U> {
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

    /// The batch so far on its way: offered to the helpers, queued for the
    /// calling thread, and normalized here first when that queue is full.
    fn send(&mut self) -> Result<()> {
        if self.outs.is_empty() {
            return Ok(());
        }
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
        let b = Arc::new(Batch {
            state: Mutex::new(State::Raw(outs)),
            ready: Condvar::new(),
        });
        if let Some(tx) = &self.work_tx {
            // Helpers all busy: the batch waits for whoever is free first.
            let _ = tx.try_send(b.clone());
        }
        let stopped = || anyhow!("the replay stopped");
        match self.order_tx.try_send(b) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(b)) => {
                // Its outputs freed here, where they were allocated.
                drop(self.work.normalize(&b));
                self.order_tx.send(b).map_err(|_| stopped())
            }
            Err(TrySendError::Disconnected(_)) => Err(stopped()),
        }
    }
}
