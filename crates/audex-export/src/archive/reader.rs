//! Reading archive segments: the records (varint length + event bytes) of one
//! segment file, with their offsets, and where the framing breaks.
use super::chain::read_varint;
use std::path::{Path, PathBuf};

/// One record of a segment: its offset in the file and the event's bytes.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    pub offset: u64,
    /// Offset just past the record.
    pub end: u64,
    pub bytes: &'a [u8],
}

/// Where a segment's framing stops making sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    pub offset: u64,
    pub why: &'static str,
}

/// Records of a segment's bytes, in order; ends with `Err(Torn)` when the rest
/// of the bytes do not hold a whole record.
pub struct Records<'a> {
    buf: &'a [u8],
    at: usize,
    done: bool,
}

pub fn records(buf: &[u8]) -> Records<'_> {
    Records {
        buf,
        at: 0,
        done: false,
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RawEvent<'a>, Torn>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.at >= self.buf.len() {
            return None;
        }
        let offset = self.at as u64;
        let mut at = self.at;
        let torn = |why| Some(Err(Torn { offset, why }));
        let Some(len) = read_varint(self.buf, &mut at) else {
            self.done = true;
            return torn("length prefix cut off or malformed");
        };
        let Some(end) = at
            .checked_add(len as usize)
            .filter(|e| *e <= self.buf.len())
        else {
            self.done = true;
            return torn("record runs past the end of the file");
        };
        self.at = end;
        Some(Ok(RawEvent {
            offset,
            end: end as u64,
            bytes: &self.buf[at..end],
        }))
    }
}

/// The segment files (`*.pb`, and `*.pb.partial` still being written) among
/// `paths` (files, or archive directories), in archive order (by file name: they
/// start with their creation time).
pub fn segment_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            for e in std::fs::read_dir(p).map_err(|e| format!("{}: {e}", p.display()))? {
                let f = e.map_err(|e| format!("{}: {e}", p.display()))?.path();
                if is_segment(&f) {
                    out.push(f);
                }
            }
        } else {
            out.push(p.clone());
        }
    }
    out.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    out.dedup();
    Ok(out)
}

pub fn is_segment(p: &Path) -> bool {
    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    n.ends_with(".pb") || n.ends_with(".pb.partial")
}

/// Still being written by a running exporter (not yet sealed and renamed).
pub fn is_open_segment(p: &Path) -> bool {
    p.extension().is_some_and(|x| x == "partial")
}
