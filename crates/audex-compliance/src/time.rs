//! UTC times for reports and their arguments: seconds since the epoch to and
//! from RFC 3339 (`2026-11-27T10:00:00Z`) or a date (`2026-11-27`).

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-27T10:00:00Z`.
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Accepts RFC 3339 (with `Z` or an offset, fraction ignored), `YYYY-MM-DD`
/// (midnight UTC), or seconds since the epoch.
pub fn parse(s: &str) -> Result<i64, String> {
    let bad = || {
        format!("`{s}` is not a time: use 2026-11-27, 2026-11-27T10:00:00Z or seconds since 1970")
    };
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        s.get(r).and_then(|x| x.parse().ok()).ok_or_else(bad)
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, mo as u32, d as u32) * 86_400;
    if b.len() == 10 {
        return Ok(secs);
    }
    if b.len() < 19 || !matches!(b[10], b'T' | b' ') || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    secs += num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    match rest {
        "Z" | "z" | "" => Ok(secs),
        off if off.len() == 6 && (off.starts_with('+') || off.starts_with('-')) => {
            let h: i64 = off[1..3].parse().map_err(|_| bad())?;
            let m: i64 = off[4..6].parse().map_err(|_| bad())?;
            let delta = h * 3600 + m * 60;
            Ok(if off.starts_with('+') {
                secs - delta
            } else {
                secs + delta
            })
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse("2023-11-14T22:13:20Z"), Ok(1_700_000_000));
        assert_eq!(parse("2023-11-14T23:13:20.5+01:00"), Ok(1_700_000_000));
        assert_eq!(parse("2024-02-29"), Ok(1_709_164_800));
        assert_eq!(parse("1700000000"), Ok(1_700_000_000));
        for t in [-86_401, 0, 951_782_400, 4_102_444_799] {
            assert_eq!(parse(&rfc3339(t)), Ok(t));
        }
        assert!(parse("yesterday").unwrap_err().contains("not a time"));
        assert!(parse("2024-13-01").is_err());
    }
}
