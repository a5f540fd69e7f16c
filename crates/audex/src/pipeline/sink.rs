//! Where events go, and what the read loops ask of it: one trait instead of
//! a closure per question.
use super::Enriched;
use anyhow::Result;

pub trait Sink {
    /// Takes one event.
    fn send(&mut self, ev: Enriched) -> Result<()>;
    /// Runs after every read (at least every read timeout): flush, sync,
    /// reload, periodic work.
    fn tick(&mut self) -> Result<()> {
        Ok(())
    }
    /// Whether the sink cannot take more now (a spool that cannot be
    /// written): the read loops stop reading until it can.
    fn paused(&self) -> bool {
        false
    }
}
