//! Parser properties: arbitrary bytes never panic (bounded, in the normal suite;
//! fuzz/ has the unbounded target), and records we format come back field for field.
use audex_parse::{parse_line, parse_netlink, ValueKind};
use proptest::prelude::*;

/// A field value as the kernel writes it.
#[derive(Debug, Clone)]
enum Val {
    Bare(String),
    Quoted(String),
    /// An untrusted string the kernel hex-encodes (bytes may be anything).
    Hex(Vec<u8>),
    Null,
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![
        "[a-z0-9:/._-]{1,20}".prop_map(Val::Bare),
        "[ -!#-~]{0,30}".prop_map(Val::Quoted), // printable, no double quote
        prop::collection::vec(any::<u8>(), 1..40).prop_map(Val::Hex),
        Just(Val::Null),
    ]
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), prefix in prop::sample::select(vec![
        &b""[..], b"type=SYSCALL msg=audit(1.2:3): ", b"type=USER_LOGIN msg=audit(1.002:3): msg='", b"node=x type=AVC msg=audit(9.9:9): avc: {",
    ])) {
        let mut line = prefix.to_vec();
        line.extend_from_slice(&bytes);
        if let Ok(r) = parse_line(&line) {
            // The record keeps its input, and every value is a slice of it.
            let trimmed = line.strip_suffix(b"\n").unwrap_or(&line);
            let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
            prop_assert!(trimmed.starts_with(r.raw()) || r.raw() == trimmed);
            for (_, v, _) in r.fields() {
                let base = r.raw().as_ptr() as usize;
                let p = v.raw.as_ptr() as usize;
                prop_assert!(v.raw.is_empty() || (p >= base && p + v.raw.len() <= base + r.raw().len()));
                let _ = (v.text(), v.bytes(), v.as_i64(), v.as_hex_u64());
            }
        }
        let _ = parse_netlink(1300, &bytes);
        let mut nl = b"audit(1.2:3): ".to_vec();
        nl.extend_from_slice(&bytes);
        prop_assert!(parse_netlink(1300, &nl).is_ok());
    }

    /// Round trip: fields formatted the kernel's way parse back to the same keys
    /// and decoded values, in order.
    #[test]
    fn formatted_records_round_trip(
        fields in prop::collection::vec(("[a-z][a-z_]{0,8}", val()), 0..20),
        secs in 0u64..4_000_000_000, ms in 0u32..1000, serial in any::<u32>(),
    ) {
        // Keys that the parser decodes as hex must carry hex values and vice versa:
        // use `name` for Hex values, and avoid encoded names for the others.
        let encoded = ["name","comm","exe","cwd","proctitle","key","cmd","data","acct","path","dir","file","ocomm","watch","root_dir","vm","grp","new_group","cgroup","msg","op"];
        let mut line = format!("type=PATH msg=audit({secs}.{ms:03}:{serial}):");
        let mut expect: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        for (k, v) in &fields {
            let k = if matches!(v, Val::Hex(_)) { "name".to_string() } else if encoded.contains(&k.as_str()) { format!("x{k}") } else { k.clone() };
            match v {
                Val::Bare(s) => { line += &format!(" {k}={s}"); expect.push((k, Some(s.clone().into_bytes()))); }
                Val::Quoted(s) => { line += &format!(" {k}=\"{s}\""); expect.push((k, Some(s.clone().into_bytes()))); }
                Val::Hex(b) => { line += &format!(" {k}={}", hex(b)); expect.push((k, Some(b.clone()))); }
                Val::Null => { line += &format!(" {k}=(null)"); expect.push((k, None)); }
            }
        }
        let r = parse_line(line.as_bytes()).unwrap();
        prop_assert_eq!(r.serial, serial as u64);
        prop_assert_eq!(r.time.secs, secs);
        prop_assert_eq!(r.time.nanos, ms * 1_000_000);
        let got: Vec<(String, Option<Vec<u8>>)> = r.fields().map(|(k, v, _)| {
            (String::from_utf8_lossy(k).into_owned(), if v.kind == ValueKind::Null { None } else { v.bytes().map(|b| b.into_owned()) })
        }).collect();
        prop_assert_eq!(got, expect);
    }
}
