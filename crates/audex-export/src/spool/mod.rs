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

mod segment;

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
}

impl SpoolConfig {
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        SpoolConfig {
            dir: dir.into(),
            max_bytes,
            segment_bytes: 16 << 20,
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
        let acked = acked.unwrap_or_else(|| firsts.first().map_or(0, |f| f.saturating_sub(1)));
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
        };
        spool.cursor = spool.cursor_after(acked)?;
        Ok((spool, rec))
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
        let seq = self.next_seq;
        let n = write_entry(&mut self.writer, seq, payload)?;
        self.next_seq += 1;
        self.bytes += n;
        let active = self.segments.back_mut().unwrap();
        active.last_seq = seq;
        active.bytes += n;
        if active.bytes >= self.cfg.segment_bytes {
            self.rotate()?;
        }
        Ok((seq, self.enforce_bound()?))
    }

    /// Makes everything appended so far durable (flush + fdatasync).
    pub fn sync(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        self.writer.get_ref().sync_data()
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

    fn enforce_bound(&mut self) -> io::Result<Option<Dropped>> {
        let mut dropped: Option<Dropped> = None;
        while self.bytes > self.cfg.max_bytes && self.segments.len() > 1 {
            let s = self.segments.pop_front().unwrap();
            fs::remove_file(&s.path)?;
            self.bytes -= s.bytes;
            let first_unacked = (self.acked + 1).max(s.first_seq);
            if s.last_seq >= first_unacked {
                let d = dropped.get_or_insert(Dropped {
                    first_seq: first_unacked,
                    last_seq: s.last_seq,
                });
                d.last_seq = s.last_seq;
                self.set_acked(s.last_seq)?;
            }
            if self.cursor.segment == s.first_seq {
                self.cursor = self.cursor_after(self.acked.max(self.cursor.seq))?;
            }
        }
        Ok(dropped)
    }

    /// The next entries after the last ones handed out, up to `max` entries or
    /// `max_bytes` of payload (at least one entry when there is one).
    pub fn next_batch(&mut self, max: usize, max_bytes: usize) -> io::Result<Vec<(u64, Vec<u8>)>> {
        self.writer.flush()?;
        let mut out = Vec::new();
        let mut size = 0;
        while out.len() < max
            && (out.is_empty() || size < max_bytes)
            && self.cursor.seq + 1 < self.next_seq
        {
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
            while out.len() < max && (out.is_empty() || size < max_bytes) {
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
                out.push((seq, payload));
            }
        }
        Ok(out)
    }

    /// Reading starts again right after the last acknowledged entry (after a
    /// failed delivery that gave up on its batch).
    pub fn rewind(&mut self) -> io::Result<()> {
        self.cursor = self.cursor_after(self.acked)?;
        Ok(())
    }

    /// Acknowledges every entry up to `seq`; deletes segments no longer needed.
    pub fn ack(&mut self, seq: u64) -> io::Result<()> {
        if seq <= self.acked {
            return Ok(());
        }
        self.set_acked(seq.min(self.next_seq - 1))?;
        // All caught up with a sizeable active segment: start a fresh one so the
        // acked bytes can go (at most 1 MiB of acked data lingers otherwise).
        if self.pending() == 0
            && self
                .segments
                .back()
                .is_some_and(|s| s.bytes >= (1 << 20).min(self.cfg.segment_bytes))
        {
            self.rotate()?;
        }
        while self.segments.len() > 1 && self.segments[0].last_seq <= self.acked {
            let s = self.segments.pop_front().unwrap();
            self.bytes -= s.bytes;
            fs::remove_file(&s.path)?;
        }
        Ok(())
    }

    /// Records the ack. One that cannot be written (a full disk) is kept in
    /// memory and written with the next: a restart before then delivers those
    /// entries again, which at-least-once allows; delivery never stops for it.
    fn set_acked(&mut self, seq: u64) -> io::Result<()> {
        self.acked = seq;
        match write_acked(&self.cfg.dir, seq) {
            Ok(()) => {
                if self.ack_unwritten {
                    audex_log::info!(
                        "spool {}: the ack file is written again",
                        self.cfg.dir.display()
                    );
                    self.ack_unwritten = false;
                }
            }
            Err(e) => {
                if !self.ack_unwritten {
                    audex_log::warn!(
                        "spool {}: cannot write the ack file ({e}); delivery goes on, the ack is kept in memory",
                        self.cfg.dir.join("acked").display()
                    );
                }
                self.ack_unwritten = true;
            }
        }
        Ok(())
    }

    /// The read position just after `seq`.
    fn cursor_after(&self, seq: u64) -> io::Result<Cursor> {
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

/// Writes the ack file: 12 bytes (seq + CRC) in place, so that no new block
/// is needed once it exists (a full disk still takes acks); a torn write is
/// caught by the CRC on the next open. The first time it is created whole.
fn write_acked(dir: &Path, seq: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut b = seq.to_le_bytes().to_vec();
    b.extend_from_slice(&crc32fast::hash(&b).to_le_bytes());
    let path = dir.join("acked");
    match OpenOptions::new().write(true).open(&path) {
        Ok(f) => {
            f.write_all_at(&b, 0)?;
            f.set_len(12)?;
            f.sync_data()
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let tmp = dir.join("acked.tmp");
            let mut f = crate::private::private_file(&tmp)?;
            f.write_all(&b)?;
            f.sync_data()?;
            fs::rename(&tmp, path)
        }
        Err(e) => Err(e),
    }
}
