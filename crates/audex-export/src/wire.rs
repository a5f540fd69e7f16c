//! Protobuf wire primitives shared by the hand-written encoders and readers
//! (the OTLP byte encoder, spool entries, the chained archive): prost's
//! varints, with the call shapes those modules use.

/// Appends `v` as a varint, and the bytes a varint takes: the event's own
/// protobuf writer's (`audex_proto::wire`). Written out rather than prost's
/// `encode_varint`: with it the export_throughput bench's OTLP rows lost
/// 13-20% (e.g. otlp_http without gzip 338k against 403k events/s per core,
/// 3 alternating runs each).
pub use audex_proto::wire::{put_varint, varint_len};

/// The varint at `b[*at..]`, advancing `at`; None when cut short or too long.
#[inline]
pub fn read_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut rest = b.get(*at..)?;
    let before = rest.len();
    let v = prost::encoding::decode_varint(&mut rest).ok()?;
    *at += before - rest.len();
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_cut() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = vec![9];
            put_varint(&mut b, v);
            assert_eq!(b.len() - 1, varint_len(v));
            let mut at = 1;
            assert_eq!(read_varint(&b, &mut at), Some(v));
            assert_eq!(at, b.len());
            let mut at = 1;
            assert_eq!(read_varint(&b[..b.len() - 1], &mut at), None, "{v}");
        }
        assert_eq!(read_varint(&[0xff; 11], &mut 0), None);
    }
}
