//! Entry framing in segment files: `[len u32][crc32 u32][seq u64][payload]`,
//! little endian; the checksum covers seq and payload.
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

pub const ENTRY_HEADER: usize = 16;
/// Larger entries are refused (an event is far smaller; a bigger length is damage).
pub const MAX_ENTRY: u32 = 64 << 20;

/// Writes one entry; returns its size on disk.
pub fn write_entry(w: &mut impl Write, seq: u64, payload: &[u8]) -> io::Result<u64> {
    if payload.len() > MAX_ENTRY as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "spool entry larger than 64 MiB",
        ));
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    w.write_all(&(payload.len() as u32).to_le_bytes())?;
    w.write_all(&h.finalize().to_le_bytes())?;
    w.write_all(&seq.to_le_bytes())?;
    w.write_all(payload)?;
    Ok((ENTRY_HEADER + payload.len()) as u64)
}

/// Length and sequence number of a header.
pub fn header(h: &[u8; ENTRY_HEADER]) -> (u32, u64) {
    (
        u32::from_le_bytes(h[0..4].try_into().unwrap()),
        u64::from_le_bytes(h[8..16].try_into().unwrap()),
    )
}

/// What a segment holds.
pub struct Scan {
    pub file_bytes: u64,
    /// Bytes of the intact entries (what the segment holds once repaired).
    pub valid_bytes: u64,
    /// Last intact sequence number (first - 1 when none).
    pub last_seq: u64,
    /// Damage (a failed checksum, a broken header) was found and skipped.
    pub corrupt: bool,
    /// The intact entries' byte ranges, in order.
    pub spans: Vec<(u64, u64)>,
    /// Sequence ranges cut by damage: `(first, Some(last))` when an intact
    /// entry after the damage bounds it, `(first, None)` when the damage runs
    /// to the end of the file.
    pub cut: Vec<(u64, Option<u64>)>,
}

/// The largest segment file read back whole when it is scanned.
const MAX_SCAN: u64 = 1 << 30;

/// The entry at `at` if its header is sane and its checksum holds: its
/// sequence number (after `last`, and no further than the file could hold)
/// and its end.
fn entry_at(b: &[u8], at: usize, last: u64) -> Option<(u64, usize)> {
    let h: &[u8; ENTRY_HEADER] = b.get(at..at + ENTRY_HEADER)?.try_into().ok()?;
    let (len, seq) = header(h);
    let end = at.checked_add(ENTRY_HEADER)?.checked_add(len as usize)?;
    // No more entries can be missing than the whole file could hold.
    let most = last.saturating_add(1 + b.len() as u64 / ENTRY_HEADER as u64);
    if len > MAX_ENTRY || end > b.len() || seq <= last || seq > most {
        return None;
    }
    let crc = u32::from_le_bytes(h[4..8].try_into().unwrap());
    let mut c = crc32fast::Hasher::new();
    c.update(&seq.to_le_bytes());
    c.update(&b[at + ENTRY_HEADER..end]);
    (c.finalize() == crc).then_some((seq, end))
}

/// A header that is sane but whose entry runs past the end: a write cut by a
/// crash, not damage.
fn torn_at(b: &[u8], at: usize, last: u64) -> bool {
    let Some(h) = b.get(at..at + ENTRY_HEADER) else {
        return true; // not even a whole header
    };
    let (len, seq) = header(h.try_into().unwrap());
    seq == last + 1 && len <= MAX_ENTRY && at + ENTRY_HEADER + len as usize > b.len()
}

/// Reads a segment, skipping damage: after an entry that fails its checksum
/// (or a broken header) the scan resynchronises on the next intact entry, so
/// one flipped byte costs the entries it hit, not the rest of the segment.
pub fn scan(path: &Path, first: u64) -> io::Result<Scan> {
    let f = File::open(path)?;
    let file_bytes = f.metadata()?.len();
    if file_bytes > MAX_SCAN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: {file_bytes} bytes, not a spool segment",
                path.display()
            ),
        ));
    }
    let mut b = Vec::with_capacity(file_bytes as usize);
    BufReader::with_capacity(64 << 10, f).read_to_end(&mut b)?;
    let mut s = Scan {
        file_bytes,
        valid_bytes: 0,
        last_seq: first.saturating_sub(1),
        corrupt: false,
        spans: Vec::new(),
        cut: Vec::new(),
    };
    let mut at = 0usize;
    while at < b.len() {
        if let Some((seq, end)) = entry_at(&b, at, s.last_seq) {
            s.spans.push((at as u64, end as u64));
            s.valid_bytes += (end - at) as u64;
            s.last_seq = seq;
            at = end;
            continue;
        }
        // An intact entry further on means damage here (even a header whose
        // length now runs past the end); none means a torn tail if the header
        // is sane, else damage to the end.
        match (at + 1..b.len()).find_map(|o| entry_at(&b, o, s.last_seq).map(|(q, _)| (o, q))) {
            Some((o, q)) => {
                s.corrupt = true;
                if q > s.last_seq + 1 {
                    s.cut.push((s.last_seq + 1, Some(q - 1)));
                }
                at = o;
            }
            None if torn_at(&b, at, s.last_seq) => break,
            None => {
                s.corrupt = true;
                s.cut.push((s.last_seq + 1, None));
                break;
            }
        }
    }
    Ok(s)
}

/// Rewrites a segment with only its intact entries (write, fsync, rename).
pub fn repair(path: &Path, spans: &[(u64, u64)]) -> io::Result<()> {
    let b = std::fs::read(path)?;
    let tmp = path.with_extension("repair");
    let mut f = crate::private::private_file(&tmp)?;
    for &(a, e) in spans {
        f.write_all(&b[a as usize..e as usize])?;
    }
    f.sync_data()?;
    std::fs::rename(&tmp, path)
}
