//! Any bytes as an archive segment: the streaming reader and the in-memory
//! reader agree record by record and on where the framing breaks; chain views
//! and event decoding never panic; `verify` over the bytes as a segment file
//! never panics and gives a verdict or a reason.
#![no_main]
use audex_export::archive::chain::{view, ChainKey};
use audex_export::archive::reader::{records, SegmentStream};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let mut stream = SegmentStream::from_reader(std::io::Cursor::new(data));
    let mut whole = records(data);
    loop {
        let (a, b) = (stream.next(), whole.next());
        match (&a, &b) {
            (None, None) => break,
            (Some(Ok(x)), Some(Ok(y))) => {
                assert_eq!((x.offset, x.end, x.bytes), (y.offset, y.end, y.bytes));
                let _ = view(x.bytes);
                let _ = audex_proto::v1::AuditEvent::decode(x.bytes);
            }
            (Some(Err(x)), Some(Err(y))) => {
                assert_eq!(x.offset, y.offset);
                break;
            }
            _ => panic!("the readers disagree: {:?} vs {:?}", a.is_some(), b.is_some()),
        }
    }
    let dir = std::env::temp_dir().join(format!("audex-fuzz-archive-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let seg = dir.join("audex-0000000000001-000001.pb");
    if std::fs::write(&seg, data).is_ok() {
        let _ = audex_compliance::verify::verify(&ChainKey::from_bytes(&[7; 32]), &[seg]);
    }
});
