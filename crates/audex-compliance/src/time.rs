//! UTC times for reports and their arguments: seconds since the epoch to and
//! from RFC 3339 (`2026-11-27T10:00:00Z`) or a date (`2026-11-27`).

use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;
use jiff::Timestamp;

/// `2026-11-27T10:00:00Z`; the seconds themselves for a time no calendar
/// date holds (past year 9999: a forged record).
pub fn rfc3339(secs: i64) -> String {
    match Timestamp::from_second(secs) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => format!("{secs} s since 1970"),
    }
}

/// Accepts RFC 3339 (with `Z` or an offset, fraction ignored), a date and
/// time without an offset (UTC), `YYYY-MM-DD` (midnight UTC), or seconds
/// since the epoch.
pub fn parse(s: &str) -> Result<i64, String> {
    let bad = || {
        format!("`{s}` is not a time: use 2026-11-27, 2026-11-27T10:00:00Z or seconds since 1970")
    };
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t.as_second());
    }
    let utc = |dt: DateTime| Offset::UTC.to_timestamp(dt).map(|t| t.as_second());
    if let Ok(dt) = s.parse::<DateTime>() {
        if s.len() > 10 {
            return utc(dt).map_err(|_| bad());
        }
    }
    match s.parse::<Date>() {
        Ok(d) => utc(d.to_datetime(jiff::civil::Time::midnight())).map_err(|_| bad()),
        Err(_) => Err(bad()),
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
        assert_eq!(parse("2023-11-14 22:13:20"), Ok(1_700_000_000));
        assert!(parse("yesterday").unwrap_err().contains("not a time"));
        assert_eq!(rfc3339(i64::MAX), format!("{} s since 1970", i64::MAX));
        assert!(parse("2024-13-01").is_err());
    }
}
