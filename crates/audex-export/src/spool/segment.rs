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
    /// Bytes up to the end of the last intact entry.
    pub valid_bytes: u64,
    /// Last intact sequence number (first - 1 when none).
    pub last_seq: u64,
    /// A checksum or sequence failure (not merely a torn tail) ended the scan.
    pub corrupt: bool,
}

/// Reads a segment to its last intact entry. Sequence numbers must run on from `first`.
pub fn scan(path: &Path, first: u64) -> io::Result<Scan> {
    let f = File::open(path)?;
    let file_bytes = f.metadata()?.len();
    let mut r = BufReader::with_capacity(64 << 10, f);
    let mut s = Scan {
        file_bytes,
        valid_bytes: 0,
        last_seq: first.saturating_sub(1),
        corrupt: false,
    };
    let mut hdr = [0u8; ENTRY_HEADER];
    let mut payload = Vec::new();
    loop {
        if s.valid_bytes + ENTRY_HEADER as u64 > file_bytes || r.read_exact(&mut hdr).is_err() {
            return Ok(s); // end, or a torn header
        }
        let (len, seq) = header(&hdr);
        let crc = u32::from_le_bytes(hdr[4..8].try_into().unwrap());
        if len > MAX_ENTRY || seq != s.last_seq + 1 {
            s.corrupt = true;
            return Ok(s);
        }
        if s.valid_bytes + ENTRY_HEADER as u64 + len as u64 > file_bytes {
            return Ok(s); // torn payload
        }
        payload.resize(len as usize, 0);
        r.read_exact(&mut payload)?;
        let mut h = crc32fast::Hasher::new();
        h.update(&seq.to_le_bytes());
        h.update(&payload);
        if h.finalize() != crc {
            s.corrupt = true;
            return Ok(s);
        }
        s.valid_bytes += ENTRY_HEADER as u64 + len as u64;
        s.last_seq = seq;
    }
}
