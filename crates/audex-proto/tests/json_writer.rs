//! `json::write_event` against serde_json over the pbjson impl: the same bytes
//! for random events (`events`), and serde's answer where the writer declines.
mod events;

use audex_proto::json::write_event;
use audex_proto::v1::*;
use audex_proto::Timestamp;
use events::event;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn same_bytes_as_serde(ev in event()) {
        let want = serde_json::to_vec(&ev);
        let mut got = Vec::new();
        if write_event(&ev, &mut got) {
            let want = want.expect("serde writes what the writer takes");
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
        } else {
            prop_assert!(got.is_empty(), "a declined event writes nothing");
            // Declined: a time (the event's or a summary's) out of the
            // writer's range (serde may still write it, or refuse it; the
            // caller then asks serde).
            let s = ev.suppressed.iter().flat_map(|s| [&s.first_time, &s.last_time]);
            let r = ev.repeat.iter().flat_map(|r| [&r.first_time, &r.last_time]);
            let mut times = std::iter::once(&ev.time).chain(s).chain(r).flatten();
            let out_of_range = |t: &Timestamp| {
                !(-62_167_219_200..=253_402_300_799).contains(&t.seconds)
                    || !(0..1_000_000_000).contains(&t.nanos)
            };
            prop_assert!(times.any(out_of_range), "declined with every time in range");
        }
    }
}

#[test]
fn the_times_chrono_formats() {
    for (seconds, nanos, want) in [
        (0, 0, "1970-01-01T00:00:00+00:00"),
        (1_795_792_837, 864_000_000, "2026-11-27T15:20:37.864+00:00"),
        (951_782_400, 1_000, "2000-02-29T00:00:00.000001+00:00"),
        (-1, 999_999_999, "1969-12-31T23:59:59.999999999+00:00"),
        (-62_167_219_200, 0, "0000-01-01T00:00:00+00:00"),
        (
            253_402_300_799,
            500_000_000,
            "9999-12-31T23:59:59.500+00:00",
        ),
    ] {
        let ev = AuditEvent {
            time: Some(Timestamp { seconds, nanos }),
            ..Default::default()
        };
        let mut got = Vec::new();
        assert!(write_event(&ev, &mut got));
        assert_eq!(
            String::from_utf8(got).unwrap(),
            format!("{{\"time\":\"{want}\"}}")
        );
        assert_eq!(
            serde_json::to_string(&ev).unwrap(),
            format!("{{\"time\":\"{want}\"}}")
        );
    }
}
