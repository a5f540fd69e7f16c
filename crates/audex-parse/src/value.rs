//! Field values: raw spans plus the decoding audit applies to untrusted strings.
use std::borrow::Cow;

/// How a value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Unquoted: a number, a word, or hex-encoded bytes for untrusted strings.
    Bare,
    /// `"..."`: the text between the quotes, verbatim.
    Quoted,
    /// `(null)`.
    Null,
    /// AVC permission list `{ read write }`: the words inside the braces.
    Braced,
    /// `msg='...'` of user-space records: its fields are parsed as nested fields.
    Nested,
}

/// A field value borrowed from its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    pub raw: &'a [u8],
    pub kind: ValueKind,
    /// True when a bare value of this field is hex-encoded by the kernel.
    pub(crate) encoded: bool,
}

impl<'a> Value<'a> {
    /// The value as text: quoted values verbatim, hex-encoded untrusted strings
    /// decoded, `(null)` and `?` as `None`. Invalid UTF-8 is replaced lossily.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        match self.kind {
            ValueKind::Null => None,
            ValueKind::Bare if self.raw == b"?" => None,
            ValueKind::Bare if self.encoded && !self.raw.is_empty() => match decode_hex(self.raw) {
                Some(bytes) => Some(Cow::Owned(utf8_owned(bytes))),
                None => Some(utf8(self.raw)),
            },
            _ => Some(utf8(self.raw)),
        }
    }

    /// The decoded bytes (hex decoded where the kernel encodes), `None` for `(null)`.
    pub fn bytes(&self) -> Option<Cow<'a, [u8]>> {
        match self.kind {
            ValueKind::Null => None,
            ValueKind::Bare if self.encoded && !self.raw.is_empty() => {
                Some(decode_hex(self.raw).map_or(Cow::Borrowed(self.raw), Cow::Owned))
            }
            _ => Some(Cow::Borrowed(self.raw)),
        }
    }

    /// Appends the decoded bytes to `out` (nothing for `(null)`).
    pub fn decode_into(&self, out: &mut Vec<u8>) {
        match self.kind {
            ValueKind::Null => {}
            ValueKind::Bare if self.encoded && decode_hex_into(self.raw, out) => {}
            _ => out.extend_from_slice(self.raw),
        }
    }

    /// Decimal unsigned value.
    pub fn as_u64(&self) -> Option<u64> {
        parse_dec(self.raw)
    }

    /// Decimal signed value.
    pub fn as_i64(&self) -> Option<i64> {
        match self.raw.split_first() {
            Some((b'-', rest)) => parse_dec(rest)
                .and_then(|v| i64::try_from(v).ok())
                .map(|v| -v),
            _ => parse_dec(self.raw).and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// Hexadecimal unsigned value (`arch=c000003e`, `a1=241`).
    pub fn as_hex_u64(&self) -> Option<u64> {
        if self.raw.is_empty() || self.raw.len() > 16 {
            return None;
        }
        let mut v: u64 = 0;
        for &b in self.raw {
            v = (v << 4) | hex_digit(b)? as u64;
        }
        Some(v)
    }

    /// The raw bytes as text, without decoding.
    pub fn raw_str(&self) -> Cow<'a, str> {
        utf8(self.raw)
    }
}

/// Text of bytes: borrowed when valid UTF-8, lossily replaced otherwise
/// (`String::from_utf8_lossy`, with an inlined fast path for ASCII).
#[inline]
pub fn utf8(b: &[u8]) -> Cow<'_, str> {
    if let Some(s) = ascii_str(b) {
        return Cow::Borrowed(s);
    }
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// `b` as text when it is ASCII. Audit values are ASCII but for the rare
/// decoded name; `is_ascii` inlined is a third of `str::from_utf8`'s call
/// for the short values of a record (that check was 4 % of `replay`'s
/// instructions on the first 65,000 records of the auditd storm capture,
/// `valgrind --tool=cachegrind audex replay -q --threads 1 --format proto`).
#[inline]
#[allow(unsafe_code)]
fn ascii_str(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        None
    }
}

/// Text of owned bytes (a decoded hex value): without a copy when valid
/// UTF-8, lossily replaced otherwise.
#[allow(unsafe_code)]
pub fn utf8_owned(bytes: Vec<u8>) -> String {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        return unsafe { String::from_utf8_unchecked(bytes) };
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn parse_dec(d: &[u8]) -> Option<u64> {
    if d.is_empty() || d.len() > 20 {
        return None;
    }
    // Below 10^19 < 2^64 no digit can overflow, so the first 19 go without
    // checked arithmetic (ids, pids, inodes and the unset 4294967295 are read
    // for every record; the checks were half of this loop's instructions);
    // only a 20th is checked.
    let digit = |b: u8| {
        Some(b.wrapping_sub(b'0'))
            .filter(|x| *x <= 9)
            .map(u64::from)
    };
    let (head, last) = d.split_at(d.len().min(19));
    let mut v: u64 = 0;
    for &b in head {
        v = v * 10 + digit(b)?;
    }
    match last.first() {
        None => Some(v),
        Some(&b) => v.checked_mul(10)?.checked_add(digit(b)?),
    }
}

#[inline]
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// True when `s` is a non-empty, even-length run of hex digits.
pub fn is_hex(s: &[u8]) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.iter().all(|b| b.is_ascii_hexdigit())
}

/// Decodes hex digits to bytes; `None` when `s` is not valid hex.
pub fn decode_hex(s: &[u8]) -> Option<Vec<u8>> {
    // Into fresh memory, not zeroed first (as `decode_hex_into` must).
    hex_shaped(s).then(|| const_hex::decode(s).ok()).flatten()
}

/// Appends the bytes of hex digits `s` to `out`; false (and `out` unchanged)
/// when `s` is not valid hex.
pub fn decode_hex_into(s: &[u8], out: &mut Vec<u8>) -> bool {
    if !hex_shaped(s) {
        return false;
    }
    let start = out.len();
    out.resize(start + s.len() / 2, 0);
    if const_hex::decode_to_slice(s, &mut out[start..]).is_err() {
        out.truncate(start);
        return false;
    }
    true
}

/// An even length without a `0x`/`0X` prefix: const-hex decodes and checks
/// the digits with SIMD in one pass (it is in the build through
/// opentelemetry-proto; a table lookup per digit before was 4 % of `replay`'s
/// CPU on the auditd storm capture with hex argv and names, perf), but it
/// would skip that prefix, which for audit is no hex ('x' is no digit).
fn hex_shaped(s: &[u8]) -> bool {
    s.len().is_multiple_of(2) && !matches!(s, [b'0', b'x' | b'X', ..])
}

/// Fields whose values the kernel or the audit user-space library writes with
/// `audit_log_untrustedstring` / `audit_encode_value`: quoted when safe, hex otherwise.
/// A `const fn`, so that a reader that knows its keys decides at compile time
/// ([`FieldRef::value_of_key`](crate::FieldRef::value_of_key)).
pub const fn is_encoded_field(key: &[u8]) -> bool {
    matches!(
        key,
        b"name"
            | b"comm"
            | b"exe"
            | b"cwd"
            | b"proctitle"
            | b"key"
            | b"cmd"
            | b"data"
            | b"acct"
            | b"path"
            | b"dir"
            | b"file"
            | b"ocomm"
            | b"watch"
            | b"root_dir"
            | b"vm"
            | b"grp"
            | b"new_group"
            | b"old-chardev"
            | b"new-chardev"
            | b"old-disk"
            | b"new-disk"
            | b"old-fs"
            | b"new-fs"
            | b"old-net"
            | b"new-net"
            | b"old-rng"
            | b"new-rng"
            | b"cgroup"
    )
}

/// EXECVE argument keys: `a0`, `a12`, `a3[0]`.
pub(crate) fn is_execve_arg(key: &[u8]) -> bool {
    match key.split_first() {
        Some((b'a', rest)) if !rest.is_empty() => {
            let digits_end = rest
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits_end == 0 {
                return false;
            }
            let tail = &rest[digits_end..];
            tail.is_empty()
                || (tail.len() > 2
                    && tail[0] == b'['
                    && tail[tail.len() - 1] == b']'
                    && tail[1..tail.len() - 1].iter().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{decode_hex, decode_hex_into};
    use proptest::prelude::*;

    /// Digit by digit, as audit's own decoder reads: the SIMD one must agree.
    fn reference(s: &[u8]) -> Option<Vec<u8>> {
        if !s.len().is_multiple_of(2) {
            return None;
        }
        if !s.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
            .collect()
    }

    #[test]
    fn edges() {
        assert_eq!(decode_hex(b"4A4b"), Some(b"JK".to_vec()));
        assert_eq!(decode_hex(b""), Some(vec![]));
        assert_eq!(decode_hex(b"414"), None);
        assert_eq!(decode_hex(b"4G"), None);
        assert_eq!(decode_hex(b"+1"), None);
        // `0x` is no hex prefix for audit: not hex at all.
        assert_eq!(decode_hex(b"0x41"), None);
        assert_eq!(decode_hex(b"0X41"), None);
        let mut out = b"kept".to_vec();
        assert!(!decode_hex_into(b"41zz", &mut out));
        assert_eq!(out, b"kept");
        assert!(decode_hex_into(b"2f746d70", &mut out));
        assert_eq!(out, b"kept/tmp");
    }

    proptest! {
        #[test]
        fn text_agrees_with_std_lossy_conversion(
            b in proptest::collection::vec(
                prop_oneof![
                    8 => 0x20u8..0x7f,
                    1 => any::<u8>(),
                    1 => proptest::sample::select(vec![0xc3u8, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x80, 0xff]),
                ],
                0..64,
            ),
        ) {
            let want = String::from_utf8_lossy(&b).into_owned();
            prop_assert_eq!(super::utf8(&b).into_owned(), want.clone());
            prop_assert_eq!(super::utf8_owned(b), want);
        }

        #[test]
        fn agrees_with_a_digit_by_digit_decoder(
            s in proptest::collection::vec(
                prop_oneof![
                    8 => proptest::sample::select(b"0123456789abcdefABCDEF".to_vec()),
                    1 => any::<u8>(),
                    1 => Just(b'x'),
                ],
                0..200,
            ),
            prefix in proptest::collection::vec(any::<u8>(), 0..4),
        ) {
            prop_assert_eq!(decode_hex(&s), reference(&s));
            let mut out = prefix.clone();
            let ok = decode_hex_into(&s, &mut out);
            prop_assert_eq!(ok, reference(&s).is_some());
            let mut want = prefix;
            want.extend(reference(&s).unwrap_or_default());
            prop_assert_eq!(out, want);
        }

        #[test]
        fn decimals_agree_with_std(
            s in prop_oneof![
                "[0-9]{0,21}",
                "[0-9]{0,10}[^0-9][0-9]{0,10}",
                // Around u64::MAX (18446744073709551615), with leading zeros.
                "0{0,2}1844674407370955161[0-9]",
                "[1-9][0-9]{19}",
            ],
        ) {
            // std also takes a leading '+', which audit never writes, and
            // any number of leading zeros (over 20 bytes are refused here).
            let want = s
                .parse::<u64>()
                .ok()
                .filter(|_| !s.starts_with('+') && s.len() <= 20);
            prop_assert_eq!(super::parse_dec(s.as_bytes()), want, "{}", s);
        }
    }
}
