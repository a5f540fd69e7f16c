//! Writes archive segments `DIR/audex-<unix ms>-<n>.pb`: as `.pb.partial` while
//! open, renamed when closed. With a chain key each event gets its `chain` field
//! and each segment ends with one seal event per node chain; the chain continues
//! across segments and restarts (heads kept in `DIR/chain-heads`, see [`heads`],
//! and taken from the newest segments at start). A start that cannot trust the
//! heads file writes an `archive-resumed` event first; with a checkpoint sender
//! the writer sends `archive-checkpoint` events of its heads (see [`checkpoint`]).
//! Files are created 0600 in a 0700 directory.
use super::chain::{self, append_chain, hex, view, ChainKey, Mac};
use super::heads::{self, Heads};
use super::reader::{is_open_segment, is_segment, records};
use super::{checkpoint, SEAL_ACTION};
use crate::delivery::{Accepted, ExportError, ExportFuture, Exporter};
use audex_proto::v1::AuditEvent;
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
        crate::wire::put_varint(out, (content.len() + field_len) as u64);
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

    /// Takes the heads found in a segment's bytes where they are newer; whether
    /// the bytes hold any chained record.
    fn learn(&mut self, buf: &[u8]) -> bool {
        let mut any = false;
        for r in records(buf).map_while(Result::ok) {
            if let Ok(v) = view(r.bytes) {
                if let Some((seq, mac, _)) = v.chain {
                    self.learn_head(v.node, seq, mac);
                    any = true;
                }
            }
        }
        any
    }

    fn learn_head(&mut self, node: &str, seq: u64, mac: &[u8]) {
        let Ok(mac) = Mac::try_from(mac) else { return };
        if self.heads.get(node).is_none_or(|(s, _)| *s < seq) {
            self.heads.insert(node.to_string(), (seq, mac));
        }
    }

    fn save_heads(&self, dir: &Path) -> io::Result<()> {
        heads::write(
            dir,
            &self.key,
            self.heads.iter().map(|(n, (s, m))| (n.as_str(), *s, m)),
        )
    }

    /// The seal events closing `spans` of segment `name`, framed and chained.
    /// `recovered`: sealed at a later start, with the bytes of a torn record cut.
    fn seals(
        &mut self,
        name: &str,
        spans: &BTreeMap<String, Span>,
        recovered: Option<u64>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        for (node, span) in spans {
            let head = self.heads.get(node).map(|h| h.1).unwrap_or_default();
            let mut data = BTreeMap::new();
            data.insert("segment".into(), name.to_string());
            data.insert("first_sequence".into(), span.first.to_string());
            data.insert("last_sequence".into(), span.last.to_string());
            data.insert("events".into(), span.events.to_string());
            data.insert("head".into(), hex(&head));
            if let Some(cut) = recovered {
                data.insert("recovered".into(), "true".into());
                data.insert("cut_bytes".into(), cut.to_string());
            }
            let seal = crate::notes::audit_event(
                node,
                format!("{node}:seal:{}", span.last + 1),
                audex_proto::Action::ArchiveSealed,
                audex_proto::Outcome::Success,
                data,
            );
            self.append(node, &seal.encode_to_vec(), &mut out);
        }
        out
    }
}

/// The chained event a start writes first when it could not trust the heads
/// file: the tail before it may have been cut (see [`RESUMED_ACTION`]).
fn resumed_event(node: &str, reason: &str, continued_from: u64, segment: &str) -> AuditEvent {
    let mut data = BTreeMap::new();
    data.insert("reason".into(), reason.to_string());
    data.insert("continued_from".into(), continued_from.to_string());
    data.insert("segment".into(), segment.to_string());
    crate::notes::audit_event(
        node,
        format!("{node}:resumed:{}", continued_from + 1),
        audex_proto::Action::ArchiveResumed,
        audex_proto::Outcome::Failure,
        data,
    )
}

/// Where checkpoints go, and how often.
struct Checkpoints {
    tx: SyncSender<AuditEvent>,
    every: Duration,
    last: Option<Instant>,
    /// Per node, the sequence number of the last checkpoint sent.
    sent: HashMap<String, u64>,
    /// Checkpoints not sent because the channel was full (a later one supersedes them).
    dropped: u64,
}

/// Rotating archive segments; see the module doc.
pub struct ProtobufFile {
    name: String,
    dir: PathBuf,
    max_bytes: u64,
    max_age: Duration,
    current: Option<Segment>,
    /// The millisecond and number of the newest segment named in the
    /// directory (by this run or, at the start, an earlier one): a new name
    /// takes a millisecond no earlier and a higher number, so that it sorts
    /// after it even when a restart lands in the same millisecond.
    last_ms: u128,
    n: u64,
    buf: Vec<u8>,
    content: Vec<u8>,
    chain: Option<Chain>,
    /// A start that did not trust the heads file and knew no node chain: the
    /// reason, put in an `archive-resumed` event before each new node's first event.
    resume_new: Option<&'static str>,
    checkpoints: Option<Checkpoints>,
    /// The name of the segment closed last (where checkpoints point between segments).
    last_closed: String,
}

/// The millisecond and number of a segment named `audex-{ms}-{n}.pb[.partial]`.
fn name_stamp(path: &Path) -> Option<(u128, u64)> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_prefix("audex-")?.split('.').next()?;
    let (ms, n) = stem.split_once('-')?;
    Some((ms.parse().ok()?, n.parse().ok()?))
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
        crate::private::private_dir(&dir).map_err(ctx)?;
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
        let mut distrust = None;
        let mut taken_from = String::new();
        if let Some(c) = &mut chain {
            match heads::read(&dir, &c.key).map_err(ctx)? {
                Heads::Read(hs) => {
                    for h in hs {
                        c.learn_head(&h.node, h.sequence, &h.mac);
                    }
                }
                Heads::Missing if segments.is_empty() => {}
                Heads::Missing => distrust = Some("heads-missing"),
                Heads::Garbled { line, why } => {
                    audex_log::warn!(
                        "archive {}: {} line {line}: {why}; it is not trusted",
                        dir.display(),
                        heads::HEADS_FILE
                    );
                    distrust = Some("heads-garbled");
                }
            }
            // The heads file is written before a segment is renamed closed, so no
            // closed segment should be ahead of it. The newest closed segment with
            // chained events gives the heads when the file cannot.
            let trusted = c.heads.clone();
            for p in segments.iter().rev().filter(|p| !is_open_segment(p)) {
                let buf = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                if c.learn(&buf) {
                    taken_from = final_name(p);
                    break;
                }
            }
            let behind = c
                .heads
                .iter()
                .any(|(n, (s, _))| trusted.get(n).is_none_or(|(t, _)| t < s));
            if distrust.is_none() && behind {
                audex_log::warn!(
                    "archive {}: {} is behind the closed segments (rolled back?); it is not trusted",
                    dir.display(),
                    heads::HEADS_FILE
                );
                distrust = Some("heads-behind");
            }
        }
        let (last_ms, n) = segments
            .last()
            .and_then(|p| name_stamp(p))
            .unwrap_or((0, 0));
        for p in segments.iter().filter(|p| is_open_segment(p)) {
            recover(p, chain.as_mut(), &dir)
                .map_err(|e| format!("recovering {}: {e}", p.display()))?;
        }
        if let Some(c) = &chain {
            c.save_heads(&dir).map_err(ctx)?;
        }
        let mut x = ProtobufFile {
            name: name.into(),
            dir: dir.clone(),
            max_bytes: max_bytes.max(1024),
            max_age,
            current: None,
            last_ms,
            n,
            buf: Vec::new(),
            content: Vec::new(),
            chain,
            resume_new: None,
            checkpoints: None,
            last_closed: taken_from.clone(),
        };
        if let (Some(reason), Some(c)) = (distrust, &x.chain) {
            let mut nodes: Vec<(&String, u64)> = c.heads.iter().map(|(n, h)| (n, h.0)).collect();
            nodes.sort();
            let notes: Vec<AuditEvent> = nodes
                .into_iter()
                .map(|(n, seq)| resumed_event(n, reason, seq, &taken_from))
                .collect();
            if notes.is_empty() {
                x.resume_new = Some(reason);
            } else {
                x.write_batch(&notes)
                    .map_err(|e| format!("archive directory {}: {e}", x.dir.display()))?;
            }
        }
        Ok(x)
    }

    /// Sends `archive-checkpoint` events of the chain heads to `tx` every
    /// `every` (after a batch is synced), after each segment is sealed and now.
    /// A full channel drops a checkpoint (counted; the next one supersedes it).
    pub fn with_checkpoints(mut self, tx: SyncSender<AuditEvent>, every: Duration) -> Self {
        self.checkpoints = Some(Checkpoints {
            tx,
            every,
            last: None,
            sent: HashMap::new(),
            dropped: 0,
        });
        self.checkpoint(true);
        self
    }

    /// Checkpoints not sent because the receiver did not keep up.
    pub fn checkpoints_dropped(&self) -> u64 {
        self.checkpoints.as_ref().map_or(0, |c| c.dropped)
    }

    /// Sends a checkpoint of every head that moved, when due (or `now`).
    fn checkpoint(&mut self, now: bool) {
        let (Some(cp), Some(chain)) = (&mut self.checkpoints, &self.chain) else {
            return;
        };
        if !now && cp.last.is_some_and(|t| t.elapsed() < cp.every) {
            return;
        }
        cp.last = Some(Instant::now());
        let segment = match &self.current {
            Some(s) => final_name(&s.path),
            None => self.last_closed.clone(),
        };
        let mut nodes: Vec<_> = chain.heads.iter().collect();
        nodes.sort_by(|a, b| a.0.cmp(b.0));
        for (node, (seq, mac)) in nodes {
            if cp.sent.get(node) == Some(seq) {
                continue;
            }
            let ev = checkpoint::event(&chain.key, &self.name, &segment, node, *seq, mac);
            match cp.tx.try_send(ev) {
                Ok(()) => {
                    cp.sent.insert(node.clone(), *seq);
                }
                Err(TrySendError::Full(_)) => cp.dropped += 1,
                Err(TrySendError::Disconnected(_)) => {
                    self.checkpoints = None;
                    return;
                }
            }
        }
    }

    fn close(&mut self) -> io::Result<()> {
        if let Some(mut s) = self.current.take() {
            let name = final_name(&s.path);
            if let Some(c) = &mut self.chain {
                let seals = c.seals(&name, &s.spans, None);
                s.w.write_all(&seals)?;
            }
            s.w.flush()?;
            s.w.get_ref().sync_all()?;
            if let Some(c) = &self.chain {
                c.save_heads(&self.dir)?;
            }
            std::fs::rename(&s.path, s.path.with_extension(""))?;
            self.last_closed = name;
            self.checkpoint(true);
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
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let ms = now.max(self.last_ms);
            self.last_ms = ms;
            self.n += 1;
            let path = self
                .dir
                .join(format!("audex-{ms:013}-{:06}.pb.partial", self.n));
            let f = crate::private::options()
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
        if let Some(reason) = self.resume_new.take() {
            // Before the first event of each chain this start begins.
            let mut notes: Vec<AuditEvent> = Vec::new();
            for e in events {
                if !notes.iter().any(|n| n.node == e.node) {
                    notes.push(resumed_event(&e.node, reason, 0, &self.last_closed));
                }
            }
            self.write_events(&notes)?;
        }
        self.write_events(events)?;
        self.checkpoint(false);
        Ok(())
    }

    fn write_events(&mut self, events: &[AuditEvent]) -> io::Result<()> {
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
                None => audex_proto::wire::write_delimited(e, &mut buf),
                Some(c) => {
                    content.clear();
                    if e.chain.is_some() {
                        let mut plain = e.clone();
                        plain.chain = None;
                        audex_proto::wire::write(&plain, &mut content);
                    } else {
                        audex_proto::wire::write(e, &mut content);
                    }
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
/// chained and not sealed yet, `recovered` with the bytes cut), saves the heads
/// and renames it. One without a whole record is removed.
fn recover(path: &Path, chain: Option<&mut Chain>, dir: &Path) -> io::Result<()> {
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
    let cut = buf.len() as u64 - whole;
    if cut > 0 {
        audex_log::warn!(
            "archive segment {}: cut {cut} bytes of a record the collector did not finish writing (it is redelivered from the spool)",
            path.display(),
        );
    }
    if whole == 0 {
        return std::fs::remove_file(path);
    }
    let mut f = OpenOptions::new().write(true).open(path)?;
    if cut > 0 {
        f.set_len(whole)?;
    }
    if let Some(c) = chain {
        c.learn(&buf[..whole as usize]);
        spans.retain(|node, _| !sealed.contains(node));
        let seals = c.seals(&final_name(path), &spans, Some(cut));
        use std::io::Seek;
        f.seek(io::SeekFrom::End(0))?;
        f.write_all(&seals)?;
        f.sync_all()?;
        c.save_heads(dir)?;
    } else {
        f.sync_all()?;
    }
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
