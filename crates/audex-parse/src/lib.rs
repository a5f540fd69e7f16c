//! Input: one auditd log line or one netlink payload (bytes). Output: [`Record`].
//! State: none. Pure: no I/O, no allocation per field (a record owns one buffer
//! and keeps spans into it; values are decoded only when asked for).
//!
//! Malformed input yields a [`ParseError`] that keeps the offending bytes; the
//! caller counts it and goes on.
// No unsafe code but the two ASCII-to-text conversions of `value.rs`.
#![deny(unsafe_code)]

mod error;
mod fields;
mod header;
mod record;
mod record_type;
mod record_types_table;
mod scan;
mod value;

pub use error::{ParseError, ParseErrorKind};
pub use record::{AuditTime, Field, FieldRef, Origin, Record, MAX_RECORD_BYTES};
pub use record_type::RecordType;
pub use value::{
    decode_hex, decode_hex_into, is_encoded_field, is_hex, utf8, utf8_owned, Value, ValueKind,
};

/// Parses one auditd log line (`[node=N ]type=T msg=audit(S.MS:SERIAL): body[\x1dENRICHED]`).
/// A trailing newline is ignored.
pub fn parse_line(line: &[u8]) -> Result<Record, ParseError> {
    record::Record::from_log_line(line)
}

/// Parses one netlink payload (`audit(S.MS:SERIAL): body`) of record type `rtype`.
pub fn parse_netlink(rtype: u16, payload: &[u8]) -> Result<Record, ParseError> {
    record::Record::from_netlink(rtype, payload)
}
