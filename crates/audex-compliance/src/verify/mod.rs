//! `audex verify`: checks hash-chained archive segments (see `audex.v1.Chain`).
//! Input: segment files in archive order and the chain key. Output: a
//! [`Verdict`] naming, with node and sequence numbers, every altered event,
//! every gap (removed events), reordering, duplicate, truncated segment and
//! replaced segment; kernel-side loss (`records-lost` events) listed apart.
//!
//! Every event carries its sequence number, its MAC and the MAC before it, so
//! each is checked alone (in parallel, a segment per worker) and the links are
//! compared afterwards: within a segment as it is read, across segments by the
//! merge. The tail (what was written last, the easiest part to cut) is checked
//! against the archive's `chain-heads` file, the `archive-resumed` events and
//! checkpoints kept off the host ([`tail`]).
mod tail;

pub use tail::{read_checkpoints, CheckpointLine, Evidence, Recovered, Resumed};

use audex_export::archive::chain::{view, ChainKey};
use audex_export::archive::reader::{is_open_segment, SegmentStream};
use audex_export::archive::{RESUMED_ACTION, SEAL_ACTION};
use audex_proto::v1::AuditEvent;
use prost::Message;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The content, sequence number or MAC of an event was changed.
    Altered,
    /// Sequence numbers are missing: events were removed.
    Removed,
    /// An event appears after a later one.
    Reordered,
    /// A sequence number appears twice.
    Duplicated,
    /// A segment ends early: cut, or its seal is missing.
    Truncated,
    /// A segment does not continue the chain of the one before (replaced, or
    /// taken from another chain).
    Replaced,
    /// An event in a chained archive without a chain field.
    Unchained,
    /// The chain-heads file is behind the closed segments: an older copy was put back.
    #[serde(rename = "rolled-back")]
    RolledBack,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Altered => "ALTERED",
            Kind::Removed => "REMOVED",
            Kind::Reordered => "REORDERED",
            Kind::Duplicated => "DUPLICATED",
            Kind::Truncated => "TRUNCATED",
            Kind::Replaced => "REPLACED",
            Kind::Unchained => "UNCHAINED",
            Kind::RolledBack => "ROLLED-BACK",
        }
    }
}

/// One finding. `first_seq..=last_seq` are the sequence numbers concerned.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub kind: Kind,
    pub node: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub segment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub detail: String,
}

/// A `records-lost` event: loss before audex (kernel, socket) or in its spool,
/// which is not tampering but a gap an auditor must see.
#[derive(Debug, Clone, Serialize)]
pub struct LostRecords {
    pub node: String,
    pub sequence: u64,
    pub time: String,
    pub count: u64,
    pub first_serial: u64,
    pub last_serial: u64,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainSummary {
    pub node: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub events: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub intact: bool,
    pub segments: usize,
    /// Events checked (seals not counted).
    pub events: u64,
    pub seals: u64,
    /// Records whose MAC matched (events and seals).
    pub authentic: u64,
    /// Segments still being written (`.pb.partial`): not sealed yet, not a fault.
    pub open_segments: Vec<String>,
    pub chains: Vec<ChainSummary>,
    pub problems: Vec<Problem>,
    pub lost: Vec<LostRecords>,
    /// Segments sealed at a later start after the collector stopped with them
    /// open (a crash, a kill): not tampering, but each one is listed.
    pub recovered: Vec<Recovered>,
    /// Starts that did not trust the chain-heads file (each also a problem).
    pub resumed: Vec<Resumed>,
    /// What was checked besides the segments: chain-heads files, checkpoints.
    pub evidence: tail::EvidenceSummary,
}

/// A node's chain as one segment holds it.
#[derive(Debug, Default)]
struct NodeSeg {
    first_seq: u64,
    first_prev: Vec<u8>,
    /// Highest in-order sequence number and its MAC.
    last_seq: u64,
    last_mac: Vec<u8>,
    /// The next sequence number in order.
    expected: u64,
    /// The link of the next event cannot be checked (the one before was unreadable).
    link_unknown: bool,
    /// Missing ranges not yet seen later (start -> end).
    pending: BTreeMap<u64, u64>,
    /// Where the last event seen sits (for reorder messages).
    last_seen: u64,
    events: u64,
    sealed: bool,
}

struct SegResult {
    name: String,
    open: bool,
    /// Records read (events, seals, unreadable ones).
    records: u64,
    /// MACs of the events at the sequence numbers asked for (heads, checkpoints).
    marks: Vec<(String, u64, Vec<u8>)>,
    recovered: Vec<Recovered>,
    resumed: Vec<Resumed>,
    nodes: BTreeMap<String, NodeSeg>,
    problems: Vec<Problem>,
    lost: Vec<LostRecords>,
    events: u64,
    seals: u64,
    authentic: u64,
    /// Offset of a torn record at the end, and why.
    torn: Option<(u64, &'static str)>,
}

fn problem(
    kind: Kind,
    node: &str,
    first: u64,
    last: u64,
    seg: &str,
    offset: Option<u64>,
    detail: String,
) -> Problem {
    Problem {
        kind,
        node: node.to_string(),
        first_seq: first,
        last_seq: last,
        segment: seg.to_string(),
        offset,
        detail,
    }
}

/// Sequence numbers, per node, whose event's MAC the tail checks compare.
type Wanted = HashMap<String, HashSet<u64>>;

fn check_segment(
    key: &ChainKey,
    path: &Path,
    stream: &mut SegmentStream,
    wanted: &Wanted,
) -> SegResult {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut r = SegResult {
        name: name.clone(),
        open: is_open_segment(path),
        records: 0,
        marks: Vec::new(),
        recovered: Vec::new(),
        resumed: Vec::new(),
        nodes: BTreeMap::new(),
        problems: Vec::new(),
        lost: Vec::new(),
        events: 0,
        seals: 0,
        authentic: 0,
        torn: None,
    };
    let mut unchained = 0u64;
    while let Some(rec) = stream.next() {
        let rec = match rec {
            Ok(rec) => rec,
            Err(t) => {
                r.torn = Some((t.offset, t.why));
                break;
            }
        };
        r.records += 1;
        let off = Some(rec.offset);
        let Ok(v) = view(rec.bytes) else {
            // Unreadable: charge it to the one node chain here, at its next position.
            let node = r.nodes.keys().next().cloned().unwrap_or_default();
            let ns = r.nodes.entry(node.clone()).or_default();
            let at = ns.expected.max(1);
            r.problems.push(problem(
                Kind::Altered,
                &node,
                at,
                at,
                &name,
                off,
                "the event's bytes are not a well-formed record".into(),
            ));
            ns.expected = at + 1;
            ns.link_unknown = true;
            continue;
        };
        let Some((seq, mac, prev)) = v.chain else {
            // One finding per segment, at its first such event.
            unchained += 1;
            if unchained == 1 {
                r.problems.push(problem(
                    Kind::Unchained,
                    v.node,
                    0,
                    0,
                    &name,
                    off,
                    String::new(),
                ));
            }
            continue;
        };
        let ns = r.nodes.entry(v.node.to_string()).or_default();
        let authentic = key.mac(v.node, seq, prev, &v.content)[..] == *mac;
        let first = ns.events == 0 && ns.expected == 0;
        if !authentic {
            // Where it stands: after the previous event when it links to it.
            let at = if !first && prev == &ns.last_mac[..] {
                ns.expected
            } else {
                seq
            };
            r.problems.push(problem(
                Kind::Altered,
                v.node,
                at,
                at,
                &name,
                off,
                "the MAC does not match the event's content, sequence number or link".into(),
            ));
            if first {
                ns.first_seq = at;
                ns.first_prev = prev.to_vec();
            }
            ns.events += 1;
            ns.expected = at + 1;
            ns.last_seq = at;
            ns.last_mac = mac.to_vec();
            ns.last_seen = at;
            continue;
        }
        r.authentic += 1;
        if wanted.get(v.node).is_some_and(|w| w.contains(&seq)) {
            r.marks.push((v.node.to_string(), seq, mac.to_vec()));
        }
        let is_seal = v.action == SEAL_ACTION.as_bytes();
        if is_seal {
            r.seals += 1;
        } else {
            r.events += 1;
        }
        if first {
            ns.first_seq = seq;
            ns.first_prev = prev.to_vec();
            ns.expected = seq;
        }
        if seq == ns.expected {
            if !first && !ns.link_unknown && prev != &ns.last_mac[..] {
                r.problems.push(problem(
                    Kind::Replaced,
                    v.node,
                    seq,
                    seq,
                    &name,
                    off,
                    format!(
                        "seq {seq} does not link to seq {} before it (spliced from another chain)",
                        seq - 1
                    ),
                ));
            }
            ns.expected = seq + 1;
            ns.last_seq = seq;
            ns.last_mac = mac.to_vec();
        } else if seq > ns.expected {
            ns.pending.insert(ns.expected, seq - 1);
            ns.expected = seq + 1;
            ns.last_seq = seq;
            ns.last_mac = mac.to_vec();
        } else {
            // Behind: a missing one turning up late, or a repeat.
            let hole = ns
                .pending
                .range(..=seq)
                .next_back()
                .map(|(a, b)| (*a, *b))
                .filter(|(_, b)| seq <= *b);
            if let Some((a, b)) = hole {
                ns.pending.remove(&a);
                if a < seq {
                    ns.pending.insert(a, seq - 1);
                }
                if seq < b {
                    ns.pending.insert(seq + 1, b);
                }
                r.problems.push(problem(
                    Kind::Reordered,
                    v.node,
                    seq,
                    seq,
                    &name,
                    off,
                    format!("seq {seq} comes after seq {}", ns.last_seen),
                ));
            } else {
                r.problems.push(problem(
                    Kind::Duplicated,
                    v.node,
                    seq,
                    seq,
                    &name,
                    off,
                    format!("seq {seq} appears again after seq {}", ns.last_seen),
                ));
            }
        }
        ns.link_unknown = false;
        ns.last_seen = seq;
        if !is_seal {
            ns.events += 1;
        }
        if is_seal {
            ns.sealed = true;
            let node = v.node.to_string();
            if let Ok(ev) = AuditEvent::decode(&v.content[..]) {
                check_seal(&ev, &node, seq, &name, off, &mut r);
            }
        } else if v.action == RESUMED_ACTION.as_bytes() && v.category == b"audit" {
            if let Ok(ev) = AuditEvent::decode(&v.content[..]) {
                r.resumed.push(Resumed {
                    node: ev.node,
                    sequence: seq,
                    segment: name.clone(),
                    reason: ev.data.get("reason").cloned().unwrap_or_default(),
                    continued_from: ev
                        .data
                        .get("continued_from")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(seq.saturating_sub(1)),
                });
            }
        } else if v.action == b"records-lost" && v.category == b"audit" {
            if let Ok(ev) = AuditEvent::decode(&v.content[..]) {
                let l = ev.lost.unwrap_or_default();
                r.lost.push(LostRecords {
                    node: ev.node,
                    sequence: seq,
                    time: ev
                        .time
                        .map(|t| crate::time::rfc3339(t.seconds))
                        .unwrap_or_default(),
                    count: l.count,
                    first_serial: l.first_serial,
                    last_serial: l.last_serial,
                    source: l.source,
                });
            }
        }
    }
    if let Some(p) = r.problems.iter_mut().find(|p| p.kind == Kind::Unchained) {
        p.detail = format!(
            "{unchained} event(s) without a chain field, the first at this offset (written without a chain key, or their chain fields were removed)"
        );
    }
    for (node, ns) in &mut r.nodes {
        for (a, b) in std::mem::take(&mut ns.pending) {
            r.problems.push(problem(
                Kind::Removed,
                node,
                a,
                b,
                &name,
                None,
                format!("{} event(s) missing inside the segment", b - a + 1),
            ));
        }
    }
    r
}

/// A seal names the span of the node's chain in its segment: events missing at
/// either end show here.
fn check_seal(
    seal: &AuditEvent,
    node: &str,
    seal_seq: u64,
    seg: &str,
    off: Option<u64>,
    r: &mut SegResult,
) {
    let num = |k: &str| seal.data.get(k).and_then(|v| v.parse::<u64>().ok());
    let ns = &r.nodes[node];
    if seal.data.get("recovered").is_some_and(|v| v == "true") {
        r.recovered.push(Recovered {
            node: node.to_string(),
            segment: seg.to_string(),
            first_seq: num("first_sequence").unwrap_or(ns.first_seq),
            last_seq: num("last_sequence").unwrap_or(ns.last_seq),
            cut_bytes: num("cut_bytes"),
        });
    }
    if let Some(last) = num("last_sequence") {
        if last + 1 != seal_seq {
            r.problems.push(problem(
                Kind::Altered,
                node,
                seal_seq,
                seal_seq,
                seg,
                off,
                format!("the seal at seq {seal_seq} says the segment ends at seq {last}"),
            ));
        }
    }
    if let Some(first) = num("first_sequence") {
        if first < ns.first_seq {
            r.problems.push(problem(
                Kind::Removed,
                node,
                first,
                ns.first_seq - 1,
                seg,
                None,
                format!(
                    "the segment's seal says it starts at seq {first}; its first event is seq {}",
                    ns.first_seq
                ),
            ));
        }
    }
}

/// Checks the segments `files` (archive order) with `key`. Err only for files
/// that cannot be read at all.
pub fn verify(key: &ChainKey, files: &[PathBuf]) -> Result<Verdict, String> {
    verify_with(key, files, &Evidence::default())
}

/// [`verify`], with the tail also checked against `evidence`.
pub fn verify_with(
    key: &ChainKey,
    files: &[PathBuf],
    evidence: &Evidence,
) -> Result<Verdict, String> {
    let wanted = evidence.wanted();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<SegResult>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    let error: Mutex<Option<String>> = Mutex::new(None);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                match SegmentStream::open(path) {
                    Ok(mut stream) => {
                        let r = check_segment(key, path, &mut stream, &wanted);
                        if let Some(e) = stream.io_error {
                            *error.lock().unwrap() = Some(format!("{}: {e}", path.display()));
                            break;
                        }
                        results.lock().unwrap()[i] = Some(r);
                    }
                    Err(e) => {
                        *error.lock().unwrap() = Some(format!("{}: {e}", path.display()));
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap() {
        return Err(e);
    }
    let segs: Vec<SegResult> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    Ok(merge(segs, evidence))
}

/// Joins the segments: the links between them, truncation, replaced segments.
fn merge(segs: Vec<SegResult>, evidence: &Evidence) -> Verdict {
    let mut v = Verdict {
        intact: false,
        segments: segs.len(),
        events: 0,
        seals: 0,
        authentic: 0,
        open_segments: Vec::new(),
        chains: Vec::new(),
        problems: Vec::new(),
        lost: Vec::new(),
        recovered: Vec::new(),
        resumed: Vec::new(),
        evidence: Default::default(),
    };
    let mut facts = tail::Facts::default();
    // Per node: (segment index, last seq, last MAC) of the segment seen last.
    let mut heads: HashMap<String, (usize, u64, Vec<u8>)> = HashMap::new();
    let mut summaries: BTreeMap<String, ChainSummary> = BTreeMap::new();
    // Per node: indices of the segments whose start does not link to the one before.
    let mut breaks: BTreeMap<String, Vec<(usize, u64, u64)>> = BTreeMap::new();
    let mut truncated_at: HashMap<(usize, String), usize> = HashMap::new();
    for (i, s) in segs.iter().enumerate() {
        v.events += s.events;
        v.seals += s.seals;
        v.authentic += s.authentic;
        v.problems.extend(s.problems.iter().cloned());
        v.lost.extend(s.lost.iter().cloned());
        v.recovered.extend(s.recovered.iter().cloned());
        v.resumed.extend(s.resumed.iter().cloned());
        facts.see_segment(s, &mut v.problems);
        if s.open {
            v.open_segments.push(s.name.clone());
        }
        for (node, ns) in &s.nodes {
            if ns.events == 0 && !ns.sealed {
                continue;
            }
            let sum = summaries.entry(node.clone()).or_insert(ChainSummary {
                node: node.clone(),
                first_seq: ns.first_seq,
                last_seq: ns.last_seq,
                events: 0,
            });
            sum.events += ns.events;
            sum.last_seq = sum.last_seq.max(ns.last_seq);
            match heads.get(node) {
                None if ns.first_seq > 1 => v.problems.push(problem(
                    Kind::Removed,
                    node,
                    1,
                    ns.first_seq - 1,
                    &s.name,
                    None,
                    format!(
                        "the chain starts at seq {}: earlier events are not in the segments given",
                        ns.first_seq
                    ),
                )),
                None => {}
                Some((pi, pseq, pmac)) => {
                    let pname = &segs[*pi].name;
                    if ns.first_seq == pseq + 1 {
                        if ns.first_prev != *pmac {
                            breaks.entry(node.clone()).or_default().push((
                                i,
                                ns.first_seq,
                                ns.last_seq,
                            ));
                        }
                    } else if ns.first_seq > pseq + 1 {
                        let (a, b) = (pseq + 1, ns.first_seq - 1);
                        if let Some(&t) = truncated_at.get(&(*pi, node.clone())) {
                            let p: &mut Problem = &mut v.problems[t];
                            p.last_seq = b;
                            p.detail =
                                format!("{}; seq {a}..{b} are missing before {}", p.detail, s.name);
                        } else {
                            v.problems.push(problem(
                                Kind::Removed,
                                node,
                                a,
                                b,
                                &s.name,
                                None,
                                format!(
                                    "{} event(s) missing between {pname} and {}",
                                    b - a + 1,
                                    s.name
                                ),
                            ));
                        }
                    } else {
                        breaks.entry(node.clone()).or_default().push((
                            i,
                            ns.first_seq,
                            ns.last_seq,
                        ));
                    }
                }
            }
            heads.insert(node.clone(), (i, ns.last_seq, ns.last_mac.clone()));
            if !s.open && (!ns.sealed || s.torn.is_some()) {
                let detail = match s.torn {
                    Some((off, why)) => format!(
                        "the segment is cut at offset {off} ({why}) after seq {}",
                        ns.last_seq
                    ),
                    None => format!(
                        "the segment ends after seq {} without its seal",
                        ns.last_seq
                    ),
                };
                truncated_at.insert((i, node.clone()), v.problems.len());
                v.problems.push(problem(
                    Kind::Truncated,
                    node,
                    ns.last_seq + 1,
                    ns.last_seq + 1,
                    &s.name,
                    s.torn.map(|t| t.0),
                    detail,
                ));
            }
        }
    }
    // A segment whose start and end both fail to link was replaced; any other
    // break is charged to the segment that does not continue the chain.
    for (node, bs) in breaks {
        let set: Vec<usize> = bs.iter().map(|b| b.0).collect();
        let mut explained = Vec::new();
        for &(i, first, last) in &bs {
            if explained.contains(&i) {
                continue;
            }
            let end_breaks = set.contains(&(i + 1)) || i + 1 == segs.len();
            let detail = if end_breaks {
                explained.push(i + 1);
                "the segment links to neither its neighbours: replaced by one from another chain"
                    .to_string()
            } else {
                "the segment does not continue the chain of the one before it (that one or this one was replaced)".to_string()
            };
            v.problems.push(problem(
                Kind::Replaced,
                &node,
                first,
                last,
                &segs[i].name,
                None,
                detail,
            ));
        }
    }
    v.chains = summaries.into_values().collect();
    tail::check(&mut v, &facts, evidence);
    v.problems
        .sort_by(|a, b| (&a.node, a.first_seq, a.kind).cmp(&(&b.node, b.first_seq, b.kind)));
    v.intact = v.problems.is_empty();
    v
}

impl Verdict {
    /// One line per problem: kind, node, sequence numbers, what, where.
    pub fn problem_lines(&self) -> Vec<String> {
        self.problems
            .iter()
            .map(|p| {
                let seqs = if p.first_seq == p.last_seq {
                    format!("seq {}", p.first_seq)
                } else {
                    format!("seq {}..{}", p.first_seq, p.last_seq)
                };
                let at = p.offset.map(|o| format!(" offset {o}")).unwrap_or_default();
                format!(
                    "{:<10} node {} {seqs}: {} ({}{at})",
                    p.kind.label(),
                    p.node,
                    p.detail,
                    p.segment
                )
            })
            .collect()
    }

    /// The verdict for a person: one line per problem, loss apart, a result line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let chains: Vec<String> = self
            .chains
            .iter()
            .map(|c| format!("node {}: seq {}..{}", c.node, c.first_seq, c.last_seq))
            .collect();
        out.push_str(&format!(
            "audex verify: {} segments, {} events, {} seals; {} chain(s) ({})\n",
            self.segments,
            self.events,
            self.seals,
            self.chains.len(),
            chains.join(", ")
        ));
        if self.authentic == 0 && !self.problems.is_empty() {
            out.push_str(
                "no event's MAC matches this key: the wrong key file, or every event altered\n",
            );
        }
        for s in &self.open_segments {
            out.push_str(&format!(
                "open       {s}: still being written, not sealed yet\n"
            ));
        }
        for line in self.problem_lines() {
            out.push_str(&line);
            out.push('\n');
        }
        for r in &self.recovered {
            let cut = match r.cut_bytes {
                Some(0) => "no torn record".to_string(),
                Some(n) => format!("{n} bytes of a torn record cut (redelivered from the spool)"),
                None => "torn bytes not recorded".to_string(),
            };
            out.push_str(&format!(
                "recovered  node {} seq {}..{}: sealed at the next start after the collector stopped with it open; {cut} ({})\n",
                r.node, r.first_seq, r.last_seq, r.segment
            ));
        }
        if self.evidence.heads_files.is_empty() {
            out.push_str("chain-heads not checked (segment files given, not the archive directory): a cut tail would not show\n");
        }
        if let Some(c) = &self.evidence.checkpoints {
            out.push_str(&format!(
                "checkpoints: {} given, {} authentic, {} match the archive\n",
                c.given, c.authentic, c.matched
            ));
        }
        if !self.lost.is_empty() {
            let total: u64 = self.lost.iter().map(|l| l.count).sum();
            out.push_str(&format!(
                "records lost before the archive (not tampering): {} report(s), {total} record(s)\n",
                self.lost.len()
            ));
            for l in &self.lost {
                out.push_str(&format!(
                    "  node {} seq {} at {}: {} lost ({}), serials {}..{}\n",
                    l.node, l.sequence, l.time, l.count, l.source, l.first_serial, l.last_serial
                ));
            }
        }
        out.push_str(&if self.intact {
            "result: intact\n".to_string()
        } else {
            format!("result: NOT INTACT ({} problem(s))\n", self.problems.len())
        });
        out
    }
}
