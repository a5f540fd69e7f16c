//! The live pipeline's front half: the kernel source read on its own thread into a
//! bounded channel, parsed, correlated (wall-clock timeouts) and normalized; kernel
//! loss, socket overflows and serial gaps as records-lost events; on stop, a drain
//! that sends an end marker through the kernel so that loss up to the last record
//! is counted. Input: a subscribed Source. Output: AuditEvents to a sink.
use crate::metrics::{RecordCounts, METRICS};
use crate::signals;
use anyhow::{bail, Result};
use audex_correlate::{Config, Correlator};
use audex_enrich::kubernetes::PodIndex;
use audex_enrich::{EnrichOptions, Enricher, PasswdDb};
use audex_kernel::source::{RawRecord, Read, Source};
use audex_normalize::{Normalizer, Options};
use audex_proto::v1::{AuditEvent, Lost};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
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

/// What the reader thread hands over.
enum Batch {
    Records(Vec<RawRecord>),
    Overflow,
    Failed(String),
}

/// Batches in flight between the reader thread and the pipeline. When the
/// pipeline is slower than the kernel, the reader blocks, the socket buffer
/// fills, and the kernel reports ENOBUFS: loss is counted, memory stays bounded.
const CHANNEL_BATCHES: usize = 4096;

/// Reads the kernel until a stop is requested, then drains (see below); every
/// normalized event goes to `sink`, and `tick` runs about every 100 ms.
pub fn read_loop(
    src: &mut Source,
    opts: &LiveOptions,
    sink: &mut dyn FnMut(AuditEvent) -> Result<()>,
    tick: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    let start = Instant::now();
    let now_ms = || start.elapsed().as_millis() as u64;
    let mut corr = Correlator::new(Config::default());
    let node = opts.node.clone().or_else(hostname).unwrap_or_default();
    let norm = Normalizer::new(
        PasswdDb::new(&opts.host_root),
        Options {
            default_node: Some(node.clone()),
            include_records: false,
        },
    );
    let mut enricher = Enricher::new(opts.enrich.clone(), opts.pods.clone());
    let mut last_status = Instant::now();
    let mut kernel_lost = src.status().map(|s| s.lost).unwrap_or(0);
    let mut backlog_high = false;
    let mut batches_since_poll = 0u64;
    let mut parse_errors = 0u64;
    let m = &*METRICS;
    let mut records_by_type = RecordCounts::default();
    let mut events_by_category: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_merge = Instant::now();

    let mut reader = src.take_reader().expect("the source's reader");
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::sync_channel::<Batch>(CHANNEL_BATCHES);
    let reader_done = done.clone();
    let reader_thread = std::thread::spawn(move || {
        let mut enobufs = 0u64;
        while !reader_done.load(Ordering::SeqCst) {
            let mut raw = Vec::new();
            let batch = match reader.read(&mut raw) {
                Ok(Read::Records) => Batch::Records(raw),
                Ok(Read::Idle) => continue,
                Ok(Read::Overflow) => {
                    enobufs += 1;
                    METRICS.enobufs.fetch_add(1, Ordering::Relaxed);
                    Batch::Overflow
                }
                Err(e) => Batch::Failed(e.to_string()),
            };
            let failed = matches!(batch, Batch::Failed(_));
            METRICS.queue_depth.fetch_add(1, Ordering::Relaxed);
            if tx.send(batch).is_err() || failed {
                break;
            }
        }
        enobufs
    });

    // After a stop request, keep reading: records already queued and a pending
    // ENOBUFS must not be abandoned. A marker message sent through the kernel gets
    // the newest serial; once it is back, every serial lost before it shows as a
    // gap, so loss at the end is counted too (resent: a congested socket may drop it).
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let marker = format!(
        "op=audex-end-marker pid={} nonce={nonce}",
        std::process::id()
    );
    let mut draining: Option<Instant> = None;
    let mut marker_seen = false;
    // Sending it needs CAP_AUDIT_WRITE, which `run` does not keep (it would let
    // audex forge user records): then loss is counted up to the last record read.
    let can_mark = audex_kernel::caps::has(audex_kernel::caps::CAP_AUDIT_WRITE);
    let mut markers_sent = if can_mark { 0u32 } else { 4 };
    let mut last_marker = Instant::now();
    let mut failure: Option<String> = None;
    loop {
        if draining.is_none() && signals::stop_requested() {
            draining = Some(Instant::now());
        }
        if draining.is_some()
            && !marker_seen
            && markers_sent < 4
            && (markers_sent == 0 || last_marker.elapsed() >= Duration::from_millis(500))
        {
            markers_sent += 1;
            last_marker = Instant::now();
            if let Err(e) = src.control().send_user_message(&marker) {
                audex_log::error!("could not send the end marker ({e}); loss after the last record may go uncounted");
                markers_sent = 4;
            }
        }
        let batch = rx.recv_timeout(Duration::from_millis(100));
        if batch.is_ok() {
            m.queue_depth.fetch_sub(1, Ordering::Relaxed);
        }
        corr.set_now(now_ms());
        match batch {
            Ok(Batch::Records(raw)) => {
                batches_since_poll += 1;
                for rec in raw {
                    if rec.rtype == 1121
                        && rec
                            .payload
                            .windows(marker.len())
                            .any(|w| w == marker.as_bytes())
                    {
                        marker_seen = true;
                    }
                    records_by_type.bump(rec.rtype);
                    match audex_parse::parse_netlink_owned(rec.rtype, rec.payload) {
                        Ok(p) => corr.push(p),
                        Err(e) => {
                            parse_errors += 1;
                            m.parse_errors.fetch_add(1, Ordering::Relaxed);
                            if parse_errors <= 10 {
                                audex_log::warn!("unparsable record of type {}: {e}", rec.rtype);
                            }
                        }
                    }
                }
            }
            Ok(Batch::Overflow) => sink(lost_event("enobufs", 0, &node))?,
            Ok(Batch::Failed(e)) => {
                failure = Some(e);
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(since) = draining {
                    let gave_up =
                        markers_sent >= 4 && last_marker.elapsed() > Duration::from_millis(500);
                    if marker_seen || gave_up || since.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        tick()?;
        corr.expire_wall(now_ms());
        while let Some(o) = corr.pop() {
            let mut ev = norm.normalize(&o);
            enricher.enrich(&mut ev);
            count_event(&mut events_by_category, &ev);
            sink(ev)?;
        }
        if last_merge.elapsed() >= Duration::from_millis(100) {
            last_merge = Instant::now();
            m.add_records(&mut records_by_type);
            m.add_events(&mut events_by_category);
            m.in_flight
                .store(corr.in_flight() as u64, Ordering::Relaxed);
            let (hits, misses) = enricher.cache_counts();
            m.process_cache_hits.store(hits, Ordering::Relaxed);
            m.process_cache_misses.store(misses, Ordering::Relaxed);
            m.tick();
        }
        // AUDIT_GET sent while the kernel backlog is full can park us among the
        // audited processes for backlog_wait_time: skip a poll while the last one
        // saw the backlog over half full, or while our own queue is backed up.
        let busy = backlog_high || batches_since_poll > 10_000;
        if draining.is_none() && last_status.elapsed() >= STATUS_EVERY && !busy {
            last_status = Instant::now();
            batches_since_poll = 0;
            if let Ok(st) = src.status() {
                backlog_high = st.backlog_limit > 0 && st.backlog >= st.backlog_limit / 2;
                m.backlog.store(st.backlog as u64, Ordering::Relaxed);
                m.backlog_limit
                    .store(st.backlog_limit as u64, Ordering::Relaxed);
                m.backlog_high_water
                    .fetch_max(st.backlog as u64, Ordering::Relaxed);
                if st.lost > kernel_lost {
                    m.kernel_lost
                        .fetch_add((st.lost - kernel_lost) as u64, Ordering::Relaxed);
                    sink(lost_event("kernel", (st.lost - kernel_lost) as u64, &node))?;
                }
                kernel_lost = kernel_lost.max(st.lost);
            }
        } else if busy && last_status.elapsed() >= STATUS_EVERY * 6 {
            // Try again later, once things calmed down.
            backlog_high = false;
            batches_since_poll = 0;
        }
    }
    done.store(true, Ordering::SeqCst);
    // Take what the reader still hands over, then let it finish.
    while let Ok(b) = rx.recv_timeout(Duration::from_millis(300)) {
        if let Batch::Records(raw) = b {
            for rec in raw {
                if let Ok(p) = audex_parse::parse_netlink_owned(rec.rtype, rec.payload) {
                    corr.push(p);
                }
            }
        }
    }
    let enobufs = reader_thread.join().unwrap_or(0);
    if !marker_seen && can_mark {
        audex_log::warn!(
            "the end marker did not come back; loss after the last record is not counted"
        );
    }
    if enobufs > 0 {
        audex_log::warn!("the socket overflowed {enobufs} times; lost records are reported as records-lost events");
    }
    corr.flush();
    while let Some(o) = corr.pop() {
        let mut ev = norm.normalize(&o);
        enricher.enrich(&mut ev);
        sink(ev)?;
    }
    if let Some(e) = failure {
        bail!("reading the kernel: {e}");
    }
    Ok(())
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

/// A `records-lost` event of this node (loss the kernel or the socket reported).
pub fn lost_event(source: &str, count: u64, node: &str) -> AuditEvent {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    AuditEvent {
        id: format!(
            "{node}:{}.{:03}:lost-{source}",
            now.as_secs(),
            now.subsec_millis()
        ),
        node: node.to_string(),
        time: Some(audex_proto::Timestamp {
            seconds: now.as_secs() as i64,
            nanos: now.subsec_nanos() as i32,
        }),
        category: "audit".into(),
        action: "records-lost".into(),
        outcome: "failure".into(),
        lost: Some(Lost {
            count,
            source: source.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
