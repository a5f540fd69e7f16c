//! The OTLP request written straight to protobuf bytes, without building the
//! opentelemetry-proto structs (no allocation per attribute): the hot path of
//! the OTLP exporters. Same content as [`export_request`](super::export_request),
//! which stays the reference (tests decode these bytes and compare).
use super::body::describe_into;
use super::mapping::{
    group_by_resource, json_to_any, visit_record, visit_resource, AttrSink, Body, Resource, Shape,
};
use crate::spool::Spooled;
use audex_proto::v1::AuditEvent;
use audex_proto::Action;
use prost::Message;

use crate::wire::{put_varint as varint, read_varint, varint_len};

fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, ((field << 3) | wire) as u64);
}

fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A length-delimited field whose content `f` writes: a 5-byte placeholder for
/// the length, then the content moved back over what the varint did not need.
fn nested(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, 2);
    let at = out.len();
    out.extend_from_slice(&[0; 5]);
    f(out);
    let len = out.len() - at - 5;
    let mut tmp = Vec::with_capacity(5);
    varint(&mut tmp, len as u64);
    out.copy_within(at + 5.., at + tmp.len());
    out[at..at + tmp.len()].copy_from_slice(&tmp);
    out.truncate(at + tmp.len() + len);
}

/// KeyValue messages (field `field` of the parent) as the sink receives them.
struct Kvs<'a> {
    out: &'a mut Vec<u8>,
    field: u32,
}

impl Kvs<'_> {
    /// A KeyValue whose AnyValue content (`value_len` bytes) `value` writes;
    /// lengths are known up front, so no placeholder is needed.
    fn kv(&mut self, k: &str, value_len: usize, value: impl FnOnce(&mut Vec<u8>)) {
        let any = value_len;
        let kv_len = 1 + varint_len(k.len() as u64) + k.len() + 1 + varint_len(any as u64) + any;
        key(self.out, self.field, 2);
        varint(self.out, kv_len as u64);
        bytes_field(self.out, 1, k.as_bytes());
        key(self.out, 2, 2);
        varint(self.out, any as u64);
        value(self.out);
    }
}

impl AttrSink for Kvs<'_> {
    fn str(&mut self, k: &str, v: &str) {
        let len = 1 + varint_len(v.len() as u64) + v.len();
        self.kv(k, len, |o| bytes_field(o, 1, v.as_bytes()));
    }
    fn int(&mut self, k: &'static str, v: i64) {
        let len = 1 + varint_len(v as u64);
        self.kv(k, len, |o| {
            key(o, 3, 0);
            varint(o, v as u64);
        });
    }
    fn strs(&mut self, k: &'static str, v: &[String]) {
        nested(self.out, self.field, |o| {
            bytes_field(o, 1, k.as_bytes());
            nested(o, 2, |o| {
                nested(o, 5, |o| {
                    for s in v {
                        nested(o, 1, |o| bytes_field(o, 1, s.as_bytes()));
                    }
                })
            });
        });
    }
}

fn log_record(out: &mut Vec<u8>, ev: &AuditEvent, observed: u64, shape: Shape) {
    let Shape { body, attributes } = shape;
    let time = super::mapping::unix_nanos(ev.time.as_ref());
    let warn = ev.failed() || ev.is(Action::AccessDenied) || ev.is(Action::RecordsLost);
    if time != 0 {
        key(out, 1, 1);
        out.extend_from_slice(&time.to_le_bytes());
    }
    key(out, 2, 0);
    varint(out, if warn { 13 } else { 9 });
    bytes_field(out, 3, if warn { b"WARN" } else { b"INFO" });
    match body {
        Body::Line => {
            thread_local!(static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) });
            LINE.with_borrow_mut(|line| {
                describe_into(ev, line);
                nested(out, 5, |o| bytes_field(o, 1, line.as_bytes()))
            })
        }
        Body::Map => {
            let v = json_to_any(&serde_json::to_value(ev).unwrap_or_default());
            bytes_field(out, 5, &v.encode_to_vec());
        }
    }
    visit_record(ev, attributes, &mut Kvs { out, field: 6 });
    if observed != 0 {
        key(out, 11, 1);
        out.extend_from_slice(&observed.to_le_bytes());
    }
    key(out, 12, 2);
    varint(out, (7 + ev.category.len() + ev.action.len()) as u64);
    out.extend_from_slice(b"audex.");
    out.extend_from_slice(ev.category.as_bytes());
    out.push(b'.');
    out.extend_from_slice(ev.action.as_bytes());
}

/// One ResourceLogs: the node's and container's resource, the audex scope, and
/// the log records `records` writes (each as field 2 of ScopeLogs).
fn resource_logs(
    out: &mut Vec<u8>,
    res: &Resource,
    rkey: (&str, &str, &str, &str),
    records: impl FnOnce(&mut Vec<u8>),
) {
    nested(out, 1, |o| {
        nested(o, 1, |o| {
            visit_resource(res, rkey, &mut Kvs { out: o, field: 1 })
        });
        nested(o, 2, |o| {
            nested(o, 1, |o| {
                bytes_field(o, 1, b"audex");
                if !res.service_version.is_empty() {
                    bytes_field(o, 2, res.service_version.as_bytes());
                }
                let mut scope = Kvs { out: o, field: 3 };
                for (k, v) in &res.scope {
                    scope.str(k, v);
                }
            });
            records(o);
        });
    });
}

/// Appends the `ExportLogsServiceRequest` of `events` to `out`.
pub fn encode_export_request(
    events: &[AuditEvent],
    res: &Resource,
    observed: u64,
    shape: impl Into<Shape>,
    out: &mut Vec<u8>,
) {
    let shape = shape.into();
    for (rkey, idx) in group_by_resource(events) {
        resource_logs(out, res, rkey, |o| {
            for i in idx {
                nested(o, 2, |o| log_record(o, &events[i], observed, shape));
            }
        });
    }
}

/// An OTLP spool entry: the event's resource key (container, pod uid, pod,
/// namespace), then its finished LogRecord (observed time = when it was spooled).
pub fn encode_spool_entry(
    ev: &AuditEvent,
    observed: u64,
    shape: impl Into<Shape>,
    out: &mut Vec<u8>,
) {
    let (c, uid, pod, ns) = super::mapping::resource_key(ev);
    for part in [c, uid, pod, ns] {
        varint(out, part.len() as u64);
        out.extend_from_slice(part.as_bytes());
    }
    log_record(out, ev, observed, shape.into());
}

fn read_str<'a>(b: &'a [u8], at: &mut usize) -> Option<&'a str> {
    let n = read_varint(b, at)? as usize;
    let s = std::str::from_utf8(b.get(*at..*at + n)?).ok()?;
    *at += n;
    Some(s)
}

/// The request for spool entries written by [`encode_spool_entry`]: records are
/// copied as they are. Returns how many entries were damaged (and left out).
pub fn encode_request_from_spool(entries: &[Spooled], res: &Resource, out: &mut Vec<u8>) -> u64 {
    type Key<'a> = (&'a str, &'a str, &'a str, &'a str);
    let mut groups: std::collections::BTreeMap<Key, Vec<&[u8]>> = std::collections::BTreeMap::new();
    let mut bad = 0;
    for (_, e) in entries {
        let mut at = 0;
        let key = (|| {
            Some((
                read_str(e, &mut at)?,
                read_str(e, &mut at)?,
                read_str(e, &mut at)?,
                read_str(e, &mut at)?,
            ))
        })();
        match key {
            Some(k) => groups.entry(k).or_default().push(&e[at..]),
            None => bad += 1,
        }
    }
    for (rkey, recs) in groups {
        resource_logs(out, res, rkey, |o| {
            for r in recs {
                bytes_field(o, 2, r);
            }
        });
    }
    bad
}
