//! The live pipeline's front half: the kernel source read, parsed, correlated
//! (wall-clock timeouts), normalized and enriched on one thread; kernel loss,
//! socket overflows and serial gaps as records-lost events; on stop, the
//! source's drain (audex-kernel's end marker) so that loss up to the last
//! record is counted. Input: a subscribed Source. Output: events to a sink.
//!
//! One thread reads and processes: records are parsed straight from the receive
//! buffers. Measured on the storm bench (`audex run`, exec+files): a reader
//! thread handing batches of owned records over a channel cost a wake-up and a
//! copy per batch and record, and its allocations were freed on the other thread.
//! While the pipeline works, records wait in the socket buffer (8 MiB by
//! default) and the kernel backlog; when both are full the kernel counts loss,
//! which is reported.
use crate::metrics::{RecordCounts, METRICS};
use crate::pipeline::{Enriched, Shutdown, Sink, Stages};
use anyhow::{bail, Result};
use audex_correlate::{Config, Correlator};
use audex_enrich::kubernetes::PodIndex;
use audex_enrich::{EnrichOptions, Enricher, PasswdDb};
use audex_export::notes::records_lost_now;
use audex_kernel::end_marker::Drain;
use audex_kernel::source::{Read, Source};
use audex_normalize::{Normalizer, Options};
use audex_proto::v1::AuditEvent;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Poll the kernel's `lost` counter this often (AUDIT_GET can stall while the
/// backlog is full, so rarely, and never while it is at its limit).
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// Where names come from, what the node is called, how events are enriched.
pub struct LiveOptions {
    pub host_root: PathBuf,
    pub node: Option<String>,
    pub enrich: EnrichOptions,
    /// The pod index a Kubernetes watch fills (run with `enrich.kubernetes`).
    pub pods: Option<Arc<PodIndex>>,
}

/// Reads the kernel until `shutdown` is requested, then drains (see [`Drain`]);
/// every event goes through the [`Stages`] to `sink`, whose `tick` runs after
/// every read (at least every read timeout). While the sink is paused (the
/// outputs cannot take more), nothing is read: records wait in the socket
/// buffer and the kernel backlog, which counts what it cannot hold as lost.
pub fn read_loop(
    src: &mut Source,
    opts: &LiveOptions,
    sink: &mut dyn Sink,
    shutdown: &Shutdown,
) -> Result<()> {
    let start = Instant::now();
    let now_ms = || start.elapsed().as_millis() as u64;
    let node = opts.node.clone().or_else(hostname).unwrap_or_default();
    let mut stages = live_stages(opts, &node);
    let mut status = StatusPoll::new(src);
    let mut counts = Counts::default();
    let mut pause = Pause::default();
    let mut reader = src.take_reader().expect("the source's reader");
    let mut draining: Option<Drain> = None;
    let mut failure: Option<String> = None;
    loop {
        if draining.is_none() && shutdown.requested() {
            draining = Some(Drain::begin());
        }
        if pause.holds(draining.is_none() && sink.paused()) {
            std::thread::sleep(Duration::from_millis(100));
            sink.tick()?;
            continue;
        }
        if let Some(d) = &mut draining {
            d.send_due(src);
        }
        stages.set_now(now_ms());
        let read = reader.read_each(&mut |rtype, payload| {
            if let Some(d) = &mut draining {
                d.look(rtype, payload);
            }
            counts.take(rtype, payload, &mut stages);
        });
        match read {
            Ok(Read::Records) => status.reads += 1,
            Ok(Read::Overflow) => {
                counts.enobufs += 1;
                METRICS.enobufs.fetch_add(1, Ordering::Relaxed);
                sink.send(Enriched::note(records_lost_now(&node, "enobufs", 0)))?;
            }
            Ok(Read::Idle) => {
                if draining.as_ref().is_some_and(Drain::done) {
                    break;
                }
            }
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
        sink.tick()?;
        stages.expire_wall(now_ms());
        stages.drain_with(&mut |ev| {
            count_event(&mut counts.events_by_category, ev.event());
            sink.send(ev)
        })?;
        counts.merge_due(&stages);
        if draining.is_none() {
            status.poll_due(src, sink, &node)?;
        }
    }
    if let Some(d) = &draining {
        d.report();
    }
    if counts.enobufs > 0 {
        audex_log::warn!(
            "the socket overflowed {} times; lost records are reported as records-lost events",
            counts.enobufs
        );
    }
    stages.flush();
    stages.drain(sink)?;
    if let Some(e) = failure {
        bail!("reading the kernel: {e}");
    }
    Ok(())
}

/// The stages of a live source: names from the host root's passwd and
/// group, wall-clock timeouts, the enrichment `opts` asks for.
fn live_stages(opts: &LiveOptions, node: &str) -> Stages<PasswdDb> {
    Stages::new(
        Correlator::new(Config::default()),
        Normalizer::new(
            PasswdDb::new(&opts.host_root),
            Options {
                default_node: Some(node.to_string()),
                include_records: false,
            },
        ),
        Enricher::new(opts.enrich.clone(), opts.pods.clone()),
        None,
    )
}

/// Intake paused while the sink cannot take more (logged when it begins and
/// ends; `audex_intake_paused`).
#[derive(Default)]
struct Pause {
    since: Option<Instant>,
}

impl Pause {
    /// Whether to wait now, given whether the sink asks to.
    fn holds(&mut self, asked: bool) -> bool {
        let m = &*METRICS;
        match (asked, self.since) {
            (true, None) => {
                self.since = Some(Instant::now());
                m.intake_paused.store(1, Ordering::Relaxed);
                audex_log::error!("intake paused: the spool cannot take more events (see above); records wait in the kernel, which counts what its backlog cannot hold as lost");
            }
            (false, Some(since)) => {
                self.since = None;
                m.intake_paused.store(0, Ordering::Relaxed);
                audex_log::info!(
                    "intake resumed after {:.1} s",
                    since.elapsed().as_secs_f64()
                );
            }
            _ => {}
        }
        asked
    }
}

/// Counts kept on the per-record path and merged into `/metrics` every
/// 100 ms.
struct Counts {
    records_by_type: RecordCounts,
    events_by_category: BTreeMap<String, u64>,
    last_merge: Instant,
    parse_errors: u64,
    /// Socket overflows (each an unknown number of records).
    enobufs: u64,
}

impl Default for Counts {
    fn default() -> Counts {
        Counts {
            records_by_type: RecordCounts::default(),
            events_by_category: BTreeMap::new(),
            last_merge: Instant::now(),
            parse_errors: 0,
            enobufs: 0,
        }
    }
}

impl Counts {
    /// One record read: counted, parsed, into the stages (or logged, the
    /// first ten, when it does not parse).
    #[inline]
    fn take<U: audex_normalize::UserDb>(
        &mut self,
        rtype: u16,
        payload: &[u8],
        stages: &mut Stages<U>,
    ) {
        self.records_by_type.bump(rtype);
        match audex_parse::parse_netlink(rtype, payload) {
            Ok(p) => stages.push(p),
            Err(e) => {
                self.parse_errors += 1;
                METRICS.parse_errors.fetch_add(1, Ordering::Relaxed);
                if self.parse_errors <= 10 {
                    audex_log::warn!("unparsable record of type {rtype}: {e}");
                }
            }
        }
    }

    fn merge_due<U: audex_normalize::UserDb>(&mut self, stages: &Stages<U>) {
        if self.last_merge.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last_merge = Instant::now();
        let m = &*METRICS;
        m.add_records(&mut self.records_by_type);
        m.add_events(&mut self.events_by_category);
        m.in_flight
            .store(stages.in_flight() as u64, Ordering::Relaxed);
        m.correlator.lock().unwrap().clone_from(stages.stats());
        let (hits, misses) = stages.cache_counts();
        m.process_cache_hits.store(hits, Ordering::Relaxed);
        m.process_cache_misses.store(misses, Ordering::Relaxed);
        m.tick();
    }
}

/// The kernel's status, polled for its backlog and its `lost` counter (each
/// increase is a `records-lost` event, source kernel).
struct StatusPoll {
    last: Instant,
    kernel_lost: u32,
    backlog_high: bool,
    /// Reads that found records since the last poll.
    reads: u64,
}

impl StatusPoll {
    fn new(src: &mut Source) -> StatusPoll {
        StatusPoll {
            last: Instant::now(),
            kernel_lost: src.status().map(|s| s.lost).unwrap_or(0),
            backlog_high: false,
            reads: 0,
        }
    }

    fn poll_due(&mut self, src: &mut Source, sink: &mut dyn Sink, node: &str) -> Result<()> {
        // AUDIT_GET sent while the kernel backlog is full can park us among the
        // audited processes for backlog_wait_time: skip a poll while the last one
        // saw the backlog over half full, or while reads keep finding records.
        let busy = self.backlog_high || self.reads > 10_000;
        if busy {
            if self.last.elapsed() >= STATUS_EVERY * 6 {
                // Try again later, once things calmed down.
                self.backlog_high = false;
                self.reads = 0;
            }
            return Ok(());
        }
        if self.last.elapsed() < STATUS_EVERY {
            return Ok(());
        }
        self.last = Instant::now();
        self.reads = 0;
        let Ok(st) = src.status() else {
            return Ok(());
        };
        let m = &*METRICS;
        self.backlog_high = st.backlog_limit > 0 && st.backlog >= st.backlog_limit / 2;
        m.backlog.store(st.backlog as u64, Ordering::Relaxed);
        m.backlog_limit
            .store(st.backlog_limit as u64, Ordering::Relaxed);
        m.backlog_high_water
            .fetch_max(st.backlog as u64, Ordering::Relaxed);
        if st.lost > self.kernel_lost {
            let n = u64::from(st.lost - self.kernel_lost);
            m.kernel_lost.fetch_add(n, Ordering::Relaxed);
            sink.send(Enriched::note(records_lost_now(node, "kernel", n)))?;
        }
        self.kernel_lost = self.kernel_lost.max(st.lost);
        Ok(())
    }
}

/// Counts an event by category for `/metrics` (merged on the tick).
fn count_event(counts: &mut BTreeMap<String, u64>, ev: &AuditEvent) {
    match counts.get_mut(ev.category.as_str()) {
        Some(n) => *n += 1,
        None => {
            counts.insert(ev.category.clone(), 1);
        }
    }
}

pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
