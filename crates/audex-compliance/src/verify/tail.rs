//! The tail of the archive: what was written last is the easiest part to cut
//! (delete the newest segment, empty it, cut it and call it still open), and a
//! cut tail leaves no broken link behind. Input: what the segment checks found
//! (the chains' ends, the MACs at asked-for sequence numbers, empty segments,
//! `archive-resumed` events) and the [`Evidence`] from outside the segments: the
//! directory's authenticated `chain-heads` file and checkpoints exported off the
//! host. Output: TRUNCATED / ROLLED-BACK / ALTERED problems with the sequence
//! numbers concerned.
use super::{problem, Kind, Problem, SegResult, Verdict, Wanted};
use audex_export::archive::chain::{hex, ChainKey};
use audex_export::archive::checkpoint::{self, Checkpoint};
use audex_export::archive::heads::{self, Heads};
use audex_export::archive::CHECKPOINT_ACTION;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A segment sealed at a later start after the collector stopped with it open.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Recovered {
    pub node: String,
    pub segment: String,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Bytes of a torn last record cut off (absent in archives from before it was recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_bytes: Option<u64>,
}

/// An `archive-resumed` event: a start that did not trust the chain-heads file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Resumed {
    pub node: String,
    pub sequence: u64,
    pub segment: String,
    pub reason: String,
    pub continued_from: u64,
}

/// One `archive-checkpoint` event of a checkpoints file.
#[derive(Debug, Clone)]
pub struct CheckpointLine {
    pub line: usize,
    pub node: String,
    pub time: String,
    /// The checkpoint, or why it does not authenticate.
    pub checked: Result<Checkpoint, &'static str>,
}

/// What verify knows besides the segments.
#[derive(Debug, Default)]
pub struct Evidence {
    /// Per archive directory given, what its chain-heads file says.
    pub heads: Vec<(PathBuf, Heads)>,
    /// The checkpoints given with `--checkpoints`, if any were.
    pub checkpoints: Option<Vec<CheckpointLine>>,
}

/// What the verdict says about the evidence it used.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvidenceSummary {
    /// The chain-heads files read (one per directory given); none when only
    /// segment files were given, so a cut tail could go unseen.
    pub heads_files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<CheckpointSummary>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckpointSummary {
    pub given: usize,
    pub authentic: usize,
    /// Checkpoints whose event the archive holds, with the same MAC.
    pub matched: usize,
}

impl Evidence {
    /// The chain-heads file of each directory among `paths`.
    pub fn heads_of(key: &ChainKey, paths: &[PathBuf]) -> Result<Vec<(PathBuf, Heads)>, String> {
        let mut out = Vec::new();
        for p in paths.iter().filter(|p| p.is_dir()) {
            let h = heads::read(p, key)
                .map_err(|e| format!("{}: {e}", p.join(heads::HEADS_FILE).display()))?;
            out.push((p.clone(), h));
        }
        Ok(out)
    }

    /// The sequence numbers whose MACs the checks compare.
    pub(super) fn wanted(&self) -> Wanted {
        let mut w: Wanted = HashMap::new();
        for (_, h) in &self.heads {
            if let Heads::Read(hs) = h {
                for h in hs {
                    w.entry(h.node.clone()).or_default().insert(h.sequence);
                }
            }
        }
        for c in self.checkpoints.iter().flatten() {
            if let Ok(c) = &c.checked {
                w.entry(c.node.clone()).or_default().insert(c.sequence);
            }
        }
        w
    }
}

/// The `archive-checkpoint` events of a JSON-lines file of exported events
/// (the event contract, as the `jsonl` exporter writes it); other events are
/// skipped. Err (naming the line) when a line is not JSON.
pub fn read_checkpoints(key: &ChainKey, path: &Path) -> Result<Vec<CheckpointLine>, String> {
    let bytes = audex_io::read_limited(path, audex_io::FileKind::Checkpoints, "checkpoints")
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            format!(
                "checkpoints {} line {}: not a JSON event: {e}",
                path.display(),
                i + 1
            )
        })?;
        if v["action"] != CHECKPOINT_ACTION {
            continue;
        }
        let node = v["node"].as_str().unwrap_or_default().to_string();
        let data: BTreeMap<String, String> = v["data"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), String::from),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(CheckpointLine {
            line: i + 1,
            time: v["time"].as_str().unwrap_or_default().to_string(),
            checked: checkpoint::check(key, &node, &data),
            node,
        });
    }
    Ok(out)
}

/// What the segment checks leave for the tail checks, gathered in archive order.
#[derive(Debug, Default)]
pub(super) struct Facts {
    /// MAC of the event at (node, sequence), for the sequence numbers asked for.
    marks: HashMap<(String, u64), Vec<u8>>,
    /// Per node, the highest sequence number in a closed segment.
    closed_last: BTreeMap<String, u64>,
    /// Per node, the highest sequence number so far.
    last: BTreeMap<String, u64>,
}

impl Facts {
    /// Takes one segment's results; an empty closed segment is a problem here
    /// (a closed segment holds at least its seals).
    pub(super) fn see_segment(&mut self, s: &SegResult, problems: &mut Vec<Problem>) {
        for (node, seq, mac) in &s.marks {
            self.marks.insert((node.clone(), *seq), mac.clone());
        }
        if s.records == 0 && !s.open {
            let why = match s.torn {
                Some((_, why)) => format!("unreadable from its first byte ({why})"),
                None => "empty".to_string(),
            };
            let detail = format!(
                "the segment is {why}; a closed segment holds at least its seal: its events were cut"
            );
            if self.last.is_empty() {
                problems.push(problem(
                    Kind::Truncated,
                    "",
                    1,
                    1,
                    &s.name,
                    None,
                    detail.clone(),
                ));
            }
            for (node, last) in &self.last {
                problems.push(problem(
                    Kind::Truncated,
                    node,
                    last + 1,
                    last + 1,
                    &s.name,
                    None,
                    detail.clone(),
                ));
            }
        }
        for (node, ns) in &s.nodes {
            if ns.events == 0 && !ns.sealed {
                continue;
            }
            let l = self.last.entry(node.clone()).or_default();
            *l = (*l).max(ns.last_seq);
            if !s.open {
                let c = self.closed_last.entry(node.clone()).or_default();
                *c = (*c).max(ns.last_seq);
            }
        }
    }
}

/// The tail checks; problems go into `v`.
pub(super) fn check(v: &mut Verdict, facts: &Facts, evidence: &Evidence) {
    for (dir, h) in &evidence.heads {
        let file = dir.join(heads::HEADS_FILE).display().to_string();
        v.evidence.heads_files.push(file.clone());
        check_heads(v, facts, h, &file);
    }
    for r in &v.resumed {
        v.problems.push(problem(
            Kind::Truncated,
            &r.node,
            r.continued_from + 1,
            r.continued_from + 1,
            &r.segment,
            None,
            format!(
                "the collector took the chain up again at seq {} without trusting its chain-heads file ({}): events written after seq {} before that start may have been cut, and how many cannot be told from the archive (verify with --checkpoints)",
                r.sequence, r.reason, r.continued_from
            ),
        ));
    }
    if let Some(cps) = &evidence.checkpoints {
        check_checkpoints(v, facts, cps);
    }
}

fn check_heads(v: &mut Verdict, facts: &Facts, h: &Heads, file: &str) {
    match h {
        Heads::Missing => {
            let unchained = v.problems.iter().any(|p| p.kind == Kind::Unchained);
            if facts.last.is_empty() && !unchained {
                v.problems.push(problem(
                    Kind::Truncated,
                    "",
                    1,
                    1,
                    file,
                    None,
                    "no chained event and no chain-heads file: the archive may have been emptied"
                        .into(),
                ));
            }
            for (node, last) in &facts.last {
                v.problems.push(problem(
                    Kind::Truncated,
                    node,
                    last + 1,
                    last + 1,
                    file,
                    None,
                    format!("the archive's chain-heads file is missing: events after seq {last} may have been cut, and how many cannot be told (verify with --checkpoints)"),
                ));
            }
        }
        Heads::Garbled { line, why } => v.problems.push(problem(
            Kind::Altered,
            "",
            0,
            0,
            file,
            None,
            format!("line {line}: {why}; the file cannot tell where the chains end"),
        )),
        Heads::Read(hs) => {
            for h in hs {
                let last = facts.last.get(&h.node).copied();
                match last {
                    Some(l) if h.sequence <= l => {
                        let here = facts.marks.get(&(h.node.clone(), h.sequence));
                        if here.is_some_and(|m| m[..] != h.mac[..]) {
                            v.problems.push(problem(
                                Kind::Replaced,
                                &h.node,
                                h.sequence,
                                h.sequence,
                                file,
                                None,
                                format!(
                                    "the event at seq {} is not the one chain-heads names (head {}): the chain was written again from an earlier point",
                                    h.sequence,
                                    &hex(&h.mac)[..16]
                                ),
                            ));
                        }
                    }
                    _ => {
                        let from = last.map_or(1, |l| l + 1);
                        v.problems.push(problem(
                            Kind::Truncated,
                            &h.node,
                            from,
                            h.sequence,
                            file,
                            None,
                            match last {
                                Some(l) => format!(
                                    "chain-heads says the chain reached seq {}; the archive ends at seq {l}: newest events cut, emptied or deleted",
                                    h.sequence
                                ),
                                None => format!(
                                    "chain-heads says the chain reached seq {}; the archive holds none of it",
                                    h.sequence
                                ),
                            },
                        ));
                    }
                }
            }
            for (node, closed) in &facts.closed_last {
                let head = hs.iter().find(|h| &h.node == node).map(|h| h.sequence);
                if head.is_none_or(|s| s < *closed) {
                    let named = head.unwrap_or(0);
                    v.problems.push(problem(
                        Kind::RolledBack,
                        node,
                        named + 1,
                        *closed,
                        file,
                        None,
                        format!(
                            "chain-heads names seq {named} but closed segments reach seq {closed}: an older copy of the file was put back (a cut to that point would not show without --checkpoints)"
                        ),
                    ));
                }
            }
        }
    }
}

fn check_checkpoints(v: &mut Verdict, facts: &Facts, cps: &[CheckpointLine]) {
    let mut sum = CheckpointSummary {
        given: cps.len(),
        ..Default::default()
    };
    // Per node: the furthest checkpoint beyond the archive, the matching and
    // the differing sequence numbers.
    let mut beyond: BTreeMap<&str, &Checkpoint> = BTreeMap::new();
    let mut matched: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut differ: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for c in cps {
        let cp = match &c.checked {
            Ok(cp) => cp,
            Err(why) => {
                v.problems.push(problem(
                    Kind::Altered,
                    &c.node,
                    0,
                    0,
                    &format!("checkpoints line {}", c.line),
                    None,
                    format!("a checkpoint that does not authenticate: {why}"),
                ));
                continue;
            }
        };
        sum.authentic += 1;
        let last = facts.last.get(&cp.node).copied();
        if last.is_none_or(|l| cp.sequence > l) {
            let b = beyond.entry(&cp.node).or_insert(cp);
            if cp.sequence > b.sequence {
                *b = cp;
            }
            continue;
        }
        match facts.marks.get(&(cp.node.clone(), cp.sequence)) {
            Some(m) if m[..] == cp.head[..] => {
                sum.matched += 1;
                matched.entry(&cp.node).or_default().push(cp.sequence);
            }
            _ => differ.entry(&cp.node).or_default().push(cp.sequence),
        }
    }
    for (node, cp) in beyond {
        let last = facts.last.get(node).copied();
        v.problems.push(problem(
            Kind::Truncated,
            node,
            last.map_or(1, |l| l + 1),
            cp.sequence,
            &cp.segment,
            None,
            format!(
                "a checkpoint sent off the host by archive `{}` says the chain reached seq {}; the archive {}: its newest events were cut",
                cp.archive,
                cp.sequence,
                last.map_or("holds none of it".to_string(), |l| format!("ends at seq {l}"))
            ),
        ));
    }
    for (node, seqs) in differ {
        let first_bad = *seqs.iter().min().unwrap();
        let last_bad = *seqs.iter().max().unwrap();
        let good = matched
            .get(node)
            .into_iter()
            .flatten()
            .copied()
            .filter(|s| *s < first_bad);
        let resumed = v
            .resumed
            .iter()
            .filter(|r| r.node == node && r.continued_from < first_bad)
            .map(|r| r.continued_from);
        let lo = good.chain(resumed).max().unwrap_or(0);
        v.problems.push(problem(
            Kind::Truncated,
            node,
            lo + 1,
            last_bad,
            "checkpoints",
            None,
            format!(
                "{} checkpointed event(s) up to seq {last_bad} are not the archive's events at those numbers: events after seq {lo} were cut and the chain written again from there",
                seqs.len()
            ),
        ));
    }
    v.evidence.checkpoints = Some(sum);
}
