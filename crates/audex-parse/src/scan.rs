//! Finding the end of a key, a bare value, a quoted one or an AVC `{ ... }`
//! list: the first of one or two bytes in a span, eight bytes a step in a
//! machine word (SWAR), a `memchr` call only past the first 16 bytes. Keys and
//! most values are a few bytes long, where the call's setup costs more than
//! the scan: on the first 65,000 records of the auditd storm capture
//! (`valgrind --tool=cachegrind audex replay -q --threads 1 --format proto`),
//! the byte loop over keys and `memchr` per value were 12 % of all
//! instructions. Quoted values (`comm`, `exe`, `name`) went from `memchr` to
//! here later: 2.8 M fewer instructions of 580 M.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes scanned a word at a time before a value is taken to be long.
const SHORT: usize = 16;

/// High bit set in each byte of `x` equal to `b` (and possibly in bytes above
/// the first such one: the lowest flagged byte is always a true match).
#[inline(always)]
fn matches(x: u64, b: u8) -> u64 {
    let t = x ^ (LO * b as u64);
    t.wrapping_sub(LO) & !t & HI
}

#[inline(always)]
fn word(buf: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(buf[i..i + 8].try_into().expect("eight bytes"))
}

/// The first `i` in `from..end` with `buf[i]` equal to `a` or `b` (pass the
/// same byte twice for one), else `end`: words for the first [`SHORT`] bytes,
/// then `memchr` (a long hex value). Always inlined, so that the bytes are
/// constants where it is called: left to the compiler it was not, and replay
/// took 794 M instructions instead of 760 M (cachegrind, as above).
#[inline(always)]
pub(crate) fn until(buf: &[u8], from: usize, end: usize, a: u8, b: u8) -> usize {
    let mut i = from;
    while i + 8 <= end {
        if i >= from + SHORT {
            let rest = &buf[i..end];
            let found = if a == b {
                memchr::memchr(a, rest)
            } else {
                memchr::memchr2(a, b, rest)
            };
            return found.map_or(end, |p| i + p);
        }
        let x = word(buf, i);
        let m = matches(x, a) | matches(x, b);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < end && buf[i] != a && buf[i] != b {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive2(buf: &[u8], from: usize, end: usize, a: u8, b: u8) -> usize {
        (from..end)
            .find(|&i| buf[i] == a || buf[i] == b)
            .unwrap_or(end)
    }

    #[test]
    fn agrees_with_a_byte_loop_at_every_offset_and_length() {
        // Every byte value around the searched ones (the borrow of the SWAR
        // test flags bytes above a match: those must never be taken first).
        let mut buf = Vec::new();
        for i in 0..600u32 {
            buf.push(match i % 37 {
                0 => b'=',
                5 => b' ',
                11 => 0x3c, // '=' - 1
                17 => 0x1f, // ' ' - 1
                23 => 0xbd, // '=' | 0x80
                25 => b' ', // past the first words from 6..: found by memchr
                _ => (i.wrapping_mul(2_654_435_761) >> 13) as u8,
            });
        }
        for from in 0..80 {
            for end in from..from + 120 {
                assert_eq!(
                    until(&buf, from, end, b'=', b' '),
                    naive2(&buf, from, end, b'=', b' '),
                    "two bytes {from}..{end}"
                );
                assert_eq!(
                    until(&buf, from, end, b' ', b' '),
                    naive2(&buf, from, end, b' ', b' '),
                    "one byte {from}..{end}"
                );
            }
        }
        // No match at all, long and short.
        let plain = vec![b'x'; 100];
        for end in 0..100 {
            assert_eq!(until(&plain, 0, end, b'=', b' '), end);
            assert_eq!(until(&plain, 0, end, b' ', b' '), end);
        }
    }
}
