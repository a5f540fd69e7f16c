//! Any bytes as a log line and as a netlink payload: never panics; a parsed
//! record keeps its input and its values are slices of it; hex-encoded values
//! decode to bytes that re-encode to the same hex.
#![no_main]
use audex_parse::{decode_hex, is_hex, parse_line, parse_netlink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for r in [parse_line(data), parse_netlink(1300, data)].into_iter().flatten() {
        let base = r.raw().as_ptr() as usize;
        for (_, v, _) in r.fields() {
            let p = v.raw.as_ptr() as usize;
            assert!(v.raw.is_empty() || (p >= base && p + v.raw.len() <= base + r.raw().len()));
            let _ = (v.text(), v.as_u64(), v.as_i64(), v.as_hex_u64());
            if is_hex(v.raw) {
                let bytes = decode_hex(v.raw).unwrap();
                let again: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
                assert!(again.eq_ignore_ascii_case(std::str::from_utf8(v.raw).unwrap()));
            }
        }
    }
});
