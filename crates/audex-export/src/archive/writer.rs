//! Writes archive segments `DIR/audex-<unix ms>-<n>.pb`: as `.pb.partial` while
//! open, renamed when closed. With a chain key each event gets its `chain` field
//! and each segment ends with one seal event per node chain; the chain continues
//! across segments and restarts (heads kept in `DIR/chain-heads`, and taken from
//! the newest segments at start).
use super::chain::{self, append_chain, hex, unhex, view, ChainKey, Mac};
use super::reader::{is_segment, records};
use super::SEAL_ACTION;
use crate::delivery::{Accepted, ExportError, ExportFuture, Exporter};
use audex_proto::v1::AuditEvent;
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HEADS_FILE: &str = "chain-heads";

fn io_err(what: &str, e: io::Error) -> ExportError {
    // A full disk or a vanished directory may recover: keep the events and retry.
    ExportError::Retryable {
        reason: format!("{what}: {e}"),
        retry_after: Some(Duration::from_secs(1)),
    }
}

/// Sequence numbers of one node's chain within one segment.
#[derive(Debug, Clone, Copy)]
struct Span {
    first: u64,
    last: u64,
    events: u64,
}

/// Counts `seq` into the node's span (no allocation once the node is known).
fn add_to_span(spans: &mut BTreeMap<String, Span>, node: &str, seq: u64) {
    match spans.get_mut(node) {
        Some(span) => {
            span.last = seq;
            span.events += 1;
        }
        None => {
            let span = Span {
                first: seq,
                last: seq,
                events: 1,
            };
            spans.insert(node.to_string(), span);
        }
    }
}

struct Segment {
    w: BufWriter<File>,
    path: PathBuf,
    bytes: u64,
    opened: Instant,
    spans: BTreeMap<String, Span>,
}

/// The chain state: key and, per node, the last sequence number and MAC.
struct Chain {
    key: ChainKey,
    heads: HashMap<String, (u64, Mac)>,
}

impl Chain {
    /// Appends the framed, chained record of `content` (an event without its chain
    /// field) to `out`; returns its sequence number.
    fn append(&mut self, node: &str, content: &[u8], out: &mut Vec<u8>) -> u64 {
        let (seq, prev) = match self.heads.get(node) {
            Some((s, m)) => (s + 1, *m),
            None => (1, chain::genesis()),
        };
        let mac = self.key.mac(node, seq, &prev, content);
        let field_len = chain::chain_field_len(seq);
        chain::put_varint(out, (content.len() + field_len) as u64);
        out.extend_from_slice(content);
        append_chain(out, seq, &mac, &prev);
        match self.heads.get_mut(node) {
            Some(h) => *h = (seq, mac),
            None => {
                self.heads.insert(node.to_string(), (seq, mac));
            }
        }
        seq
    }

    /// Takes the heads found in a segment's bytes where they are newer.
    fn learn(&mut self, buf: &[u8]) {
        for r in records(buf).map_while(Result::ok) {
            if let Ok(v) = view(r.bytes) {
                if let Some((seq, mac, _)) = v.chain {
                    self.learn_head(v.node, seq, mac);
                }
            }
        }
    }

    fn learn_head(&mut self, node: &str, seq: u64, mac: &[u8]) {
        let Ok(mac) = Mac::try_from(mac) else { return };
        if self.heads.get(node).is_none_or(|(s, _)| *s < seq) {
            self.heads.insert(node.to_string(), (seq, mac));
        }
    }

    fn save_heads(&self, dir: &Path) -> io::Result<()> {
        let mut text = String::new();
        for (node, (seq, mac)) in &self.heads {
            text.push_str(&format!("{} {seq} {}\n", hex(node.as_bytes()), hex(mac)));
        }
        let tmp = dir.join(format!("{HEADS_FILE}.tmp"));
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(tmp, dir.join(HEADS_FILE))
    }

    fn load_heads(&mut self, dir: &Path) {
        let Ok(text) = std::fs::read_to_string(dir.join(HEADS_FILE)) else {
            return;
        };
        for line in text.lines() {
            let mut it = line.split(' ');
            if let (Some(n), Some(s), Some(m)) = (it.next(), it.next(), it.next()) {
                if let (Some(n), Ok(s), Some(m)) = (
                    unhex(n).and_then(|n| String::from_utf8(n).ok()),
                    s.parse(),
                    unhex(m),
                ) {
                    self.learn_head(&n, s, &m);
                }
            }
        }
    }

    /// The seal events closing `spans` of segment `name`, framed and chained.
    fn seals(&mut self, name: &str, spans: &BTreeMap<String, Span>, recovered: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        for (node, span) in spans {
            let head = self.heads.get(node).map(|h| h.1).unwrap_or_default();
            let mut data = BTreeMap::new();
            data.insert("segment".into(), name.to_string());
            data.insert("first_sequence".into(), span.first.to_string());
            data.insert("last_sequence".into(), span.last.to_string());
            data.insert("events".into(), span.events.to_string());
            data.insert("head".into(), hex(&head));
            if recovered {
                data.insert("recovered".into(), "true".into());
            }
            let seal = AuditEvent {
                id: format!("{node}:seal:{}", span.last + 1),
                time: Some(audex_proto::Timestamp {
                    seconds: now.as_secs() as i64,
                    nanos: now.subsec_nanos() as i32,
                }),
                node: node.clone(),
                category: "audit".into(),
                action: SEAL_ACTION.into(),
                outcome: "success".into(),
                data,
                ..Default::default()
            };
            self.append(node, &seal.encode_to_vec(), &mut out);
        }
        out
    }
}

/// Rotating archive segments; see the module doc.
pub struct ProtobufFile {
    name: String,
    dir: PathBuf,
    max_bytes: u64,
    max_age: Duration,
    current: Option<Segment>,
    n: u64,
    buf: Vec<u8>,
    content: Vec<u8>,
    chain: Option<Chain>,
}

fn final_name(path: &Path) -> String {
    path.with_extension("")
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl ProtobufFile {
    /// An archive in `dir`; with `chain_key` its events are chained. Segments a
    /// previous run left open are cut to their last whole record, sealed (when
    /// chained) and closed.
    pub fn new(
        name: &str,
        dir: impl Into<PathBuf>,
        max_bytes: u64,
        max_age: Duration,
        chain_key: Option<ChainKey>,
    ) -> Result<ProtobufFile, String> {
        let dir = dir.into();
        let ctx = |e: io::Error| format!("archive directory {}: {e}", dir.display());
        std::fs::create_dir_all(&dir).map_err(ctx)?;
        let mut segments: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(ctx)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_segment(p))
            .collect();
        segments.sort();
        let mut chain = chain_key.map(|key| Chain {
            key,
            heads: HashMap::new(),
        });
        if let Some(c) = &mut chain {
            c.load_heads(&dir);
            // The heads file is written as a segment closes; the newest closed
            // segment and any open one may be ahead of it.
            let newest_closed = segments
                .iter()
                .rev()
                .find(|p| !super::reader::is_open_segment(p));
            if let Some(p) = newest_closed {
                c.learn(&std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?);
            }
        }
        for p in segments
            .iter()
            .filter(|p| super::reader::is_open_segment(p))
        {
            recover(p, chain.as_mut()).map_err(|e| format!("recovering {}: {e}", p.display()))?;
        }
        if let Some(c) = &chain {
            c.save_heads(&dir).map_err(ctx)?;
        }
        Ok(ProtobufFile {
            name: name.into(),
            dir,
            max_bytes: max_bytes.max(1024),
            max_age,
            current: None,
            n: 0,
            buf: Vec::new(),
            content: Vec::new(),
            chain,
        })
    }

    fn close(&mut self) -> io::Result<()> {
        if let Some(mut s) = self.current.take() {
            if let Some(c) = &mut self.chain {
                let seals = c.seals(&final_name(&s.path), &s.spans, false);
                s.w.write_all(&seals)?;
            }
            s.w.flush()?;
            s.w.get_ref().sync_all()?;
            if let Some(c) = &self.chain {
                c.save_heads(&self.dir)?;
            }
            std::fs::rename(&s.path, s.path.with_extension(""))?;
        }
        Ok(())
    }

    fn segment(&mut self) -> io::Result<&mut Segment> {
        let stale = self
            .current
            .as_ref()
            .is_some_and(|s| s.bytes >= self.max_bytes || s.opened.elapsed() >= self.max_age);
        if stale {
            self.close()?;
        }
        if self.current.is_none() {
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            self.n += 1;
            let path = self
                .dir
                .join(format!("audex-{ms:013}-{:06}.pb.partial", self.n));
            let f = OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&path)?;
            self.current = Some(Segment {
                w: BufWriter::with_capacity(256 << 10, f),
                path,
                bytes: 0,
                opened: Instant::now(),
                spans: BTreeMap::new(),
            });
        }
        Ok(self.current.as_mut().unwrap())
    }

    /// Writes and syncs `events` (what the exporter does with a batch).
    pub fn write_batch(&mut self, events: &[AuditEvent]) -> io::Result<()> {
        let (mut buf, mut content) = (
            std::mem::take(&mut self.buf),
            std::mem::take(&mut self.content),
        );
        for e in events {
            // A full segment is closed between events, even inside a batch.
            self.segment()?;
            let seg = self.current.as_mut().unwrap();
            buf.clear();
            match &mut self.chain {
                None => e
                    .encode_length_delimited(&mut buf)
                    .map_err(io::Error::other)?,
                Some(c) => {
                    content.clear();
                    if e.chain.is_some() {
                        let mut plain = e.clone();
                        plain.chain = None;
                        plain.encode(&mut content)
                    } else {
                        e.encode(&mut content)
                    }
                    .map_err(io::Error::other)?;
                    let seq = c.append(&e.node, &content, &mut buf);
                    add_to_span(&mut seg.spans, &e.node, seq);
                }
            }
            seg.w.write_all(&buf)?;
            seg.bytes += buf.len() as u64;
        }
        if let Some(seg) = &mut self.current {
            seg.w.flush()?;
            seg.w.get_ref().sync_data()?;
        }
        self.buf = buf;
        self.content = content;
        Ok(())
    }
}

/// Closes a segment a previous run left open: cuts a torn last record (never
/// acknowledged, so still in the spool), seals the node chains it holds (when
/// chained and not sealed yet) and renames it.
fn recover(path: &Path, chain: Option<&mut Chain>) -> io::Result<()> {
    let buf = std::fs::read(path)?;
    let mut whole = 0u64;
    let mut spans: BTreeMap<String, Span> = BTreeMap::new();
    let mut sealed = Vec::new();
    for r in records(&buf) {
        let Ok(r) = r else { break };
        whole = r.end;
        let Ok(v) = view(r.bytes) else { continue };
        let Some((seq, _, _)) = v.chain else { continue };
        if v.action == SEAL_ACTION.as_bytes() {
            sealed.push(v.node.to_string());
            continue;
        }
        add_to_span(&mut spans, v.node, seq);
    }
    let f = OpenOptions::new().write(true).open(path)?;
    if whole < buf.len() as u64 {
        audex_log::warn!(
            "archive segment {}: cut {} bytes of a record the collector did not finish writing (it is redelivered from the spool)",
            path.display(),
            buf.len() as u64 - whole
        );
        f.set_len(whole)?;
    }
    if let Some(c) = chain {
        c.learn(&buf[..whole as usize]);
        spans.retain(|node, _| !sealed.contains(node));
        let seals = c.seals(&final_name(path), &spans, true);
        let mut f = OpenOptions::new().append(true).open(path)?;
        f.write_all(&seals)?;
    }
    f.sync_all()?;
    std::fs::rename(path, path.with_extension(""))
}

impl Drop for ProtobufFile {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Exporter for ProtobufFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a> {
        Box::pin(async move {
            self.write_batch(events)
                .map_err(|e| io_err(&format!("archive {}", self.dir.display()), e))?;
            Ok(Accepted::default())
        })
    }
}
