//! [`Record`]: one parsed audit record owning its bytes, with field spans into them.
use crate::error::{ParseError, ParseErrorKind};
use crate::fields::tokenize;
use crate::header::{parse_log_header, parse_stamp};
use crate::record_type::RecordType;
use crate::value::{is_encoded_field, is_execve_arg, Value, ValueKind};

thread_local! {
    /// Fields of the record being tokenized on this thread.
    static SCRATCH: std::cell::RefCell<Vec<Field>> = const { std::cell::RefCell::new(Vec::new()) };
}
/// Fields the scratch table keeps room for between records.
const SCRATCH_KEEP: usize = 4096;

/// Longest record accepted (the kernel's own limit is under 9 KiB).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The audit timestamp `SECONDS.MILLIS` of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AuditTime {
    pub secs: u64,
    pub nanos: u32,
}

impl AuditTime {
    /// Milliseconds since the epoch.
    /// Milliseconds since the epoch (saturating: a malformed 19-digit stamp must
    /// not overflow; found by the correlate fuzz target).
    pub fn as_millis(&self) -> u64 {
        self.secs
            .saturating_mul(1000)
            .saturating_add((self.nanos / 1_000_000) as u64)
    }
}

/// Where a field sits in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Written by the kernel (or the top level of a user-space record).
    Kernel,
    /// Inside the `msg='...'` of a user-space record.
    Message,
    /// In the ENRICHED part auditd appends after 0x1d (`UID="root"`).
    Enriched,
}

/// A field key: a span of the record's buffer, or one of the names the parser
/// gives to unnamed parts (AVC's result and permissions, LOGIN's `old auid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Span(u32, u32),
    Static(u8),
}

static STATIC_KEYS: [&str; 4] = ["seperms", "seresult", "old-auid", "old-ses"];
pub(crate) const STATIC_SEPERMS: u8 = 0;
pub(crate) const STATIC_SERESULT: u8 = 1;
pub(crate) const STATIC_OLD_AUID: u8 = 2;
pub(crate) const STATIC_OLD_SES: u8 = 3;

/// A field: key and value spans into the record's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub(crate) key: Key,
    pub(crate) val: (u32, u32),
    pub(crate) kind: ValueKind,
    pub origin: Origin,
}

/// One audit record: type, time, serial, node and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub rtype: RecordType,
    pub time: AuditTime,
    pub serial: u64,
    buf: Box<[u8]>,
    node: Option<(u32, u32)>,
    body_start: u32,
    fields: Vec<Field>,
}

/// One field of a record, its value not made yet (see [`Record::field_refs`]).
#[derive(Clone, Copy)]
pub struct FieldRef<'a> {
    record: &'a Record,
    field: &'a Field,
    pub key: &'a [u8],
}

impl<'a> FieldRef<'a> {
    pub fn origin(&self) -> Origin {
        self.field.origin
    }

    pub fn value(&self) -> Value<'a> {
        self.record.value_of(self.key, self.field)
    }

    /// As [`value`](Self::value), for a caller that has already matched the
    /// key and passes [`is_encoded_field`] of it, computed once for that key
    /// (the field views, at compile time: `replay`'s instructions on the
    /// auditd storm capture 590.1 M to 587.4 M, cachegrind, 65,000 records).
    pub fn value_of_key(&self, encoded_field: bool) -> Value<'a> {
        debug_assert_eq!(encoded_field, is_encoded_field(self.key));
        self.record.value_with(self.key, self.field, encoded_field)
    }
}

impl Record {
    pub(crate) fn from_log_line(line: &[u8]) -> Result<Record, ParseError> {
        let line = trim_eol(line);
        if line.len() > MAX_RECORD_BYTES {
            return Err(ParseError::new(
                ParseErrorKind::TooLong,
                MAX_RECORD_BYTES,
                line,
            ));
        }
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(ParseError::new(ParseErrorKind::Empty, 0, line));
        }
        let h = parse_log_header(line)?;
        let mut rec = Record {
            rtype: h.rtype,
            time: h.time,
            serial: h.serial,
            buf: line.into(),
            node: h.node,
            body_start: h.body_start as u32,
            fields: Vec::new(),
        };
        rec.parse_fields();
        Ok(rec)
    }

    /// A netlink payload's text: without the kernel's NUL padding and a trailing
    /// newline, and not over the record size bound.
    fn netlink_text(payload: &[u8]) -> Result<&[u8], ParseError> {
        // The kernel pads some payloads with NULs.
        let end = memchr::memchr(0, payload).unwrap_or(payload.len());
        let text = trim_eol(&payload[..end]);
        if text.len() > MAX_RECORD_BYTES {
            return Err(ParseError::new(
                ParseErrorKind::TooLong,
                MAX_RECORD_BYTES,
                text,
            ));
        }
        Ok(text)
    }

    /// A record of type `rtype` over `buf`, a payload's text.
    fn from_netlink_text(rtype: u16, buf: Box<[u8]>) -> Result<Record, ParseError> {
        let (time, serial, body_start) = parse_stamp(&buf, 0)?;
        let mut rec = Record {
            rtype: RecordType(rtype as u32),
            time,
            serial,
            buf,
            node: None,
            body_start: body_start as u32,
            fields: Vec::new(),
        };
        rec.parse_fields();
        Ok(rec)
    }

    pub(crate) fn from_netlink(rtype: u16, payload: &[u8]) -> Result<Record, ParseError> {
        Self::from_netlink_text(rtype, Self::netlink_text(payload)?.into())
    }

    fn parse_fields(&mut self) {
        let start = self.body_start as usize;
        let gs = memchr::memchr(0x1d, &self.buf[start..]).map(|i| start + i);
        let end = gs.unwrap_or(self.buf.len());
        // Tokenized into this thread's scratch table, then copied into one
        // allocation of the right size (counting the '=' first to size it was
        // 3 % of replay's instructions on the storm capture, cachegrind).
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            tokenize::<false>(&self.buf, start, end, Origin::Kernel, scratch);
            if let Some(gs) = gs {
                tokenize::<false>(&self.buf, gs + 1, self.buf.len(), Origin::Enriched, scratch);
            }
            self.fields = scratch.as_slice().to_vec();
            // A record with thousands of fields does not leave its table behind.
            if scratch.capacity() > SCRATCH_KEEP {
                *scratch = Vec::new();
            }
        });
    }

    /// The `node=` prefix, if the line had one.
    pub fn node(&self) -> Option<&str> {
        let (s, e) = self.node?;
        std::str::from_utf8(&self.buf[s as usize..e as usize]).ok()
    }

    /// The whole input this record was parsed from (log line or netlink payload).
    pub fn raw(&self) -> &[u8] {
        &self.buf
    }

    /// The text after `audit(...): `, including any ENRICHED part.
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body_start as usize..]
    }

    /// Size of the record in bytes.
    pub fn len_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Heap and inline bytes this record holds (its text, its field table and
    /// itself): what a byte budget over records in memory counts.
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Record>()
            + self.buf.len()
            + self.fields.capacity() * std::mem::size_of::<Field>()
    }

    /// Number of fields (nested and enriched included).
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    #[inline]
    fn key_is(&self, f: &Field, key: &[u8]) -> bool {
        match f.key {
            Key::Span(s, e) => {
                (e - s) as usize == key.len() && &self.buf[s as usize..e as usize] == key
            }
            Key::Static(k) => STATIC_KEYS[k as usize].as_bytes() == key,
        }
    }

    fn key_of(&self, f: &Field) -> &[u8] {
        match f.key {
            Key::Span(s, e) => &self.buf[s as usize..e as usize],
            Key::Static(k) => STATIC_KEYS[k as usize].as_bytes(),
        }
    }

    fn value_of(&self, key: &[u8], f: &Field) -> Value<'_> {
        self.value_with(key, f, is_encoded_field(key))
    }

    /// `f`'s value, `encoded_field` being [`is_encoded_field`] of its `key`.
    fn value_with(&self, key: &[u8], f: &Field, encoded_field: bool) -> Value<'_> {
        let encoded = f.origin != Origin::Enriched
            && (encoded_field || (self.rtype == RecordType::EXECVE && is_execve_arg(key)));
        Value {
            raw: &self.buf[f.val.0 as usize..f.val.1 as usize],
            kind: f.kind,
            encoded,
        }
    }

    /// Every field in order: key, value, origin.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], Value<'_>, Origin)> + '_ {
        self.field_refs().map(|f| (f.key, f.value(), f.origin()))
    }

    /// Every field's key and origin, its value made only when asked for
    /// ([`FieldRef::value`]): for a reader that takes a few fields of many
    /// (deciding whether a value is hex-encoded costs a match on its key).
    pub fn field_refs(&self) -> impl Iterator<Item = FieldRef<'_>> + '_ {
        self.fields.iter().map(move |f| FieldRef {
            record: self,
            field: f,
            key: self.key_of(f),
        })
    }

    /// The first kernel or message field named `key` (not the ENRICHED one).
    pub fn get(&self, key: &str) -> Option<Value<'_>> {
        let key = key.as_bytes();
        self.fields
            .iter()
            .find(|f| f.origin != Origin::Enriched && self.key_is(f, key))
            .map(|f| self.value_of(key, f))
    }

    /// True when the line carried an ENRICHED part.
    pub fn has_enriched(&self) -> bool {
        self.fields
            .last()
            .is_some_and(|f| f.origin == Origin::Enriched)
    }

    /// The ENRICHED value auditd appended for `key` (`UID`, `AUID`, `OUID`, ...).
    pub fn get_enriched(&self, key: &str) -> Option<Value<'_>> {
        let key = key.as_bytes();
        self.fields
            .iter()
            .find(|f| f.origin == Origin::Enriched && self.key_is(f, key))
            .map(|f| self.value_of(key, f))
    }

    /// Text of field `key`, decoded (see [`Value::text`]).
    pub fn text(&self, key: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.get(key)?.text()
    }

    /// Decimal value of field `key`.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }
}

fn trim_eol(mut s: &[u8]) -> &[u8] {
    while let Some((&last, rest)) = s.split_last() {
        if last == b'\n' || last == b'\r' {
            s = rest;
        } else {
            break;
        }
    }
    s
}
