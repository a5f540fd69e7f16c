//! Delivery: events wait in a [`Spool`](crate::spool::Spool) and go to one
//! exporter in batches, in order, at least once. Retryable failures (the SIEM is
//! away, throttling) are retried with exponential backoff and jitter, honouring
//! the server's retry hint; permanent ones are counted and reported, never
//! retried forever; partial-success rejections are counted.

pub(crate) mod answer;
mod endpoint;
mod retry;
mod spooler;

pub use endpoint::{parse_endpoint, Endpoint, Scheme};
pub use retry::RetryPolicy;
pub use spooler::Spooler;

use crate::encoding::{Encoder, ProtobufEncoding};
use crate::spool::{Spool, Spooled};
use audex_proto::v1::AuditEvent;
use prost::Message;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// What a successful export said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Records the receiver refused in a partial success.
    pub rejected: u64,
    pub message: String,
}

/// Why an export failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportError {
    /// Worth retrying (unavailable, throttled, timed out), maybe after a hint.
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Retrying will not help (bad request, unauthenticated): count and move on.
    Permanent { reason: String },
}

pub type ExportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Accepted, ExportError>> + Send + 'a>>;

/// Sends batches of events somewhere: the transport of one exporter.
pub trait Exporter: Send {
    fn name(&self) -> &str;

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a>;

    /// How this exporter's events are kept in its spool, for the intake side.
    /// The default keeps the AuditEvent protobuf; an exporter may keep what its
    /// wire needs instead, so that delivery does not decode and re-encode
    /// every event.
    fn encoder(&self) -> Box<dyn Encoder> {
        Box::new(ProtobufEncoding)
    }

    /// Sends entries written by its [`encoder`](Exporter::encoder). The
    /// default decodes them and calls [`export`](Exporter::export); entries that do
    /// not decode (spool damage) are reported as rejected.
    fn export_spooled<'a>(&'a mut self, entries: &'a [Spooled]) -> ExportFuture<'a> {
        Box::pin(async move {
            let mut events = Vec::with_capacity(entries.len());
            let mut bad = 0u64;
            for (_, b) in entries {
                match AuditEvent::decode(&b[..]) {
                    Ok(e) => events.push(e),
                    Err(_) => bad += 1,
                }
            }
            let mut acc = self.export(&events).await?;
            if bad > 0 {
                acc.rejected += bad;
                acc.message = format!("{bad} spool entries did not decode; {}", acc.message);
            }
            Ok(acc)
        })
    }
}

/// Counters of one exporter's delivery (shared with metrics).
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub exported: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    pub retries: AtomicU64,
    pub batches: AtomicU64,
    /// Time spent in export calls that succeeded (sum, microseconds; `batches` counts them).
    /// Each call's time also goes to the `audex_export_latency_seconds`
    /// histogram of the `metrics` facade (a no-op unless a recorder is installed).
    pub latency_micros: AtomicU64,
    /// Events the spool bound dropped (reported as `records-lost`, source spool).
    pub spool_dropped: AtomicU64,
}

impl DeliveryStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Batch sizes and timing.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub batch_max_events: usize,
    pub batch_max_bytes: usize,
    /// How long to wait for more events before sending a small batch.
    pub batch_delay: Duration,
    pub retry: RetryPolicy,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            batch_max_events: 1024,
            batch_max_bytes: 4 << 20,
            batch_delay: Duration::from_millis(200),
            retry: RetryPolicy::default(),
        }
    }
}

/// Tells the delivery loop to stop: `Drain` sends what is spooled first (until
/// the deadline), `Now` stops after the batch in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Drain(std::time::Instant),
    Now,
}

/// A handle to wake or stop a delivery loop.
#[derive(Debug, Default)]
pub struct Control {
    notify: Notify,
    /// Wakes a retry wait when a stop comes (new events must not cut a
    /// server's requested wait short, a stop with a deadline must).
    stopped: Notify,
    stop: Mutex<Option<Stop>>,
}

impl Control {
    /// New events are in the spool.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    pub fn stop(&self, how: Stop) {
        *self.stop.lock().unwrap() = Some(how);
        self.notify.notify_one();
        self.stopped.notify_one();
    }

    fn stopping(&self) -> Option<Stop> {
        *self.stop.lock().unwrap()
    }
}

/// Runs until stopped: batches from `spool` to `exporter`. Returns the number of
/// events still spooled (not acknowledged) when it stopped.
pub async fn deliver(
    spool: Arc<Mutex<Spool>>,
    mut exporter: Box<dyn Exporter>,
    cfg: DeliveryConfig,
    stats: Arc<DeliveryStats>,
    control: Arc<Control>,
) -> std::io::Result<u64> {
    let mut rng = retry::Jitter::seeded();
    let latency = metrics::histogram!(
        "audex_export_latency_seconds",
        "exporter" => exporter.name().to_string()
    );
    loop {
        let stop = control.stopping();
        if stop == Some(Stop::Now) {
            break;
        }
        let mut batch = spool
            .lock()
            .unwrap()
            .next_batch(cfg.batch_max_events, cfg.batch_max_bytes)?;
        if batch.is_empty() {
            if stop.is_some() {
                break;
            }
            let _ = tokio::time::timeout(
                cfg.batch_delay.max(Duration::from_millis(50)),
                control.notify.notified(),
            )
            .await;
            continue;
        }
        if batch.len() < cfg.batch_max_events && stop.is_none() {
            // Let a small batch fill up a little.
            tokio::time::sleep(cfg.batch_delay).await;
            let more = spool
                .lock()
                .unwrap()
                .next_batch(cfg.batch_max_events - batch.len(), cfg.batch_max_bytes)?;
            batch.extend(more);
        }
        let last_seq = batch.last().map(|(s, _)| *s).unwrap_or(0);
        let mut attempt = 0u32;
        loop {
            let began = std::time::Instant::now();
            match exporter.export_spooled(&batch).await {
                Ok(acc) => {
                    let took = began.elapsed();
                    latency.record(took.as_secs_f64());
                    stats
                        .latency_micros
                        .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
                    let n = batch.len() as u64;
                    stats
                        .exported
                        .fetch_add(n - acc.rejected.min(n), Ordering::Relaxed);
                    stats
                        .rejected
                        .fetch_add(acc.rejected.min(n), Ordering::Relaxed);
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                    spool.lock().unwrap().ack(last_seq)?;
                    break;
                }
                Err(ExportError::Permanent { reason }) => {
                    stats
                        .failed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    audex_log::error!(
                        "exporter {}: {} events refused for good: {reason}",
                        exporter.name(),
                        batch.len()
                    );
                    spool.lock().unwrap().ack(last_seq)?;
                    break;
                }
                Err(ExportError::Retryable {
                    reason,
                    retry_after,
                }) => {
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = cfg.retry.delay(attempt, retry_after, &mut rng);
                    attempt = attempt.saturating_add(1);
                    let until = std::time::Instant::now() + wait;
                    if attempt == 1 || attempt.is_power_of_two() {
                        audex_log::warn!(
                            "exporter {}: {reason}; retrying in {:.1}s",
                            exporter.name(),
                            wait.as_secs_f64()
                        );
                    }
                    // Every wait is bounded by a stop's deadline, server hints
                    // included: a stop during the wait ends it when the retry
                    // would come too late.
                    loop {
                        match control.stopping() {
                            Some(Stop::Now) => {
                                spool.lock().unwrap().rewind()?;
                                return Ok(spool.lock().unwrap().pending());
                            }
                            Some(Stop::Drain(deadline)) if until > deadline => {
                                spool.lock().unwrap().rewind()?;
                                return Ok(spool.lock().unwrap().pending());
                            }
                            _ => {}
                        }
                        tokio::select! {
                            _ = tokio::time::sleep_until(until.into()) => break,
                            _ = control.stopped.notified() => {}
                        }
                    }
                }
            }
        }
    }
    let pending = spool.lock().unwrap().pending();
    Ok(pending)
}
