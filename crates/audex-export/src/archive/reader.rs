//! Reading archive segments: the records (varint length + event bytes) of one
//! segment file, with their offsets, and where the framing breaks. Segments are
//! streamed ([`SegmentStream`]): memory is one record, never the file.
use crate::wire::read_varint;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// No record of a segment is larger: the biggest event audex writes (a 2 MiB
/// argv, its command line and raw records) is well below it.
pub const MAX_RECORD_BYTES: u64 = 32 << 20;

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

/// The records of a segment file (or of any stream of length-delimited
/// events), read one at a time.
pub struct SegmentStream<R = std::fs::File> {
    r: BufReader<R>,
    at: u64,
    buf: Vec<u8>,
    done: bool,
    /// Set when reading failed (the stream then ends with a `Torn`).
    pub io_error: Option<io::Error>,
}

impl SegmentStream {
    /// Opens a segment: a regular file (a FIFO, device or directory is refused).
    pub fn open(path: &Path) -> io::Result<SegmentStream> {
        Ok(SegmentStream::from_reader(audex_io::open_regular(
            path, "segment",
        )?))
    }
}

impl<R: Read> SegmentStream<R> {
    /// Reads length-delimited events from `r` (standard input, a pipe).
    pub fn from_reader(r: R) -> SegmentStream<R> {
        SegmentStream {
            r: BufReader::with_capacity(256 << 10, r),
            at: 0,
            buf: Vec::new(),
            done: false,
            io_error: None,
        }
    }

    /// The next record, or `Err(Torn)` (once) where the framing breaks.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<RawEvent<'_>, Torn>> {
        if self.done {
            return None;
        }
        let offset = self.at;
        let torn = |why| Some(Err(Torn { offset, why }));
        let mut len = 0u64;
        let mut n = 0usize;
        loop {
            let mut b = [0u8; 1];
            match self.r.read(&mut b) {
                Ok(0) if n == 0 => {
                    self.done = true;
                    return None;
                }
                Ok(0) => {
                    self.done = true;
                    return torn("length prefix cut off or malformed");
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    self.io_error = Some(e);
                    return torn("the file could not be read further");
                }
            }
            len |= u64::from(b[0] & 0x7f) << (7 * n);
            n += 1;
            if b[0] < 0x80 {
                break;
            }
            if n >= 10 {
                self.done = true;
                return torn("length prefix cut off or malformed");
            }
        }
        if len > MAX_RECORD_BYTES {
            self.done = true;
            return torn("record length implausible (over 32 MiB)");
        }
        self.buf.clear();
        match (&mut self.r).take(len).read_to_end(&mut self.buf) {
            Ok(got) if got as u64 == len => {}
            Ok(_) => {
                self.done = true;
                return torn("record runs past the end of the file");
            }
            Err(e) => {
                self.done = true;
                self.io_error = Some(e);
                return torn("the file could not be read further");
            }
        }
        self.at = offset + n as u64 + len;
        Some(Ok(RawEvent {
            offset,
            end: self.at,
            bytes: &self.buf,
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
