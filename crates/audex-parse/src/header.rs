//! The record header: `[node=N ]type=T msg=audit(SECONDS.MILLIS:SERIAL): `.
use crate::error::{ParseError, ParseErrorKind};
use crate::record::AuditTime;
use crate::record_type::RecordType;

pub(crate) struct Header {
    pub rtype: RecordType,
    pub time: AuditTime,
    pub serial: u64,
    pub node: Option<(u32, u32)>,
    pub body_start: usize,
}

pub(crate) fn parse_log_header(line: &[u8]) -> Result<Header, ParseError> {
    let mut i = skip_spaces(line, 0);
    let mut node = None;
    if line[i..].starts_with(b"node=") {
        let s = i + 5;
        let e = find_space(line, s);
        node = Some((s as u32, e as u32));
        i = skip_spaces(line, e);
    }
    if !line[i..].starts_with(b"type=") {
        return Err(ParseError::new(ParseErrorKind::MissingType, i, line));
    }
    let s = i + 5;
    let e = find_space(line, s);
    let rtype = RecordType::from_name(&line[s..e])
        .ok_or_else(|| ParseError::new(ParseErrorKind::BadType, s, line))?;
    i = skip_spaces(line, e);
    if !line[i..].starts_with(b"msg=") {
        return Err(ParseError::new(ParseErrorKind::MissingHeader, i, line));
    }
    let (time, serial, body_start) = parse_stamp(line, i + 4)?;
    Ok(Header {
        rtype,
        time,
        serial,
        node,
        body_start,
    })
}

/// 9999-12-31T23:59:59Z: later seconds fit no date type downstream (RFC 3339,
/// protobuf Timestamp, OTLP nanoseconds as u64 end in 2554; see `as_nanos`).
pub const MAX_SECS: u64 = 253_402_300_799;

/// Parses `audit(SECONDS.FRACTION:SERIAL):` at `at`; returns the body offset.
pub(crate) fn parse_stamp(buf: &[u8], at: usize) -> Result<(AuditTime, u64, usize), ParseError> {
    let bad = |off: usize| ParseError::new(ParseErrorKind::BadTimestamp, off, buf);
    if !buf[at..].starts_with(b"audit(") {
        return Err(ParseError::new(ParseErrorKind::MissingHeader, at, buf));
    }
    let mut i = at + 6;
    let (secs, n) = digits(buf, i);
    if n == 0 || buf.get(i + n) != Some(&b'.') {
        return Err(bad(i));
    }
    if secs > MAX_SECS {
        return Err(ParseError::new(ParseErrorKind::TimeOutOfRange, i, buf));
    }
    i += n + 1;
    let (frac, fdigits) = digits(buf, i);
    if fdigits == 0 || fdigits > 9 || buf.get(i + fdigits) != Some(&b':') {
        return Err(bad(i));
    }
    let nanos = (frac * POW10[9 - fdigits]) as u32;
    i += fdigits + 1;
    let (serial, n) = digits(buf, i);
    if n == 0 || buf.get(i + n) != Some(&b')') {
        return Err(bad(i));
    }
    i += n + 1;
    if buf.get(i) == Some(&b':') {
        i += 1;
    }
    Ok((AuditTime { secs, nanos }, serial, skip_spaces(buf, i)))
}

/// Powers of ten for the fraction's scale (`u64::pow` was a third of the
/// stamp's instructions in replay, callgrind on the storm capture).
const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// The value of the decimal digits at `at` and their count: 19 at most (a
/// 20th digit is then not the delimiter its caller looks for). Inlined: the
/// call made 0.2 % of `replay`'s instructions on the auditd storm capture
/// (cachegrind; eight digits a step measured worse, most numbers are short).
#[inline(always)]
fn digits(buf: &[u8], at: usize) -> (u64, usize) {
    let mut v: u64 = 0;
    let mut n = 0;
    for &b in buf.get(at..).unwrap_or_default().iter().take(19) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v * 10 + u64::from(d);
        n += 1;
    }
    (v, n)
}

fn skip_spaces(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && buf[i] == b' ' {
        i += 1;
    }
    i
}

fn find_space(buf: &[u8], from: usize) -> usize {
    crate::scan::until(buf, from, buf.len(), b' ', b' ')
}

#[cfg(test)]
mod tests {
    use super::parse_stamp;

    #[test]
    fn fractions_of_any_width_scale_to_nanoseconds() {
        for (frac, nanos) in [
            ("5", 500_000_000),
            ("977", 977_000_000),
            ("000123", 123_000),
            ("123456789", 123_456_789),
        ] {
            let s = format!("audit(1700000000.{frac}:42): x=1");
            let (t, serial, body) = parse_stamp(s.as_bytes(), 0).unwrap();
            assert_eq!(
                (t.secs, t.nanos, serial),
                (1_700_000_000, nanos, 42),
                "{frac}"
            );
            assert_eq!(&s[body..], "x=1");
        }
        // Ten fraction digits, 20 serial digits, no digits: refused.
        for bad in [
            "audit(1.1234567890:1):",
            "audit(1.5:12345678901234567890):",
            "audit(1.:1):",
            "audit(.5:1):",
        ] {
            assert!(parse_stamp(bad.as_bytes(), 0).is_err(), "{bad}");
        }
        let max = "audit(1.5:9999999999999999999):";
        assert_eq!(
            parse_stamp(max.as_bytes(), 0).unwrap().1,
            9_999_999_999_999_999_999
        );
    }
}
