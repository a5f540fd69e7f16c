//! Lines with a length limit: a line longer than the limit is skipped to its
//! newline without ever being held whole (`BufRead::read_until` would buffer a
//! 1.5 GB line before anyone could check it).
use std::io::{self, BufRead};

/// What [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// End of input, nothing read.
    Eof,
    /// A line (with its newline, if it had one) is in the buffer; `bytes` consumed.
    Complete { bytes: u64 },
    /// A line longer than the limit: its first `max` bytes are in the buffer,
    /// the rest was skipped; `bytes` consumed in all.
    TooLong { bytes: u64 },
}

/// Reads one line into `buf` (cleared first), holding at most `max` bytes of it.
pub fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut consumed = 0u64;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(match (consumed, too_long) {
                (0, _) => Line::Eof,
                (bytes, false) => Line::Complete { bytes },
                (bytes, true) => Line::TooLong { bytes },
            });
        }
        let (take, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if !too_long {
            let room = max - buf.len();
            if take <= room {
                buf.extend_from_slice(&avail[..take]);
            } else {
                buf.extend_from_slice(&avail[..room]);
                too_long = true;
            }
        }
        r.consume(take);
        consumed += take as u64;
        if done {
            return Ok(if too_long {
                Line::TooLong { bytes: consumed }
            } else {
                Line::Complete { bytes: consumed }
            });
        }
    }
}

/// [`read_line`], handing the line to `f` with whether it is whole (else it
/// is the first `max` bytes of a longer one): from the reader's own buffer
/// when the whole line is there and within `max` (no copy), else from `buf`.
/// Gives the bytes consumed and what `f` gave, `None` at the end of input.
/// The copy into `buf` and its call were 1.5 % of `replay`'s instructions on
/// the auditd storm capture (`valgrind --tool=cachegrind`).
pub fn with_line<T>(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
    f: impl FnOnce(&[u8], bool) -> T,
) -> io::Result<Option<(u64, T)>> {
    // (Not a helper shared with `read_line`: returning the buffer from a
    // retry loop is a borrow today's checker refuses.)
    let avail = loop {
        match r.fill_buf() {
            Ok(b) => break b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    if let Some(i) = memchr::memchr(b'\n', avail) {
        if i < max {
            let take = i + 1;
            let out = f(&avail[..take], true);
            r.consume(take);
            return Ok(Some((take as u64, out)));
        }
    }
    Ok(match read_line(r, buf, max)? {
        Line::Eof => None,
        Line::Complete { bytes } => Some((bytes, f(buf, true))),
        Line::TooLong { bytes } => Some((bytes, f(buf, false))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(input: &[u8], max: usize, cap: usize) -> Vec<(Line, Vec<u8>)> {
        let mut r = io::BufReader::with_capacity(cap, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let l = read_line(&mut r, &mut buf, max).unwrap();
            if l == Line::Eof {
                return out;
            }
            out.push((l, buf.clone()));
        }
    }

    #[test]
    fn long_lines_are_cut_and_skipped() {
        let got = all(b"ab\nabcdefgh\nxy", 4, 3);
        assert_eq!(
            got,
            vec![
                (Line::Complete { bytes: 3 }, b"ab\n".to_vec()),
                (Line::TooLong { bytes: 9 }, b"abcd".to_vec()),
                (Line::Complete { bytes: 2 }, b"xy".to_vec()),
            ]
        );
    }

    proptest! {
        /// Lines handed over by `with_line` are `read_line`'s, whether from
        /// the reader's buffer or from the copy.
        #[test]
        fn with_line_agrees_with_read_line(input in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..400), max in 1usize..40, cap in 1usize..64) {
            let mut r = io::BufReader::with_capacity(cap, input.as_slice());
            let mut buf = Vec::new();
            let mut got = Vec::new();
            while let Some((bytes, (whole, b))) = with_line(&mut r, &mut buf, max, |b, whole| (whole, b.to_vec())).unwrap() {
                got.push(if whole { (Line::Complete { bytes }, b) } else { (Line::TooLong { bytes }, b) });
            }
            prop_assert_eq!(got, all(&input, max, cap));
        }

        /// Every byte is consumed exactly once; short lines come back whole;
        /// the buffer never passes the limit.
        #[test]
        fn consumes_everything_holds_little(input in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..400), max in 1usize..40, cap in 1usize..16) {
            let got = all(&input, max, cap);
            let total: u64 = got.iter().map(|(l, _)| match l { Line::Complete{bytes} | Line::TooLong{bytes} => *bytes, Line::Eof => 0 }).sum();
            prop_assert_eq!(total, input.len() as u64);
            let lines: Vec<&[u8]> = input.split_inclusive(|&b| b == b'\n').collect();
            prop_assert_eq!(lines.len(), got.len());
            for (want, (l, buf)) in lines.iter().zip(&got) {
                prop_assert!(buf.len() <= max);
                match l {
                    Line::Complete { .. } => prop_assert_eq!(*want, buf.as_slice()),
                    Line::TooLong { .. } => { prop_assert!(want.len() > max); prop_assert_eq!(&want[..max], buf.as_slice()); }
                    Line::Eof => unreachable!(),
                }
            }
        }
    }
}
