//! What a rate limit ([`Throttle`](crate::Throttle)) and repeat folding
//! ([`Folder`](crate::Folder)) have in common: each takes events with the
//! time now and holds some back, and stands for what it held back with
//! events of its own (markers, repeat events) when they are due, at a tick
//! or at the end. The pipeline runs one per tenant through this; a folding
//! filter holds its [`Folder`](crate::Folder) through it too.
use audex_proto::v1::AuditEvent;

pub trait HoldBack {
    /// Whether `ev` goes on at `now_ns`; events due before it go to `out`.
    fn admit(&mut self, ev: &AuditEvent, now_ns: i64, out: &mut Vec<AuditEvent>) -> bool;
    /// The events due at `now_ns` without a new one.
    fn tick(&mut self, now_ns: i64, out: &mut Vec<AuditEvent>);
    /// Everything still held back, summarised (end of input, reload, stop).
    fn flush(&mut self, out: &mut Vec<AuditEvent>);
}
