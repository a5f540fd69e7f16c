//! Correlate → normalize → enrich (→ controls), as one value. Takes parsed
//! records and the clock; gives events, in the order the correlator completes
//! them, to a [`Sink`] or a callback. The per-record path is a plain call.
use super::{Enriched, Sink};
use anyhow::Result;
use audex_compliance::controls::ControlMap;
use audex_correlate::{Correlator, Stats};
use audex_enrich::Enricher;
use audex_normalize::{Normalizer, UserDb};
use audex_parse::Record;

pub struct Stages<U: UserDb> {
    pub(super) correlator: Correlator,
    pub(super) normalizer: Normalizer<U>,
    pub(super) enricher: Enricher,
    /// Rule keys to compliance controls here (replay without a config); else
    /// the configured table does it on the way to the exporters.
    pub(super) controls: Option<ControlMap>,
}

impl<U: UserDb> Stages<U> {
    pub fn new(
        correlator: Correlator,
        normalizer: Normalizer<U>,
        enricher: Enricher,
        controls: Option<ControlMap>,
    ) -> Stages<U> {
        Stages {
            correlator,
            normalizer,
            enricher,
            controls,
        }
    }

    /// One parsed record.
    #[inline]
    pub fn push(&mut self, rec: Record) {
        self.correlator.push(rec);
    }

    /// The live clock (milliseconds since the loop began): what is due by
    /// wall time completes.
    pub fn set_now(&mut self, now_ms: u64) {
        self.correlator.set_now(now_ms);
    }

    pub fn expire_wall(&mut self, now_ms: u64) {
        self.correlator.expire_wall(now_ms);
    }

    /// Completes everything in flight (end of input).
    pub fn flush(&mut self) {
        self.correlator.flush();
    }

    /// Every completed event, through the later stages, to `each`.
    pub fn drain_with<E>(
        &mut self,
        each: &mut dyn FnMut(Enriched) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(out) = self.correlator.pop() {
            let ev = self.normalizer.normalize(&out);
            each(finish(&mut self.enricher, self.controls.as_ref(), ev))?;
        }
        Ok(())
    }

    /// Every completed event to `sink`.
    pub fn drain(&mut self, sink: &mut dyn Sink) -> Result<()> {
        self.drain_with(&mut |ev| sink.send(ev))
    }

    pub fn stats(&self) -> &Stats {
        self.correlator.stats()
    }

    pub fn in_flight(&self) -> usize {
        self.correlator.in_flight()
    }

    /// Ids the normalizer left out because they were not valid.
    pub fn invalid_values(&self) -> u64 {
        self.normalizer.invalid_values()
    }

    /// (hits, misses) of the process cache.
    pub fn cache_counts(&self) -> (u64, u64) {
        self.enricher.cache_counts()
    }
}

/// A normalized event enriched and tagged with its controls: the stages
/// after normalize, on one thread or on the threaded pipeline's last.
pub(super) fn finish(
    enricher: &mut Enricher,
    controls: Option<&ControlMap>,
    mut ev: audex_proto::v1::AuditEvent,
) -> Enriched {
    enricher.enrich(&mut ev);
    if let Some(c) = controls {
        c.apply(&mut ev);
    }
    Enriched::new(ev)
}
