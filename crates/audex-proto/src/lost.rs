//! The one constructor of `records-lost` events (serial gaps found by the
//! correlator, kernel loss, socket overflows, spool drops): `category:
//! audit`, `action: records-lost`, `outcome: failure`, with `lost{count,
//! first_serial, last_serial, source}`.
use crate::v1::{AuditEvent, Lost};
use crate::Timestamp;
use crate::{Action, Category, Outcome};

/// A `records-lost` event with this id, node and time.
pub fn records_lost(id: String, node: String, time: Timestamp, lost: Lost) -> AuditEvent {
    AuditEvent {
        id,
        node,
        time: Some(time),
        serial: lost.first_serial,
        category: Category::Audit.as_str().into(),
        action: Action::RecordsLost.as_str().into(),
        outcome: Outcome::Failure.as_str().into(),
        lost: Some(lost),
        ..Default::default()
    }
}
