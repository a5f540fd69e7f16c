//! `wire::write_delimited` and `wire::write` against prost's
//! `encode_length_delimited` and `encode`: the same bytes for random events
//! (`events`) and for events holding large values (lengths and ids whose
//! varints take every size).
mod events;

use audex_proto::v1::*;
use audex_proto::wire::{write, write_delimited};
use audex_proto::{Message, Timestamp};
use events::event;
use proptest::prelude::*;

fn same_as_prost(ev: &AuditEvent) -> Result<(), TestCaseError> {
    let mut want = Vec::new();
    ev.encode_length_delimited(&mut want).unwrap();
    let mut got = b"kept".to_vec();
    write_delimited(ev, &mut got);
    prop_assert_eq!(&got[..4], b"kept", "appends");
    prop_assert_eq!(&got[4..], &want[..]);
    let mut got = b"kept".to_vec();
    write(ev, &mut got);
    prop_assert_eq!(&got[..4], b"kept", "appends");
    prop_assert_eq!(&got[4..], &ev.encode_to_vec()[..]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn same_bytes_as_prost(ev in event()) {
        same_as_prost(&ev)?;
    }
}

#[test]
fn large_values_and_long_strings() {
    let long = "x".repeat(70_000);
    let ev = AuditEvent {
        id: long.clone(),
        time: Some(Timestamp {
            seconds: -1,
            nanos: -1,
        }),
        serial: u64::MAX,
        syscall: Some(Syscall {
            exit: Some(i64::MIN),
            number: Some(u32::MAX),
            args: vec![String::new(), long.clone(), "a".into()],
            ..Default::default()
        }),
        process: Some(Process {
            args: vec![long.clone(); 3],
            parent: Some(Parent {
                args: vec![long.clone(), String::new()],
                ..Default::default()
            }),
            args_bytes_cut: 1 << 63,
            ..Default::default()
        }),
        files: vec![File::default(), File::default()],
        data: [
            (String::new(), "v".to_string()),
            ("k".to_string(), String::new()),
            (String::new(), String::new()),
        ]
        .into_iter()
        .collect(),
        record_count: u32::MAX,
        ..Default::default()
    };
    same_as_prost(&ev).unwrap();
    same_as_prost(&AuditEvent::default()).unwrap();
}
