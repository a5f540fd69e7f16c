//! One ECS document per event, nested as Elasticsearch stores it:
//! `@timestamp` (the event's time), `message` (the one-line summary) and the
//! fields of [`super::visit_ecs`] in [`Context::Document`] (host, container,
//! orchestrator included). Input: an AuditEvent. Output: a JSON object.
use super::fields::{visit_ecs, Context};
use crate::otlp::{describe, AttrSink};
use audex_proto::v1::AuditEvent;
use serde_json::{Map, Value};

/// Collects dotted fields into a nested object.
struct Nest(Map<String, Value>);

impl Nest {
    fn put(&mut self, key: &str, v: Value) {
        let mut at = &mut self.0;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                at.insert(part.to_string(), v);
                return;
            }
            if at.get(part).is_some_and(|x| !x.is_object()) {
                // A leaf where an object is needed: keep the rest dotted (a
                // valid ECS document; Elasticsearch expands it the same way).
                let rest: Vec<&str> = parts.collect();
                at.insert(format!("{part}.{}", rest.join(".")), v);
                return;
            }
            let slot = at
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(m) = slot else { return };
            at = m;
        }
    }
}

impl AttrSink for Nest {
    fn str(&mut self, key: &str, v: &str) {
        self.put(key, Value::String(v.to_string()));
    }
    fn int(&mut self, key: &'static str, v: i64) {
        self.put(key, Value::from(v));
    }
    fn strs(&mut self, key: &'static str, v: &[String]) {
        self.put(key, Value::from(v.to_vec()));
    }
}

/// The ECS document of `ev`. `@timestamp` is the event's time; a time no
/// date type holds (a forged record) is left out of it and kept under
/// `auditd.time_seconds`, so one bad value spoils no line.
pub fn ecs_document(ev: &AuditEvent) -> Value {
    let mut doc = Nest(Map::new());
    if let Some(t) = &ev.time {
        match audex_proto::json::rfc3339(t) {
            Some(s) => doc.put("@timestamp", Value::String(s)),
            None => doc.put("auditd.time_seconds", Value::from(t.seconds)),
        }
    }
    doc.put("message", Value::String(describe(ev)));
    visit_ecs(ev, Context::Document, &mut doc);
    Value::Object(doc.0)
}

/// Appends `ev` as one ECS document and a newline.
pub fn ecs_line(ev: &AuditEvent, out: &mut Vec<u8>) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &ecs_document(ev)).map_err(std::io::Error::other)?;
    out.push(b'\n');
    Ok(())
}
