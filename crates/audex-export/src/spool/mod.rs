//! A disk spool: events wait here, in order, until their exporter acknowledges
//! them. Input: encoded events (bytes). Output: the same bytes in order, with
//! sequence numbers, until acked. State: segment files and an `acked` file.
//!
//! - Entries are framed `[len u32][crc32 u32][seq u64][payload]` in segment files
//!   named by their first sequence number; [`Spool::sync`] makes them durable.
//! - On open, a torn tail (a crash mid-write) is cut; a corrupt entry (a failed
//!   checksum, a broken header) is skipped to the next intact entry (CRC resync)
//!   and the segment rewritten without it; the unacked entries the damage cost
//!   come back in [`Recovery::lost`], for a `records-lost` event.
//! - A damaged `acked` file is not fatal: everything still spooled is delivered
//!   again (at least once). An ack that cannot be written (a full disk) is kept
//!   in memory and written with the next one.
//! - Above `max_bytes` the oldest segment is dropped; the unacked entries it held
//!   come back as a [`Dropped`] range, for a `records-lost` event (never silent).
//! - Acked segments are deleted; after a restart reading resumes after `acked`.
//! - The newest entries (up to [`TAIL_BYTES`]) are also kept in memory, so a
//!   delivery that keeps up reads nothing back from disk. The ack is written in
//!   place on every ack (a killed process keeps it) and made durable with the
//!   entries by [`Spool::sync`]: a machine crash may cost the acks since the last
//!   sync, and those entries are delivered again (at least once).

mod segment;

use bytes::Bytes;
use segment::{scan, write_entry, ENTRY_HEADER};
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Where and how large.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// Bound on all segment files together.
    pub max_bytes: u64,
    /// A segment is closed at this size (at most a quarter of `max_bytes`).
    pub segment_bytes: u64,
    /// The newest entries up to this many bytes are also kept in memory
    /// (default [`TAIL_BYTES`]; 0 reads every batch back from disk).
    pub tail_bytes: usize,
}

impl SpoolConfig {
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        SpoolConfig {
            dir: dir.into(),
            max_bytes,
            segment_bytes: 16 << 20,
            tail_bytes: TAIL_BYTES,
        }
    }
}

/// What opening found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Unacked entries waiting from before.
    pub pending: u64,
    /// Bytes cut from segment tails (torn writes or corruption).
    pub truncated_bytes: u64,
    /// Segments in which damaged entries were skipped.
    pub corrupt_segments: u64,
    /// Unacked entries the damage cost, with `exact` false when the damage ran
    /// to the end of the newest segment (the count is then estimated from the
    /// bytes cut and the segment's mean entry size).
    pub lost: Vec<(Dropped, bool)>,
    /// The ack file was damaged: delivery restarts at the oldest spooled entry.
    pub ack_damaged: Option<String>,
}

/// An entry the spool could not write (a full disk, an I/O error), given back
/// with the reason; nothing of it reached the segment file.
#[derive(Debug)]
pub struct Refused {
    pub error: io::Error,
    pub payload: Vec<u8>,
}

/// Unacked entries dropped to stay under `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub first_seq: u64,
    pub last_seq: u64,
}

impl Dropped {
    pub fn count(&self) -> u64 {
        self.last_seq - self.first_seq + 1
    }
}

#[derive(Debug)]
struct Segment {
    first_seq: u64,
    /// Last sequence number written (first_seq - 1 when empty).
    last_seq: u64,
    bytes: u64,
    path: PathBuf,
}

/// The read position of the delivery side.
#[derive(Debug, Default)]
struct Cursor {
    /// Last sequence number handed out.
    seq: u64,
    /// Segment (by first_seq) and byte offset of the next entry.
    segment: u64,
    offset: u64,
}

/// Bytes of the newest entries kept in memory as well as on disk. Measured on
/// the storm bench (`audex run`, jsonl, exec+files at the maximum rate): reading
/// each batch back from its segment file (open, read, a zeroed buffer per entry)
/// and an fdatasync per ack were a tenth of the daemon's CPU.
pub const TAIL_BYTES: usize = 4 << 20;

/// An entry handed out for delivery: its sequence number and payload. The
/// payload is shared with the spool's in-memory tail, not copied (on the
/// storm bench, `audex run` at 2,000 events/s, copying each entry for its
/// batch was 2.4 % of the daemon's CPU).
pub type Spooled = (u64, Bytes);

/// An entry of the in-memory tail, with where it sits on disk.
#[derive(Debug)]
struct TailEntry {
    seq: u64,
    /// The segment (by first_seq) and offset of its header.
    segment: u64,
    offset: u64,
    payload: Bytes,
    /// Heap bytes the payload holds (its buffer's capacity).
    mem: usize,
}

/// The newest entries, contiguous in sequence numbers, all after `acked`.
#[derive(Debug, Default)]
struct Tail {
    entries: VecDeque<TailEntry>,
    bytes: usize,
    limit: usize,
}

impl Tail {
    fn get(&self, seq: u64) -> Option<&TailEntry> {
        let first = self.entries.front()?.seq;
        self.entries
            .get(usize::try_from(seq.checked_sub(first)?).ok()?)
    }

    fn first_seq(&self) -> Option<u64> {
        self.entries.front().map(|e| e.seq)
    }

    fn push(&mut self, e: TailEntry) {
        self.bytes += e.mem;
        self.entries.push_back(e);
        while self.bytes > self.limit {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            self.bytes -= e.mem;
        }
    }

    /// Forgets the entries up to `seq` (acknowledged or dropped).
    fn forget_through(&mut self, seq: u64) {
        while self.entries.front().is_some_and(|e| e.seq <= seq) {
            self.pop_front();
        }
    }
}

/// The spool. One writer and one reader (the exporter's delivery), in one process.
pub struct Spool {
    cfg: SpoolConfig,
    segments: VecDeque<Segment>,
    writer: BufWriter<File>,
    next_seq: u64,
    acked: u64,
    cursor: Cursor,
    bytes: u64,
    /// The last ack could not be written to disk.
    ack_unwritten: bool,
    /// The ack file, kept open; `ack_dirty` when written since the last sync.
    ack_file: Option<File>,
    ack_dirty: bool,
    /// Entries appended since the last sync.
    dirty: bool,
    /// A write problem was logged (not again until a sync succeeds).
    troubled: bool,
    tail: Tail,
}

fn seg_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}

impl Spool {
    /// Opens (or creates) the spool in `cfg.dir`, recovering what a crash left.
    pub fn open(mut cfg: SpoolConfig) -> io::Result<(Spool, Recovery)> {
        cfg.segment_bytes = cfg.segment_bytes.min(cfg.max_bytes / 4).max(4096);
        crate::private::private_dir(&cfg.dir)?;
        let mut rec = Recovery::default();
        let acked = match read_acked(&cfg.dir) {
            Ok(a) => Some(a),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                rec.ack_damaged = Some(e.to_string());
                None
            }
            Err(e) => return Err(e),
        };
        let mut firsts: Vec<u64> = fs::read_dir(&cfg.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        firsts.sort_unstable();
        // Without a trustworthy ack, everything still spooled is pending.
        let before_first = firsts.first().map_or(0, |f| f.saturating_sub(1));
        // An ack behind the oldest segment (its sync was cut short by a crash
        // after acked segments were deleted) counts what is left, not what is gone.
        let acked = acked.map_or(before_first, |a| a.max(before_first));
        let mut segments = VecDeque::new();
        for (i, &first) in firsts.iter().enumerate() {
            let path = seg_path(&cfg.dir, first);
            let s = scan(&path, first)?;
            if s.valid_bytes < s.file_bytes {
                rec.truncated_bytes += s.file_bytes - s.valid_bytes;
                rec.corrupt_segments += s.corrupt as u64;
                if s.corrupt {
                    segment::repair(&path, &s.spans)?;
                } else {
                    OpenOptions::new()
                        .write(true)
                        .open(&path)?
                        .set_len(s.valid_bytes)?;
                }
            }
            for &(from, to) in &s.cut {
                let (to, exact) = match (to, firsts.get(i + 1)) {
                    (Some(t), _) => (t, true),
                    (None, Some(next)) => (next - 1, true),
                    (None, None) => {
                        let mean = s.valid_bytes / (s.spans.len() as u64).max(1);
                        let cut = s.file_bytes - s.valid_bytes;
                        (
                            from + cut.div_ceil(mean.max(ENTRY_HEADER as u64 + 1)) - 1,
                            false,
                        )
                    }
                };
                let from = from.max(acked + 1);
                if to >= from {
                    rec.lost.push((
                        Dropped {
                            first_seq: from,
                            last_seq: to,
                        },
                        exact,
                    ));
                }
            }
            segments.push_back(Segment {
                first_seq: first,
                last_seq: s.last_seq,
                bytes: s.valid_bytes,
                path,
            });
        }
        // Drop empty segments except the newest, and fully acked ones except the newest.
        while segments.len() > 1 && segments[0].last_seq <= acked.max(segments[0].first_seq - 1) {
            let s = segments.pop_front().unwrap();
            fs::remove_file(&s.path)?;
        }
        let next_seq = segments
            .back()
            .map_or(acked + 1, |s| s.last_seq + 1)
            .max(acked + 1);
        if segments.is_empty() || segments.back().unwrap().last_seq + 1 != next_seq {
            let path = seg_path(&cfg.dir, next_seq);
            crate::private::private_file(&path)?;
            segments.push_back(Segment {
                first_seq: next_seq,
                last_seq: next_seq - 1,
                bytes: 0,
                path,
            });
        }
        let active = segments.back().unwrap();
        let mut f = OpenOptions::new().append(true).open(&active.path)?;
        f.seek(SeekFrom::End(0))?;
        let bytes = segments.iter().map(|s| s.bytes).sum();
        rec.pending = next_seq - 1 - acked.min(next_seq - 1);
        let first = segments.front().unwrap();
        let mut spool = Spool {
            cursor: Cursor {
                seq: acked,
                segment: first.first_seq,
                offset: 0,
            },
            cfg,
            segments,
            writer: BufWriter::with_capacity(64 << 10, f),
            next_seq,
            acked,
            bytes,
            ack_unwritten: false,
            ack_file: None,
            ack_dirty: false,
            dirty: false,
            troubled: false,
            tail: Tail::default(),
        };
        spool.tail.limit = spool.cfg.tail_bytes;
        spool.cursor = spool.cursor_after(acked)?;
        Ok((spool, rec))
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// Sequence numbers at or below this are acknowledged (or dropped).
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Entries written and not yet acknowledged.
    pub fn pending(&self) -> u64 {
        self.next_seq - 1 - self.acked
    }

    /// Bytes in segment files (written, not necessarily synced).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends an entry; returns its sequence number and what the size bound
    /// dropped, if anything.
    pub fn append(&mut self, payload: &[u8]) -> io::Result<(u64, Option<Dropped>)> {
        self.append_owned(payload.to_vec())
    }

    /// As [`append`](Spool::append), keeping `payload` itself as the in-memory
    /// copy (no second copy of each entry).
    pub fn append_owned(&mut self, payload: Vec<u8>) -> io::Result<(u64, Option<Dropped>)> {
        self.try_append(payload).map_err(|r| r.error)
    }

    /// Appends an entry, or gives it back when it cannot be written, leaving
    /// the segment as it was: a frame is either whole in the buffer or file, or
    /// not there at all (a frame cut by a full disk would read back as damage).
    /// Entries written before stay buffered until a flush succeeds.
    pub fn try_append(&mut self, payload: Vec<u8>) -> Result<(u64, Option<Dropped>), Refused> {
        let seq = self.next_seq;
        let frame = ENTRY_HEADER + payload.len();
        let spare = self.writer.capacity() - self.writer.buffer().len();
        if frame > spare {
            if let Err(error) = self.writer.flush() {
                return Err(Refused { error, payload });
            }
        }
        let written = if frame <= self.writer.capacity() {
            // Into the buffer: no I/O.
            write_entry(&mut self.writer, seq, &payload)
        } else {
            // Larger than the buffer (emptied above): straight to the file, and
            // whatever part of it got there is cut again on failure.
            let at = self.segments.back().map_or(0, |s| s.bytes);
            let f = self.writer.get_mut();
            write_entry(f, seq, &payload).inspect_err(|_| {
                let _ = f.set_len(at);
            })
        };
        let n = match written {
            Ok(n) => n,
            Err(error) => return Err(Refused { error, payload }),
        };
        self.dirty = true;
        self.next_seq += 1;
        self.bytes += n;
        let active = self.segments.back_mut().unwrap();
        self.tail.push(TailEntry {
            seq,
            segment: active.first_seq,
            offset: active.bytes,
            mem: payload.capacity(),
            payload: Bytes::from(payload),
        });
        active.last_seq = seq;
        active.bytes += n;
        if active.bytes >= self.cfg.segment_bytes {
            // A segment that cannot be closed now grows on and is closed later.
            if let Err(e) = self.rotate() {
                self.note_trouble("cannot start a new segment", &e);
            }
        }
        Ok((seq, self.enforce_bound()))
    }

    /// Logs a write problem the spool works around (once until writes work again).
    fn note_trouble(&mut self, what: &str, e: &io::Error) {
        if !self.troubled {
            audex_log::warn!("spool {}: {what}: {e}", self.cfg.dir.display());
            self.troubled = true;
        }
    }

    /// Makes everything appended and acknowledged so far durable (flush +
    /// fdatasync of the active segment and of the ack file).
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            self.writer.flush()?;
            self.writer.get_ref().sync_data()?;
            self.dirty = false;
            self.troubled = false;
        }
        if std::mem::take(&mut self.ack_dirty) {
            if let Some(f) = &self.ack_file {
                if let Err(e) = f.sync_data() {
                    // Kept in memory, written and synced again with the next ack.
                    self.note_ack_failure(&e);
                }
            }
        }
        Ok(())
    }

    /// Something appended or acknowledged is not durable yet.
    pub fn needs_sync(&self) -> bool {
        self.dirty || self.ack_dirty
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        self.writer.get_ref().sync_data()?;
        let path = seg_path(&self.cfg.dir, self.next_seq);
        let f = crate::private::options()
            .create(true)
            .append(true)
            .open(&path)?;
        self.writer = BufWriter::with_capacity(64 << 10, f);
        self.segments.push_back(Segment {
            first_seq: self.next_seq,
            last_seq: self.next_seq - 1,
            bytes: 0,
            path,
        });
        Ok(())
    }

    fn enforce_bound(&mut self) -> Option<Dropped> {
        let mut dropped: Option<Dropped> = None;
        while self.bytes > self.cfg.max_bytes && self.segments.len() > 1 {
            let s = self.segments.pop_front().unwrap();
            self.remove_segment(&s.path);
            self.bytes -= s.bytes;
            let first_unacked = (self.acked + 1).max(s.first_seq);
            if s.last_seq >= first_unacked {
                let d = dropped.get_or_insert(Dropped {
                    first_seq: first_unacked,
                    last_seq: s.last_seq,
                });
                d.last_seq = s.last_seq;
                self.set_acked(s.last_seq);
            }
            if self.cursor.segment == s.first_seq {
                // Read again from where the tail or the next segment begins.
                let seq = self.acked.max(self.cursor.seq);
                self.cursor = self.cursor_after(seq).unwrap_or(Cursor {
                    seq,
                    segment: self.segments.front().map_or(0, |s| s.first_seq),
                    offset: 0,
                });
            }
        }
        dropped
    }

    /// Deletes a segment no longer needed; one that cannot be deleted stays on
    /// disk (its entries are acknowledged or reported) and is cleared at the
    /// next start.
    fn remove_segment(&mut self, path: &Path) {
        if let Err(e) = fs::remove_file(path) {
            if e.kind() != io::ErrorKind::NotFound {
                self.note_trouble(&format!("cannot delete {}", path.display()), &e);
            }
        }
    }

    /// The next entries after the last ones handed out, up to `max` entries or
    /// `max_bytes` of payload (at least one entry when there is one).
    pub fn next_batch(&mut self, max: usize, max_bytes: usize) -> io::Result<Vec<Spooled>> {
        let mut out = Vec::new();
        let mut size = 0;
        let room = |out: &Vec<Spooled>, size: usize| {
            out.len() < max && (out.is_empty() || size < max_bytes)
        };
        while room(&out, size) && self.cursor.seq + 1 < self.next_seq {
            // From memory while the entries are there.
            if let Some(e) = self.tail.get(self.cursor.seq + 1) {
                self.cursor = Cursor {
                    seq: e.seq,
                    segment: e.segment,
                    offset: e.offset + (ENTRY_HEADER + e.payload.len()) as u64,
                };
                size += e.payload.len();
                out.push((e.seq, e.payload.clone()));
                continue;
            }
            // From disk up to where the tail begins (what cannot be flushed now
            // is read later).
            let stop_at = self.tail.first_seq().unwrap_or(self.next_seq);
            if self.writer.flush().is_err() {
                break;
            }
            let Some(idx) = self
                .segments
                .iter()
                .position(|s| s.first_seq == self.cursor.segment)
            else {
                self.cursor = self.cursor_after(self.cursor.seq)?;
                continue;
            };
            let seg = &self.segments[idx];
            if self.cursor.offset >= seg.bytes {
                match self.segments.get(idx + 1) {
                    Some(next) => {
                        self.cursor = Cursor {
                            seq: self.cursor.seq,
                            segment: next.first_seq,
                            offset: 0,
                        }
                    }
                    None => break,
                }
                continue;
            }
            let mut f = File::open(&seg.path)?;
            f.seek(SeekFrom::Start(self.cursor.offset))?;
            let mut rd =
                io::BufReader::with_capacity(64 << 10, f.take(seg.bytes - self.cursor.offset));
            let before = out.len();
            while room(&out, size) && self.cursor.seq + 1 < stop_at {
                let mut hdr = [0u8; ENTRY_HEADER];
                if rd.read_exact(&mut hdr).is_err() {
                    break;
                }
                let (len, seq) = segment::header(&hdr);
                let mut payload = vec![0u8; len as usize];
                rd.read_exact(&mut payload)?;
                self.cursor.offset += (ENTRY_HEADER + payload.len()) as u64;
                self.cursor.seq = seq;
                size += payload.len();
                out.push((seq, Bytes::from(payload)));
            }
            if out.len() == before && self.cursor.offset < seg.bytes {
                // Nothing more could be read here (a short file): no busy loop.
                break;
            }
        }
        Ok(out)
    }

    /// Reading starts again right after the last acknowledged entry (after a
    /// failed delivery that gave up on its batch).
    pub fn rewind(&mut self) -> io::Result<()> {
        let _ = self.writer.flush();
        self.cursor = self.cursor_after(self.acked)?;
        Ok(())
    }

    /// Acknowledges every entry up to `seq`; deletes segments no longer needed.
    pub fn ack(&mut self, seq: u64) -> io::Result<()> {
        if seq <= self.acked {
            return Ok(());
        }
        self.set_acked(seq.min(self.next_seq - 1));
        // All caught up with a sizeable active segment: start a fresh one so the
        // acked bytes can go (at most 1 MiB of acked data lingers otherwise).
        if self.pending() == 0
            && self
                .segments
                .back()
                .is_some_and(|s| s.bytes >= (1 << 20).min(self.cfg.segment_bytes))
        {
            if let Err(e) = self.rotate() {
                self.note_trouble("cannot start a new segment", &e);
            }
        }
        while self.segments.len() > 1 && self.segments[0].last_seq <= self.acked {
            let s = self.segments.pop_front().unwrap();
            self.bytes -= s.bytes;
            self.remove_segment(&s.path);
        }
        Ok(())
    }

    /// Records the ack, in place in the ack file (durable with the next
    /// [`sync`](Spool::sync)). One that cannot be written (a full disk) is kept
    /// in memory and written with the next: a restart before then delivers
    /// those entries again, which at-least-once allows; delivery never stops for it.
    fn set_acked(&mut self, seq: u64) {
        self.acked = seq;
        self.tail.forget_through(seq);
        let written = match &self.ack_file {
            Some(f) => write_acked_in_place(f, seq),
            None => create_acked(&self.cfg.dir, seq).map(|f| {
                self.ack_file = Some(f);
            }),
        };
        match written {
            Ok(()) => {
                self.ack_dirty = true;
                if self.ack_unwritten {
                    audex_log::info!(
                        "spool {}: the ack file is written again",
                        self.cfg.dir.display()
                    );
                    self.ack_unwritten = false;
                }
            }
            Err(e) => self.note_ack_failure(&e),
        }
    }

    fn note_ack_failure(&mut self, e: &io::Error) {
        if !self.ack_unwritten {
            audex_log::warn!(
                "spool {}: cannot write the ack file ({e}); delivery goes on, the ack is kept in memory",
                self.cfg.dir.join("acked").display()
            );
        }
        self.ack_unwritten = true;
        // Opened again (or created) with the next ack.
        self.ack_file = None;
    }

    /// The read position just after `seq`.
    fn cursor_after(&self, seq: u64) -> io::Result<Cursor> {
        if let Some(e) = self.tail.get(seq + 1) {
            return Ok(Cursor {
                seq,
                segment: e.segment,
                offset: e.offset,
            });
        }
        let Some(seg) = self
            .segments
            .iter()
            .find(|s| s.last_seq > seq || s.last_seq < s.first_seq)
            .or(self.segments.back())
        else {
            return Ok(Cursor {
                seq,
                segment: 0,
                offset: 0,
            });
        };
        if seq < seg.first_seq {
            return Ok(Cursor {
                seq: seg.first_seq - 1,
                segment: seg.first_seq,
                offset: 0,
            });
        }
        // Walk the segment to the entry after `seq`.
        let mut f = io::BufReader::new(File::open(&seg.path)?.take(seg.bytes));
        let mut offset = 0u64;
        let mut hdr = [0u8; ENTRY_HEADER];
        while f.read_exact(&mut hdr).is_ok() {
            let (len, s) = segment::header(&hdr);
            if s > seq {
                break;
            }
            io::copy(&mut (&mut f).take(len as u64), &mut io::sink())?;
            offset += (ENTRY_HEADER as u64) + len as u64;
        }
        Ok(Cursor {
            seq,
            segment: seg.first_seq,
            offset,
        })
    }
}

fn read_acked(dir: &Path) -> io::Result<u64> {
    match fs::read(dir.join("acked")) {
        Ok(b) if b.len() == 12 => {
            let v = u64::from_le_bytes(b[..8].try_into().unwrap());
            let crc = u32::from_le_bytes(b[8..].try_into().unwrap());
            if crc32fast::hash(&b[..8]) == crc {
                Ok(v)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: checksum mismatch", dir.join("acked").display()),
                ))
            }
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a spool ack file", dir.join("acked").display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

impl Spool {
    /// Drops the spool as a killed process leaves it: bytes still buffered are
    /// not written, nothing is synced (acks already written stay). For tests
    /// of crash recovery.
    pub fn kill(mut self) {
        if let Ok(f) = self.writer.get_ref().try_clone() {
            let w = std::mem::replace(&mut self.writer, BufWriter::new(f));
            // The buffered bytes go with the BufWriter's parts, unwritten.
            let _ = w.into_parts();
        }
        self.dirty = false;
        self.ack_dirty = false;
    }
}

impl Drop for Spool {
    /// What a clean stop acknowledged stays acknowledged (not delivered again).
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

fn acked_bytes(seq: u64) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..8].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(&b[..8]);
    b[8..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Writes the ack: 12 bytes (seq + CRC) in place, so that no new block is
/// needed (a full disk still takes acks); a torn write is caught by the CRC on
/// the next open.
fn write_acked_in_place(f: &File, seq: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.write_all_at(&acked_bytes(seq), 0)
}

/// Opens the ack file for writing in place, creating it whole (synced, then
/// renamed into place) the first time; writes `seq`.
fn create_acked(dir: &Path, seq: u64) -> io::Result<File> {
    let path = dir.join("acked");
    match OpenOptions::new().write(true).open(&path) {
        Ok(f) => {
            write_acked_in_place(&f, seq)?;
            f.set_len(12)?;
            Ok(f)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let tmp = dir.join("acked.tmp");
            let mut f = crate::private::private_file(&tmp)?;
            f.write_all(&acked_bytes(seq))?;
            f.sync_data()?;
            fs::rename(&tmp, path)?;
            Ok(f)
        }
        Err(e) => Err(e),
    }
}
